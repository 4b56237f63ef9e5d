// Internal: finds and loads libsense_sentencepiece.so (see
// sentencepiece_module.h for why SentencePiece lives in a module).
#ifndef SENSE_TEXT_SRC_SENTENCEPIECE_LOADER_H_
#define SENSE_TEXT_SRC_SENTENCEPIECE_LOADER_H_

#include "sentencepiece_module.h"

namespace sense::text::internal {

// The module's API, loaded once per process. Throws Error(kUnsupported)
// naming every place it looked when the module cannot be loaded.
// Thread-safe.
const SpmModuleApi& SentencePieceModule();

}  // namespace sense::text::internal

#endif  // SENSE_TEXT_SRC_SENTENCEPIECE_LOADER_H_
