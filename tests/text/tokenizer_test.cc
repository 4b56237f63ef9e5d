// The tokenizer factory (bundle asset bytes or a file, by TokenizerSpec),
// type detection, and the UTF-8 helpers.
#include "sense/text/tokenizer.h"

#include <gtest/gtest.h>

#include <fstream>

#include "sense/inference/error.h"
#include "sense/text/sentencepiece_trainer.h"
#include "sense/text/utf8.h"
#include "sentencepiece_util.h"
#include "tiny_vocab.h"

namespace sense::text {
namespace {

TEST(TokenizerTest, WordPieceFromBundleBytes) {
  TokenizerOptions o;
  o.spec.type = TokenizerType::kWordPiece;
  o.spec.asset = "vocab.txt";
  o.spec.lowercase = true;
  o.data = sense::testing::kTinyVocab;
  o.source = "model.pt:vocab.txt";
  auto tok = CreateTokenizer(o);
  EXPECT_EQ(tok->type(), TokenizerType::kWordPiece);
  EXPECT_EQ(tok->Encode("Hello world"), (std::vector<int>{5, 6}));
  o.spec.add_bos = true;
  EXPECT_THROW(CreateTokenizer(o), Error);
}

TEST(TokenizerTest, SentencePieceFromBundleBytesAndFile) {
  SENSE_REQUIRE_SENTENCEPIECE();
  SentencePieceTrainerOptions t;
  for (int i = 0; i < 200; ++i) t.sentences.push_back(i % 2 ? "hello world" : "the quick brown fox");
  t.vocab_size = 22;
  const std::string model = TrainSentencePiece(t);
  TokenizerOptions o;
  o.spec.type = TokenizerType::kSentencePiece;
  o.spec.add_eos = true;
  o.data = model;
  auto tok = CreateTokenizer(o);
  EXPECT_EQ(tok->type(), TokenizerType::kSentencePiece);
  EXPECT_EQ(tok->sequence_template().suffix, std::vector<int>{2});
  const std::string path = ::testing::TempDir() + "/factory.model";
  std::ofstream(path, std::ios::binary) << model;
  EXPECT_EQ(DetectTokenizerType(path), TokenizerType::kSentencePiece);
  TokenizerOptions f;
  f.spec.type = TokenizerType::kSentencePiece;
  f.path = path;
  EXPECT_EQ(CreateTokenizer(f)->Encode("hello world"), tok->Encode("hello world"));
}

TEST(TokenizerTest, DetectsVocabTxt) {
  const std::string path = ::testing::TempDir() + "/detect_vocab.txt";
  std::ofstream(path, std::ios::binary) << sense::testing::kTinyVocab << "caf\xC3\xA9\n";
  EXPECT_EQ(DetectTokenizerType(path), TokenizerType::kWordPiece);
  EXPECT_THROW(DetectTokenizerType("/nonexistent/x"), Error);
}

TEST(Utf8Test, FindsReplacesAndConvertsOffsets) {
  EXPECT_FALSE(FindInvalidUtf8("plain ascii, long enough to use the fast path").has_value());
  EXPECT_FALSE(FindInvalidUtf8("caf\xC3\xA9 \xE6\x97\xA5 \xF0\x9F\x98\x80").has_value());
  EXPECT_EQ(FindInvalidUtf8("abcdefghij\xFFxyz").value(), 10u);
  EXPECT_EQ(FindInvalidUtf8("\xC0\x80").value(), 0u);              // overlong
  EXPECT_EQ(FindInvalidUtf8("a\xED\xA0\x80").value(), 1u);         // surrogate
  EXPECT_EQ(FindInvalidUtf8("ab\xF4\x90\x80\x80").value(), 2u);    // above U+10FFFF
  EXPECT_EQ(ReplaceInvalidUtf8("a\xF0\x9F" "b\xFF"), "a\xEF\xBF\xBD" "b\xEF\xBF\xBD");
  try {
    CheckUtf8("ok\x80");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInput);
    EXPECT_STREQ(e.what(), "invalid UTF-8 at byte 2 (0x80); expected UTF-8 text");
  }
  const std::string text = "a\xC3\xA9" "b\xF0\x9F\x98\x80" "c";  // a é b 😀 c
  const auto spans = ByteToCharSpans(text, {{0, 1}, {1, 3}, {3, 4}, {4, 8}, {8, 9}, {0, 9}});
  EXPECT_EQ(spans, (std::vector<Span>{{0, 1}, {1, 2}, {2, 3}, {3, 4}, {4, 5}, {0, 5}}));
}

}  // namespace
}  // namespace sense::text
