// sense/text/sentencepiece_trainer.h — trains a new SentencePiece model
// through the SentencePiece library.
//
// The corpus is read one sentence per line (a trailing "\r" is dropped) from
// files and/or given in memory. The result is a serialized model, the same
// bytes spm_train writes to <prefix>.model, loadable by
// SentencePieceTokenizer, spm_encode and every SentencePiece binding.
//
// Thread safety: training uses num_threads threads; concurrent calls are
// safe but share SentencePiece's process-wide log level.
#ifndef SENSE_TEXT_SENTENCEPIECE_TRAINER_H_
#define SENSE_TEXT_SENTENCEPIECE_TRAINER_H_

#include <cstdint>
#include <string>
#include <vector>

namespace sense::text {

enum class SentencePieceModelType { kUnigram, kBpe, kChar, kWord };

struct SentencePieceTrainerOptions {
  std::vector<std::string> input_files;  // corpus files, one sentence per line
  std::vector<std::string> sentences;    // and/or sentences in memory; together not empty
  SentencePieceModelType model_type = SentencePieceModelType::kUnigram;
  int vocab_size = 8000;                 // > 0; must fit the corpus (the library says how far)
  double character_coverage = 0.9995;    // in (0, 1]; 1.0 keeps every character
  std::vector<std::string> user_defined_symbols;  // always kept as one piece each; non-empty strings
  std::vector<std::string> control_symbols;       // reserved ids that never appear in text
  std::string normalization = "nmt_nfkc";  // "nmt_nfkc", "nfkc", "nmt_nfkc_cf", "nfkc_cf" or "identity"
  bool byte_fallback = false;            // unknown characters become <0xNN> byte pieces
  bool split_digits = false;             // every digit is its own piece
  int max_sentence_length = 4192;        // bytes; longer sentences are skipped; > 0
  int64_t input_sentence_size = 0;       // sample this many sentences; 0: use all
  int unk_id = 0;                        // >= 0
  int bos_id = 1;                        // -1: no <s>
  int eos_id = 2;                        // -1: no </s>
  int pad_id = -1;                       // -1: no <pad>
  int num_threads = 0;                   // 0: all cores
  bool verbose = false;                  // SentencePiece's progress log on stderr
};

// Trains and returns the serialized model. Throws Error(kOption) for invalid
// options (including a vocabulary the corpus cannot fill), Error(kFile) for
// an unreadable input file, Error(kUnsupported) when the SentencePiece module
// is missing.
std::string TrainSentencePiece(const SentencePieceTrainerOptions& options);

// Trains and writes the model to `model_path` (and nothing else). Throws as
// above, and Error(kFile) when the file cannot be written.
void TrainSentencePieceToFile(const SentencePieceTrainerOptions& options, const std::string& model_path);

}  // namespace sense::text

#endif  // SENSE_TEXT_SENTENCEPIECE_TRAINER_H_
