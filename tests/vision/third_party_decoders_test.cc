// The decoders of layouts fastestdet, yunet and blazeface (internal:
// vision/src/detection/) on hand-made outputs, against values worked out
// from the formulas of their SOURCE.md / MediaPipe descriptions.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>

#include "detection/decoders.h"
#include "sense/inference/metadata.h"

namespace sense::vision::detection {
namespace {

using json = nlohmann::json;

ModelMetadata Meta(const json& j) { return ParseMetadata(j.dump(), "test.json"); }

json Base(const std::vector<std::string>& labels, int size) {
  json j = {{"schema_version", 1}, {"task", "object_detection"}, {"name", "t"}, {"labels", labels},
            {"inputs", {{{"name", "x"}, {"shape", {1, 3, size, size}}}}},
            {"image", {{"width", size}, {"height", size}, {"color", "bgr"}, {"mean", {0, 0, 0}}, {"std", {1, 1, 1}}}}};
  return j;
}

std::vector<Candidate> Decode(DecodeFn fn, const ModelMetadata& m, const NamedTensors& outs, float threshold, bool multi_label) {
  const std::vector<uint8_t> allowed(m.labels.size(), 1);
  DecodeContext ctx{m, *m.detection, m.image->width, m.image->height, threshold, multi_label, allowed, 1};
  std::vector<Candidate> out;
  fn(outs, 0, ctx, out);
  return out;
}

float Sig(float x) { return 1 / (1 + std::exp(-x)); }

TEST(FastestDetDecoder, OneCellByTheFormula) {
  json j = Base({"a", "b"}, 100);
  j["outputs"] = {{{"name", "grid"}, {"shape", {1, 7, 2, 2}}}};
  j["detection"] = {{"layout", "fastestdet"}};
  const ModelMetadata m = Meta(j);
  std::vector<float> v(7 * 4, 0.0f);
  auto at = [&](int ch, int i, int jj) -> float& { return v[static_cast<size_t>(ch * 4 + i * 2 + jj)]; };
  // cell row 1, column 0
  at(0, 1, 0) = 0.8f;            // objectness
  at(1, 1, 0) = 0.0f;            // tanh -> 0
  at(2, 1, 0) = 0.5f;            // tanh(0.5)
  at(3, 1, 0) = 0.0f;            // sigmoid -> 0.5
  at(4, 1, 0) = std::log(3.0f);  // sigmoid -> 0.75
  at(5, 1, 0) = 0.5f;            // class a
  at(6, 1, 0) = 0.9f;            // class b
  at(0, 0, 1) = 0.01f;           // a weak cell: below any useful threshold
  const NamedTensors outs{{"grid", Tensor::FromVector(v, {1, 7, 2, 2})}};
  const auto one = Decode(DecodeFastestDet, m, outs, 0.3f, false);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].class_index, 1);
  EXPECT_NEAR(one[0].score, std::pow(0.8f, 0.6f) * std::pow(0.9f, 0.4f), 1e-6);
  const float cx = 0, cy = (std::tanh(0.5f) + 1) / 2 * 100, w = 50, h = 75;
  EXPECT_NEAR(one[0].box.x1, cx - w / 2, 1e-4);
  EXPECT_NEAR(one[0].box.y1, cy - h / 2, 1e-4);
  EXPECT_NEAR(one[0].box.x2, cx + w / 2, 1e-4);
  EXPECT_NEAR(one[0].box.y2, cy + h / 2, 1e-4);
  // multi-label: class a passes too (0.8^0.6 * 0.5^0.4 = 0.66)
  const auto both = Decode(DecodeFastestDet, m, outs, 0.3f, true);
  ASSERT_EQ(both.size(), 2u);
  EXPECT_NEAR(both[0].score, std::pow(0.8f, 0.6f) * std::pow(0.5f, 0.4f), 1e-6);
  EXPECT_EQ(Decode(DecodeFastestDet, m, outs, 0.9f, true).size(), 0u);
}

TEST(YuNetDecoder, OneCellWithLandmarks) {
  json j = Base({"face"}, 32);
  json outs = json::array();
  for (int s : {8, 16}) {
    const int cells = (32 / s) * (32 / s);
    for (auto [k, c] : std::vector<std::pair<std::string, int>>{{"cls", 1}, {"obj", 1}, {"bbox", 4}, {"kps", 10}})
      outs.push_back({{"name", k + "_" + std::to_string(s)}, {"shape", {1, cells, c}}});
  }
  j["outputs"] = outs;
  j["detection"] = {{"layout", "yunet"}, {"yunet", {{"strides", {8, 16}}}}};
  const ModelMetadata m = Meta(j);
  NamedTensors t;
  for (int s : {8, 16}) {
    const int cells = (32 / s) * (32 / s);
    std::vector<float> cls(cells, 0.0f), obj(cells, 0.0f), bbox(cells * 4, 0.0f), kps(cells * 10, 0.0f);
    if (s == 16) {  // cell 3 = row 1, column 1
      cls[3] = 0.81f;
      obj[3] = 1.5f;  // clipped to 1
      bbox[12] = 0.5f; bbox[13] = 0.25f; bbox[14] = std::log(2.0f); bbox[15] = 0.0f;
      for (int k = 0; k < 5; ++k) { kps[30 + 2 * k] = 0.1f * k; kps[31 + 2 * k] = 0.2f; }
    }
    t.Set("cls_" + std::to_string(s), Tensor::FromVector(cls, {1, cells, 1}));
    t.Set("obj_" + std::to_string(s), Tensor::FromVector(obj, {1, cells, 1}));
    t.Set("bbox_" + std::to_string(s), Tensor::FromVector(bbox, {1, cells, 4}));
    t.Set("kps_" + std::to_string(s), Tensor::FromVector(kps, {1, cells, 10}));
  }
  const auto c = Decode(DecodeYuNet, m, t, 0.5f, false);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_NEAR(c[0].score, 0.9f, 1e-6);  // sqrt(0.81 * 1)
  EXPECT_NEAR(c[0].box.x1, 24 - 16, 1e-4);  // centre ((1 + 0.5) 16, (1 + 0.25) 16) = (24, 20), size (32, 16)
  EXPECT_NEAR(c[0].box.y1, 20 - 8, 1e-4);
  EXPECT_NEAR(c[0].box.x2, 24 + 16, 1e-4);
  EXPECT_NEAR(c[0].box.y2, 20 + 8, 1e-4);
  ASSERT_EQ(c[0].keypoints.size(), 5u);
  for (int k = 0; k < 5; ++k) {
    EXPECT_NEAR(c[0].keypoints[k].x, (0.1f * k + 1) * 16, 1e-4);
    EXPECT_NEAR(c[0].keypoints[k].y, (0.2f + 1) * 16, 1e-4);
  }
  EXPECT_EQ(Decode(DecodeYuNet, m, t, 0.95f, false).size(), 0u);
}

TEST(BlazeFaceDecoder, AnchorsByMediaPipesFormula) {
  json j = Base({"face"}, 32);
  j["inputs"][0]["shape"] = {-1, 32, 32, 3};
  // strides 8 and 16 on 32 x 32: 4 x 4 x 2 + 2 x 2 x 6 = 56 anchors, 6 landmarks
  j["outputs"] = {{{"name", "s"}, {"shape", {-1, 56, 1}}}, {{"name", "r"}, {"shape", {-1, 56, 16}}}};
  j["detection"] = {{"layout", "blazeface"},
                    {"blazeface", {{"scores_output", "s"}, {"regressors_output", "r"}, {"strides", {8, 16}},
                                   {"anchors_per_cell", {2, 6}}}}};
  const ModelMetadata m = Meta(j);
  std::vector<float> s(56, -10.0f), r(56 * 16, 0.0f);
  // anchor 46 = level 1 (offset 32), cell row 1, column 0 (index 2 of the 2 x 2 grid: 12), third anchor of the cell
  s[46] = 2.0f;
  float* a = &r[46 * 16];
  a[0] = 3.2f; a[1] = -1.6f; a[2] = 8.0f; a[3] = 16.0f;
  a[4] = 1.6f; a[5] = 3.2f;  // landmark 0
  s[0] = 500.0f;  // clipped to 100: score sigmoid(100) = 1; anchor 0 centred at (4, 4) with a zero box
  const NamedTensors t{{"s", Tensor::FromVector(s, {1, 56, 1})}, {"r", Tensor::FromVector(r, {1, 56, 16})}};
  const auto c = Decode(DecodeBlazeFace, m, t, 0.5f, false);
  ASSERT_EQ(c.size(), 2u);
  const Candidate& f = c[0].score < 1 ? c[0] : c[1];
  const Candidate& g = c[0].score < 1 ? c[1] : c[0];
  EXPECT_NEAR(f.score, Sig(2.0f), 1e-6);
  // anchor centre ((0 + 0.5) / 2, (1 + 0.5) / 2) = (0.25, 0.75): centre (3.2 + 8, -1.6 + 24), size (8, 16)
  EXPECT_NEAR(f.box.x1, 11.2f - 4, 1e-4);
  EXPECT_NEAR(f.box.y1, 22.4f - 8, 1e-4);
  EXPECT_NEAR(f.box.x2, 11.2f + 4, 1e-4);
  EXPECT_NEAR(f.box.y2, 22.4f + 8, 1e-4);
  ASSERT_EQ(f.keypoints.size(), 6u);
  EXPECT_NEAR(f.keypoints[0].x, 1.6f + 8, 1e-4);
  EXPECT_NEAR(f.keypoints[0].y, 3.2f + 24, 1e-4);
  EXPECT_NEAR(f.keypoints[1].x, 8, 1e-4);  // zero regressors: the anchor centre
  EXPECT_FLOAT_EQ(g.score, 1.0f);
  EXPECT_NEAR(g.box.x1, 4, 1e-4);  // anchor 0: cell (0, 0) of the 4 x 4 grid, centre (0.125, 0.125) * 32
  EXPECT_NEAR(g.box.y1, 4, 1e-4);
  EXPECT_EQ(Decode(DecodeBlazeFace, m, t, 0.99f, false).size(), 1u);
}

}  // namespace
}  // namespace sense::vision::detection
