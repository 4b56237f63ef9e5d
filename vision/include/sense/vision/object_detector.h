// sense/vision/object_detector.h — detect objects with any object_detection
// bundle: TorchScript, ONNX or Darknet through OpenCV DNN, or an OpenCV
// cascade, each described by its metadata (docs/model-format.md).
//
//   sense::vision::ObjectDetectorOptions options;
//   options.model.path = "models/coco-detector.pt";
//   auto detector = sense::vision::ObjectDetector::Create(options);
//   sense::vision::Detections found = detector->Detect(sense::vision::DecodeImage("street.jpg"));
//   for (const auto& d : found.detections)
//     std::cout << d.label << " " << d.score << " " << d.box.x1 << "," << d.box.y1 << "\n";
//
// Pipeline: decode -> preprocess (the bundle's resize mode: stretch,
// letterbox or pad-to-square) -> model -> the output decoder the bundle's
// `detection.layout` names -> score threshold, class filter and minimum box
// size -> non-maximum suppression (unless the model ran its own) -> boxes
// mapped back exactly to the source image's pixels and clipped to it.
//
// Input contract: images as DecodeImage returns them (8-bit gray, BGR or
// BGRA cv::Mat). Empty or other images are Error(kInput).
// Ownership: the detector owns its model; images are only read.
// Batches: DetectBatch and DetectFiles run through ImageRunner
// (image_runner.h): one Outcome per input, in input order; an image the
// model raises on gets its own Error and the others keep their results.
// Thread safety: every const method is safe to call from several threads at
// once.
#ifndef SENSE_VISION_OBJECT_DETECTOR_H_
#define SENSE_VISION_OBJECT_DETECTOR_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>
#include <opencv2/core/types.hpp>

#include "sense/inference/model.h"
#include "sense/inference/outcome.h"
#include "sense/vision/image_io.h"
#include "sense/vision/image_runner.h"

namespace sense::vision {

// An axis-aligned box in pixels: x1 <= x2, y1 <= y2, corners as floats
// (x2, y2 exclusive edges, so width = x2 - x1).
struct Box {
  float x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  float width() const { return x2 - x1; }
  float height() const { return y2 - y1; }
  float area() const { return (x2 > x1 && y2 > y1) ? (x2 - x1) * (y2 - y1) : 0.0f; }
};

struct Detection {
  Box box;                  // source-image pixels, clipped to [0, width] x [0, height]
  int class_index = -1;     // position in the model's label list
  std::string label;        // metadata label
  float score = 0.0f;       // the decoder's confidence in [0, 1]
  std::vector<cv::Point2f> keypoints;  // source-image pixels (face landmarks); empty when the model has none
};

struct Detections {
  std::vector<Detection> detections;  // sorted by score, highest first
  int image_width = 0, image_height = 0;  // the source image's size
};

// Every field left unset takes the bundle's default (its `detection` object).
struct DetectorOptions {
  std::optional<float> score_threshold;   // in [0, 1]
  std::optional<float> iou_threshold;     // NMS overlap, in [0, 1]
  std::optional<int> max_detections;      // per image, >= 1
  std::optional<bool> class_agnostic_nms; // true: one NMS over all classes
  std::optional<bool> multi_label;        // true: every class above the threshold per box (COCO evaluation)
  std::vector<std::string> allow_labels;  // only these labels (exclusive with deny_labels)
  std::vector<std::string> deny_labels;   // never these labels
  float min_box_size = 0.0f;              // drop boxes narrower or lower than this, in source pixels; >= 0
};

struct ObjectDetectorOptions {
  ModelOptions model;          // path (required: .pt bundle, .onnx/.cfg/.weights/.xml with a sidecar, or the sidecar .json), device, threads
  DetectorOptions detector;
  int max_batch_size = 8;      // DetectBatch/DetectFiles run the model on chunks of at most this many; >= 1
  bool reduced_jpeg_decode = true;  // DetectFiles: JPEGs decoded at 1/2-1/8 scale where the input size allows
};

class ObjectDetector {
 public:
  // Loads and checks the model (must be an object_detection bundle) and the
  // options against its labels. Throws sense::Error (kOption names the bad
  // option and value).
  static std::unique_ptr<ObjectDetector> Create(const ObjectDetectorOptions& options);
  ~ObjectDetector();

  // One image; throws the image's Error.
  Detections Detect(const cv::Mat& image) const;

  // One outcome per input, in input order (see Batches above).
  std::vector<Outcome<Detections>> DetectBatch(const std::vector<cv::Mat>& images) const;
  std::vector<Outcome<Detections>> DetectFiles(const std::vector<std::string>& paths,
                                               const DecodeOptions& decode = {}) const;

  // Streaming forms: `sink` receives each input's outcome in input order on
  // the calling thread as soon as its chunk is done, with the decoded image.
  using Sink = ImageRunner::Sink<Detections>;
  void DetectBatch(const std::vector<cv::Mat>& images, const Sink& sink) const;
  void DetectFiles(const std::vector<std::string>& paths, const DecodeOptions& decode, const Sink& sink) const;

  // The options in force (bundle defaults filled in).
  const DetectorOptions& options() const;
  const ModelMetadata& metadata() const;
  const Model& model() const;

 private:
  struct Impl;
  explicit ObjectDetector(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sense::vision

#endif  // SENSE_VISION_OBJECT_DETECTOR_H_
