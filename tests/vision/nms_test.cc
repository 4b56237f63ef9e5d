// NMS against a brute-force reference (torchvision's rule written the
// obvious way: a full IoU matrix, division, no early exits).
#include "sense/vision/nms.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <cmath>
#include <random>

namespace sense::vision {
namespace {

float RefIou(const Box& a, const Box& b) {
  const float iw = std::max(0.0f, std::min(a.x2, b.x2) - std::max(a.x1, b.x1));
  const float ih = std::max(0.0f, std::min(a.y2, b.y2) - std::max(a.y1, b.y1));
  const float inter = iw * ih;
  const float u = std::max(0.0f, a.x2 - a.x1) * std::max(0.0f, a.y2 - a.y1) +
                  std::max(0.0f, b.x2 - b.x1) * std::max(0.0f, b.y2 - b.y1) - inter;
  return u > 0 ? inter / u : 0.0f;
}

std::vector<int> RefNms(const std::vector<Box>& boxes, const std::vector<float>& scores, const std::vector<int>& classes,
                        float t, int max_keep) {
  const size_t n = boxes.size();
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return scores[a] > scores[b]; });
  std::vector<std::vector<float>> iou(n, std::vector<float>(n));
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) iou[i][j] = RefIou(boxes[i], boxes[j]);
  std::vector<bool> suppressed(n, false);
  std::vector<int> keep;
  for (size_t a = 0; a < n; ++a) {
    const int i = order[a];
    if (suppressed[i]) continue;
    keep.push_back(i);
    for (size_t b = a + 1; b < n; ++b) {
      const int j = order[b];
      if (classes[i] == classes[j] && iou[i][j] > t) suppressed[j] = true;
    }
  }
  if (max_keep >= 0 && keep.size() > static_cast<size_t>(max_keep)) keep.resize(static_cast<size_t>(max_keep));
  return keep;
}

// Clustered, overlapping boxes as detectors give them: a few objects, many
// jittered boxes around each, random scores; some degenerate ones.
void MakeBoxes(std::mt19937& rng, size_t n, int objects, int num_classes, std::vector<Box>* boxes,
               std::vector<float>* scores, std::vector<int>* classes) {
  std::uniform_real_distribution<float> u(0, 1);
  std::vector<Box> centres;
  for (int o = 0; o < objects; ++o) {
    const float w = 10 + 200 * u(rng), h = 10 + 200 * u(rng), x = 600 * u(rng), y = 600 * u(rng);
    centres.push_back({x, y, x + w, y + h});
  }
  std::normal_distribution<float> jitter(0, 1);
  for (size_t i = 0; i < n; ++i) {
    const Box& c = centres[rng() % centres.size()];
    const float s = 0.08f * std::max(c.width(), c.height());
    Box b{c.x1 + s * jitter(rng), c.y1 + s * jitter(rng), c.x2 + s * jitter(rng), c.y2 + s * jitter(rng)};
    if (i % 97 == 0) b.x2 = b.x1;  // empty
    boxes->push_back(b);
    scores->push_back(std::round(u(rng) * 1000) / 1000);  // ties happen
    classes->push_back(static_cast<int>(rng() % static_cast<unsigned>(num_classes)));
  }
}

TEST(Nms, MatchesBruteForceClassAware) {
  std::mt19937 rng(1);
  for (int trial = 0; trial < 30; ++trial) {
    std::vector<Box> boxes;
    std::vector<float> scores;
    std::vector<int> classes;
    MakeBoxes(rng, 50 + 40 * trial, 1 + trial % 7, 1 + trial % 4, &boxes, &scores, &classes);
    for (float t : {0.0f, 0.3f, 0.5f, 0.7f, 1.0f})
      for (int cap : {-1, 1, 5, 1000}) {
        EXPECT_EQ(BatchedNms(boxes, scores, classes, t, cap, false), RefNms(boxes, scores, classes, t, cap))
            << "trial " << trial << " iou " << t << " cap " << cap;
      }
  }
}

TEST(Nms, MatchesBruteForceClassAgnostic) {
  std::mt19937 rng(2);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<Box> boxes;
    std::vector<float> scores;
    std::vector<int> classes;
    MakeBoxes(rng, 30 + 60 * trial, 1 + trial % 5, 3, &boxes, &scores, &classes);
    const std::vector<int> one(boxes.size(), 0);
    for (float t : {0.2f, 0.45f, 0.6f})
      for (int cap : {100, -1}) {  // uncapped groups of >= 512 boxes take the grid path
        const auto ref = RefNms(boxes, scores, one, t, cap);
        EXPECT_EQ(BatchedNms(boxes, scores, classes, t, cap, true), ref);
        EXPECT_EQ(Nms(boxes, scores, t, cap), ref);
      }
  }
}

TEST(Nms, SpreadBoxesThroughTheGrid) {
  // many small boxes over a large area, most kept: grid cells, boxes on cell
  // borders, a few huge boxes covering every cell
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(0, 1);
  std::vector<Box> boxes;
  std::vector<float> scores;
  for (int i = 0; i < 3000; ++i) {
    const float x = 1000 * u(rng), y = 600 * u(rng), s = i % 500 == 0 ? 900.0f : 3 + 30 * u(rng);
    boxes.push_back({x, y, x + s, y + s * (0.5f + u(rng))});
    scores.push_back(u(rng));
  }
  const std::vector<int> one(boxes.size(), 0);
  for (float t : {0.0f, 0.1f, 0.5f}) EXPECT_EQ(Nms(boxes, scores, t), RefNms(boxes, scores, one, t, -1)) << t;
}

TEST(Nms, HugeAndNonFiniteBoxesAreSafe) {
  // coordinates no grid cell index can hold, infinities and NaNs: no
  // undefined conversion (UBSan), every finite box kept or suppressed as usual
  std::vector<Box> boxes;
  std::vector<float> scores;
  for (int i = 0; i < 600; ++i) {
    const float x = static_cast<float>(i % 30) * 20;
    boxes.push_back({x, 0, x + 10, 10});
    scores.push_back(1.0f - static_cast<float>(i) / 1000);
  }
  boxes[3] = {-1e30f, -1e30f, 1e30f, 1e30f};
  const std::vector<int> one(boxes.size(), 0);
  EXPECT_EQ(Nms(boxes, scores, 0.5f), RefNms(boxes, scores, one, 0.5f, -1));
  boxes[5] = {0, 0, INFINITY, 10};
  boxes[7] = {NAN, 0, 5, 5};
  const std::vector<int> keep = Nms(boxes, scores, 0.5f);
  EXPECT_FALSE(keep.empty());
  EXPECT_LE(keep.size(), boxes.size());
}

TEST(Nms, HandWorked) {
  // a and b overlap with IoU 81/119 = 0.68; c is apart; d is empty.
  const std::vector<Box> boxes = {{0, 0, 10, 10}, {1, 1, 11, 11}, {20, 20, 30, 30}, {5, 5, 5, 9}};
  const std::vector<float> scores = {0.9f, 0.95f, 0.5f, 0.99f};
  EXPECT_NEAR(BoxIou(boxes[0], boxes[1]), 81.0f / 119.0f, 1e-6);
  EXPECT_EQ(Nms(boxes, scores, 0.5f), (std::vector<int>{3, 1, 2}));
  EXPECT_EQ(Nms(boxes, scores, 0.7f), (std::vector<int>{3, 1, 0, 2}));  // 0.68 is not > 0.7
  EXPECT_EQ(Nms(boxes, scores, 0.5f, 2), (std::vector<int>{3, 1}));
  EXPECT_TRUE(Nms(boxes, scores, 0.5f, 0).empty());
  // different classes never suppress each other unless class-agnostic
  EXPECT_EQ(BatchedNms(boxes, scores, {0, 1, 0, 0}, 0.5f), (std::vector<int>{3, 1, 0, 2}));
  EXPECT_EQ(BatchedNms(boxes, scores, {0, 1, 0, 0}, 0.5f, -1, true), (std::vector<int>{3, 1, 2}));
  // equal scores: the lower index first
  EXPECT_EQ(Nms({{0, 0, 1, 1}, {0, 0, 1, 1}}, {0.5f, 0.5f}, 0.5f), (std::vector<int>{0}));
  EXPECT_TRUE(Nms({}, {}, 0.5f).empty());
}

}  // namespace
}  // namespace sense::vision
