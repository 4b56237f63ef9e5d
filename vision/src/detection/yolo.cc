// Layouts "yolov5" and "yolov8".
//
// yolov5: each predictions output is [B, A, 4 + 1 + classes (+ keypoints)]
// (or [A, ...] for a batch of one, as OpenCV DNN returns Darknet's YOLO
// layers): box (box_format, default cxcywh; normalized or pixels),
// objectness, class scores, then num_keypoints * keypoint_dims values.
// Score = objectness * class score, or the class score alone when
// scores_include_objectness (Darknet through OpenCV DNN multiplies them
// already) or without objectness. scores_activation sigmoid applies to
// objectness and class scores (raw heads). Several outputs (one per YOLO
// layer) are read in order, as one list of anchors.
//
// yolov8: [B, 4 + classes (+ keypoints), A] (YOLOv8 / YOLO11 exports):
// channels first, no objectness.
#include <cmath>

#include "detection/decoders.h"

namespace sense::vision::detection {

namespace {

float Activate(float v, bool sigmoid) { return sigmoid ? Sigmoid(v) : v; }

}  // namespace

void DecodeYoloV5(const NamedTensors& outputs, int64_t row, const DecodeContext& ctx, std::vector<Candidate>& out) {
  const DetectionSpec& s = ctx.spec;
  const int classes = static_cast<int>(ctx.metadata.labels.size());
  const int kp = s.num_keypoints * s.keypoint_dims;
  const int obj = s.objectness ? 1 : 0;
  const int width = 4 + obj + classes + kp;
  const bool sigmoid = s.scores_activation == Activation::kSigmoid;
  std::vector<float> sc(static_cast<size_t>(classes));
  for (const auto& name : s.predictions_outputs) {
    std::vector<int64_t> shape;
    const float* p = RowData(Output(outputs, name, s.layout), name, row, ctx, {-1, width}, &shape, /*allow_unbatched=*/true);
    const int64_t a = shape[0];
    for (int64_t i = 0; i < a; ++i) {
      const float* r = p + i * width;
      float o = 1.0f;
      if (obj) {
        o = Activate(r[4], sigmoid);
        if (o < ctx.score_threshold) continue;  // every score of this box is <= objectness
      }
      const float mul = (obj && !s.scores_include_objectness) ? o : 1.0f;
      for (int c = 0; c < classes; ++c) sc[static_cast<size_t>(c)] = Activate(r[4 + obj + c], sigmoid) * mul;
      const size_t begin = out.size();
      ForEachKeptClass(sc.data(), classes, ctx, [&](int c, float score) {
        Candidate cand;
        cand.score = score;
        cand.class_index = c;
        out.push_back(std::move(cand));
      });
      if (out.size() == begin) continue;
      const Box box = ToPixelBox(r, s, ctx.input_width, ctx.input_height);
      std::vector<cv::Point2f> k;
      if (kp) k = ToPixelKeypoints(r + 4 + obj + classes, s.num_keypoints, s.keypoint_dims, s.normalized, ctx.input_width, ctx.input_height);
      for (size_t j = begin; j < out.size(); ++j) {
        out[j].box = box;
        out[j].keypoints = k;
      }
    }
  }
}

void DecodeYoloV8(const NamedTensors& outputs, int64_t row, const DecodeContext& ctx, std::vector<Candidate>& out) {
  const DetectionSpec& s = ctx.spec;
  const int classes = static_cast<int>(ctx.metadata.labels.size());
  const int kp = s.num_keypoints * s.keypoint_dims;
  const int channels = 4 + classes + kp;
  const bool sigmoid = s.scores_activation == Activation::kSigmoid;
  std::vector<float> sc(static_cast<size_t>(classes)), v(static_cast<size_t>(std::max(4, kp)));
  for (const auto& name : s.predictions_outputs) {
    std::vector<int64_t> shape;
    const float* p = RowData(Output(outputs, name, s.layout), name, row, ctx, {channels, -1}, &shape);
    const int64_t a = shape[1];
    for (int64_t i = 0; i < a; ++i) {
      for (int c = 0; c < classes; ++c) sc[static_cast<size_t>(c)] = Activate(p[(4 + c) * a + i], sigmoid);
      const size_t begin = out.size();
      ForEachKeptClass(sc.data(), classes, ctx, [&](int c, float score) {
        Candidate cand;
        cand.score = score;
        cand.class_index = c;
        out.push_back(std::move(cand));
      });
      if (out.size() == begin) continue;
      for (int j = 0; j < 4; ++j) v[static_cast<size_t>(j)] = p[j * a + i];
      const Box box = ToPixelBox(v.data(), s, ctx.input_width, ctx.input_height);
      std::vector<cv::Point2f> k;
      if (kp) {
        for (int j = 0; j < kp; ++j) v[static_cast<size_t>(j)] = p[(4 + classes + j) * a + i];
        k = ToPixelKeypoints(v.data(), s.num_keypoints, s.keypoint_dims, s.normalized, ctx.input_width, ctx.input_height);
      }
      for (size_t j = begin; j < out.size(); ++j) {
        out[j].box = box;
        out[j].keypoints = k;
      }
    }
  }
}

}  // namespace sense::vision::detection
