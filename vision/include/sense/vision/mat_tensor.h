// sense/vision/mat_tensor.h — a cv::Mat seen as a sense::Tensor, without a copy.
//
// Lives in vision/ so that sense/inference/tensor.h needs no OpenCV headers
// (text-only users of sense do not need OpenCV).
//
// Ownership: the view holds a reference to the Mat's refcounted buffer, so
// the pixels stay valid for as long as the view or a copy of it lives, even
// after the caller's Mat is gone. Writing through either writes both.
// Thread safety: a free function, safe from several threads.
#ifndef SENSE_VISION_MAT_TENSOR_H_
#define SENSE_VISION_MAT_TENSOR_H_

#include <opencv2/core/mat.hpp>

#include "sense/inference/tensor.h"

namespace sense::vision {

// A continuous 2-D cv::Mat as [rows, cols, channels] (or [rows, cols] with
// drop_channel_dim for 1-channel mats). Depths: CV_8U (uint8), CV_32S
// (int32), CV_32F (float32), CV_64F (float64). Error(kInput) for an empty,
// n-dimensional or non-continuous Mat (a ROI: clone() it) or another depth.
Tensor TensorFromMat(const cv::Mat& mat, bool drop_channel_dim = false);

}  // namespace sense::vision

#endif  // SENSE_VISION_MAT_TENSOR_H_
