// Internal: the boundary between sense_text and libsense_sentencepiece.so.
//
// Why a separate module: Debian's libsentencepiece exports the protobuf 3.14
// runtime it bundles, and libprotobuf 3.21 (loaded by LibTorch and OpenCV DNN)
// exports the same ~1,300 symbols. With both in the global symbol scope a
// process crashes at start-up in either load order (one side's static
// initialisers run the other's code, or protobuf's version check aborts).
// So sense_text never links SentencePiece: it dlopen()s this module with
// RTLD_LOCAL | RTLD_DEEPBIND on first use, which makes the module and
// libsentencepiece resolve their own protobuf symbols first and keeps them out
// of everybody else's scope.
//
// Both sides share one libstdc++, so standard types cross the boundary;
// exceptions do not: every function returns an error string ("" = success).
// Bump kSpmModuleAbi whenever anything here changes.
#ifndef SENSE_TEXT_SRC_SENTENCEPIECE_MODULE_H_
#define SENSE_TEXT_SRC_SENTENCEPIECE_MODULE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sense::text::internal {

inline constexpr int kSpmModuleAbi = 1;

struct SpmPiece {
  int id = 0;
  uint32_t begin = 0;  // byte offsets into the encoded text
  uint32_t end = 0;
  std::string piece;
};

struct SpmSegmentation {
  std::vector<SpmPiece> pieces;
  float score = 0;
};

// A loaded model; const methods are thread-safe (SentencePieceProcessor's are).
class SpmProcessor {
 public:
  virtual ~SpmProcessor() = default;
  virtual std::string Encode(std::string_view text, std::vector<SpmPiece>* out) const = 0;
  virtual std::string EncodeIds(std::string_view text, std::vector<int>* out) const = 0;
  virtual std::string NBest(std::string_view text, int n, std::vector<SpmSegmentation>* out) const = 0;
  virtual std::string Sample(std::string_view text, int nbest_size, float alpha, std::vector<SpmPiece>* out) const = 0;
  virtual std::string Decode(const std::vector<int>& ids, std::string* out) const = 0;
  virtual int PieceSize() const = 0;
  virtual const std::string& IdToPiece(int id) const = 0;  // id must be in range
  virtual int PieceToId(std::string_view piece) const = 0;  // -1 when absent
  virtual bool IsControl(int id) const = 0;
  virtual bool IsUnknown(int id) const = 0;
  virtual bool IsUnused(int id) const = 0;
  virtual bool IsByte(int id) const = 0;
  virtual int unk_id() const = 0;
  virtual int bos_id() const = 0;
  virtual int eos_id() const = 0;
  virtual int pad_id() const = 0;
  virtual std::string model_type() const = 0;  // "unigram", "bpe", "word", "char"
};

// Training input: files read line by line and/or sentences in memory, plus
// SentencePiece trainer flags (name, value) such as ("vocab_size", "8000").
struct SpmTrainRequest {
  std::vector<std::string> input_files;
  const std::vector<std::string>* sentences = nullptr;
  std::vector<std::pair<std::string, std::string>> flags;
  int min_log_level = 2;  // SentencePiece's: 0 info, 1 warning, 2 error
};

struct SpmModuleApi {
  int abi = 0;
  // Loads a serialized ModelProto; nullptr and *error on failure.
  SpmProcessor* (*load)(const std::string& model_bytes, std::string* error) = nullptr;
  // Trains a model into *model (serialized ModelProto); returns the error.
  std::string (*train)(const SpmTrainRequest& request, std::string* model) = nullptr;
  // Seeds the process-wide random generator used by sampling.
  void (*set_seed)(unsigned seed) = nullptr;
};

}  // namespace sense::text::internal

// The module's one exported symbol.
extern "C" const sense::text::internal::SpmModuleApi* sense_sentencepiece_module_api();

#endif  // SENSE_TEXT_SRC_SENTENCEPIECE_MODULE_H_
