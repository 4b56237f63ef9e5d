// Model inputs: special tokens, pairs, truncation strategies, padding, masks,
// type ids and batch encoding across threads, on the tiny WordPiece vocab.
#include "sense/text/model_inputs.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <system_error>
#include <thread>

#include "sense/inference/error.h"
#include "sense/text/wordpiece_tokenizer.h"
#include "tiny_vocab.h"

#include "test_util.h"

namespace sense::text {
namespace {

std::unique_ptr<WordPieceTokenizer> Tiny() {
  WordPieceOptions o;
  o.vocab_data = sense::testing::kTinyVocab;
  return WordPieceTokenizer::Create(o);
}

using V = std::vector<int64_t>;

using sense::testing::ExpectError;

TEST(ModelInputsTest, SingleTextIsWrappedInClsSep) {
  auto tok = Tiny();
  const std::string text = "the cat";
  const EncodedInput in = EncodeInput(*tok, text, {});
  EXPECT_EQ(in.ids, (V{2, 15, 16, 3}));
  EXPECT_EQ(in.attention_mask, (V{1, 1, 1, 1}));
  EXPECT_EQ(in.type_ids, (V{0, 0, 0, 0}));
  EXPECT_EQ(in.sequence_ids, (std::vector<int8_t>{-1, 0, 0, -1}));
  EXPECT_EQ(in.offsets[2], (Span{4, 7}));
  EXPECT_EQ(in.offsets[0], (Span{0, 0}));
  EXPECT_EQ(in.truncated, 0u);
  EncodeOptions bare;
  bare.add_special_tokens = false;
  EXPECT_EQ(EncodeInput(*tok, text, bare).ids, (V{15, 16}));
}

TEST(ModelInputsTest, PairsGetTypeIds) {
  auto tok = Tiny();
  const EncodedInput in = EncodeInput(*tok, "the cat", "sat on", {});
  EXPECT_EQ(in.ids, (V{2, 15, 16, 3, 17, 18, 3}));
  EXPECT_EQ(in.type_ids, (V{0, 0, 0, 0, 1, 1, 1}));
  EXPECT_EQ(in.sequence_ids, (std::vector<int8_t>{-1, 0, 0, -1, 1, 1, -1}));
  EXPECT_EQ(in.offsets[4], (Span{0, 3}));  // into the pair's text
}

TEST(ModelInputsTest, LongestFirstFollowsHuggingFace) {
  auto tok = Tiny();
  EncodeOptions o;
  o.max_length = 8;  // room for 5 text tokens after [CLS] [SEP] [SEP]
  // 6 + 2 tokens: the shorter (2) fits, the longer keeps 3.
  auto in = EncodeInput(*tok, "the cat sat on the mat", "hello world", o);
  EXPECT_EQ(in.ids, (V{2, 15, 16, 17, 3, 5, 6, 3}));
  EXPECT_EQ(in.truncated, 3u);
  // 6 + 6: both get half of 5 -> 2 and 3 (the second gets the odd one).
  in = EncodeInput(*tok, "the cat sat on the mat", "a b a b a b", o);
  EXPECT_EQ(in.ids, (V{2, 15, 16, 3, 20, 21, 20, 3}));
  // The longer first text gets the odd token: 10 + 4 -> 3 + 2 (checked with HF).
  in = EncodeInput(*tok, "a b a b a b a b a b", "the cat sat on", o);
  EXPECT_EQ(in.ids, (V{2, 20, 21, 20, 3, 15, 16, 3}));
  // A single text keeps max_length - 2.
  o.max_length = 4;
  EXPECT_EQ(EncodeInput(*tok, "the cat sat on", o).ids, (V{2, 15, 16, 3}));
}

TEST(ModelInputsTest, OnlyFirstAndNone) {
  auto tok = Tiny();
  EncodeOptions o;
  o.max_length = 7;
  o.truncation = Truncation::kOnlyFirst;
  EXPECT_EQ(EncodeInput(*tok, "the cat sat on", "hello world", o).ids, (V{2, 15, 16, 3, 5, 6, 3}));
  ExpectError([&] { EncodeInput(*tok, "the", "a b a b a", o); }, ErrorCode::kInput, "second text alone has 5 tokens");
  o.truncation = Truncation::kNone;
  ExpectError([&] { EncodeInput(*tok, "the cat sat on the mat", o); }, ErrorCode::kInput,
              "text has 8 tokens with special tokens; the limit is 7 and truncation is none");
  o.max_length = 0;  // no limit
  EXPECT_EQ(EncodeInput(*tok, "the cat sat on the mat", o).length(), 8u);
}

TEST(ModelInputsTest, WindowsOverlapByStride) {
  auto tok = Tiny();
  EncodeOptions o;
  o.max_length = 6;  // windows of 4 tokens
  o.truncation = Truncation::kWindow;
  o.window_stride = 2;
  const auto rows = EncodeBatch(*tok, {"the cat sat on the mat", "hello"}, o);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].ids, (V{2, 15, 16, 17, 18, 3}));
  EXPECT_EQ(rows[1].ids, (V{2, 17, 18, 15, 19, 3}));
  EXPECT_EQ(rows[1].window, 1);
  EXPECT_EQ(rows[1].source, 0u);
  EXPECT_EQ(rows[1].offsets[1], (Span{8, 11}));  // "sat"
  EXPECT_EQ(rows[2].source, 1u);
  EXPECT_EQ(rows[2].ids, (V{2, 5, 3, 0, 0, 0}));
  ExpectError([&] { EncodeInput(*tok, "the", o); }, ErrorCode::kOption, "use EncodeBatch");
}

TEST(ModelInputsTest, PaddingToLongestOrMaxLength) {
  auto tok = Tiny();
  EncodeOptions o;
  auto rows = EncodeBatch(*tok, {"the cat sat", "hello"}, o);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].ids, (V{2, 5, 3, 0, 0}));
  EXPECT_EQ(rows[1].attention_mask, (V{1, 1, 1, 0, 0}));
  EXPECT_EQ(rows[1].sequence_ids.back(), -1);
  o.padding = Padding::kMaxLength;
  o.max_length = 8;
  o.pad_id = 7;
  rows = EncodeBatch(*tok, {"the cat sat", "hello"}, o);
  EXPECT_EQ(rows[0].length(), 8u);
  EXPECT_EQ(rows[0].ids.back(), 7);
  o.pad = false;
  rows = EncodeBatch(*tok, {"the cat sat", "hello"}, o);
  EXPECT_EQ(rows[1].length(), 3u);
}

TEST(ModelInputsTest, BatchesAcrossThreadsKeepOrderAndNameFailures) {
  auto tok = Tiny();
  std::vector<std::string> texts;
  for (int i = 0; i < 1000; ++i) texts.push_back(i % 2 ? "the cat sat on the mat" : "hello , world !");
  EncodeOptions one;
  EncodeOptions four;
  four.threads = 4;
  const auto a = EncodeBatch(*tok, texts, one);
  const auto b = EncodeBatch(*tok, texts, four);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].ids, b[i].ids);
    EXPECT_EQ(b[i].source, i);
  }
  texts[700] = "bad \xFF";
  texts[900] = "bad \xFE";
  ExpectError([&] { EncodeBatch(*tok, texts, four); }, ErrorCode::kInput, "text 700: invalid UTF-8 at byte 4 (0xff)");
  ExpectError([&] { EncodeBatch(*tok, texts, {"x"}, four); }, ErrorCode::kInput, "pairs has 1 texts");
}

// In a child process whose address space cannot hold another thread stack,
// std::thread throws std::system_error: ParallelFor must fall back to the
// calling thread and finish the work, not std::terminate.
void ParallelForUnderAThreadLimit() {
  std::vector<std::atomic<int>> done(4000);
  long pages = 0;
  std::ifstream("/proc/self/statm") >> pages;
  const rlim_t limit = static_cast<rlim_t>(pages) * 4096 + (4u << 20);  // 4 MB more; a thread stack needs 8
  rlimit r{limit, limit};
  if (setrlimit(RLIMIT_AS, &r) != 0) std::_Exit(3);
  bool refused = false;
  try {
    std::thread t([] {});
    t.join();
  } catch (const std::system_error&) {
    refused = true;
  }
  if (!refused) std::_Exit(4);  // the limit did not bite: nothing tested
  ParallelFor(done.size(), 4, [&](std::size_t i) { done[i]++; });
  for (const auto& d : done)
    if (d != 1) std::_Exit(5);
  std::_Exit(0);
}

TEST(ModelInputsTest, ParallelForRunsOnTheCallingThreadWhenThreadsCannotStart) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer's shadow memory and allocator do not fit under an RLIMIT_AS this tight";
#endif
  EXPECT_EXIT(ParallelForUnderAThreadLimit(), ::testing::ExitedWithCode(0), "");
}

TEST(ModelInputsTest, OptionsFromMetadataAndValidation) {
  TextPreprocessing meta;
  meta.max_length = 128;
  meta.truncation = Truncation::kOnlyFirst;
  meta.padding = Padding::kMaxLength;
  meta.pad_id = 0;
  const EncodeOptions o = EncodeOptions::FromMetadata(meta);
  EXPECT_EQ(o.max_length, 128);
  EXPECT_EQ(o.truncation, Truncation::kOnlyFirst);
  EXPECT_EQ(o.padding, Padding::kMaxLength);
  EncodeOptions bad;
  bad.max_length = -1;
  ExpectError([&] { ValidateEncodeOptions(bad); }, ErrorCode::kOption, "max_length must be >= 0");
  bad.max_length = 0;
  bad.padding = Padding::kMaxLength;
  ExpectError([&] { ValidateEncodeOptions(bad); }, ErrorCode::kOption, "padding max_length needs max_length > 0");
  auto tok = Tiny();
  EncodeOptions tiny;
  tiny.max_length = 2;
  ExpectError([&] { EncodeInput(*tok, "the cat", tiny); }, ErrorCode::kOption, "leaves no room");
}

}  // namespace
}  // namespace sense::text
