// sense/inference/outcome.h — the per-item result of every batch call.
//
// A batch call of any sense task (classify, detect, embed, ...) returns one
// Outcome<Result> per input, in input order: either the result, or the
// sense::Error that this one input met (a bad file, a text with no tokens,
// a model that raised on it). One input's failure never loses the others'
// results. *Seen in:* MediaPipe's absl::StatusOr<Result>.
//
//   std::vector<sense::Outcome<sense::Classifications>> out = classifier->ClassifyBatch(images);
//   for (const auto& o : out)
//     if (o.ok()) use(o.value()); else report(o.error().code(), o.error().what());
//
// Thread safety: a plain value type.
#ifndef SENSE_INFERENCE_OUTCOME_H_
#define SENSE_INFERENCE_OUTCOME_H_

#include <exception>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "sense/inference/error.h"

namespace sense {

template <typename T>
class Outcome {
 public:
  Outcome(T value) : v_(std::in_place_index<0>, std::move(value)) {}        // NOLINT: implicit on purpose
  Outcome(Error error) : v_(std::in_place_index<1>, std::move(error)) {}    // NOLINT: implicit on purpose

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  // The result; throws the stored Error when !ok().
  const T& value() const& {
    if (!ok()) throw std::get<1>(v_);
    return std::get<0>(v_);
  }
  T& value() & {
    if (!ok()) throw std::get<1>(v_);
    return std::get<0>(v_);
  }
  T&& value() && {
    if (!ok()) throw std::get<1>(v_);
    return std::get<0>(std::move(v_));
  }
  // The error; Error(kInternal) when called on a success (a caller's bug).
  const Error& error() const {
    if (ok()) throw Error(ErrorCode::kInternal, "Outcome::error() called on a successful result");
    return std::get<1>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

// Translates the exception in flight into a sense::Error. Call it only inside
// a catch block. A sense::Error is returned unchanged. Foreign exceptions
// (c10::Error, the TorchScript interpreter's std::runtime_error,
// cv::Exception, std::bad_alloc, std::system_error from thread creation,
// anything else) become an Error with code `code` (std::bad_alloc and
// std::system_error: kResource) whose message is "<context>: <what failed>",
// with LibTorch's C++ backtraces cut. Never throws.
Error CurrentExceptionAsError(ErrorCode code, const std::string& context);

// Runs f() and returns its result, or the error it threw as an Outcome
// (foreign exceptions translated with `code` and `context`).
template <typename F>
auto Capture(F&& f, ErrorCode code = ErrorCode::kInternal, const std::string& context = "")
    -> Outcome<std::decay_t<decltype(f())>> {
  try {
    return f();
  } catch (...) {
    return CurrentExceptionAsError(code, context);
  }
}

}  // namespace sense

#endif  // SENSE_INFERENCE_OUTCOME_H_
