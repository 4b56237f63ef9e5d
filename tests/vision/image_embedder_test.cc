// ImageEmbedder on tiny bundles whose outputs are known by construction
// (scripts/make_test_models.py, make_embedding_models): the vector as the
// model returns it, pooled feature maps, normalisation, quantisation, and
// per-image errors.
#include "sense/vision/image_embedder.h"

#include <cmath>

#include <gtest/gtest.h>

#include "test_util.h"

namespace sense::vision {
namespace {

cv::Mat Gray2x2() {
  cv::Mat m(2, 2, CV_8UC1);
  m.at<uint8_t>(0, 0) = 51;   // 0.2
  m.at<uint8_t>(0, 1) = 102;  // 0.4
  m.at<uint8_t>(1, 0) = 0;    // 0.0
  m.at<uint8_t>(1, 1) = 255;  // 1.0
  return m;
}

std::unique_ptr<ImageEmbedder> Make(const std::string& model, std::optional<bool> normalize = std::nullopt, bool quantize = false) {
  ImageEmbedderOptions o;
  o.model.path = sense::testing::TestModel(model);
  o.l2_normalize = normalize;
  o.quantize = quantize;
  return ImageEmbedder::Create(o);
}

TEST(ImageEmbedder, ModelVectorNormalisedAsTheBundleSays) {
  auto e = Make("tiny_image_embed.pt");
  EXPECT_EQ(e->dim(), 3);
  const Embedding v = e->Embed(Gray2x2());
  const double n = std::sqrt(0.6 * 0.6 + 1.0 + 0.25);
  ASSERT_EQ(v.dim(), 3u);
  EXPECT_TRUE(v.normalized);
  EXPECT_NEAR(v.values[0], 0.6 / n, 1e-5);
  EXPECT_NEAR(v.values[1], 1.0 / n, 1e-5);
  EXPECT_NEAR(v.values[2], 0.5 / n, 1e-5);
  EXPECT_TRUE(v.quantized.empty());
}

TEST(ImageEmbedder, NormalisationCanBeTurnedOff) {
  const Embedding v = Make("tiny_image_embed.pt", false)->Embed(Gray2x2());
  EXPECT_FALSE(v.normalized);
  EXPECT_NEAR(v.values[0], 0.6, 1e-5);
  EXPECT_NEAR(v.values[1], 1.0, 1e-5);
  EXPECT_NEAR(v.values[2], 0.5, 1e-5);
}

TEST(ImageEmbedder, Int8Quantisation) {
  const Embedding v = Make("tiny_image_embed.pt", false, true)->Embed(Gray2x2());
  // scale = max |v| / 127 = 1 / 127; codes = round(v / scale)
  EXPECT_NEAR(v.scale, 1.0 / 127, 1e-7);
  ASSERT_EQ(v.quantized.size(), 3u);
  EXPECT_EQ(v.quantized[0], static_cast<int8_t>(std::lround(0.6 * 127)));
  EXPECT_EQ(v.quantized[1], 127);
  EXPECT_EQ(v.quantized[2], static_cast<int8_t>(std::lround(0.5 * 127)));
  EXPECT_NEAR(v.values[0], v.quantized[0] * v.scale, 1e-7);
}

TEST(ImageEmbedder, FeatureMapsArePooledAsTheMetadataSays) {
  const Embedding mean = Make("tiny_image_map_mean.pt")->Embed(Gray2x2());
  EXPECT_NEAR(mean.values[0], 0.4, 1e-5);  // mean of 0.2, 0.4, 0, 1
  EXPECT_NEAR(mean.values[1], 0.6, 1e-5);  // mean of 1 - x
  EXPECT_FALSE(mean.normalized);
  const Embedding max = Make("tiny_image_map_max.pt")->Embed(Gray2x2());
  EXPECT_NEAR(max.values[0], 1.0, 1e-5);
  EXPECT_NEAR(max.values[1], 1.0, 1e-5);  // 1 - 0
}

TEST(ImageEmbedder, ABadImageGetsItsOwnErrorAndTheOthersTheirVectors) {
  auto e = Make("tiny_image_embed.pt");
  auto out = e->EmbedBatch({Gray2x2(), cv::Mat(), Gray2x2()});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_TRUE(out[0].ok());
  ASSERT_FALSE(out[1].ok());
  EXPECT_EQ(out[1].error().code(), ErrorCode::kInput);
  ASSERT_TRUE(out[2].ok());
  EXPECT_NEAR(CosineSimilarity(out[0].value(), out[2].value()), 1.0, 1e-6);
  auto files = e->EmbedFiles(std::vector<std::string>{sense::testing::TestData("no_such_image.png")});
  ASSERT_FALSE(files[0].ok());
}

TEST(ImageEmbedder, OtherTasksAndBadOptionsAreRefused) {
  ImageEmbedderOptions o;
  o.model.path = sense::testing::TestModel("colour3.pt");
  try {
    ImageEmbedder::Create(o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kMetadata);
  }
  o.model.path = sense::testing::TestModel("tiny_image_embed.pt");
  o.max_batch_size = 0;
  EXPECT_THROW(ImageEmbedder::Create(o), Error);
}

TEST(ImageEmbedder, IdentityNamesTheModelAndItsSettings) {
  auto a = Make("tiny_image_embed.pt");
  auto b = Make("tiny_image_embed.pt", std::nullopt, true);
  EXPECT_EQ(a->identity().name, "tiny-image-embed");
  EXPECT_EQ(a->identity().dim, 3);
  EXPECT_EQ(a->identity().fingerprint, b->identity().fingerprint);
  EXPECT_NE(a->identity(), b->identity());  // quantised vectors are another kind
  EXPECT_NE(a->identity(), Make("tiny_image_map_mean.pt")->identity());
}

}  // namespace
}  // namespace sense::vision
