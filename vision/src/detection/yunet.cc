// Layout "yunet": YuNet's 2023 output layout (libfacedetection.train; see
// DetectionSpec::YuNet and docs/model-format.md), any strides and landmark
// count of the family.
//
// Per stride s, outputs cls [B, A_s, 1], obj [B, A_s, 1], bbox [B, A_s, 4]
// and kps [B, A_s, 2 * keypoints], one prior per cell of the
// ceil(H / s) x ceil(W / s) grid in row-major order. For the cell at (row r,
// column c):
//   score      = sqrt(clip(cls, 0, 1) * clip(obj, 0, 1))
//   centre     = ((c + bbox0) * s, (r + bbox1) * s)
//   size       = (exp(bbox2) * s, exp(bbox3) * s)
//   landmark k = ((kps[2k] + c) * s, (kps[2k + 1] + r) * s)
// all in network-input pixels.
#include <cmath>
#include <string>

#include "detection/decoders.h"

namespace sense::vision::detection {
namespace {

std::string ForStride(const std::string& pattern, int stride) {
  std::string n = pattern;
  const auto at = n.find("{stride}");
  if (at != std::string::npos) n.replace(at, 8, std::to_string(stride));
  return n;
}

}  // namespace

void DecodeYuNet(const NamedTensors& outputs, int64_t row, const DecodeContext& ctx, std::vector<Candidate>& out) {
  const DetectionSpec& s = ctx.spec;
  const DetectionSpec::YuNet& y = *s.yunet;  // the validator sets it for this layout
  const int k = y.keypoints;
  for (const int stride : y.strides) {
    const int64_t cols = (ctx.input_width + stride - 1) / stride, rows = (ctx.input_height + stride - 1) / stride;
    const int64_t cells = rows * cols;
    std::vector<int64_t> shape;
    const std::string cls_name = ForStride(y.cls_output, stride), obj_name = ForStride(y.obj_output, stride);
    const std::string bbox_name = ForStride(y.bbox_output, stride);
    const float* cls = RowData(Output(outputs, cls_name, s.layout), cls_name, row, ctx, {cells, 1}, &shape, true);
    const float* obj = RowData(Output(outputs, obj_name, s.layout), obj_name, row, ctx, {cells, 1}, &shape, true);
    const float* bbox = RowData(Output(outputs, bbox_name, s.layout), bbox_name, row, ctx, {cells, 4}, &shape, true);
    const float* kps = nullptr;
    if (k > 0) {
      const std::string kps_name = ForStride(y.kps_output, stride);
      kps = RowData(Output(outputs, kps_name, s.layout), kps_name, row, ctx, {cells, 2 * k}, &shape, true);
    }
    const float st = static_cast<float>(stride);
    for (int64_t i = 0; i < cells; ++i) {
      const float score = std::sqrt(std::clamp(cls[i], 0.0f, 1.0f) * std::clamp(obj[i], 0.0f, 1.0f));
      if (score < ctx.score_threshold || !ctx.Allowed(0)) continue;
      const float r = static_cast<float>(i / cols), c = static_cast<float>(i % cols);
      const float* b = bbox + i * 4;
      const float cx = (c + b[0]) * st, cy = (r + b[1]) * st;
      const float w = std::exp(b[2]) * st, h = std::exp(b[3]) * st;
      Candidate cand;
      cand.box = {cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2};
      cand.score = score;
      cand.class_index = 0;
      if (kps) {
        const float* p = kps + i * 2 * k;
        cand.keypoints.resize(static_cast<size_t>(k));
        for (int j = 0; j < k; ++j) cand.keypoints[static_cast<size_t>(j)] = {(p[2 * j] + c) * st, (p[2 * j + 1] + r) * st};
      }
      out.push_back(std::move(cand));
    }
  }
}

}  // namespace sense::vision::detection
