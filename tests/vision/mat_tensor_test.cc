#include "sense/vision/mat_tensor.h"

#include <gtest/gtest.h>

#include <opencv2/core.hpp>

namespace sense::vision {
namespace {

TEST(MatTensorTest, ViewIsZeroCopyAndKeepsMatAlive) {
  Tensor t;
  unsigned char* raw = nullptr;
  {
    cv::Mat m(4, 5, CV_8UC3, cv::Scalar(1, 2, 3));
    raw = m.data;
    t = TensorFromMat(m);
  }  // the Mat handle is gone; the view keeps the buffer alive
  EXPECT_EQ(t.raw_data(), raw);
  EXPECT_EQ(t.shape(), (std::vector<int64_t>{4, 5, 3}));
  EXPECT_EQ(t.dtype(), DType::kUInt8);
  EXPECT_EQ(t.data<uint8_t>()[2], 3);
  cv::Mat gray(3, 2, CV_32FC1, cv::Scalar(0.5));
  EXPECT_EQ(TensorFromMat(gray, true).shape(), (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(TensorFromMat(gray).shape(), (std::vector<int64_t>{3, 2, 1}));
}

TEST(MatTensorTest, RefusesWhatItCannotView) {
  cv::Mat big(10, 10, CV_8UC1);
  EXPECT_THROW(TensorFromMat(big(cv::Rect(1, 1, 4, 4))), Error);  // not continuous
  EXPECT_THROW(TensorFromMat(cv::Mat(2, 2, CV_16UC1)), Error);
  EXPECT_THROW(TensorFromMat(cv::Mat()), Error);
}

}  // namespace
}  // namespace sense::vision
