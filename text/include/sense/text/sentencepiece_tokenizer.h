// sense/text/sentencepiece_tokenizer.h — SentencePiece (unigram and BPE
// .model files) through the SentencePiece library.
//
// Ids and pieces are exactly SentencePiece's (tests/text/ checks them against
// spm_encode on every line of botchan.txt and against the library's Python
// binding). Offsets are SentencePiece's own alignment to the original bytes:
// a piece that starts with "▁" covers the space before it, so slicing the
// text at a token's offsets gives the piece with "▁" read as a space (modulo
// the model's normalisation, e.g. NFKC).
//
// SentencePiece runs in a separately loaded module, libsense_sentencepiece.so,
// because Debian's libsentencepiece cannot share a process's global symbols
// with LibTorch's libprotobuf. It is found in the build tree, next to the
// program (<bin>/../lib/sense/) or in the install prefix; set
// SENSE_SENTENCEPIECE_MODULE to its path to override. If it cannot be loaded,
// Create throws Error(kUnsupported) saying where it looked.
//
// Thread safety: immutable after Create; all methods are const and may be
// called concurrently. Sample draws from a per-thread random generator
// (SetSamplingSeed).
#ifndef SENSE_TEXT_SENTENCEPIECE_TOKENIZER_H_
#define SENSE_TEXT_SENTENCEPIECE_TOKENIZER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sense/text/tokenizer.h"

namespace sense::text {

struct SentencePieceOptions {
  std::string model_path;  // .model / .spm file; exclusive with model_data
  std::string model_data;  // the model's bytes (e.g. a bundle asset); exclusive with model_path
  std::string source;      // names model_data in error messages
  bool add_bos = false;    // model inputs start with <s> (the model must define it)
  bool add_eos = false;    // model inputs end with </s> (the model must define it)
  InvalidUtf8 invalid_utf8 = InvalidUtf8::kError;
};

// One segmentation of a text among several (n-best).
struct Segmentation {
  std::vector<Token> tokens;
  float score = 0;  // SentencePiece's log-probability-like score; higher is better
};

// Subword regularisation (Kudo 2018; BPE-dropout for BPE models).
struct SamplingOptions {
  // Unigram: sample from the n best segmentations when > 0, from the whole
  // lattice when < 0 (-1: forward-filtering backward-sampling); 0 and 1 mean
  // no sampling. Ignored by BPE models.
  int nbest_size = -1;
  // Unigram: smoothing (inverse temperature), > 0; larger favours the best
  // segmentation. BPE: merge dropout probability in [0, 1).
  float alpha = 0.1f;
};

// Whether the SentencePiece module can be loaded in this process; when not,
// *why (if given) says where it looked or what prevents it (sanitizer builds
// cannot isolate it from LibTorch's protobuf). Never throws.
bool SentencePieceAvailable(std::string* why = nullptr);

class SentencePieceTokenizer : public Tokenizer {
 public:
  // Loads the model. Throws Error(kOption) for invalid options, Error(kFile)
  // for an unreadable file, Error(kModelFormat) when SentencePiece rejects
  // the bytes, Error(kUnsupported) when the SentencePiece module is missing.
  static std::unique_ptr<SentencePieceTokenizer> Create(const SentencePieceOptions& options);

  std::vector<Token> Tokenize(std::string_view text) const override;
  std::vector<int> Encode(std::string_view text) const override;
  // SentencePiece's decoding: "▁" becomes a space, control symbols (<s>,
  // </s>, <pad>) vanish, <unk> becomes " ⁇ ".
  std::string Decode(const std::vector<int>& ids) const override;

  // The n best segmentations (unigram models only), best first; n in [1, 1024].
  std::vector<Segmentation> NBest(std::string_view text, int n) const;
  // One randomly sampled segmentation (subword regularisation).
  std::vector<Token> Sample(std::string_view text, const SamplingOptions& options = {}) const;
  // Seeds the generators Sample draws from (all tokenizers). SentencePiece
  // keeps one generator per thread, seeded when the thread first samples, so
  // the seed applies to threads that have not sampled yet.
  static void SetSamplingSeed(unsigned seed);

  // "unigram", "bpe", "word" or "char".
  std::string model_type() const;

  TokenizerType type() const override { return TokenizerType::kSentencePiece; }
  int vocab_size() const override;
  std::string IdToPiece(int id) const override;
  int PieceToId(std::string_view piece) const override;
  bool IsSpecial(int id) const override;
  const SpecialTokenIds& special_ids() const override;
  const SequenceTemplate& sequence_template() const override;
  InvalidUtf8 invalid_utf8() const override;

  ~SentencePieceTokenizer() override;

 private:
  struct Impl;
  explicit SentencePieceTokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sense::text

#endif  // SENSE_TEXT_SENTENCEPIECE_TOKENIZER_H_
