// TextRunner: per-text encoding outcomes, per-row model outputs that keep
// their token axis (what the entity and embedding tasks will read), batches
// that answer as single rows do, and row-by-row retries.
#include "sense/text/text_runner.h"

#include <gtest/gtest.h>

#include "sense/inference/error.h"
#include "test_util.h"

namespace sense::text {
namespace {

using sense::testing::TestModel;

std::unique_ptr<TextRunner> Runner(const std::string& model, int batch) {
  TextRunnerOptions o;
  o.model.path = TestModel(model);
  o.model.num_threads = 1;
  o.max_batch_size = batch;
  return TextRunner::Create(o);
}

TEST(TextRunnerTest, TokenLevelOutputsKeepTheirTokenAxisPerRow) {
  // tiny_token_text.pt: logits[b, t, :] = emb(ids[b, t]) + 100 t, zero on padding.
  auto runner = Runner("tiny_token_text.pt", 8);
  auto enc = runner->Encode({"good film film bad", "", "bad"});
  ASSERT_TRUE(enc[0].ok());
  ASSERT_FALSE(enc[1].ok());
  EXPECT_EQ(enc[1].error().code(), ErrorCode::kInput);
  ASSERT_TRUE(enc[2].ok());
  const EncodedInput& a = enc[0].value().front();
  const EncodedInput& b = enc[2].value().front();
  EXPECT_EQ(b.source, 2u);
  const auto out = runner->Run({&a, &b});
  ASSERT_EQ(out.size(), 2u);
  const Tensor& la = out[0].value().at("logits");
  const Tensor& lb = out[1].value().at("logits");
  ASSERT_EQ(la.shape(), (std::vector<int64_t>{1, 6, 3}));  // [CLS] good film film bad [SEP]
  ASSERT_EQ(lb.shape(), (std::vector<int64_t>{1, 6, 3}));  // padded to its batch's longest
  // Row b alone answers as in the batch on its own tokens ([CLS] bad [SEP]).
  const Tensor alone = runner->Run({&b})[0].value().at("logits");
  ASSERT_EQ(alone.shape(), (std::vector<int64_t>{1, 3, 3}));
  for (int64_t i = 0; i < 9; ++i) EXPECT_EQ(lb.data<float>()[i], alone.data<float>()[i]) << i;
  for (int64_t i = 9; i < 18; ++i) EXPECT_EQ(lb.data<float>()[i], 0.0f) << i;  // masked padding
  EXPECT_EQ(la.data<float>()[4 * 3], 5 * 3 + 400.0f);  // "bad" (id 5) at position 4
}

TEST(TextRunnerTest, AFailedBatchIsRetriedRowByRow) {
  auto runner = Runner("raising_text.pt", 4);
  auto enc = runner->Encode({"good", "good film film film film film film film film film film", "bad"});
  std::vector<const EncodedInput*> rows;
  for (const auto& e : enc) rows.push_back(&e.value().front());
  const auto out = runner->Run(rows);
  EXPECT_TRUE(out[0].ok());
  ASSERT_FALSE(out[1].ok());
  EXPECT_EQ(out[1].error().code(), ErrorCode::kBackend);
  EXPECT_TRUE(out[2].ok());
  EXPECT_TRUE(runner->Run({}).empty());
}

TEST(TextRunnerTest, OptionsAndTasks) {
  TextRunnerOptions o;
  o.model.path = TestModel("tiny_text.pt");
  o.max_batch_size = 0;
  EXPECT_THROW(TextRunner::Create(o), Error);
  o.max_batch_size = 1;
  o.model.path = TestModel("colour3.pt");
  try {
    TextRunner::Create(o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kMetadata);
  }
}

}  // namespace
}  // namespace sense::text
