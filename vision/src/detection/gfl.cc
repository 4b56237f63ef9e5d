// Layout "gfl": anchor-free grid, distribution box head (GFL; NanoDet).
//
// scores [B, A, classes] (probabilities, or logits with scores_activation
// sigmoid) and distributions [B, A, 4 * (reg_max + 1)]; anchors level by
// level in stride order, row-major within a level (ceil(H / s) rows of
// ceil(W / s)). Anchor (x, y) of stride s has its centre at
// ((x + centre_offset) * s, (y + centre_offset) * s); each side (left, top,
// right, bottom) is s * sum_k k * softmax(bins)_k; the box is
// (cx - l, cy - t, cx + r, cy + b). The geometry is computed only for
// anchors with a class that passes the threshold and the class filter.
#include <cmath>

#include "detection/decoders.h"

namespace sense::vision::detection {

void DecodeGfl(const NamedTensors& outputs, int64_t row, const DecodeContext& ctx, std::vector<Candidate>& out) {
  const DetectionSpec::Gfl& g = *ctx.spec.gfl;
  const int classes = static_cast<int>(ctx.metadata.labels.size());
  const int bins = g.reg_max + 1;
  int64_t anchors = 0;
  for (int s : g.strides) anchors += static_cast<int64_t>((ctx.input_height + s - 1) / s) * ((ctx.input_width + s - 1) / s);
  std::vector<int64_t> shape;
  const float* scores = RowData(Output(outputs, g.scores_output, "gfl"), g.scores_output, row, ctx, {anchors, classes}, &shape);
  const float* dists =
      RowData(Output(outputs, g.distributions_output, "gfl"), g.distributions_output, row, ctx, {anchors, 4 * bins}, &shape);
  const bool sigmoid = g.scores_activation == Activation::kSigmoid;
  std::vector<float> activated(static_cast<size_t>(sigmoid ? classes : 0));
  // With sigmoid scores, a logit below logit(threshold) cannot pass: most anchors are skipped before exp().
  const float t = ctx.score_threshold;
  const float logit_floor = t <= 0 ? -INFINITY : t >= 1 ? INFINITY : std::log(t / (1 - t)) - 1e-4f;
  int64_t a = 0;
  for (int s : g.strides) {
    const int gw = (ctx.input_width + s - 1) / s, gh = (ctx.input_height + s - 1) / s;
    for (int y = 0; y < gh; ++y) {
      for (int x = 0; x < gw; ++x, ++a) {
        const float* sc = scores + a * classes;
        if (sigmoid) {
          float best = -INFINITY;
          for (int c = 0; c < classes; ++c) best = std::max(best, sc[c]);
          if (best < logit_floor) continue;
          for (int c = 0; c < classes; ++c) activated[static_cast<size_t>(c)] = Sigmoid(sc[c]);
          sc = activated.data();
        }
        const size_t first = out.size();
        ForEachKeptClass(sc, classes, ctx, [&](int c, float score) {
          Candidate cand;
          cand.score = score;
          cand.class_index = c;
          out.push_back(std::move(cand));
        });
        if (out.size() == first) continue;
        // The box: expectation of each side's softmax over the bins.
        const float* d = dists + a * 4 * bins;
        float side[4];
        for (int k = 0; k < 4; ++k) {
          const float* b = d + k * bins;
          float m = b[0];
          for (int i = 1; i < bins; ++i) m = std::max(m, b[i]);
          float sum = 0, acc = 0;
          for (int i = 0; i < bins; ++i) {
            const float e = std::exp(b[i] - m);
            sum += e;
            acc += e * static_cast<float>(i);
          }
          side[k] = acc / sum * static_cast<float>(s);
        }
        const float cx = (static_cast<float>(x) + g.centre_offset) * static_cast<float>(s);
        const float cy = (static_cast<float>(y) + g.centre_offset) * static_cast<float>(s);
        const Box box{cx - side[0], cy - side[1], cx + side[2], cy + side[3]};
        for (size_t i = first; i < out.size(); ++i) out[i].box = box;
      }
    }
  }
}

}  // namespace sense::vision::detection
