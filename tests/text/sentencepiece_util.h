// Skips a SentencePiece test in sanitizer builds, where the SentencePiece
// module cannot be isolated from LibTorch's protobuf (see
// text/src/tokenizer/sentencepiece_module.h). Anywhere else a missing module fails.
#ifndef SENSE_TESTS_TEXT_SENTENCEPIECE_UTIL_H_
#define SENSE_TESTS_TEXT_SENTENCEPIECE_UTIL_H_

#include <gtest/gtest.h>

#include <string>

#include "sense/text/sentencepiece_tokenizer.h"

#define SENSE_REQUIRE_SENTENCEPIECE()                                                  \
  do {                                                                                 \
    std::string why_;                                                                  \
    if (!::sense::text::SentencePieceAvailable(&why_) &&                               \
        why_.find("sanitizer build") != std::string::npos)                             \
      GTEST_SKIP() << why_;                                                            \
  } while (0)

#endif  // SENSE_TESTS_TEXT_SENTENCEPIECE_UTIL_H_
