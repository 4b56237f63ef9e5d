// Internal: the character properties and mappings that BERT's basic
// tokenizer needs, answered by ICU (no Unicode tables are written in sense).
// Semantics follow Hugging Face tokenizers (Rust), checked code point by code
// point in tests/text/wordpiece_parity_test.cc.
#ifndef SENSE_TEXT_SRC_UNICODE_PROPS_H_
#define SENSE_TEXT_SRC_UNICODE_PROPS_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace sense::text::internal {

// The category rules below (control, punctuation, non-spacing mark) can see
// Unicode as of an earlier version: a character assigned after
// `CategoryVersion` counts as unassigned (Cn). Hugging Face tokenizers' tables
// are Unicode 8.0; {0, 0} means ICU's own version.
struct CategoryVersion {
  uint8_t major = 0;
  uint8_t minor = 0;
  bool operator<(const CategoryVersion& o) const {
    return major < o.major || (major == o.major && minor < o.minor);
  }
};

// True when `c` was assigned in `version` or earlier (always for {0, 0}).
bool AssignedBy(char32_t c, CategoryVersion version);

// Removed by BERT's text clean-up: categories Cc, Cf, Co, Cs (control,
// format, private use, surrogate), except \t \n \r which count as whitespace.
// (Unassigned code points, Cn, are kept, as Hugging Face keeps them.)
bool IsBertControl(char32_t c, CategoryVersion version = {});

// \t \n \r or the Unicode White_Space property (what Rust's
// char::is_whitespace answers).
bool IsBertWhitespace(char32_t c);

// ASCII punctuation (!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~) or a general category
// P* (Pc Pd Ps Pe Pi Pf Po).
bool IsBertPunctuation(char32_t c, CategoryVersion version = {});

// The CJK ideograph blocks BERT isolates (its definition, not Unicode's:
// Unified Ideographs and Extensions A-E, Compatibility Ideographs and their
// Supplement; not Hangul, kana or later extensions).
bool IsBertChineseChar(char32_t c);

// General category Mn.
bool IsNonSpacingMark(char32_t c, CategoryVersion version = {});

// Canonical combining class (0 for starters).
uint8_t CombiningClass(char32_t c);

// Appends the full lower-case mapping of `c` alone (no context: final sigma
// is not applied, as Rust's char::to_lowercase). Returns the number of code
// points appended (1 to 3).
int AppendLowercase(char32_t c, char32_t* out);

// Appends the canonical decomposition (NFD) of `c` alone, recursively
// decomposed and Hangul syllables split. Returns the count appended (1 to 18
// at most in Unicode 15; `out` must hold kMaxDecomposition).
inline constexpr int kMaxDecomposition = 32;
int AppendNfd(char32_t c, char32_t* out);

// Appends `c` as UTF-8 to `out`.
inline void AppendUtf8(char32_t c, std::string* out) {
  if (c < 0x80) {
    out->push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (c >> 6)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (c >> 12)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (c >> 18)));
    out->push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

inline constexpr char32_t kReplacementChar = 0xFFFD;

// Decodes the code point at text[*pos] and advances *pos past it. An invalid
// sequence yields kInvalid and advances past its maximal invalid subpart
// (Unicode's "best practice", what ICU's U8_NEXT does).
inline constexpr char32_t kInvalid = 0xFFFFFFFF;
char32_t DecodeUtf8(std::string_view text, std::size_t* pos);

}  // namespace sense::text::internal

#endif  // SENSE_TEXT_SRC_UNICODE_PROPS_H_
