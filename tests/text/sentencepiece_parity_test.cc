// SentencePiece parity: sense's SentencePieceTokenizer against
//   * ../shared/data/tokenizers/sentencepiece_expected.json (made with the
//     library's Python binding, python3-sentencepiece 0.1.97): pieces, ids and
//     decoded text for test_model.model and opus-mt-en-fr/source.spm;
//   * Debian's spm_encode on every line of botchan.txt, ids and pieces, with
//     test_model.model (its training corpus) and the 32k opus-mt source.spm.
// Offsets: slicing the text at a token's offsets gives the piece with "▁" read
// as a space (leading whitespace aside, which SentencePiece's dummy prefix and
// whitespace folding move around), checked on every botchan line.
// Known differences: none.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "corpora.h"
#include "sense/inference/error.h"
#include "sense/text/sentencepiece_tokenizer.h"
#include "sentencepiece_util.h"
#include "test_util.h"

namespace sense::text {
namespace {

using sense::testing::ReadAll;
using sense::testing::SharedData;
using sense::testing::SplitLines;

const char* kTestModel = "tokenizers/sentencepiece-test/test_model.model";
const char* kOpusModel = "tokenizers/opus-mt-en-fr/source.spm";
const char* kBotchan = "tokenizers/sentencepiece-test/botchan.txt";

std::unique_ptr<SentencePieceTokenizer> Load(const std::string& rel) {
  SentencePieceOptions o;
  o.model_path = SharedData(rel);
  return SentencePieceTokenizer::Create(o);
}

// "▁" read as a space, leading whitespace dropped.
std::string Surface(const std::string& piece) {
  std::string s;
  for (std::size_t i = 0; i < piece.size();) {
    if (piece.compare(i, 3, "\xE2\x96\x81") == 0) {
      s += ' ';
      i += 3;
    } else {
      s += piece[i++];
    }
  }
  return s;
}
std::string TrimLeft(std::string s) {
  std::size_t k = 0;
  while (k < s.size() && (s[k] == ' ' || s[k] == '\t')) ++k;
  return s.substr(k);
}

TEST(SentencePieceParityTest, ExpectedJson) {
  SENSE_REQUIRE_SENTENCEPIECE();
  SENSE_REQUIRE_SHARED("tokenizers/sentencepiece_expected.json");
  const auto j = nlohmann::json::parse(ReadAll(SharedData("tokenizers/sentencepiece_expected.json")));
  std::size_t cases = 0, agree = 0;
  for (const auto& [model, spec] : j["models"].items()) {
    auto tok = Load("tokenizers/" + model);
    EXPECT_EQ(tok->vocab_size(), spec["piece_size"].get<int>()) << model;
    EXPECT_EQ(tok->special_ids().unk, spec["unk_id"].get<int>()) << model;
    EXPECT_EQ(tok->special_ids().bos, spec["bos_id"].get<int>()) << model;
    EXPECT_EQ(tok->special_ids().eos, spec["eos_id"].get<int>()) << model;
    EXPECT_EQ(tok->special_ids().pad, spec["pad_id"].get<int>()) << model;
    for (const auto& c : spec["cases"]) {
      const std::string text = c["text"];
      ++cases;
      const std::vector<Token> tokens = tok->Tokenize(text);
      std::vector<int> ids;
      std::vector<std::string> pieces;
      for (const Token& t : tokens) {
        ids.push_back(t.id);
        pieces.push_back(t.piece);
      }
      const auto want_ids = c["ids"].get<std::vector<int>>();
      const auto want_pieces = c["pieces"].get<std::vector<std::string>>();
      const std::string want_decoded = c["decoded"];
      EXPECT_EQ(ids, want_ids) << model << ": " << text;
      EXPECT_EQ(pieces, want_pieces) << model << ": " << text;
      EXPECT_EQ(tok->Encode(text), want_ids) << model << ": " << text;
      EXPECT_EQ(tok->Decode(ids), want_decoded) << model << ": " << text;
      agree += ids == want_ids && pieces == want_pieces && tok->Decode(ids) == want_decoded;
    }
  }
  std::printf("[ expected ] %zu cases, %zu identical\n", cases, agree);
  EXPECT_GT(cases, 10u);
  EXPECT_EQ(agree, cases);
}

// Runs spm_encode on `input` and returns its output lines.
std::vector<std::string> SpmEncode(const std::string& model, const std::string& input, const char* format) {
  // one file per process: ctest -j runs the parity tests of two models at once
  const std::string out = ::testing::TempDir() + "/spm_encode_" + std::to_string(::getpid()) + "_" + format + ".txt";
  const std::string command = std::string(SENSE_SPM_ENCODE) + " --model '" + model + "' --output_format=" + format +
                              " < '" + input + "' > '" + out + "'";
  if (std::system(command.c_str()) != 0) return {};
  return SplitLines(ReadAll(out));
}

void CompareWithSpmEncode(const char* model_rel) {
  SENSE_REQUIRE_SENTENCEPIECE();
  SENSE_REQUIRE_SHARED(model_rel);
  SENSE_REQUIRE_SHARED(kBotchan);
  if (std::string(SENSE_SPM_ENCODE).empty()) GTEST_SKIP() << "spm_encode not found (Debian package sentencepiece)";
  const std::string model = SharedData(model_rel);
  const std::string corpus = SharedData(kBotchan);
  const std::vector<std::string> want_ids = SpmEncode(model, corpus, "id");
  const std::vector<std::string> want_pieces = SpmEncode(model, corpus, "piece");
  const std::vector<std::string> lines = SplitLines(ReadAll(corpus));
  ASSERT_EQ(want_ids.size(), lines.size());
  ASSERT_EQ(want_pieces.size(), lines.size());
  auto tok = Load(model_rel);
  std::size_t agree = 0, tokens_total = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::vector<Token> tokens = tok->Tokenize(lines[i]);
    std::string ids, pieces;
    for (const Token& t : tokens) {
      if (!ids.empty()) {
        ids += ' ';
        pieces += ' ';
      }
      ids += std::to_string(t.id);
      pieces += t.piece;
      // Offsets: the slice reads as the piece.
      ASSERT_LE(t.begin, t.end);
      ASSERT_LE(t.end, lines[i].size());
      if (t.id != tok->special_ids().unk) {
        EXPECT_EQ(TrimLeft(lines[i].substr(t.begin, t.end - t.begin)), TrimLeft(Surface(t.piece)))
            << "line " << i + 1 << " piece " << t.piece;
      }
    }
    tokens_total += tokens.size();
    std::string encoded;
    for (int id : tok->Encode(lines[i])) encoded += (encoded.empty() ? "" : " ") + std::to_string(id);
    EXPECT_EQ(encoded, ids) << "Encode and Tokenize differ on line " << i + 1;
    if (ids == want_ids[i] && pieces == want_pieces[i]) {
      ++agree;
    } else if (i - agree < 10) {
      ADD_FAILURE() << model_rel << " line " << i + 1 << "\n  sense:      " << ids << "\n  spm_encode: " << want_ids[i];
    }
  }
  std::printf("[ spm      ] %-28s %zu lines, %zu tokens, %zu identical (%.3f%%)\n", model_rel, lines.size(), tokens_total,
              agree, 100.0 * agree / lines.size());
  EXPECT_EQ(agree, lines.size());
}

TEST(SentencePieceParityTest, BotchanTestModelMatchesSpmEncode) { CompareWithSpmEncode(kTestModel); }
TEST(SentencePieceParityTest, BotchanOpusMtMatchesSpmEncode) { CompareWithSpmEncode(kOpusModel); }

}  // namespace
}  // namespace sense::text
