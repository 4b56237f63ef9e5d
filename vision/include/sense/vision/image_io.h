// sense/vision/image_io.h — decoding images safely.
//
// DecodeImage reads every format OpenCV reads (JPEG, PNG, BMP, TIFF, WebP,
// PNM ...) and returns an 8-bit BGR or 8-bit gray cv::Mat:
//   * EXIF orientation is applied (a phone photo comes out upright);
//   * alpha is dropped (as PIL's convert("RGB") does), not composited;
//   * 16-bit images are scaled to 8 bits (v / 257, rounded);
//   * gray images stay 1-channel (preprocessing converts as the model needs).
// Guards: the pixel count is read from the file header and checked against
// max_pixels BEFORE decoding, so a decompression bomb costs nothing (for
// every format: one whose size cannot be read from its header is refused,
// not decoded; see PeekImageHeader); files
// that are empty, truncated (a JPEG without its end marker, a PNG cut short)
// or not images get Error(kInput) naming the file.
//
// Thread safety: free functions, safe from several threads.
#ifndef SENSE_VISION_IMAGE_IO_H_
#define SENSE_VISION_IMAGE_IO_H_

#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "sense/inference/error.h"

namespace sense::vision {

struct DecodeOptions {
  int64_t max_pixels = 100'000'000;          // width * height above this is Error(kInput); > 0
  int64_t max_file_bytes = 1'000'000'000;    // larger files are Error(kInput); > 0
  // JPEG only: decode at 1/2, 1/4 or 1/8 scale (libjpeg's DCT scaling, which
  // skips most of the decoding work) — the largest reduction whose image
  // still has both sides >= max(min_width, min_height) (so an EXIF rotation
  // cannot make it smaller). 0 (default): always full size. Sizes round up,
  // as libjpeg's do: 1/r of 493 is ceil(493 / r).
  int min_width = 0, min_height = 0;
};

// The DCT reduction (1, 2, 4 or 8) DecodeImage picks for a JPEG of
// width x height under `options`.
int JpegReduction(int64_t width, int64_t height, const DecodeOptions& options);

// What decoding did, to map results on the decoded image back to the file's
// pixels.
struct DecodeInfo {
  cv::Size full_size;  // the image at full scale, upright (EXIF orientation applied)
  int reduction = 1;   // 1, 2, 4 or 8: the decoded image is full_size / reduction, rounded up
};

// Decodes a file. Throws sense::Error (kFile for missing/unreadable, kInput
// for everything about the content). `info`, when given, receives what
// decoding did.
cv::Mat DecodeImage(const std::string& path, const DecodeOptions& options = {}, DecodeInfo* info = nullptr);

// Decodes bytes already in memory; `name` is used in error messages.
cv::Mat DecodeImageBytes(const std::vector<unsigned char>& bytes, const std::string& name,
                         const DecodeOptions& options = {}, DecodeInfo* info = nullptr);

// What a file's header says, read without decoding: the format, recognised
// by its signature, and the image size. Formats: JPEG, PNG, GIF, BMP, WebP,
// TIFF and BigTIFF (first IFD), PBM/PGM/PPM, PAM, PFM, Sun raster, Radiance
// HDR, OpenEXR (dataWindow), JPEG 2000 (JP2 and codestream: SIZ) — every
// format OpenCV 4.6's imdecode reads. format is empty when the signature is
// none of these; width and height are 0 when the header is unreadable.
// DecodeImage decodes only recognised formats with a readable size.
struct ImageHeader {
  std::string format;  // "jpeg", "png", "gif", "bmp", "webp", "tiff", "pnm", "pam", "pfm", "sunras", "hdr", "exr", "jpeg2000"
  int64_t width = 0, height = 0;
};
ImageHeader PeekImageHeader(const std::vector<unsigned char>& bytes);

// PeekImageHeader's size, clamped to int (0x0 when unknown).
cv::Size PeekImageSize(const std::vector<unsigned char>& bytes);

// File extensions the apps look for in folders: .jpg .jpeg .png .bmp .tif .tiff .webp .pgm .ppm .pbm .pnm
const std::vector<std::string>& ImageExtensions();

}  // namespace sense::vision

#endif  // SENSE_VISION_IMAGE_IO_H_
