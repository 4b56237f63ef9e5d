#include "sense/inference/evaluation.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "sense/inference/error.h"

namespace sense {

ClassificationEvaluator::ClassificationEvaluator(std::vector<std::string> labels) : labels_(std::move(labels)) {
  if (labels_.empty()) throw Error(ErrorCode::kOption, "evaluation needs at least one label");
}

void ClassificationEvaluator::Add(int truth, const std::vector<float>& p) {
  const int k = static_cast<int>(labels_.size());
  if (truth < 0 || truth >= k)
    throw Error(ErrorCode::kInput, "true class " + std::to_string(truth) + " out of range [0, " + std::to_string(k) + ")");
  if (static_cast<int>(p.size()) != k)
    throw Error(ErrorCode::kInput, "expected " + std::to_string(k) + " probabilities, found " + std::to_string(p.size()));
  const auto best = std::max_element(p.begin(), p.end());
  truth_.push_back(truth);
  predicted_.push_back(static_cast<int>(best - p.begin()));
  confidence_.push_back(*best);
}

ClassificationReport ClassificationEvaluator::Report() const {
  const size_t k = labels_.size();
  ClassificationReport r;
  r.examples = static_cast<int>(truth_.size());
  r.confusion.assign(k, std::vector<int>(k, 0));
  int correct = 0;
  for (size_t i = 0; i < truth_.size(); ++i) {
    ++r.confusion[static_cast<size_t>(truth_[i])][static_cast<size_t>(predicted_[i])];
    correct += truth_[i] == predicted_[i];
  }
  r.accuracy = r.examples ? static_cast<double>(correct) / r.examples : 0;
  int present = 0;
  for (size_t c = 0; c < k; ++c) {
    ClassMetrics m;
    m.label = labels_[c];
    int tp = r.confusion[c][c], pred = 0;
    for (size_t t = 0; t < k; ++t) pred += r.confusion[t][c];
    for (size_t q = 0; q < k; ++q) m.support += r.confusion[c][q];
    m.precision = pred ? static_cast<double>(tp) / pred : 0;
    m.recall = m.support ? static_cast<double>(tp) / m.support : 0;
    m.f1 = m.precision + m.recall > 0 ? 2 * m.precision * m.recall / (m.precision + m.recall) : 0;
    if (m.support > 0) {
      ++present;
      r.macro_precision += m.precision;
      r.macro_recall += m.recall;
      r.macro_f1 += m.f1;
    }
    r.classes.push_back(m);
  }
  if (present) {
    r.macro_precision /= present;
    r.macro_recall /= present;
    r.macro_f1 /= present;
  }
  // ECE: |accuracy - confidence| per confidence bin, weighted by bin size.
  const int bins = 15;
  std::vector<double> conf(bins, 0), acc(bins, 0);
  std::vector<int> count(bins, 0);
  for (size_t i = 0; i < truth_.size(); ++i) {
    const int b = std::min(bins - 1, static_cast<int>(confidence_[i] * bins));
    conf[static_cast<size_t>(b)] += confidence_[i];
    acc[static_cast<size_t>(b)] += truth_[i] == predicted_[i];
    ++count[static_cast<size_t>(b)];
  }
  for (int b = 0; b < bins; ++b)
    if (count[static_cast<size_t>(b)])
      r.expected_calibration_error += std::fabs(acc[static_cast<size_t>(b)] - conf[static_cast<size_t>(b)]) / std::max(1, r.examples);
  return r;
}

std::string ClassificationEvaluator::Format(const ClassificationReport& r) {
  std::ostringstream o;
  char line[512];
  size_t w = 9;  // "macro avg"
  for (size_t i = 0; i < r.classes.size(); ++i) w = std::max(w, r.classes[i].label.size() + std::to_string(i).size() + 1);
  std::snprintf(line, sizeof(line), "%-*s  %9s  %6s  %6s  %7s\n", static_cast<int>(w), "class", "precision", "recall", "F1", "support");
  o << line;
  for (const auto& c : r.classes) {
    std::snprintf(line, sizeof(line), "%-*s  %9.4f  %6.4f  %6.4f  %7d\n", static_cast<int>(w), c.label.c_str(), c.precision, c.recall, c.f1, c.support);
    o << line;
  }
  std::snprintf(line, sizeof(line), "%-*s  %9.4f  %6.4f  %6.4f  %7d\n", static_cast<int>(w), "macro avg", r.macro_precision, r.macro_recall, r.macro_f1, r.examples);
  o << line << "\nconfusion matrix (rows: true class, columns: predicted)\n";
  std::snprintf(line, sizeof(line), "%-*s", static_cast<int>(w), "");
  o << line;
  for (size_t c = 0; c < r.classes.size(); ++c) {
    std::snprintf(line, sizeof(line), " %6zu", c);
    o << line;
  }
  o << "\n";
  for (size_t t = 0; t < r.classes.size(); ++t) {
    std::snprintf(line, sizeof(line), "%-*s", static_cast<int>(w), (std::to_string(t) + " " + r.classes[t].label).c_str());
    o << line;
    for (int v : r.confusion[t]) {
      std::snprintf(line, sizeof(line), " %6d", v);
      o << line;
    }
    o << "\n";
  }
  return o.str();
}

OodReport EvaluateOod(const std::vector<float>& in, const std::vector<float>& out, double threshold) {
  if (in.empty() || out.empty())
    throw Error(ErrorCode::kInput, "out-of-domain evaluation needs in-domain and out-of-domain scores; found " +
                                       std::to_string(in.size()) + " and " + std::to_string(out.size()));
  OodReport r;
  r.in_domain = static_cast<int>(in.size());
  r.out_of_domain = static_cast<int>(out.size());
  // AUROC by ranks (Mann-Whitney U), ties counted half.
  std::vector<std::pair<float, int>> all;
  for (float v : in) all.emplace_back(v, 0);
  for (float v : out) all.emplace_back(v, 1);
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  double rank_sum = 0;
  for (size_t i = 0; i < all.size();) {
    size_t j = i;
    while (j < all.size() && all[j].first == all[i].first) ++j;
    const double rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2.0;  // mean rank of the tie group
    for (size_t k = i; k < j; ++k)
      if (all[k].second == 1) rank_sum += rank;
    i = j;
  }
  const double n_out = static_cast<double>(out.size()), n_in = static_cast<double>(in.size());
  r.auroc = (rank_sum - n_out * (n_out + 1) / 2) / (n_in * n_out);
  std::vector<float> sorted_in(in);
  std::sort(sorted_in.begin(), sorted_in.end());
  const size_t k = static_cast<size_t>(std::ceil(0.95 * n_in - 1e-9));  // accept at least 95 % of in-domain inputs
  r.threshold_at_95 = sorted_in[std::max<size_t>(k, 1) - 1];
  auto accepted = [](const std::vector<float>& v, double t) {
    size_t n = 0;
    for (float x : v) n += x <= t;
    return static_cast<double>(n) / static_cast<double>(v.size());
  };
  r.fpr_at_95_tpr = accepted(out, r.threshold_at_95);
  r.threshold = threshold;
  r.tpr = accepted(in, threshold);
  r.fpr = accepted(out, threshold);
  return r;
}

}  // namespace sense
