// sense/vision/draw.h — pictures of detections: annotated copies of an
// image (boxes, labels, scores, keypoints) and crops of the detected objects.
//
//   auto found = detector->Detect(image);
//   cv::imwrite("annotated.jpg", sense::vision::DrawDetections(image, found));
//   for (const auto& crop : sense::vision::CropDetections(image, found)) ...
//
// Readable on light and dark photos alike: each box is drawn in its class's
// colour (a fixed 20-colour palette indexed by class, so a class keeps its
// colour across images and runs) between two thin dark outlines; its label
// ("dog 0.93") is written on a filled rectangle of the same colour, in black
// or white, whichever contrasts more, above the box (inside it when the box
// touches the top edge). Line width and text size follow the image size.
//
// Input contract: `image` is what DecodeImage returns (8-bit gray, BGR or
// BGRA), the size the detections were made on (Detections::image_width /
// image_height; a different size is Error(kInput), as an empty image is).
// Ownership: the image is only read; results are new images (crops are
// copies, not views). Thread safety: the functions are reentrant.
#ifndef SENSE_VISION_DRAW_H_
#define SENSE_VISION_DRAW_H_

#include <vector>

#include <opencv2/core/mat.hpp>

#include "sense/vision/object_detector.h"

namespace sense::vision {

struct DrawOptions {
  bool labels = true;      // write the label above each box
  bool scores = true;      // append the score ("dog 0.93"); ignored without labels
  bool keypoints = true;   // draw keypoints (face landmarks) as dots
  int line_width = 0;      // box line width in pixels; 0: from the image size (2 px per 500 px of the shorter side, >= 2)
  double text_scale = 0;   // OpenCV font scale; 0: from the image size; else > 0
};

// The colour (BGR) a class index is drawn in: palette[class_index mod 20];
// class -1 (no class) gets the first.
cv::Scalar ClassColor(int class_index);

// An annotated 8-bit BGR copy of `image` with every detection drawn in the
// order given (highest score last, so it is on top). Throws Error(kInput)
// for an empty image or one whose size is not the detections' image size,
// Error(kOption) for a negative line width or text scale.
cv::Mat DrawDetections(const cv::Mat& image, const Detections& detections, const DrawOptions& options = {});

struct CropOptions {
  float padding = 0.0f;  // grow each box by this fraction of its width/height on every side, >= 0
};

// One crop per detection, in detection order: the box (padded, rounded
// outwards to whole pixels, clipped to the image; at least 1 x 1) copied
// out of `image` in its own channel layout. Throws Error(kInput) as
// DrawDetections does, Error(kOption) for a negative or non-finite padding.
std::vector<cv::Mat> CropDetections(const cv::Mat& image, const Detections& detections, const CropOptions& options = {});

// The integer pixel rectangle CropDetections copies for `box`.
cv::Rect CropRect(const Box& box, const cv::Size& image_size, float padding = 0.0f);

}  // namespace sense::vision

#endif  // SENSE_VISION_DRAW_H_
