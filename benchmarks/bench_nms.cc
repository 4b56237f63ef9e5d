// bench_nms: sense's NMS (vision/nms.h) on 10,000 candidate boxes, one core.
//
//   bench_nms [--runs N] [--json]
//
// Candidates are made as a detector's are before NMS: objects of random
// size and place, each with many jittered boxes around it (IoU with their
// object mostly 0.5-0.95), scores high near the object and decaying with
// the jitter, plus 20% low-score background boxes spread over the image
// (1280 x 720). Scenarios, each timed over --runs calls, median and minimum
// (sort, suppression and output included; boxes made once):
//   one class: 10,000 boxes of one class, 50 objects (Nms, no cap; and with max_keep 100);
//   80 classes, class-aware: 10,000 boxes over 80 classes, 200 objects (BatchedNms, cap 100);
//   the same, class-agnostic;
//   worst case: 10,000 small boxes spread uniformly (almost all kept), no
//   cap; shown for the bound, not as a realistic load.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "sense/vision/nms.h"

using sense::vision::Box;

namespace {

struct Set {
  std::vector<Box> boxes;
  std::vector<float> scores;
  std::vector<int> classes;
};

Set Clustered(size_t n, int objects, int classes, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0, 1);
  std::normal_distribution<float> g(0, 1);
  struct Obj { Box b; int c; float peak; };
  std::vector<Obj> objs;
  for (int i = 0; i < objects; ++i) {
    const float w = 16 + 300 * u(rng) * u(rng), h = 16 + 300 * u(rng) * u(rng);
    const float x = (1280 - w) * u(rng), y = (720 - h) * u(rng);
    objs.push_back({{x, y, x + w, y + h}, static_cast<int>(rng() % static_cast<unsigned>(classes)), 0.5f + 0.5f * u(rng)});
  }
  Set s;
  for (size_t i = 0; i < n; ++i) {
    if (u(rng) < 0.2f) {  // background
      const float w = 8 + 120 * u(rng), h = 8 + 120 * u(rng), x = (1280 - w) * u(rng), y = (720 - h) * u(rng);
      s.boxes.push_back({x, y, x + w, y + h});
      s.scores.push_back(0.01f + 0.1f * u(rng));
      s.classes.push_back(static_cast<int>(rng() % static_cast<unsigned>(classes)));
      continue;
    }
    const Obj& o = objs[rng() % objs.size()];
    const float jit = 0.12f * std::fabs(g(rng));
    const float w = o.b.width(), h = o.b.height();
    s.boxes.push_back({o.b.x1 + jit * w * g(rng), o.b.y1 + jit * h * g(rng), o.b.x2 + jit * w * g(rng), o.b.y2 + jit * h * g(rng)});
    s.scores.push_back(std::max(0.01f, o.peak * (1.0f - 2.5f * jit) * (0.8f + 0.2f * u(rng))));
    s.classes.push_back(o.c);
  }
  return s;
}

Set Uniform(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0, 1);
  Set s;
  for (size_t i = 0; i < n; ++i) {
    const float x = 1270 * u(rng), y = 710 * u(rng);
    s.boxes.push_back({x, y, x + 4 + 6 * u(rng), y + 4 + 6 * u(rng)});
    s.scores.push_back(u(rng));
    s.classes.push_back(0);
  }
  return s;
}

// Median and minimum of `runs` timed calls (after 3 untimed ones); on a
// shared machine the minimum is the undisturbed figure.
template <typename F>
std::pair<double, double> TimeMs(int runs, F&& f, size_t* kept) {
  std::vector<double> t;
  for (int r = 0; r < runs + 3; ++r) {
    const auto a = std::chrono::steady_clock::now();
    *kept = f().size();
    const auto b = std::chrono::steady_clock::now();
    if (r >= 3) t.push_back(std::chrono::duration<double, std::milli>(b - a).count());
  }
  std::sort(t.begin(), t.end());
  return {t[t.size() / 2], t.front()};
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 200;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--runs") && i + 1 < argc) runs = std::max(1, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--json")) json = true;
    else {
      std::fprintf(stderr, "usage: bench_nms [--runs N] [--json]\n");
      return 2;
    }
  }
  const float iou = 0.5f;
  const Set one = Clustered(10000, 50, 1, 1), multi = Clustered(10000, 200, 80, 2), uni = Uniform(10000, 3);
  struct Row { std::string name; std::pair<double, double> ms; size_t kept; };
  std::vector<Row> rows;
  size_t k = 0;
  auto ms = TimeMs(runs, [&] { return sense::vision::Nms(one.boxes, one.scores, iou); }, &k);
  rows.push_back({"one class, 10000 boxes, no cap", ms, k});
  ms = TimeMs(runs, [&] { return sense::vision::Nms(one.boxes, one.scores, iou, 100); }, &k);
  rows.push_back({"one class, 10000 boxes, max_keep 100", ms, k});
  ms = TimeMs(runs, [&] { return sense::vision::BatchedNms(multi.boxes, multi.scores, multi.classes, iou, 100, false); }, &k);
  rows.push_back({"80 classes class-aware, 10000 boxes, max_keep 100", ms, k});
  ms = TimeMs(runs, [&] { return sense::vision::BatchedNms(multi.boxes, multi.scores, multi.classes, iou, 100, true); }, &k);
  rows.push_back({"80 classes class-agnostic, 10000 boxes, max_keep 100", ms, k});
  ms = TimeMs(std::max(1, runs / 4), [&] { return sense::vision::Nms(uni.boxes, uni.scores, iou); }, &k);
  rows.push_back({"worst case: 10000 disjoint boxes, no cap", ms, k});
  if (json) {
    std::printf("{\"iou\": %.2f, \"runs\": %d, \"results\": [", iou, runs);
    for (size_t i = 0; i < rows.size(); ++i)
      std::printf("%s{\"scenario\": \"%s\", \"median_ms\": %.4f, \"min_ms\": %.4f, \"kept\": %zu}", i ? ", " : "",
                  rows[i].name.c_str(), rows[i].ms.first, rows[i].ms.second, rows[i].kept);
    std::printf("]}\n");
  } else {
    std::printf("NMS, IoU %.2f, one core, %d runs each (worst case: %d): median, minimum\n", iou, runs, std::max(1, runs / 4));
    for (const auto& r : rows)
      std::printf("  %-55s %8.3f ms %8.3f ms  (%zu kept)\n", r.name.c_str(), r.ms.first, r.ms.second, r.kept);
  }
  return 0;
}
