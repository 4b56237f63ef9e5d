// sense/vision/nms.h — greedy non-maximum suppression, written for speed.
//
//   std::vector<int> keep = sense::vision::Nms(boxes, scores, 0.5f, 100);
//   std::vector<int> keep = sense::vision::BatchedNms(boxes, scores, classes, 0.5f, 100, false);
//
// The rule (the same as torchvision.ops.nms / batched_nms): take candidates
// in descending score order (ties: lower index first); a candidate is kept
// unless its IoU with an already kept box (of the same class, for the
// class-aware form) is greater than iou_threshold. IoU = intersection /
// (area_a + area_b - intersection) with continuous coordinates (area =
// (x2 - x1) * (y2 - y1), no +1); an empty box (x2 <= x1 or y2 <= y1) has
// area 0 and overlaps nothing, so it is kept when its score comes.
//
// How it is fast: one index sort by score; each candidate is compared only
// with the boxes kept so far (kept boxes in structure-of-arrays form, the
// comparison a branch-free loop over blocks of them that stops at the first
// block with an overlap); the loop ends as soon as max_keep boxes are kept.
// No N x N matrix, no copies of the candidate list. The class-aware form
// groups candidates by class (a counting sort) and suppresses each group
// on its own, so a box is only ever compared with kept boxes of its class.
//
// Input contract: boxes, scores (and classes) have the same length; scores
// are finite; classes are >= 0. iou_threshold in [0, 1]; max_keep < 0
// means no cap, 0 keeps nothing.
// Thread safety: free functions, no shared state.
#ifndef SENSE_VISION_NMS_H_
#define SENSE_VISION_NMS_H_

#include <vector>

#include "sense/vision/object_detector.h"

namespace sense::vision {

// Indices of the kept boxes, highest score first.
std::vector<int> Nms(const std::vector<Box>& boxes, const std::vector<float>& scores, float iou_threshold,
                     int max_keep = -1);

// Class-aware (boxes of different classes never suppress each other) or,
// with class_agnostic, one NMS over all. Indices of the kept boxes, highest
// score first, at most max_keep overall.
std::vector<int> BatchedNms(const std::vector<Box>& boxes, const std::vector<float>& scores,
                            const std::vector<int>& classes, float iou_threshold, int max_keep = -1,
                            bool class_agnostic = false);

// IoU of two boxes as the functions above compute it.
float BoxIou(const Box& a, const Box& b);

}  // namespace sense::vision

#endif  // SENSE_VISION_NMS_H_
