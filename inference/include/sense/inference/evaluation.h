// sense/inference/evaluation.h — classification metrics shared by the
// image and text evaluators (sense-eval).
//
// Thread safety: ClassificationEvaluator is thread-compatible (one thread
// adds; const methods may be called concurrently once adding is done).
#ifndef SENSE_INFERENCE_EVALUATION_H_
#define SENSE_INFERENCE_EVALUATION_H_

#include <string>
#include <vector>

namespace sense {

struct ClassMetrics {
  std::string label;
  int support = 0;  // examples whose true class this is
  double precision = 0, recall = 0, f1 = 0;
};

struct ClassificationReport {
  int examples = 0;
  double accuracy = 0;
  double macro_precision = 0, macro_recall = 0, macro_f1 = 0;
  double expected_calibration_error = 0;  // 15 equal-width confidence bins
  std::vector<ClassMetrics> classes;
  std::vector<std::vector<int>> confusion;  // [true][predicted]
};

class ClassificationEvaluator {
 public:
  explicit ClassificationEvaluator(std::vector<std::string> labels);
  // Adds one example: its true class and the model's probabilities over all
  // classes (size = labels). Throws Error(kInput) on a bad index or size.
  void Add(int truth, const std::vector<float>& probabilities);
  ClassificationReport Report() const;
  // A text table: per-class precision/recall/F1/support, then the confusion matrix.
  static std::string Format(const ClassificationReport& report);

 private:
  std::vector<std::string> labels_;
  std::vector<int> truth_, predicted_;
  std::vector<float> confidence_;
};

// Out-of-domain detection quality (sense-eval --ood): scores of in-domain
// and of out-of-domain inputs, higher meaning "less in-domain".
struct OodReport {
  int in_domain = 0, out_of_domain = 0;  // inputs scored
  double auroc = 0;             // P(score of a random out-of-domain input > a random in-domain one), ties count half
  double threshold_at_95 = 0;   // the score that accepts (score <= it) 95 % of the in-domain inputs
  double fpr_at_95_tpr = 0;     // share of out-of-domain inputs accepted at threshold_at_95
  double threshold = 0;         // the detector's own threshold
  double tpr = 0;               // share of in-domain inputs it accepts (score <= threshold)
  double fpr = 0;               // share of out-of-domain inputs it accepts
};
// Throws Error(kInput) when either list is empty.
OodReport EvaluateOod(const std::vector<float>& in_domain, const std::vector<float>& out_of_domain, double threshold);

}  // namespace sense

#endif  // SENSE_INFERENCE_EVALUATION_H_
