// Parity with the Python pipeline that trains models: the tensor sense makes
// from a real photo vs PIL + torchvision (Resize, CenterCrop, ToTensor,
// Normalize), made by scripts/make_parity_reference.py at build time.
#include "sense/vision/preprocess.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>

#include "sense/vision/image_io.h"
#include "test_util.h"

namespace sense::vision {
namespace {

ImagePreprocessing FromCase(const nlohmann::json& c) {
  ImagePreprocessing p;
  p.width = c["width"];
  p.height = c["height"];
  p.color = c["color"] == "gray" ? ColorOrder::kGray : ColorOrder::kRGB;
  p.resize = c["resize"] == "center_crop" ? ResizeMode::kCenterCrop : ResizeMode::kStretch;
  p.resize_shorter = c["resize_shorter"];
  const std::string i = c["interpolation"];
  p.interpolation = i == "bicubic" ? Interpolation::kBicubic : i == "area" ? Interpolation::kArea
                    : i == "nearest" ? Interpolation::kNearest : Interpolation::kBilinear;
  p.mean = c["mean"].get<std::vector<float>>();
  p.std = c["std"].get<std::vector<float>>();
  return p;
}

TEST(PreprocessParityTest, MatchesTorchvisionOnRealPhotos) {
  std::ifstream in(std::string(SENSE_PARITY_DIR) + "/index.json");
  ASSERT_TRUE(in) << "parity references missing: build target sense_parity_reference";
  const nlohmann::json index = nlohmann::json::parse(in);
  ASSERT_GE(index["cases"].size(), 10u);
  for (const auto& c : index["cases"]) {
    const ImagePreprocessing p = FromCase(c);
    cv::Mat img = DecodeImage(sense::testing::TestData("images/" + c["image"].get<std::string>()));
    Tensor t = PreprocessBatch({img}, p);
    std::ifstream ref(std::string(SENSE_PARITY_DIR) + "/" + c["name"].get<std::string>() + ".f32", std::ios::binary);
    std::vector<float> expected(static_cast<size_t>(t.numel()));
    ref.read(reinterpret_cast<char*>(expected.data()), static_cast<std::streamsize>(expected.size() * sizeof(float)));
    ASSERT_EQ(ref.gcount(), static_cast<std::streamsize>(expected.size() * sizeof(float))) << c["name"];
    double sum = 0, worst = 0;
    for (int64_t i = 0; i < t.numel(); ++i) {
      const double d = std::fabs(t.data<float>()[i] - expected[static_cast<size_t>(i)]);
      sum += d;
      worst = std::max(worst, d);
    }
    const double mad = sum / static_cast<double>(t.numel());
    std::cout << "  " << c["name"].get<std::string>() << ": mean abs diff " << mad << ", max " << worst << "\n";
    EXPECT_LT(mad, 0.01) << c["name"];
  }
}

TEST(PreprocessTest, LetterboxKeepsAspectAndMapsBack) {
  ImagePreprocessing p;
  p.width = p.height = 64;
  p.resize = ResizeMode::kLetterbox;
  p.mean = {0, 0, 0};
  p.std = {1, 1, 1};
  p.pad_value = {114, 114, 114};
  cv::Mat img(50, 100, CV_8UC3, cv::Scalar(255, 255, 255));
  InputTransform t;
  cv::Mat out = PrepareImage(img, p, &t);
  EXPECT_EQ(out.size(), cv::Size(64, 64));
  EXPECT_EQ(t.pad_y, 16);
  EXPECT_EQ(out.at<cv::Vec3b>(0, 32), cv::Vec3b(114, 114, 114));
  EXPECT_EQ(out.at<cv::Vec3b>(32, 32), cv::Vec3b(255, 255, 255));
  const cv::Point2f src = t.ToSource(cv::Point2f(64, 48));
  EXPECT_NEAR(src.x, 100, 1e-3);
  EXPECT_NEAR(src.y, 50, 1e-3);
}

TEST(PreprocessTest, DetectionResizeModesMapBackExactly) {
  // issue 13: the inverse of each resize, on a 101 x 37 image into 64 x 48
  ImagePreprocessing p;
  p.width = 64;
  p.height = 48;
  p.mean = {0, 0, 0};
  p.std = {1, 1, 1};
  p.pad_value = {7, 7, 7};
  p.antialias = false;
  cv::Mat img(37, 101, CV_8UC3, cv::Scalar(200, 200, 200));
  auto corner_back = [&](const InputTransform& t, cv::Point2f net) { return t.ToSource(net); };
  // letterbox (resize): r = 64 / 101, 64 x round(37 r) = 64 x 23, at y (48 - 23) / 2 = 12
  p.resize = ResizeMode::kLetterbox;
  InputTransform t;
  cv::Mat out = PrepareImage(img, p, &t);
  EXPECT_EQ(t.pad_x, 0);
  EXPECT_EQ(t.pad_y, 12);
  EXPECT_DOUBLE_EQ(t.scale_y, 23.0 / 37);
  EXPECT_EQ(out.at<cv::Vec3b>(11, 30), cv::Vec3b(7, 7, 7));
  EXPECT_EQ(out.at<cv::Vec3b>(12, 30), cv::Vec3b(200, 200, 200));
  EXPECT_EQ(out.at<cv::Vec3b>(35, 30), cv::Vec3b(7, 7, 7));
  cv::Point2f q = corner_back(t, {64, 35});
  EXPECT_NEAR(q.x, 101, 1e-4);
  EXPECT_NEAR(q.y, 37, 1e-4);
  // letterbox (warp): scale r exactly, offset 24 - 37 r / 2 (fractional)
  p.sampling = Sampling::kWarp;
  out = PrepareImage(img, p, &t);
  const double r = 64.0 / 101;
  EXPECT_DOUBLE_EQ(t.scale_x, r);
  EXPECT_DOUBLE_EQ(t.scale_y, r);
  EXPECT_DOUBLE_EQ(t.pad_x, 0);
  EXPECT_DOUBLE_EQ(t.pad_y, 24 - 37 * r / 2);
  q = corner_back(t, {64, static_cast<float>(t.pad_y + 37 * r)});
  EXPECT_NEAR(q.x, 101, 1e-4);
  EXPECT_NEAR(q.y, 37, 1e-4);
  EXPECT_EQ(out.at<cv::Vec3b>(0, 30), cv::Vec3b(7, 7, 7));
  EXPECT_EQ(out.at<cv::Vec3b>(24, 30), cv::Vec3b(200, 200, 200));
  // pad_to_square: 101 x 101 (image top left, padded right and bottom), then 64 x 48
  p.sampling = Sampling::kResize;
  p.resize = ResizeMode::kPadToSquare;
  out = PrepareImage(img, p, &t);
  EXPECT_EQ(out.size(), cv::Size(64, 48));
  EXPECT_DOUBLE_EQ(t.scale_x, 64.0 / 101);
  EXPECT_DOUBLE_EQ(t.scale_y, 48.0 / 101);
  EXPECT_EQ(t.pad_x, 0);
  EXPECT_EQ(t.pad_y, 0);
  EXPECT_EQ(out.at<cv::Vec3b>(5, 30), cv::Vec3b(200, 200, 200));
  EXPECT_EQ(out.at<cv::Vec3b>(40, 30), cv::Vec3b(7, 7, 7));
  q = corner_back(t, {64, static_cast<float>(37 * 48.0 / 101)});
  EXPECT_NEAR(q.x, 101, 1e-4);
  EXPECT_NEAR(q.y, 37, 1e-4);
  // stretch
  p.resize = ResizeMode::kStretch;
  out = PrepareImage(img, p, &t);
  q = corner_back(t, {64, 48});
  EXPECT_NEAR(q.x, 101, 1e-4);
  EXPECT_NEAR(q.y, 37, 1e-4);
}

TEST(PreprocessTest, NhwcLayoutAndGrayReplication) {
  ImagePreprocessing p;
  p.width = 4;
  p.height = 2;
  p.layout = Layout::kNHWC;
  p.mean = {0, 0, 0};
  p.std = {1, 1, 1};
  cv::Mat gray(2, 4, CV_8UC1, cv::Scalar(51));
  Tensor t = PreprocessBatch({gray}, p);
  EXPECT_EQ(t.shape(), (std::vector<int64_t>{1, 2, 4, 3}));
  for (int i = 0; i < 24; ++i) EXPECT_NEAR(t.data<float>()[i], 0.2f, 1e-6);
}

TEST(PreprocessTest, RejectsUnsupportedImages) {
  ImagePreprocessing p;
  p.width = p.height = 8;
  p.mean = {0, 0, 0};
  p.std = {1, 1, 1};
  EXPECT_THROW(PreprocessBatch({cv::Mat()}, p), Error);
  EXPECT_THROW(PreprocessBatch({cv::Mat(4, 4, CV_16UC3)}, p), Error);
  EXPECT_THROW(PreprocessBatch({cv::Mat(4, 4, CV_8UC2)}, p), Error);
}

}  // namespace
}  // namespace sense::vision
