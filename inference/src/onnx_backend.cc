// The ONNX backend: OpenCV DNN behind sense::Model, metadata from a sidecar.
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/dnn.hpp>

#include <filesystem>
#include <limits>
#include <mutex>

#include "backends.h"
#include "sense/inference/outcome.h"

namespace fs = std::filesystem;

namespace sense::internal {
namespace {

int CvDepth(DType d) {
  switch (d) {
    case DType::kFloat32: return CV_32F;
    case DType::kUInt8: return CV_8U;
    case DType::kInt32: return CV_32S;
    default: return -1;
  }
}

class OnnxModel final : public Model {
 public:
  OnnxModel(const LoadPlan& plan, ModelMetadata metadata, std::string source,
            std::map<std::string, std::string> assets, cv::dnn::Net net)
      : net_(std::move(net)) {
    metadata_ = std::move(metadata);
    path_ = plan.options.path;
    metadata_source_ = std::move(source);
    assets_ = std::move(assets);
    device_ = plan.device;
    num_threads_ = plan.num_threads;
    file_size_ = plan.file_size;
  }

  std::string backend() const override { return "onnx-opencv"; }

  NamedTensors Run(const NamedTensors& inputs) const override {
    std::lock_guard<std::mutex> lock(mutex_);  // cv::dnn::Net is not re-entrant
    try {
      OpenCvThreadScope threads(num_threads_);
      std::vector<cv::Mat> keep;
      for (size_t i = 0; i < metadata_.inputs.size(); ++i) {
        const TensorSpec& spec = metadata_.inputs[i];
        const Tensor& t = (metadata_.inputs.size() == 1 && inputs.size() == 1) ? inputs[0].second : inputs.at(spec.name);
        Tensor in = t;
        if (CvDepth(t.dtype()) < 0) in = t.ToFloat();
        std::vector<int> dims;
        for (int64_t d : in.shape()) {
          if (d > std::numeric_limits<int>::max())
            throw Error(ErrorCode::kInput, path_ + ": input '" + spec.name + "' " + in.Describe() +
                                               " has a dimension larger than OpenCV DNN accepts (2^31 - 1)");
          dims.push_back(static_cast<int>(d));
        }
        cv::Mat blob(static_cast<int>(dims.size()), dims.data(), CvDepth(in.dtype()), const_cast<void*>(in.raw_data()));
        keep.push_back(blob.clone());
        net_.setInput(keep.back(), spec.name);
      }
      std::vector<std::string> names;
      for (const auto& o : metadata_.outputs) names.push_back(o.name);
      std::vector<cv::Mat> outs;
      net_.forward(outs, names);
      NamedTensors result;
      for (size_t i = 0; i < outs.size(); ++i) {
        cv::Mat m = outs[i].isContinuous() ? outs[i] : outs[i].clone();
        if (m.depth() != CV_32F) m.convertTo(m, CV_32F);
        std::vector<int64_t> shape;
        for (int d = 0; d < m.dims; ++d) shape.push_back(m.size[d]);
        // OpenCV DNN 4.6 keeps singleton axes of some reductions for batches
        // > 1 (ReduceMean gives [N, 1, C] for [N, C]): drop them, batch axis
        // excepted, until the rank matches the declared one.
        const size_t declared = metadata_.outputs[i].shape.size();
        for (size_t d = 1; declared && shape.size() > declared && d < shape.size();)
          if (shape[d] == 1) shape.erase(shape.begin() + static_cast<long>(d));
          else ++d;
        Tensor out = Tensor::Empty(DType::kFloat32, shape);
        std::memcpy(out.raw_data(), m.data, out.nbytes());
        result.Set(names[i], out);
      }
      return result;
    } catch (...) {  // cv::Exception, bad_alloc (kResource); sense::Errors pass unchanged
      throw CurrentExceptionAsError(ErrorCode::kBackend, path_ + ": running 'forward' in OpenCV DNN");
    }
  }

 private:
  mutable cv::dnn::Net net_;
  mutable std::mutex mutex_;
};

}  // namespace

OpenCvThreadScope::OpenCvThreadScope(int threads) : threads_(threads) {
  static std::mutex opencv_threads;
  lock_ = std::unique_lock<std::mutex>(opencv_threads);
  previous_ = cv::getNumThreads();
  if (threads_ > 0 && threads_ != previous_) cv::setNumThreads(threads_);
}

OpenCvThreadScope::~OpenCvThreadScope() {
  try {
    if (threads_ > 0 && threads_ != previous_) cv::setNumThreads(previous_);
  } catch (...) {  // a destructor must not throw; OpenCV keeps the model's count
  }
}

std::unique_ptr<Model> LoadOnnx(const LoadPlan& plan) {
  const std::string& path = plan.options.path;
  if (plan.device.type != Device::Type::kCPU)
    throw Error(ErrorCode::kDevice, path + ": the ONNX (OpenCV DNN) backend runs on cpu only; found device \"" +
                                        plan.device.ToString() + "\"");
  std::string source = plan.options.metadata_path.empty() ? FindSidecar(path) : plan.options.metadata_path;
  if (source.empty())
    throw Error(ErrorCode::kMetadata, path + ": ONNX models need a sidecar sense.json: expected " + path + ".json or " +
                                          (fs::path(path).parent_path() / (fs::path(path).stem().string() + ".json")).string());
  LocatedMetadata located;
  located.source = source;
  located.text = ReadFileText(source);
  ModelMetadata metadata = ParseMetadata(located.text, source);
  std::map<std::string, std::string> assets = ReadAssets(path, metadata, located);
  for (const auto& spec : metadata.inputs)
    if (CvDepth(spec.dtype) < 0 && spec.dtype != DType::kInt64)
      throw Error(ErrorCode::kUnsupported, source + ": input '" + spec.name + "' of type " + DTypeName(spec.dtype) +
                                               " is not supported by OpenCV DNN");
  cv::dnn::Net net;
  try {
    cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_ERROR);
    net = cv::dnn::readNetFromONNX(path);
    if (net.empty()) throw Error(ErrorCode::kModelFormat, path + ": OpenCV DNN read an empty network");
    net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
  } catch (...) {
    throw CurrentExceptionAsError(ErrorCode::kModelFormat, path + ": not a loadable ONNX model");
  }
  auto model = std::make_unique<OnnxModel>(plan, std::move(metadata), source, std::move(assets), std::move(net));
  if (plan.options.verify) {
    NamedTensors outputs;
    try {
      outputs = model->Run(DummyInputs(model->metadata()));
    } catch (...) {
      const Error e = CurrentExceptionAsError(ErrorCode::kBackend, path);
      if (e.code() == ErrorCode::kResource) throw e;
      throw Error(ErrorCode::kMetadata, path + ": the model does not accept inputs shaped as its metadata declares: " + e.what());
    }
    CheckOutputsAgainstMetadata(model->metadata(), outputs, path);
  }
  return model;
}

}  // namespace sense::internal
