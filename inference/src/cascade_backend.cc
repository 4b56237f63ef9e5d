// The cascade backend ("cascade-opencv"): an OpenCV Haar or LBP cascade
// (.xml, as Debian's opencv-data ships them) behind sense::Model, described by
// a sidecar like any other model, so vision::ObjectDetector runs it with the
// "boxes_scores_labels" layout.
//
// Input: the image after the sidecar's preprocessing, 8-bit gray values as
// float32 (or uint8) [N, 1, H, W] (nchw) or [N, H, W, 1] (nhwc); the sidecar
// must keep them 8-bit (image.color "gray", scale 1, mean [0], std [1]).
// Outputs (each only when the sidecar declares it; the first three are
// required):
//   boxes          float32 [N, K, 4]  x1, y1, x2, y2 in input pixels
//   scores         float32 [N, K]     neighbours / (neighbours + cascade.score_half)
//   labels         float32 [N, K]     0 (the sidecar's one label)
//   num_detections float32 [N]        valid rows of image n; rows past it are zeros
// K = the most boxes any image of the batch has, at least 1.
//
// Score: detectMultiScale2 groups the raw window hits of every scale into
// boxes and counts the hits in each (its "neighbours", > min_neighbors for a
// box to be kept). The count grows with how clearly the cascade fires, so it
// ranks boxes; score = n / (n + score_half) maps it into (0, 1): with the
// default score_half 10, 10 hits give 0.5, 30 hits 0.75. It is a ranking, not
// a calibrated probability.
//
// Thread safety: cv::CascadeClassifier keeps scratch buffers, so calls are
// serialised on a mutex (as for cv::dnn::Net); OpenCV's parallel_for inside
// uses the model's thread count, set as for the other OpenCV backends.
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <mutex>

#include "backends.h"
#include "sense/inference/outcome.h"

namespace fs = std::filesystem;

namespace sense::internal {
namespace {

const char* const kRoles[] = {"boxes", "scores", "labels", "num_detections"};

class CascadeModel final : public BackendModel {
 public:
  CascadeModel(const LoadPlan& plan, ModelMetadata metadata, std::string source, std::map<std::string, std::string> assets,
               std::unique_ptr<cv::CascadeClassifier> cascade)
      : BackendModel(plan, std::move(metadata), std::move(source), std::move(assets)), cascade_(std::move(cascade)) {
    params_ = metadata_.cascade ? *metadata_.cascade : ModelMetadata::Cascade{};
  }

  std::string backend() const override { return "cascade-opencv"; }

  NamedTensors Run(const NamedTensors& inputs) const override {
    if (inputs.size() != 1)
      throw Error(ErrorCode::kInput, path_ + ": a cascade takes one image input, found " + std::to_string(inputs.size()));
    const Tensor& in = inputs[0].second;
    const bool nhwc = metadata_.image && metadata_.image->layout == Layout::kNHWC;
    if (in.dim() != 4 || in.size(nhwc ? 3 : 1) != 1)
      throw Error(ErrorCode::kInput, path_ + ": a cascade takes gray images [N, 1, H, W] (nchw) or [N, H, W, 1] (nhwc); found " +
                                         in.Describe());
    if (in.dtype() != DType::kFloat32 && in.dtype() != DType::kUInt8)
      throw Error(ErrorCode::kInput, path_ + ": a cascade takes float32 or uint8 pixels; found " + in.Describe());
    const int n = static_cast<int>(in.size(0));
    const int h = static_cast<int>(in.size(nhwc ? 1 : 2)), w = static_cast<int>(in.size(nhwc ? 2 : 3));
    std::vector<std::vector<cv::Rect>> found(n);
    std::vector<std::vector<int>> hits(n);
    try {
      std::lock_guard<std::mutex> lock(mutex_);
      OpenCvThreadScope threads(num_threads_);
      for (int i = 0; i < n; ++i) {
        cv::Mat gray;
        const std::size_t plane = static_cast<std::size_t>(h) * w;
        if (in.dtype() == DType::kUInt8) {
          gray = cv::Mat(h, w, CV_8U, const_cast<uint8_t*>(in.data<uint8_t>() + plane * i)).clone();
        } else {
          cv::Mat f(h, w, CV_32F, const_cast<float*>(in.data<float>() + plane * i));
          f.convertTo(gray, CV_8U);  // saturating, rounded: the preprocessing kept 8-bit values
        }
        if (params_.equalize_histogram) cv::equalizeHist(gray, gray);
        cascade_->detectMultiScale(gray, found[i], hits[i], params_.scale_factor, params_.min_neighbors, 0,
                                   cv::Size(params_.min_width, params_.min_height),
                                   cv::Size(params_.max_width, params_.max_height));
      }
    } catch (...) {
      throw CurrentExceptionAsError(ErrorCode::kBackend, path_ + ": running the cascade");
    }
    std::size_t k = 1;
    for (const auto& f : found) k = std::max(k, f.size());
    const int64_t K = static_cast<int64_t>(k);
    Tensor boxes = Tensor::Zeros(DType::kFloat32, {n, K, 4});
    Tensor scores = Tensor::Zeros(DType::kFloat32, {n, K});
    Tensor labels = Tensor::Zeros(DType::kFloat32, {n, K});
    Tensor count = Tensor::Zeros(DType::kFloat32, {n});
    for (int i = 0; i < n; ++i) {
      // strongest first, so a cap on detections keeps the best
      std::vector<std::size_t> order(found[i].size());
      for (std::size_t j = 0; j < order.size(); ++j) order[j] = j;
      std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return hits[i][a] > hits[i][b]; });
      for (std::size_t r = 0; r < order.size(); ++r) {
        const cv::Rect& b = found[i][order[r]];
        float* row = boxes.data<float>() + (static_cast<int64_t>(i) * K + static_cast<int64_t>(r)) * 4;
        row[0] = static_cast<float>(b.x);
        row[1] = static_cast<float>(b.y);
        row[2] = static_cast<float>(b.x + b.width);
        row[3] = static_cast<float>(b.y + b.height);
        const float neighbours = static_cast<float>(std::max(0, hits[i][order[r]]));
        scores.data<float>()[static_cast<int64_t>(i) * K + static_cast<int64_t>(r)] = neighbours / (neighbours + params_.score_half);
      }
      count.data<float>()[i] = static_cast<float>(found[i].size());
    }
    NamedTensors out;
    for (const auto& spec : metadata_.outputs) {
      if (spec.name == "boxes") out.Set(spec.name, boxes);
      else if (spec.name == "scores") out.Set(spec.name, scores);
      else if (spec.name == "labels") out.Set(spec.name, labels);
      else if (spec.name == "num_detections") out.Set(spec.name, count);
    }
    return out;
  }

 private:
  std::unique_ptr<cv::CascadeClassifier> cascade_;
  ModelMetadata::Cascade params_;
  mutable std::mutex mutex_;
};

}  // namespace

std::unique_ptr<Model> LoadCascade(const LoadPlan& plan) {
  const std::string& path = plan.options.path;
  if (plan.device.type != Device::Type::kCPU)
    throw Error(ErrorCode::kDevice, path + ": OpenCV cascades run on cpu only; found device \"" + plan.device.ToString() + "\"");
  const LocatedMetadata located = LocateSidecar(path, plan.options.metadata_path, "an OpenCV cascade needs",
                                                ", or pass the sidecar itself as the model (see models/cascades/)");
  const std::string& source = located.source;
  ModelMetadata metadata = ParseMetadata(located.text, source);
  if (metadata.task != Task::kObjectDetection)
    throw Error(ErrorCode::kMetadata, source + ": an OpenCV cascade is an object detector; 'task' is \"" +
                                          TaskName(metadata.task) + "\"");
  if (metadata.labels.size() != 1)
    throw Error(ErrorCode::kMetadata, source + ": a cascade finds one kind of object; 'labels' must have one entry, found " +
                                          std::to_string(metadata.labels.size()));
  const ImagePreprocessing& im = *metadata.image;  // object_detection requires it
  if (im.color != ColorOrder::kGray || std::fabs(im.scale - 1.0f) > 1e-6f || im.mean[0] != 0.0f || im.std[0] != 1.0f)
    throw Error(ErrorCode::kMetadata, source + ": field 'image': a cascade reads 8-bit gray pixels; expected color \"gray\", "
                                               "scale 1, mean [0], std [1]");
  if (metadata.inputs.size() != 1)
    throw Error(ErrorCode::kMetadata, source + ": field 'inputs': a cascade takes one image input, found " +
                                          std::to_string(metadata.inputs.size()));
  for (const auto& o : metadata.outputs)
    if (std::find(std::begin(kRoles), std::end(kRoles), o.name) == std::end(kRoles))
      throw Error(ErrorCode::kMetadata, source + ": field 'outputs': a cascade gives \"boxes\", \"scores\", \"labels\" and "
                                                 "\"num_detections\"; found \"" + o.name + "\"");
  for (const char* needed : {"boxes", "scores", "labels"})
    if (std::none_of(metadata.outputs.begin(), metadata.outputs.end(), [&](const TensorSpec& o) { return o.name == needed; }))
      throw Error(ErrorCode::kMetadata, source + ": field 'outputs': a cascade sidecar must declare \"" + needed + "\"");
  std::map<std::string, std::string> assets = ReadAssets(path, metadata, located);
  auto cascade = std::make_unique<cv::CascadeClassifier>();
  try {
    if (!cascade->load(path) || cascade->empty())
      throw Error(ErrorCode::kModelFormat, path + ": not an OpenCV cascade (cv::CascadeClassifier could not read it)");
  } catch (...) {
    throw CurrentExceptionAsError(ErrorCode::kModelFormat, path + ": not a loadable OpenCV cascade");
  }
  const cv::Size window = cascade->getOriginalWindowSize();
  auto model = std::make_unique<CascadeModel>(plan, std::move(metadata), source, std::move(assets), std::move(cascade));
  if (window.width > im.width || window.height > im.height)
    throw Error(ErrorCode::kMetadata, source + ": field 'image': the cascade's window is " + std::to_string(window.width) + "x" +
                                          std::to_string(window.height) + ", larger than the input " + std::to_string(im.width) +
                                          "x" + std::to_string(im.height));
  if (plan.options.verify) CheckOutputsAgainstMetadata(model->metadata(), model->Run(DummyInputs(model->metadata())), path);
  return model;
}

}  // namespace sense::internal
