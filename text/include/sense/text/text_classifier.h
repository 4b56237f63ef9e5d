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
// Thread safety: Classify, ClassifyBatch and Explain are const and safe to
// call from several threads at once.
#ifndef SENSE_TEXT_TEXT_CLASSIFIER_H_
#define SENSE_TEXT_TEXT_CLASSIFIER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sense/inference/classification.h"
#include "sense/inference/model.h"
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

struct TextExplainOptions {
  std::string method = "auto";  // "auto", "integrated_gradients", "occlusion"
  int steps = 32;               // integrated gradients: Riemann steps, >= 2
};

class TextClassifier {
 public:
  // Loads the bundle (must be text_classification), builds its tokenizer
  // from the bundled asset, checks the options. Throws sense::Error.
  static std::unique_ptr<TextClassifier> Create(const TextClassifierOptions& options);

  TextClassification Classify(std::string_view text) const;
  // One result per text, in order. Texts are sorted by length into batches
  // of similar length (less padding), padded to each batch's longest.
  // A bad text (invalid UTF-8, no tokens, too long without truncation)
  // throws, unless `errors` is given: then its message goes to (*errors)[i],
  // its result stays empty, and the other texts are classified as usual.
  std::vector<TextClassification> ClassifyBatch(const std::vector<std::string>& texts,
                                                std::vector<std::string>* errors = nullptr) const;

  // Word attributions for `category_index` (-1: the top prediction).
  TextExplanation Explain(std::string_view text, int category_index = -1,
                          const TextExplainOptions& options = {}) const;

  const ModelMetadata& metadata() const { return model_->metadata(); }
  const Model& model() const { return *model_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }

 private:
  struct Encoded;
  TextClassifier(TextClassifierOptions options, std::unique_ptr<Model> model, std::unique_ptr<Tokenizer> tokenizer);
  Encoded Encode(std::string_view text) const;
  std::vector<std::vector<float>> RunRows(const std::vector<const std::vector<int>*>& rows) const;

  TextClassifierOptions options_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::string ids_input_, mask_input_;
};

}  // namespace sense::text

#endif  // SENSE_TEXT_TEXT_CLASSIFIER_H_
