// Helpers shared by the sense tests: paths to fixtures and a skip for tests
// that need ../shared/data (absent on a fresh machine; CI has it).
#ifndef SENSE_TESTS_TEST_UTIL_H_
#define SENSE_TESTS_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "sense/inference/error.h"

namespace sense::testing {

inline std::string SharedData(const std::string& rel) {
  return std::string(SENSE_SHARED_DATA) + "/" + rel;
}
inline std::string TestData(const std::string& rel) { return std::string(SENSE_TEST_DATA) + "/" + rel; }
inline std::string TestModel(const std::string& rel) { return std::string(SENSE_TEST_MODELS) + "/" + rel; }
inline std::string SourcePath(const std::string& rel) { return std::string(SENSE_SOURCE_DIR) + "/" + rel; }
inline std::string BinaryPath(const std::string& rel) { return std::string(SENSE_BINARY_DIR) + "/" + rel; }

// Runs f, which must throw a sense::Error with `code` and `fragment` in its
// message; `where` names the case in the failure message.
template <typename F>
void ExpectError(F&& f, ErrorCode code, const std::string& fragment, const std::string& where = "") {
  try {
    f();
    FAIL() << "expected an error containing: " << fragment << (where.empty() ? "" : " (" + where + ")");
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

}  // namespace sense::testing

// Skips the current test, with a message naming the missing path, when a
// ../shared/data file is absent.
#define SENSE_REQUIRE_SHARED(rel)                                                   \
  do {                                                                              \
    if (!std::filesystem::exists(::sense::testing::SharedData(rel)))                \
      GTEST_SKIP() << "needs ../shared/data/" << (rel) << " (not present: "        \
                   << ::sense::testing::SharedData(rel) << "); skipped";            \
  } while (0)

#endif  // SENSE_TESTS_TEST_UTIL_H_
