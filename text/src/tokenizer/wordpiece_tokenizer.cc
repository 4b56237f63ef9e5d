#include "sense/text/wordpiece_tokenizer.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <map>
#include <mutex>
#include <tuple>

#include "file_util.h"
#include "piece_trie.h"
#include "sense/inference/error.h"
#include "unicode_props.h"

namespace sense::text {

using internal::PieceTrie;

namespace {

// ---- per-character normalisation rules ------------------------------------

// What clean-up and CJK handling do with a source character.
enum class SourceKind : uint8_t {
  kDrop,      // removed (NUL, U+FFFD, Cc/Cf/Co)
  kBoundary,  // whitespace: ends the current word
  kChars,     // normalised characters follow
  kChinese,   // CJK ideograph: a word of its own
};

// How the pre-tokenizer treats a normalised character.
enum class CharClass : uint8_t {
  kNormal,
  kPunct,  // a word of its own
  kSpace,  // ends the word and is removed
  kMark,   // non-spacing mark: removed when stripping accents, else normal
};

struct NormChar {
  char32_t cp;
  uint8_t ccc;  // canonical combining class: non-zero marks are reordered (NFD)
  CharClass cls;
};

struct Rule {
  SourceKind kind = SourceKind::kDrop;
  uint8_t count = 0;   // normalised characters, in pool[first, first + count)
  uint32_t first = 0;
};

// Configuration that the character rules depend on.
struct RuleConfig {
  bool lowercase;
  bool strip;
  bool chinese;
  internal::CategoryVersion version;
  bool operator<(const RuleConfig& o) const {
    return std::tie(lowercase, strip, chinese, version.major, version.minor) <
           std::tie(o.lowercase, o.strip, o.chinese, o.version.major, o.version.minor);
  }
};

CharClass ClassOf(char32_t c, internal::CategoryVersion version) {
  if (internal::IsNonSpacingMark(c, version)) return CharClass::kMark;
  if (internal::IsBertWhitespace(c)) return CharClass::kSpace;
  if (internal::IsBertPunctuation(c, version)) return CharClass::kPunct;
  return CharClass::kNormal;
}

// Computes the rule of one source character: steps 1-4 of the header.
SourceKind ComputeRule(char32_t c, const RuleConfig& config, NormChar* out, int* count) {
  *count = 0;
  if (c == 0 || c == internal::kReplacementChar || internal::IsBertControl(c, config.version)) {
    return SourceKind::kDrop;
  }
  if (internal::IsBertWhitespace(c)) return SourceKind::kBoundary;
  const bool chinese = config.chinese && internal::IsBertChineseChar(c);
  char32_t lowered[4];
  int n_lowered = 1;
  lowered[0] = c;
  if (config.lowercase) n_lowered = internal::AppendLowercase(c, lowered);
  for (int i = 0; i < n_lowered; ++i) {
    char32_t decomposed[internal::kMaxDecomposition];
    int n_decomposed = 1;
    decomposed[0] = lowered[i];
    if (config.strip && internal::AssignedBy(lowered[i], config.version)) {
      n_decomposed = internal::AppendNfd(lowered[i], decomposed);
    }
    for (int k = 0; k < n_decomposed && *count < internal::kMaxDecomposition; ++k) {
      const char32_t d = decomposed[k];
      const bool known = internal::AssignedBy(d, config.version);
      out[(*count)++] = {d, config.strip && known ? internal::CombiningClass(d) : uint8_t{0}, ClassOf(d, config.version)};
    }
  }
  return chinese ? SourceKind::kChinese : SourceKind::kChars;
}

// Rules for the Basic Multilingual Plane, computed once per configuration
// and shared by all tokenizers (characters above U+FFFF are computed when met).
struct RuleTable {
  static constexpr char32_t kSize = 0x10000;
  std::vector<Rule> rules;
  std::vector<NormChar> pool;
};

std::shared_ptr<const RuleTable> GetRuleTable(const RuleConfig& config) {
  static std::mutex mutex;
  static std::map<RuleConfig, std::shared_ptr<const RuleTable>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto& slot = cache[config];
  if (!slot) {
    auto table = std::make_shared<RuleTable>();
    table->rules.resize(RuleTable::kSize);
    table->pool.reserve(RuleTable::kSize + 16384);
    NormChar chars[internal::kMaxDecomposition];
    for (char32_t c = 0; c < RuleTable::kSize; ++c) {
      if (c >= 0xD800 && c <= 0xDFFF) continue;  // surrogates never decode
      int n = 0;
      Rule& rule = table->rules[c];
      rule.kind = ComputeRule(c, config, chars, &n);
      rule.first = static_cast<uint32_t>(table->pool.size());
      rule.count = static_cast<uint8_t>(n);
      table->pool.insert(table->pool.end(), chars, chars + n);
    }
    slot = std::move(table);
  }
  return slot;
}

// ---- the normalised word being built ---------------------------------------

struct PieceMatch {
  int id;
  uint32_t begin, end;  // bytes of the word
};

struct WordBuffer {
  std::string bytes;                // normalised UTF-8
  std::vector<uint32_t> src_begin;  // per byte: span of the source character
  std::vector<uint32_t> src_end;
  std::size_t chars = 0;
  mutable std::vector<PieceMatch> matches;  // SplitWord's scratch, reused across words
  void Clear() {
    bytes.clear();
    src_begin.clear();
    src_end.clear();
    chars = 0;
  }
};

struct PendingMark {
  NormChar c;
  uint32_t begin, end;
};

std::string InvalidUtf8Message(std::string_view text, std::size_t pos) {
  char msg[96];
  std::snprintf(msg, sizeof msg, "invalid UTF-8 at byte %zu (0x%02x); expected UTF-8 text", pos,
                static_cast<unsigned>(static_cast<unsigned char>(text[pos])));
  return msg;
}

// Hugging Face's WordPiece decoder clean-up, applied to each token.
void CleanUpToken(std::string* s) {
  static const std::array<std::pair<std::string_view, std::string_view>, 11> kReplacements = {{
      {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
      {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}}};
  for (const auto& [from, to] : kReplacements) {
    std::size_t pos = 0;
    while ((pos = s->find(from, pos)) != std::string::npos) {
      s->replace(pos, from.size(), to);
      pos += to.size();
    }
  }
}

// Trailing White_Space removed, as Hugging Face's vocab reader does (Rust trim_end).
std::string_view TrimEnd(std::string_view line) {
  while (!line.empty()) {
    // Start of the last code point (at most 4 bytes back).
    std::size_t start = line.size() - 1;
    while (start > 0 && line.size() - start < 4 && (static_cast<unsigned char>(line[start]) & 0xC0) == 0x80) --start;
    std::size_t pos = start;
    const char32_t c = internal::DecodeUtf8(line, &pos);
    if (c == internal::kInvalid || pos != line.size() || !internal::IsBertWhitespace(c)) break;
    line.remove_suffix(line.size() - start);
  }
  return line;
}

}  // namespace

// ---- implementation ---------------------------------------------------------

struct WordPieceTokenizer::Impl {
  WordPieceOptions options;
  RuleConfig config{};
  std::shared_ptr<const RuleTable> table;
  struct AsciiRule {
    SourceKind kind;
    CharClass cls;
    char lower;
  };
  std::array<AsciiRule, 128> ascii{};

  std::vector<std::string> pieces;  // id -> vocabulary entry
  PieceTrie trie;
  uint32_t continuation_root = PieceTrie::kNone;
  int unk_id = -1;
  SpecialTokenIds special;
  SequenceTemplate sequence;
  std::vector<uint8_t> is_special;  // per id
  std::vector<std::pair<std::string, int>> special_strings;  // longest first
  std::string special_first_bytes;

  // One tokenization run: the word being built and where its tokens go.
  template <bool kOffsets, typename Sink>
  struct Run {
    const Impl& impl;
    std::string_view text;
    Sink& sink;
    WordBuffer word;
    std::vector<PendingMark> pending;

    void Append(char32_t c, uint32_t begin, uint32_t end) {
      const std::size_t before = word.bytes.size();
      internal::AppendUtf8(c, &word.bytes);
      if constexpr (kOffsets) {
        const std::size_t added = word.bytes.size() - before;
        word.src_begin.insert(word.src_begin.end(), added, begin);
        word.src_end.insert(word.src_end.end(), added, end);
      }
      ++word.chars;
    }
    void FlushWord() {
      if (!word.bytes.empty()) {
        sink.OnWord(word);
        word.Clear();
      }
    }
    void Handle(const NormChar& c, uint32_t begin, uint32_t end) {
      switch (c.cls) {
        case CharClass::kMark:
          if (impl.config.strip) return;
          Append(c.cp, begin, end);
          return;
        case CharClass::kSpace:
          FlushWord();
          return;
        case CharClass::kPunct:
          FlushWord();
          Append(c.cp, begin, end);
          FlushWord();
          return;
        case CharClass::kNormal:
          Append(c.cp, begin, end);
          return;
      }
    }
    // Canonical ordering (NFD): marks with a non-zero combining class are
    // stably sorted by class within each run between starters.
    void FlushPending() {
      if (pending.empty()) return;
      std::stable_sort(pending.begin(), pending.end(),
                       [](const PendingMark& a, const PendingMark& b) { return a.c.ccc < b.c.ccc; });
      for (const PendingMark& m : pending) Handle(m.c, m.begin, m.end);
      pending.clear();
    }

    // Steps 1-5 on text[begin, end), then the sink gets each word.
    void Segment(std::size_t begin, std::size_t end) {
      const std::string_view segment = text.substr(0, end);
      const bool strip = impl.config.strip;
      std::size_t pos = begin;
      NormChar scratch[internal::kMaxDecomposition];
      while (pos < end) {
        const auto byte = static_cast<unsigned char>(text[pos]);
        if (byte < 0x80) {
          const AsciiRule& r = impl.ascii[byte];
          if (r.kind == SourceKind::kDrop) {
            ++pos;
            continue;
          }
          if (!pending.empty()) FlushPending();
          if (r.kind == SourceKind::kBoundary || r.cls == CharClass::kSpace) {
            FlushWord();
          } else if (r.cls == CharClass::kPunct) {
            FlushWord();
            Append(static_cast<unsigned char>(r.lower), static_cast<uint32_t>(pos), static_cast<uint32_t>(pos + 1));
            FlushWord();
          } else {
            word.bytes.push_back(r.lower);
            if constexpr (kOffsets) {
              word.src_begin.push_back(static_cast<uint32_t>(pos));
              word.src_end.push_back(static_cast<uint32_t>(pos + 1));
            }
            ++word.chars;
          }
          ++pos;
          continue;
        }
        const std::size_t start = pos;
        char32_t c = internal::DecodeUtf8(segment, &pos);
        if (c == internal::kInvalid) {
          if (impl.options.invalid_utf8 == InvalidUtf8::kError) {
            throw Error(ErrorCode::kInput, InvalidUtf8Message(text, start));
          }
          c = internal::kReplacementChar;
        }
        Rule rule;
        const NormChar* chars;
        if (c < RuleTable::kSize) {
          rule = impl.table->rules[c];
          chars = impl.table->pool.data() + rule.first;
        } else {
          int n = 0;
          rule.kind = ComputeRule(c, impl.config, scratch, &n);
          rule.count = static_cast<uint8_t>(n);
          chars = scratch;
        }
        if (rule.kind == SourceKind::kDrop) continue;
        const auto b = static_cast<uint32_t>(start);
        const auto e = static_cast<uint32_t>(pos);
        if (rule.kind == SourceKind::kBoundary || rule.kind == SourceKind::kChinese) {
          FlushPending();
          FlushWord();
          if (rule.kind == SourceKind::kBoundary) continue;
        }
        for (int i = 0; i < rule.count; ++i) {
          if (strip && chars[i].ccc != 0) {
            pending.push_back({chars[i], b, e});
            continue;
          }
          if (!pending.empty()) FlushPending();
          Handle(chars[i], b, e);
        }
        if (rule.kind == SourceKind::kChinese) {
          FlushPending();
          FlushWord();
        }
      }
      FlushPending();
      FlushWord();
    }

    // Step 0, then Segment on the text between special tokens.
    void All() {
      if (text.size() > 0xFFFFFFF0u) {
        throw Error(ErrorCode::kInput, "text of " + std::to_string(text.size()) +
                                           " bytes; the WordPiece tokenizer accepts at most 4 GiB per text");
      }
      if (impl.special_strings.empty()) {
        Segment(0, text.size());
        return;
      }
      std::size_t segment_start = 0, pos = 0;
      while ((pos = text.find_first_of(impl.special_first_bytes, pos)) != std::string_view::npos) {
        int matched = -1;
        std::size_t length = 0;
        for (const auto& [s, id] : impl.special_strings) {
          if (text.compare(pos, s.size(), s) == 0) {
            matched = id;
            length = s.size();
            break;
          }
        }
        if (matched < 0) {
          ++pos;
          continue;
        }
        Segment(segment_start, pos);
        sink.OnSpecial(matched, pos, pos + length);
        pos += length;
        segment_start = pos;
      }
      Segment(segment_start, text.size());
    }
  };

  // Step 6: greedy longest match on one word; calls emit(id, begin, end) with
  // byte offsets into the word.
  template <typename Emit>
  void SplitWord(const WordBuffer& word, Emit&& emit) const {
    const std::string_view w = word.bytes;
    if (word.chars > static_cast<std::size_t>(options.max_input_chars_per_word)) {
      emit(unk_id, std::size_t{0}, w.size());
      return;
    }
    std::vector<PieceMatch>& matches = word.matches;
    matches.clear();
    std::size_t start = 0;
    while (start < w.size()) {
      const uint32_t node = start == 0 ? PieceTrie::kRoot : continuation_root;
      int id = -1;
      std::size_t length = 0;
      if (node != PieceTrie::kNone) {
        const std::string_view rest = w.substr(start);
        id = trie.LongestPrefix(node, rest,
                                [&](std::size_t l) {
                                  return l == rest.size() || (static_cast<unsigned char>(rest[l]) & 0xC0) != 0x80;
                                },
                                &length);
      }
      if (id < 0) {
        emit(unk_id, std::size_t{0}, w.size());
        return;
      }
      matches.push_back({id, static_cast<uint32_t>(start), static_cast<uint32_t>(start + length)});
      start += length;
    }
    for (const PieceMatch& m : matches) emit(m.id, std::size_t{m.begin}, std::size_t{m.end});
  }
};

// ---- creation -----------------------------------------------------------------

std::unique_ptr<WordPieceTokenizer> WordPieceTokenizer::Create(const WordPieceOptions& options) {
  if (!options.vocab_path.empty() && !options.vocab_data.empty()) {
    throw Error(ErrorCode::kOption, "WordPieceOptions: vocab_path and vocab_data are exclusive; both are set");
  }
  if (options.vocab_path.empty() && options.vocab_data.empty()) {
    throw Error(ErrorCode::kOption, "WordPieceOptions: set vocab_path or vocab_data; both are empty");
  }
  if (options.max_input_chars_per_word <= 0) {
    throw Error(ErrorCode::kOption, "WordPieceOptions: max_input_chars_per_word must be > 0; found " +
                                        std::to_string(options.max_input_chars_per_word));
  }
  if (options.continuing_subword_prefix.empty()) {
    throw Error(ErrorCode::kOption, "WordPieceOptions: continuing_subword_prefix must not be empty");
  }
  const std::string source = !options.vocab_path.empty() ? options.vocab_path
                             : !options.source.empty()   ? options.source
                                                         : std::string("vocab.txt");
  const std::string data = !options.vocab_path.empty()
                               ? internal::ReadFileBytes(options.vocab_path, "a WordPiece vocab.txt")
                               : options.vocab_data;

  internal::CategoryVersion version;
  if (!options.unicode_version.empty()) {
    unsigned major = 0, minor = 0;
    char extra = 0;
    if (std::sscanf(options.unicode_version.c_str(), "%u.%u%c", &major, &minor, &extra) != 2 || major == 0 ||
        major > 255 || minor > 255) {
      throw Error(ErrorCode::kOption, "WordPieceOptions: unicode_version must be \"<major>.<minor>\" "
                                      "(e.g. \"8.0\") or empty; found \"" + options.unicode_version + "\"");
    }
    version = {static_cast<uint8_t>(major), static_cast<uint8_t>(minor)};
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->config = {options.lowercase, options.strip_accents.value_or(options.lowercase),
                  options.tokenize_chinese_chars, version};

  // Lines: "\n" or "\r\n" endings, trailing whitespace trimmed; a later
  // duplicate entry wins in the entry -> id direction (Hugging Face's reader).
  std::size_t line_start = 0, line_number = 0;
  while (line_start < data.size()) {
    std::size_t line_end = data.find('\n', line_start);
    if (line_end == std::string::npos) line_end = data.size();
    std::string_view line(data.data() + line_start, line_end - line_start);
    ++line_number;
    if (auto bad = FindInvalidUtf8(line)) {
      throw Error(ErrorCode::kModelFormat, source + " line " + std::to_string(line_number) + ": " +
                                               InvalidUtf8Message(line, *bad) + " in a vocab.txt");
    }
    line = TrimEnd(line);
    const int id = static_cast<int>(impl->pieces.size());
    impl->pieces.emplace_back(line);
    impl->trie.Insert(line, id);
    line_start = line_end + 1;
  }
  if (impl->pieces.empty()) {
    throw Error(ErrorCode::kModelFormat, source + ": no entries; expected a vocab.txt with one token per line");
  }
  impl->trie.Build();
  impl->continuation_root = impl->trie.Walk(PieceTrie::kRoot, options.continuing_subword_prefix);

  auto find = [&](std::string_view piece) {
    const uint32_t node = impl->trie.Walk(PieceTrie::kRoot, piece);
    return node == PieceTrie::kNone ? -1 : impl->trie.Value(node);
  };
  impl->unk_id = find(options.unk_token);
  if (impl->unk_id < 0) {
    throw Error(ErrorCode::kModelFormat, source + ": the unknown token \"" + options.unk_token +
                                             "\" is not in the vocabulary (" + std::to_string(impl->pieces.size()) +
                                             " entries); expected a BERT-style vocab.txt");
  }
  impl->special.unk = impl->unk_id;
  impl->special.pad = find("[PAD]");
  impl->special.cls = find("[CLS]");
  impl->special.sep = find("[SEP]");
  impl->special.mask = find("[MASK]");
  impl->is_special.assign(impl->pieces.size(), 0);
  for (int id : {impl->special.unk, impl->special.pad, impl->special.cls, impl->special.sep, impl->special.mask}) {
    if (id < 0) continue;
    impl->is_special[id] = 1;
    if (options.recognize_special_tokens) impl->special_strings.emplace_back(impl->pieces[id], id);
  }
  std::sort(impl->special_strings.begin(), impl->special_strings.end(),
            [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  impl->special_strings.erase(std::remove_if(impl->special_strings.begin(), impl->special_strings.end(),
                                             [](const auto& s) { return s.first.empty(); }),
                              impl->special_strings.end());
  for (const auto& [s, id] : impl->special_strings) {
    if (impl->special_first_bytes.find(s[0]) == std::string::npos) impl->special_first_bytes.push_back(s[0]);
  }

  if (options.add_special_tokens) {
    if (impl->special.cls < 0 || impl->special.sep < 0) {
      throw Error(ErrorCode::kModelFormat,
                  source + ": add_special_tokens needs [CLS] and [SEP] in the vocabulary; found " +
                      std::string(impl->special.cls < 0 ? "no [CLS]" : "[CLS]") + " and " +
                      std::string(impl->special.sep < 0 ? "no [SEP]" : "[SEP]"));
    }
    impl->sequence.prefix = {impl->special.cls};
    impl->sequence.middle = {impl->special.sep};
    impl->sequence.suffix = {impl->special.sep};
  }

  impl->table = GetRuleTable(impl->config);
  for (int b = 0; b < 128; ++b) {
    const Rule& r = impl->table->rules[b];
    Impl::AsciiRule a{r.kind, CharClass::kNormal, static_cast<char>(b)};
    if (r.kind == SourceKind::kChars && r.count == 1) {
      const NormChar& c = impl->table->pool[r.first];
      a.cls = c.cls;
      a.lower = static_cast<char>(c.cp);
    }
    impl->ascii[b] = a;
  }
  return std::unique_ptr<WordPieceTokenizer>(new WordPieceTokenizer(std::move(impl)));
}

WordPieceTokenizer::WordPieceTokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
WordPieceTokenizer::~WordPieceTokenizer() = default;

// ---- tokenization -------------------------------------------------------------

std::vector<Token> WordPieceTokenizer::Tokenize(std::string_view text) const {
  struct Sink {
    const Impl& impl;
    std::vector<Token>& out;
    void OnWord(const WordBuffer& w) {
      impl.SplitWord(w, [&](int id, std::size_t b, std::size_t e) {
        out.push_back({id, impl.pieces[id], w.src_begin[b], w.src_end[e - 1]});
      });
    }
    void OnSpecial(int id, std::size_t b, std::size_t e) { out.push_back({id, impl.pieces[id], b, e}); }
  };
  std::vector<Token> out;
  Sink sink{*impl_, out};
  Impl::Run<true, Sink> run{*impl_, text, sink, {}, {}};
  run.All();
  return out;
}

std::vector<int> WordPieceTokenizer::Encode(std::string_view text) const {
  struct Sink {
    const Impl& impl;
    std::vector<int>& out;
    void OnWord(const WordBuffer& w) {
      impl.SplitWord(w, [&](int id, std::size_t, std::size_t) { out.push_back(id); });
    }
    void OnSpecial(int id, std::size_t, std::size_t) { out.push_back(id); }
  };
  std::vector<int> out;
  out.reserve(text.size() / 4 + 4);
  Sink sink{*impl_, out};
  Impl::Run<false, Sink> run{*impl_, text, sink, {}, {}};
  run.All();
  return out;
}

void WordPieceTokenizer::EncodeWithOffsets(std::string_view text, std::vector<int>* ids,
                                           std::vector<Span>* offsets) const {
  struct Sink {
    const Impl& impl;
    std::vector<int>& ids;
    std::vector<Span>& offsets;
    void OnWord(const WordBuffer& w) {
      impl.SplitWord(w, [&](int id, std::size_t b, std::size_t e) {
        ids.push_back(id);
        offsets.push_back({w.src_begin[b], w.src_end[e - 1]});
      });
    }
    void OnSpecial(int id, std::size_t b, std::size_t e) {
      ids.push_back(id);
      offsets.push_back({b, e});
    }
  };
  Sink sink{*impl_, *ids, *offsets};
  Impl::Run<true, Sink> run{*impl_, text, sink, {}, {}};
  run.All();
}

std::vector<BasicWord> WordPieceTokenizer::BasicTokenize(std::string_view text) const {
  struct Sink {
    const Impl& impl;
    std::vector<BasicWord>& out;
    void OnWord(const WordBuffer& w) {
      out.push_back({w.bytes, {w.src_begin.front(), w.src_end.back()}, false});
    }
    void OnSpecial(int id, std::size_t b, std::size_t e) { out.push_back({impl.pieces[id], {b, e}, true}); }
  };
  std::vector<BasicWord> out;
  Sink sink{*impl_, out};
  Impl::Run<true, Sink> run{*impl_, text, sink, {}, {}};
  run.All();
  return out;
}

std::string WordPieceTokenizer::Decode(const std::vector<int>& ids) const {
  std::string out;
  std::string token;
  bool first = true;
  const std::string& prefix = impl_->options.continuing_subword_prefix;
  for (int id : ids) {
    if (id < 0 || id >= vocab_size()) {
      throw Error(ErrorCode::kInput, "id " + std::to_string(id) + " is out of range; the vocabulary has " +
                                         std::to_string(vocab_size()) + " entries");
    }
    if (impl_->is_special[id]) continue;
    const std::string& piece = impl_->pieces[id];
    if (first) {
      token = piece;
    } else if (piece.compare(0, prefix.size(), prefix) == 0) {
      token = piece.substr(prefix.size());
    } else {
      token = " " + piece;
    }
    first = false;
    CleanUpToken(&token);
    out += token;
  }
  return out;
}

int WordPieceTokenizer::vocab_size() const { return static_cast<int>(impl_->pieces.size()); }

std::string WordPieceTokenizer::IdToPiece(int id) const {
  if (id < 0 || id >= vocab_size()) {
    throw Error(ErrorCode::kInput, "id " + std::to_string(id) + " is out of range; the vocabulary has " +
                                       std::to_string(vocab_size()) + " entries");
  }
  return impl_->pieces[id];
}

int WordPieceTokenizer::PieceToId(std::string_view piece) const {
  const uint32_t node = impl_->trie.Walk(PieceTrie::kRoot, piece);
  return node == PieceTrie::kNone ? -1 : impl_->trie.Value(node);
}

bool WordPieceTokenizer::IsSpecial(int id) const {
  return id >= 0 && id < vocab_size() && impl_->is_special[id] != 0;
}

const SpecialTokenIds& WordPieceTokenizer::special_ids() const { return impl_->special; }
const SequenceTemplate& WordPieceTokenizer::sequence_template() const { return impl_->sequence; }
InvalidUtf8 WordPieceTokenizer::invalid_utf8() const { return impl_->options.invalid_utf8; }
const WordPieceOptions& WordPieceTokenizer::options() const { return impl_->options; }

}  // namespace sense::text
