// COCO evaluation: hand-worked examples (the expected numbers are derived in
// the comments), the readers, and, with ../shared, agreement with
// scripts/coco_eval.py (the pycocotools port) on the same detections.
#include "sense/vision/detection_eval.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "sense/inference/error.h"
#include "test_util.h"

namespace sense::vision {
namespace {

namespace fs = std::filesystem;

GroundTruthBox Gt(double x1, double y1, double x2, double y2, int cat, bool crowd = false) {
  GroundTruthBox g;
  g.x = x1;
  g.y = y1;
  g.w = x2 - x1;
  g.h = y2 - y1;
  g.category = cat;
  g.crowd = crowd;
  return g;  // area < 0: w * h
}
ScoredBox Det(float x1, float y1, float x2, float y2, int cat, float score) { return {{x1, y1, x2, y2}, cat, score}; }

TEST(DetectionEvaluator, PerfectDetectionScoresOne) {
  DetectionEvaluator e({"thing"});
  e.AddImage({Gt(0, 0, 100, 100, 0)}, {Det(0, 0, 100, 100, 0, 0.9f)});
  const auto r = e.Report();
  EXPECT_DOUBLE_EQ(r.metrics.ap, 1.0);
  EXPECT_DOUBLE_EQ(r.metrics.ap50, 1.0);
  EXPECT_DOUBLE_EQ(r.metrics.ap_large, 1.0);
  EXPECT_EQ(r.metrics.ap_small, -1);  // no small ground truth: COCO's -1
  EXPECT_EQ(r.metrics.ap_medium, -1);
  EXPECT_DOUBLE_EQ(r.metrics.ar1, 1.0);
}

// Four categories over two images:
//  cat:  image 1 box c1 (0,0)-(100,100), area 10000 (large); detections
//        d1 = c1 exactly (0.9) and a duplicate d2 (0,0)-(100,90) (0.8, IoU
//        0.9 with the already matched c1: a false positive at every IoU).
//        image 2 box c2 (200,200)-(300,300) is missed; a crowd region
//        (0,0)-(400,100) holds d3 (10,10)-(60,60) (0.7) and d4 (0.65):
//        IoU with a crowd is intersection / detection area = 1, so both
//        match it and are ignored.
//        Score order d1 TP, d2 FP, d3 ign, d4 ign; 2 boxes count:
//        recall 0.5, 0.5; precision 1, 0.5 -> made monotone 1, 0.5. The
//        101 recall points 0 .. 0.50 read precision 1, the 50 above 0.5 read
//        0: AP = 51/101 at every IoU threshold. Recall 0.5.
//  dog:  image 1 box (0,0)-(40,40) (area 1600: medium), detection
//        (0,0)-(40,29) (0.6): IoU 1160/1600 = 0.725, a match at IoU 0.50 ..
//        0.70 (5 thresholds, AP 1 each) and a miss at 0.75 .. 0.95 (AP 0):
//        AP 0.5, AP50 1, AP75 0, recall 0.5.
//  bird: no ground truth, one detection (0.95): left out (-1), it does not
//        lower anything.
//  cow:  nothing at all: -1.
// Overall: AP = (51/101 + 0.5) / 2, AP50 = (51/101 + 1) / 2, AP75 =
// (51/101 + 0) / 2. Small: no box counts anywhere: -1. Medium: only dog
// (its detection's area 1160 is medium too): 0.5. Large: only cat; d2's area
// 9000 is medium, so unmatched and outside the range it is ignored there:
// precision 1, 1 at recall 0.5: 51/101. AR1/10/100 = (0.5 + 0.5) / 2 (with 1
// detection per image cat keeps d1 and d3); ARm = 0.5 (dog), ARl = 0.5 (cat).
TEST(DetectionEvaluator, HandWorkedCrowdDuplicateMissedAndEmptyClasses) {
  DetectionEvaluator e({"cat", "dog", "bird", "cow"});
  e.AddImage({Gt(0, 0, 100, 100, 0), Gt(0, 0, 40, 40, 1)},
             {Det(0, 0, 100, 90, 0, 0.8f), Det(0, 0, 100, 100, 0, 0.9f), Det(0, 0, 40, 29, 1, 0.6f)});
  e.AddImage({Gt(200, 200, 300, 300, 0), Gt(0, 0, 400, 100, 0, /*crowd=*/true)},
             {Det(10, 10, 60, 60, 0, 0.7f), Det(20, 20, 70, 70, 0, 0.65f), Det(300, 0, 350, 50, 2, 0.95f)});
  const auto r = e.Report();
  const double cat = 51.0 / 101.0;
  EXPECT_NEAR(r.metrics.ap, (cat + 0.5) / 2, 1e-12);
  EXPECT_NEAR(r.metrics.ap50, (cat + 1.0) / 2, 1e-12);
  EXPECT_NEAR(r.metrics.ap75, (cat + 0.0) / 2, 1e-12);
  EXPECT_EQ(r.metrics.ap_small, -1);
  EXPECT_NEAR(r.metrics.ap_medium, 0.5, 1e-12);
  EXPECT_NEAR(r.metrics.ap_large, cat, 1e-12);
  EXPECT_NEAR(r.metrics.ar1, 0.5, 1e-12);
  EXPECT_NEAR(r.metrics.ar10, 0.5, 1e-12);
  EXPECT_NEAR(r.metrics.ar100, 0.5, 1e-12);
  EXPECT_EQ(r.metrics.ar_small, -1);
  EXPECT_NEAR(r.metrics.ar_medium, 0.5, 1e-12);
  EXPECT_NEAR(r.metrics.ar_large, 0.5, 1e-12);
  ASSERT_EQ(r.categories.size(), 4u);
  EXPECT_NEAR(r.categories[0].ap, cat, 1e-12);
  EXPECT_NEAR(r.categories[0].ap50, cat, 1e-12);
  EXPECT_EQ(r.categories[0].ground_truth, 2);  // the crowd region is not counted
  EXPECT_EQ(r.categories[0].detections, 4);
  EXPECT_NEAR(r.categories[1].ap, 0.5, 1e-12);
  EXPECT_NEAR(r.categories[1].ap50, 1.0, 1e-12);
  EXPECT_EQ(r.categories[2].ap, -1);
  EXPECT_EQ(r.categories[3].ap, -1);
  EXPECT_EQ(r.images, 2);
  EXPECT_EQ(r.ground_truth, 3);
  EXPECT_EQ(r.crowd_regions, 1);
  EXPECT_EQ(r.detections, 6);
  // The PR curves average cat and dog: at IoU 0.5, recall 0 .. 0.5 reads
  // (1 + 1) / 2, above it (0 + 1) / 2; at 0.75 (1 + 0) / 2, then 0.
  ASSERT_EQ(r.precision50.size(), 101u);
  EXPECT_NEAR(r.precision50[50], 1.0, 1e-12);
  EXPECT_NEAR(r.precision50[51], 0.5, 1e-12);
  EXPECT_NEAR(r.precision75[50], 0.5, 1e-12);
  EXPECT_NEAR(r.precision75[100], 0.0, 1e-12);
  const std::string text = DetectionEvaluator::Format(r);
  EXPECT_NE(text.find("Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.502"), std::string::npos)
      << text;
  EXPECT_NE(text.find("area= small | maxDets=100 ] = -1.000"), std::string::npos) << text;
}

// Matching is greedy by score, not optimal: boxes A (0,0)-(10,10) and B
// (5,0)-(15,10). The better-scored p (2,0)-(12,10) has IoU 80/120 = 0.667
// with A and 70/130 = 0.538 with B, so it takes A; q (0,0)-(10,10) then has
// only B left at IoU 50/150 = 0.333: a false positive at 0.5 although an
// optimal assignment (p-B, q-A) would match both. Precision 1, 0.5 at
// recall 0.5, 0.5: AP50 = 51/101.
TEST(DetectionEvaluator, MatchingIsGreedyByScore) {
  DetectionEvaluator e({"x"});
  e.AddImage({Gt(0, 0, 10, 10, 0), Gt(5, 0, 15, 10, 0)}, {Det(0, 0, 10, 10, 0, 0.5f), Det(2, 0, 12, 10, 0, 0.9f)});
  EXPECT_NEAR(e.Report().metrics.ap50, 51.0 / 101.0, 1e-12);
}

// 12 detections on one image and category, only the 11th best is right:
// with 1 or 10 detections nothing is found (AR1 = AR10 = 0), with 100 it is
// (AR100 = 1). Precision at its recall 1 is 1/11, carried back to every
// recall point by the monotone envelope: AP = 1/11.
TEST(DetectionEvaluator, MaxDetsCutPerImage) {
  DetectionEvaluator e({"x"});
  std::vector<ScoredBox> dets;
  for (int i = 0; i < 12; ++i) {
    const float s = 0.9f - 0.05f * i;
    if (i == 10) dets.push_back(Det(0, 0, 50, 50, 0, s));
    else dets.push_back(Det(100 + 10 * i, 100, 105 + 10 * i, 105, 0, s));
  }
  e.AddImage({Gt(0, 0, 50, 50, 0)}, dets);
  const auto r = e.Report();
  EXPECT_EQ(r.metrics.ar1, 0);
  EXPECT_EQ(r.metrics.ar10, 0);
  EXPECT_NEAR(r.metrics.ar100, 1.0, 1e-12);
  EXPECT_NEAR(r.metrics.ap, 1.0 / 11.0, 1e-12);
}

// A detection already matched to a box that counts does not move to an
// ignored one with a higher IoU (ground truth is visited counted-first):
// box A (0,0)-(10,10) and a crowd region C (0,0)-(100,100); detection
// (0,0)-(10,16) has IoU 100/160 = 0.625 with A and 160/160 = 1 with C. At
// IoU 0.50 .. 0.60 it keeps A (a true positive, AP 1); at 0.65 .. 0.95 A is
// out of reach and it matches C: ignored, so nothing counts (AP 0).
// AP = 3/10, AP50 = 1.
TEST(DetectionEvaluator, CountedMatchIsNotTradedForAnIgnoredOne) {
  DetectionEvaluator e({"x"});
  e.AddImage({Gt(0, 0, 100, 100, 0, /*crowd=*/true), Gt(0, 0, 10, 10, 0)}, {Det(0, 0, 10, 16, 0, 0.9f)});
  const auto r = e.Report();
  EXPECT_NEAR(r.metrics.ap, 0.3, 1e-12);
  EXPECT_NEAR(r.metrics.ap50, 1.0, 1e-12);
}

// Area ranges: box S (0,0)-(20,20) (area 400: small) and L (0,0)-(100,100)
// (large); detection (0,0)-(22,22) (area 484) has IoU 400/484 = 0.826 with
// S and 0.0484 with L. "small": S counts, L is ignored; the detection
// matches S at IoU 0.50 .. 0.80 (7 thresholds, AP 1) and is a false
// positive above (AP 0): AP small 0.7. "large": S is ignored, L counts; the
// detection matches the ignored S (ignored) or, above 0.80, nothing while
// its area is outside the range (ignored): L is missed, AP and AR large 0.
TEST(DetectionEvaluator, AreaRangesIgnoreTruthAndDetectionsOutside) {
  DetectionEvaluator e({"x"});
  e.AddImage({Gt(0, 0, 20, 20, 0), Gt(0, 0, 100, 100, 0)}, {Det(0, 0, 22, 22, 0, 0.9f)});
  const auto r = e.Report();
  EXPECT_NEAR(r.metrics.ap_small, 0.7, 1e-12);
  EXPECT_EQ(r.metrics.ap_large, 0);
  EXPECT_EQ(r.metrics.ar_large, 0);
  EXPECT_EQ(r.metrics.ap_medium, -1);
}

TEST(DetectionEvaluator, RejectsBadInput) {
  EXPECT_THROW(DetectionEvaluator({}), Error);
  DetectionEvaluator e({"x"});
  try {
    e.AddImage({}, {Det(0, 0, 1, 1, 3, 0.5f)});
    FAIL();
  } catch (const Error& err) {
    EXPECT_EQ(err.code(), ErrorCode::kInput);
    EXPECT_NE(std::string(err.what()).find("category 3 is outside [0, 1)"), std::string::npos) << err.what();
  }
  EXPECT_THROW(e.AddImage({}, {Det(5, 0, 1, 1, 0, 0.5f)}), Error);
  EXPECT_THROW(e.AddImage({Gt(0, 0, -1, 1, 0)}, {}), Error);
}

std::string WriteTemp(const std::string& name, const std::string& text) {
  const fs::path p = fs::temp_directory_path() / ("sense_det_eval_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(p) << text;
  return p.string();
}

TEST(ReadBoxList, ReadsFilesBoxesAndLabelsWithSpaces) {
  const std::string p = WriteTemp("boxes.txt",
                                  "# my photos\n"
                                  "a.jpg 10 20 30 40 traffic light\n"
                                  "\n"
                                  "b.jpg\n"
                                  "a.jpg 0 0 5 5 dog\r\n"
                                  "/abs/c.png 1.5 2.5 3 4 traffic light\n");
  EXPECT_TRUE(LooksLikeBoxList(p));
  const auto d = ReadBoxList(p);
  ASSERT_EQ(d.images.size(), 3u);
  EXPECT_EQ(d.categories, (std::vector<std::string>{"traffic light", "dog"}));
  EXPECT_EQ(d.images[0].path, (fs::path(p).parent_path() / "a.jpg").string());
  ASSERT_EQ(d.images[0].objects.size(), 2u);
  EXPECT_EQ(d.images[0].objects[0].x, 10);
  EXPECT_EQ(d.images[0].objects[0].h, 40);
  EXPECT_EQ(d.images[0].objects[0].area, 1200);
  EXPECT_EQ(d.images[0].objects[1].category, 1);
  EXPECT_TRUE(d.images[1].objects.empty());
  EXPECT_EQ(d.images[2].path, "/abs/c.png");
  EXPECT_EQ(d.images[2].objects[0].category, 0);
  fs::remove(p);
}

TEST(ReadBoxList, MalformedLineNamesItsNumber) {
  const std::string p = WriteTemp("bad.txt", "a.jpg 1 2 3 4 dog\na.jpg 1 two 3 4 dog\n");
  try {
    ReadBoxList(p);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInput);
    EXPECT_NE(std::string(e.what()).find(":2: expected 'FILE X Y W H LABEL'"), std::string::npos) << e.what();
  }
  const std::string tsv = WriteTemp("text.tsv", "a fine film\t1\n");
  EXPECT_FALSE(LooksLikeBoxList(tsv));
  EXPECT_THROW(ReadBoxList("/no/such/file.txt"), Error);
  fs::remove(p);
  fs::remove(tsv);
}

TEST(ReadCocoInstances, ReadsImagesSortedByIdAndCrowds) {
  const std::string p = WriteTemp("inst.json", R"({
    "images": [{"id": 9, "file_name": "b.jpg", "width": 50, "height": 40}, {"id": 3, "file_name": "a.jpg"}],
    "categories": [{"id": 18, "name": "dog"}, {"id": 1, "name": "person"}],
    "annotations": [{"id": 1, "image_id": 9, "category_id": 18, "bbox": [1, 2, 3, 4], "area": 7.5, "iscrowd": 0},
                    {"id": 2, "image_id": 9, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 90, "iscrowd": 1}]})");
  const auto d = ReadCocoInstances(p, "/imgs");
  EXPECT_EQ(d.categories, (std::vector<std::string>{"person", "dog"}));  // by category id
  EXPECT_EQ(d.category_ids, (std::vector<int64_t>{1, 18}));
  ASSERT_EQ(d.images.size(), 2u);
  EXPECT_EQ(d.images[0].id, 3);
  EXPECT_EQ(d.images[0].path, "/imgs/a.jpg");
  EXPECT_EQ(d.images[1].width, 50);
  ASSERT_EQ(d.images[1].objects.size(), 2u);
  EXPECT_EQ(d.images[1].objects[0].category, 1);
  EXPECT_EQ(d.images[1].objects[0].area, 7.5);
  EXPECT_TRUE(d.images[1].objects[1].crowd);
  fs::remove(p);
  const std::string bad = WriteTemp("bad.json", R"({"images": [], "categories": [], "annotations": [{"image_id": 1, "category_id": 1, "bbox": [0,0,1,1]}]})");
  try {
    ReadCocoInstances(bad, ".");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInput);
    EXPECT_NE(std::string(e.what()).find("is for image 1, which is not listed"), std::string::npos) << e.what();
  }
  fs::remove(bad);
}

// The real ground truth with synthetic detections (jittered true boxes,
// duplicates, random false positives, scores with ties), scored by this
// evaluator and by scripts/coco_eval.py on the same numbers.
TEST(DetectionEvaluator, AgreesWithCocoEvalPyOnCocoValMini) {
  SENSE_REQUIRE_SHARED("coco-val-mini/instances.json");
  const std::string gt_path = sense::testing::SharedData("coco-val-mini/instances.json");
  const auto data = ReadCocoInstances(gt_path, sense::testing::SharedData("coco-val-mini/images"));
  DetectionEvaluator eval(data.categories);
  std::mt19937 rng(13);
  std::uniform_real_distribution<float> u(0, 1);
  nlohmann::json dets = nlohmann::json::array();
  for (const auto& im : data.images) {
    std::vector<ScoredBox> found;
    const float W = im.width ? im.width : 640, H = im.height ? im.height : 480;
    for (const auto& g : im.objects) {
      if (u(rng) < 0.25f) continue;  // missed
      const int copies = u(rng) < 0.2f ? 2 : 1;  // sometimes a duplicate
      for (int c = 0; c < copies; ++c) {
        const float j = 0.25f * u(rng);
        const float x1 = static_cast<float>(g.x) + j * static_cast<float>(g.w) * (u(rng) - 0.5f);
        const float y1 = static_cast<float>(g.y) + j * static_cast<float>(g.h) * (u(rng) - 0.5f);
        const float x2 = x1 + static_cast<float>(g.w) * (1 + j * (u(rng) - 0.5f));
        const float y2 = y1 + static_cast<float>(g.h) * (1 + j * (u(rng) - 0.5f));
        const int cat = u(rng) < 0.1f ? static_cast<int>(u(rng) * data.categories.size()) % static_cast<int>(data.categories.size()) : g.category;
        found.push_back({{x1, y1, x2, y2}, cat, std::round(u(rng) * 20) / 20});  // coarse scores: ties
      }
    }
    for (int k = 0; k < 5; ++k) {
      const float x = u(rng) * W, y = u(rng) * H;
      found.push_back({{x, y, x + u(rng) * 100, y + u(rng) * 100}, static_cast<int>(u(rng) * 79.99f), u(rng) * 0.5f});
    }
    for (const auto& f : found) {
      const double x = f.box.x1, y = f.box.y1, w = static_cast<double>(f.box.x2) - f.box.x1, h = static_cast<double>(f.box.y2) - f.box.y1;
      dets.push_back({{"image_id", im.id}, {"category_id", data.category_ids[static_cast<size_t>(f.category)]},
                      {"bbox", {x, y, w, h}}, {"score", static_cast<double>(f.score)}});
    }
    eval.AddImage(im.objects, found);
  }
  const std::string det_path = WriteTemp("dets.json", dets.dump());
  const std::string out_path = det_path + ".out";
  const std::string cmd = std::string("/usr/bin/python3 -c \"import json,sys; sys.path.insert(0, sys.argv[1]); "
                                      "from coco_eval import evaluate; "
                                      "json.dump(evaluate(json.load(open(sys.argv[2])), json.load(open(sys.argv[3])), True), open(sys.argv[4], 'w'))\" ") +
                          sense::testing::SourcePath("scripts") + " " + gt_path + " " + det_path + " " + out_path;
  if (std::system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") != 0) GTEST_SKIP() << "needs /usr/bin/python3 with numpy";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  nlohmann::json ref;
  std::ifstream(out_path) >> ref;
  const auto r = eval.Report();
  const auto& m = r.metrics;
  const std::pair<const char*, double> ours[] = {{"AP", m.ap},   {"AP50", m.ap50}, {"AP75", m.ap75}, {"APs", m.ap_small},
                                                 {"APm", m.ap_medium}, {"APl", m.ap_large}, {"AR1", m.ar1}, {"AR10", m.ar10},
                                                 {"AR100", m.ar100}, {"ARs", m.ar_small}, {"ARm", m.ar_medium}, {"ARl", m.ar_large}};
  for (const auto& [name, v] : ours) EXPECT_NEAR(v, ref[name].get<double>(), 1e-12) << name;
  EXPECT_GT(m.ap, 0.2);  // the synthetic detections are good enough to exercise every rule
  EXPECT_LT(m.ap, 0.9);
  int compared = 0;
  for (const auto& c : r.categories) {
    if (c.ap < 0) {
      EXPECT_FALSE(ref["per_class"].contains(c.label)) << c.label;
      continue;
    }
    EXPECT_NEAR(c.ap, ref["per_class"][c.label].get<double>(), 1e-12) << c.label;
    ++compared;
  }
  EXPECT_EQ(compared, 79);  // every category present in coco-val-mini (hot dog is absent)
  fs::remove(det_path);
  fs::remove(out_path);
}

}  // namespace
}  // namespace sense::vision
