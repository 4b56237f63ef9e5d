// WordPiece parity with Hugging Face tokenizers (the Rust implementation, via
// the npm `tokenizers` package's native bindings, version in
// scripts/wordpiece-reference/package.json). The reference was produced by
// scripts/wordpiece-reference/make_wordpiece_reference.js and is unpacked
// from tests/data/text/wordpiece_reference.tar.xz at configure time.
//
// Checked, with the agreement printed for each set:
//   * every code point (all 1,112,064 scalar values) through BERT's basic
//     tokenizer, in five normaliser configurations: the words of "a<c>a";
//   * ids, tokens, byte offsets and decoded text of the hard cases
//     (tests/data/text/wordpiece_hard_cases.jsonl) in the same five configs;
//   * ids and byte offsets of every SST-2 (train/dev/test) and CoNLL-2003
//     (train/dev/test) sentence with bert-base-uncased, and CoNLL cased;
//   * offsets: slicing the original text at a token's offsets and normalising
//     the slice gives the token's piece (without "##").
//
// Known differences, each asserted exactly below (anything else fails):
//   1. Six characters whose general category changed after Unicode 8.0
//      (kCategoryChanged). Hugging Face's category tables are Unicode 8.0;
//      sense emulates that version with ICU's character ages
//      (WordPieceOptions::unicode_version) but ICU only knows today's
//      category of a character that existed in 8.0.
//   2. Characters unassigned in ICU 72 (Unicode 15.0) that Rust's standard
//      library (Unicode 16) lower-cases: sense keeps them as they are.
//   3. Offsets only, hard case "\U0001d165\u0301\U0001d16d": NFD reorders the
//      marks to U+1D165 U+1D16D U+0301; Hugging Face keeps each position's old
//      alignment, so its token [0, 6) omits the bytes of U+1D16D, which the
//      token contains. sense keeps each character's own bytes: [0, 10).
//      Ids, pieces and decoded text agree.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "corpora.h"
#include "sense/inference/error.h"
#include "sense/text/wordpiece_tokenizer.h"
#include "test_util.h"

#include <unicode/uchar.h>

namespace sense::text {
namespace {

using sense::testing::HashSentences;
using sense::testing::ReadAll;
using sense::testing::SharedData;
using sense::testing::SplitLines;

const char* kVocab = "tokenizers/bert-base-uncased/vocab.txt";
std::string Reference(const std::string& rel) { return std::string(SENSE_WORDPIECE_REFERENCE) + "/" + rel; }

struct Config {
  const char* name;
  bool lowercase;
  std::optional<bool> strip_accents;
  bool chinese;
};
const Config kConfigs[] = {
    {"uncased", true, std::nullopt, true},
    {"cased", false, std::nullopt, true},
    {"strip_only", false, true, true},
    {"lower_only", true, false, true},
    {"no_chinese", true, std::nullopt, false},
};

WordPieceOptions OptionsFor(const Config& c) {
  WordPieceOptions o;
  o.lowercase = c.lowercase;
  o.strip_accents = c.strip_accents;
  o.tokenize_chinese_chars = c.chinese;
  return o;
}

std::unique_ptr<WordPieceTokenizer> BertTokenizer(const Config& c) {
  WordPieceOptions o = OptionsFor(c);
  o.vocab_path = SharedData(kVocab);
  return WordPieceTokenizer::Create(o);
}

std::string Utf8(char32_t c) {
  std::string s;
  if (c < 0x80) {
    s += static_cast<char>(c);
  } else if (c < 0x800) {
    s += static_cast<char>(0xC0 | (c >> 6));
    s += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    s += static_cast<char>(0xE0 | (c >> 12));
    s += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (c >> 18));
    s += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (c & 0x3F));
  }
  return s;
}

std::vector<char32_t> CodePoints(const std::string& s) {
  std::vector<char32_t> out;
  for (std::size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    int n = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    char32_t c = n == 1 ? b : n == 2 ? (b & 0x1F) : n == 3 ? (b & 0x0F) : (b & 0x07);
    for (int k = 1; k < n; ++k) c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    out.push_back(c);
    i += n;
  }
  return out;
}

// The sweep's notation for the words of "a<c>a": code points in hex, "=" for
// c, "," within a word, "|" between words, "-" for none.
std::string SweepKey(const std::vector<BasicWord>& words, char32_t c) {
  if (words.empty()) return "-";
  std::string key;
  for (std::size_t w = 0; w < words.size(); ++w) {
    if (w) key += '|';
    bool first = true;
    for (char32_t cp : CodePoints(words[w].text)) {
      if (!first) key += ',';
      first = false;
      if (cp == c) {
        key += '=';
      } else {
        char buf[12];
        std::snprintf(buf, sizeof buf, "%x", static_cast<unsigned>(cp));
        key += buf;
      }
    }
  }
  return key;
}

// Known difference 1: category changed after Unicode 8.0 (from -> to).
const std::map<char32_t, const char*> kCategoryChanged = {
    {0x166D, "CANADIAN SYLLABICS CHI SIGN: Po -> So (Unicode 12)"},
    {0x1734, "HANUNOO SIGN PAMUDPOD: Mn -> Mc (Unicode 14)"},
    {0x1885, "MONGOLIAN LETTER ALI GALI BALUDA: Lo -> Mn (Unicode 9)"},
    {0x1886, "MONGOLIAN LETTER ALI GALI THREE BALUDA: Lo -> Mn (Unicode 9)"},
    {0xA9BD, "JAVANESE CONSONANT SIGN KERET: Mc -> Mn (Unicode 12)"},
    {0x111C9, "SHARADA SANDHI MARK: Po -> Mn (Unicode 11)"},
};

// Known difference 2: unassigned in ICU's Unicode, lower-cased by Hugging Face.
bool UnassignedInIcuAndLowercasedByHf(char32_t c, const std::string& hf_key) {
  UVersionInfo age;
  u_charAge(static_cast<UChar32>(c), age);
  return age[0] == 0 && age[1] == 0 && hf_key.find('=') == std::string::npos && hf_key.find('|') == std::string::npos;
}

TEST(WordPieceParityTest, EveryCodePointThroughTheBasicTokenizer) {
  const std::string sweep = ReadAll(Reference("unicode_sweep.txt"));
  ASSERT_FALSE(sweep.empty()) << "missing " << Reference("unicode_sweep.txt");
  // Expected keys per config, for code points listed in the sweep.
  std::map<char32_t, std::vector<std::string>> expected;
  for (const std::string& line : SplitLines(sweep)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream in(line);
    std::string range;
    in >> range;
    std::vector<std::string> keys(5);
    for (auto& k : keys) in >> k;
    const auto dash = range.find('-');
    const char32_t lo = std::stoul(range.substr(0, dash), nullptr, 16);
    const char32_t hi = dash == std::string::npos ? lo : std::stoul(range.substr(dash + 1), nullptr, 16);
    for (char32_t c = lo; c <= hi; ++c) expected[c] = keys;
  }
  const std::string vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\n";
  for (int k = 0; k < 5; ++k) {
    WordPieceOptions o = OptionsFor(kConfigs[k]);
    o.vocab_data = vocab;
    auto tok = WordPieceTokenizer::Create(o);
    std::size_t checked = 0, differ = 0, explained = 0;
    for (char32_t c = 0; c <= 0x10FFFF; ++c) {
      if (c >= 0xD800 && c <= 0xDFFF) continue;
      const std::string key = SweepKey(tok->BasicTokenize("a" + Utf8(c) + "a"), c);
      auto it = expected.find(c);
      const std::string& want = it == expected.end() ? std::string("61,=,61") : it->second[k];
      ++checked;
      if (key == want) continue;
      ++differ;
      if (kCategoryChanged.count(c) || UnassignedInIcuAndLowercasedByHf(c, want)) {
        ++explained;
      } else if (differ - explained <= 20) {
        ADD_FAILURE() << kConfigs[k].name << ": U+" << std::hex << static_cast<unsigned>(c) << ": sense " << key
                      << ", Hugging Face " << want;
      }
    }
    std::printf("[ sweep    ] %-10s %zu code points, %zu differ (%.4f%% agree), %zu of them explained\n",
                kConfigs[k].name, checked, differ, 100.0 * (checked - differ) / checked, explained);
    EXPECT_EQ(differ, explained) << kConfigs[k].name;
  }
}

// Slicing the original text at a token's offsets and normalising it gives the
// token's piece (without the "##" prefix). Tokens that share a source
// character with a neighbour (a normalisation that expands one character, like
// U+0130 -> i + U+0307) are compared as a group.
void ExpectOffsetsGiveSurface(const WordPieceTokenizer& tok, const std::string& text, const std::vector<Token>& tokens,
                              const std::string& where) {
  const std::string& prefix = tok.options().continuing_subword_prefix;
  for (std::size_t i = 0; i < tokens.size();) {
    std::size_t j = i + 1;
    std::string pieces;
    auto strip = [&](const std::string& p) { return p.compare(0, prefix.size(), prefix) == 0 ? p.substr(prefix.size()) : p; };
    pieces = strip(tokens[i].piece);
    bool unk = tokens[i].id == tok.special_ids().unk;
    while (j < tokens.size() && tokens[j].begin < tokens[j - 1].end) {
      pieces += strip(tokens[j].piece);
      unk = unk || tokens[j].id == tok.special_ids().unk;
      ++j;
    }
    const std::size_t b = tokens[i].begin, e = tokens[j - 1].end;
    ASSERT_LE(b, e) << where;
    ASSERT_LE(e, text.size()) << where;
    if (!unk && !tok.IsSpecial(tokens[i].id)) {
      std::string normalised;
      for (const BasicWord& w : tok.BasicTokenize(text.substr(b, e - b))) normalised += w.text;
      EXPECT_EQ(normalised, pieces) << where << ": tokens " << i << ".." << j - 1 << " span [" << b << "," << e << ")";
    }
    i = j;
  }
}

TEST(WordPieceParityTest, HardCases) {
  SENSE_REQUIRE_SHARED(kVocab);
  for (const Config& config : kConfigs) {
    auto tok = BertTokenizer(config);
    const std::string file = std::string("hard_cases.") + config.name + ".jsonl";
    std::size_t cases = 0, agree = 0, explained = 0;
    for (const std::string& line : SplitLines(ReadAll(Reference(file)))) {
      if (line.empty()) continue;
      const auto j = nlohmann::json::parse(line);
      const std::string text = j["text"];
      ++cases;
      const std::vector<Token> tokens = tok->Tokenize(text);
      std::vector<int> ids = {tok->special_ids().cls};
      std::vector<std::string> pieces = {"[CLS]"};
      std::vector<std::vector<std::size_t>> offsets = {{0, 0}};
      for (const Token& t : tokens) {
        ids.push_back(t.id);
        pieces.push_back(t.piece);
        offsets.push_back({t.begin, t.end});
      }
      ids.push_back(tok->special_ids().sep);
      pieces.push_back("[SEP]");
      offsets.push_back({0, 0});
      const auto want_ids = j["ids"].get<std::vector<int>>();
      const auto want_pieces = j["tokens"].get<std::vector<std::string>>();
      const auto want_offsets = j["offsets"].get<std::vector<std::vector<std::size_t>>>();
      const std::string want_decoded = j["decoded"];
      const std::string decoded = tok->Decode(ids);
      // Known difference 3 (offsets only): see the top of the file.
      const bool reordered_marks = text == "\xF0\x9D\x85\xA5\xCC\x81\xF0\x9D\x85\xAD";
      const bool ok = ids == want_ids && pieces == want_pieces && decoded == want_decoded &&
                      (offsets == want_offsets || reordered_marks);
      EXPECT_EQ(ids, want_ids) << config.name << ": " << j["text"].dump();
      EXPECT_EQ(pieces, want_pieces) << config.name << ": " << j["text"].dump();
      if (!reordered_marks) EXPECT_EQ(offsets, want_offsets) << config.name << ": " << j["text"].dump();
      EXPECT_EQ(decoded, want_decoded) << config.name << ": " << j["text"].dump();
      EXPECT_EQ(tok->Encode(text), std::vector<int>(ids.begin() + 1, ids.end() - 1)) << j["text"].dump();
      ExpectOffsetsGiveSurface(*tok, text, tokens, std::string(config.name) + ": " + j["text"].dump());
      agree += ok;
      explained += ok && reordered_marks && offsets != want_offsets;
    }
    std::printf("[ hard     ] %-10s %zu cases, %zu agree (%.2f%%), %zu of them with explained offsets\n", config.name,
                cases, agree, cases ? 100.0 * agree / cases : 0.0, explained);
    EXPECT_GT(cases, 100u);
    EXPECT_EQ(agree, cases) << config.name;
  }
}

struct Corpus {
  const char* name;
  const char* path;
  bool sst2;
};
const Corpus kCorpora[] = {
    {"sst2_train", "sst2/train.tsv", true},          {"sst2_dev", "sst2/dev.tsv", true},
    {"sst2_test", "sst2/test.tsv", true},            {"conll2003_train", "conll2003/train.txt", false},
    {"conll2003_dev", "conll2003/dev.txt", false},   {"conll2003_test", "conll2003/test.txt", false},
};

void CheckCorpus(const Config& config, const Corpus& corpus) {
  const std::string ref_path = Reference(std::string("corpus/") + config.name + "." + corpus.name + ".txt");
  const std::vector<std::string> ref = SplitLines(ReadAll(ref_path));
  ASSERT_FALSE(ref.empty()) << "missing " << ref_path;
  const std::vector<std::string> sentences = corpus.sst2 ? sense::testing::ReadSst2(SharedData(corpus.path))
                                                         : sense::testing::ReadConll(SharedData(corpus.path));
  const std::string header = "# sentences=" + std::to_string(sentences.size()) + " fnv1a64=" + HashSentences(sentences);
  ASSERT_EQ(ref[0], header) << "the test read other sentences than the reference script from " << corpus.path;
  ASSERT_EQ(ref.size(), sentences.size() + 1);
  auto tok = BertTokenizer(config);
  std::size_t agree = 0, tokens_total = 0;
  for (std::size_t i = 0; i < sentences.size(); ++i) {
    const std::string& text = sentences[i];
    const std::vector<Token> tokens = tok->Tokenize(text);
    std::string ids = std::to_string(tok->special_ids().cls);
    std::string offsets = "0:0";
    for (const Token& t : tokens) {
      ids += ' ' + std::to_string(t.id);
      offsets += ',' + std::to_string(t.begin) + ':' + std::to_string(t.end);
    }
    ids += ' ' + std::to_string(tok->special_ids().sep);
    offsets += ",0:0";
    const std::string got = ids + '\t' + offsets;
    tokens_total += tokens.size();
    if (got == ref[i + 1]) {
      ++agree;
    } else if (i - agree < 10) {
      ADD_FAILURE() << config.name << "." << corpus.name << " sentence " << i << ": \"" << text << "\"\n  sense: " << got
                    << "\n  HF:    " << ref[i + 1];
    }
    std::vector<int> id_only;
    for (const Token& t : tokens) id_only.push_back(t.id);
    if (tok->Encode(text) != id_only) ADD_FAILURE() << "Encode and Tokenize differ on sentence " << i;
    ExpectOffsetsGiveSurface(*tok, text, tokens, std::string(corpus.name) + " sentence " + std::to_string(i));
  }
  std::printf("[ corpus   ] %-10s %-16s %6zu sentences, %7zu tokens, %6zu identical (%.3f%%)\n", config.name, corpus.name,
              sentences.size(), tokens_total, agree, 100.0 * agree / sentences.size());
  EXPECT_EQ(agree, sentences.size());
}

class CorpusParity : public ::testing::TestWithParam<std::tuple<int, int>> {};

TEST_P(CorpusParity, IdsAndOffsetsMatchHuggingFace) {
  const Config& config = kConfigs[std::get<0>(GetParam())];
  const Corpus& corpus = kCorpora[std::get<1>(GetParam())];
  SENSE_REQUIRE_SHARED(kVocab);
  SENSE_REQUIRE_SHARED(corpus.path);
  CheckCorpus(config, corpus);
}

// uncased on all six corpora; cased on CoNLL-2003 (cased text).
INSTANTIATE_TEST_SUITE_P(Uncased, CorpusParity,
                         ::testing::Combine(::testing::Values(0), ::testing::Values(0, 1, 2, 3, 4, 5)),
                         [](const auto& info) {
                           return std::string("uncased_") + kCorpora[std::get<1>(info.param)].name;
                         });
INSTANTIATE_TEST_SUITE_P(Cased, CorpusParity,
                         ::testing::Combine(::testing::Values(1), ::testing::Values(3, 4, 5)),
                         [](const auto& info) {
                           return std::string("cased_") + kCorpora[std::get<1>(info.param)].name;
                         });

}  // namespace
}  // namespace sense::text
