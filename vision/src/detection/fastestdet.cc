// Layout "fastestdet": FastestDet's anchor-free single grid (see
// DetectionSpec::FastestDet and docs/model-format.md).
//
// One output [B, 5 + classes, rows, cols]; per cell (row i, column j):
// channel 0 objectness, 1-2 centre offsets, 3-4 width and height, 5.. class
// scores (objectness and class scores already activated by the graph).
//   score(class c) = obj^obj_power * cls_c^cls_power   (both clipped to [0, 1])
//   centre         = ((tanh(c1) + j) / cols, (tanh(c2) + i) / rows)  of the input
//   size           = (sigmoid(c3), sigmoid(c4))                      of the input
// as the upstream example decodes it; the grid size is read from the output,
// so any input size and class count of the family works.
#include <cmath>

#include "detection/decoders.h"

namespace sense::vision::detection {

void DecodeFastestDet(const NamedTensors& outputs, int64_t row, const DecodeContext& ctx, std::vector<Candidate>& out) {
  const DetectionSpec& s = ctx.spec;
  const DetectionSpec::FastestDet& f = *s.fastestdet;  // the validator sets it for this layout
  const int classes = static_cast<int>(ctx.metadata.labels.size());
  std::vector<int64_t> shape;
  const float* v = RowData(Output(outputs, f.output, s.layout), f.output, row, ctx, {5 + classes, -1, -1}, &shape, true);
  const int64_t rows = shape[1], cols = shape[2], plane = rows * cols;
  const float w = static_cast<float>(ctx.input_width), h = static_cast<float>(ctx.input_height);
  std::vector<float> scores(static_cast<size_t>(classes));
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) {
      const int64_t cell = i * cols + j;
      const float obj = std::pow(std::clamp(v[cell], 0.0f, 1.0f), f.obj_power);
      if (obj < ctx.score_threshold) continue;  // cls^q <= 1, so no class can pass
      for (int c = 0; c < classes; ++c)
        scores[static_cast<size_t>(c)] = obj * std::pow(std::clamp(v[(5 + c) * plane + cell], 0.0f, 1.0f), f.cls_power);
      bool any = false;
      Box box;
      ForEachKeptClass(scores.data(), classes, ctx, [&](int c, float score) {
        if (!any) {
          const float cx = (std::tanh(v[1 * plane + cell]) + static_cast<float>(j)) / static_cast<float>(cols) * w;
          const float cy = (std::tanh(v[2 * plane + cell]) + static_cast<float>(i)) / static_cast<float>(rows) * h;
          const float bw = Sigmoid(v[3 * plane + cell]) * w, bh = Sigmoid(v[4 * plane + cell]) * h;
          box = {cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2};
          any = true;
        }
        Candidate cand;
        cand.box = box;
        cand.score = score;
        cand.class_index = c;
        out.push_back(std::move(cand));
      });
    }
  }
}

}  // namespace sense::vision::detection
