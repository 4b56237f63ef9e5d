// OodScorer (the out-of-domain scores every classifier returns) and
// EvaluateOod (sense-eval --ood), against values worked out by hand.
#include "sense/inference/ood.h"

#include <cmath>
#include <cstring>

#include <gtest/gtest.h>

#include "sense/inference/error.h"
#include "sense/inference/evaluation.h"

namespace sense {
namespace {

std::string Bytes(const std::vector<float>& v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(s.data(), v.data(), s.size());
  return s;
}

OodSpec Spec(std::vector<OodSignal> signals, float threshold) {
  OodSpec s;
  s.signals = std::move(signals);
  s.threshold = threshold;
  s.domain = "test";
  s.statistics_asset = "stats.f32";
  s.features_output = "features";
  s.feature_dim = 2;
  return s;
}

// Two classes in 2-d: means (0, 0) and (2, 0), precision diag(1, 4).
const std::string kStats = Bytes({0, 0, 2, 0, /* precision */ 1, 0, 0, 4});

TEST(OodScorerTest, MahalanobisIsTheNearestClassDistance) {
  OodScorer scorer(Spec({{OodSignalKind::kMahalanobis, 1.0f, 2.0f}}, 1.5f), 2, 1.0f, kStats);
  const float logits[2] = {0, 0};
  std::vector<float> f;  // outlives each call's OodInputs
  auto at = [&](float x, float y) {
    f = {x, y};
    OodInputs in;
    in.logits = logits;
    in.num_classes = 2;
    in.features = f.data();
    in.feature_dim = 2;
    return in;
  };
  // (1, 1): 1 + 4 = 5 to both means.
  EXPECT_NEAR(scorer.RawSignals(at(1, 1))[0], 5.0, 1e-9);
  // (2, 0.5): to (0,0) 4 + 1 = 5, to (2,0) 0 + 1 = 1.
  EXPECT_NEAR(scorer.RawSignals(at(2, 0.5f))[0], 1.0, 1e-9);
  // standardised: (1 - 1) / 2 = 0, not flagged; (5 - 1) / 2 = 2 > 1.5, flagged.
  EXPECT_NEAR(scorer.Score(at(2, 0.5f)).score, 0.0f, 1e-6);
  EXPECT_FALSE(scorer.Score(at(2, 0.5f)).flag);
  EXPECT_NEAR(scorer.Score(at(1, 1)).score, 2.0f, 1e-6);
  EXPECT_TRUE(scorer.Score(at(1, 1)).flag);
  EXPECT_TRUE(scorer.needs_features());
}

TEST(OodScorerTest, LogitSignals) {
  const float logits[2] = {1, 2};
  OodInputs in;
  in.logits = logits;
  in.num_classes = 2;
  OodScorer scorer(Spec({{OodSignalKind::kEnergy, 0, 1}, {OodSignalKind::kMaxLogit, 0, 1}, {OodSignalKind::kMaxSoftmax, 0, 1}},
                        0),
                   2, 2.0f, "");
  const auto raw = scorer.RawSignals(in);
  ASSERT_EQ(raw.size(), 3u);
  EXPECT_NEAR(raw[0], -std::log(std::exp(1.0) + std::exp(2.0)), 1e-9);  // energy: -logsumexp, no temperature
  EXPECT_NEAR(raw[1], -2.0, 1e-9);
  // max softmax at temperature 2: logits (0.5, 1) -> e^1 / (e^0.5 + e^1)
  EXPECT_NEAR(raw[2], -std::exp(1.0) / (std::exp(0.5) + std::exp(1.0)), 1e-9);
  EXPECT_FALSE(scorer.needs_features());
}

TEST(OodScorerTest, CombinesByTheLargestStandardisedSignal) {
  OodScorer scorer(Spec({{OodSignalKind::kEnergy, -3.0f, 0.5f}, {OodSignalKind::kUnknownShare, 0.0f, 0.1f}}, 2.0f), 2,
                   1.0f, "");
  // z = (-2 - -3) / 0.5 = 2 and (0.3 - 0) / 0.1 = 3: the score is 3.
  OutOfDomain o = scorer.FromRaw({-2.0, 0.3});
  EXPECT_NEAR(o.score, 3.0f, 1e-5);
  EXPECT_TRUE(o.flag);
  o = scorer.FromRaw({-3.5, 0.0});  // z = -1 and 0
  EXPECT_NEAR(o.score, 0.0f, 1e-6);
  EXPECT_FALSE(o.flag);
  o = scorer.FromRaw({NAN, 0.0});  // a NaN output is flagged, never hidden by the other signal
  EXPECT_TRUE(std::isnan(o.score));
  EXPECT_TRUE(o.flag);
  const float logits[2] = {0, 0};
  OodInputs in;
  in.logits = logits;
  in.num_classes = 2;  // no unknown share given
  EXPECT_THROW(scorer.RawSignals(in), Error);
  EXPECT_THROW(scorer.FromRaw({1.0}), Error);
}

TEST(OodScorerTest, StatisticsAssetIsChecked) {
  try {
    OodScorer(Spec({{OodSignalKind::kMahalanobis, 0, 1}}, 0), 2, 1.0f, kStats.substr(4));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kMetadata);
    EXPECT_NE(std::string(e.what()).find("expected 32 bytes"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("stats.f32"), std::string::npos) << e.what();
  }
  std::string bad = kStats;
  const float nan = NAN;
  std::memcpy(bad.data() + 8, &nan, 4);
  EXPECT_THROW(OodScorer(Spec({{OodSignalKind::kMahalanobis, 0, 1}}, 0), 2, 1.0f, bad), Error);
  // features of the wrong size are an internal error, not a crash
  OodScorer scorer(Spec({{OodSignalKind::kMahalanobis, 0, 1}}, 0), 2, 1.0f, kStats);
  const float f[3] = {0, 0, 0};
  OodInputs in;
  in.features = f;
  in.feature_dim = 3;
  EXPECT_THROW(scorer.RawSignals(in), Error);
}

TEST(EvaluateOodTest, AurocAndRates) {
  // in: 1 2 3 4, out: 3 5. Pairs (out > in): 5 beats all 4; 3 beats 1, 2 and ties 3 (half): 4 + 2.5 = 6.5 of 8.
  const OodReport r = EvaluateOod({1, 2, 3, 4}, {3, 5}, 2.5);
  EXPECT_NEAR(r.auroc, 6.5 / 8, 1e-12);
  // 95 % of 4 in-domain inputs: all 4 -> threshold 4; out accepted: 3 -> 1 of 2.
  EXPECT_DOUBLE_EQ(r.threshold_at_95, 4.0);
  EXPECT_DOUBLE_EQ(r.fpr_at_95_tpr, 0.5);
  EXPECT_DOUBLE_EQ(r.tpr, 0.5);  // 1 and 2 are <= 2.5
  EXPECT_DOUBLE_EQ(r.fpr, 0.0);
  EXPECT_EQ(r.in_domain, 4);
  EXPECT_EQ(r.out_of_domain, 2);
  // 20 in-domain scores 1..20: 95 % is 19 of them -> threshold 19.
  std::vector<float> in;
  for (int i = 1; i <= 20; ++i) in.push_back(static_cast<float>(i));
  const OodReport q = EvaluateOod(in, {19.5f, 100}, 0);
  EXPECT_DOUBLE_EQ(q.threshold_at_95, 19.0);
  EXPECT_DOUBLE_EQ(q.fpr_at_95_tpr, 0.0);
  EXPECT_NEAR(q.auroc, (19.0 / 20 + 1.0) / 2, 1e-12);
  EXPECT_THROW(EvaluateOod({}, {1}, 0), Error);
}

}  // namespace
}  // namespace sense
