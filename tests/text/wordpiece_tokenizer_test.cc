// WordPieceTokenizer: behaviour, offsets, options and errors on a tiny
// vocabulary (no ../shared needed). Parity with Hugging Face on real data is
// in wordpiece_parity_test.cc.
#include "sense/text/wordpiece_tokenizer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "sense/inference/error.h"
#include "tiny_vocab.h"
#include "test_util.h"

namespace sense::text {
namespace {

std::unique_ptr<WordPieceTokenizer> Tiny(WordPieceOptions o = {}) {
  o.vocab_data = sense::testing::kTinyVocab;
  return WordPieceTokenizer::Create(o);
}

std::vector<int> Ids(const std::vector<Token>& tokens) {
  std::vector<int> ids;
  for (const auto& t : tokens) ids.push_back(t.id);
  return ids;
}

using sense::testing::ExpectError;

TEST(WordPieceTokenizerTest, TokensPiecesAndOffsets) {
  auto tok = Tiny();
  const std::string text = "Hello, World!";
  const auto tokens = tok->Tokenize(text);
  ASSERT_EQ(tokens.size(), 4u);
  EXPECT_EQ(Ids(tokens), (std::vector<int>{5, 7, 6, 8}));
  EXPECT_EQ(tokens[0].piece, "hello");
  EXPECT_EQ(text.substr(tokens[0].begin, tokens[0].end - tokens[0].begin), "Hello");
  EXPECT_EQ(text.substr(tokens[2].begin, tokens[2].end - tokens[2].begin), "World");
  EXPECT_EQ(tok->Encode(text), Ids(tokens));
}

TEST(WordPieceTokenizerTest, GreedyLongestMatchWithContinuations) {
  auto tok = Tiny();
  const auto tokens = tok->Tokenize("unaffable cafes");
  EXPECT_EQ(Ids(tokens), (std::vector<int>{10, 11, 12, 13, 14}));
  EXPECT_EQ(tokens[1].piece, "##aff");
  EXPECT_EQ(tokens[1].begin, 2u);
  EXPECT_EQ(tokens[1].end, 5u);
}

TEST(WordPieceTokenizerTest, UnspellableWordIsOneUnknown) {
  auto tok = Tiny();
  const auto tokens = tok->Tokenize("the xyz cat");
  EXPECT_EQ(Ids(tokens), (std::vector<int>{15, 1, 16}));
  EXPECT_EQ(tokens[1].begin, 4u);
  EXPECT_EQ(tokens[1].end, 7u);
}

TEST(WordPieceTokenizerTest, WordLimitCountsCharacters) {
  auto tok = Tiny();
  const std::string at_limit(100, 'b');  // b ##b ##b ...
  const auto ok = tok->Tokenize(at_limit);
  EXPECT_EQ(ok.size(), 100u);
  EXPECT_EQ(ok.front().id, 21);
  EXPECT_EQ(ok.back().id, 22);
  const auto over = tok->Tokenize(std::string(101, 'b'));
  ASSERT_EQ(over.size(), 1u);
  EXPECT_EQ(over[0].id, 1);
  EXPECT_EQ(over[0].end, 101u);
  WordPieceOptions o;
  o.max_input_chars_per_word = 3;
  EXPECT_EQ(Ids(Tiny(o)->Tokenize("bbb bbbb")), (std::vector<int>{21, 22, 22, 1}));
}

TEST(WordPieceTokenizerTest, AccentsAreStrippedAndOffsetsCoverTheSource) {
  auto tok = Tiny();
  const std::string text = "Caf\xC3\xA9s";  // "Cafés"
  const auto tokens = tok->Tokenize(text);
  EXPECT_EQ(Ids(tokens), (std::vector<int>{13, 14}));
  EXPECT_EQ(tokens[0].begin, 0u);
  EXPECT_EQ(tokens[0].end, 5u);  // "Café": the é's two bytes belong to "cafe"
  WordPieceOptions cased;
  cased.lowercase = false;
  EXPECT_EQ(Ids(Tiny(cased)->Tokenize(text)), (std::vector<int>{1}));  // "Cafés" is not in the vocabulary
}

TEST(WordPieceTokenizerTest, CjkIdeographsArePiecesOfTheirOwn) {
  auto tok = Tiny();
  EXPECT_EQ(Ids(tok->Tokenize("\xE6\x97\xA5\xE6\x9C\xAC")), (std::vector<int>{23, 24}));
  WordPieceOptions o;
  o.tokenize_chinese_chars = false;
  EXPECT_EQ(Ids(Tiny(o)->Tokenize("\xE6\x97\xA5\xE6\x9C\xAC")), (std::vector<int>{1}));
}

TEST(WordPieceTokenizerTest, ControlCharactersVanishWhitespaceSplits) {
  auto tok = Tiny();
  EXPECT_EQ(Ids(tok->Tokenize("the\tcat\nsat\x01on\xC2\xA0mat")), (std::vector<int>{15, 16, 1, 19}));
  EXPECT_EQ(Ids(tok->Tokenize("c\xE2\x80\x8B" "at")), (std::vector<int>{16}));  // zero-width space removed
  EXPECT_TRUE(tok->Tokenize("").empty());
  EXPECT_TRUE(tok->Tokenize(" \t\r\n").empty());
}

TEST(WordPieceTokenizerTest, SpecialTokensInTextAreRecognised) {
  auto tok = Tiny();
  const auto tokens = tok->Tokenize("the[SEP]cat [MASK]");
  EXPECT_EQ(Ids(tokens), (std::vector<int>{15, 3, 16, 4}));
  EXPECT_EQ(tokens[1].begin, 3u);
  EXPECT_EQ(tokens[1].end, 8u);
  WordPieceOptions o;
  o.recognize_special_tokens = false;
  EXPECT_EQ(Ids(Tiny(o)->Tokenize("[SEP]")), (std::vector<int>{1, 1, 1}));  // "[", "sep", "]": [ and ] unknown
}

TEST(WordPieceTokenizerTest, DecodeJoinsWordsAndGluesContinuations) {
  auto tok = Tiny();
  EXPECT_EQ(tok->Decode({2, 10, 11, 12, 7, 15, 16, 9, 3}), "unaffable, the cat.");
  EXPECT_EQ(tok->Decode({27, 25, 26}), "don ' t");
  ExpectError([&] { tok->Decode({5, 999}); }, ErrorCode::kInput, "id 999 is out of range");
}

TEST(WordPieceTokenizerTest, InvalidUtf8IsAnErrorOrReplaced) {
  auto tok = Tiny();
  ExpectError([&] { tok->Tokenize("cat\xFFmat"); }, ErrorCode::kInput, "invalid UTF-8 at byte 3 (0xff)");
  ExpectError([&] { tok->Encode("the \xE6\x97"); }, ErrorCode::kInput, "at byte 4 (0xe6)");
  WordPieceOptions o;
  o.invalid_utf8 = InvalidUtf8::kReplace;
  // U+FFFD is removed by BERT's clean-up, so "cat\xFFmat" reads "catmat" -> unknown.
  const auto tokens = Tiny(o)->Tokenize("the \xFF cat\xC3");
  EXPECT_EQ(Ids(tokens), (std::vector<int>{15, 16}));
  EXPECT_EQ(tokens[1].begin, 6u);
  EXPECT_EQ(tokens[1].end, 9u);
}

TEST(WordPieceTokenizerTest, BasicTokenizeShowsNormalisedWords) {
  auto tok = Tiny();
  const auto words = tok->BasicTokenize("H\xC3\xA9llo, [CLS]!");
  ASSERT_EQ(words.size(), 4u);
  EXPECT_EQ(words[0].text, "hello");
  EXPECT_EQ(words[0].span, (Span{0, 6}));
  EXPECT_EQ(words[1].text, ",");
  EXPECT_TRUE(words[2].special);
  EXPECT_EQ(words[3].text, "!");
}

TEST(WordPieceTokenizerTest, VocabularyQueries) {
  auto tok = Tiny();
  EXPECT_EQ(tok->vocab_size(), 30);
  EXPECT_EQ(tok->PieceToId("##able"), 12);
  EXPECT_EQ(tok->PieceToId("nope"), -1);
  EXPECT_EQ(tok->IdToPiece(5), "hello");
  EXPECT_TRUE(tok->IsSpecial(2));
  EXPECT_FALSE(tok->IsSpecial(5));
  EXPECT_EQ(tok->special_ids().cls, 2);
  EXPECT_EQ(tok->special_ids().sep, 3);
  EXPECT_EQ(tok->special_ids().pad, 0);
  EXPECT_EQ(tok->special_ids().mask, 4);
  EXPECT_EQ(tok->sequence_template().prefix, std::vector<int>{2});
  ExpectError([&] { tok->IdToPiece(-1); }, ErrorCode::kInput, "out of range");
}

TEST(WordPieceTokenizerTest, CrlfVocabularyAndFile) {
  const std::string path = ::testing::TempDir() + "/crlf_vocab.txt";
  {
    std::ofstream out(path, std::ios::binary);
    out << "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\nhello \r\nworld";
  }
  WordPieceOptions o;
  o.vocab_path = path;
  auto tok = WordPieceTokenizer::Create(o);
  EXPECT_EQ(tok->vocab_size(), 6);
  EXPECT_EQ(tok->Encode("hello world"), (std::vector<int>{4, 5}));
}

TEST(WordPieceTokenizerTest, BadOptionsAndVocabularies) {
  ExpectError([] { WordPieceTokenizer::Create({}); }, ErrorCode::kOption, "set vocab_path or vocab_data");
  WordPieceOptions both;
  both.vocab_path = "x";
  both.vocab_data = "y";
  ExpectError([&] { WordPieceTokenizer::Create(both); }, ErrorCode::kOption, "exclusive");
  WordPieceOptions missing;
  missing.vocab_path = "/nonexistent/vocab.txt";
  ExpectError([&] { WordPieceTokenizer::Create(missing); }, ErrorCode::kFile, "/nonexistent/vocab.txt: no such file");
  WordPieceOptions dir;
  dir.vocab_path = ::testing::TempDir();
  ExpectError([&] { WordPieceTokenizer::Create(dir); }, ErrorCode::kFile, "is a directory");
  WordPieceOptions no_unk;
  no_unk.vocab_data = "[CLS]\n[SEP]\nhello\n";
  no_unk.source = "bundle.pt:vocab.txt";
  ExpectError([&] { WordPieceTokenizer::Create(no_unk); }, ErrorCode::kModelFormat,
              "bundle.pt:vocab.txt: the unknown token \"[UNK]\" is not in the vocabulary (3 entries)");
  WordPieceOptions bad_utf8;
  bad_utf8.vocab_data = "[UNK]\nok\nbad\xC3(\n";
  ExpectError([&] { WordPieceTokenizer::Create(bad_utf8); }, ErrorCode::kModelFormat, "line 3: invalid UTF-8 at byte 3");
  WordPieceOptions no_cls;
  no_cls.vocab_data = "[UNK]\nhello\n";
  ExpectError([&] { WordPieceTokenizer::Create(no_cls); }, ErrorCode::kModelFormat, "needs [CLS] and [SEP]");
  no_cls.add_special_tokens = false;
  EXPECT_NO_THROW(WordPieceTokenizer::Create(no_cls));
  WordPieceOptions limit;
  limit.vocab_data = sense::testing::kTinyVocab;
  limit.max_input_chars_per_word = 0;
  ExpectError([&] { WordPieceTokenizer::Create(limit); }, ErrorCode::kOption, "max_input_chars_per_word must be > 0");
  WordPieceOptions version;
  version.vocab_data = sense::testing::kTinyVocab;
  version.unicode_version = "eight";
  ExpectError([&] { WordPieceTokenizer::Create(version); }, ErrorCode::kOption, "unicode_version");
  version.unicode_version = "";
  EXPECT_NO_THROW(WordPieceTokenizer::Create(version));
}

TEST(WordPieceTokenizerTest, ConcurrentCallsAgree) {
  auto tok = Tiny();
  const std::string text = "Hello, world! The cat sat on the mat. Caf\xC3\xA9s unaffable \xE6\x97\xA5\xE6\x9C\xAC";
  const auto expected = tok->Tokenize(text);
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 1);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        const auto got = tok->Tokenize(text);
        if (got.size() != expected.size() || Ids(got) != Ids(expected)) ok[t] = 0;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, std::vector<int>(4, 1));
}

}  // namespace
}  // namespace sense::text
