#include "file_util.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "sense/inference/error.h"

namespace sense::text::internal {

std::string ReadFileBytes(const std::string& path, const char* what) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) {
    throw Error(ErrorCode::kFile, path + ": no such file; expected " + what);
  }
  if (std::filesystem::is_directory(status)) {
    throw Error(ErrorCode::kFile, path + ": is a directory; expected " + what);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw Error(ErrorCode::kFile, path + ": cannot open (" + std::strerror(errno) + "); expected " + what);
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw Error(ErrorCode::kFile, path + ": read error; expected " + what);
  std::string bytes = std::move(buffer).str();
  if (bytes.empty()) throw Error(ErrorCode::kFile, path + ": file is empty; expected " + what);
  return bytes;
}

}  // namespace sense::text::internal
