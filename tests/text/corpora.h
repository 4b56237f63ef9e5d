// Test helpers: the sentences of the shared corpora, read exactly as
// scripts/wordpiece-reference/make_wordpiece_reference.js reads them, and the
// FNV-1a hash that checks both sides read the same text.
#ifndef SENSE_TESTS_TEXT_CORPORA_H_
#define SENSE_TESTS_TEXT_CORPORA_H_

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace sense::testing {

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Splits on "\n" only (a "\r" stays in the line). A final empty piece after
// a trailing "\n" is dropped.
inline std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

// SST-2 .tsv: header skipped, the text before the last tab, trailing spaces removed.
inline std::vector<std::string> ReadSst2(const std::string& path) {
  std::vector<std::string> out;
  auto lines = SplitLines(ReadAll(path));
  for (std::size_t i = 1; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    std::string s = lines[i].substr(0, lines[i].rfind('\t'));
    while (!s.empty() && s.back() == ' ') s.pop_back();
    out.push_back(s);
  }
  return out;
}

// CoNLL-2003 BIO files: first column of each line, joined by spaces, blank
// lines end sentences, -DOCSTART- lines skipped.
inline std::vector<std::string> ReadConll(const std::string& path) {
  std::vector<std::string> out;
  std::string sentence;
  bool any = false;
  for (const std::string& line : SplitLines(ReadAll(path))) {
    if (line.empty()) {
      if (any) out.push_back(sentence);
      sentence.clear();
      any = false;
    } else if (line.rfind("-DOCSTART-", 0) != 0) {
      if (any) sentence += ' ';
      sentence += line.substr(0, line.find(' '));
      any = true;
    }
  }
  if (any) out.push_back(sentence);
  return out;
}

inline uint64_t Fnv1a64(const std::string& s, uint64_t h = 0xcbf29ce484222325ULL) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// FNV-1a 64 of the sentences joined by "\n", as hex.
inline std::string HashSentences(const std::vector<std::string>& sentences) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (std::size_t i = 0; i < sentences.size(); ++i) {
    if (i) h = Fnv1a64("\n", h);
    h = Fnv1a64(sentences[i], h);
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace sense::testing

#endif  // SENSE_TESTS_TEXT_CORPORA_H_
