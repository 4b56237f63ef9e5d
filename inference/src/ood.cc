#include "sense/inference/ood.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "sense/inference/error.h"

namespace sense {

OodScorer::OodScorer(OodSpec spec, int num_classes, float temperature, const std::string& statistics)
    : spec_(std::move(spec)), num_classes_(num_classes), temperature_(temperature > 0 ? temperature : 1.0f) {
  if (!needs_features()) return;
  const int64_t d = spec_.feature_dim, k = num_classes_;
  const uint64_t floats = static_cast<uint64_t>(k * d + d * d);
  if (statistics.size() != floats * 4)
    throw Error(ErrorCode::kMetadata, "ood statistics asset '" + spec_.statistics_asset + "': expected " +
                                          std::to_string(floats * 4) + " bytes (float32 means [" + std::to_string(k) + ", " +
                                          std::to_string(d) + "] and precision [" + std::to_string(d) + ", " +
                                          std::to_string(d) + "]), found " + std::to_string(statistics.size()));
  std::vector<float> v(floats);
  std::memcpy(v.data(), statistics.data(), statistics.size());  // little-endian hosts (x86-64, aarch64)
  for (size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i]))
      throw Error(ErrorCode::kMetadata, "ood statistics asset '" + spec_.statistics_asset + "': value " + std::to_string(i) +
                                            " is not finite");
  dim_ = static_cast<int>(d);
  precision_.assign(v.begin() + k * d, v.end());
  pmu_.assign(static_cast<size_t>(k * d), 0.0);
  mupmu_.assign(static_cast<size_t>(k), 0.0);
  for (int64_t c = 0; c < k; ++c) {
    const float* mu = v.data() + c * d;
    for (int64_t i = 0; i < d; ++i) {
      double acc = 0;
      for (int64_t j = 0; j < d; ++j) acc += precision_[static_cast<size_t>(i * d + j)] * mu[j];
      pmu_[static_cast<size_t>(c * d + i)] = acc;
      mupmu_[static_cast<size_t>(c)] += mu[i] * acc;
    }
  }
}

std::vector<double> OodScorer::RawSignals(const OodInputs& in) const {
  std::vector<double> raw;
  raw.reserve(spec_.signals.size());
  auto need_logits = [&] {
    if (!in.logits || in.num_classes != num_classes_)
      throw Error(ErrorCode::kInternal, "ood: expected a logits row of " + std::to_string(num_classes_) + " values, found " +
                                            std::to_string(in.logits ? in.num_classes : 0));
  };
  for (const OodSignal& g : spec_.signals) {
    switch (g.kind) {
      case OodSignalKind::kMahalanobis: {
        if (!in.features || in.feature_dim != dim_)
          throw Error(ErrorCode::kInternal, "ood: expected a features row of " + std::to_string(dim_) + " values, found " +
                                                std::to_string(in.features ? in.feature_dim : 0));
        // (f - mu)^T P (f - mu) = f^T P f - 2 f^T (P mu) + mu^T P mu, P symmetric.
        const int64_t d = dim_;
        double fpf = 0;
        for (int64_t i = 0; i < d; ++i) {
          double acc = 0;
          const double* row = precision_.data() + i * d;
          for (int64_t j = 0; j < d; ++j) acc += row[j] * in.features[j];
          fpf += in.features[i] * acc;
        }
        double best = INFINITY;
        for (int c = 0; c < num_classes_; ++c) {
          double dot = 0;
          const double* pm = pmu_.data() + static_cast<int64_t>(c) * d;
          for (int64_t i = 0; i < d; ++i) dot += in.features[i] * pm[i];
          best = std::min(best, fpf - 2 * dot + mupmu_[static_cast<size_t>(c)]);
        }
        raw.push_back(std::max(0.0, best));
        break;
      }
      case OodSignalKind::kEnergy:
      case OodSignalKind::kMaxLogit:
      case OodSignalKind::kMaxSoftmax: {
        need_logits();
        const double t = g.kind == OodSignalKind::kMaxSoftmax ? temperature_ : 1.0;
        double mx = -INFINITY;
        for (int i = 0; i < in.num_classes; ++i) mx = std::max(mx, in.logits[i] / t);
        if (g.kind == OodSignalKind::kMaxLogit) {
          raw.push_back(-mx);
          break;
        }
        double sum = 0;
        for (int i = 0; i < in.num_classes; ++i) sum += std::exp(in.logits[i] / t - mx);
        raw.push_back(g.kind == OodSignalKind::kEnergy ? -(mx + std::log(sum)) : -1.0 / sum);
        break;
      }
      case OodSignalKind::kUnknownShare:
        if (!(in.unknown_share >= 0 && in.unknown_share <= 1))
          throw Error(ErrorCode::kInternal, "ood: signal unknown_share needs the text's share of unknown tokens");
        raw.push_back(in.unknown_share);
        break;
    }
  }
  return raw;
}

OutOfDomain OodScorer::FromRaw(const std::vector<double>& raw) const {
  if (raw.size() != spec_.signals.size())
    throw Error(ErrorCode::kInternal, "ood: expected " + std::to_string(spec_.signals.size()) + " raw signals, found " +
                                          std::to_string(raw.size()));
  double score = -INFINITY;
  for (size_t i = 0; i < raw.size(); ++i) {
    const double z = (raw[i] - spec_.signals[i].loc) / spec_.signals[i].scale;
    if (std::isnan(z)) {  // a model output that is not a number: not like anything it was fitted on
      score = NAN;
      break;
    }
    score = std::max(score, z);
  }
  OutOfDomain o;
  o.score = static_cast<float>(score);
  o.flag = !(score <= spec_.threshold);  // NaN counts as out of domain
  return o;
}

}  // namespace sense
