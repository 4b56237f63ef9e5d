#include "sense/inference/classification.h"

#include <algorithm>
#include <cmath>

#include "sense/inference/error.h"

namespace sense {

void ValidateClassifierOptions(const ClassifierOptions& o, const std::vector<std::string>& labels) {
  if (o.max_results == 0 || o.max_results < -1)
    throw Error(ErrorCode::kOption, "max_results must be -1 (all) or >= 1, found " + std::to_string(o.max_results));
  if (!(o.score_threshold >= 0.0f && o.score_threshold <= 1.0f))
    throw Error(ErrorCode::kOption, "score_threshold must be in [0, 1], found " + std::to_string(o.score_threshold));
  if (!o.allow_labels.empty() && !o.deny_labels.empty())
    throw Error(ErrorCode::kOption, "allow_labels and deny_labels are exclusive; set one of them");
  for (const auto* list : {&o.allow_labels, &o.deny_labels})
    for (const auto& l : *list)
      if (std::find(labels.begin(), labels.end(), l) == labels.end()) {
        std::string known;
        for (size_t i = 0; i < labels.size() && i < 12; ++i) known += (i ? ", " : "") + labels[i];
        if (labels.size() > 12) known += ", ...";
        throw Error(ErrorCode::kOption, "label \"" + l + "\" is not one of the model's labels (" + known + ")");
      }
}

std::vector<float> Probabilities(const float* row, int n, const OutputSpec& output) {
  std::vector<float> p(row, row + n);
  // A model that emits probabilities is taken at its word: no temperature,
  // no second activation (ParseMetadata refuses both for this type).
  if (output.type == OutputType::kProbabilities) return p;
  const float t = output.temperature > 0 ? output.temperature : 1.0f;
  switch (output.activation) {
    case Activation::kSoftmax: {
      float mx = -INFINITY;
      for (float& v : p) { v /= t; mx = std::max(mx, v); }
      double sum = 0;
      for (float& v : p) { v = std::exp(v - mx); sum += v; }
      for (float& v : p) v = static_cast<float>(v / sum);
      break;
    }
    case Activation::kSigmoid:
      for (float& v : p) v = 1.0f / (1.0f + std::exp(-v / t));
      break;
    case Activation::kNone:
      break;
  }
  return p;
}

Classifications FromProbabilities(const std::vector<float>& p, const std::vector<std::string>& labels,
                                  const ClassifierOptions& options) {
  if (p.size() != labels.size())
    throw Error(ErrorCode::kInternal, "classifier has " + std::to_string(p.size()) + " scores for " +
                                          std::to_string(labels.size()) + " labels");
  Classifications out;
  for (size_t i = 0; i < p.size(); ++i) {
    const std::string& l = labels[i];
    if (!options.allow_labels.empty() &&
        std::find(options.allow_labels.begin(), options.allow_labels.end(), l) == options.allow_labels.end())
      continue;
    if (std::find(options.deny_labels.begin(), options.deny_labels.end(), l) != options.deny_labels.end()) continue;
    if (p[i] < options.score_threshold) continue;
    out.categories.push_back({static_cast<int>(i), l, p[i]});
  }
  std::stable_sort(out.categories.begin(), out.categories.end(),
                   [](const Category& a, const Category& b) { return a.score > b.score; });
  if (options.max_results > 0 && out.categories.size() > static_cast<size_t>(options.max_results))
    out.categories.resize(static_cast<size_t>(options.max_results));
  return out;
}

Classifications Classify(const float* row, int n, const OutputSpec& output, const std::vector<std::string>& labels,
                         const ClassifierOptions& options) {
  return FromProbabilities(Probabilities(row, n, output), labels, options);
}

}  // namespace sense
