#include "sense/text/utf8.h"

#include <algorithm>
#include <cstdio>
#include <numeric>

#include "sense/inference/error.h"
#include "unicode_props.h"

namespace sense::text {

std::optional<std::size_t> FindInvalidUtf8(std::string_view text) {
  std::size_t pos = 0;
  const std::size_t n = text.size();
  while (pos < n) {
    // ASCII runs, 8 bytes at a time.
    while (pos + 8 <= n) {
      uint64_t word;
      std::copy_n(text.data() + pos, 8, reinterpret_cast<char*>(&word));
      if (word & 0x8080808080808080ULL) break;
      pos += 8;
    }
    if (pos >= n) break;
    if (static_cast<unsigned char>(text[pos]) < 0x80) {
      ++pos;
      continue;
    }
    const std::size_t start = pos;
    if (internal::DecodeUtf8(text, &pos) == internal::kInvalid) return start;
  }
  return std::nullopt;
}

void CheckUtf8(std::string_view text) {
  if (auto bad = FindInvalidUtf8(text)) {
    char msg[96];
    std::snprintf(msg, sizeof msg, "invalid UTF-8 at byte %zu (0x%02x); expected UTF-8 text", *bad,
                  static_cast<unsigned>(static_cast<unsigned char>(text[*bad])));
    throw Error(ErrorCode::kInput, msg);
  }
}

std::string ReplaceInvalidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t start = pos;
    const char32_t c = internal::DecodeUtf8(text, &pos);
    if (c == internal::kInvalid) {
      internal::AppendUtf8(internal::kReplacementChar, &out);
    } else {
      out.append(text.data() + start, pos - start);
    }
  }
  return out;
}

std::vector<Span> ByteToCharSpans(std::string_view text, const std::vector<Span>& byte_spans) {
  // Sort the distinct positions, then walk the text once.
  std::vector<std::size_t> positions;
  positions.reserve(byte_spans.size() * 2);
  for (const Span& s : byte_spans) {
    positions.push_back(s.begin);
    positions.push_back(s.end);
  }
  std::sort(positions.begin(), positions.end());
  positions.erase(std::unique(positions.begin(), positions.end()), positions.end());
  std::vector<std::size_t> chars(positions.size());
  std::size_t byte = 0, index = 0, k = 0;
  while (k < positions.size()) {
    if (byte >= text.size()) {
      for (; k < positions.size(); ++k) chars[k] = index;  // at or past the end
      break;
    }
    std::size_t next = byte;
    internal::DecodeUtf8(text, &next);
    // Every position in [byte, next) belongs to code point `index`.
    while (k < positions.size() && positions[k] < next) chars[k++] = index;
    byte = next;
    ++index;
  }
  std::vector<Span> out;
  out.reserve(byte_spans.size());
  auto lookup = [&](std::size_t p) {
    return chars[std::lower_bound(positions.begin(), positions.end(), p) - positions.begin()];
  };
  for (const Span& s : byte_spans) out.push_back({lookup(s.begin), lookup(s.end)});
  return out;
}

}  // namespace sense::text
