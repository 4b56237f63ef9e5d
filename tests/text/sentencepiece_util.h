// Skips a SentencePiece test only when a sanitizer build finds the
// SentencePiece module built without the sanitizer (its malloc is not the
// process's; see text/src/tokenizer/sentencepiece_loader.cc). A sanitizer
// build of this tree builds the module with the sanitizer and opens it with
// glibc's dlopen, so the tests run there; scripts/test.sh's sanitizer stage
// fails if any was skipped. Anywhere else a missing module fails the test.
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
