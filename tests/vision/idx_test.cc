#include "sense/vision/idx.h"

#include <unistd.h>
#include <zlib.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>

namespace sense::vision {
namespace {

std::string Be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

// Writes `header` then `zeros` zero bytes, gzip-compressed.
std::string WriteGzip(const std::string& name, const std::string& header, size_t zeros) {
  const std::string path = (std::filesystem::temp_directory_path() / (name + std::to_string(::getpid()) + ".gz")).string();
  gzFile f = gzopen(path.c_str(), "wb9");
  EXPECT_NE(f, nullptr);
  gzwrite(f, header.data(), static_cast<unsigned>(header.size()));
  const std::string block(1 << 20, '\0');
  for (size_t left = zeros; left > 0;) {
    const size_t n = std::min(left, block.size());
    gzwrite(f, block.data(), static_cast<unsigned>(n));
    left -= n;
  }
  gzclose(f);
  return path;
}

void ExpectIdxError(const std::string& path, bool images, const std::string& fragment) {
  try {
    if (images) ReadIdxImages(path);
    else ReadIdxLabels(path);
    FAIL() << "expected an error for " << path;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInput) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(IdxTest, ReadsImagesAndLabels) {
  const std::string img = WriteGzip("idx_ok_images", Be32(0x803) + Be32(2) + Be32(3) + Be32(4), 24);
  const auto images = ReadIdxImages(img);
  ASSERT_EQ(images.size(), 2u);
  EXPECT_EQ(images[1].size(), cv::Size(4, 3));
  const std::string lab = WriteGzip("idx_ok_labels", Be32(0x801) + Be32(5), 5);
  EXPECT_EQ(ReadIdxLabels(lab), std::vector<int>(5, 0));
  std::remove(img.c_str());
  std::remove(lab.c_str());
}

// A gzip of a few KB whose header declares one 28x28 image but which
// inflates to 64 MB: refused after reading one byte past the declared size.
TEST(IdxTest, GzipExpandingPastItsHeaderIsRefusedWithoutInflatingIt) {
  const std::string img = WriteGzip("idx_bomb_images", Be32(0x803) + Be32(1) + Be32(28) + Be32(28), size_t(64) << 20);
  EXPECT_LT(std::filesystem::file_size(img), 200'000u);
  ExpectIdxError(img, true, "holds more data than its header declares (784 bytes)");
  const std::string lab = WriteGzip("idx_bomb_labels", Be32(0x801) + Be32(10), size_t(64) << 20);
  ExpectIdxError(lab, false, "holds more data than its header declares (10 bytes)");
  std::remove(img.c_str());
  std::remove(lab.c_str());
}

TEST(IdxTest, ShortOrHugeHeadersAreRefused) {
  const std::string shrt = WriteGzip("idx_short", Be32(0x803) + Be32(10) + Be32(28) + Be32(28), 100);
  ExpectIdxError(shrt, true, "header declares 7840 bytes of data, the file holds 100");
  const std::string huge = WriteGzip("idx_huge", Be32(0x803) + Be32(0xFFFFFFFF) + Be32(4096) + Be32(4096), 10);
  ExpectIdxError(huge, true, "over the limit");
  const std::string side = WriteGzip("idx_side", Be32(0x803) + Be32(1) + Be32(5000) + Be32(1), 5000);
  ExpectIdxError(side, true, "expected 1 to 4096 pixels per side");
  for (const auto& p : {shrt, huge, side}) std::remove(p.c_str());
}

}  // namespace
}  // namespace sense::vision
