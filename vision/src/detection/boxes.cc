// Layouts "boxes_scores_labels" (and "torchvision", which reads the same
// tensors) and "boxes_scores".
//
// boxes_scores_labels: boxes [B, K, 4], scores [B, K], labels [B, K] (class
// index + label_offset, any numeric dtype), optional count [B] (rows past
// it are padding), optional keypoints [B, K, num_keypoints, keypoint_dims].
// Rows with a negative class (padding) are skipped.
//
// boxes_scores: SSD-style decoded boxes [B, A, 4] and per-class scores
// [B, A, classes] or [B, A, 1 + classes] with background_class (column 0
// dropped after the activation: softmax over the whole row, sigmoid, or
// none), optional keypoints [B, A, num_keypoints * keypoint_dims].
#include <cmath>

#include "detection/decoders.h"

namespace sense::vision::detection {

void DecodeBoxesScoresLabels(const NamedTensors& outputs, int64_t row, const DecodeContext& ctx,
                             std::vector<Candidate>& out) {
  const DetectionSpec& s = ctx.spec;
  std::vector<int64_t> shape;
  const float* boxes = RowData(Output(outputs, s.boxes_output, s.layout), s.boxes_output, row, ctx, {-1, 4}, &shape, true);
  const int64_t k = shape[0];
  const float* scores = RowData(Output(outputs, s.scores_output, s.layout), s.scores_output, row, ctx, {k}, &shape, true);
  const float* labels = RowData(Output(outputs, s.labels_output, s.layout), s.labels_output, row, ctx, {k}, &shape, true);
  int64_t n = k;
  if (!s.count_output.empty() && outputs.Contains(s.count_output)) {
    const float* count = RowData(outputs.at(s.count_output), s.count_output, row, ctx, {}, &shape, true);
    if (!(count[0] >= 0 && count[0] <= static_cast<float>(k)))
      throw Error(ErrorCode::kBackend, "layout '" + s.layout + "': output '" + s.count_output + "' says " +
                                           std::to_string(count[0]) + " detections; the other outputs hold " + std::to_string(k));
    n = static_cast<int64_t>(count[0]);
  }
  const float* keypoints = nullptr;
  if (s.num_keypoints > 0)
    keypoints = RowData(Output(outputs, s.keypoints_output, s.layout), s.keypoints_output, row, ctx,
                        {k, s.num_keypoints, s.keypoint_dims}, &shape, true);
  const int classes = static_cast<int>(ctx.metadata.labels.size());
  for (int64_t i = 0; i < n; ++i) {
    const float score = scores[i];
    if (!(score >= ctx.score_threshold)) continue;
    const float l = labels[i] - static_cast<float>(s.label_offset);
    if (l < 0) continue;  // padding, or a background class below label_offset
    if (l >= static_cast<float>(classes) || l != std::floor(l))
      throw Error(ErrorCode::kBackend, "layout '" + s.layout + "': output '" + s.labels_output + "' has label " +
                                           std::to_string(labels[i]) + "; the metadata has " + std::to_string(classes) +
                                           " labels (label_offset " + std::to_string(s.label_offset) + ")");
    const int c = static_cast<int>(l);
    if (!ctx.Allowed(c)) continue;
    Candidate cand;
    cand.box = ToPixelBox(boxes + i * 4, s, ctx.input_width, ctx.input_height);
    cand.score = std::min(score, 1.0f);
    cand.class_index = c;
    if (keypoints)
      cand.keypoints = ToPixelKeypoints(keypoints + i * s.num_keypoints * s.keypoint_dims, s.num_keypoints, s.keypoint_dims,
                                        s.normalized, ctx.input_width, ctx.input_height);
    out.push_back(std::move(cand));
  }
}

void DecodeBoxesScores(const NamedTensors& outputs, int64_t row, const DecodeContext& ctx, std::vector<Candidate>& out) {
  const DetectionSpec& s = ctx.spec;
  const int classes = static_cast<int>(ctx.metadata.labels.size());
  const int cols = classes + (s.background_class ? 1 : 0);
  std::vector<int64_t> shape;
  const float* boxes = RowData(Output(outputs, s.boxes_output, s.layout), s.boxes_output, row, ctx, {-1, 4}, &shape);
  const int64_t a = shape[0];
  const float* scores = RowData(Output(outputs, s.scores_output, s.layout), s.scores_output, row, ctx, {a, cols}, &shape);
  const float* keypoints = nullptr;
  const int kp = s.num_keypoints * s.keypoint_dims;
  if (s.num_keypoints > 0)
    keypoints = RowData(Output(outputs, s.keypoints_output, s.layout), s.keypoints_output, row, ctx, {a, kp}, &shape);
  std::vector<float> act(static_cast<size_t>(cols));
  const int first = s.background_class ? 1 : 0;
  for (int64_t i = 0; i < a; ++i) {
    const float* sc = scores + i * cols;
    switch (s.scores_activation) {
      case Activation::kNone: break;
      case Activation::kSigmoid:
        for (int c = 0; c < cols; ++c) act[static_cast<size_t>(c)] = Sigmoid(sc[c]);
        sc = act.data();
        break;
      case Activation::kSoftmax: {
        float m = sc[0];
        for (int c = 1; c < cols; ++c) m = std::max(m, sc[c]);
        float sum = 0;
        for (int c = 0; c < cols; ++c) sum += act[static_cast<size_t>(c)] = std::exp(sc[c] - m);
        for (auto& v : act) v /= sum;
        sc = act.data();
        break;
      }
    }
    const size_t begin = out.size();
    ForEachKeptClass(sc + first, classes, ctx, [&](int c, float score) {
      Candidate cand;
      cand.score = score;
      cand.class_index = c;
      out.push_back(std::move(cand));
    });
    if (out.size() == begin) continue;
    const Box box = ToPixelBox(boxes + i * 4, s, ctx.input_width, ctx.input_height);
    std::vector<cv::Point2f> k;
    if (keypoints) k = ToPixelKeypoints(keypoints + i * kp, s.num_keypoints, s.keypoint_dims, s.normalized, ctx.input_width, ctx.input_height);
    for (size_t j = begin; j < out.size(); ++j) {
      out[j].box = box;
      out[j].keypoints = k;
    }
  }
}

}  // namespace sense::vision::detection
