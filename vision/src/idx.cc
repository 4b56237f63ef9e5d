#include "sense/vision/idx.h"

#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <memory>

namespace sense::vision {

namespace {

// IDX files larger than this are refused from their header (Fashion-MNIST's
// training images are 47 MB).
constexpr uint64_t kMaxIdxBytes = uint64_t(1) << 31;

uint32_t BE32(const std::string& s, size_t at) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data() + at);
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}

// An IDX file, gunzipped when it is gzip (zlib reads plain files as they
// are), read as far as its header says and no further: the header's
// `header_bytes`, then exactly the payload `payload_bytes(header)` declares
// (which throws for a bad header). A file holding more is refused after
// reading one byte past the payload, so a small gzip that expands past its
// header's size is never inflated whole.
template <typename PayloadBytes>
std::string ReadIdx(const std::string& path, size_t header_bytes, PayloadBytes payload_bytes) {
  if (!std::filesystem::is_regular_file(path)) throw Error(ErrorCode::kFile, path + ": no such file");
  std::unique_ptr<gzFile_s, int (*)(gzFile)> f(gzopen(path.c_str(), "rb"), gzclose);
  if (!f) throw Error(ErrorCode::kFile, path + ": cannot be opened");
  // Reads up to n more bytes onto `data`; returns how many were read.
  auto read = [&](std::string& data, uint64_t n) {
    uint64_t got = 0;
    char buf[1 << 16];
    while (got < n) {
      const int want = static_cast<int>(std::min<uint64_t>(sizeof(buf), n - got));
      const int r = gzread(f.get(), buf, static_cast<unsigned>(want));
      if (r < 0) {
        int err = 0;
        throw Error(ErrorCode::kInput, path + ": corrupt gzip data: " + gzerror(f.get(), &err));
      }
      if (r == 0) break;
      data.append(buf, static_cast<size_t>(r));
      got += static_cast<uint64_t>(r);
    }
    return got;
  };
  std::string data;
  if (read(data, header_bytes) < header_bytes)
    throw Error(ErrorCode::kInput, path + ": " + std::to_string(data.size()) + " bytes; too short for an IDX header");
  const uint64_t payload = payload_bytes(data);
  if (payload > kMaxIdxBytes)
    throw Error(ErrorCode::kInput, path + ": header declares " + std::to_string(payload) + " bytes of data, over the limit of " +
                                       std::to_string(kMaxIdxBytes) + "; not read");
  data.reserve(header_bytes + static_cast<size_t>(std::min<uint64_t>(payload, uint64_t(64) << 20)));
  const uint64_t got = read(data, payload);
  if (got < payload)
    throw Error(ErrorCode::kInput, path + ": header declares " + std::to_string(payload) + " bytes of data, the file holds " +
                                       std::to_string(got));
  std::string extra;
  if (read(extra, 1) > 0)
    throw Error(ErrorCode::kInput, path + ": the file holds more data than its header declares (" + std::to_string(payload) +
                                       " bytes); refused without reading the rest");
  return data;
}

}  // namespace

std::vector<cv::Mat> ReadIdxImages(const std::string& path) {
  uint32_t n = 0, rows = 0, cols = 0;
  const std::string d = ReadIdx(path, 16, [&](const std::string& h) -> uint64_t {
    if (BE32(h, 0) != 0x00000803)
      throw Error(ErrorCode::kInput, path + ": not an idx3-ubyte image file (magic 0x00000803 expected)");
    n = BE32(h, 4), rows = BE32(h, 8), cols = BE32(h, 12);
    if (rows == 0 || cols == 0 || rows > 4096 || cols > 4096)
      throw Error(ErrorCode::kInput, path + ": header says images of " + std::to_string(rows) + "x" + std::to_string(cols) +
                                         "; expected 1 to 4096 pixels per side");
    return uint64_t(n) * rows * cols;
  });
  std::vector<cv::Mat> images;
  images.reserve(n);
  for (uint32_t i = 0; i < n; ++i)
    images.push_back(cv::Mat(static_cast<int>(rows), static_cast<int>(cols), CV_8UC1,
                             const_cast<char*>(d.data() + 16 + size_t(i) * rows * cols)).clone());
  return images;
}

std::vector<int> ReadIdxLabels(const std::string& path) {
  uint32_t n = 0;
  const std::string d = ReadIdx(path, 8, [&](const std::string& h) -> uint64_t {
    if (BE32(h, 0) != 0x00000801)
      throw Error(ErrorCode::kInput, path + ": not an idx1-ubyte label file (magic 0x00000801 expected)");
    n = BE32(h, 4);
    return n;
  });
  std::vector<int> labels(n);
  for (uint32_t i = 0; i < n; ++i) labels[i] = static_cast<unsigned char>(d[8 + i]);
  return labels;
}

}  // namespace sense::vision
