// sense/inference/classification.h — classification results and the
// scoring step shared by every classifier (images and text).
//
// Both vision::ImageClassifier and text::TextClassifier return
// Classifications made of Category {index, label, score}, sorted by score,
// highest first.
//
// Thread safety: plain values and a pure function.
#ifndef SENSE_INFERENCE_CLASSIFICATION_H_
#define SENSE_INFERENCE_CLASSIFICATION_H_

#include <optional>
#include <string>
#include <vector>

#include "sense/inference/metadata.h"
#include "sense/inference/ood.h"

namespace sense {

struct Category {
  int index = -1;      // position in the model's label list
  std::string label;   // metadata label
  float score = 0.0f;  // probability after the model's activation (softmax / sigmoid)
};

struct Classifications {
  std::vector<Category> categories;  // sorted by score, highest first
  // Set when the bundle carries an out-of-domain detector (metadata "ood")
  // and ClassifierOptions::detect_out_of_domain is on: the input's score and
  // whether it lies outside the model's domain (see ood.h).
  std::optional<OutOfDomain> out_of_domain;
};

struct ClassifierOptions {
  int max_results = 5;           // top-k to return; -1 = all; 0 or < -1 is Error(kOption)
  float score_threshold = 0.0f;  // categories scoring below are dropped; in [0, 1]
  std::vector<std::string> allow_labels;  // only these labels (exclusive with deny_labels)
  std::vector<std::string> deny_labels;   // never these labels
  bool detect_out_of_domain = true;       // score every input with the bundle's detector, when it has one
};

// Checks the options against a model's labels: unknown labels in the allow
// or deny lists, both lists set, bad max_results or threshold are
// Error(kOption) naming the value.
void ValidateClassifierOptions(const ClassifierOptions& options, const std::vector<std::string>& labels);

// Turns one row of raw model output into Classifications, then filters and
// sorts per `options`. Output type `logits` (and `token_logits`): divided by
// the temperature, then the activation of `output` (softmax over the row,
// sigmoid per class, or none). Output type `probabilities`: the model's
// values exactly as they are (no temperature, no activation).
Classifications Classify(const float* row, int num_classes, const OutputSpec& output,
                         const std::vector<std::string>& labels, const ClassifierOptions& options);

// Probabilities of one row (temperature and activation applied, no filtering).
std::vector<float> Probabilities(const float* row, int num_classes, const OutputSpec& output);

// Filters and sorts probabilities (one per label) per `options`; Classify is
// Probabilities followed by this.
Classifications FromProbabilities(const std::vector<float>& probabilities, const std::vector<std::string>& labels,
                                  const ClassifierOptions& options);

}  // namespace sense

#endif  // SENSE_INFERENCE_CLASSIFICATION_H_
