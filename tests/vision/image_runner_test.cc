#include "sense/vision/image_runner.h"

#include <gtest/gtest.h>

#include <functional>
#include <stdexcept>

#include <opencv2/core.hpp>

#include "test_util.h"

namespace sense::vision {
namespace {

using sense::testing::TestData;

ImagePreprocessing Gray8() {
  ImagePreprocessing p;
  p.width = 8;
  p.height = 8;
  p.color = ColorOrder::kGray;
  p.resize = ResizeMode::kStretch;
  p.scale = 1.0f;
  p.mean = {0.0f};
  p.std = {1.0f};
  return p;
}

// An image whose pixels all have value v.
cv::Mat Flat(int v) { return cv::Mat(8, 8, CV_8UC1, cv::Scalar(v)); }

// A fake model: each row's result is its pixel value; a row of value 13
// makes the whole call throw a foreign exception, as an interpreter would.
struct FakeModel {
  std::vector<size_t> call_sizes;
  std::vector<int> operator()(const ImageBatch& b) {
    call_sizes.push_back(b.items.size());
    EXPECT_EQ(b.input.size(0), static_cast<int64_t>(b.items.size()));
    EXPECT_EQ(b.transforms.size(), b.items.size());
    std::vector<int> out;
    for (int64_t r = 0; r < b.input.size(0); ++r) {
      const int v = static_cast<int>(b.input.data<float>()[r * 64]);
      if (v == 13) throw std::runtime_error("AssertionError: unlucky row");
      out.push_back(v);
    }
    return out;
  }
};

TEST(ImageRunnerTest, OneOutcomePerInputInOrderAcrossChunks) {
  ImageRunner runner(Gray8(), {3});
  FakeModel model;
  std::vector<cv::Mat> images;
  for (int v = 0; v < 8; ++v) images.push_back(Flat(v));
  auto out = runner.Run<int>(images, std::ref(model));
  ASSERT_EQ(out.size(), 8u);
  for (int v = 0; v < 8; ++v) EXPECT_EQ(out[static_cast<size_t>(v)].value(), v);
  EXPECT_EQ(model.call_sizes, (std::vector<size_t>{3, 3, 2}));
}

TEST(ImageRunnerTest, FailedBatchIsRetriedImageByImageToFindTheCulprit) {
  ImageRunner runner(Gray8(), {4});
  FakeModel model;
  auto out = runner.Run<int>({Flat(1), Flat(13), Flat(3), Flat(4), Flat(5)}, std::ref(model));
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[0].value(), 1);
  ASSERT_FALSE(out[1].ok());
  EXPECT_EQ(out[1].error().code(), ErrorCode::kBackend);  // foreign exception translated
  EXPECT_NE(std::string(out[1].error().what()).find("unlucky row"), std::string::npos);
  EXPECT_EQ(out[2].value(), 3);
  EXPECT_EQ(out[3].value(), 4);
  EXPECT_EQ(out[4].value(), 5);
  // chunk 1: the batch of 4, then each of its 4 alone; chunk 2: one call
  EXPECT_EQ(model.call_sizes, (std::vector<size_t>{4, 1, 1, 1, 1, 1}));
}

TEST(ImageRunnerTest, BadImagesLeaveTheBatchWithTheirOwnErrors) {
  ImageRunner runner(Gray8(), {4});
  FakeModel model;
  auto out = runner.Run<int>({Flat(7), cv::Mat(), cv::Mat(4, 4, CV_16UC1), Flat(9)}, std::ref(model));
  EXPECT_EQ(out[0].value(), 7);
  EXPECT_EQ(out[1].error().code(), ErrorCode::kInput);
  EXPECT_EQ(out[2].error().code(), ErrorCode::kInput);
  EXPECT_EQ(out[3].value(), 9);
  EXPECT_EQ(model.call_sizes, (std::vector<size_t>{2}));  // only the good rows reach the model
}

TEST(ImageRunnerTest, FilesAreDecodedInsideWithPerFileErrors) {
  ImageRunner runner(Gray8(), {2});
  FakeModel model;
  const std::vector<std::string> files = {TestData("images/red.png"), TestData("images/missing.png"),
                                          TestData("images/bomb.png"), TestData("images/blue.png")};
  std::vector<size_t> order;
  std::vector<bool> had_image;
  runner.RunFiles<int>(files, DecodeOptions{}, std::ref(model), [&](size_t i, const cv::Mat& image, Outcome<int> o) {
    order.push_back(i);
    had_image.push_back(!image.empty());
    if (i == 1) {
      EXPECT_EQ(o.error().code(), ErrorCode::kFile);
    } else if (i == 2) {
      EXPECT_NE(std::string(o.error().what()).find("not decoded"), std::string::npos) << o.error().what();
    } else {
      EXPECT_TRUE(o.ok());
    }
  });
  EXPECT_EQ(order, (std::vector<size_t>{0, 1, 2, 3}));
  EXPECT_EQ(had_image, (std::vector<bool>{true, false, false, true}));
}

// A JPEG decoded at reduced scale: the transforms still map the network
// input onto the file's full-size pixels.
TEST(ImageRunnerTest, ReducedDecodeKeepsTransformsInFullSizePixels) {
  std::vector<InputTransform> seen;
  auto record = [&](const ImageBatch& b) {
    seen.insert(seen.end(), b.transforms.begin(), b.transforms.end());
    return std::vector<int>(b.items.size(), 0);
  };
  std::vector<cv::Size> decoded;
  auto sink = [&](size_t, const cv::Mat& image, Outcome<int>) { decoded.push_back(image.size()); };
  const std::vector<std::string> files = {TestData("images/butterfly.jpg"), TestData("images/butterfly_exif6.jpg")};
  ImageRunner(Gray8(), {2, true}).RunFiles<int>(files, DecodeOptions{}, record, sink);
  ImageRunner(Gray8(), {2, false}).RunFiles<int>(files, DecodeOptions{}, record, sink);
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(decoded[0], cv::Size(62, 45));    // 1/8 still covers the 8 x 8 input
  EXPECT_EQ(decoded[1], cv::Size(62, 45));    // stored sideways, turned upright
  EXPECT_EQ(decoded[2], cv::Size(493, 356));  // reduced_jpeg_decode off
  for (size_t i = 0; i < 2; ++i) {
    const InputTransform& reduced = seen[i];
    const InputTransform& full = seen[i + 2];
    EXPECT_EQ(reduced.source_width, 493);
    EXPECT_EQ(reduced.source_height, 356);
    for (const cv::Point2f q : {cv::Point2f(0, 0), cv::Point2f(4, 4), cv::Point2f(8, 8)}) {
      EXPECT_NEAR(reduced.ToSource(q).x, full.ToSource(q).x, 8.0) << i;  // within one reduced pixel
      EXPECT_NEAR(reduced.ToSource(q).y, full.ToSource(q).y, 8.0) << i;
    }
  }
}

TEST(ImageRunnerTest, BadOptions) {
  EXPECT_THROW(ImageRunner(Gray8(), {0}), Error);
}

}  // namespace
}  // namespace sense::vision
