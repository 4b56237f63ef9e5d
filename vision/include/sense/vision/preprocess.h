// sense/vision/preprocess.h — image to model input, driven by the bundle's
// ImagePreprocessing and nothing else.
//
// Order: colour conversion to the model's order (gray <-> colour as needed,
// PIL's luma weights for colour -> gray) -> resize by the metadata's mode ->
// x * scale -> (x - mean[c]) / std[c] -> layout (NCHW or NHWC).
//
// Resizing with antialias = true reproduces PIL's resampling (the filter
// support widens with the downscale factor; fixed-point 8-bit passes,
// horizontal then vertical), so a bundle exported from torchvision gets the
// tensors it was trained on: Resize(s) + CenterCrop(c) is ResizeMode::kCenterCrop
// with resize_shorter = s, including torchvision's size and crop-offset
// rounding. With antialias = false OpenCV's plain cv::resize is used.
//
// Input contract: an 8-bit cv::Mat with 1 (gray), 3 (BGR) or 4 (BGRA, alpha
// ignored) channels, as DecodeImage returns. Anything else is Error(kInput).
// Thread safety: free functions, safe from several threads.
#ifndef SENSE_VISION_PREPROCESS_H_
#define SENSE_VISION_PREPROCESS_H_

#include <vector>

#include <opencv2/core/mat.hpp>

#include "sense/inference/metadata.h"
#include "sense/inference/tensor.h"

namespace sense::vision {

// How a source image maps onto the network input: a network pixel (u, v)
// comes from source pixel ((u - pad_x + crop_x) / scale_x, (v - pad_y + crop_y) / scale_y).
// This is exact for every resize mode (the coordinates are continuous:
// pixel i covers [i, i + 1), so a box edge maps as a point does):
//   stretch:        scale = input / source per axis, no offsets;
//   center_crop:    scale = resized / source, crop = the crop's offset in the resized image;
//   letterbox:      scale = round(side * r) / side per axis (sampling resize) or r (sampling
//                   warp), pad = where the image starts in the input (fractional for warp);
//   pad_to_square:  scale = input / longer side per axis, no offsets (the image sits top-left).
struct InputTransform {
  int source_width = 0, source_height = 0;
  double scale_x = 1, scale_y = 1;  // resized size / source size
  int crop_x = 0, crop_y = 0;       // centre-crop offset in the resized image
  double pad_x = 0, pad_y = 0;      // letterbox offset of the image in the network input
  // Maps a point in network-input pixels to source-image pixels.
  cv::Point2f ToSource(cv::Point2f network_point) const;
  // Warps a map in network-input coordinates (any type) to the source size;
  // regions the network did not see are filled with `fill`.
  cv::Mat MapToSource(const cv::Mat& network_map, double fill = 0) const;
};

// Resizes an 8-bit image as PIL's Image.resize does with the given filter
// (kBilinear: triangle, kBicubic: a = -0.5, kArea: box, kNearest: PIL
// nearest). Only the output region `roi` (in output coordinates) is
// computed; by default the whole output.
cv::Mat ResizePil(const cv::Mat& image, cv::Size size, Interpolation filter, cv::Rect roi = cv::Rect());

// The colour-converted, resized (and cropped or padded) 8-bit image the
// network sees, plus its transform. Exposed for tests and explanations.
cv::Mat PrepareImage(const cv::Mat& image, const ImagePreprocessing& p, InputTransform* transform);

// Fills batch row `index` of `batch` (float32, [N, C, H, W] or [N, H, W, C]
// per p.layout) from `image`.
void PreprocessInto(const cv::Mat& image, const ImagePreprocessing& p, Tensor* batch, int64_t index,
                    InputTransform* transform = nullptr);

// A [N, C, H, W] (or NHWC) float32 batch from images.
Tensor PreprocessBatch(const std::vector<cv::Mat>& images, const ImagePreprocessing& p,
                       std::vector<InputTransform>* transforms = nullptr);

}  // namespace sense::vision

#endif  // SENSE_VISION_PREPROCESS_H_
