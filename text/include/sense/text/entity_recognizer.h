// sense/text/entity_recognizer.h — named entities (people, organisations,
// places ...) in text with any token_classification bundle.
//
//   sense::text::EntityRecognizerOptions options;
//   options.model.path = "models/ner-conll2003.pt";
//   auto recognizer = sense::text::EntityRecognizer::Create(options);
//   auto r = recognizer->Recognize("Angela Merkel met Emmanuel Macron in Paris.");
//   // r.entities[0]: {"Angela Merkel", "PER", 0.99, begin 0, end 13, char_begin 0, char_end 13}
//
// Words: a word is a token that does not continue the one before it (a
// WordPiece token without "##"; a SentencePiece piece that starts with "▁"),
// so for WordPiece bundles the words are those of sense's BERT-style
// pre-tokenizer (whitespace, then every punctuation character on its own:
// "Obama's" is Obama ' s). Each word is labelled from its sub-tokens'
// logits as token_classification.aggregation says: "first" (first-subword
// labelling, the BERT convention), "average" or "max". A word-level model
// is the case of one token per word. Inputs are bound by role (text_inputs.h),
// so BERT-style three-input exports (input_ids, attention_mask,
// token_type_ids) work as they are.
//
// Decoding: with CRF scores in the bundle (token_classification.transitions,
// start_scores, end_scores) the word labels are the Viterbi path and each
// word's score is its CRF marginal probability (forward-backward); without,
// each word takes its most probable label (softmax) and that probability.
// Labels become entities by the conlleval span rules of tag_scheme.h (BIO,
// IOB1, BIOES/BILOU; an I- after O starts an entity). An entity's score is
// the mean of its words' scores.
//
// Long texts: with text.truncation "window" the runner cuts the token
// sequence into overlapping windows; every word is labelled from the window
// in which it lies farthest from an edge (whole, when any window holds it
// whole), and the labels of the whole text are decoded in one pass, so an
// entity is never cut at a window edge and offsets always index the
// original text. With any other truncation, words past max_length are left
// unlabelled and the result says so (truncated).
//
// Input contract: UTF-8 text. Invalid UTF-8 is that text's Error(kInput)
// (or replaced with U+FFFD, options.invalid_utf8); a text with no tokens
// (empty or blank) is Error(kInput).
// Ownership: the recognizer owns its model and tokenizer; texts are only read.
// Thread safety: Recognize and RecognizeBatch are const and safe to call from
// several threads at once.
#ifndef SENSE_TEXT_ENTITY_RECOGNIZER_H_
#define SENSE_TEXT_ENTITY_RECOGNIZER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sense/inference/model.h"
#include "sense/inference/outcome.h"
#include "sense/text/tag_scheme.h"
#include "sense/text/text_classifier.h"  // WordAttribution
#include "sense/text/text_runner.h"
#include "sense/text/tokenizer.h"

namespace sense::text {

enum class EntityDecoding {
  kAuto,     // Viterbi when the bundle has CRF scores, else greedy
  kViterbi,  // needs CRF scores in the bundle (Error(kOption) at Create otherwise)
  kGreedy,   // most probable label per word, CRF scores ignored
};
// "auto", "viterbi", "greedy"; anything else is Error(kOption) listing them.
EntityDecoding ParseEntityDecoding(const std::string& name);
const char* EntityDecodingName(EntityDecoding decoding);

struct EntityRecognizerOptions {
  ModelOptions model;                 // path (required), device, threads
  int max_batch_size = 32;            // sequences per model call in RecognizeBatch; >= 1
  InvalidUtf8 invalid_utf8 = InvalidUtf8::kError;
  EntityDecoding decoding = EntityDecoding::kAuto;
  std::vector<std::string> types;     // keep only entities of these types ("PER", "ORG"); empty: all.
                                      // A type the model does not have is Error(kOption) at Create.
  float score_threshold = 0.0f;       // entities scoring below are dropped; in [0, 1]
};

struct Entity {
  std::string text;             // the original bytes [begin, end)
  std::string type;             // "PER", "ORG", "LOC", "MISC" ...
  float score = 0.0f;           // mean over its words of the word scores (CRF marginals or softmax, see above)
  std::size_t begin = 0;        // byte offset of the first byte in the original text
  std::size_t end = 0;          // one past the last byte
  std::size_t char_begin = 0;   // the same range in Unicode code points
  std::size_t char_end = 0;
  int first_word = 0;           // index into EntityResult::words
  int last_word = 0;            // inclusive
};

// One word as the model labelled it.
struct TaggedWord {
  std::string text;           // original bytes
  std::size_t begin = 0, end = 0;          // bytes
  std::size_t char_begin = 0, char_end = 0;  // code points
  std::string tag;            // the decoded label, e.g. "B-PER"; "" for a word left unlabelled (truncated)
  float score = 0.0f;         // its probability (marginal or softmax)
};

struct EntityResult {
  std::vector<Entity> entities;  // in text order, after the types/score filters
  std::vector<TaggedWord> words; // every word of the text, in order
  int windows = 1;               // model rows the text took
  bool truncated = false;        // words past max_length were left unlabelled (truncation other than "window")
  std::string decoding;          // "viterbi" or "greedy"
};

// Which words made the model call a span what it did: occlusion. Each word
// of the text in turn is replaced by the unknown token (one token spanning
// the word, so every other word keeps its place) and the text is decoded
// again; a word's weight is how much the entity's probability (the mean over
// its words of the probability of their decoded labels: CRF marginals or
// softmax) drops without it. Weights are signed and scaled so that the
// largest magnitude per entity is 1.
struct EntityExplanation {
  Entity entity;
  std::string method = "occlusion";
  std::vector<WordAttribution> words;  // every word of the text, in order
};

class EntityRecognizer {
 public:
  // Loads the bundle (must be token_classification with a text section)
  // through the text runner, reads its labels, scheme, aggregation and CRF
  // scores, checks the options. Throws sense::Error.
  static std::unique_ptr<EntityRecognizer> Create(const EntityRecognizerOptions& options);

  // Throws the text's Error.
  EntityResult Recognize(std::string_view text) const;
  // One outcome per text, in order: its entities, or the Error for that text
  // alone (invalid UTF-8, no tokens, a model that raises on it); rows of all
  // texts go through TextRunner::Run together (sorted by length, batched,
  // a failing batch retried row by row).
  std::vector<Outcome<EntityResult>> RecognizeBatch(const std::vector<std::string>& texts) const;

  // One explanation per entity of Recognize(text) (after the types and
  // score filters), in order. Costs one model row per word of the text
  // (batched). Throws sense::Error (the text's error; kUnsupported for a
  // vocabulary without an unknown token).
  std::vector<EntityExplanation> Explain(std::string_view text) const;

  const ModelMetadata& metadata() const { return runner_->metadata(); }
  const Model& model() const { return runner_->model(); }
  const TextRunner& runner() const { return *runner_; }
  const std::vector<std::string>& labels() const { return metadata().labels; }
  // The entity types the labels name, sorted ("LOC", "MISC", "ORG", "PER").
  const std::vector<std::string>& types() const { return types_; }
  TagScheme scheme() const { return scheme_; }
  bool has_crf() const { return has_crf_; }

 private:
  EntityRecognizer() = default;
  EntityResult Decode(std::string_view text, const std::vector<EncodedInput>& rows,
                      const std::vector<const NamedTensors*>& outputs, std::vector<float>* probs = nullptr) const;

  EntityRecognizerOptions options_;
  std::unique_ptr<TextRunner> runner_;
  std::vector<std::string> types_;
  std::vector<Tag> tags_;
  TagScheme scheme_ = TagScheme::kBIO;
  bool has_crf_ = false;
  bool use_crf_ = false;
  CrfScores crf_;
  int aggregation_ = 0;  // 0 first, 1 average, 2 max
  bool sentencepiece_ = false;
  std::vector<bool> continuation_;  // per vocabulary id: the token continues the word before it
};

}  // namespace sense::text

#endif  // SENSE_TEXT_ENTITY_RECOGNIZER_H_
