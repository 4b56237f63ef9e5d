// Greedy NMS (nms.h): radix-sorted scores, comparisons only against kept
// boxes, early exit at max_keep.
#include "sense/vision/nms.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace sense::vision {

namespace {

// A float's bits as an unsigned key whose ascending order is the float's
// descending order (so an ascending sort puts the highest score first).
inline uint32_t DescendingKey(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);  // ascending order of floats
  return ~u;
}

// Sorts `idx` (candidate indices) by descending score, ties in the order
// given: LSD radix sort, 3 passes of 11 bits, stable.
void SortByScore(const std::vector<float>& scores, std::vector<int>& idx) {
  const size_t n = idx.size();
  if (n < 64) {  // a plain sort beats the radix passes' fixed cost
    std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return scores[static_cast<size_t>(a)] > scores[static_cast<size_t>(b)]; });
    return;
  }
  std::vector<uint32_t> key(n), key2(n);
  std::vector<int> idx2(n);
  for (size_t i = 0; i < n; ++i) key[i] = DescendingKey(scores[static_cast<size_t>(idx[i])]);
  constexpr int kBits = 11, kBuckets = 1 << kBits;
  std::vector<uint32_t> count(kBuckets);
  for (int pass = 0; pass < 3; ++pass) {
    const int shift = pass * kBits;
    std::fill(count.begin(), count.end(), 0u);
    for (size_t i = 0; i < n; ++i) ++count[(key[i] >> shift) & (kBuckets - 1)];
    if (count[(key[0] >> shift) & (kBuckets - 1)] == n) continue;  // every key has this digit: nothing moves
    uint32_t sum = 0;
    for (auto& c : count) { const uint32_t t = c; c = sum; sum += t; }
    for (size_t i = 0; i < n; ++i) {
      const uint32_t pos = count[(key[i] >> shift) & (kBuckets - 1)]++;
      key2[pos] = key[i];
      idx2[pos] = idx[i];
    }
    key.swap(key2);
    idx.swap(idx2);
  }
}

// The boxes kept so far, as arrays so the overlap test vectorises.
struct KeptBoxes {
  std::vector<float> x1, y1, x2, y2, area;
  size_t n = 0;
  void Reset(size_t capacity) {
    n = 0;
    for (auto* v : {&x1, &y1, &x2, &y2, &area})
      if (v->size() < capacity) v->resize(capacity);
  }
  void Add(const Box& b, float a) {
    x1[n] = b.x1; y1[n] = b.y1; x2[n] = b.x2; y2[n] = b.y2; area[n] = a;
    ++n;
  }
  // True when b overlaps a kept box with IoU > t. IoU > t is tested as
  // inter > t * union (union >= area(b) > 0), no division.
  bool Overlaps(const Box& b, float a, float t) const {
    constexpr size_t kBlock = 16;
    for (size_t j0 = 0; j0 < n; j0 += kBlock) {
      const size_t j1 = std::min(n, j0 + kBlock);
      int hit = 0;
      for (size_t j = j0; j < j1; ++j) {
        const float w = std::max(0.0f, std::min(b.x2, x2[j]) - std::max(b.x1, x1[j]));
        const float h = std::max(0.0f, std::min(b.y2, y2[j]) - std::max(b.y1, y1[j]));
        const float inter = w * h;
        hit |= inter > t * (a + area[j] - inter);
      }
      if (hit) return true;
    }
    return false;
  }
};

// Greedy suppression over `order` (already by descending score); appends
// kept indices to `out`, at most max_keep of them.
void Suppress(const std::vector<Box>& boxes, const int* order, size_t n, float t, size_t max_keep, KeptBoxes& kept,
              std::vector<int>& out) {
  kept.Reset(std::min(n, max_keep));
  size_t taken = 0;
  for (size_t i = 0; i < n && taken < max_keep; ++i) {
    const Box& b = boxes[static_cast<size_t>(order[i])];
    const float a = b.area();
    if (a > 0) {
      if (kept.Overlaps(b, a, t)) continue;
      kept.Add(b, a);
    }  // an empty box overlaps nothing: kept, and suppresses nothing
    out.push_back(order[i]);
    ++taken;
  }
}

size_t Cap(int max_keep, size_t n) { return max_keep < 0 ? n : std::min(n, static_cast<size_t>(max_keep)); }

}  // namespace

float BoxIou(const Box& a, const Box& b) {
  const float w = std::max(0.0f, std::min(a.x2, b.x2) - std::max(a.x1, b.x1));
  const float h = std::max(0.0f, std::min(a.y2, b.y2) - std::max(a.y1, b.y1));
  const float inter = w * h, uni = a.area() + b.area() - inter;
  return uni > 0 ? inter / uni : 0.0f;
}

std::vector<int> Nms(const std::vector<Box>& boxes, const std::vector<float>& scores, float iou_threshold, int max_keep) {
  std::vector<int> out;
  const size_t n = std::min(boxes.size(), scores.size());
  const size_t cap = Cap(max_keep, n);
  if (cap == 0) return out;
  std::vector<int> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = static_cast<int>(i);
  SortByScore(scores, order);
  KeptBoxes kept;
  out.reserve(cap);
  Suppress(boxes, order.data(), n, iou_threshold, cap, kept, out);
  return out;
}

std::vector<int> BatchedNms(const std::vector<Box>& boxes, const std::vector<float>& scores, const std::vector<int>& classes,
                            float iou_threshold, int max_keep, bool class_agnostic) {
  if (class_agnostic) return Nms(boxes, scores, iou_threshold, max_keep);
  std::vector<int> out;
  const size_t n = std::min({boxes.size(), scores.size(), classes.size()});
  const size_t cap = Cap(max_keep, n);
  if (cap == 0) return out;
  std::vector<int> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = static_cast<int>(i);
  SortByScore(scores, order);
  // Stable counting sort by class: each class's candidates stay in score order.
  int max_class = 0;
  for (size_t i = 0; i < n; ++i) max_class = std::max(max_class, classes[i]);
  std::vector<size_t> start(static_cast<size_t>(max_class) + 2, 0);
  for (size_t i = 0; i < n; ++i) ++start[static_cast<size_t>(std::max(0, classes[i])) + 1];
  for (size_t c = 1; c < start.size(); ++c) start[c] += start[c - 1];
  std::vector<int> grouped(n);
  {
    std::vector<size_t> pos(start.begin(), start.end() - 1);
    for (int i : order) grouped[pos[static_cast<size_t>(std::max(0, classes[static_cast<size_t>(i)]))]++] = i;
  }
  KeptBoxes kept;
  std::vector<int> all;
  for (size_t c = 0; c + 1 < start.size(); ++c) {
    const size_t b = start[c], e = start[c + 1];
    if (b < e) Suppress(boxes, grouped.data() + b, e - b, iou_threshold, cap, kept, all);
  }
  // Merge the classes' kept boxes: by score, ties by index (the rule above).
  std::sort(all.begin(), all.end(), [&](int a, int b) {
    const float sa = scores[static_cast<size_t>(a)], sb = scores[static_cast<size_t>(b)];
    return sa > sb || (sa == sb && a < b);
  });
  if (all.size() > cap) all.resize(cap);
  return all;
}

}  // namespace sense::vision
