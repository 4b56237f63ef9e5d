// Pooling, normalisation, int8 quantisation and similarity (embedding.h),
// against values computed by hand.
#include "sense/inference/embedding.h"

#include <cmath>
#include <fstream>

#include <gtest/gtest.h>

#include "sense/inference/error.h"

namespace sense {
namespace {

// 3 tokens x 2 values: (1, 4), (3, -2), (100, 100)
const float kTokens[] = {1, 4, 3, -2, 100, 100};

TEST(PoolTokens, MeanUsesOnlyUnmaskedTokens) {
  const int64_t mask[] = {1, 1, 0};
  auto v = PoolTokens(kTokens, 3, 2, mask, Pooling::kMean);
  EXPECT_FLOAT_EQ(v[0], 2.0f);
  EXPECT_FLOAT_EQ(v[1], 1.0f);
  v = PoolTokens(kTokens, 3, 2, nullptr, Pooling::kMean);
  EXPECT_FLOAT_EQ(v[0], 104.0f / 3);
}

TEST(PoolTokens, MaxAndCls) {
  const int64_t mask[] = {1, 1, 0};
  auto v = PoolTokens(kTokens, 3, 2, mask, Pooling::kMax);
  EXPECT_FLOAT_EQ(v[0], 3.0f);
  EXPECT_FLOAT_EQ(v[1], 4.0f);
  v = PoolTokens(kTokens, 3, 2, mask, Pooling::kCls);
  EXPECT_FLOAT_EQ(v[0], 1.0f);
  EXPECT_FLOAT_EQ(v[1], 4.0f);
  const int64_t second_only[] = {0, 1, 0};
  v = PoolTokens(kTokens, 3, 2, second_only, Pooling::kMax);
  EXPECT_FLOAT_EQ(v[0], 3.0f);
  EXPECT_FLOAT_EQ(v[1], -2.0f);  // not 0: the maximum over real tokens only
}

TEST(PoolTokens, NoRealTokenIsAnInputError) {
  const int64_t none[] = {0, 0, 0};
  try {
    PoolTokens(kTokens, 3, 2, none, Pooling::kMean);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInput);
  }
  EXPECT_THROW(PoolTokens(kTokens, 0, 2, nullptr, Pooling::kMax), Error);
  EXPECT_THROW(PoolTokens(kTokens, 3, 2, nullptr, Pooling::kNone), Error);
}

TEST(Pooling, ParseNamesAndRejectsOthers) {
  EXPECT_EQ(ParsePooling("max"), Pooling::kMax);
  EXPECT_EQ(ParsePooling("cls"), Pooling::kCls);
  EXPECT_STREQ(PoolingName(ParsePooling("mean")), "mean");
  try {
    ParsePooling("sum");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kMetadata);
    EXPECT_NE(std::string(e.what()).find("\"sum\""), std::string::npos);
  }
}

TEST(L2Normalize, UnitNormAndZeroStaysZero) {
  std::vector<float> v = {3, 4};
  EXPECT_FLOAT_EQ(L2Normalize(v), 5.0f);
  EXPECT_FLOAT_EQ(v[0], 0.6f);
  EXPECT_FLOAT_EQ(v[1], 0.8f);
  std::vector<float> z = {0, 0};
  EXPECT_FLOAT_EQ(L2Normalize(z), 0.0f);
  EXPECT_EQ(z[0], 0.0f);
}

TEST(QuantizeInt8, ScaleIsMaxOver127AndCodesRound) {
  const std::vector<float> v = {0.5f, -1.27f, 0.004f, 0.0f};
  QuantizedVector q = QuantizeInt8(v);
  EXPECT_FLOAT_EQ(q.scale, 0.01f);
  EXPECT_EQ(q.codes, (std::vector<int8_t>{50, -127, 0, 0}));
  const auto back = DequantizeInt8(q);
  for (size_t i = 0; i < v.size(); ++i) EXPECT_LE(std::fabs(back[i] - v[i]), q.scale / 2 + 1e-7f);
  QuantizedVector zero = QuantizeInt8({0, 0});
  EXPECT_EQ(zero.scale, 0.0f);
}

TEST(Similarity, CosineAndDotByHand) {
  Embedding a, b;
  a.values = {1, 2, 2};
  b.values = {2, 0, 1};
  EXPECT_FLOAT_EQ(DotSimilarity(a, b), 4.0f);
  EXPECT_NEAR(CosineSimilarity(a, b), 4.0 / (3.0 * std::sqrt(5.0)), 1e-6);
  Embedding z;
  z.values = {0, 0, 0};
  EXPECT_EQ(CosineSimilarity(a, z), 0.0f);
  Embedding c;
  c.values = {1, 2};
  try {
    CosineSimilarity(a, c);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInput);
  }
}

TEST(Similarity, QuantizedVectorsCompareOnTheirCodes) {
  Embedding a, b;
  a.values = {0.3f, -0.5f, 0.81f};
  b.values = {0.7f, 0.1f, -0.2f};
  const float exact = CosineSimilarity(a, b);
  for (Embedding* e : {&a, &b}) {
    QuantizedVector q = QuantizeInt8(e->values);
    e->quantized = q.codes;
    e->scale = q.scale;
  }
  // integer dot product times the scales
  int64_t dot = 0;
  for (size_t i = 0; i < 3; ++i) dot += a.quantized[i] * b.quantized[i];
  EXPECT_FLOAT_EQ(DotSimilarity(a, b), static_cast<float>(dot * static_cast<double>(a.scale) * b.scale));
  EXPECT_NEAR(CosineSimilarity(a, b), exact, 0.02);
}

TEST(Similarity, ParseNames) {
  EXPECT_EQ(ParseSimilarity("dot"), Similarity::kDot);
  EXPECT_THROW(ParseSimilarity("euclid"), Error);
}

TEST(EmbeddingModelIdentity, EqualityCoversEveryField) {
  EmbeddingModelIdentity a{"m", "1", "text_embedding", "00ff", 8, true, false};
  EmbeddingModelIdentity b = a;
  EXPECT_EQ(a, b);
  b.fingerprint = "00fe";
  EXPECT_NE(a, b);
  b = a;
  b.quantized = true;
  EXPECT_NE(a, b);
  EXPECT_NE(a.Describe().find("8-d"), std::string::npos);
}

TEST(FileFingerprint, DiffersWithContentAndFailsOnMissingFile) {
  const std::string p = ::testing::TempDir() + "/fp_a.bin";
  { std::ofstream(p) << "abc"; }
  const std::string f1 = FileFingerprint(p);
  { std::ofstream(p) << "abd"; }
  EXPECT_NE(f1, FileFingerprint(p));
  EXPECT_EQ(f1.size(), 16u);
  EXPECT_THROW(FileFingerprint(p + ".missing"), Error);
}

}  // namespace
}  // namespace sense
