// TextClassifier on the tiny_text bundle (WordPiece vocab inside; "good"
// votes positive, "bad" negative by construction), and, when present, the
// bundled sentiment model.
#include "sense/text/text_classifier.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "sense/text/text_inputs.h"
#include "sentencepiece_util.h"
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

// tiny_text.pt with its metadata edited: a sidecar sense.json (and the
// vocabulary beside it) in a fresh folder, loaded through metadata_path.
TextClassifierOptions Edited(const std::string& name, const std::function<void(nlohmann::json&)>& edit) {
  const std::string model = TestModel("tiny_text.pt");
  nlohmann::json j = nlohmann::json::parse(ReadBundleMetadata(model).json);
  edit(j);
  const auto dir = std::filesystem::temp_directory_path() / ("sense_text_classifier_test_" + name);
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "sense.json") << j.dump();
  std::ofstream(dir / "vocab.txt") << "[PAD]\n[UNK]\n[CLS]\n[SEP]\ngood\nbad\nfilm\n";
  TextClassifierOptions o = Options(model);
  o.model.metadata_path = (dir / "sense.json").string();
  return o;
}

const std::string& Top(const Outcome<TextClassification>& o) { return o.value().classifications.categories[0].label; }

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
    EXPECT_EQ(single.classifications.categories[0].label, Top(batch[i])) << texts[i];
    EXPECT_NEAR(single.classifications.categories[0].score, batch[i].value().classifications.categories[0].score, 1e-5);
  }
}

TEST(TextClassifierTest, BadTextsAreReportedPerText) {
  auto c = TextClassifier::Create(Options());
  auto r = c->ClassifyBatch({"good", "", "bad \xff film", "   ", "bad"});
  ASSERT_EQ(r.size(), 5u);
  EXPECT_EQ(Top(r[0]), "positive");
  for (size_t i : {1, 2, 3}) {
    ASSERT_FALSE(r[i].ok()) << i;
    EXPECT_EQ(r[i].error().code(), ErrorCode::kInput) << i;
  }
  EXPECT_NE(std::string(r[1].error().what()).find("empty text"), std::string::npos);
  EXPECT_NE(std::string(r[2].error().what()).find("invalid UTF-8 at byte 4"), std::string::npos) << r[2].error().what();
  EXPECT_NE(std::string(r[3].error().what()).find("no tokens"), std::string::npos);
  EXPECT_EQ(Top(r[4]), "negative");
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

TEST(TextClassifierTest, AModelThatRaisesOnOneTextLosesOnlyThatText) {
  // raising_text.pt raises on any row of more than 10 tokens; the batch that
  // holds the long text fails, and its rows are retried one by one.
  for (int batch : {1, 2, 8}) {
    auto o = Options(TestModel("raising_text.pt"));
    o.max_batch_size = batch;
    auto c = TextClassifier::Create(o);
    const std::string long_text = "good film film film film film film film film film film";
    auto r = c->ClassifyBatch({"good film", long_text, "bad", "bad film good good"});
    ASSERT_EQ(r.size(), 4u);
    EXPECT_EQ(Top(r[0]), "positive") << batch;
    ASSERT_FALSE(r[1].ok()) << batch;
    EXPECT_EQ(r[1].error().code(), ErrorCode::kBackend);
    EXPECT_NE(std::string(r[1].error().what()).find("more than 10 tokens"), std::string::npos) << r[1].error().what();
    EXPECT_EQ(Top(r[2]), "negative") << batch;
    EXPECT_EQ(Top(r[3]), "positive") << batch;
    EXPECT_THROW(c->Classify(long_text), Error);
  }
}

TEST(TextClassifierTest, ThreeInputBertShapedModelRunsWithInputsBoundByOrder) {
  // tiny_bert_text.pt: input_ids int64, attention_mask bool, token_type_ids
  // int32, no input_names: bound by order to ids, mask, type_ids.
  auto c = TextClassifier::Create(Options(TestModel("tiny_bert_text.pt")));
  const auto& b = c->runner().bindings();
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0].role, TextInputRole::kIds);
  EXPECT_EQ(b[1].role, TextInputRole::kMask);
  EXPECT_EQ(b[1].dtype, DType::kBool);
  EXPECT_EQ(b[2].role, TextInputRole::kTypeIds);
  EXPECT_EQ(b[2].dtype, DType::kInt32);
  auto r = c->ClassifyBatch({"good film", "bad film film film film", "film good good bad"});
  EXPECT_EQ(Top(r[0]), "positive");
  EXPECT_EQ(Top(r[1]), "negative");
  EXPECT_EQ(Top(r[2]), "positive");
  // The padding of the shorter rows is masked out: a batch answers as single texts do.
  EXPECT_NEAR(r[0].value().classifications.categories[0].score,
              c->Classify("good film").classifications.categories[0].score, 1e-6);
  EXPECT_EQ(c->Explain("bad film", -1, {TextExplainMethod::kOcclusion}).category.label, "negative");
}

TEST(TextClassifierTest, InputRolesMustBeDistinct) {
  // Both roles named onto one input.
  auto o = Edited("clash", [](nlohmann::json& j) { j["text"]["input_names"] = {{"ids", "ids"}, {"mask", "ids"}}; });
  try {
    TextClassifier::Create(o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kMetadata);
    EXPECT_NE(std::string(e.what()).find("roles ids and mask both name input 'ids'"), std::string::npos) << e.what();
  }
  o = Edited("unknown_role", [](nlohmann::json& j) { j["text"]["input_names"] = {{"tokens", "ids"}}; });
  try {
    TextClassifier::Create(o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kMetadata);
    EXPECT_NE(std::string(e.what()).find("unknown role 'tokens'"), std::string::npos) << e.what();
  }
  o = Edited("missing_input", [](nlohmann::json& j) { j["text"]["input_names"] = {{"ids", "input_ids"}}; });
  EXPECT_THROW(TextClassifier::Create(o), Error);
}

TEST(TextClassifierTest, ANamedRoleLeavesTheOtherInputToTheNextRole) {
  // inputs declared [mask, ids] with only ids named: the mask role goes to
  // the unnamed input "mask", not to the second input (ids) again.
  auto o = Edited("swapped", [](nlohmann::json& j) {
    std::swap(j["inputs"][0], j["inputs"][1]);
    j["text"]["input_names"] = {{"ids", "ids"}};
  });
  auto c = TextClassifier::Create(o);
  const auto& b = c->runner().bindings();
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].input, "mask");
  EXPECT_EQ(b[0].role, TextInputRole::kMask);
  EXPECT_EQ(b[1].input, "ids");
  EXPECT_EQ(b[1].role, TextInputRole::kIds);
  EXPECT_EQ(c->Classify("bad film").classifications.categories[0].label, "negative");
}

TEST(TextClassifierTest, MaxLengthWithoutRoomForTextIsAMetadataError) {
  // [CLS] and [SEP] take both positions of max_length 2 (Explain's token
  // budget used to underflow here).
  auto o = Edited("max_length_2", [](nlohmann::json& j) { j["text"]["max_length"] = 2; });
  try {
    TextClassifier::Create(o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kMetadata);
    EXPECT_NE(std::string(e.what()).find("max_length 2 leaves no room for text after 2 special tokens"), std::string::npos)
        << e.what();
  }
  o = Edited("max_length_3", [](nlohmann::json& j) { j["text"]["max_length"] = 3; });
  auto c = TextClassifier::Create(o);
  const auto r = c->Classify("film bad");  // one token fits: "film"
  EXPECT_TRUE(r.truncated);
  const auto ex = c->Explain("film bad", -1, {TextExplainMethod::kOcclusion});
  EXPECT_EQ(ex.category.label, r.classifications.categories[0].label);
  EXPECT_NEAR(ex.category.score, r.classifications.categories[0].score, 1e-6);
}

TEST(TextClassifierTest, ExplanationsSeeEveryWindowAndAgreeWithClassify) {
  // Windows of 14 tokens, 8 apart: "good" is in the first window only, the
  // two "bad"s in the later ones. Classify averages the windows: negative.
  auto o = Edited("window", [](nlohmann::json& j) { j["text"]["truncation"] = "window"; });
  auto c = TextClassifier::Create(o);
  std::string text = "good";
  for (int i = 0; i < 20; ++i) text += " film";
  text += " bad bad";
  const auto r = c->Classify(text);
  EXPECT_EQ(r.windows, 3);
  EXPECT_EQ(r.classifications.categories[0].label, "negative");
  for (TextExplainMethod m : {TextExplainMethod::kIntegratedGradients, TextExplainMethod::kOcclusion}) {
    const auto ex = c->Explain(text, -1, {m});
    EXPECT_EQ(ex.category.label, "negative") << TextExplainMethodName(m);
    EXPECT_NEAR(ex.category.score, r.classifications.categories[0].score, 1e-6);
    ASSERT_EQ(ex.words.size(), 23u);
    EXPECT_GT(ex.words[21].weight, 0.0f) << TextExplainMethodName(m);  // "bad", seen in the later windows
    EXPECT_LT(ex.words[0].weight, 0.0f) << TextExplainMethodName(m);   // "good" pushed against negative
  }
}

TEST(TextClassifierTest, LoadChecksRunOnRealTextInputs) {
  // Through TextClassifier the LSTM rewrite is checked on sample rows from
  // the tokenizer; a plain Model::Load has no such rows and says so.
  auto c = TextClassifier::Create(Options(TestModel("tiny_lstm_text.pt")));
  EXPECT_NE(c->model().optimization().find("sense LSTM kernel"), std::string::npos) << c->model().optimization();
  EXPECT_NE(c->model().optimization().find("sample inputs"), std::string::npos) << c->model().optimization();
  ModelOptions mo;
  mo.path = TestModel("tiny_lstm_text.pt");
  mo.num_threads = 1;
  auto plain = Model::Load(mo);
  EXPECT_NE(plain->optimization().find("none: no sample inputs"), std::string::npos) << plain->optimization();
  auto hooked = Model::Load(WithTextSampleInputs(mo));
  EXPECT_EQ(hooked->optimization(), c->model().optimization());
  // The sample rows: ids inside the vocabulary, wrapped in [CLS] ... [SEP], mask all 1.
  const NamedTensors in = SampleInputsFor(std::shared_ptr<const Tokenizer>(&c->tokenizer(), [](const Tokenizer*) {}))(
      c->metadata(), {9, 4, 1});
  const Tensor& ids = in.at("ids");
  ASSERT_EQ(ids.shape(), (std::vector<int64_t>{3, 9}));
  EXPECT_EQ(ids.data<int64_t>()[0], 2);  // [CLS]
  EXPECT_EQ(ids.data<int64_t>()[8], 3);  // [SEP]
  for (int64_t i = 0; i < ids.numel(); ++i) EXPECT_LT(ids.data<int64_t>()[i], 7);
  EXPECT_EQ(in.at("mask").data<int64_t>()[9 + 3], 1);
  EXPECT_EQ(in.at("mask").data<int64_t>()[9 + 4], 0);
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
    eo.method = ParseTextExplainMethod(method);
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
  EXPECT_THROW(ParseTextExplainMethod("gradcam"), Error);
  EXPECT_THROW(TextClassifier::ValidateExplainOptions({TextExplainMethod::kAuto, 1}), Error);
}

TEST(TextClassifierTest, ACompressedArchiveIsReadAsAStoredOne) {
  // deflated_lstm_text.pt: tiny_lstm_text.pt re-zipped with deflate. Its
  // tokenizer is read before the model loads through LibTorch's own archive
  // reader (ReadBundleFiles), which inflates, so the load checks get sample
  // inputs and the LSTM kernel as for the stored archive; classification is
  // the same.
  auto c = TextClassifier::Create(Options(TestModel("deflated_lstm_text.pt")));
  EXPECT_EQ(c->model().optimization().rfind("sense LSTM kernel", 0), 0u) << c->model().optimization();
  EXPECT_NE(c->model().optimization().find("on sample inputs"), std::string::npos) << c->model().optimization();
  auto ref = TextClassifier::Create(Options(TestModel("tiny_lstm_text.pt")));
  for (const std::string text : {"good film", "bad bad film good"})
    EXPECT_NEAR(c->Classify(text).classifications.categories[0].score,
                ref->Classify(text).classifications.categories[0].score, 1e-5);
  ModelOptions mo;
  mo.path = TestModel("deflated_lstm_text.pt");
  EXPECT_TRUE(static_cast<bool>(WithTextSampleInputs(mo).sample_inputs));
}

TEST(TextClassifierTest, DefaultSentimentModelGetsItsLstmKernelFromSampleInputs) {
  const std::string path = SourcePath("models/sentiment-sst2.pt");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " not present";
  SENSE_REQUIRE_SENTENCEPIECE();  // the bundle's tokenizer is SentencePiece
  auto c = TextClassifier::Create(Options(path));
  EXPECT_EQ(c->model().optimization().rfind("sense LSTM kernel", 0), 0u) << c->model().optimization();
  EXPECT_EQ(c->Classify("A gorgeous, witty, seductive movie.").classifications.categories[0].label, "positive");
}

// ---- out-of-domain detection (issue 16) --------------------------------------
TEST(TextClassifierOodTest, DefaultSentimentModelFlagsOtherLanguagesAndJunk) {
  const std::string path = SourcePath("models/sentiment-sst2.pt");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " not present";
  SENSE_REQUIRE_SENTENCEPIECE();
  auto c = TextClassifier::Create(Options(path));
  ASSERT_TRUE(c->metadata().ood.has_value());
  const std::vector<std::string> texts = {"A gorgeous, witty, seductive movie.", "日本語の文です。",
                                          "an ugly , tedious mess of a film .", "SELECT name FROM users WHERE id = 42;",
                                          "🥓 🌣 🧷"};
  const auto r = c->ClassifyBatch(texts);
  for (size_t i = 0; i < texts.size(); ++i) {
    ASSERT_TRUE(r[i].ok()) << r[i].error().what();
    ASSERT_TRUE(r[i].value().classifications.out_of_domain.has_value()) << texts[i];
    const OutOfDomain& o = *r[i].value().classifications.out_of_domain;
    EXPECT_EQ(o.flag, i == 1 || i >= 3) << texts[i] << " score " << o.score;
  }
  // every piece unknown: the unknown-share signal alone puts it far above the threshold
  EXPECT_GT(r[1].value().classifications.out_of_domain->score, 10 * c->metadata().ood->threshold);
  // alone or in a batch: the same score
  EXPECT_NEAR(c->Classify(texts[0]).classifications.out_of_domain->score,
              r[0].value().classifications.out_of_domain->score, 1e-4);
  // a long text split into windows is scored too
  std::string long_text;
  for (int i = 0; i < 40; ++i) long_text += "a gorgeous , witty , seductive movie . ";
  const TextClassification w = c->Classify(long_text);
  EXPECT_GT(w.windows, 1);
  ASSERT_TRUE(w.classifications.out_of_domain.has_value());
  EXPECT_FALSE(w.classifications.out_of_domain->flag) << w.classifications.out_of_domain->score;
  auto off = Options(path);
  off.classifier.detect_out_of_domain = false;
  EXPECT_FALSE(TextClassifier::Create(off)->Classify(texts[1]).classifications.out_of_domain.has_value());
}

}  // namespace
}  // namespace sense::text
