// CurrentExceptionAsError: the one place where exceptions from LibTorch,
// its TorchScript interpreter, OpenCV and the standard library become
// sense::Error. No LibTorch headers (sense_inference does not link it):
// c10::Error is a std::exception whose what() ends in the backtrace that
// Gist cuts off.
#include <opencv2/core.hpp>

#include <new>
#include <sstream>
#include <system_error>

#include "sense/inference/outcome.h"

namespace sense {

namespace {

// LibTorch messages carry a C++ backtrace ("Exception raised from ...",
// "frame #N") and the interpreter's TorchScript traceback, whose last
// "SomethingError: message" line is what actually failed. Keeps the gist,
// at most ~400 bytes.
std::string Gist(const std::string& s) {
  std::istringstream in(s);
  std::string line, out, last_error;
  bool traceback = false;
  while (std::getline(in, line)) {
    if (line.rfind("Exception raised from", 0) == 0 || line.rfind("frame #", 0) == 0) break;
    if (line.find("Traceback of TorchScript") != std::string::npos ||
        line.find("The following operation failed in the TorchScript interpreter") != std::string::npos)
      traceback = true;
    const size_t colon = line.find("Error: ");
    if (colon != std::string::npos && colon > 0 && line.find(' ') >= colon) last_error = line;
    if (!traceback && !line.empty() && out.size() < 400) out += (out.empty() ? "" : " ") + line;
  }
  if (traceback && !last_error.empty()) return last_error;
  if (out.empty()) out = s;
  if (out.size() > 400) out = out.substr(0, 400) + "...";
  return out;
}

std::string Join(const std::string& context, const std::string& what) {
  return context.empty() ? what : context + ": " + what;
}

}  // namespace

Error CurrentExceptionAsError(ErrorCode code, const std::string& context) {
  try {
    try {
      throw;
    } catch (const Error& e) {
      return e;
    } catch (const cv::Exception& e) {
      return Error(code, Join(context, "OpenCV: " + (e.err.empty() ? std::string(e.what()) : e.err) +
                                           (e.func.empty() ? "" : " (in " + e.func + ")")));
    } catch (const std::bad_alloc&) {
      return Error(ErrorCode::kResource, Join(context, "out of memory"));
    } catch (const std::system_error& e) {
      return Error(ErrorCode::kResource, Join(context, e.what()));
    } catch (const std::exception& e) {
      return Error(code, Join(context, Gist(e.what())));
    } catch (...) {
      return Error(code, Join(context, "unknown exception"));
    }
  } catch (...) {  // no exception in flight (a caller's bug), or copying the message failed
    return Error(ErrorCode::kInternal, Join(context, "CurrentExceptionAsError called outside a catch block"));
  }
}

}  // namespace sense
