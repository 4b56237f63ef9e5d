#include "sense/vision/image_io.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>

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
uint32_t LE32(const unsigned char* p) { return LE16(p) | (LE16(p + 2) << 16); }

bool StartsWith(const std::vector<unsigned char>& b, const char* sig, size_t n, size_t at = 0) {
  return b.size() >= at + n && std::equal(sig, sig + n, b.begin() + static_cast<long>(at),
                                          [](char c, unsigned char u) { return static_cast<unsigned char>(c) == u; });
}

bool IsJpeg(const std::vector<unsigned char>& b) { return StartsWith(b, "\xFF\xD8\xFF", 3); }
bool IsPng(const std::vector<unsigned char>& b) { return StartsWith(b, "\x89PNG\r\n\x1A\n", 8); }

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

ImageHeader Header(const char* format, int64_t width, int64_t height) { return {format, width, height}; }

ImageHeader JpegHeader(const std::vector<unsigned char>& b) {
  const size_t n = b.size();
  size_t i = 2;
  while (i + 9 < n) {
    if (b[i] != 0xFF) { ++i; continue; }
    const unsigned char marker = b[i + 1];
    if (marker == 0xFF) { ++i; continue; }
    if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) { i += 2; continue; }
    const uint32_t len = BE16(&b[i + 2]);
    const bool sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (sof) return Header("jpeg", BE16(&b[i + 7]), BE16(&b[i + 5]));
    if (marker == 0xDA || len < 2) break;
    i += 2 + len;
  }
  return Header("jpeg", 0, 0);
}

ImageHeader BmpHeader(const std::vector<unsigned char>& b) {
  if (b.size() < 26) return Header("bmp", 0, 0);
  const uint32_t info_size = LE32(&b[14]);
  if (info_size == 12) return Header("bmp", LE16(&b[18]), LE16(&b[20]));  // BITMAPCOREHEADER
  // BITMAPINFOHEADER and later: signed 32-bit; a negative height means
  // top-down rows. In 64 bits, so INT32_MIN has a magnitude (2^31).
  const int64_t w = static_cast<int32_t>(LE32(&b[18])), h = static_cast<int32_t>(LE32(&b[22]));
  return Header("bmp", w < 0 ? -w : w, h < 0 ? -h : h);
}

ImageHeader WebpHeader(const std::vector<unsigned char>& b) {
  const size_t n = b.size();
  if (StartsWith(b, "VP8 ", 4, 12) && n >= 30) return Header("webp", LE16(&b[26]) & 0x3FFF, LE16(&b[28]) & 0x3FFF);
  if (StartsWith(b, "VP8L", 4, 12) && n >= 25) {
    const uint32_t bits = LE32(&b[21]);
    return Header("webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1);
  }
  if (StartsWith(b, "VP8X", 4, 12) && n >= 30) return Header("webp", int64_t(LE24(&b[24])) + 1, int64_t(LE24(&b[27])) + 1);
  return Header("webp", 0, 0);
}

// TIFF and BigTIFF: ImageWidth (256) and ImageLength (257) of the first IFD,
// the image imdecode reads.
ImageHeader TiffHeader(const std::vector<unsigned char>& b) {
  const size_t n = b.size();
  const bool le = b[0] == 'I';
  auto u16 = [&](size_t at) -> uint64_t { return le ? LE16(&b[at]) : BE16(&b[at]); };
  auto u32 = [&](size_t at) -> uint64_t { return le ? LE32(&b[at]) : BE32(&b[at]); };
  auto u64 = [&](size_t at) -> uint64_t { return le ? (u32(at + 4) << 32) | u32(at) : (u32(at) << 32) | u32(at + 4); };
  const bool big = u16(2) == 43;
  if (big && (n < 16 || u16(4) != 8)) return Header("tiff", 0, 0);
  const uint64_t ifd = big ? u64(8) : u32(4);
  const size_t count_size = big ? 8 : 2, entry_size = big ? 20 : 12;
  if (ifd > n || n - ifd < count_size) return Header("tiff", 0, 0);
  const uint64_t count = big ? u64(ifd) : u16(ifd);
  int64_t width = 0, height = 0;
  for (uint64_t e = 0; e < count; ++e) {
    const uint64_t at = ifd + count_size + e * entry_size;
    if (at > n || n - at < entry_size) break;
    const uint64_t tag = u16(at), type = u16(at + 2);
    const size_t value = at + (big ? 12 : 8);
    uint64_t v = 0;
    if (type == 3) v = u16(value);                // SHORT
    else if (type == 4) v = u32(value);           // LONG
    else if (type == 16 && big) v = u64(value);   // LONG8
    else continue;
    v = std::min<uint64_t>(v, uint64_t(1) << 40);  // beyond any limit; keeps the product in range
    if (tag == 256) width = static_cast<int64_t>(v);
    if (tag == 257) height = static_cast<int64_t>(v);
  }
  return Header("tiff", width, height);
}

// The decimal numbers of a text header (PNM, PAM, PFM): whitespace and
// '#' comments between them, as OpenCV's reader skips them.
class TextHeader {
 public:
  TextHeader(const std::vector<unsigned char>& b, size_t at) : b_(b), at_(at) {}
  // The next whitespace-separated word (comments skipped); empty at the end.
  std::string Word() {
    while (at_ < b_.size() && at_ < kMaxHeader) {
      if (b_[at_] == '#') {
        while (at_ < b_.size() && b_[at_] != '\n') ++at_;
      } else if (std::isspace(b_[at_])) {
        ++at_;
      } else {
        break;
      }
    }
    std::string w;
    while (at_ < b_.size() && at_ < kMaxHeader && !std::isspace(b_[at_]) && w.size() < 32) w += static_cast<char>(b_[at_++]);
    return w;
  }
  int64_t Number() {
    const std::string w = Word();
    if (w.empty() || w.size() > 12 || !std::all_of(w.begin(), w.end(), ::isdigit)) return 0;
    return std::stoll(w);
  }

 private:
  static constexpr size_t kMaxHeader = 1 << 16;
  const std::vector<unsigned char>& b_;
  size_t at_;
};

ImageHeader PamHeader(const std::vector<unsigned char>& b) {
  TextHeader t(b, 2);
  int64_t width = 0, height = 0;
  for (std::string w = t.Word(); !w.empty() && w != "ENDHDR"; w = t.Word()) {
    if (w == "WIDTH") width = t.Number();
    else if (w == "HEIGHT") height = t.Number();
  }
  return Header("pam", width, height);
}

// Radiance HDR: header lines up to an empty line, then "-Y <rows> +X <cols>"
// (any signs, either axis first).
ImageHeader HdrHeader(const std::vector<unsigned char>& b) {
  const size_t limit = std::min<size_t>(b.size(), 1 << 16);
  for (size_t i = 1; i + 1 < limit; ++i) {
    if (b[i] != '\n' || b[i + 1] != '\n') continue;
    TextHeader t(b, i + 2);
    const std::string a1 = t.Word();
    const int64_t n1 = t.Number();
    const std::string a2 = t.Word();
    const int64_t n2 = t.Number();
    if (a1.size() != 2 || a2.size() != 2) break;
    if (a1[1] == 'Y' && a2[1] == 'X') return Header("hdr", n2, n1);
    if (a1[1] == 'X' && a2[1] == 'Y') return Header("hdr", n1, n2);
    break;
  }
  return Header("hdr", 0, 0);
}

// OpenEXR: the first header's dataWindow attribute (box2i).
ImageHeader ExrHeader(const std::vector<unsigned char>& b) {
  const size_t n = b.size();
  size_t at = 8;
  auto cstr = [&](size_t& p) {
    std::string s;
    while (p < n && b[p] != 0 && s.size() < 256) s += static_cast<char>(b[p++]);
    ++p;
    return s;
  };
  while (at < n && b[at] != 0) {
    const std::string name = cstr(at), type = cstr(at);
    if (at + 4 > n) break;
    const uint32_t size = LE32(&b[at]);
    at += 4;
    if (size > n - std::min(at, n)) break;
    if (name == "dataWindow" && type == "box2i" && size == 16) {
      const int64_t x0 = static_cast<int32_t>(LE32(&b[at])), y0 = static_cast<int32_t>(LE32(&b[at + 4]));
      const int64_t x1 = static_cast<int32_t>(LE32(&b[at + 8])), y1 = static_cast<int32_t>(LE32(&b[at + 12]));
      return Header("exr", x1 >= x0 ? x1 - x0 + 1 : 0, y1 >= y0 ? y1 - y0 + 1 : 0);
    }
    at += size;
  }
  return Header("exr", 0, 0);
}

// JPEG 2000 codestream: the SIZ segment right after SOC.
ImageHeader J2kCodestream(const std::vector<unsigned char>& b, size_t at) {
  if (at > b.size() || b.size() - at < 24 || b[at] != 0xFF || b[at + 1] != 0x4F || b[at + 2] != 0xFF || b[at + 3] != 0x51)
    return Header("jpeg2000", 0, 0);
  const int64_t xs = BE32(&b[at + 8]), ys = BE32(&b[at + 12]), xo = BE32(&b[at + 16]), yo = BE32(&b[at + 20]);
  return Header("jpeg2000", xs > xo ? xs - xo : 0, ys > yo ? ys - yo : 0);
}

// JP2 file: boxes; the codestream box ('jp2c') holds what OpenJPEG decodes.
ImageHeader Jp2Header(const std::vector<unsigned char>& b) {
  const size_t n = b.size();
  size_t at = 0;
  while (at + 8 <= n) {
    uint64_t len = BE32(&b[at]);
    size_t head = 8;
    if (len == 1) {
      if (at + 16 > n) break;
      len = (uint64_t(BE32(&b[at + 8])) << 32) | BE32(&b[at + 12]);
      head = 16;
    } else if (len == 0) {
      len = n - at;
    }
    if (StartsWith(b, "jp2c", 4, at + 4)) return J2kCodestream(b, at + head);
    if (len < head || len > n - at) break;
    at += static_cast<size_t>(len);
  }
  return Header("jpeg2000", 0, 0);
}

}  // namespace

ImageHeader PeekImageHeader(const std::vector<unsigned char>& b) {
  const size_t n = b.size();
  if (IsPng(b)) return n >= 24 && StartsWith(b, "IHDR", 4, 12) ? Header("png", BE32(&b[16]), BE32(&b[20])) : Header("png", 0, 0);
  if (IsJpeg(b)) return JpegHeader(b);
  if (StartsWith(b, "GIF87a", 6) || StartsWith(b, "GIF89a", 6))
    return n >= 10 ? Header("gif", LE16(&b[6]), LE16(&b[8])) : Header("gif", 0, 0);
  if (StartsWith(b, "BM", 2)) return BmpHeader(b);
  if (StartsWith(b, "RIFF", 4) && StartsWith(b, "WEBP", 4, 8)) return WebpHeader(b);
  if (n >= 8 && (StartsWith(b, "II*\0", 4) || StartsWith(b, "MM\0*", 4) || StartsWith(b, "II+\0", 4) || StartsWith(b, "MM\0+", 4)))
    return TiffHeader(b);
  if (n >= 3 && b[0] == 'P' && std::isspace(b[2])) {
    if (b[1] >= '1' && b[1] <= '6') {
      TextHeader t(b, 2);
      const int64_t w = t.Number();
      return Header("pnm", w, t.Number());
    }
    if (b[1] == '7') return PamHeader(b);
    if (b[1] == 'F' || b[1] == 'f') {
      TextHeader t(b, 2);
      const int64_t w = t.Number();
      return Header("pfm", w, t.Number());
    }
  }
  if (StartsWith(b, "\x59\xA6\x6A\x95", 4)) return n >= 12 ? Header("sunras", BE32(&b[4]), BE32(&b[8])) : Header("sunras", 0, 0);
  if (StartsWith(b, "#?RADIANCE", 10) || StartsWith(b, "#?RGBE", 6)) return HdrHeader(b);
  if (StartsWith(b, "\x76\x2F\x31\x01", 4)) return ExrHeader(b);
  if (StartsWith(b, "\x00\x00\x00\x0CjP  \r\n\x87\n", 12)) return Jp2Header(b);
  if (StartsWith(b, "\xFF\x4F\xFF\x51", 4)) return J2kCodestream(b, 0);
  return {};
}

cv::Size PeekImageSize(const std::vector<unsigned char>& b) {
  const ImageHeader h = PeekImageHeader(b);
  return cv::Size(static_cast<int>(std::min<int64_t>(h.width, INT32_MAX)), static_cast<int>(std::min<int64_t>(h.height, INT32_MAX)));
}

namespace {

std::string Megapixels(double pixels) {
  std::ostringstream out;
  out << std::setprecision(pixels >= 1e6 ? 4 : 3) << pixels / 1e6;
  return out.str();
}

}  // namespace

int JpegReduction(int64_t width, int64_t height, const DecodeOptions& options) {
  const int64_t need = std::max(options.min_width, options.min_height);
  if (need <= 0) return 1;
  for (int r : {8, 4, 2})
    if ((width + r - 1) / r >= need && (height + r - 1) / r >= need) return r;
  return 1;
}

cv::Mat DecodeImageBytes(const std::vector<unsigned char>& bytes, const std::string& name, const DecodeOptions& options,
                         DecodeInfo* info) {
  if (options.max_pixels <= 0) throw Error(ErrorCode::kOption, "max_pixels must be > 0");
  if (bytes.empty()) throw Error(ErrorCode::kInput, name + ": empty file; expected an image");
  // Only formats whose size the header gives reach a decoder: the pixel
  // limit holds before any pixel is decoded, whatever the format.
  const ImageHeader header = PeekImageHeader(bytes);
  if (header.format.empty())
    throw Error(ErrorCode::kInput, name + ": not a readable image (unknown format or corrupt data)");
  if (header.width <= 0 || header.height <= 0)
    throw Error(ErrorCode::kInput, name + ": " + header.format + " header gives no image size (corrupt or truncated header); not decoded");
  if (header.height > options.max_pixels / header.width)
    throw Error(ErrorCode::kInput, name + ": image is " + std::to_string(header.width) + " x " + std::to_string(header.height) +
                                       " (" + Megapixels(double(header.width) * double(header.height)) +
                                       " megapixels), over the limit of " + Megapixels(double(options.max_pixels)) +
                                       " megapixels; not decoded");
  if (IsJpeg(bytes) && !JpegHasEnd(bytes))
    throw Error(ErrorCode::kInput, name + ": truncated JPEG (no end-of-image marker); the file is incomplete");
  if (IsPng(bytes) && !PngHasEnd(bytes))
    throw Error(ErrorCode::kInput, name + ": truncated PNG (no IEND chunk); the file is incomplete");
  cv::Mat image;
  int reduction = 1;
  try {
    // ANYDEPTH|ANYCOLOR keeps 16-bit and gray as they are and applies EXIF
    // orientation (OpenCV skips orientation only for IMREAD_UNCHANGED).
    int flags = cv::IMREAD_ANYDEPTH | cv::IMREAD_ANYCOLOR;
    if (header.format == "jpeg") {
      // IMREAD_REDUCED_* set libjpeg's scale_denom (the _GRAYSCALE_ bits;
      // ANYCOLOR keeps the file's colour).
      reduction = JpegReduction(header.width, header.height, options);
      switch (reduction) {
        case 2: flags |= cv::IMREAD_REDUCED_GRAYSCALE_2; break;
        case 4: flags |= cv::IMREAD_REDUCED_GRAYSCALE_4; break;
        case 8: flags |= cv::IMREAD_REDUCED_GRAYSCALE_8; break;
        default: break;
      }
    }
    image = cv::imdecode(bytes, flags);
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
  if (info) {
    info->reduction = reduction;
    info->full_size = image.size();
    if (reduction > 1) {  // the header's size, turned as EXIF orientation turned the image
      const cv::Size stored(static_cast<int>(header.width), static_cast<int>(header.height));
      const bool turned = image.cols != (stored.width + reduction - 1) / reduction;
      info->full_size = turned ? cv::Size(stored.height, stored.width) : stored;
    }
  }
  return image;
}

cv::Mat DecodeImage(const std::string& path, const DecodeOptions& options, DecodeInfo* info) {
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
  return DecodeImageBytes(bytes, path, options, info);
}

}  // namespace sense::vision
