#include "sense/vision/image_io.h"

#include <filesystem>
#include <fstream>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "sense/inference/error.h"

namespace sense::vision {

namespace fs = std::filesystem;

const std::vector<std::string>& ImageExtensions() {
  static const std::vector<std::string> exts = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff",
                                                ".webp", ".pgm", ".ppm", ".pbm", ".pnm"};
  return exts;
}

namespace {

uint32_t BE16(const unsigned char* p) { return (uint32_t(p[0]) << 8) | p[1]; }
uint32_t BE32(const unsigned char* p) { return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3]; }
uint32_t LE16(const unsigned char* p) { return uint32_t(p[0]) | (uint32_t(p[1]) << 8); }
uint32_t LE24(const unsigned char* p) { return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16); }
int32_t LE32(const unsigned char* p) { return int32_t(uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24)); }

bool IsJpeg(const std::vector<unsigned char>& b) { return b.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF; }
bool IsPng(const std::vector<unsigned char>& b) {
  static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  return b.size() >= 8 && std::equal(sig, sig + 8, b.begin());
}

// A JPEG's end-of-image marker should close the data (trailing padding
// allowed); libjpeg decodes a truncated file into a grey-filled image with
// only a warning, so we check ourselves.
bool JpegHasEnd(const std::vector<unsigned char>& b) {
  const size_t window = std::min<size_t>(b.size(), 4096);
  for (size_t i = b.size() - 1; i + window >= b.size() && i >= 1; --i)
    if (b[i - 1] == 0xFF && b[i] == 0xD9) return true;
  return false;
}

// A PNG must end with its IEND chunk.
bool PngHasEnd(const std::vector<unsigned char>& b) {
  static const unsigned char iend[8] = {0, 0, 0, 0, 'I', 'E', 'N', 'D'};
  const size_t window = std::min<size_t>(b.size(), 64);
  return std::search(b.end() - static_cast<long>(window), b.end(), iend, iend + 8) != b.end();
}

}  // namespace

cv::Size PeekImageSize(const std::vector<unsigned char>& b) {
  const size_t n = b.size();
  if (IsPng(b) && n >= 24) return cv::Size(static_cast<int>(std::min<uint32_t>(BE32(&b[16]), INT32_MAX)),
                                           static_cast<int>(std::min<uint32_t>(BE32(&b[20]), INT32_MAX)));
  if (IsJpeg(b)) {
    size_t i = 2;
    while (i + 9 < n) {
      if (b[i] != 0xFF) { ++i; continue; }
      const unsigned char marker = b[i + 1];
      if (marker == 0xFF) { ++i; continue; }
      if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) { i += 2; continue; }
      const uint32_t len = BE16(&b[i + 2]);
      const bool sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
      if (sof) return cv::Size(static_cast<int>(BE16(&b[i + 7])), static_cast<int>(BE16(&b[i + 5])));
      if (marker == 0xDA || len < 2) break;
      i += 2 + len;
    }
    return cv::Size();
  }
  if (n >= 10 && (std::equal(b.begin(), b.begin() + 6, "GIF87a") || std::equal(b.begin(), b.begin() + 6, "GIF89a")))
    return cv::Size(static_cast<int>(LE16(&b[6])), static_cast<int>(LE16(&b[8])));
  if (n >= 26 && b[0] == 'B' && b[1] == 'M')
    return cv::Size(std::abs(LE32(&b[18])), std::abs(LE32(&b[22])));
  if (n >= 30 && std::equal(b.begin(), b.begin() + 4, "RIFF") && std::equal(b.begin() + 8, b.begin() + 12, "WEBP")) {
    const unsigned char* c = &b[12];
    if (std::equal(c, c + 4, "VP8 ") && n >= 30) return cv::Size(static_cast<int>(LE16(&b[26]) & 0x3FFF), static_cast<int>(LE16(&b[28]) & 0x3FFF));
    if (std::equal(c, c + 4, "VP8L") && n >= 25) {
      const uint32_t bits = static_cast<uint32_t>(LE32(&b[21]));
      return cv::Size(static_cast<int>((bits & 0x3FFF) + 1), static_cast<int>(((bits >> 14) & 0x3FFF) + 1));
    }
    if (std::equal(c, c + 4, "VP8X") && n >= 30) return cv::Size(static_cast<int>(LE24(&b[24]) + 1), static_cast<int>(LE24(&b[27]) + 1));
  }
  return cv::Size();
}

cv::Mat DecodeImageBytes(const std::vector<unsigned char>& bytes, const std::string& name, const DecodeOptions& options) {
  if (options.max_pixels <= 0) throw Error(ErrorCode::kOption, "max_pixels must be > 0");
  if (bytes.empty()) throw Error(ErrorCode::kInput, name + ": empty file; expected an image");
  const cv::Size header = PeekImageSize(bytes);
  const int64_t pixels = int64_t(header.width) * int64_t(header.height);
  if (pixels > options.max_pixels)
    throw Error(ErrorCode::kInput, name + ": image is " + std::to_string(header.width) + " x " + std::to_string(header.height) +
                                       " (" + std::to_string(pixels / 1000000) + " megapixels), over the limit of " +
                                       std::to_string(options.max_pixels / 1000000) + " megapixels; not decoded");
  if (IsJpeg(bytes) && !JpegHasEnd(bytes))
    throw Error(ErrorCode::kInput, name + ": truncated JPEG (no end-of-image marker); the file is incomplete");
  if (IsPng(bytes) && !PngHasEnd(bytes))
    throw Error(ErrorCode::kInput, name + ": truncated PNG (no IEND chunk); the file is incomplete");
  cv::Mat image;
  try {
    // ANYDEPTH|ANYCOLOR keeps 16-bit and gray as they are and applies EXIF
    // orientation (OpenCV skips orientation only for IMREAD_UNCHANGED).
    image = cv::imdecode(bytes, cv::IMREAD_ANYDEPTH | cv::IMREAD_ANYCOLOR);
  } catch (const cv::Exception& e) {
    throw Error(ErrorCode::kInput, name + ": cannot decode image: " + e.err);
  }
  if (image.empty())
    throw Error(ErrorCode::kInput, name + ": not a readable image (unknown format or corrupt data)");
  if (int64_t(image.cols) * image.rows > options.max_pixels)
    throw Error(ErrorCode::kInput, name + ": image is " + std::to_string(image.cols) + " x " + std::to_string(image.rows) +
                                       ", over the limit of " + std::to_string(options.max_pixels) + " pixels");
  if (image.depth() == CV_16U) {
    image.convertTo(image, CV_8U, 1.0 / 257.0);
  } else if (image.depth() == CV_32F) {
    image.convertTo(image, CV_8U, 255.0);
  } else if (image.depth() != CV_8U) {
    image.convertTo(image, CV_8U);
  }
  if (image.channels() == 4) cv::cvtColor(image, image, cv::COLOR_BGRA2BGR);
  if (image.channels() == 2) cv::extractChannel(image, image, 0);
  return image;
}

cv::Mat DecodeImage(const std::string& path, const DecodeOptions& options) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(ErrorCode::kFile, path + ": no such file");
  if (fs::is_directory(path, ec)) throw Error(ErrorCode::kFile, path + ": is a directory; expected an image file");
  const auto size = fs::file_size(path, ec);
  if (ec) throw Error(ErrorCode::kFile, path + ": cannot read: " + ec.message());
  if (static_cast<int64_t>(size) > options.max_file_bytes)
    throw Error(ErrorCode::kInput, path + ": file is " + std::to_string(size / 1000000) + " MB, over the limit of " +
                                       std::to_string(options.max_file_bytes / 1000000) + " MB");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(ErrorCode::kFile, path + ": cannot be opened for reading");
  std::vector<unsigned char> bytes(size);
  if (size && !f.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size)))
    throw Error(ErrorCode::kFile, path + ": read error");
  return DecodeImageBytes(bytes, path, options);
}

}  // namespace sense::vision
