// sense/inference/error.h — the one error type of sense.
//
// Every failure that sense reports to a caller is a sense::Error carrying an
// ErrorCode. Exceptions from LibTorch (c10::Error) and OpenCV (cv::Exception)
// are caught inside the inference layer and re-thrown as sense::Error, so code
// that embeds sense needs exactly one catch clause. Messages say what was
// expected and what was found, and name the file or field concerned.
//
// Thread safety: Error is an immutable value type.
#ifndef SENSE_INFERENCE_ERROR_H_
#define SENSE_INFERENCE_ERROR_H_

#include <stdexcept>
#include <string>

namespace sense {

enum class ErrorCode {
  kFile,         // a file is missing, unreadable, a directory, or empty
  kModelFormat,  // a model file is not a TorchScript archive / ONNX graph, or is corrupt
  kMetadata,     // sense.json is missing, malformed or inconsistent with the model
  kInput,        // an input (image, text, tensor) violates the documented contract
  kOption,       // an options struct holds an invalid value
  kDevice,       // a device is unknown or not available in this build/machine
  kBackend,      // the backend (LibTorch, OpenCV DNN) failed while running a model
  kUnsupported,  // a valid request this build or model cannot serve
  kResource,     // out of memory, or a thread could not be started
  kInternal,     // a bug in sense
};

// Stable lower-case name of a code ("file", "model_format", ...), used in JSON output.
const char* ErrorCodeName(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace sense

#endif  // SENSE_INFERENCE_ERROR_H_
