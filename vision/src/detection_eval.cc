// COCO bbox evaluation (pycocotools COCOeval's evaluateImg + accumulate +
// summarize) and the ground-truth readers. See detection_eval.h for the rules.
#include "sense/vision/detection_eval.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <sstream>

#include <nlohmann/json.hpp>

#include "sense/inference/error.h"

namespace sense::vision {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr int kIouCount = 10;      // 0.50:0.05:0.95
constexpr int kRecallCount = 101;  // 0:0.01:1
constexpr int kMaxDets[3] = {1, 10, 100};
constexpr int kMaxDetCount = 3;
constexpr int kAreaCount = 4;
// all, small, medium, large (pycocotools' areaRng)
constexpr double kAreaRange[kAreaCount][2] = {
    {0, 1e5 * 1e5}, {0, 32.0 * 32.0}, {32.0 * 32.0, 96.0 * 96.0}, {96.0 * 96.0, 1e5 * 1e5}};

// np.linspace(.5, .95, 10) and np.linspace(0, 1, 101) to the last bit:
// start + i * ((stop - start) / (num - 1)), the last value exactly stop.
double IouThreshold(int t) { return t == kIouCount - 1 ? 0.95 : 0.5 + t * ((0.95 - 0.5) / (kIouCount - 1)); }
double RecallThreshold(int r) { return r == kRecallCount - 1 ? 1.0 : r * (1.0 / (kRecallCount - 1)); }

// The box as COCO's [x, y, w, h] in double, as loadRes and the JSON give it.
struct Xywh {
  double x, y, w, h;
};
Xywh ToXywh(const Box& b) {
  return {static_cast<double>(b.x1), static_cast<double>(b.y1), static_cast<double>(b.x2) - b.x1,
          static_cast<double>(b.y2) - b.y1};
}

// maskApi.c bbIou: intersection over union, or over the detection's area
// for a crowd region.
double Iou(const Xywh& d, const Xywh& g, bool crowd) {
  const double iw = std::min(d.x + d.w, g.x + g.w) - std::max(d.x, g.x);
  if (iw <= 0) return 0;
  const double ih = std::min(d.y + d.h, g.y + g.h) - std::max(d.y, g.y);
  if (ih <= 0) return 0;
  const double inter = iw * ih;
  const double u = crowd ? d.w * d.h : d.w * d.h + g.w * g.h - inter;
  return inter / u;
}

// evaluateImg's result for one image, category and area range.
struct ImageEval {
  std::vector<std::array<bool, kIouCount>> matched;  // per detection (score order)
  std::vector<std::array<bool, kIouCount>> ignored;
  std::vector<float> scores;
  int counted_truth = 0;  // ground truth not ignored (gtIg == 0)
};

// pycocotools evaluateImg for one (image, category, area range). `truth`
// in the order given, `dets` already sorted by score and cut to 100.
ImageEval EvaluateImage(const std::vector<const GroundTruthBox*>& truth, const std::vector<const ScoredBox*>& dets,
                        const double range[2]) {
  // Ground truth: not ignored first (a stable sort on the ignore flag).
  std::vector<const GroundTruthBox*> g;
  std::vector<bool> g_ignore;
  for (int pass = 0; pass < 2; ++pass)
    for (const GroundTruthBox* t : truth) {
      const double area = t->area >= 0 ? t->area : t->w * t->h;
      const bool ig = t->crowd || area < range[0] || area > range[1];
      if (ig == (pass == 1)) {
        g.push_back(t);
        g_ignore.push_back(ig);
      }
    }
  const size_t G = g.size(), D = dets.size();
  std::vector<Xywh> gx(G), dx(D);
  for (size_t i = 0; i < G; ++i) gx[i] = {g[i]->x, g[i]->y, g[i]->w, g[i]->h};
  for (size_t i = 0; i < D; ++i) dx[i] = ToXywh(dets[i]->box);
  std::vector<double> ious(D * G);
  for (size_t d = 0; d < D; ++d)
    for (size_t j = 0; j < G; ++j) ious[d * G + j] = Iou(dx[d], gx[j], g[j]->crowd);

  ImageEval out;
  out.matched.assign(D, {});
  out.ignored.assign(D, {});
  out.scores.resize(D);
  for (size_t d = 0; d < D; ++d) out.scores[d] = dets[d]->score;
  for (size_t j = 0; j < G; ++j) out.counted_truth += g_ignore[j] ? 0 : 1;
  for (int t = 0; t < kIouCount; ++t) {
    std::vector<bool> g_matched(G, false);
    for (size_t d = 0; d < D; ++d) {
      double best = std::min(IouThreshold(t), 1 - 1e-10);
      long m = -1;
      for (size_t j = 0; j < G; ++j) {
        if (g_matched[j] && !g[j]->crowd) continue;  // already matched, not a crowd
        if (m > -1 && !g_ignore[static_cast<size_t>(m)] && g_ignore[j]) break;  // a counted match beats ignored boxes
        if (ious[d * G + j] < best) continue;
        best = ious[d * G + j];
        m = static_cast<long>(j);
      }
      if (m == -1) continue;
      out.ignored[d][t] = g_ignore[static_cast<size_t>(m)];
      out.matched[d][t] = true;
      g_matched[static_cast<size_t>(m)] = true;
    }
  }
  // Unmatched detections outside the area range are ignored.
  for (size_t d = 0; d < D; ++d) {
    const double area = dx[d].w * dx[d].h;
    const bool outside = area < range[0] || area > range[1];
    for (int t = 0; t < kIouCount; ++t)
      if (!out.matched[d][t] && outside) out.ignored[d][t] = true;
  }
  return out;
}

// accumulate for one category, area range and maxDet over the images'
// evaluations: precision at the 101 recall points per IoU threshold and the
// final recall. Returns false when no ground truth counts (COCO's -1).
bool Accumulate(const std::vector<const ImageEval*>& evals, int max_det,
                std::array<std::array<double, kRecallCount>, kIouCount>* precision,
                std::array<double, kIouCount>* recall) {
  struct Entry {
    float score;
    const ImageEval* e;
    size_t d;
  };
  std::vector<Entry> all;
  int npig = 0;
  for (const ImageEval* e : evals) {
    const size_t n = std::min(e->scores.size(), static_cast<size_t>(max_det));
    for (size_t d = 0; d < n; ++d) all.push_back({e->scores[d], e, d});
    npig += e->counted_truth;
  }
  if (npig == 0) return false;
  // np.argsort(-scores, kind='mergesort'): stable, descending.
  std::stable_sort(all.begin(), all.end(), [](const Entry& a, const Entry& b) { return -a.score < -b.score; });
  const size_t nd = all.size();
  for (int t = 0; t < kIouCount; ++t) {
    std::vector<double> rc(nd), pr(nd);
    double tp = 0, fp = 0;
    for (size_t i = 0; i < nd; ++i) {
      const bool m = all[i].e->matched[all[i].d][t], ig = all[i].e->ignored[all[i].d][t];
      if (m && !ig) tp += 1;
      if (!m && !ig) fp += 1;
      rc[i] = tp / npig;
      pr[i] = tp / (fp + tp + DBL_EPSILON);
    }
    (*recall)[t] = nd ? rc[nd - 1] : 0;
    for (size_t i = nd; i-- > 1;)
      if (pr[i] > pr[i - 1]) pr[i - 1] = pr[i];
    auto& q = (*precision)[t];
    for (int r = 0; r < kRecallCount; ++r) {
      const double thr = RecallThreshold(r);
      // searchsorted(rc, thr, side='left'): first index with rc[i] >= thr.
      const size_t pi = static_cast<size_t>(std::lower_bound(rc.begin(), rc.end(), thr) - rc.begin());
      q[r] = pi < nd ? pr[pi] : 0.0;
    }
  }
  return true;
}

void CheckBox(const Box& b, const char* what) {
  if (!(std::isfinite(b.x1) && std::isfinite(b.y1) && std::isfinite(b.x2) && std::isfinite(b.y2)) || b.x2 < b.x1 ||
      b.y2 < b.y1) {
    std::ostringstream m;
    m << what << " box must have finite corners with x1 <= x2 and y1 <= y2, found (" << b.x1 << ", " << b.y1 << ", "
      << b.x2 << ", " << b.y2 << ")";
    throw Error(ErrorCode::kInput, m.str());
  }
}

std::string Fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f", v);
  return buf;
}

}  // namespace

DetectionEvaluator::DetectionEvaluator(std::vector<std::string> categories) : categories_(std::move(categories)) {
  if (categories_.empty()) throw Error(ErrorCode::kOption, "DetectionEvaluator needs at least one category, found none");
}

void DetectionEvaluator::AddImage(const std::vector<GroundTruthBox>& truth, const std::vector<ScoredBox>& detections) {
  const int k = static_cast<int>(categories_.size());
  for (const auto& t : truth) {
    if (t.category < 0 || t.category >= k)
      throw Error(ErrorCode::kInput, "ground truth category " + std::to_string(t.category) + " is outside [0, " +
                                         std::to_string(k) + ")");
    if (!(std::isfinite(t.x) && std::isfinite(t.y) && t.w >= 0 && t.h >= 0 && std::isfinite(t.w) && std::isfinite(t.h)))
      throw Error(ErrorCode::kInput, "a ground truth box must have finite x, y and w, h >= 0");
  }
  for (const auto& d : detections) {
    if (d.category < 0 || d.category >= k)
      throw Error(ErrorCode::kInput,
                  "detection category " + std::to_string(d.category) + " is outside [0, " + std::to_string(k) + ")");
    CheckBox(d.box, "a detection");
    if (!std::isfinite(d.score)) throw Error(ErrorCode::kInput, "a detection score must be finite");
  }
  images_.push_back({truth, detections});
}

DetectionReport DetectionEvaluator::Report() const {
  const size_t K = categories_.size();
  DetectionReport r;
  r.images = static_cast<int>(images_.size());
  r.categories.resize(K);
  for (size_t k = 0; k < K; ++k) r.categories[k].label = categories_[k];
  for (const auto& im : images_) {
    for (const auto& t : im.truth) {
      if (t.crowd) ++r.crowd_regions;
      else {
        ++r.ground_truth;
        ++r.categories[static_cast<size_t>(t.category)].ground_truth;
      }
    }
    r.detections += static_cast<int>(im.detections.size());
    for (const auto& d : im.detections) ++r.categories[static_cast<size_t>(d.category)].detections;
  }

  using Precision = std::array<std::array<double, kRecallCount>, kIouCount>;
  // [k][a][m], valid[k][a][m]
  std::vector<std::array<std::array<Precision, kMaxDetCount>, kAreaCount>> precision(K);
  std::vector<std::array<std::array<std::array<double, kIouCount>, kMaxDetCount>, kAreaCount>> recall(K);
  std::vector<std::array<std::array<bool, kMaxDetCount>, kAreaCount>> valid(K);

  for (size_t k = 0; k < K; ++k) {
    // Per image: this category's ground truth (in order) and its best 100 detections.
    std::vector<std::vector<const GroundTruthBox*>> truth(images_.size());
    std::vector<std::vector<const ScoredBox*>> dets(images_.size());
    for (size_t i = 0; i < images_.size(); ++i) {
      for (const auto& t : images_[i].truth)
        if (static_cast<size_t>(t.category) == k) truth[i].push_back(&t);
      for (const auto& d : images_[i].detections)
        if (static_cast<size_t>(d.category) == k) dets[i].push_back(&d);
      std::stable_sort(dets[i].begin(), dets[i].end(),
                       [](const ScoredBox* a, const ScoredBox* b) { return -a->score < -b->score; });
      if (dets[i].size() > static_cast<size_t>(kMaxDets[kMaxDetCount - 1])) dets[i].resize(kMaxDets[kMaxDetCount - 1]);
    }
    for (int a = 0; a < kAreaCount; ++a) {
      std::vector<ImageEval> evals;
      evals.reserve(images_.size());
      for (size_t i = 0; i < images_.size(); ++i)
        if (!truth[i].empty() || !dets[i].empty()) evals.push_back(EvaluateImage(truth[i], dets[i], kAreaRange[a]));
      std::vector<const ImageEval*> ptrs;
      for (const auto& e : evals) ptrs.push_back(&e);
      for (int m = 0; m < kMaxDetCount; ++m)
        valid[k][a][m] = !ptrs.empty() && Accumulate(ptrs, kMaxDets[m], &precision[k][a][m], &recall[k][a][m]);
    }
  }

  // summarize: the mean over every precision (recall) value that is not -1.
  auto ap = [&](int a, int m, int iou) {  // iou -1: all thresholds
    double sum = 0;
    size_t n = 0;
    for (size_t k = 0; k < K; ++k) {
      if (!valid[k][a][m]) continue;
      for (int t = 0; t < kIouCount; ++t) {
        if (iou >= 0 && t != iou) continue;
        for (double v : precision[k][a][m][t]) sum += v;
        n += kRecallCount;
      }
    }
    return n ? sum / n : -1.0;
  };
  auto ar = [&](int a, int m) {
    double sum = 0;
    size_t n = 0;
    for (size_t k = 0; k < K; ++k) {
      if (!valid[k][a][m]) continue;
      for (double v : recall[k][a][m]) sum += v;
      n += kIouCount;
    }
    return n ? sum / n : -1.0;
  };
  auto& mt = r.metrics;
  mt.ap = ap(0, 2, -1);
  mt.ap50 = ap(0, 2, 0);
  mt.ap75 = ap(0, 2, 5);
  mt.ap_small = ap(1, 2, -1);
  mt.ap_medium = ap(2, 2, -1);
  mt.ap_large = ap(3, 2, -1);
  mt.ar1 = ar(0, 0);
  mt.ar10 = ar(0, 1);
  mt.ar100 = ar(0, 2);
  mt.ar_small = ar(1, 2);
  mt.ar_medium = ar(2, 2);
  mt.ar_large = ar(3, 2);

  size_t with_truth = 0;
  std::vector<double> p50(kRecallCount, 0), p75(kRecallCount, 0);
  for (size_t k = 0; k < K; ++k) {
    if (!valid[k][0][2]) continue;
    ++with_truth;
    double sum = 0, sum50 = 0;
    for (int t = 0; t < kIouCount; ++t)
      for (int q = 0; q < kRecallCount; ++q) {
        sum += precision[k][0][2][t][q];
        if (t == 0) sum50 += precision[k][0][2][t][q];
      }
    r.categories[k].ap = sum / (kIouCount * kRecallCount);
    r.categories[k].ap50 = sum50 / kRecallCount;
    for (int q = 0; q < kRecallCount; ++q) {
      p50[q] += precision[k][0][2][0][q];
      p75[q] += precision[k][0][2][5][q];
    }
  }
  if (with_truth) {
    for (int q = 0; q < kRecallCount; ++q) {
      p50[q] /= with_truth;
      p75[q] /= with_truth;
    }
    r.precision50 = std::move(p50);
    r.precision75 = std::move(p75);
  }
  return r;
}

std::string DetectionEvaluator::Format(const DetectionReport& r) {
  std::ostringstream out;
  const auto& m = r.metrics;
  auto line = [&](const char* kind, const char* iou, const char* area, int dets, double v) {
    char buf[160];
    // pycocotools' " {:<18} {} @[ IoU={:<9} | area={:>6s} | maxDets={:>3d} ] = {:0.3f}"
    std::snprintf(buf, sizeof(buf), " %-18s %s @[ IoU=%-9s | area=%6s | maxDets=%3d ] = %s\n",
                  kind[0] == 'P' ? "Average Precision" : "Average Recall", kind[0] == 'P' ? "(AP)" : "(AR)", iou, area,
                  dets, Fmt(v).c_str());
    out << buf;
  };
  line("P", "0.50:0.95", "all", 100, m.ap);
  line("P", "0.50", "all", 100, m.ap50);
  line("P", "0.75", "all", 100, m.ap75);
  line("P", "0.50:0.95", "small", 100, m.ap_small);
  line("P", "0.50:0.95", "medium", 100, m.ap_medium);
  line("P", "0.50:0.95", "large", 100, m.ap_large);
  line("R", "0.50:0.95", "all", 1, m.ar1);
  line("R", "0.50:0.95", "all", 10, m.ar10);
  line("R", "0.50:0.95", "all", 100, m.ar100);
  line("R", "0.50:0.95", "small", 100, m.ar_small);
  line("R", "0.50:0.95", "medium", 100, m.ar_medium);
  line("R", "0.50:0.95", "large", 100, m.ar_large);
  out << "\nper category (IoU 0.50:0.95 and 0.50, area all, 100 detections):\n";
  size_t width = 8;
  for (const auto& c : r.categories) width = std::max(width, c.label.size());
  char buf[256];
  std::snprintf(buf, sizeof(buf), "  %-*s  %6s  %6s  %6s  %6s\n", static_cast<int>(width), "category", "AP", "AP50",
                "boxes", "dets");
  out << buf;
  for (const auto& c : r.categories) {
    const std::string a = c.ap < 0 ? "-" : Fmt(c.ap), a50 = c.ap50 < 0 ? "-" : Fmt(c.ap50);
    std::snprintf(buf, sizeof(buf), "  %-*s  %6s  %6s  %6d  %6d\n", static_cast<int>(width), c.label.c_str(), a.c_str(),
                  a50.c_str(), c.ground_truth, c.detections);
    out << buf;
  }
  return out.str();
}

// ---- readers ---------------------------------------------------------------

DetectionDataset ReadCocoInstances(const std::string& json_path, const std::string& image_dir) {
  std::ifstream in(json_path, std::ios::binary);
  if (!in || fs::is_directory(json_path)) throw Error(ErrorCode::kFile, json_path + ": cannot be opened");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    throw Error(ErrorCode::kInput, json_path + ": not valid JSON (" + e.what() + ")");
  }
  auto need = [&](const json& obj, const char* key, const std::string& where) -> const json& {
    if (!obj.is_object() || !obj.contains(key))
      throw Error(ErrorCode::kInput, json_path + ": " + where + " has no \"" + key + "\" (expected COCO instances JSON)");
    return obj[key];
  };
  DetectionDataset out;
  try {
    const json& cats = need(j, "categories", "the top level");
    const json& images = need(j, "images", "the top level");
    const json& anns = need(j, "annotations", "the top level");
    if (!cats.is_array() || !images.is_array() || !anns.is_array())
      throw Error(ErrorCode::kInput, json_path + ": categories, images and annotations must be arrays");
    std::vector<std::pair<int64_t, std::string>> c;
    for (const auto& cat : cats) c.emplace_back(need(cat, "id", "a category").get<int64_t>(), need(cat, "name", "a category").get<std::string>());
    std::sort(c.begin(), c.end());
    std::map<int64_t, int> cat_index;
    for (const auto& [id, name] : c) {
      if (cat_index.count(id)) throw Error(ErrorCode::kInput, json_path + ": category id " + std::to_string(id) + " is listed twice");
      cat_index[id] = static_cast<int>(out.categories.size());
      out.categories.push_back(name);
      out.category_ids.push_back(id);
    }
    std::map<int64_t, size_t> image_index;
    for (const auto& im : images) {
      DetectionDataset::Image x;
      x.id = need(im, "id", "an image").get<int64_t>();
      x.path = (fs::path(image_dir) / need(im, "file_name", "an image").get<std::string>()).string();
      if (im.contains("width")) x.width = im["width"].get<int>();
      if (im.contains("height")) x.height = im["height"].get<int>();
      out.images.push_back(std::move(x));
    }
    std::stable_sort(out.images.begin(), out.images.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    for (size_t i = 0; i < out.images.size(); ++i) {
      if (image_index.count(out.images[i].id))
        throw Error(ErrorCode::kInput, json_path + ": image id " + std::to_string(out.images[i].id) + " is listed twice");
      image_index[out.images[i].id] = i;
    }
    for (const auto& a : anns) {
      const std::string where = "annotation " + (a.contains("id") ? a["id"].dump() : std::string("?"));
      const int64_t image_id = need(a, "image_id", where).get<int64_t>();
      const int64_t category_id = need(a, "category_id", where).get<int64_t>();
      const json& bbox = need(a, "bbox", where);
      auto im = image_index.find(image_id);
      if (im == image_index.end())
        throw Error(ErrorCode::kInput, json_path + ": " + where + " is for image " + std::to_string(image_id) + ", which is not listed");
      auto ci = cat_index.find(category_id);
      if (ci == cat_index.end())
        throw Error(ErrorCode::kInput, json_path + ": " + where + " has category " + std::to_string(category_id) + ", which is not listed");
      if (!bbox.is_array() || bbox.size() != 4)
        throw Error(ErrorCode::kInput, json_path + ": " + where + ": bbox must be [x, y, w, h], found " + bbox.dump());
      const double x = bbox[0].get<double>(), y = bbox[1].get<double>(), w = bbox[2].get<double>(), h = bbox[3].get<double>();
      if (!(w >= 0 && h >= 0))
        throw Error(ErrorCode::kInput, json_path + ": " + where + ": bbox width and height must be >= 0, found " + bbox.dump());
      GroundTruthBox g;
      g.x = x;
      g.y = y;
      g.w = w;
      g.h = h;
      g.category = ci->second;
      g.area = a.contains("area") ? a["area"].get<double>() : w * h;
      g.crowd = a.contains("iscrowd") && a["iscrowd"].get<int>() != 0;
      out.images[im->second].objects.push_back(g);
    }
  } catch (const json::exception& e) {
    throw Error(ErrorCode::kInput, json_path + ": a field has the wrong type for COCO instances JSON (" + e.what() + ")");
  }
  return out;
}

namespace {

// FILE X Y W H LABEL -> true with the fields; FILE alone -> true, no box.
bool ParseBoxLine(const std::string& line, std::string* file, bool* has_box, double xywh[4], std::string* label) {
  std::istringstream in(line);
  if (!(in >> *file)) return false;
  std::string rest;
  std::getline(in, rest);
  const auto first = rest.find_first_not_of(" \t");
  if (first == std::string::npos) {
    *has_box = false;
    return true;
  }
  std::istringstream nums(rest);
  for (int i = 0; i < 4; ++i) {
    std::string tok;
    if (!(nums >> tok)) return false;
    char* end = nullptr;
    xywh[i] = std::strtod(tok.c_str(), &end);
    if (end == tok.c_str() || *end != '\0' || !std::isfinite(xywh[i])) return false;
  }
  std::getline(nums, *label);
  const auto b = label->find_first_not_of(" \t"), e = label->find_last_not_of(" \t");
  if (b == std::string::npos) return false;
  *label = label->substr(b, e - b + 1);
  *has_box = true;
  return true;
}

}  // namespace

bool LooksLikeBoxList(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in || fs::is_directory(path)) return false;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos || line[line.find_first_not_of(" \t")] == '#') continue;
    std::string file, label;
    bool has_box = false;
    double xywh[4];
    return ParseBoxLine(line, &file, &has_box, xywh, &label) && has_box;
  }
  return false;
}

DetectionDataset ReadBoxList(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in || fs::is_directory(path)) throw Error(ErrorCode::kFile, path + ": cannot be opened");
  const fs::path base = fs::path(path).parent_path();
  DetectionDataset out;
  std::map<std::string, int> cat_index;
  std::map<std::string, size_t> image_index;
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    std::string file, label;
    bool has_box = false;
    double v[4];
    if (!ParseBoxLine(line, &file, &has_box, v, &label))
      throw Error(ErrorCode::kInput, path + ":" + std::to_string(n) + ": expected 'FILE X Y W H LABEL' (or FILE alone), found \"" + line + "\"");
    if (has_box && (v[2] < 0 || v[3] < 0))
      throw Error(ErrorCode::kInput, path + ":" + std::to_string(n) + ": box width and height must be >= 0");
    const std::string full = fs::path(file).is_absolute() ? file : (base / file).string();
    auto it = image_index.find(full);
    if (it == image_index.end()) {
      DetectionDataset::Image im;
      im.id = static_cast<int64_t>(out.images.size()) + 1;
      im.path = full;
      it = image_index.emplace(full, out.images.size()).first;
      out.images.push_back(std::move(im));
    }
    if (!has_box) continue;
    auto c = cat_index.find(label);
    if (c == cat_index.end()) {
      c = cat_index.emplace(label, static_cast<int>(out.categories.size())).first;
      out.categories.push_back(label);
      out.category_ids.push_back(static_cast<int64_t>(out.categories.size()));
    }
    GroundTruthBox g;
    g.x = v[0];
    g.y = v[1];
    g.w = v[2];
    g.h = v[3];
    g.category = c->second;
    g.area = v[2] * v[3];
    out.images[it->second].objects.push_back(g);
  }
  if (out.images.empty()) throw Error(ErrorCode::kInput, path + ": no images listed");
  if (out.categories.empty()) throw Error(ErrorCode::kInput, path + ": no boxes listed (need at least one 'FILE X Y W H LABEL' line)");
  return out;
}

}  // namespace sense::vision
