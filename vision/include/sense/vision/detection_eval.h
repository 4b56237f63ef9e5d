// sense/vision/detection_eval.h — COCO-style evaluation of object detections
// (sense-eval's detection mode) and the ground-truth readers it needs.
//
//   sense::vision::DetectionDataset data = sense::vision::ReadCocoInstances("instances.json", "images/");
//   sense::vision::DetectionEvaluator eval(data.categories);
//   for (const auto& image : data.images)
//     eval.AddImage(image.objects, DetectionsFor(image));  // categories are indices into data.categories
//   sense::vision::DetectionReport r = eval.Report();      // r.ap, r.ap50, ... as pycocotools prints them
//
// The rules are pycocotools' COCOeval for bounding boxes, rule for rule
// (scripts/coco_eval.py is a Python port of the same rules, used as the
// reference in tests):
//   - per image and category, detections sorted by score (stable: ties keep
//     the order they were added in), the best 100 kept;
//   - IoU thresholds 0.50, 0.55, ..., 0.95; at each, detections in score
//     order are matched greedily to the unmatched ground truth box with the
//     highest IoU >= the threshold; a detection already matched to a box that
//     counts never moves to one that is ignored;
//   - crowd regions (iscrowd) are ignored boxes that any number of
//     detections may match, with IoU = intersection / detection area;
//   - area ranges all, small (< 32^2), medium (32^2 .. 96^2), large (> 96^2)
//     by the ground truth's `area` (COCO's segmentation area; w * h for the
//     text format) and the detection's w * h: ground truth outside the range
//     is ignored, unmatched detections outside it are ignored;
//   - precision made monotone (non-increasing in recall) and read at the 101
//     recall points 0, 0.01, ..., 1; maxDets 1, 10, 100 per image and
//     category; a category without (non-ignored) ground truth in an area
//     range is left out of that range's averages (COCO's -1).
//
// Thread safety: DetectionEvaluator is thread-compatible (one thread adds;
// Report may be called concurrently once adding is done). The readers are
// safe to call from several threads.
#ifndef SENSE_VISION_DETECTION_EVAL_H_
#define SENSE_VISION_DETECTION_EVAL_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "sense/vision/object_detector.h"

namespace sense::vision {

// One ground-truth object of an image.
struct GroundTruthBox {
  double x = 0, y = 0, w = 0, h = 0;  // COCO's bbox: top-left corner and size in pixels, w, h >= 0 (doubles, as pycocotools reads them)
  int category = -1;   // index into the dataset's/evaluator's categories
  double area = -1;    // COCO's `area` (segmentation area); < 0: the box's w * h
  bool crowd = false;  // COCO iscrowd 1: an ignore region
};

// One detection to evaluate (a Detection with its category mapped to the
// evaluator's categories).
struct ScoredBox {
  Box box;
  int category = -1;  // index into the evaluator's categories
  float score = 0;
};

struct DetectionDataset {
  std::vector<std::string> categories;  // names, in COCO category-id order (or first-seen order, text format)
  std::vector<int64_t> category_ids;    // COCO ids (text format: 1, 2, ...), parallel to categories
  struct Image {
    int64_t id = 0;       // COCO image id (text format: 1, 2, ... in first-seen order)
    std::string path;     // the image file: image folder / file_name
    int width = 0, height = 0;  // COCO's stated size (0 when unknown)
    std::vector<GroundTruthBox> objects;
  };
  std::vector<Image> images;  // COCO: sorted by id (as pycocotools evaluates them)
};

// COCO detection JSON (`images`, `annotations` with bbox [x, y, w, h], area,
// iscrowd, `categories`); image paths are image_dir / file_name. Throws
// Error(kFile) when the file cannot be read, Error(kInput) naming the field
// when it is not COCO instances JSON (a missing field, an annotation for an
// image or category that is not listed, a negative box size).
DetectionDataset ReadCocoInstances(const std::string& json_path, const std::string& image_dir);

// The simple text format for users' own data: one object per line,
//   FILE X Y W H LABEL
// with X Y the box's top-left corner and W H its size in pixels, LABEL the
// rest of the line (it may contain spaces). A line with FILE alone lists an
// image without objects. Blank lines and lines starting with '#' are
// skipped. FILE is relative to the text file's folder unless absolute.
// Categories are the labels in first-seen order. Throws Error(kFile) when
// the file cannot be read, Error(kInput) naming the line for a malformed one.
DetectionDataset ReadBoxList(const std::string& path);

// True when the first non-comment line of `path` has the box-list form (a
// file name, four numbers, a label); false for anything else, an unreadable
// file included.
bool LooksLikeBoxList(const std::string& path);

// COCO's summary numbers, in [0, 1], -1 where COCO prints -1 (no category
// with ground truth in that area range).
struct DetectionMetrics {
  double ap = -1, ap50 = -1, ap75 = -1;                // IoU .50:.95, .50, .75; area all, 100 detections
  double ap_small = -1, ap_medium = -1, ap_large = -1;
  double ar1 = -1, ar10 = -1, ar100 = -1;              // recall with 1, 10, 100 detections, area all
  double ar_small = -1, ar_medium = -1, ar_large = -1; // 100 detections
};

struct CategoryAp {
  std::string label;
  int ground_truth = 0;  // non-crowd boxes
  int detections = 0;    // detections added (before the 100 per image cut)
  double ap = -1;        // IoU .50:.95, area all, 100 detections; -1: no ground truth
  double ap50 = -1;
};

struct DetectionReport {
  int images = 0;              // images added
  int ground_truth = 0;        // non-crowd boxes
  int crowd_regions = 0;
  int detections = 0;          // detections added
  DetectionMetrics metrics;
  std::vector<CategoryAp> categories;  // every category, in evaluator order
  // Precision at the 101 recall points 0, 0.01, ..., 1 (area all, 100
  // detections), averaged over the categories with ground truth: the PR
  // curves at IoU 0.5 and 0.75. Empty when no category has ground truth.
  std::vector<double> precision50, precision75;
};

class DetectionEvaluator {
 public:
  // Throws Error(kOption) when `categories` is empty.
  explicit DetectionEvaluator(std::vector<std::string> categories);

  // Adds one image: its ground truth and the detections on it (any order,
  // any count). Throws Error(kInput) for a category index out of range, a
  // ground truth box with w or h < 0, a detection with x2 < x1 or y2 < y1,
  // or a value that is not finite. A detection is evaluated as COCO's
  // [x1, y1, x2 - x1, y2 - y1] in double.
  void AddImage(const std::vector<GroundTruthBox>& truth, const std::vector<ScoredBox>& detections);

  DetectionReport Report() const;

  // COCO's 12-line summary ("Average Precision (AP) @[ IoU=0.50:0.95 | area=
  // all | maxDets=100 ] = 0.275") followed by a per-category AP table.
  static std::string Format(const DetectionReport& report);

  const std::vector<std::string>& categories() const { return categories_; }

 private:
  struct Image {
    std::vector<GroundTruthBox> truth;
    std::vector<ScoredBox> detections;
  };
  std::vector<std::string> categories_;
  std::vector<Image> images_;
};

}  // namespace sense::vision

#endif  // SENSE_VISION_DETECTION_EVAL_H_
