// sense/text/tokenizer.h — the one tokenizer interface of sense, and the
// factory that builds a tokenizer from a model bundle's asset or a file.
//
// Two implementations sit behind it:
//   * WordPieceTokenizer (wordpiece_tokenizer.h): BERT-family vocab.txt,
//     written in sense, id-for-id identical to Hugging Face tokenizers.
//   * SentencePieceTokenizer (sentencepiece_tokenizer.h): unigram and BPE
//     .model files through the SentencePiece library.
// Model inputs (special tokens, pairs, truncation, padding, masks) are built
// on top of this interface by model_inputs.h.
//
// Offsets: every Token carries the byte range of the original text it came
// from, so text.substr(begin, end - begin) is the token's surface form (before
// normalisation such as lower-casing). Use ByteToCharSpans (utf8.h) for
// code-point offsets.
//
// Thread safety: a Tokenizer is immutable after creation; every const method
// may be called from several threads at once.
#ifndef SENSE_TEXT_TOKENIZER_H_
#define SENSE_TEXT_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sense/inference/metadata.h"
#include "sense/text/utf8.h"

namespace sense::text {

using sense::TokenizerSpec;
using sense::TokenizerType;

// One token of a text.
struct Token {
  int id = 0;          // vocabulary id, 0 <= id < vocab_size()
  std::string piece;   // the vocabulary entry: "hello", "##ing", "▁the", "[CLS]"
  std::size_t begin = 0;  // byte offset of the token's first byte in the original text
  std::size_t end = 0;    // one past its last byte; begin == end for inserted special tokens
};

// Ids of the special tokens a vocabulary defines; -1 where it has none.
struct SpecialTokenIds {
  int unk = -1;   // [UNK] / <unk>: stands for text the vocabulary cannot spell
  int pad = -1;   // [PAD] / <pad>
  int bos = -1;   // <s>   (SentencePiece)
  int eos = -1;   // </s>  (SentencePiece)
  int cls = -1;   // [CLS] (WordPiece)
  int sep = -1;   // [SEP] (WordPiece)
  int mask = -1;  // [MASK] (WordPiece)
};

// How special tokens wrap one text (A) or a pair (A, B) for a model:
//   single: prefix A suffix                    (type ids all 0)
//   pair:   prefix A middle B suffix           (B and what follows it: pair_type_id)
// BERT: prefix [CLS], middle [SEP], suffix [SEP].
// SentencePiece: prefix <s> when add_bos, suffix </s> when add_eos, middle = suffix.
struct SequenceTemplate {
  std::vector<int> prefix;
  std::vector<int> middle;
  std::vector<int> suffix;
  int pair_type_id = 1;  // type id of the second text and the tokens after it
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  virtual TokenizerType type() const = 0;

  // Splits `text` into tokens with byte offsets; adds no special tokens.
  // Invalid UTF-8 throws Error(kInput) naming the byte, unless the tokenizer
  // was created with InvalidUtf8::kReplace. An empty text gives no tokens.
  virtual std::vector<Token> Tokenize(std::string_view text) const = 0;

  // The ids of Tokenize(text), without building pieces or offsets (faster).
  virtual std::vector<int> Encode(std::string_view text) const = 0;

  // The ids and byte offsets of Tokenize(text), without the piece strings
  // (what model inputs need). Appends to *ids and *offsets.
  virtual void EncodeWithOffsets(std::string_view text, std::vector<int>* ids, std::vector<Span>* offsets) const;

  // Text from ids: special and control tokens are skipped and pieces are
  // joined the way the tokenizer family does (WordPiece: spaces between
  // words, "##" glued, Hugging Face's clean-up of " ." etc.; SentencePiece:
  // "▁" becomes a space). Ids out of range throw Error(kInput).
  virtual std::string Decode(const std::vector<int>& ids) const = 0;

  virtual int vocab_size() const = 0;
  // The vocabulary entry of `id`; throws Error(kInput) when out of range.
  virtual std::string IdToPiece(int id) const = 0;
  // The id of a vocabulary entry, or -1 when the vocabulary lacks it.
  virtual int PieceToId(std::string_view piece) const = 0;
  // True for ids that are never text: [CLS]/[SEP]/[PAD]/[MASK]/[UNK]-style
  // entries, SentencePiece control symbols and <unk>.
  virtual bool IsSpecial(int id) const = 0;

  virtual const SpecialTokenIds& special_ids() const = 0;
  // How model inputs are wrapped (from the spec the tokenizer was made with).
  virtual const SequenceTemplate& sequence_template() const = 0;
  // What the tokenizer does with invalid UTF-8.
  virtual InvalidUtf8 invalid_utf8() const = 0;
};

// Where a tokenizer comes from and how it behaves.
struct TokenizerOptions {
  // Type and normalisation: from the bundle's sense.json, or set by hand.
  // spec.asset is only used in messages when `data` is given.
  TokenizerSpec spec;
  // A file to read: a SentencePiece model (.model/.spm) or a WordPiece
  // vocab.txt. Exclusive with `data`.
  std::string path;
  // The file's bytes, e.g. a bundle asset. Exclusive with `path`.
  std::string data;
  // Names `data` in error messages, e.g. "model.pt:vocab.txt".
  std::string source;
  InvalidUtf8 invalid_utf8 = InvalidUtf8::kError;
};

// Builds the tokenizer `options.spec.type` names from a file or bytes.
// Throws Error(kOption) for contradictory options, Error(kFile) for a missing
// or unreadable file, Error(kModelFormat) for bytes that are not a valid
// SentencePiece model or vocab.txt.
std::unique_ptr<Tokenizer> CreateTokenizer(const TokenizerOptions& options);

// Guesses the tokenizer type of a file from its content: a SentencePiece
// model is a binary protocol buffer, a vocab.txt is UTF-8 text with one entry
// per line. Throws Error(kFile) when the file cannot be read.
TokenizerType DetectTokenizerType(const std::string& path);

}  // namespace sense::text

#endif  // SENSE_TEXT_TOKENIZER_H_
