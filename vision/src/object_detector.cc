#include "sense/vision/object_detector.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <utility>

#include "detection/decoders.h"
#include "sense/vision/nms.h"
#include "sense/vision/preprocess.h"

namespace sense::vision {

namespace {

std::string Quoted(float v) { return std::to_string(v); }

// The options with every unset field taken from the bundle; throws
// Error(kOption) naming the option and its value.
DetectorOptions Resolve(const DetectorOptions& o, const DetectionSpec& spec, const std::vector<std::string>& labels) {
  DetectorOptions r = o;
  if (!r.score_threshold) r.score_threshold = spec.score_threshold;
  if (!r.iou_threshold) r.iou_threshold = spec.iou_threshold;
  if (!r.max_detections) r.max_detections = spec.max_detections;
  if (!r.class_agnostic_nms) r.class_agnostic_nms = spec.class_agnostic_nms;
  if (!r.multi_label) r.multi_label = spec.multi_label;
  if (!(*r.score_threshold >= 0 && *r.score_threshold <= 1))
    throw Error(ErrorCode::kOption, "score_threshold must be in [0, 1], found " + Quoted(*r.score_threshold));
  if (!(*r.iou_threshold >= 0 && *r.iou_threshold <= 1))
    throw Error(ErrorCode::kOption, "iou_threshold must be in [0, 1], found " + Quoted(*r.iou_threshold));
  if (*r.max_detections < 1)
    throw Error(ErrorCode::kOption, "max_detections must be >= 1, found " + std::to_string(*r.max_detections));
  if (!(r.min_box_size >= 0 && std::isfinite(r.min_box_size)))
    throw Error(ErrorCode::kOption, "min_box_size must be a finite number >= 0, found " + Quoted(r.min_box_size));
  if (!r.allow_labels.empty() && !r.deny_labels.empty())
    throw Error(ErrorCode::kOption, "allow_labels and deny_labels are exclusive; found both (" +
                                        std::to_string(r.allow_labels.size()) + " and " + std::to_string(r.deny_labels.size()) +
                                        " labels)");
  const std::set<std::string> known(labels.begin(), labels.end());
  for (const auto* list : {&r.allow_labels, &r.deny_labels})
    for (const auto& l : *list)
      if (!known.count(l)) {
        std::string some;
        for (size_t i = 0; i < labels.size() && i < 8; ++i) some += (i ? ", " : "") + labels[i];
        if (labels.size() > 8) some += ", ... (" + std::to_string(labels.size()) + " in all)";
        throw Error(ErrorCode::kOption, std::string(list == &r.allow_labels ? "allow_labels" : "deny_labels") + ": \"" + l +
                                            "\" is not one of the model's labels (" + some + ")");
      }
  return r;
}

}  // namespace

struct ObjectDetector::Impl {
  std::unique_ptr<Model> model;
  DetectorOptions options;
  DetectionSpec spec;
  detection::DecodeFn decode = nullptr;
  std::vector<uint8_t> allowed;  // per label
  std::unique_ptr<ImageRunner> runner;

  std::vector<Detections> DetectRows(const ImageBatch& batch) const;
  Detections Finish(std::vector<detection::Candidate>& cands, const InputTransform& t) const;
};

std::unique_ptr<ObjectDetector> ObjectDetector::Create(const ObjectDetectorOptions& options) {
  if (options.max_batch_size < 1)
    throw Error(ErrorCode::kOption, "max_batch_size must be >= 1, found " + std::to_string(options.max_batch_size));
  auto impl = std::make_unique<Impl>();
  impl->model = Model::Load(options.model);
  const ModelMetadata& m = impl->model->metadata();
  const std::string& path = options.model.path;
  if (m.task != Task::kObjectDetection)
    throw Error(ErrorCode::kMetadata, path + ": is a " + std::string(TaskName(m.task)) +
                                          " model; ObjectDetector needs an object_detection bundle");
  if (m.inputs.size() != 1 || m.inputs[0].dtype != DType::kFloat32)
    throw Error(ErrorCode::kMetadata, path + ": detectors take one float32 image input; the metadata declares " +
                                          std::to_string(m.inputs.size()) + " input(s)" +
                                          (m.inputs.empty() ? "" : std::string(", the first ") + DTypeName(m.inputs[0].dtype)));
  if (!m.detection || !m.image)
    throw Error(ErrorCode::kMetadata, path + ": object_detection bundle without 'detection' or 'image' metadata");
  impl->spec = *m.detection;
  impl->decode = detection::FindDecoder(impl->spec.layout);
  if (!impl->decode) {
    std::string names;
    for (const auto& n : detection::DecoderNames()) names += (names.empty() ? "" : ", ") + n;
    throw Error(ErrorCode::kUnsupported, path + ": detection layout '" + impl->spec.layout +
                                             "' has no decoder in this build (decoders: " + names + ")");
  }
  impl->options = Resolve(options.detector, impl->spec, m.labels);
  impl->allowed.assign(m.labels.size(), impl->options.allow_labels.empty() ? 1 : 0);
  for (size_t i = 0; i < m.labels.size(); ++i) {
    for (const auto& l : impl->options.allow_labels)
      if (l == m.labels[i]) impl->allowed[i] = 1;
    for (const auto& l : impl->options.deny_labels)
      if (l == m.labels[i]) impl->allowed[i] = 0;
  }
  impl->runner = std::make_unique<ImageRunner>(*m.image, ImageRunnerOptions{options.max_batch_size, options.reduced_jpeg_decode});
  return std::unique_ptr<ObjectDetector>(new ObjectDetector(std::move(impl)));
}

ObjectDetector::ObjectDetector(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ObjectDetector::~ObjectDetector() = default;

std::vector<Detections> ObjectDetector::Impl::DetectRows(const ImageBatch& batch) const {
  const ModelMetadata& m = model->metadata();
  const NamedTensors raw = model->Run({{m.inputs[0].name, batch.input}});
  // Decoders read float32 only: convert the other outputs once per batch.
  NamedTensors outputs;
  for (const auto& [name, t] : raw) outputs.Set(name, t.dtype() == DType::kFloat32 ? t : t.ToFloat());
  const int64_t rows = static_cast<int64_t>(batch.items.size());
  const detection::DecodeContext ctx{m, spec, m.image->width, m.image->height, *options.score_threshold,
                                     *options.multi_label, allowed, rows};
  std::vector<Detections> results;
  results.reserve(static_cast<size_t>(rows));
  std::vector<detection::Candidate> cands;
  for (int64_t r = 0; r < rows; ++r) {
    cands.clear();
    decode(outputs, r, ctx, cands);
    results.push_back(Finish(cands, batch.transforms[static_cast<size_t>(r)]));
  }
  return results;
}

Detections ObjectDetector::Impl::Finish(std::vector<detection::Candidate>& cands, const InputTransform& t) const {
  const ModelMetadata& m = model->metadata();
  const float in_w = static_cast<float>(m.image->width), in_h = static_cast<float>(m.image->height);
  const float src_w = static_cast<float>(t.source_width), src_h = static_cast<float>(t.source_height);
  auto clip = [](float v, float hi) { return std::min(std::max(v, 0.0f), hi); };
  // Network-input pixels -> source pixels, clipped to each; then the minimum size.
  std::vector<Box> boxes;
  std::vector<float> scores;
  std::vector<int> classes, index;
  boxes.reserve(cands.size());
  scores.reserve(cands.size());
  classes.reserve(cands.size());
  index.reserve(cands.size());
  for (size_t i = 0; i < cands.size(); ++i) {
    const detection::Candidate& c = cands[i];
    if (!(std::isfinite(c.box.x1) && std::isfinite(c.box.y1) && std::isfinite(c.box.x2) && std::isfinite(c.box.y2) &&
          std::isfinite(c.score)))
      continue;
    const cv::Point2f p1 = t.ToSource({clip(c.box.x1, in_w), clip(c.box.y1, in_h)});
    const cv::Point2f p2 = t.ToSource({clip(c.box.x2, in_w), clip(c.box.y2, in_h)});
    const Box b{clip(p1.x, src_w), clip(p1.y, src_h), clip(p2.x, src_w), clip(p2.y, src_h)};
    if (options.min_box_size > 0 && (b.width() < options.min_box_size || b.height() < options.min_box_size)) continue;
    boxes.push_back(b);
    scores.push_back(c.score);
    classes.push_back(c.class_index);
    index.push_back(static_cast<int>(i));
  }
  std::vector<int> keep;
  const int cap = *options.max_detections;
  if (spec.nms_applied) {
    keep.resize(boxes.size());
    for (size_t i = 0; i < keep.size(); ++i) keep[i] = static_cast<int>(i);
    std::stable_sort(keep.begin(), keep.end(), [&](int a, int b) { return scores[static_cast<size_t>(a)] > scores[static_cast<size_t>(b)]; });
    if (keep.size() > static_cast<size_t>(cap)) keep.resize(static_cast<size_t>(cap));
  } else {
    keep = BatchedNms(boxes, scores, classes, *options.iou_threshold, cap, *options.class_agnostic_nms);
  }
  Detections out;
  out.image_width = t.source_width;
  out.image_height = t.source_height;
  out.detections.reserve(keep.size());
  for (int k : keep) {
    const size_t i = static_cast<size_t>(k);
    Detection d;
    d.box = boxes[i];
    d.class_index = classes[i];
    d.label = m.labels[static_cast<size_t>(classes[i])];
    d.score = scores[i];
    const auto& kp = cands[static_cast<size_t>(index[i])].keypoints;
    d.keypoints.reserve(kp.size());
    for (const auto& p : kp) d.keypoints.push_back(t.ToSource(p));
    out.detections.push_back(std::move(d));
  }
  return out;
}

Detections ObjectDetector::Detect(const cv::Mat& image) const {
  return DetectBatch(std::vector<cv::Mat>{image}).front().value();
}

std::vector<Outcome<Detections>> ObjectDetector::DetectBatch(const std::vector<cv::Mat>& images) const {
  return impl_->runner->Run<Detections>(images, [this](const ImageBatch& b) { return impl_->DetectRows(b); });
}

std::vector<Outcome<Detections>> ObjectDetector::DetectFiles(const std::vector<std::string>& paths,
                                                             const DecodeOptions& decode) const {
  return impl_->runner->RunFiles<Detections>(paths, decode, [this](const ImageBatch& b) { return impl_->DetectRows(b); });
}

void ObjectDetector::DetectBatch(const std::vector<cv::Mat>& images, const Sink& sink) const {
  impl_->runner->Run<Detections>(images, [this](const ImageBatch& b) { return impl_->DetectRows(b); }, sink);
}

void ObjectDetector::DetectFiles(const std::vector<std::string>& paths, const DecodeOptions& decode, const Sink& sink) const {
  impl_->runner->RunFiles<Detections>(paths, decode, [this](const ImageBatch& b) { return impl_->DetectRows(b); }, sink);
}

const DetectorOptions& ObjectDetector::options() const { return impl_->options; }
const ModelMetadata& ObjectDetector::metadata() const { return impl_->model->metadata(); }
const Model& ObjectDetector::model() const { return *impl_->model; }

}  // namespace sense::vision
