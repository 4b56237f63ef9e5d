// TextEmbedder on tiny bundles whose token vectors are known by
// construction (row i of the table is (i, -i, i % 2); vocabulary [PAD]=0
// [UNK]=1 [CLS]=2 [SEP]=3 good=4 bad=5 film=6): mean, CLS and max pooling
// over the real tokens only, a model that pools itself, normalisation,
// quantisation, and per-text errors.
#include "sense/text/text_embedder.h"

#include <cmath>

#include <gtest/gtest.h>

#include "test_util.h"

namespace sense::text {
namespace {

std::unique_ptr<TextEmbedder> Make(const std::string& model, bool quantize = false) {
  TextEmbedderOptions o;
  o.model.path = sense::testing::TestModel(model);
  o.quantize = quantize;
  return TextEmbedder::Create(o);
}

void ExpectVector(const Embedding& e, std::vector<double> want) {
  ASSERT_EQ(e.dim(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(e.values[i], want[i], 1e-5) << "value " << i;
}

TEST(TextEmbedder, MeanPoolsTheRealTokensOnly) {
  auto e = Make("tiny_text_embed_mean.pt");
  // "good film" -> [CLS] good film [SEP] = 2 4 6 3; "good" -> 2 4 3, padded in the same batch
  auto out = e->EmbedBatch({"good film", "good"});
  ExpectVector(out[0].value(), {15.0 / 4, -15.0 / 4, 1.0 / 4});
  ExpectVector(out[1].value(), {3, -3, 1.0 / 3});
  EXPECT_EQ(out[0].value().num_tokens, 4);
  EXPECT_FALSE(out[0].value().normalized);
}

TEST(TextEmbedder, ClsAndMax) {
  ExpectVector(Make("tiny_text_embed_cls.pt")->Embed("good film"), {2, -2, 0});
  ExpectVector(Make("tiny_text_embed_max.pt")->Embed("good film"), {6, -2, 1});
  // the shorter text in a batch is not affected by the padding (0 vectors)
  auto out = Make("tiny_text_embed_max.pt")->EmbedBatch({"bad bad bad film", "good"});
  ExpectVector(out[1].value(), {4, -2, 1});
}

TEST(TextEmbedder, AModelThatPoolsItselfIsNormalisedAsTheBundleSays) {
  const Embedding v = Make("tiny_text_embed_pooled.pt")->Embed("good film");
  const double n = std::sqrt(15.0 * 15 + 15 * 15 + 1);
  ExpectVector(v, {15 / n, -15 / n, 1 / n});
  EXPECT_TRUE(v.normalized);
}

TEST(TextEmbedder, Quantised) {
  const Embedding v = Make("tiny_text_embed_cls.pt", true)->Embed("good film");
  EXPECT_NEAR(v.scale, 2.0 / 127, 1e-7);
  EXPECT_EQ(v.quantized, (std::vector<int8_t>{127, -127, 0}));
}

TEST(TextEmbedder, AnEmptyTextGetsItsOwnErrorAndTheOthersTheirVectors) {
  auto out = Make("tiny_text_embed_mean.pt")->EmbedBatch({"good", "", "film"});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_TRUE(out[0].ok());
  ASSERT_FALSE(out[1].ok());
  EXPECT_EQ(out[1].error().code(), ErrorCode::kInput);
  ASSERT_TRUE(out[2].ok());
  ExpectVector(out[2].value(), {11.0 / 3, -11.0 / 3, 1.0 / 3});
}

TEST(TextEmbedder, OtherTasksAreRefused) {
  TextEmbedderOptions o;
  o.model.path = sense::testing::TestModel("tiny_text.pt");
  try {
    TextEmbedder::Create(o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kMetadata);
  }
}

}  // namespace
}  // namespace sense::text
