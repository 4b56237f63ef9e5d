#include "sense/text/model_inputs.h"

#include <algorithm>
#include <exception>
#include <system_error>
#include <thread>

#include "sense/inference/error.h"

namespace sense::text {

namespace {

struct Tokens {
  std::vector<int> ids;
  std::vector<Span> offsets;
  std::size_t size() const { return ids.size(); }
};

Tokens Tokenize(const Tokenizer& tokenizer, std::string_view text) {
  Tokens t;
  tokenizer.EncodeWithOffsets(text, &t.ids, &t.offsets);
  return t;
}

std::size_t SpecialCount(const SequenceTemplate& s, bool pair) {
  return s.prefix.size() + s.suffix.size() + (pair ? s.middle.size() : 0);
}

// Appends the wrapped row: prefix A[a0, a1) (middle B[b0, b1)) suffix.
EncodedInput Wrap(const Tokenizer& tokenizer, const EncodeOptions& o, const Tokens& a, std::size_t a0, std::size_t a1,
                  const Tokens* b, std::size_t b0, std::size_t b1) {
  const SequenceTemplate& s = tokenizer.sequence_template();
  const bool special = o.add_special_tokens;
  EncodedInput row;
  const std::size_t n = (a1 - a0) + (b ? b1 - b0 : 0) + (special ? SpecialCount(s, b != nullptr) : 0);
  row.ids.reserve(n);
  row.type_ids.reserve(n);
  row.sequence_ids.reserve(n);
  row.offsets.reserve(n);
  auto add_special = [&](const std::vector<int>& ids, int64_t type) {
    if (!special) return;
    for (int id : ids) {
      row.ids.push_back(id);
      row.type_ids.push_back(type);
      row.sequence_ids.push_back(-1);
      row.offsets.push_back({0, 0});
    }
  };
  auto add = [&](const Tokens& t, std::size_t from, std::size_t to, int64_t type, int8_t seq) {
    for (std::size_t i = from; i < to; ++i) {
      row.ids.push_back(t.ids[i]);
      row.type_ids.push_back(type);
      row.sequence_ids.push_back(seq);
      row.offsets.push_back(t.offsets[i]);
    }
  };
  add_special(s.prefix, 0);
  add(a, a0, a1, 0, 0);
  if (b != nullptr) {
    add_special(s.middle, 0);
    add(*b, b0, b1, s.pair_type_id, 1);
    add_special(s.suffix, s.pair_type_id);
  } else {
    add_special(s.suffix, 0);
  }
  row.attention_mask.assign(row.ids.size(), 1);
  return row;
}

std::string Count(std::size_t n, const char* what) { return std::to_string(n) + " " + what; }

// Steps 1-3 for one text (and pair): one row, or several for kWindow.
std::vector<EncodedInput> EncodeOne(const Tokenizer& tokenizer, std::string_view text, const std::string_view* pair,
                                    const EncodeOptions& o) {
  const Tokens a = Tokenize(tokenizer, text);
  Tokens b;
  if (pair != nullptr) b = Tokenize(tokenizer, *pair);
  const Tokens* bp = pair != nullptr ? &b : nullptr;
  const std::size_t specials = o.add_special_tokens ? SpecialCount(tokenizer.sequence_template(), bp != nullptr) : 0;
  const std::size_t total = a.size() + b.size() + specials;
  if (o.max_length <= 0 || total <= static_cast<std::size_t>(o.max_length)) {
    std::vector<EncodedInput> rows;
    rows.push_back(Wrap(tokenizer, o, a, 0, a.size(), bp, 0, b.size()));
    return rows;
  }
  const std::size_t max_length = static_cast<std::size_t>(o.max_length);
  if (max_length <= specials) {
    throw Error(ErrorCode::kOption, "max_length " + std::to_string(max_length) + " leaves no room for text after " +
                                        Count(specials, "special tokens"));
  }
  const std::size_t room = max_length - specials;  // for the text tokens
  switch (o.truncation) {
    case Truncation::kNone:
      throw Error(ErrorCode::kInput, "text has " + Count(total, "tokens") + " with special tokens; the limit is " +
                                         std::to_string(max_length) + " and truncation is none");
    case Truncation::kOnlyFirst: {
      if (b.size() >= room) {
        throw Error(ErrorCode::kInput, "the second text alone has " + Count(b.size(), "tokens") + "; with " +
                                           "truncation only_first it must leave room in " + std::to_string(room));
      }
      const std::size_t keep = room - b.size();
      std::vector<EncodedInput> rows;
      rows.push_back(Wrap(tokenizer, o, a, 0, keep, bp, 0, b.size()));
      rows.back().truncated = a.size() - keep;
      return rows;
    }
    case Truncation::kLongestFirst: {
      // Hugging Face tokenizers' longest_first (utils/truncation.rs).
      std::size_t n1 = a.size(), n2 = b.size();
      if (bp == nullptr) {
        n1 = room;
      } else {
        const bool swap = n1 > n2;
        if (swap) std::swap(n1, n2);
        n2 = n1 > room ? n1 : std::max(n1, room - n1);
        if (n1 + n2 > room) {
          n1 = room / 2;
          n2 = n1 + room % 2;
        }
        if (swap) std::swap(n1, n2);
        n1 = std::min(n1, a.size());
        n2 = std::min(n2, b.size());
      }
      std::vector<EncodedInput> rows;
      rows.push_back(Wrap(tokenizer, o, a, 0, n1, bp, 0, n2));
      rows.back().truncated = a.size() - n1 + b.size() - n2;
      return rows;
    }
    case Truncation::kWindow: {
      if (b.size() >= room) {
        throw Error(ErrorCode::kInput, "the second text alone has " + Count(b.size(), "tokens") +
                                           "; windows over the first text need room in " + std::to_string(room));
      }
      const std::size_t window = room - b.size();
      const std::size_t stride = o.window_stride > 0 ? std::min<std::size_t>(o.window_stride, window)
                                                     : std::max<std::size_t>(1, window / 2);
      std::vector<EncodedInput> rows;
      for (std::size_t start = 0;; start += stride) {
        const std::size_t end = std::min(a.size(), start + window);
        rows.push_back(Wrap(tokenizer, o, a, start, end, bp, 0, b.size()));
        rows.back().window = static_cast<int>(rows.size() - 1);
        rows.back().truncated = a.size() - (end - start);
        if (end == a.size()) break;
      }
      return rows;
    }
  }
  throw Error(ErrorCode::kOption, "unknown truncation strategy");
}

int64_t PadId(const Tokenizer& tokenizer, const EncodeOptions& o) {
  if (o.pad_id >= 0) return o.pad_id;
  return tokenizer.special_ids().pad >= 0 ? tokenizer.special_ids().pad : 0;
}

void Pad(std::vector<EncodedInput>* rows, const Tokenizer& tokenizer, const EncodeOptions& o) {
  if (!o.pad) return;
  std::size_t target = 0;
  if (o.padding == Padding::kMaxLength) {
    target = static_cast<std::size_t>(o.max_length);
  } else {
    for (const auto& r : *rows) target = std::max(target, r.length());
  }
  const int64_t pad = PadId(tokenizer, o);
  for (auto& r : *rows) {
    if (r.length() >= target) continue;
    const std::size_t n = target - r.length();
    r.ids.insert(r.ids.end(), n, pad);
    r.attention_mask.insert(r.attention_mask.end(), n, 0);
    r.type_ids.insert(r.type_ids.end(), n, 0);
    r.sequence_ids.insert(r.sequence_ids.end(), n, -1);
    r.offsets.insert(r.offsets.end(), n, Span{0, 0});
  }
}

std::vector<EncodedInput> EncodeMany(const Tokenizer& tokenizer, const std::vector<std::string>& texts,
                                     const std::vector<std::string>* pairs, const EncodeOptions& o) {
  ValidateEncodeOptions(o);
  if (pairs != nullptr && !pairs->empty() && pairs->size() != texts.size()) {
    throw Error(ErrorCode::kInput, "pairs has " + Count(pairs->size(), "texts") + "; expected none or one per text (" +
                                       std::to_string(texts.size()) + ")");
  }
  const bool with_pairs = pairs != nullptr && !pairs->empty();
  std::vector<std::vector<EncodedInput>> per_text(texts.size());
  ParallelFor(texts.size(), o.threads, [&](std::size_t i) {
    try {
      const std::string_view pair = with_pairs ? std::string_view((*pairs)[i]) : std::string_view();
      per_text[i] = EncodeOne(tokenizer, texts[i], with_pairs ? &pair : nullptr, o);
      for (auto& row : per_text[i]) row.source = i;
    } catch (const Error& e) {
      throw Error(e.code(), "text " + std::to_string(i) + ": " + e.what());
    }
  });
  std::vector<EncodedInput> rows;
  rows.reserve(texts.size());
  for (auto& v : per_text) {
    for (auto& r : v) rows.push_back(std::move(r));
  }
  Pad(&rows, tokenizer, o);
  return rows;
}

}  // namespace

EncodeOptions EncodeOptions::FromMetadata(const TextPreprocessing& text) {
  EncodeOptions o;
  o.max_length = text.max_length;
  o.truncation = text.truncation;
  o.window_stride = text.window_stride;
  o.padding = text.padding;
  o.pad_id = text.pad_id;
  return o;
}

void ValidateEncodeOptions(const EncodeOptions& o) {
  if (o.max_length < 0) {
    throw Error(ErrorCode::kOption, "EncodeOptions: max_length must be >= 0 (0: no limit); found " +
                                        std::to_string(o.max_length));
  }
  if (o.window_stride < 0) {
    throw Error(ErrorCode::kOption, "EncodeOptions: window_stride must be >= 0; found " + std::to_string(o.window_stride));
  }
  if (o.pad && o.padding == Padding::kMaxLength && o.max_length == 0) {
    throw Error(ErrorCode::kOption, "EncodeOptions: padding max_length needs max_length > 0");
  }
  if (o.threads < 0) {
    throw Error(ErrorCode::kOption, "EncodeOptions: threads must be >= 0 (0: all cores); found " + std::to_string(o.threads));
  }
  if (o.pad_id < -1) {
    throw Error(ErrorCode::kOption, "EncodeOptions: pad_id must be >= 0, or -1 for the tokenizer's; found " +
                                        std::to_string(o.pad_id));
  }
}

EncodedInput EncodeInput(const Tokenizer& tokenizer, std::string_view text, const EncodeOptions& options) {
  ValidateEncodeOptions(options);
  if (options.truncation == Truncation::kWindow && options.max_length > 0) {
    throw Error(ErrorCode::kOption, "EncodeOptions: truncation window can give several rows per text; use EncodeBatch");
  }
  std::vector<EncodedInput> rows = EncodeOne(tokenizer, text, nullptr, options);
  Pad(&rows, tokenizer, options);
  return std::move(rows.front());
}

EncodedInput EncodeInput(const Tokenizer& tokenizer, std::string_view text, std::string_view pair,
                         const EncodeOptions& options) {
  ValidateEncodeOptions(options);
  if (options.truncation == Truncation::kWindow && options.max_length > 0) {
    throw Error(ErrorCode::kOption, "EncodeOptions: truncation window can give several rows per text; use EncodeBatch");
  }
  std::vector<EncodedInput> rows = EncodeOne(tokenizer, text, &pair, options);
  Pad(&rows, tokenizer, options);
  return std::move(rows.front());
}

std::vector<EncodedInput> EncodeBatch(const Tokenizer& tokenizer, const std::vector<std::string>& texts,
                                      const EncodeOptions& options) {
  return EncodeMany(tokenizer, texts, nullptr, options);
}

std::vector<EncodedInput> EncodeBatch(const Tokenizer& tokenizer, const std::vector<std::string>& texts,
                                      const std::vector<std::string>& pairs, const EncodeOptions& options) {
  return EncodeMany(tokenizer, texts, &pairs, options);
}

void ParallelFor(std::size_t count, int threads, const std::function<void(std::size_t)>& body) {
  std::size_t n = threads > 0 ? static_cast<std::size_t>(threads)
                              : std::max<std::size_t>(1, std::thread::hardware_concurrency());
  n = std::min(n, std::max<std::size_t>(1, count / 16));  // small batches are not worth a thread
  if (n <= 1) {
    for (std::size_t i = 0; i < count; ++i) body(i);
    return;
  }
  std::vector<std::exception_ptr> errors(n);
  std::vector<std::size_t> error_index(n, count);
  const auto chunk = [&](std::size_t w) {
    const std::size_t begin = count * w / n, end = count * (w + 1) / n;
    for (std::size_t i = begin; i < end; ++i) {
      try {
        body(i);
      } catch (...) {
        errors[w] = std::current_exception();
        error_index[w] = i;
        return;
      }
    }
  };
  // Chunk 0 runs on the calling thread. A thread that cannot be started
  // (std::system_error: EAGAIN, out of memory for its stack) is no error:
  // its chunk, and the ones after it, run on the calling thread too.
  std::vector<std::thread> workers;
  workers.reserve(n - 1);
  std::size_t launched = 1;
  for (; launched < n; ++launched) {
    try {
      workers.emplace_back(chunk, launched);
    } catch (const std::system_error&) {
      break;
    }
  }
  chunk(0);
  for (std::size_t w = launched; w < n; ++w) chunk(w);
  for (auto& t : workers) t.join();
  for (std::size_t w = 0; w < n; ++w) {
    if (errors[w]) std::rethrow_exception(errors[w]);  // chunks are in order: the first is the lowest index
  }
}

}  // namespace sense::text
