// SentencePieceTokenizer and TrainSentencePiece on models trained here from a
// synthetic corpus (no ../shared needed): training options, encoding,
// offsets, decoding, n-best, sampling, invalid UTF-8 and errors. Parity with
// spm_encode on real models is in sentencepiece_parity_test.cc.
#include "sense/text/sentencepiece_tokenizer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "sense/inference/error.h"
#include "sense/text/sentencepiece_trainer.h"
#include "sentencepiece_util.h"
#include "test_util.h"

namespace sense::text {
namespace {

using sense::testing::ExpectError;

std::vector<std::string> Corpus() {
  static const char* words[] = {"the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "tokenizer",
                                "sentence", "piece", "model", "training", "unigram", "language", "text",
                                "offsets", "bytes", "characters", "sense", "toolkit", "vision", "words", "and"};
  std::vector<std::string> out;
  uint32_t state = 12345;
  for (int s = 0; s < 3000; ++s) {
    std::string line;
    const int n = 4 + s % 9;
    for (int w = 0; w < n; ++w) {
      state = state * 1664525u + 1013904223u;
      if (w) line += ' ';
      line += words[(state >> 8) % (sizeof words / sizeof *words)];
    }
    out.push_back(line + (s % 3 == 0 ? "." : ""));
  }
  return out;
}

SentencePieceTrainerOptions Trainer(SentencePieceModelType type, int vocab) {
  SentencePieceTrainerOptions o;
  o.sentences = Corpus();
  o.model_type = type;
  o.vocab_size = vocab;
  o.character_coverage = 1.0;
  o.num_threads = 2;
  return o;
}

// One unigram and one BPE model per test binary.
const std::string& UnigramModel() {
  static const std::string model = [] {
    auto o = Trainer(SentencePieceModelType::kUnigram, 56);
    o.user_defined_symbols = {"<sep>", "@@"};
    return TrainSentencePiece(o);
  }();
  return model;
}
const std::string& BpeModel() {
  static const std::string model = TrainSentencePiece(Trainer(SentencePieceModelType::kBpe, 60));
  return model;
}

std::unique_ptr<SentencePieceTokenizer> FromBytes(const std::string& bytes, SentencePieceOptions o = {}) {
  o.model_data = bytes;
  return SentencePieceTokenizer::Create(o);
}

TEST(SentencePieceTrainerTest, TrainsUnigramAndBpeModels) {
  SENSE_REQUIRE_SENTENCEPIECE();
  auto unigram = FromBytes(UnigramModel());
  EXPECT_EQ(unigram->vocab_size(), 56);
  EXPECT_EQ(unigram->model_type(), "unigram");
  EXPECT_EQ(unigram->special_ids().unk, 0);
  EXPECT_EQ(unigram->special_ids().bos, 1);
  EXPECT_EQ(unigram->special_ids().eos, 2);
  EXPECT_EQ(unigram->special_ids().pad, -1);
  EXPECT_GE(unigram->PieceToId("<sep>"), 0);
  auto bpe = FromBytes(BpeModel());
  EXPECT_EQ(bpe->model_type(), "bpe");
  EXPECT_EQ(bpe->vocab_size(), 60);
}

TEST(SentencePieceTrainerTest, UserDefinedSymbolsStayWhole) {
  SENSE_REQUIRE_SENTENCEPIECE();
  auto tok = FromBytes(UnigramModel());
  const auto tokens = tok->Tokenize("the fox<sep>dog");
  bool found = false;
  for (const auto& t : tokens) found = found || t.piece == "<sep>";
  EXPECT_TRUE(found);
}

TEST(SentencePieceTrainerTest, WritesAModelFile) {
  SENSE_REQUIRE_SENTENCEPIECE();
  const std::string corpus = ::testing::TempDir() + "/spm_corpus.txt";
  {
    std::ofstream out(corpus, std::ios::binary);
    for (const auto& s : Corpus()) out << s << "\r\n";
  }
  SentencePieceTrainerOptions o;
  o.input_files = {corpus};
  o.vocab_size = 60;
  o.model_type = SentencePieceModelType::kBpe;
  o.pad_id = 3;
  const std::string path = ::testing::TempDir() + "/trained.model";
  TrainSentencePieceToFile(o, path);
  SentencePieceOptions so;
  so.model_path = path;
  auto tok = SentencePieceTokenizer::Create(so);
  EXPECT_EQ(tok->vocab_size(), 60);
  EXPECT_EQ(tok->special_ids().pad, 3);
  EXPECT_EQ(tok->Decode(tok->Encode("the lazy dog")), "the lazy dog");
}

TEST(SentencePieceTrainerTest, BadOptions) {
  SENSE_REQUIRE_SENTENCEPIECE();
  SentencePieceTrainerOptions none;
  ExpectError([&] { TrainSentencePiece(none); }, ErrorCode::kOption, "no corpus");
  auto o = Trainer(SentencePieceModelType::kUnigram, 0);
  ExpectError([&] { TrainSentencePiece(o); }, ErrorCode::kOption, "vocab_size must be > 0; found 0");
  o.vocab_size = 100;
  o.character_coverage = 1.5;
  ExpectError([&] { TrainSentencePiece(o); }, ErrorCode::kOption, "character_coverage must be in (0, 1]");
  o.character_coverage = 1.0;
  o.user_defined_symbols = {""};
  ExpectError([&] { TrainSentencePiece(o); }, ErrorCode::kOption, "empty strings");
  o.user_defined_symbols = {};
  o.normalization = "nfd";
  ExpectError([&] { TrainSentencePiece(o); }, ErrorCode::kOption, "normalization must be");
  o.normalization = "nmt_nfkc";
  o.pad_id = 1;
  ExpectError([&] { TrainSentencePiece(o); }, ErrorCode::kOption, "must differ");
  o.pad_id = -1;
  o.vocab_size = 100000;
  ExpectError([&] { TrainSentencePiece(o); }, ErrorCode::kOption, "Vocabulary size");
  SentencePieceTrainerOptions missing;
  missing.input_files = {"/nonexistent/corpus.txt"};
  ExpectError([&] { TrainSentencePiece(missing); }, ErrorCode::kFile, "/nonexistent/corpus.txt: no such file");
}

TEST(SentencePieceTokenizerTest, OffsetsSliceTheOriginalText) {
  SENSE_REQUIRE_SENTENCEPIECE();
  auto tok = FromBytes(UnigramModel());
  const std::string text = "the quick  brown fox.";
  const auto tokens = tok->Tokenize(text);
  ASSERT_FALSE(tokens.empty());
  std::vector<int> ids;
  std::size_t covered = 0;
  for (const auto& t : tokens) {
    ids.push_back(t.id);
    EXPECT_LE(t.begin, t.end);
    EXPECT_LE(t.end, text.size());
    EXPECT_GE(t.begin, covered);  // in order, not overlapping
    covered = t.end;
  }
  EXPECT_EQ(covered, text.size());
  EXPECT_EQ(tok->Encode(text), ids);
  EXPECT_EQ(tok->Decode(ids), "the quick brown fox.");  // nmt_nfkc folds the double space
}

TEST(SentencePieceTokenizerTest, NBestIsSortedAndStartsWithTheBest) {
  SENSE_REQUIRE_SENTENCEPIECE();
  auto tok = FromBytes(UnigramModel());
  const auto nbest = tok->NBest("tokenizer training", 5);
  ASSERT_GE(nbest.size(), 2u);
  ASSERT_LE(nbest.size(), 5u);
  std::vector<int> best;
  for (const auto& t : nbest[0].tokens) best.push_back(t.id);
  EXPECT_EQ(best, tok->Encode("tokenizer training"));
  std::set<std::vector<int>> distinct;
  for (std::size_t i = 0; i < nbest.size(); ++i) {
    std::vector<int> ids;
    for (const auto& t : nbest[i].tokens) ids.push_back(t.id);
    distinct.insert(ids);
    if (i) EXPECT_LE(nbest[i].score, nbest[i - 1].score);
    EXPECT_EQ(tok->Decode(ids), "tokenizer training");
  }
  EXPECT_EQ(distinct.size(), nbest.size());
  ExpectError([&] { tok->NBest("x", 0); }, ErrorCode::kInput, "n-best size must be in [1, 1024]; found 0");
  ExpectError([&] { FromBytes(BpeModel())->NBest("x", 2); }, ErrorCode::kUnsupported, "needs a unigram model");
}

TEST(SentencePieceTokenizerTest, SamplingIsSeededAndDecodesBack) {
  SENSE_REQUIRE_SENTENCEPIECE();
  auto tok = FromBytes(UnigramModel());
  const std::string text = "the sentence piece language model";
  // SentencePiece keeps a generator per thread, seeded on the thread's first
  // sample: each series runs on a fresh thread after seeding.
  auto run = [&] {
    SentencePieceTokenizer::SetSamplingSeed(7);
    std::vector<std::vector<int>> out;
    std::thread worker([&] {
      for (int i = 0; i < 40; ++i) {
        std::vector<int> ids;
        for (const auto& t : tok->Sample(text, {-1, 0.1f})) ids.push_back(t.id);
        out.push_back(ids);
      }
    });
    worker.join();
    return out;
  };
  const auto a = run(), b = run();
  EXPECT_EQ(a, b);
  std::set<std::vector<int>> distinct(a.begin(), a.end());
  EXPECT_GT(distinct.size(), 1u);
  for (const auto& ids : a) EXPECT_EQ(tok->Decode(ids), text);
  auto bpe = FromBytes(BpeModel());
  for (int i = 0; i < 5; ++i) {
    std::vector<int> ids;
    for (const auto& t : bpe->Sample(text, {0, 0.3f})) ids.push_back(t.id);
    EXPECT_EQ(bpe->Decode(ids), text);
  }
  ExpectError([&] { tok->Sample(text, {-1, 0.0f}); }, ErrorCode::kInput, "alpha must be > 0");
  ExpectError([&] { bpe->Sample(text, {0, 1.0f}); }, ErrorCode::kInput, "in [0, 1) for BPE");
}

TEST(SentencePieceTokenizerTest, SpecialTokensAndTemplate) {
  SENSE_REQUIRE_SENTENCEPIECE();
  SentencePieceOptions o;
  o.add_bos = true;
  o.add_eos = true;
  auto tok = FromBytes(UnigramModel(), o);
  EXPECT_EQ(tok->sequence_template().prefix, std::vector<int>{1});
  EXPECT_EQ(tok->sequence_template().suffix, std::vector<int>{2});
  EXPECT_TRUE(tok->IsSpecial(0));
  EXPECT_TRUE(tok->IsSpecial(1));
  EXPECT_FALSE(tok->IsSpecial(tok->PieceToId("<sep>")));
  EXPECT_EQ(tok->IdToPiece(1), "<s>");
  EXPECT_EQ(tok->PieceToId("definitely-not-a-piece"), -1);
  EXPECT_EQ(tok->PieceToId("<unk>"), 0);
  EXPECT_EQ(tok->Decode({1, tok->PieceToId("\xE2\x96\x81" "the"), 2}), "the");
  ExpectError([&] { tok->Decode({5000}); }, ErrorCode::kInput, "id 5000 is out of range");
  auto no_bos = Trainer(SentencePieceModelType::kUnigram, 50);
  no_bos.bos_id = -1;
  const std::string model = TrainSentencePiece(no_bos);
  SentencePieceOptions wants_bos;
  wants_bos.add_bos = true;
  ExpectError([&] { FromBytes(model, wants_bos); }, ErrorCode::kOption, "defines no <s>");
}

TEST(SentencePieceTokenizerTest, InvalidUtf8IsAnErrorOrReplaced) {
  SENSE_REQUIRE_SENTENCEPIECE();
  auto tok = FromBytes(UnigramModel());
  ExpectError([&] { tok->Tokenize("the \xC3(fox"); }, ErrorCode::kInput, "invalid UTF-8 at byte 4 (0xc3)");
  SentencePieceOptions o;
  o.invalid_utf8 = InvalidUtf8::kReplace;
  auto lenient = FromBytes(UnigramModel(), o);
  const std::string text = "the \xF0\x9F fox";  // a truncated 4-byte sequence: one U+FFFD
  const auto tokens = lenient->Tokenize(text);
  ASSERT_FALSE(tokens.empty());
  EXPECT_EQ(tokens.back().end, text.size());
  for (const auto& t : tokens) {
    EXPECT_LE(t.end, text.size());
    EXPECT_NE(t.begin, 5u);  // never inside the replaced bytes [4, 6)
    EXPECT_NE(t.end, 5u);
  }
}

TEST(SentencePieceTokenizerTest, BadModels) {
  SENSE_REQUIRE_SENTENCEPIECE();
  ExpectError([] { SentencePieceTokenizer::Create({}); }, ErrorCode::kOption, "set model_path or model_data");
  SentencePieceOptions garbage;
  garbage.model_data = "this is not a model";
  garbage.source = "bundle.pt:tokenizer.model";
  ExpectError([&] { SentencePieceTokenizer::Create(garbage); }, ErrorCode::kModelFormat,
              "bundle.pt:tokenizer.model: not a SentencePiece model");
  SentencePieceOptions missing;
  missing.model_path = "/nonexistent/m.model";
  ExpectError([&] { SentencePieceTokenizer::Create(missing); }, ErrorCode::kFile, "/nonexistent/m.model: no such file");
}

}  // namespace
}  // namespace sense::text
