// sense/text/text_runner.h — the one text runner every text task shares:
// texts to encoded rows (special tokens, truncation or windows, as the
// bundle says), rows to padded tensors (text_inputs.h), batches of similar
// length to the model, and one outcome per item.
//
//   TextRunnerOptions o;
//   o.model.path = "models/sentiment-sst2.pt";
//   auto runner = TextRunner::Create(o);
//   auto encoded = runner->Encode(texts);          // one Outcome per text: its rows
//   std::vector<const EncodedInput*> rows = ...;   // the rows of the texts that encoded
//   auto outputs = runner->Run(rows);              // one Outcome per row: its outputs
//
// A task adds its pre- and post-processing only (TextClassifier: averaging
// window probabilities; entity and embedding tasks: per-token outputs).
//
// Ownership: the runner owns its model and tokenizer. Rows passed to Run are
// only read, during the call.
// Thread safety: Encode, Inputs and Run are const and safe to call from
// several threads at once.
#ifndef SENSE_TEXT_TEXT_RUNNER_H_
#define SENSE_TEXT_TEXT_RUNNER_H_

#include <memory>
#include <string>
#include <vector>

#include "sense/inference/model.h"
#include "sense/inference/outcome.h"
#include "sense/text/model_inputs.h"
#include "sense/text/text_inputs.h"
#include "sense/text/tokenizer.h"

namespace sense::text {

struct TextRunnerOptions {
  ModelOptions model;       // path (required), device, threads; sample_inputs: empty = SampleInputsFor(the bundle's tokenizer)
  int max_batch_size = 32;  // rows per model call in Run; >= 1
  InvalidUtf8 invalid_utf8 = InvalidUtf8::kError;  // what the tokenizer does with invalid UTF-8
};

class TextRunner {
 public:
  // Reads the bundle's metadata and tokenizer, binds the model inputs to
  // their roles (BindTextInputs), checks that text.max_length leaves room
  // for text after the special tokens, then loads the model with sample
  // inputs from the tokenizer. Throws sense::Error (kOption, kFile,
  // kMetadata, kModelFormat, kDevice).
  static std::unique_ptr<TextRunner> Create(const TextRunnerOptions& options);

  // Steps 1-3 of model_inputs.h with the bundle's options, unpadded: for
  // each text, in order, its rows (several with truncation "window"; each
  // row's `source` is the text's index), or its Error(kInput): invalid
  // UTF-8, no tokens ("empty text", "text has no tokens"), too long for
  // truncation "none".
  std::vector<Outcome<std::vector<EncodedInput>>> Encode(const std::vector<std::string>& texts) const;

  // MakeTextInputs for these rows with the model's bindings.
  NamedTensors Inputs(const std::vector<const EncodedInput*>& rows) const;

  // Runs the rows through the model's forward pass, sorted by length into
  // batches of at most max_batch_size (less padding). Returns one Outcome
  // per row, in the order given: the model's outputs for that row, each of
  // shape [1, ...] (a token-level output is [1, L, ...] where L, the padded
  // length of its batch, is at least the row's length; positions past
  // row.length() are padding). When a batch fails, its rows are run one by
  // one, so only the rows the model fails on get an error (kBackend,
  // kInput ...). An output without the batch dimension is Error(kBackend).
  std::vector<Outcome<NamedTensors>> Run(const std::vector<const EncodedInput*>& rows) const;

  const Model& model() const { return *model_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const ModelMetadata& metadata() const { return model_->metadata(); }
  const TextPreprocessing& text() const { return *model_->metadata().text; }
  const std::vector<TextInputBinding>& bindings() const { return bindings_; }
  const EncodeOptions& encode_options() const { return encode_options_; }
  int max_batch_size() const { return max_batch_size_; }

 private:
  TextRunner() = default;
  NamedTensors RunBatch(const std::vector<const EncodedInput*>& rows) const;

  std::unique_ptr<Model> model_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  std::vector<TextInputBinding> bindings_;
  EncodeOptions encode_options_;
  int max_batch_size_ = 32;
};

}  // namespace sense::text

#endif  // SENSE_TEXT_TEXT_RUNNER_H_
