// sense/text/text_embedder.h — one vector per text from any text_embedding
// bundle (the default models/text-embed.pt, or a BERT-style encoder packed
// as docs/model-format.md describes), for semantic search and similarity.
//
//   sense::text::TextEmbedderOptions options;
//   options.model.path = "models/text-embed.pt";
//   auto embedder = sense::text::TextEmbedder::Create(options);
//   auto a = embedder->Embed("A man is playing a guitar.");
//   auto b = embedder->Embed("Someone plays the guitar.");
//   float s = sense::CosineSimilarity(a, b);
//
// What it does, in this order: the bundle's tokenizer, truncation and
// padding (through TextRunner, text_runner.h: batches of similar length,
// per-row errors), the model, then the output its metadata names
// (output.name): a pooled [1, D] row as it is, or token vectors [1, L, D]
// pooled over the row's real tokens (attention mask 1; special tokens
// included) with embedding.pooling: mean, cls (first token) or max. With
// truncation "window", the windows' vectors are averaged. Then optional L2
// normalisation (default: the bundle's embedding.normalize) and optional
// int8 scalar quantisation (embedding.h).
//
// Input contract: UTF-8 text. Invalid UTF-8 (unless options.invalid_utf8
// replaces it) and texts with no tokens are that text's Error(kInput); a
// text the model raises on gets Error(kBackend); the others keep theirs.
// Ownership: the embedder owns its model and tokenizer; texts are only read.
// Thread safety: Embed and EmbedBatch are const and safe to call from
// several threads at once.
#ifndef SENSE_TEXT_TEXT_EMBEDDER_H_
#define SENSE_TEXT_TEXT_EMBEDDER_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sense/inference/embedding.h"
#include "sense/inference/model.h"
#include "sense/inference/outcome.h"
#include "sense/text/text_runner.h"
#include "sense/text/tokenizer.h"

namespace sense::text {

struct TextEmbedderOptions {
  ModelOptions model;                // path (required), device, threads
  std::optional<bool> l2_normalize;  // unset: the bundle's embedding.normalize
  bool quantize = false;             // int8 scalar quantisation of each vector (embedding.h)
  int max_batch_size = 32;           // sequences per model call; >= 1
  InvalidUtf8 invalid_utf8 = InvalidUtf8::kError;
};

class TextEmbedder {
 public:
  // Loads the model (a text_embedding bundle with text and embedding
  // objects) and checks the options. Throws sense::Error.
  static std::unique_ptr<TextEmbedder> Create(const TextEmbedderOptions& options);

  // One text; throws its Error.
  Embedding Embed(std::string_view text) const;
  // One outcome per text, in input order.
  std::vector<Outcome<Embedding>> EmbedBatch(const std::vector<std::string>& texts) const;

  int dim() const { return dim_; }
  const EmbeddingModelIdentity& identity() const { return identity_; }
  const ModelMetadata& metadata() const { return runner_->metadata(); }
  const TextRunner& runner() const { return *runner_; }

 private:
  TextEmbedder(TextEmbedderOptions options, std::unique_ptr<TextRunner> runner);
  std::vector<float> RowVector(const EncodedInput& row, const NamedTensors& outputs) const;

  TextEmbedderOptions options_;
  std::unique_ptr<TextRunner> runner_;
  Pooling pooling_ = Pooling::kNone;
  bool normalize_ = true;
  int dim_ = 0;
  EmbeddingModelIdentity identity_;
};

}  // namespace sense::text

#endif  // SENSE_TEXT_TEXT_EMBEDDER_H_
