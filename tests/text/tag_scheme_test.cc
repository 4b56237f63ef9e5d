// Tag schemes, conlleval's span rules and scores on hand-worked examples,
// Viterbi against brute force, CRF marginals.
#include "sense/text/tag_scheme.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "sense/inference/error.h"

namespace sense::text {
namespace {

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s + " ") {
    if (c == ' ') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  return out;
}

std::string Show(const std::vector<TagSpan>& spans) {
  std::string s;
  for (const auto& e : spans) s += e.type + "[" + std::to_string(e.begin) + "," + std::to_string(e.end) + ") ";
  return s;
}

TEST(TagScheme, ParseTags) {
  EXPECT_EQ(ParseTag("O").prefix, 'O');
  EXPECT_EQ(ParseTag("B-PER"), (Tag{'B', "PER"}));
  EXPECT_EQ(ParseTag("I-MISC"), (Tag{'I', "MISC"}));
  EXPECT_EQ(ParseTag("L-LOC"), (Tag{'E', "LOC"}));  // BILOU read as BIOES
  EXPECT_EQ(ParseTag("U-ORG"), (Tag{'S', "ORG"}));
  EXPECT_EQ(ParseTag("B_PER"), (Tag{'B', "PER"}));
  for (const char* bad : {"", "PER", "X-PER", "B-", "b-PER"}) EXPECT_THROW(ParseTag(bad), Error) << bad;
  EXPECT_EQ(ParseTagScheme("bilou"), TagScheme::kBIOES);
  EXPECT_EQ(ParseTagScheme("iob2"), TagScheme::kBIO);
  EXPECT_THROW(ParseTagScheme("bilu"), Error);
}

// The span rules on well-formed and ill-formed sequences (worked by hand from conlleval's rules).
TEST(TagScheme, SpansBioIob1AndIllFormed) {
  struct Case {
    const char* tags;
    const char* spans;
  } cases[] = {
      {"B-PER I-PER O B-LOC", "PER[0,2) LOC[3,4) "},
      {"O I-PER I-PER O", "PER[1,3) "},                // I after O starts an entity (IOB1, conlleval)
      {"I-PER I-PER B-PER I-PER", "PER[0,2) PER[2,4) "},  // IOB1: B separates adjacent same-type entities
      {"B-PER I-ORG I-ORG", "PER[0,1) ORG[1,3) "},     // type change inside
      {"I-LOC B-LOC", "LOC[0,1) LOC[1,2) "},
      {"B-PER B-PER", "PER[0,1) PER[1,2) "},
      {"O O", ""},
      {"I-MISC", "MISC[0,1) "},
      {"B-PER I-PER I-LOC O I-LOC", "PER[0,2) LOC[2,3) LOC[4,5) "},
  };
  for (const auto& c : cases) EXPECT_EQ(Show(TagsToSpans(Split(c.tags))), c.spans) << c.tags;
}

TEST(TagScheme, SpansBioesAndBilou) {
  EXPECT_EQ(Show(TagsToSpans(Split("B-PER E-PER S-LOC O S-LOC S-LOC"))), "PER[0,2) LOC[2,3) LOC[4,5) LOC[5,6) ");
  EXPECT_EQ(Show(TagsToSpans(Split("B-PER I-PER L-PER U-ORG"))), "PER[0,3) ORG[3,4) ");
  // ill-formed: E after O starts (and ends) an entity; I after E starts a new one; B without E ends at O
  EXPECT_EQ(Show(TagsToSpans(Split("O E-PER I-PER B-LOC O"))), "PER[1,2) PER[2,3) LOC[3,4) ");
}

TEST(TagScheme, SpansToTagsRoundTrips) {
  const std::vector<TagSpan> spans = {{"PER", 0, 2}, {"PER", 2, 3}, {"LOC", 4, 5}};
  EXPECT_EQ(SpansToTags(spans, 6, TagScheme::kBIO), Split("B-PER I-PER B-PER O B-LOC O"));
  EXPECT_EQ(SpansToTags(spans, 6, TagScheme::kIOB1), Split("I-PER I-PER B-PER O I-LOC O"));
  EXPECT_EQ(SpansToTags(spans, 6, TagScheme::kBIOES), Split("B-PER E-PER S-PER O S-LOC O"));
  for (TagScheme s : {TagScheme::kBIO, TagScheme::kIOB1, TagScheme::kBIOES})
    EXPECT_EQ(TagsToSpans(SpansToTags(spans, 6, s)), spans) << TagSchemeName(s);
  EXPECT_THROW(SpansToTags({{"PER", 0, 2}, {"LOC", 1, 3}}, 4, TagScheme::kBIO), Error);
}

// conlleval on a hand-worked set: two sentences, IOB1 gold against BIO guesses.
TEST(EntityEvaluator, MatchesConllevalByHand) {
  EntityEvaluator ev;
  // sentence 1 (IOB1 gold): PER[0,2) LOC[3,4) ; guess: PER[0,2) ORG[3,4)
  ev.Add(Split("I-PER I-PER O I-LOC"), Split("B-PER I-PER O B-ORG"));
  // sentence 2: gold ORG[0,3) MISC[4,5) ; guess ORG[0,2) (boundary), PER[3,4) (spurious), MISC[4,5) (correct)
  ev.Add(Split("B-ORG I-ORG I-ORG O B-MISC"), Split("B-ORG I-ORG O B-PER I-MISC"));
  const EntityReport r = ev.Report();
  EXPECT_EQ(r.tokens, 9);
  EXPECT_EQ(r.overall.gold, 4);
  EXPECT_EQ(r.overall.predicted, 5);
  EXPECT_EQ(r.overall.correct, 2);
  EXPECT_NEAR(r.overall.precision, 40.0, 1e-9);
  EXPECT_NEAR(r.overall.recall, 50.0, 1e-9);
  EXPECT_NEAR(r.overall.f1, 2 * 40.0 * 50.0 / 90.0, 1e-9);
  // tag accuracy compares tag strings: I-PER = I-PER and O = O in sentence 1, B-ORG and I-ORG in sentence 2
  EXPECT_EQ(r.correct_tags, 4);
  ASSERT_EQ(r.types.size(), 4u);  // LOC, MISC, ORG, PER
  EXPECT_EQ(r.types[0].type, "LOC");
  EXPECT_EQ(r.types[0].gold, 1);
  EXPECT_EQ(r.types[0].predicted, 0);
  EXPECT_EQ(r.types[2].type, "ORG");
  EXPECT_EQ(r.types[2].predicted, 2);
  EXPECT_EQ(r.types[2].correct, 0);
  EXPECT_EQ(r.types[3].type, "PER");
  EXPECT_NEAR(r.types[3].precision, 50.0, 1e-9);
  EXPECT_NEAR(r.types[3].recall, 100.0, 1e-9);
  EXPECT_EQ(r.errors.type_confusions.at("LOC").at("ORG"), 1);
  EXPECT_EQ(r.errors.boundary.at("ORG"), 1);
  EXPECT_EQ(r.errors.spurious.at("PER"), 1);
  const std::string text = EntityEvaluator::Format(r);
  EXPECT_NE(text.find("processed 9 tokens with 4 phrases; found: 5 phrases; correct: 2."), std::string::npos) << text;
  EXPECT_NE(text.find("accuracy:  44.44%; precision:  40.00%; recall:  50.00%; FB1:  44.44"), std::string::npos) << text;
  EXPECT_NE(text.find("              PER: precision:  50.00%; recall: 100.00%; FB1:  66.67  2"), std::string::npos) << text;
  EXPECT_THROW(ev.Add(Split("O O"), Split("O")), Error);
}

std::vector<float> RandomVector(std::mt19937* g, size_t n) {
  std::normal_distribution<float> d(0.0f, 1.5f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(*g);
  return v;
}

// Viterbi against enumeration of every path on small random lattices; marginals against brute force.
TEST(Crf, ViterbiAndMarginalsMatchBruteForce) {
  std::mt19937 g(7);
  for (int trial = 0; trial < 30; ++trial) {
    const int k = 2 + trial % 3, n = 1 + trial % 5;
    CrfScores crf{RandomVector(&g, static_cast<size_t>(k * k)), RandomVector(&g, static_cast<size_t>(k)),
                  RandomVector(&g, static_cast<size_t>(k))};
    const std::vector<float> em = RandomVector(&g, static_cast<size_t>(n * k));
    double best = -1e30, z = 0;
    std::vector<int> best_path;
    std::vector<double> marg(static_cast<size_t>(n * k), 0.0);
    std::vector<int> path(static_cast<size_t>(n), 0);
    long total = 1;
    for (int t = 0; t < n; ++t) total *= k;
    for (long code = 0; code < total; ++code) {
      long c = code;
      for (int t = 0; t < n; ++t, c /= k) path[static_cast<size_t>(t)] = static_cast<int>(c % k);
      const double s = PathScore(em, path, crf);
      if (s > best) {
        best = s;
        best_path = path;
      }
      z += std::exp(s);
      for (int t = 0; t < n; ++t) marg[static_cast<size_t>(t * k + path[static_cast<size_t>(t)])] += std::exp(s);
    }
    EXPECT_EQ(ViterbiDecode(em, n, crf), best_path) << "trial " << trial;
    const auto m = CrfMarginals(em, n, crf);
    for (size_t i = 0; i < m.size(); ++i) EXPECT_NEAR(m[i], marg[i] / z, 1e-5) << "trial " << trial;
  }
  EXPECT_TRUE(ViterbiDecode({}, 0, CrfScores{{0, 0, 0, 0}, {0, 0}, {0, 0}}).empty());
  EXPECT_THROW(ViterbiDecode({1, 2, 3}, 2, CrfScores{{0, 0, 0, 0}, {0, 0}, {0, 0}}), Error);
}

}  // namespace
}  // namespace sense::text
