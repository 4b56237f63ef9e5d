// sense/text/text_classifier.h — classify texts with any text
// classification bundle (sentiment, topics ...), and explain the answer.
//
//   sense::text::TextClassifierOptions options;
//   options.model.path = "models/sentiment-sst2.pt";
//   auto classifier = sense::text::TextClassifier::Create(options);
//   auto r = classifier->Classify("A gorgeous, witty, seductive movie.");
//   // r.classifications.categories[0]: {1, "positive", 0.98}
//
// The tokenizer, sequence length, truncation, labels, activation and
// calibration all come from the bundle's metadata.
//
// Input contract: UTF-8 text. Invalid UTF-8 is Error(kInput) naming the byte
// (or replaced with U+FFFD when options.invalid_utf8 says so); a text with
// no tokens (empty or blank) is Error(kInput). Texts longer than the model's
// max_length are truncated, or split into overlapping windows whose
// probabilities are averaged (truncation "window"); the result says which.
// Ownership: the classifier owns its model and tokenizer; texts are only read.
// Out of domain: with a bundle that carries a detector (metadata "ood"),
// every result has classifications.out_of_domain set, from the same model
// call (the features output comes with the logits) and the text's share of
// unknown tokens.
// Thread safety: Classify, ClassifyBatch and Explain are const and safe to
// call from several threads at once.
#ifndef SENSE_TEXT_TEXT_CLASSIFIER_H_
#define SENSE_TEXT_TEXT_CLASSIFIER_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sense/inference/classification.h"
#include "sense/inference/model.h"
#include "sense/inference/outcome.h"
#include "sense/text/text_runner.h"
#include "sense/text/tokenizer.h"

namespace sense::text {

struct TextClassifierOptions {
  ModelOptions model;            // path (required), device, threads
  ClassifierOptions classifier;  // top-k, score threshold, allow/deny labels
  int max_batch_size = 32;       // sequences per model call in ClassifyBatch; >= 1
  InvalidUtf8 invalid_utf8 = InvalidUtf8::kError;
};

struct TextClassification {
  Classifications classifications;
  int num_tokens = 0;      // tokens of the text (special tokens excluded)
  bool truncated = false;  // tokens past max_length were dropped
  int windows = 1;         // windows whose probabilities were averaged
};

// How much a word pushed the prediction towards (positive weight) or away
// from (negative) the explained category.
struct WordAttribution {
  std::string word;         // the text's bytes [begin, end)
  std::size_t begin = 0, end = 0;
  float weight = 0.0f;      // signed; the largest magnitude in a text is 1
};

struct TextExplanation {
  Category category;       // the class explained
  std::string method;      // "integrated_gradients" or "occlusion"
  std::vector<WordAttribution> words;  // in text order
};

enum class TextExplainMethod {
  kAuto,                 // integrated gradients when the bundle supports them, else occlusion
  kIntegratedGradients,  // needs a TorchScript bundle whose metadata names its embedding and head methods
  kOcclusion,            // any bundle: each word left out in turn
};
// Parses "auto", "integrated_gradients", "occlusion"; anything else is
// Error(kOption) listing them.
TextExplainMethod ParseTextExplainMethod(const std::string& name);
const char* TextExplainMethodName(TextExplainMethod method);

struct TextExplainOptions {
  TextExplainMethod method = TextExplainMethod::kAuto;
  int steps = 32;  // integrated gradients: Riemann steps, >= 2
};

class TextClassifier {
 public:
  // Loads the bundle (must be text_classification) through the text runner
  // (text_runner.h: tokenizer from the bundled asset, inputs bound to their
  // roles, load-time checks on real text inputs), checks the options.
  // Throws sense::Error.
  static std::unique_ptr<TextClassifier> Create(const TextClassifierOptions& options);

  // Throws the text's Error (kInput for a bad text, kBackend when the model
  // fails on it).
  TextClassification Classify(std::string_view text) const;
  // One outcome per text, in order: its classification, or the Error for
  // that text alone (invalid UTF-8, no tokens, too long without truncation,
  // a model that raises on it); the other texts are classified as usual.
  // Rows are sorted by length into batches of similar length (less padding),
  // padded to each batch's longest; a failing batch is retried row by row.
  std::vector<Outcome<TextClassification>> ClassifyBatch(const std::vector<std::string>& texts) const;

  // Word attributions for `category_index` (-1: the top prediction). The
  // explanation sees exactly the rows Classify feeds (every window of a long
  // text, attributions averaged over windows as the probabilities are), so
  // its category is Classify's top label. Throws sense::Error.
  TextExplanation Explain(std::string_view text, int category_index = -1,
                          const TextExplainOptions& options = {}) const;
  // Error(kOption) naming the field for bad explain options.
  static void ValidateExplainOptions(const TextExplainOptions& options);

  const ModelMetadata& metadata() const { return runner_->metadata(); }
  const Model& model() const { return runner_->model(); }
  const Tokenizer& tokenizer() const { return runner_->tokenizer(); }
  const TextRunner& runner() const { return *runner_; }

 private:
  TextClassifier(TextClassifierOptions options, std::unique_ptr<TextRunner> runner);
  // The probabilities of one model output row ([1, K]).
  std::vector<float> RowProbabilities(const NamedTensors& row_outputs) const;
  // Mean probabilities over each group's rows (a text's windows); the first
  // failing row's error for a group.
  // With `ood` (and a detector): each group's out-of-domain score from the
  // same rows, the raw signals averaged over the group's rows.
  std::vector<Outcome<std::vector<float>>> GroupProbabilities(const std::vector<std::vector<EncodedInput>>& groups,
                                                              std::vector<std::optional<OutOfDomain>>* ood = nullptr) const;

  TextClassifierOptions options_;
  std::unique_ptr<TextRunner> runner_;
  std::optional<OodScorer> ood_;  // the bundle's out-of-domain detector, when it has one and it is enabled
};

}  // namespace sense::text

#endif  // SENSE_TEXT_TEXT_CLASSIFIER_H_
