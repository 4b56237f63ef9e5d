// sense/text/model_inputs.h — what a text model reads: token ids wrapped in
// special tokens, one text or a pair, truncated and padded, with attention
// masks and type ids; batches encoded across threads.
//
// For each text (and its pair):
//   1. tokenize (Tokenizer::EncodeWithOffsets);
//   2. truncate so that the wrapped sequence fits max_length:
//        kLongestFirst: Hugging Face's rule — if the shorter text fits in half
//          the room the longer one takes the rest, else both get half;
//        kOnlyFirst:    only the first text shrinks (Error(kInput) if it cannot);
//        kWindow:       overlapping windows over the first text, window_stride
//                       tokens apart, each a separate EncodedInput (the pair,
//                       if any, is repeated whole in every window);
//        kNone:         a text that does not fit is Error(kInput);
//   3. wrap with the tokenizer's SequenceTemplate (BERT: [CLS] A [SEP] B [SEP]);
//   4. pad (right side) to the longest input of the batch or to max_length.
//
// Thread safety: the functions are reentrant; the tokenizer is shared
// read-only by the worker threads.
#ifndef SENSE_TEXT_MODEL_INPUTS_H_
#define SENSE_TEXT_MODEL_INPUTS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "sense/inference/metadata.h"
#include "sense/text/tokenizer.h"

namespace sense::text {

using sense::Padding;
using sense::TextPreprocessing;
using sense::Truncation;

struct EncodeOptions {
  bool add_special_tokens = true;  // step 3; false: the bare tokens
  int max_length = 512;            // tokens per sequence, special tokens included; 0: no limit
  Truncation truncation = Truncation::kLongestFirst;  // step 2 (ignored when max_length is 0)
  int window_stride = 0;           // kWindow: tokens between window starts; 0: half the window
  bool pad = true;                 // step 4; false: every input keeps its own length
  Padding padding = Padding::kLongest;  // kLongest: to the batch's longest; kMaxLength: to max_length (> 0)
  int64_t pad_id = -1;             // -1: the tokenizer's [PAD]/<pad> id, or 0 if it has none
  int threads = 1;                 // EncodeBatch worker threads; 0: all cores

  // The options a bundle's text metadata asks for.
  static EncodeOptions FromMetadata(const TextPreprocessing& text);
};

// One model input row.
struct EncodedInput {
  std::vector<int64_t> ids;
  std::vector<int64_t> attention_mask;  // 1 for tokens, 0 for padding
  std::vector<int64_t> type_ids;        // 0: first text and its wrapping; pair_type_id: the pair and after
  std::vector<int8_t> sequence_ids;     // 0: first text, 1: pair, -1: special token or padding
  std::vector<Span> offsets;            // bytes of the text sequence_ids names; {0, 0} otherwise
  std::size_t source = 0;               // index of the text in the batch this row comes from
  int window = 0;                       // kWindow: window number within its text (0, 1, ...)
  std::size_t truncated = 0;            // tokens of the text(s) left out of this row
  std::size_t length() const { return ids.size(); }
};

// Checks options: Error(kOption) naming the field.
void ValidateEncodeOptions(const EncodeOptions& options);

// One text, or a text and its pair. Error(kOption) for kWindow (use
// EncodeBatch, which may return several rows per text).
EncodedInput EncodeInput(const Tokenizer& tokenizer, std::string_view text, const EncodeOptions& options);
EncodedInput EncodeInput(const Tokenizer& tokenizer, std::string_view text, std::string_view pair,
                         const EncodeOptions& options);

// Many texts (and pairs: empty, or one per text), in input order, padded
// together. Errors name the failing text: "text 3: invalid UTF-8 at byte 5".
std::vector<EncodedInput> EncodeBatch(const Tokenizer& tokenizer, const std::vector<std::string>& texts,
                                      const EncodeOptions& options);
std::vector<EncodedInput> EncodeBatch(const Tokenizer& tokenizer, const std::vector<std::string>& texts,
                                      const std::vector<std::string>& pairs, const EncodeOptions& options);

// Runs body(i) for i in [0, count) on `threads` threads (0: all cores),
// in contiguous chunks, the first on the calling thread; rethrows the
// exception of the lowest failing i. A thread that cannot be started
// (std::system_error) is not an error: its chunks run on the calling thread.
void ParallelFor(std::size_t count, int threads, const std::function<void(std::size_t)>& body);

}  // namespace sense::text

#endif  // SENSE_TEXT_MODEL_INPUTS_H_
