// sense/inference/ood.h — out-of-domain scores shared by every classifier
// (images and text).
//
// A classification bundle may carry a detector fitted on its training data
// (metadata "ood", OodSpec; fitted by scripts/fit_ood.py): signals computed
// from the model's own outputs of the same forward pass (penultimate
// features, logits) and, for text, from its tokenizer. OodScorer turns one
// input's outputs into OutOfDomain {score, flag}. The math is in
// docs/model-format.md ("ood") and mirrored by scripts/fit_ood.py.
//
// Thread safety: OodScorer is immutable after construction; its const
// methods are safe to call from several threads at once.
#ifndef SENSE_INFERENCE_OOD_H_
#define SENSE_INFERENCE_OOD_H_

#include <limits>
#include <string>
#include <vector>

#include "sense/inference/metadata.h"

namespace sense {

struct OutOfDomain {
  float score = 0.0f;  // the largest standardised signal; higher = less like the data the model was fitted on
  bool flag = false;   // score > the bundle's threshold: the input is outside the model's domain
};

// What the scorer reads for one input. Pointers are borrowed for the call.
struct OodInputs {
  const float* logits = nullptr;    // the classification output row (before temperature / activation)
  int num_classes = 0;
  const float* features = nullptr;  // the features output row (kMahalanobis)
  int feature_dim = 0;
  float unknown_share = std::numeric_limits<float>::quiet_NaN();  // kUnknownShare: in [0, 1]
};

class OodScorer {
 public:
  // `spec` from the metadata, the model's label count and output
  // temperature, and the bytes of spec.statistics_asset (empty unless a
  // signal is kMahalanobis). Throws Error(kMetadata) naming the asset when
  // its size is not 4 * (num_classes * D + D * D) bytes or a value is not
  // finite.
  OodScorer(OodSpec spec, int num_classes, float temperature, const std::string& statistics);

  // The raw value of each of spec().signals, in order. Throws
  // Error(kInternal) when an input the signals need is missing or has the
  // wrong size.
  std::vector<double> RawSignals(const OodInputs& in) const;
  // max over signals of (raw - loc) / scale, and the flag (score >
  // threshold). A NaN signal makes the score NaN and flags the input.
  OutOfDomain FromRaw(const std::vector<double>& raw) const;
  OutOfDomain Score(const OodInputs& in) const { return FromRaw(RawSignals(in)); }

  const OodSpec& spec() const { return spec_; }
  bool needs_features() const { return spec_.Uses(OodSignalKind::kMahalanobis); }

 private:
  OodSpec spec_;
  int num_classes_;
  float temperature_;
  int dim_ = 0;
  std::vector<double> precision_;  // [D, D]
  std::vector<double> pmu_;        // P * mu_k, [K, D]
  std::vector<double> mupmu_;      // mu_k^T P mu_k, [K]
};

}  // namespace sense

#endif  // SENSE_INFERENCE_OOD_H_
