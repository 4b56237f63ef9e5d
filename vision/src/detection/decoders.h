// vision/src/detection/decoders.h — internal: the output decoders of
// ObjectDetector, one per `detection.layout` (docs/model-format.md).
//
// A decoder turns ONE batch row of a model's outputs into candidate boxes,
// before NMS:
//
//   void DecodeMine(const NamedTensors& outputs, int64_t row, const DecodeContext& ctx,
//                   std::vector<Candidate>& out);
//
// Contract:
//  * `outputs` are the model's outputs by name, every tensor already float32
//    (ObjectDetector converts integer outputs once per batch), batch first
//    (a rank that lacks the batch dimension is only valid for a batch of
//    one: see RowData). `row` is the batch row to decode.
//  * Append candidates to `out` (do not clear it): box in network-input
//    pixels (x1 <= x2, y1 <= y2, not yet clipped: the detector clips to the
//    input, maps to the source image through the row's InputTransform and
//    clips again), score in [0, 1], class_index in [0, labels), keypoints in
//    network-input pixels (empty when the model has none).
//  * Apply ctx.score_threshold (keep score >= it), ctx.Allowed(class) and
//    ctx.multi_label (false: only each box's best class, dropped when that
//    class is not allowed) as early as possible: skip a box's geometry when
//    no class of it passes. The detector applies min_box_size, NMS (unless
//    spec.nms_applied), sorting and max_detections afterwards.
//  * Throw sense::Error (kBackend for outputs that do not have the shape the
//    metadata promised, naming output, expected and found) on bad outputs;
//    the image runner gives the failing image that error.
//  * Be thread-safe: decoders are plain functions over their arguments.
//
// Adding a layout: write the function in its own file in this folder, add
// one line to the table in decoders.cc and the file to vision/CMakeLists.txt,
// add the layout's name (and its field checks) to inference/src/metadata.cc
// (kDetectionLayouts, ParseDetection), and document it in
// docs/model-format.md.
#ifndef SENSE_VISION_SRC_DETECTION_DECODERS_H_
#define SENSE_VISION_SRC_DETECTION_DECODERS_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core/types.hpp>

#include "sense/inference/error.h"
#include "sense/inference/metadata.h"
#include "sense/inference/tensor.h"
#include "sense/vision/object_detector.h"

namespace sense::vision::detection {

struct Candidate {
  Box box;                             // network-input pixels
  float score = 0;                     // in [0, 1]
  int class_index = 0;                 // into metadata.labels
  std::vector<cv::Point2f> keypoints;  // network-input pixels; empty: none
};

struct DecodeContext {
  const ModelMetadata& metadata;
  const DetectionSpec& spec;           // == *metadata.detection
  int input_width = 0, input_height = 0;  // network input size in pixels
  float score_threshold = 0;           // keep candidates with score >= this
  bool multi_label = false;            // every class >= threshold per box, else only the best
  const std::vector<uint8_t>& allowed;  // per label: 1 = wanted (allow/deny options applied)
  int64_t batch = 1;                   // rows in this model call
  bool Allowed(int c) const { return c >= 0 && static_cast<size_t>(c) < allowed.size() && allowed[static_cast<size_t>(c)]; }
};

using DecodeFn = void (*)(const NamedTensors& outputs, int64_t row, const DecodeContext& ctx, std::vector<Candidate>& out);

// The decoder for a layout name, or nullptr.
DecodeFn FindDecoder(const std::string& layout);
// The layouts this build decodes, for messages.
std::vector<std::string> DecoderNames();

// ---- helpers for decoders ----

// The output `name` (Error(kBackend) naming the outputs present when absent).
const Tensor& Output(const NamedTensors& outputs, const std::string& name, const std::string& layout);

// Row `row` of a float32 output whose per-row shape is `tail` (-1: any):
// the tensor is [batch, tail...], or exactly [tail...] when the batch is 1
// and allow_unbatched. Writes the actual per-row shape to *shape.
// Error(kBackend) otherwise, naming the output and both shapes.
const float* RowData(const Tensor& t, const std::string& name, int64_t row, const DecodeContext& ctx,
                     const std::vector<int64_t>& tail, std::vector<int64_t>* shape, bool allow_unbatched = false);

// A box of four values in spec.box_format (normalized or pixels) as xyxy
// network-input pixels.
inline Box ToPixelBox(const float* v, const DetectionSpec& spec, int width, int height) {
  float a = v[0], b = v[1], c = v[2], d = v[3];
  if (spec.normalized) { a *= width; b *= height; c *= width; d *= height; }
  switch (spec.box_format) {
    case BoxFormat::kXYXY: return {std::min(a, c), std::min(b, d), std::max(a, c), std::max(b, d)};
    case BoxFormat::kCXCYWH: return {a - c / 2, b - d / 2, a + c / 2, b + d / 2};
    case BoxFormat::kXYWH: return {a, b, a + c, b + d};
  }
  return {};
}

// Keypoints (x, y[, v]) * n from `v`, in the box's coordinate system.
inline std::vector<cv::Point2f> ToPixelKeypoints(const float* v, int n, int dims, bool normalized, int width, int height) {
  std::vector<cv::Point2f> k(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    float x = v[i * dims], y = v[i * dims + 1];
    if (normalized) { x *= width; y *= height; }
    k[static_cast<size_t>(i)] = {x, y};
  }
  return k;
}

inline float Sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// Class scores of one box (already activated), filtered by the context:
// calls emit(class, score) for each class to keep.
template <typename Emit>
void ForEachKeptClass(const float* scores, int classes, const DecodeContext& ctx, Emit&& emit) {
  if (ctx.multi_label) {
    for (int c = 0; c < classes; ++c)
      if (scores[c] >= ctx.score_threshold && ctx.Allowed(c)) emit(c, scores[c]);
    return;
  }
  int best = 0;
  for (int c = 1; c < classes; ++c)
    if (scores[c] > scores[best]) best = c;
  if (classes > 0 && scores[best] >= ctx.score_threshold && ctx.Allowed(best)) emit(best, scores[best]);
}

// The layouts of this folder (one file each).
void DecodeBoxesScoresLabels(const NamedTensors&, int64_t, const DecodeContext&, std::vector<Candidate>&);
void DecodeBoxesScores(const NamedTensors&, int64_t, const DecodeContext&, std::vector<Candidate>&);
void DecodeYoloV5(const NamedTensors&, int64_t, const DecodeContext&, std::vector<Candidate>&);
void DecodeYoloV8(const NamedTensors&, int64_t, const DecodeContext&, std::vector<Candidate>&);
void DecodeGfl(const NamedTensors&, int64_t, const DecodeContext&, std::vector<Candidate>&);
// Layouts added by other decoders: declare them here, one line each.

}  // namespace sense::vision::detection

#endif  // SENSE_VISION_SRC_DETECTION_DECODERS_H_
