// Greedy NMS (nms.h): radix-sorted scores, comparisons only against kept
// boxes, early exit at max_keep.
#include "sense/vision/nms.h"

#include <algorithm>
#include <cmath>
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

// True when b (area a > 0) overlaps one of n boxes given as arrays with
// IoU > t. IoU > t is tested as inter > t * union (union >= a > 0), no
// division; a branch-free loop over blocks of 16 that stops after the first
// block with an overlap.
bool AnyOverlap(const float* x1, const float* y1, const float* x2, const float* y2, const float* area, size_t n,
                const Box& b, float a, float t) {
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

// Boxes as arrays (so the overlap test vectorises).
struct BoxArrays {
  std::vector<float> x1, y1, x2, y2, area;
  void Clear() { for (auto* v : {&x1, &y1, &x2, &y2, &area}) v->clear(); }
  void Add(const Box& b, float a) {
    x1.push_back(b.x1); y1.push_back(b.y1); x2.push_back(b.x2); y2.push_back(b.y2); area.push_back(a);
  }
  bool Overlaps(const Box& b, float a, float t) const {
    return AnyOverlap(x1.data(), y1.data(), x2.data(), y2.data(), area.data(), x1.size(), b, a, t);
  }
};

// The kept boxes of a large, uncapped group, filed in a uniform grid over
// the candidates' extent: a candidate is compared only with the kept boxes
// filed in the cells it covers (two boxes with IoU > 0 share a cell). Cells
// are at least the median candidate's longer side, so a box covers about
// four of them; a kept box filed in several cells may be compared more than
// once, which changes nothing.
class KeptGrid {
 public:
  // False (use the plain scan) when the boxes' extent is not finite.
  bool Reset(const std::vector<Box>& boxes, const int* order, size_t n) {
    float x0 = INFINITY, y0 = INFINITY, x1 = -INFINITY, y1 = -INFINITY;
    std::vector<float> sides;
    const size_t step = std::max<size_t>(1, n / 256);
    for (size_t i = 0; i < n; ++i) {
      const Box& b = boxes[static_cast<size_t>(order[i])];
      x0 = std::min(x0, b.x1); y0 = std::min(y0, b.y1);
      x1 = std::max(x1, b.x2); y1 = std::max(y1, b.y2);
      if (i % step == 0) sides.push_back(std::max(b.width(), b.height()));
    }
    if (!(std::isfinite(x0) && std::isfinite(y0) && std::isfinite(x1) && std::isfinite(y1))) return false;
    std::nth_element(sides.begin(), sides.begin() + static_cast<std::ptrdiff_t>(sides.size() / 2), sides.end());
    const float extent = std::max({x1 - x0, y1 - y0, 1e-3f});
    if (!std::isfinite(extent)) return false;
    const float cell = std::max({extent / kMaxSide, sides[sides.size() / 2], 1e-3f});
    if (!std::isfinite(cell)) return false;  // NaN sides
    x0_ = x0;
    y0_ = y0;
    inv_cell_ = 1.0f / cell;
    cols_ = std::min(kMaxSide, static_cast<int>((x1 - x0) * inv_cell_) + 1);
    rows_ = std::min(kMaxSide, static_cast<int>((y1 - y0) * inv_cell_) + 1);
    cells_.resize(static_cast<size_t>(cols_ * rows_));
    for (auto& c : cells_) c.Clear();
    return true;
  }
  void Add(const Box& b, float a) {
    int cx0, cy0, cx1, cy1;
    Cells(b, &cx0, &cy0, &cx1, &cy1);
    for (int y = cy0; y <= cy1; ++y)
      for (int x = cx0; x <= cx1; ++x) cells_[static_cast<size_t>(y * cols_ + x)].Add(b, a);
  }
  bool Overlaps(const Box& b, float a, float t) const {
    int cx0, cy0, cx1, cy1;
    Cells(b, &cx0, &cy0, &cx1, &cy1);
    for (int y = cy0; y <= cy1; ++y)
      for (int x = cx0; x <= cx1; ++x)
        if (cells_[static_cast<size_t>(y * cols_ + x)].Overlaps(b, a, t)) return true;
    return false;
  }

 private:
  static constexpr int kMaxSide = 32;
  // In float first: a huge coordinate must not overflow the int conversion.
  static int Clamp(float v, int hi) { return static_cast<int>(std::min(static_cast<float>(hi - 1), std::max(0.0f, v))); }
  void Cells(const Box& b, int* cx0, int* cy0, int* cx1, int* cy1) const {
    *cx0 = Clamp((b.x1 - x0_) * inv_cell_, cols_);
    *cy0 = Clamp((b.y1 - y0_) * inv_cell_, rows_);
    *cx1 = Clamp((b.x2 - x0_) * inv_cell_, cols_);
    *cy1 = Clamp((b.y2 - y0_) * inv_cell_, rows_);
  }
  float x0_ = 0, y0_ = 0, inv_cell_ = 1;
  int cols_ = 1, rows_ = 1;
  std::vector<BoxArrays> cells_;
};

// Groups this large, with room to keep this many, use the grid.
constexpr size_t kGridCandidates = 512, kGridKeep = 128;

// Greedy suppression over `order` (already by descending score); appends
// kept indices to `out`, at most max_keep of them.
void Suppress(const std::vector<Box>& boxes, const int* order, size_t n, float t, size_t max_keep, BoxArrays& kept,
              KeptGrid& grid, std::vector<int>& out) {
  kept.Clear();
  const bool use_grid = n >= kGridCandidates && max_keep >= kGridKeep && grid.Reset(boxes, order, n);
  size_t taken = 0;
  for (size_t i = 0; i < n && taken < max_keep; ++i) {
    const Box& b = boxes[static_cast<size_t>(order[i])];
    const float a = b.area();
    if (a > 0) {  // an empty box overlaps nothing: kept, and suppresses nothing
      if (use_grid ? grid.Overlaps(b, a, t) : kept.Overlaps(b, a, t)) continue;
      if (use_grid) grid.Add(b, a);
      else kept.Add(b, a);
    }
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
  BoxArrays kept;
  KeptGrid grid;
  out.reserve(cap);
  Suppress(boxes, order.data(), n, iou_threshold, cap, kept, grid, out);
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
  BoxArrays kept;
  KeptGrid grid;
  std::vector<int> all;
  for (size_t c = 0; c + 1 < start.size(); ++c) {
    const size_t b = start[c], e = start[c + 1];
    if (b < e) Suppress(boxes, grouped.data() + b, e - b, iou_threshold, cap, kept, grid, all);
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
