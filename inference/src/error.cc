#include "sense/inference/error.h"

namespace sense {

const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kFile: return "file";
    case ErrorCode::kModelFormat: return "model_format";
    case ErrorCode::kMetadata: return "metadata";
    case ErrorCode::kInput: return "input";
    case ErrorCode::kOption: return "option";
    case ErrorCode::kDevice: return "device";
    case ErrorCode::kBackend: return "backend";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kResource: return "resource";
    case ErrorCode::kInternal: return "internal";
  }
  return "unknown";
}

}  // namespace sense
