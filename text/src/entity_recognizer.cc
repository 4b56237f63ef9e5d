#include "sense/text/entity_recognizer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <set>

#include "sense/inference/error.h"

namespace sense::text {

EntityDecoding ParseEntityDecoding(const std::string& name) {
  for (EntityDecoding d : {EntityDecoding::kAuto, EntityDecoding::kViterbi, EntityDecoding::kGreedy})
    if (name == EntityDecodingName(d)) return d;
  throw Error(ErrorCode::kOption, "entity decoding must be auto, viterbi or greedy; found \"" + name + "\"");
}

const char* EntityDecodingName(EntityDecoding decoding) {
  switch (decoding) {
    case EntityDecoding::kAuto: return "auto";
    case EntityDecoding::kViterbi: return "viterbi";
    case EntityDecoding::kGreedy: return "greedy";
  }
  return "?";
}

std::unique_ptr<EntityRecognizer> EntityRecognizer::Create(const EntityRecognizerOptions& options) {
  if (options.max_batch_size < 1)
    throw Error(ErrorCode::kOption, "max_batch_size must be >= 1, found " + std::to_string(options.max_batch_size));
  if (!(options.score_threshold >= 0.0f && options.score_threshold <= 1.0f))
    throw Error(ErrorCode::kOption, "score_threshold must be in [0, 1], found " + std::to_string(options.score_threshold));
  const ModelMetadata m = ReadBundleMetadata(options.model.path, options.model.metadata_path);
  if (m.task != Task::kTokenClassification)
    throw Error(ErrorCode::kMetadata, options.model.path + ": is a " + TaskName(m.task) +
                                          " model; EntityRecognizer needs a token_classification bundle");
  if (m.output.type != OutputType::kTokenLogits && m.output.type != OutputType::kProbabilities)
    throw Error(ErrorCode::kMetadata, options.model.path + ": output type must be token_logits (or probabilities) for "
                                                           "token classification");
  std::unique_ptr<EntityRecognizer> r(new EntityRecognizer());
  r->options_ = options;
  const TokenClassificationSpec spec = m.token_classification.value_or(TokenClassificationSpec{});
  r->scheme_ = ParseTagScheme(spec.scheme);
  r->aggregation_ = spec.aggregation == "average" ? 1 : spec.aggregation == "max" ? 2 : 0;
  std::set<std::string> types;
  for (const auto& l : m.labels) {
    r->tags_.push_back(ParseTag(l));
    if (r->tags_.back().prefix != 'O') types.insert(r->tags_.back().type);
  }
  r->types_.assign(types.begin(), types.end());
  for (const auto& t : options.types)
    if (!types.count(t)) {
      std::string all;
      for (const auto& x : r->types_) all += (all.empty() ? "" : ", ") + x;
      throw Error(ErrorCode::kOption, "entity type \"" + t + "\" is not one the model knows (" + all + ")");
    }
  r->has_crf_ = !spec.transitions.empty();
  if (r->has_crf_) {
    r->crf_.transitions = spec.transitions;
    r->crf_.start = spec.start_scores;
    r->crf_.end = spec.end_scores;
  }
  if (options.decoding == EntityDecoding::kViterbi && !r->has_crf_)
    throw Error(ErrorCode::kOption, options.model.path + ": Viterbi decoding needs CRF transition scores in the bundle "
                                                         "(token_classification.transitions); this one has none: use greedy");
  r->use_crf_ = r->has_crf_ && options.decoding != EntityDecoding::kGreedy;
  TextRunnerOptions ro;
  ro.model = options.model;
  ro.max_batch_size = options.max_batch_size;
  ro.invalid_utf8 = options.invalid_utf8;
  r->runner_ = TextRunner::Create(ro);
  const Tokenizer& tok = r->runner_->tokenizer();
  r->sentencepiece_ = tok.type() == TokenizerType::kSentencePiece;
  r->continuation_.resize(static_cast<size_t>(tok.vocab_size()));
  for (int id = 0; id < tok.vocab_size(); ++id) {
    const std::string piece = tok.IdToPiece(id);
    r->continuation_[static_cast<size_t>(id)] =
        r->sentencepiece_ ? !(piece.rfind("\xE2\x96\x81", 0) == 0) && !tok.IsSpecial(id)
                          : piece.size() > 2 && piece.rfind("##", 0) == 0;
  }
  return r;
}

EntityResult EntityRecognizer::Recognize(std::string_view text) const {
  return RecognizeBatch({std::string(text)}).front().value();
}

std::vector<Outcome<EntityResult>> EntityRecognizer::RecognizeBatch(const std::vector<std::string>& texts) const {
  auto encoded = runner_->Encode(texts);
  std::vector<const EncodedInput*> rows;
  std::vector<size_t> first_row(texts.size(), 0);
  for (size_t i = 0; i < texts.size(); ++i) {
    first_row[i] = rows.size();
    if (encoded[i].ok())
      for (const auto& r : encoded[i].value()) rows.push_back(&r);
  }
  const auto outputs = runner_->Run(rows);
  std::vector<Outcome<EntityResult>> out;
  out.reserve(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    if (!encoded[i].ok()) {
      out.emplace_back(encoded[i].error());
      continue;
    }
    const auto& text_rows = encoded[i].value();
    std::vector<const NamedTensors*> row_outputs;
    std::optional<Error> failed;
    for (size_t k = 0; k < text_rows.size(); ++k) {
      const auto& o = outputs[first_row[i] + k];
      if (!o.ok()) {
        failed = o.error();
        break;
      }
      row_outputs.push_back(&o.value());
    }
    if (failed) {
      out.emplace_back(*failed);
      continue;
    }
    out.push_back(Capture([&] { return Decode(texts[i], text_rows, row_outputs); }, ErrorCode::kBackend));
  }
  return out;
}

namespace {

struct GlobalToken {
  std::size_t begin = 0, end = 0;
  int64_t id = 0;
};

void Softmax(const float* logits, int k, float temperature, float* out) {
  float m = -std::numeric_limits<float>::infinity();
  for (int j = 0; j < k; ++j) m = std::max(m, logits[j] / temperature);
  double s = 0;
  for (int j = 0; j < k; ++j) s += std::exp(static_cast<double>(logits[j] / temperature - m));
  for (int j = 0; j < k; ++j) out[j] = static_cast<float>(std::exp(static_cast<double>(logits[j] / temperature - m)) / s);
}

}  // namespace

EntityResult EntityRecognizer::Decode(std::string_view text, const std::vector<EncodedInput>& rows,
                                      const std::vector<const NamedTensors*>& outputs, std::vector<float>* probs) const {
  const ModelMetadata& m = metadata();
  const int k = static_cast<int>(m.labels.size());
  // 1. The text's tokens across all rows (windows overlap), in text order.
  std::map<std::size_t, GlobalToken> by_begin;
  for (const auto& row : rows)
    for (size_t p = 0; p < row.length(); ++p)
      if (row.sequence_ids[p] == 0) by_begin.emplace(row.offsets[p].begin, GlobalToken{row.offsets[p].begin, row.offsets[p].end, row.ids[p]});
  std::vector<GlobalToken> tokens;
  std::map<std::size_t, int> index_of;
  for (const auto& [b, t] : by_begin) {
    index_of[b] = static_cast<int>(tokens.size());
    tokens.push_back(t);
  }
  // 2. Each row's token range [lo, hi] and where its first text token sits.
  struct RowRange {
    int lo = -1, hi = -1;
    size_t pos0 = 0;
    const float* logits = nullptr;
    int64_t stride = 0;
  };
  std::vector<RowRange> ranges(rows.size());
  std::vector<Tensor> keep;  // float copies kept alive while decoding
  for (size_t r = 0; r < rows.size(); ++r) {
    const Tensor& t = outputs[r]->at(m.output.name);
    if (t.dim() != 3 || t.size(0) != 1 || t.size(2) != k || t.size(1) < static_cast<int64_t>(rows[r].length()))
      throw Error(ErrorCode::kBackend, model().path() + ": expected output [batch, tokens >= " +
                                           std::to_string(rows[r].length()) + ", " + std::to_string(k) +
                                           "], model returned a row of " + t.Describe());
    keep.push_back(t.dtype() == DType::kFloat32 ? t : t.ToFloat());
    ranges[r].logits = keep.back().data<float>();
    ranges[r].stride = k;
    for (size_t p = 0; p < rows[r].length(); ++p) {
      if (rows[r].sequence_ids[p] != 0) continue;
      const int g = index_of.at(rows[r].offsets[p].begin);
      if (ranges[r].lo < 0) {
        ranges[r].lo = g;
        ranges[r].pos0 = p;
      }
      ranges[r].hi = g;
    }
  }
  // 3. Words: a token that does not continue the previous one starts a word.
  struct WordRange {
    int first = 0, last = 0;
  };
  std::vector<WordRange> words;
  for (int g = 0; g < static_cast<int>(tokens.size()); ++g) {
    const int64_t id = tokens[static_cast<size_t>(g)].id;
    const bool cont = g > 0 && id >= 0 && static_cast<size_t>(id) < continuation_.size() &&
                      continuation_[static_cast<size_t>(id)] &&
                      tokens[static_cast<size_t>(g) - 1].end == tokens[static_cast<size_t>(g)].begin;
    if (cont && !words.empty()) words.back().last = g;
    else words.push_back({g, g});
  }
  // 4. Each word's emissions from the row where it lies farthest from an edge.
  const int n = static_cast<int>(words.size());
  std::vector<float> emissions(static_cast<size_t>(n) * k, 0.0f);
  std::vector<bool> labelled(static_cast<size_t>(n), false);
  for (int w = 0; w < n; ++w) {
    const WordRange& wr = words[static_cast<size_t>(w)];
    int best = -1;
    long best_margin = std::numeric_limits<long>::min();
    bool best_whole = false;
    for (size_t r = 0; r < ranges.size(); ++r) {
      const RowRange& rr = ranges[r];
      if (rr.lo < 0 || wr.first < rr.lo || wr.first > rr.hi) continue;
      const bool whole = wr.last <= rr.hi;
      const long margin = std::min<long>(wr.first - rr.lo, rr.hi - std::min(wr.last, rr.hi));
      if ((whole && !best_whole) || (whole == best_whole && margin > best_margin)) {
        best = static_cast<int>(r);
        best_margin = margin;
        best_whole = whole;
      }
    }
    if (best < 0) continue;
    labelled[static_cast<size_t>(w)] = true;
    const RowRange& rr = ranges[static_cast<size_t>(best)];
    float* e = &emissions[static_cast<size_t>(w) * k];
    const int last = std::min(wr.last, rr.hi);
    int count = 0;
    for (int g = wr.first; g <= (aggregation_ == 0 ? wr.first : last); ++g, ++count) {
      const float* src = rr.logits + static_cast<int64_t>(rr.pos0 + static_cast<size_t>(g - rr.lo)) * rr.stride;
      for (int j = 0; j < k; ++j) {
        if (count == 0) e[j] = src[j];
        else if (aggregation_ == 1) e[j] += src[j];
        else e[j] = std::max(e[j], src[j]);
      }
    }
    if (aggregation_ == 1 && count > 1)
      for (int j = 0; j < k; ++j) e[j] /= static_cast<float>(count);
  }
  // 5. Labels per run of labelled words, then spans.
  EntityResult result;
  result.windows = static_cast<int>(rows.size());
  result.decoding = use_crf_ ? "viterbi" : "greedy";
  std::vector<Span> spans;
  for (const auto& wr : words) spans.push_back({tokens[static_cast<size_t>(wr.first)].begin, tokens[static_cast<size_t>(wr.last)].end});
  std::vector<int> label(static_cast<size_t>(n), -1);
  std::vector<float> score(static_cast<size_t>(n), 0.0f);
  const bool probabilities = m.output.type == OutputType::kProbabilities || m.output.activation == Activation::kNone;
  if (probs) probs->assign(static_cast<size_t>(n) * k, 0.0f);
  for (int a = 0; a < n;) {
    if (!labelled[static_cast<size_t>(a)]) {
      ++a;
      continue;
    }
    int b = a;
    while (b < n && labelled[static_cast<size_t>(b)]) ++b;
    const int len = b - a;
    std::vector<float> em(emissions.begin() + static_cast<long>(a) * k, emissions.begin() + static_cast<long>(b) * k);
    if (use_crf_) {
      const auto path = ViterbiDecode(em, len, crf_);
      const auto marg = CrfMarginals(em, len, crf_);
      for (int t = 0; t < len; ++t) {
        label[static_cast<size_t>(a + t)] = path[static_cast<size_t>(t)];
        score[static_cast<size_t>(a + t)] = marg[static_cast<size_t>(t) * k + path[static_cast<size_t>(t)]];
      }
      if (probs) std::copy(marg.begin(), marg.end(), probs->begin() + static_cast<long>(a) * k);
    } else {
      std::vector<float> p(static_cast<size_t>(k));
      for (int t = 0; t < len; ++t) {
        const float* e = &em[static_cast<size_t>(t) * k];
        if (probabilities) std::copy(e, e + k, p.begin());
        else Softmax(e, k, m.output.temperature, p.data());
        const int best = static_cast<int>(std::max_element(p.begin(), p.end()) - p.begin());
        label[static_cast<size_t>(a + t)] = best;
        score[static_cast<size_t>(a + t)] = p[static_cast<size_t>(best)];
        if (probs) std::copy(p.begin(), p.end(), probs->begin() + static_cast<long>(a + t) * k);
      }
    }
    std::vector<Tag> run_tags;
    for (int t = a; t < b; ++t) run_tags.push_back(tags_[static_cast<size_t>(label[static_cast<size_t>(t)])]);
    for (const TagSpan& s : TagsToSpans(run_tags)) {
      if (!options_.types.empty() && std::find(options_.types.begin(), options_.types.end(), s.type) == options_.types.end())
        continue;
      Entity e;
      e.type = s.type;
      e.first_word = a + s.begin;
      e.last_word = a + s.end - 1;
      double sum = 0;
      for (int w = e.first_word; w <= e.last_word; ++w) sum += score[static_cast<size_t>(w)];
      e.score = static_cast<float>(sum / (s.end - s.begin));
      if (e.score < options_.score_threshold) continue;
      e.begin = spans[static_cast<size_t>(e.first_word)].begin;
      e.end = spans[static_cast<size_t>(e.last_word)].end;
      e.text = std::string(text.substr(e.begin, e.end - e.begin));
      result.entities.push_back(std::move(e));
    }
    a = b;
  }
  // 6. Code-point offsets, words.
  std::vector<Span> all = spans;
  for (const auto& e : result.entities) all.push_back({e.begin, e.end});
  const std::vector<Span> chars = ByteToCharSpans(text, all);
  for (int w = 0; w < n; ++w) {
    TaggedWord tw;
    tw.begin = spans[static_cast<size_t>(w)].begin;
    tw.end = spans[static_cast<size_t>(w)].end;
    tw.char_begin = chars[static_cast<size_t>(w)].begin;
    tw.char_end = chars[static_cast<size_t>(w)].end;
    tw.text = std::string(text.substr(tw.begin, tw.end - tw.begin));
    if (label[static_cast<size_t>(w)] >= 0) {
      tw.tag = m.labels[static_cast<size_t>(label[static_cast<size_t>(w)])];
      tw.score = score[static_cast<size_t>(w)];
    } else {
      result.truncated = true;
    }
    result.words.push_back(std::move(tw));
  }
  for (size_t i = 0; i < result.entities.size(); ++i) {
    result.entities[i].char_begin = chars[static_cast<size_t>(n) + i].begin;
    result.entities[i].char_end = chars[static_cast<size_t>(n) + i].end;
  }
  return result;
}

std::vector<EntityExplanation> EntityRecognizer::Explain(std::string_view text) const {
  const int unk = runner_->tokenizer().special_ids().unk;
  if (unk < 0)
    throw Error(ErrorCode::kUnsupported, model().path() + ": occlusion needs an unknown-token id in the vocabulary");
  const std::vector<EncodedInput> rows = runner_->Encode({std::string(text)}).front().value();
  std::vector<const EncodedInput*> row_ptrs;
  for (const auto& r : rows) row_ptrs.push_back(&r);
  const auto base_out = runner_->Run(row_ptrs);
  std::vector<const NamedTensors*> base_ptrs;
  for (const auto& o : base_out) base_ptrs.push_back(&o.value());
  std::vector<float> base_probs;
  const EntityResult base = Decode(text, rows, base_ptrs, &base_probs);
  const int k = static_cast<int>(labels().size());
  const size_t n = base.words.size();
  std::vector<EntityExplanation> out;
  if (base.entities.empty()) return out;
  // One variant per word: its tokens replaced by a single unknown token spanning the word.
  std::vector<std::vector<EncodedInput>> variants(n);
  for (size_t w = 0; w < n; ++w) {
    const std::size_t wb = base.words[w].begin, we = base.words[w].end;
    for (const auto& row : rows) {
      EncodedInput v;
      v.source = row.source;
      v.window = row.window;
      for (size_t p = 0; p < row.length(); ++p) {
        const bool inside = row.sequence_ids[p] == 0 && row.offsets[p].begin >= wb && row.offsets[p].begin < we;
        if (inside && row.offsets[p].begin != wb) continue;  // later tokens of the word: dropped
        v.ids.push_back(inside ? unk : row.ids[p]);
        v.attention_mask.push_back(row.attention_mask[p]);
        v.type_ids.push_back(row.type_ids[p]);
        v.sequence_ids.push_back(row.sequence_ids[p]);
        v.offsets.push_back(inside ? Span{wb, we} : row.offsets[p]);
      }
      variants[w].push_back(std::move(v));
    }
  }
  std::vector<const EncodedInput*> all;
  for (const auto& vs : variants)
    for (const auto& v : vs) all.push_back(&v);
  const auto var_out = runner_->Run(all);
  std::vector<std::vector<float>> var_probs(n);
  size_t at = 0;
  for (size_t w = 0; w < n; ++w) {
    std::vector<const NamedTensors*> ptrs;
    for (size_t r = 0; r < variants[w].size(); ++r) ptrs.push_back(&var_out[at++].value());
    const EntityResult vr = Decode(text, variants[w], ptrs, &var_probs[w]);
    if (vr.words.size() != n)
      throw Error(ErrorCode::kInternal, "occlusion changed the words of the text (" + std::to_string(n) + " -> " +
                                            std::to_string(vr.words.size()) + ")");
  }
  for (const Entity& e : base.entities) {
    EntityExplanation ex;
    ex.entity = e;
    std::vector<int> lab;
    for (int w = e.first_word; w <= e.last_word; ++w) {
      const auto& tag = base.words[static_cast<size_t>(w)].tag;
      lab.push_back(static_cast<int>(std::find(labels().begin(), labels().end(), tag) - labels().begin()));
    }
    auto entity_prob = [&](const std::vector<float>& probs) {
      double s = 0;
      for (int w = e.first_word; w <= e.last_word; ++w)
        s += probs[static_cast<size_t>(w) * k + lab[static_cast<size_t>(w - e.first_word)]];
      return s / static_cast<double>(lab.size());
    };
    const double b = entity_prob(base_probs);
    float scale = 0;
    std::vector<float> weight(n);
    for (size_t w = 0; w < n; ++w) {
      weight[w] = static_cast<float>(b - entity_prob(var_probs[w]));
      scale = std::max(scale, std::fabs(weight[w]));
    }
    for (size_t w = 0; w < n; ++w) {
      WordAttribution a;
      a.word = base.words[w].text;
      a.begin = base.words[w].begin;
      a.end = base.words[w].end;
      a.weight = scale > 0 ? weight[w] / scale : 0.0f;
      ex.words.push_back(std::move(a));
    }
    out.push_back(std::move(ex));
  }
  return out;
}

}  // namespace sense::text
