#include "sense/vision/idx.h"

#include <zlib.h>

#include <filesystem>

namespace sense::vision {

namespace {

// Whole file, gunzipped when it is gzip (zlib reads plain files as they are).
std::string ReadMaybeGzip(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) throw Error(ErrorCode::kFile, path + ": no such file");
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw Error(ErrorCode::kFile, path + ": cannot be opened");
  std::string data;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof(buf))) > 0) data.append(buf, static_cast<size_t>(n));
  int err = 0;
  const char* msg = gzerror(f, &err);
  const std::string error = n < 0 ? msg : "";
  gzclose(f);
  if (!error.empty()) throw Error(ErrorCode::kInput, path + ": corrupt gzip data: " + error);
  return data;
}

uint32_t BE32(const std::string& s, size_t at) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data() + at);
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}

}  // namespace

std::vector<cv::Mat> ReadIdxImages(const std::string& path) {
  const std::string d = ReadMaybeGzip(path);
  if (d.size() < 16 || BE32(d, 0) != 0x00000803)
    throw Error(ErrorCode::kInput, path + ": not an idx3-ubyte image file (magic 0x00000803 expected)");
  const uint32_t n = BE32(d, 4), rows = BE32(d, 8), cols = BE32(d, 12);
  if (rows == 0 || cols == 0 || rows > 4096 || cols > 4096 || d.size() != 16 + size_t(n) * rows * cols)
    throw Error(ErrorCode::kInput, path + ": header says " + std::to_string(n) + " images of " + std::to_string(rows) + "x" +
                                       std::to_string(cols) + ", but the file holds " + std::to_string(d.size()) + " bytes");
  std::vector<cv::Mat> images;
  images.reserve(n);
  for (uint32_t i = 0; i < n; ++i)
    images.push_back(cv::Mat(static_cast<int>(rows), static_cast<int>(cols), CV_8UC1,
                             const_cast<char*>(d.data() + 16 + size_t(i) * rows * cols)).clone());
  return images;
}

std::vector<int> ReadIdxLabels(const std::string& path) {
  const std::string d = ReadMaybeGzip(path);
  if (d.size() < 8 || BE32(d, 0) != 0x00000801)
    throw Error(ErrorCode::kInput, path + ": not an idx1-ubyte label file (magic 0x00000801 expected)");
  const uint32_t n = BE32(d, 4);
  if (d.size() != 8 + size_t(n))
    throw Error(ErrorCode::kInput, path + ": header says " + std::to_string(n) + " labels, file holds " + std::to_string(d.size() - 8));
  std::vector<int> labels(n);
  for (uint32_t i = 0; i < n; ++i) labels[i] = static_cast<unsigned char>(d[8 + i]);
  return labels;
}

}  // namespace sense::vision
