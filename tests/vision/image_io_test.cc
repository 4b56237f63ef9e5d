#include "sense/vision/image_io.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include <opencv2/imgproc.hpp>

#include "test_util.h"

namespace sense::vision {
namespace {

using sense::testing::TestData;

void ExpectDecodeError(const std::string& file, ErrorCode code, const std::string& fragment) {
  try {
    DecodeImage(file);
    FAIL() << "expected an error for " << file;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << "message should name the file: " << e.what();
  }
}

TEST(ImageIoTest, DecodesJpegAndPngAsBgr) {
  cv::Mat m = DecodeImage(TestData("images/butterfly.jpg"));
  EXPECT_EQ(m.size(), cv::Size(493, 356));
  EXPECT_EQ(m.type(), CV_8UC3);
  cv::Mat r = DecodeImage(TestData("images/red.png"));
  EXPECT_EQ(r.at<cv::Vec3b>(0, 0), cv::Vec3b(30, 30, 220));  // BGR
}

TEST(ImageIoTest, GrayStaysOneChannel) {
  cv::Mat m = DecodeImage(TestData("images/left01.jpg"));
  EXPECT_EQ(m.type(), CV_8UC1);
}

TEST(ImageIoTest, HonoursExifOrientation) {
  // Stored sideways (rotated 90 degrees) with orientation 6: decodes upright.
  cv::Mat upright = DecodeImage(TestData("images/butterfly.jpg"));
  cv::Mat rotated = DecodeImage(TestData("images/butterfly_exif6.jpg"));
  ASSERT_EQ(rotated.size(), upright.size());
  cv::Mat diff;
  cv::absdiff(rotated, upright, diff);
  EXPECT_LT(cv::mean(diff)[0], 6.0);  // JPEG re-encoding noise only
}

TEST(ImageIoTest, AlphaDroppedAnd16BitScaled) {
  cv::Mat rgba = DecodeImage(TestData("images/butterfly_rgba.png"));
  EXPECT_EQ(rgba.type(), CV_8UC3);
  cv::Mat b16 = DecodeImage(TestData("images/butterfly_16bit.png"));
  EXPECT_EQ(b16.type(), CV_8UC3);
  cv::Mat diff;
  cv::absdiff(rgba, b16, diff);  // same pixels, one with alpha, one 16-bit
  EXPECT_EQ(cv::countNonZero(diff.reshape(1)), 0);
}

TEST(ImageIoTest, TruncatedJpegIsAnError) {
  ExpectDecodeError(TestData("images/truncated.jpg"), ErrorCode::kInput, "truncated JPEG");
}

TEST(ImageIoTest, DecompressionBombRejectedBeforeDecoding) {
  const auto t0 = std::chrono::steady_clock::now();
  ExpectDecodeError(TestData("images/bomb.png"), ErrorCode::kInput, "50000 x 50000");
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 1.0);
  DecodeOptions small;
  small.max_pixels = 1000;
  EXPECT_THROW(DecodeImage(TestData("images/butterfly.jpg"), small), Error);
}

TEST(ImageIoTest, NotAnImageEmptyMissingDirectory) {
  ExpectDecodeError(TestData("images/not_an_image.jpg"), ErrorCode::kInput, "not a readable image");
  ExpectDecodeError(TestData("images/empty.png"), ErrorCode::kInput, "empty file");
  ExpectDecodeError(TestData("images/nope.png"), ErrorCode::kFile, "no such file");
  ExpectDecodeError(TestData("images"), ErrorCode::kFile, "is a directory");
}

TEST(ImageIoTest, PeekReadsHeaders) {
  auto read = [](const std::string& f) {
    std::ifstream in(f, std::ios::binary);
    return std::vector<unsigned char>(std::istreambuf_iterator<char>(in), {});
  };
  EXPECT_EQ(PeekImageSize(read(TestData("images/butterfly.jpg"))), cv::Size(493, 356));
  EXPECT_EQ(PeekImageSize(read(TestData("images/red.png"))), cv::Size(48, 40));
  EXPECT_EQ(PeekImageSize(read(TestData("images/bomb.png"))), cv::Size(50000, 50000));
}

}  // namespace
}  // namespace sense::vision
