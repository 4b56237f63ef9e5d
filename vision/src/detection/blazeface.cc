// Layout "blazeface": MediaPipe's SSD anchors with a box and landmarks per
// anchor (BlazeFace; the same decoding serves MediaPipe's other SSD-anchor
// detectors). See DetectionSpec::BlazeFace and docs/model-format.md.
//
// Anchors, as SsdAnchorsCalculator makes them with fixed_anchor_size: per
// stride s (in order), a grid of ceil(H / s) x ceil(W / s) cells, row-major,
// each with anchors_per_cell anchors centred at ((x + offset) / cols,
// (y + offset) / rows) (relative to the input). For anchor a with centre
// (ax, ay), regressors r = (cx, cy, w, h, kx0, ky0, ...) and logit z
// (TfLiteTensorsToDetectionsCalculator):
//   score      = sigmoid(clip(z, -score_clip, score_clip))  (or z, activation none)
//   centre     = (r0 / scale_x + ax, r1 / scale_y + ay)
//   size       = (r2 / scale_x, r3 / scale_y)
//   landmark k = (r[4 + 2k] / scale_x + ax, r[5 + 2k] / scale_y + ay)
// relative to the input, then times the input size for pixels.
#include <cmath>

#include "detection/decoders.h"

namespace sense::vision::detection {

void DecodeBlazeFace(const NamedTensors& outputs, int64_t row, const DecodeContext& ctx, std::vector<Candidate>& out) {
  const DetectionSpec& s = ctx.spec;
  const DetectionSpec::BlazeFace& b = *s.blazeface;  // the validator sets it for this layout
  int64_t anchors = 0;
  for (size_t l = 0; l < b.strides.size(); ++l)
    anchors += ((ctx.input_height + b.strides[l] - 1) / b.strides[l]) * ((ctx.input_width + b.strides[l] - 1) / b.strides[l]) *
               b.anchors_per_cell[l];
  const int k = b.keypoints, width = 4 + 2 * k;
  std::vector<int64_t> shape;
  const Tensor& st = Output(outputs, b.scores_output, s.layout);
  const bool trailing_one = st.dim() >= 2 && st.size(-1) == 1 && st.size(-2) == anchors;
  const float* scores = trailing_one ? RowData(st, b.scores_output, row, ctx, {anchors, 1}, &shape, true)
                                     : RowData(st, b.scores_output, row, ctx, {anchors}, &shape, true);
  const float* regs = RowData(Output(outputs, b.regressors_output, s.layout), b.regressors_output, row, ctx, {anchors, width},
                              &shape, true);
  if (!ctx.Allowed(0)) return;
  const float W = static_cast<float>(ctx.input_width), H = static_cast<float>(ctx.input_height);
  int64_t a = 0;
  for (size_t l = 0; l < b.strides.size(); ++l) {
    const int64_t cols = (ctx.input_width + b.strides[l] - 1) / b.strides[l];
    const int64_t rows = (ctx.input_height + b.strides[l] - 1) / b.strides[l];
    for (int64_t y = 0; y < rows; ++y) {
      for (int64_t x = 0; x < cols; ++x) {
        const float ax = (static_cast<float>(x) + b.anchor_offset) / static_cast<float>(cols);
        const float ay = (static_cast<float>(y) + b.anchor_offset) / static_cast<float>(rows);
        for (int n = 0; n < b.anchors_per_cell[l]; ++n, ++a) {
          float score = scores[a];
          if (b.scores_activation == Activation::kSigmoid) score = Sigmoid(std::clamp(score, -b.score_clip, b.score_clip));
          if (!(score >= ctx.score_threshold)) continue;
          const float* r = regs + a * width;
          const float cx = (r[0] / b.scale_x + ax) * W, cy = (r[1] / b.scale_y + ay) * H;
          const float w = r[2] / b.scale_x * W, h = r[3] / b.scale_y * H;
          Candidate cand;
          cand.box = {cx - std::fabs(w) / 2, cy - std::fabs(h) / 2, cx + std::fabs(w) / 2, cy + std::fabs(h) / 2};
          cand.score = std::min(score, 1.0f);
          cand.class_index = 0;
          cand.keypoints.resize(static_cast<size_t>(k));
          for (int j = 0; j < k; ++j)
            cand.keypoints[static_cast<size_t>(j)] = {(r[4 + 2 * j] / b.scale_x + ax) * W, (r[5 + 2 * j] / b.scale_y + ay) * H};
          out.push_back(std::move(cand));
        }
      }
    }
  }
}

}  // namespace sense::vision::detection
