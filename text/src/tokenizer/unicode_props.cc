#include "unicode_props.h"

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/utf8.h>
#include <unicode/utf16.h>

namespace sense::text::internal {

bool AssignedBy(char32_t c, CategoryVersion version) {
  if (version.major == 0) return true;
  UVersionInfo age;
  u_charAge(static_cast<UChar32>(c), age);
  if (age[0] == 0 && age[1] == 0) return false;  // unassigned in ICU too
  return age[0] < version.major || (age[0] == version.major && age[1] <= version.minor);
}

bool IsBertControl(char32_t c, CategoryVersion version) {
  if (c == '\t' || c == '\n' || c == '\r') return false;
  if (!AssignedBy(c, version)) return false;
  switch (u_charType(static_cast<UChar32>(c))) {
    case U_CONTROL_CHAR:     // Cc
    case U_FORMAT_CHAR:      // Cf
    case U_PRIVATE_USE_CHAR: // Co
    case U_SURROGATE:        // Cs
      return true;
    default:
      return false;
  }
}

bool IsBertWhitespace(char32_t c) {
  return c == '\t' || c == '\n' || c == '\r' || u_isUWhiteSpace(static_cast<UChar32>(c));
}

bool IsBertPunctuation(char32_t c, CategoryVersion version) {
  if (c < 0x80) {
    return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
           (c >= 123 && c <= 126);
  }
  return u_ispunct(static_cast<UChar32>(c)) && AssignedBy(c, version);
}

bool IsBertChineseChar(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

bool IsNonSpacingMark(char32_t c, CategoryVersion version) {
  return u_charType(static_cast<UChar32>(c)) == U_NON_SPACING_MARK && AssignedBy(c, version);
}

uint8_t CombiningClass(char32_t c) { return u_getCombiningClass(static_cast<UChar32>(c)); }

namespace {
// Converts UTF-16 to code points; returns the count.
int Utf16ToCodePoints(const UChar* s, int32_t len, char32_t* out, int max) {
  int n = 0;
  for (int32_t i = 0; i < len && n < max;) {
    UChar32 c;
    U16_NEXT(s, i, len, c);
    out[n++] = static_cast<char32_t>(c);
  }
  return n;
}
}  // namespace

int AppendLowercase(char32_t c, char32_t* out) {
  if (c < 0x80) {
    out[0] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
    return 1;
  }
  UChar src[2];
  int32_t src_len = 0;
  U16_APPEND_UNSAFE(src, src_len, static_cast<UChar32>(c));
  UChar dst[8];
  UErrorCode status = U_ZERO_ERROR;
  int32_t len = u_strToLower(dst, 8, src, src_len, "", &status);
  if (U_FAILURE(status) || len <= 0) {
    out[0] = c;
    return 1;
  }
  return Utf16ToCodePoints(dst, len, out, 3);
}

int AppendNfd(char32_t c, char32_t* out) {
  if (c < 0xC0) {
    out[0] = c;
    return 1;
  }
  UErrorCode status = U_ZERO_ERROR;
  static const UNormalizer2* nfd = unorm2_getNFDInstance(&status);
  if (nfd == nullptr) {
    out[0] = c;
    return 1;
  }
  UChar dst[kMaxDecomposition];
  status = U_ZERO_ERROR;
  int32_t len = unorm2_getDecomposition(nfd, static_cast<UChar32>(c), dst, kMaxDecomposition, &status);
  if (U_FAILURE(status) || len < 0) {
    out[0] = c;
    return 1;
  }
  return Utf16ToCodePoints(dst, len, out, kMaxDecomposition);
}

char32_t DecodeUtf8(std::string_view text, std::size_t* pos) {
  // A window of at most 4 bytes keeps ICU's int32 indices valid for any text size.
  const auto* s = reinterpret_cast<const uint8_t*>(text.data() + *pos);
  const std::size_t remaining = text.size() - *pos;
  const int32_t length = static_cast<int32_t>(remaining < 4 ? remaining : 4);
  int32_t i = 0;
  UChar32 c;
  U8_NEXT(s, i, length, c);
  *pos += static_cast<std::size_t>(i);
  return c < 0 ? kInvalid : static_cast<char32_t>(c);
}

}  // namespace sense::text::internal
