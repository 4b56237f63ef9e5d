// sense/text/wordpiece_tokenizer.h — BERT's WordPiece tokenizer.
//
// Reads a BERT-family vocab.txt (one entry per line, line n has id n) and
// tokenizes exactly as Hugging Face tokenizers' BertNormalizer +
// BertPreTokenizer + WordPiece do (tests/text/wordpiece_parity_test.cc checks
// every SST-2 and CoNLL-2003 sentence, hard cases and every code point).
//
// Processing, in this order, on code points:
//   0. special tokens ([CLS], [SEP], [PAD], [MASK], [UNK]) written in the raw
//      text are kept whole when recognize_special_tokens is set;
//   1. clean-up: NUL, U+FFFD and control/format/private-use characters
//      (categories Cc, Cf, Co; not \t \n \r) are removed, whitespace becomes a
//      word boundary;
//   2. CJK ideographs become words of their own (tokenize_chinese_chars);
//   3. lower-casing with Unicode's full per-character mapping (lowercase);
//   4. accent stripping: canonical decomposition (NFD) then removal of
//      non-spacing marks (strip_accents; defaults to lowercase);
//   5. splitting at whitespace (removed) and punctuation (ASCII punctuation
//      and categories P*, each its own word);
//   6. greedy longest-match WordPiece on each word: pieces after the first
//      carry the "##" prefix; a word longer than max_input_chars_per_word
//      characters, or one that cannot be spelled, becomes one [UNK].
// Character properties, case mappings and decompositions come from ICU.
//
// Offsets: a token's span covers the original bytes its characters came from;
// characters produced by normalisation (é -> e) map to the whole source
// character, so spans never split a UTF-8 sequence.
//
// Thread safety: immutable after Create; all methods are const and may be
// called concurrently.
#ifndef SENSE_TEXT_WORDPIECE_TOKENIZER_H_
#define SENSE_TEXT_WORDPIECE_TOKENIZER_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sense/text/tokenizer.h"

namespace sense::text {

struct WordPieceOptions {
  std::string vocab_path;    // vocab.txt to read; exclusive with vocab_data
  std::string vocab_data;    // vocab.txt content (e.g. a bundle asset); exclusive with vocab_path
  std::string source;        // names vocab_data in error messages
  bool lowercase = true;     // step 3; true for "uncased" models
  std::optional<bool> strip_accents;  // step 4; unset: same as lowercase (as BERT)
  bool tokenize_chinese_chars = true;  // step 2
  bool recognize_special_tokens = true;  // step 0; false treats "[CLS]" in text as plain text
  bool add_special_tokens = true;  // model inputs get [CLS] A [SEP] (B [SEP])
  int max_input_chars_per_word = 100;  // step 6; > 0
  std::string unk_token = "[UNK]";   // must be in the vocabulary
  std::string continuing_subword_prefix = "##";  // non-empty
  // Characters assigned after this Unicode version ("major.minor") count as
  // unassigned for the category rules (control, punctuation, non-spacing
  // mark) and have no decomposition, as in Hugging Face tokenizers, whose
  // category and normalisation tables are Unicode 8.0 (BERT models were
  // trained with such tables). Empty: ICU's own Unicode version. Case
  // mappings always come from ICU.
  std::string unicode_version = "8.0";
  InvalidUtf8 invalid_utf8 = InvalidUtf8::kError;
};

// A word of BERT's basic tokenizer (steps 0-5): its normalised text and the
// bytes of the original text it came from.
struct BasicWord {
  std::string text;   // normalised, UTF-8
  Span span;          // bytes of the original text
  bool special = false;  // a special token recognised in step 0
};

class WordPieceTokenizer : public Tokenizer {
 public:
  // Reads and checks the vocabulary. Throws Error(kOption) for invalid
  // options, Error(kFile) for an unreadable file, Error(kModelFormat) for an
  // empty vocabulary, invalid UTF-8 in it, a duplicate entry, or a missing
  // unk_token.
  static std::unique_ptr<WordPieceTokenizer> Create(const WordPieceOptions& options);

  std::vector<Token> Tokenize(std::string_view text) const override;
  std::vector<int> Encode(std::string_view text) const override;
  void EncodeWithOffsets(std::string_view text, std::vector<int>* ids, std::vector<Span>* offsets) const override;
  std::string Decode(const std::vector<int>& ids) const override;

  // Steps 0-5 only: the words WordPiece will split (for inspection and tests).
  std::vector<BasicWord> BasicTokenize(std::string_view text) const;

  TokenizerType type() const override { return TokenizerType::kWordPiece; }
  int vocab_size() const override;
  std::string IdToPiece(int id) const override;
  int PieceToId(std::string_view piece) const override;
  bool IsSpecial(int id) const override;
  const SpecialTokenIds& special_ids() const override;
  const SequenceTemplate& sequence_template() const override;
  InvalidUtf8 invalid_utf8() const override;
  const WordPieceOptions& options() const;

  ~WordPieceTokenizer() override;

 private:
  struct Impl;
  explicit WordPieceTokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sense::text

#endif  // SENSE_TEXT_WORDPIECE_TOKENIZER_H_
