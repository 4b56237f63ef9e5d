// TextClassifier on the tiny_text bundle (WordPiece vocab inside; "good"
// votes positive, "bad" negative by construction), and, when present, the
// bundled sentiment model.
#include "sense/text/text_classifier.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "test_util.h"

namespace sense::text {
namespace {

using sense::testing::SourcePath;
using sense::testing::TestModel;

TextClassifierOptions Options(const std::string& path = TestModel("tiny_text.pt")) {
  TextClassifierOptions o;
  o.model.path = path;
  o.model.num_threads = 1;
  o.classifier.max_results = -1;
  return o;
}

TEST(TextClassifierTest, ClassifiesWithTheBundledTokenizer) {
  auto c = TextClassifier::Create(Options());
  auto r = c->Classify("Good film");
  EXPECT_EQ(r.classifications.categories[0].label, "positive");
  EXPECT_EQ(r.num_tokens, 2);
  EXPECT_FALSE(r.truncated);
  EXPECT_EQ(c->Classify("bad, BAD film").classifications.categories[0].label, "negative");
}

TEST(TextClassifierTest, BatchMatchesSingleDespitePaddingAndSorting) {
  auto o = Options();
  o.max_batch_size = 2;
  auto c = TextClassifier::Create(o);
  const std::vector<std::string> texts = {"good good good good film", "bad", "film good", "bad film bad"};
  auto batch = c->ClassifyBatch(texts);
  ASSERT_EQ(batch.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    auto single = c->Classify(texts[i]);
    EXPECT_EQ(single.classifications.categories[0].label, batch[i].classifications.categories[0].label) << texts[i];
    EXPECT_NEAR(single.classifications.categories[0].score, batch[i].classifications.categories[0].score, 1e-5);
  }
}

TEST(TextClassifierTest, BadTextsAreReportedPerText) {
  auto c = TextClassifier::Create(Options());
  std::vector<std::string> errors;
  auto r = c->ClassifyBatch({"good", "", "bad \xff film", "   ", "bad"}, &errors);
  EXPECT_TRUE(errors[0].empty());
  EXPECT_NE(errors[1].find("empty text"), std::string::npos);
  EXPECT_NE(errors[2].find("invalid UTF-8 at byte 4"), std::string::npos) << errors[2];
  EXPECT_NE(errors[3].find("no tokens"), std::string::npos);
  EXPECT_EQ(r[4].classifications.categories[0].label, "negative");
  try {
    c->Classify("");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInput);
  }
  auto o = Options();
  o.invalid_utf8 = InvalidUtf8::kReplace;
  EXPECT_EQ(TextClassifier::Create(o)->Classify("bad \xff film").classifications.categories[0].label, "negative");
}

TEST(TextClassifierTest, LongTextsAreTruncatedAndSaySo) {
  // tiny_text: max_length 16 with [CLS] and [SEP] leaves 14 tokens.
  std::string text;
  for (int i = 0; i < 20; ++i) text += "film ";
  text += "bad bad bad";
  auto r = TextClassifier::Create(Options())->Classify(text);
  EXPECT_TRUE(r.truncated);
  EXPECT_EQ(r.num_tokens, 23);
  // The "bad"s were cut: both logits are 0, so both labels score 0.5.
  EXPECT_NEAR(r.classifications.categories[0].score, 0.5f, 1e-6);
}

TEST(TextClassifierTest, ExplanationsPointAtTheWords) {
  auto c = TextClassifier::Create(Options());
  for (const std::string method : {"integrated_gradients", "occlusion"}) {
    TextExplainOptions eo;
    eo.method = method;
    const std::string text = "the film was bad , not good";
    TextExplanation ex = c->Explain(text, 0, eo);  // explain "negative"
    EXPECT_EQ(ex.method, method);
    ASSERT_EQ(ex.words.size(), 7u);
    for (const auto& w : ex.words) EXPECT_EQ(text.substr(w.begin, w.end - w.begin), w.word);
    EXPECT_NEAR(ex.words[3].weight, 1.0f, 1e-4) << method;  // "bad" carried "negative"
    EXPECT_LT(ex.words[6].weight, 0.0f) << method;          // "good" pushed against it
    EXPECT_NEAR(ex.words[1].weight, 0.0f, 1e-4) << method;  // "film" is neutral
  }
}

TEST(TextClassifierTest, WrongModelAndOptions) {
  auto o = Options(TestModel("colour3.pt"));
  EXPECT_THROW(TextClassifier::Create(o), Error);
  o = Options();
  o.classifier.allow_labels = {"neutral"};
  EXPECT_THROW(TextClassifier::Create(o), Error);
  o = Options();
  o.max_batch_size = 0;
  EXPECT_THROW(TextClassifier::Create(o), Error);
}

}  // namespace
}  // namespace sense::text
