// sense/text/utf8.h — UTF-8 checks and offset conversions shared by the
// tokenizers.
//
// Text enters sense as UTF-8 bytes. A tokenizer either rejects invalid UTF-8
// with an error naming the first bad byte, or (InvalidUtf8::kReplace) reads
// each maximal invalid subsequence as U+FFFD, the Unicode-recommended
// practice. Either way offsets always index the caller's original bytes.
//
// Thread safety: all functions are pure.
#ifndef SENSE_TEXT_UTF8_H_
#define SENSE_TEXT_UTF8_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sense::text {

// What a tokenizer does with bytes that are not valid UTF-8.
enum class InvalidUtf8 {
  kError,    // throw sense::Error(kInput) naming the byte position and value
  kReplace,  // read each maximal invalid subsequence as one U+FFFD
};

// A half-open range [begin, end) of positions in a text: bytes unless said otherwise.
struct Span {
  std::size_t begin = 0;
  std::size_t end = 0;
  bool operator==(const Span& o) const { return begin == o.begin && end == o.end; }
  bool operator!=(const Span& o) const { return !(*this == o); }
};

// Byte position of the first byte that does not start or continue a valid
// UTF-8 sequence (overlong forms, surrogates and values above U+10FFFF are
// invalid); nullopt when the whole text is valid.
std::optional<std::size_t> FindInvalidUtf8(std::string_view text);

// Throws sense::Error(kInput) when `text` is not valid UTF-8, with a message
// like "invalid UTF-8 at byte 12 (0xff)".
void CheckUtf8(std::string_view text);

// `text` with every maximal invalid subsequence replaced by U+FFFD.
std::string ReplaceInvalidUtf8(std::string_view text);

// Converts byte spans of `text` to code-point spans: a byte position inside a
// code point maps to that code point's index. Each maximal invalid
// subsequence counts as one code point, as U+FFFD replacement reads it.
// Spans may come in any order; positions past the end map to the end.
std::vector<Span> ByteToCharSpans(std::string_view text, const std::vector<Span>& byte_spans);

}  // namespace sense::text

#endif  // SENSE_TEXT_UTF8_H_
