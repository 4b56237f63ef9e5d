#include "sense/text/tag_scheme.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>
#include <sstream>

#include "sense/inference/error.h"

namespace sense::text {

TagScheme ParseTagScheme(const std::string& name) {
  if (name == "bio" || name == "iob2") return TagScheme::kBIO;
  if (name == "iob1") return TagScheme::kIOB1;
  if (name == "bioes" || name == "bilou" || name == "iobes") return TagScheme::kBIOES;
  throw Error(ErrorCode::kOption, "tag scheme must be bio, iob1 or bioes (bilou); found \"" + name + "\"");
}

const char* TagSchemeName(TagScheme scheme) {
  switch (scheme) {
    case TagScheme::kBIO: return "bio";
    case TagScheme::kIOB1: return "iob1";
    case TagScheme::kBIOES: return "bioes";
  }
  return "?";
}

Tag ParseTag(const std::string& tag) {
  if (tag == "O") return {};
  if (tag.size() < 3 || (tag[1] != '-' && tag[1] != '_'))
    throw Error(ErrorCode::kInput, "tag \"" + tag + "\": expected O or <B|I|E|S|L|U>-<TYPE>, e.g. B-PER");
  char p = tag[0];
  if (p == 'L') p = 'E';
  if (p == 'U') p = 'S';
  if (p != 'B' && p != 'I' && p != 'E' && p != 'S')
    throw Error(ErrorCode::kInput, "tag \"" + tag + "\": prefix must be B, I, E, S, L or U, found '" + tag.substr(0, 1) + "'");
  return {p, tag.substr(2)};
}

namespace {

// conlleval's endOfChunk / startOfChunk, with S and E closing an entity.
bool EndOfChunk(const Tag& prev, const Tag& cur) {
  if (prev.prefix == 'O') return false;
  if (prev.prefix == 'E' || prev.prefix == 'S') return true;
  if (cur.prefix == 'B' || cur.prefix == 'S' || cur.prefix == 'O') return true;
  return prev.type != cur.type;
}

bool StartOfChunk(const Tag& prev, const Tag& cur) {
  if (cur.prefix == 'O') return false;
  if (cur.prefix == 'B' || cur.prefix == 'S') return true;
  if (prev.prefix == 'O' || prev.prefix == 'E' || prev.prefix == 'S') return true;
  return prev.type != cur.type;
}

double LogSumExp(const double* v, int n) {
  double m = -std::numeric_limits<double>::infinity();
  for (int i = 0; i < n; ++i) m = std::max(m, v[i]);
  if (!std::isfinite(m)) return m;
  double s = 0;
  for (int i = 0; i < n; ++i) s += std::exp(v[i] - m);
  return m + std::log(s);
}

void CheckCrf(const std::vector<float>& emissions, int n, const CrfScores& crf) {
  const int k = crf.num_labels();
  if (k <= 0 || crf.end.size() != static_cast<size_t>(k) || crf.transitions.size() != static_cast<size_t>(k) * k)
    throw Error(ErrorCode::kInput, "CRF scores: expected K start, K end and K x K transition scores; found " +
                                       std::to_string(crf.start.size()) + ", " + std::to_string(crf.end.size()) + " and " +
                                       std::to_string(crf.transitions.size()));
  if (n < 0 || emissions.size() != static_cast<size_t>(n) * k)
    throw Error(ErrorCode::kInput, "CRF decoding: expected " + std::to_string(n) + " x " + std::to_string(k) +
                                       " emissions, found " + std::to_string(emissions.size()));
}

}  // namespace

std::vector<TagSpan> TagsToSpans(const std::vector<Tag>& tags) {
  std::vector<TagSpan> out;
  Tag prev;
  int start = -1;
  for (size_t i = 0; i <= tags.size(); ++i) {
    const Tag cur = i < tags.size() ? tags[i] : Tag{};
    if (start >= 0 && EndOfChunk(prev, cur)) {
      out.push_back({prev.type, start, static_cast<int>(i)});
      start = -1;
    }
    if (StartOfChunk(prev, cur)) start = static_cast<int>(i);
    prev = cur;
  }
  return out;
}

std::vector<TagSpan> TagsToSpans(const std::vector<std::string>& tags) {
  std::vector<Tag> parsed;
  parsed.reserve(tags.size());
  for (const auto& t : tags) parsed.push_back(ParseTag(t));
  return TagsToSpans(parsed);
}

std::vector<std::string> SpansToTags(const std::vector<TagSpan>& spans, int length, TagScheme scheme) {
  std::vector<std::string> tags(static_cast<size_t>(std::max(length, 0)), "O");
  std::vector<TagSpan> sorted = spans;
  std::sort(sorted.begin(), sorted.end());
  for (size_t s = 0; s < sorted.size(); ++s) {
    const TagSpan& e = sorted[s];
    if (e.begin < 0 || e.end > length || e.begin >= e.end)
      throw Error(ErrorCode::kInput, "span [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                                         ") is empty or outside " + std::to_string(length) + " words");
    if (s > 0 && sorted[s - 1].end > e.begin) throw Error(ErrorCode::kInput, "overlapping spans");
    for (int i = e.begin; i < e.end; ++i) tags[static_cast<size_t>(i)] = "I-" + e.type;
    switch (scheme) {
      case TagScheme::kBIO: tags[static_cast<size_t>(e.begin)] = "B-" + e.type; break;
      case TagScheme::kIOB1:
        if (s > 0 && sorted[s - 1].end == e.begin && sorted[s - 1].type == e.type)
          tags[static_cast<size_t>(e.begin)] = "B-" + e.type;
        break;
      case TagScheme::kBIOES:
        if (e.end - e.begin == 1) {
          tags[static_cast<size_t>(e.begin)] = "S-" + e.type;
        } else {
          tags[static_cast<size_t>(e.begin)] = "B-" + e.type;
          tags[static_cast<size_t>(e.end - 1)] = "E-" + e.type;
        }
        break;
    }
  }
  return tags;
}

std::vector<int> ViterbiDecode(const std::vector<float>& emissions, int n, const CrfScores& crf) {
  CheckCrf(emissions, n, crf);
  const int k = crf.num_labels();
  if (n == 0) return {};
  std::vector<double> score(static_cast<size_t>(k)), next(static_cast<size_t>(k));
  std::vector<int> back(static_cast<size_t>(n) * k, 0);
  for (int j = 0; j < k; ++j) score[j] = static_cast<double>(crf.start[j]) + emissions[j];
  for (int t = 1; t < n; ++t) {
    for (int j = 0; j < k; ++j) {
      double best = -std::numeric_limits<double>::infinity();
      int arg = 0;
      for (int i = 0; i < k; ++i) {
        const double s = score[i] + crf.transitions[static_cast<size_t>(i) * k + j];
        if (s > best) {
          best = s;
          arg = i;
        }
      }
      next[j] = best + emissions[static_cast<size_t>(t) * k + j];
      back[static_cast<size_t>(t) * k + j] = arg;
    }
    score.swap(next);
  }
  int best = 0;
  for (int j = 0; j < k; ++j)
    if (score[j] + crf.end[j] > score[best] + crf.end[best]) best = j;
  std::vector<int> path(static_cast<size_t>(n));
  path[n - 1] = best;
  for (int t = n - 1; t > 0; --t) path[t - 1] = back[static_cast<size_t>(t) * k + path[t]];
  return path;
}

std::vector<float> CrfMarginals(const std::vector<float>& emissions, int n, const CrfScores& crf) {
  CheckCrf(emissions, n, crf);
  const int k = crf.num_labels();
  std::vector<double> alpha(static_cast<size_t>(n) * k), beta(static_cast<size_t>(n) * k), tmp(static_cast<size_t>(k));
  std::vector<float> out(static_cast<size_t>(n) * k);
  if (n == 0) return out;
  for (int j = 0; j < k; ++j) alpha[j] = static_cast<double>(crf.start[j]) + emissions[j];
  for (int t = 1; t < n; ++t)
    for (int j = 0; j < k; ++j) {
      for (int i = 0; i < k; ++i) tmp[i] = alpha[static_cast<size_t>(t - 1) * k + i] + crf.transitions[static_cast<size_t>(i) * k + j];
      alpha[static_cast<size_t>(t) * k + j] = LogSumExp(tmp.data(), k) + emissions[static_cast<size_t>(t) * k + j];
    }
  for (int j = 0; j < k; ++j) beta[static_cast<size_t>(n - 1) * k + j] = crf.end[j];
  for (int t = n - 2; t >= 0; --t)
    for (int i = 0; i < k; ++i) {
      for (int j = 0; j < k; ++j)
        tmp[j] = crf.transitions[static_cast<size_t>(i) * k + j] + emissions[static_cast<size_t>(t + 1) * k + j] +
                 beta[static_cast<size_t>(t + 1) * k + j];
      beta[static_cast<size_t>(t) * k + i] = LogSumExp(tmp.data(), k);
    }
  for (int j = 0; j < k; ++j) tmp[j] = alpha[static_cast<size_t>(n - 1) * k + j] + crf.end[j];
  const double logz = LogSumExp(tmp.data(), k);
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(std::exp(alpha[i] + beta[i] - logz));
  return out;
}

double PathScore(const std::vector<float>& emissions, const std::vector<int>& path, const CrfScores& crf) {
  const int n = static_cast<int>(path.size());
  CheckCrf(emissions, n, crf);
  const int k = crf.num_labels();
  if (n == 0) return 0;
  double s = crf.start[path[0]] + crf.end[path[n - 1]];
  for (int t = 0; t < n; ++t) {
    s += emissions[static_cast<size_t>(t) * k + path[t]];
    if (t > 0) s += crf.transitions[static_cast<size_t>(path[t - 1]) * k + path[t]];
  }
  return s;
}

void EntityEvaluator::Add(const std::vector<std::string>& gold, const std::vector<std::string>& predicted) {
  if (gold.size() != predicted.size())
    throw Error(ErrorCode::kInput, "a sentence has " + std::to_string(gold.size()) + " gold tags but " +
                                       std::to_string(predicted.size()) + " predicted tags");
  const auto g = TagsToSpans(gold);
  const auto p = TagsToSpans(predicted);
  tokens_ += static_cast<long>(gold.size());
  for (size_t i = 0; i < gold.size(); ++i) correct_tags_ += gold[i] == predicted[i];
  const std::set<TagSpan> pset(p.begin(), p.end()), gset(g.begin(), g.end());
  for (const auto& e : g) {
    types_[e.type].type = e.type;
    ++types_[e.type].gold;
  }
  for (const auto& e : p) {
    types_[e.type].type = e.type;
    ++types_[e.type].predicted;
    if (gset.count(e)) ++types_[e.type].correct;
  }
  auto overlaps = [](const TagSpan& a, const TagSpan& b) { return a.begin < b.end && b.begin < a.end; };
  for (const auto& e : g) {
    if (pset.count(e)) continue;
    const TagSpan* same_words = nullptr;
    bool same_type_overlap = false, any_overlap = false;
    for (const auto& q : p) {
      if (q.begin == e.begin && q.end == e.end) same_words = &q;
      if (overlaps(q, e)) {
        any_overlap = true;
        same_type_overlap = same_type_overlap || q.type == e.type;
      }
    }
    if (same_words) ++errors_.type_confusions[e.type][same_words->type];
    else if (same_type_overlap) ++errors_.boundary[e.type];
    else if (any_overlap) ++errors_.boundary_and_type[e.type];
    else ++errors_.missed[e.type];
  }
  for (const auto& q : p) {
    bool any = false;
    for (const auto& e : g) any = any || overlaps(q, e);
    if (!any) ++errors_.spurious[q.type];
  }
}

namespace {

void Finish(EntityScores* s) {
  s->precision = s->predicted ? 100.0 * s->correct / s->predicted : 0.0;
  s->recall = s->gold ? 100.0 * s->correct / s->gold : 0.0;
  s->f1 = s->precision + s->recall > 0 ? 2 * s->precision * s->recall / (s->precision + s->recall) : 0.0;
}

}  // namespace

EntityReport EntityEvaluator::Report() const {
  EntityReport r;
  r.tokens = tokens_;
  r.correct_tags = correct_tags_;
  for (const auto& [type, s] : types_) {
    EntityScores t = s;
    Finish(&t);
    r.types.push_back(t);
    r.overall.gold += s.gold;
    r.overall.predicted += s.predicted;
    r.overall.correct += s.correct;
  }
  Finish(&r.overall);
  r.errors = errors_;
  return r;
}

std::string EntityEvaluator::Format(const EntityReport& r) {
  std::ostringstream o;
  char buf[256];
  o << "processed " << r.tokens << " tokens with " << r.overall.gold << " phrases; found: " << r.overall.predicted
    << " phrases; correct: " << r.overall.correct << ".\n";
  std::snprintf(buf, sizeof buf, "accuracy: %6.2f%%; precision: %6.2f%%; recall: %6.2f%%; FB1: %6.2f\n",
                r.tokens ? 100.0 * r.correct_tags / r.tokens : 0.0, r.overall.precision, r.overall.recall, r.overall.f1);
  o << buf;
  for (const auto& t : r.types) {
    std::snprintf(buf, sizeof buf, "%17s: precision: %6.2f%%; recall: %6.2f%%; FB1: %6.2f  %ld\n", t.type.c_str(),
                  t.precision, t.recall, t.f1, t.predicted);
    o << buf;
  }
  // Error table: one row per gold type.
  std::set<std::string> types;
  for (const auto& t : r.types) types.insert(t.type);
  o << "\nerrors by gold type (a gold entity not found exactly):\n";
  std::string header = "      gold  boundary  bnd+type  missed";
  for (const auto& t : types) header += "  as " + t;
  o << header << "\n";
  auto get = [](const std::map<std::string, long>& m, const std::string& k) {
    const auto it = m.find(k);
    return it == m.end() ? 0L : it->second;
  };
  for (const auto& t : types) {
    std::snprintf(buf, sizeof buf, "%10s  %8ld  %8ld  %6ld", t.c_str(), get(r.errors.boundary, t),
                  get(r.errors.boundary_and_type, t), get(r.errors.missed, t));
    o << buf;
    const auto row = r.errors.type_confusions.find(t);
    for (const auto& u : types) {
      const long v = row == r.errors.type_confusions.end() ? 0 : get(row->second, u);
      std::snprintf(buf, sizeof buf, "  %*ld", static_cast<int>(u.size()) + 3, v);
      o << buf;
    }
    o << "\n";
  }
  o << "spurious (predicted, overlapping no gold entity):";
  for (const auto& [t, v] : r.errors.spurious) o << " " << t << " " << v;
  o << "\n"
    << "boundary: a prediction of the same type overlaps it with other boundaries; bnd+type: only predictions of\n"
       "another type overlap it, with other boundaries; missed: nothing overlaps it; as X: predicted with exactly\n"
       "its words but type X\n";
  return o.str();
}

}  // namespace sense::text
