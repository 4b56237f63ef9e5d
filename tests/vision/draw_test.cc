// DrawDetections and CropDetections: what lands where in the picture.
#include "sense/vision/draw.h"

#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include "sense/inference/error.h"

namespace sense::vision {
namespace {

Detections Two(int w, int h) {
  Detections d;
  d.image_width = w;
  d.image_height = h;
  d.detections.push_back({{20.f, 60.f, 120.f, 160.f}, 16, "dog", 0.93f, {}});
  d.detections.push_back({{150.5f, 10.2f, 190.f, 50.9f}, 2, "car", 0.51f, {cv::Point2f(160, 20)}});
  return d;
}

bool Near(const cv::Vec3b& p, const cv::Scalar& c, int tol = 40) {
  return std::abs(p[0] - c[0]) <= tol && std::abs(p[1] - c[1]) <= tol && std::abs(p[2] - c[2]) <= tol;
}

TEST(DrawDetections, BoxesAndLabelsInClassColoursOnLightAndDark) {
  for (int background : {0, 255}) {
    cv::Mat image(200, 240, CV_8UC3, cv::Scalar::all(background));
    const cv::Mat out = DrawDetections(image, Two(240, 200));
    ASSERT_EQ(out.type(), CV_8UC3);
    ASSERT_EQ(out.size(), image.size());
    EXPECT_EQ(cv::norm(image, cv::Mat(200, 240, CV_8UC3, cv::Scalar::all(background)), cv::NORM_INF), 0);  // input untouched
    // The dog's left edge (x = 20) is drawn in its class colour, the car's top edge in its own.
    EXPECT_TRUE(Near(out.at<cv::Vec3b>(110, 20), ClassColor(16))) << background;
    EXPECT_TRUE(Near(out.at<cv::Vec3b>(10, 170), ClassColor(2))) << background;
    // The dog's label sits on a filled background of its colour just above the box.
    int filled = 0;
    for (int y = 40; y < 58; ++y)
      for (int x = 20; x < 60; ++x) filled += Near(out.at<cv::Vec3b>(y, x), ClassColor(16), 10) ? 1 : 0;
    EXPECT_GT(filled, 200) << background;
    // Both kinds of text ink exist: the label is written on it.
    cv::Mat label = out(cv::Rect(20, 40, 60, 18));
    cv::Mat diff;
    cv::absdiff(label, ClassColor(16), diff);
    cv::Mat far = diff.reshape(1) > 60;
    EXPECT_GT(cv::countNonZero(far), 10) << background;
    // Far from every box the picture is unchanged.
    EXPECT_EQ(out.at<cv::Vec3b>(190, 230), cv::Vec3b(background, background, background));
  }
  EXPECT_NE(ClassColor(0), ClassColor(1));
  EXPECT_EQ(ClassColor(3), ClassColor(23));
}

TEST(DrawDetections, GrayAndBgraGiveBgrAndLabelStaysInside) {
  cv::Mat gray(200, 240, CV_8UC1, cv::Scalar(128));
  EXPECT_EQ(DrawDetections(gray, Two(240, 200)).type(), CV_8UC3);
  cv::Mat bgra(200, 240, CV_8UC4, cv::Scalar(1, 2, 3, 255));
  const cv::Mat out = DrawDetections(bgra, Two(240, 200));
  EXPECT_EQ(out.type(), CV_8UC3);
  // The car's box touches the top: its label goes inside, below the top edge.
  EXPECT_TRUE(Near(out.at<cv::Vec3b>(20, 185), ClassColor(2), 10) || Near(out.at<cv::Vec3b>(25, 185), ClassColor(2), 10));
}

TEST(DrawDetections, RefusesMismatchedOrEmptyImages) {
  cv::Mat image(100, 100, CV_8UC3, cv::Scalar::all(0));
  try {
    DrawDetections(image, Two(240, 200));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInput);
    EXPECT_NE(std::string(e.what()).find("240 x 200 image, this one is 100 x 100"), std::string::npos) << e.what();
  }
  EXPECT_THROW(DrawDetections(cv::Mat(), Detections()), Error);
  DrawOptions bad;
  bad.line_width = -1;
  EXPECT_THROW(DrawDetections(image, Detections(), bad), Error);
}

TEST(CropDetections, OneCropPerDetectionRoundedOutwardsAndClipped) {
  cv::Mat image(200, 240, CV_8UC3);
  cv::randu(image, 0, 255);
  const auto crops = CropDetections(image, Two(240, 200));
  ASSERT_EQ(crops.size(), 2u);
  EXPECT_EQ(crops[0].size(), cv::Size(100, 100));
  EXPECT_EQ(cv::norm(crops[0], image(cv::Rect(20, 60, 100, 100)), cv::NORM_INF), 0);
  EXPECT_EQ(CropRect({150.5f, 10.2f, 190.f, 50.9f}, {240, 200}), cv::Rect(150, 10, 40, 41));
  // Padding grows the box; clipping keeps it inside; a degenerate box keeps 1 x 1.
  EXPECT_EQ(CropRect({20, 60, 120, 160}, {240, 200}, 0.1f), cv::Rect(10, 50, 120, 120));
  EXPECT_EQ(CropRect({-5, -5, 300, 300}, {240, 200}), cv::Rect(0, 0, 240, 200));
  EXPECT_EQ(CropRect({239.5f, 199.5f, 239.5f, 199.5f}, {240, 200}), cv::Rect(239, 199, 1, 1));
  CropOptions bad;
  bad.padding = -0.5f;
  EXPECT_THROW(CropDetections(image, Two(240, 200), bad), Error);
}

}  // namespace
}  // namespace sense::vision
