// Outcome<T> and the translation of foreign exceptions into sense::Error.
#include "sense/inference/outcome.h"

#include <gtest/gtest.h>
#include <opencv2/core.hpp>

#include <new>
#include <stdexcept>
#include <system_error>

namespace sense {
namespace {

TEST(OutcomeTest, HoldsAValueOrAnError) {
  Outcome<int> ok = 3;
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.value(), 3);
  EXPECT_THROW(ok.error(), Error);
  Outcome<int> bad = Error(ErrorCode::kInput, "empty text");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), ErrorCode::kInput);
  try {
    (void)bad.value();
    FAIL() << "value() of an error must throw it";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "empty text");
  }
}

template <typename E>
Error Translate(const E& e) {
  try {
    throw e;
  } catch (...) {
    return CurrentExceptionAsError(ErrorCode::kBackend, "m.pt: running 'forward'");
  }
}

TEST(OutcomeTest, ForeignExceptionsBecomeTypedErrors) {
  // The TorchScript interpreter's rethrow: a std::runtime_error whose last
  // "...Error: " line says what failed.
  const Error interp = Translate(std::runtime_error(
      "The following operation failed in the TorchScript interpreter.\nTraceback of TorchScript (most recent call last):\n"
      "  File \"m.py\", line 3\n    assert x.sum() < 5\nbuiltins.AssertionError: bad input\n"));
  EXPECT_EQ(interp.code(), ErrorCode::kBackend);
  EXPECT_EQ(std::string(interp.what()), "m.pt: running 'forward': builtins.AssertionError: bad input");
  EXPECT_EQ(Translate(std::bad_alloc()).code(), ErrorCode::kResource);
  EXPECT_EQ(Translate(std::system_error(std::make_error_code(std::errc::resource_unavailable_try_again))).code(),
            ErrorCode::kResource);
  const Error cv_error = Translate(cv::Exception(cv::Error::StsBadArg, "bad size", "resize", "x.cc", 1));
  EXPECT_NE(std::string(cv_error.what()).find("OpenCV: bad size (in resize)"), std::string::npos) << cv_error.what();
  const Error same = Translate(Error(ErrorCode::kInput, "kept as is"));
  EXPECT_EQ(same.code(), ErrorCode::kInput);
  EXPECT_STREQ(same.what(), "kept as is");
  EXPECT_EQ(Translate(42).code(), ErrorCode::kBackend);
}

TEST(OutcomeTest, CaptureTurnsThrowsIntoOutcomes) {
  auto good = Capture([] { return std::string("fine"); });
  EXPECT_EQ(good.value(), "fine");
  auto bad = Capture([]() -> int { throw std::out_of_range("index 7"); }, ErrorCode::kBackend, "ctx");
  ASSERT_FALSE(bad.ok());
  EXPECT_STREQ(bad.error().what(), "ctx: index 7");
}

}  // namespace
}  // namespace sense
