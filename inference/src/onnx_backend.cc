// The OpenCV DNN backends behind sense::Model, metadata from a sidecar: ONNX
// ("onnx-opencv") and Darknet .cfg + .weights ("darknet-opencv").
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/dnn.hpp>

#include <cstring>
#include <filesystem>
#include <limits>
#include <mutex>
#include <regex>

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

enum class DnnFormat { kOnnx, kDarknet };

class OnnxModel final : public BackendModel {
 public:
  OnnxModel(const LoadPlan& plan, ModelMetadata metadata, std::string source,
            std::map<std::string, std::string> assets, cv::dnn::Net net, DnnFormat format = DnnFormat::kOnnx)
      : BackendModel(plan, std::move(metadata), std::move(source), std::move(assets)), net_(std::move(net)), format_(format) {
  }

  std::string backend() const override { return format_ == DnnFormat::kDarknet ? "darknet-opencv" : "onnx-opencv"; }

  NamedTensors Run(const NamedTensors& inputs) const override {
    // Many exported graphs fix batch 1 (YuNet, UltraFace, FastestDet: OpenCV
    // DNN refuses or, worse, silently merges the rows of a larger batch);
    // when the metadata says so, a batch runs row by row.
    if (metadata_.inputs.size() == 1 && inputs.size() == 1 && !metadata_.inputs[0].shape.empty() &&
        metadata_.inputs[0].shape[0] == 1 && inputs[0].second.dim() >= 1 && inputs[0].second.size(0) > 1) {
      const Tensor& all = inputs[0].second;
      std::vector<NamedTensors> rows;
      for (int64_t r = 0; r < all.size(0); ++r) rows.push_back(RunOne({{inputs[0].first, all.Slice(r, r + 1)}}));
      NamedTensors result;
      for (size_t o = 0; o < rows[0].size(); ++o) {
        const Tensor& first = rows[0][o].second;
        std::vector<int64_t> shape = first.shape();
        shape[0] = 0;
        for (const auto& row : rows) shape[0] += row[o].second.size(0);
        Tensor cat = Tensor::Empty(DType::kFloat32, shape);
        char* dst = static_cast<char*>(cat.raw_data());
        for (const auto& row : rows) {
          const Tensor& t = row[o].second;
          if (t.dim() != first.dim() || t.numel() / std::max<int64_t>(1, t.size(0)) != first.numel() / std::max<int64_t>(1, first.size(0)))
            throw Error(ErrorCode::kBackend, path_ + ": output '" + rows[0][o].first + "' changed shape between images: " +
                                                 first.Describe() + " and " + t.Describe());
          std::memcpy(dst, t.raw_data(), t.nbytes());
          dst += t.nbytes();
        }
        result.Set(rows[0][o].first, cat);
      }
      return result;
    }
    return RunOne(inputs);
  }

 private:
  NamedTensors RunOne(const NamedTensors& inputs) const {
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
        // A Darknet network has one unnamed input; ONNX inputs go by name.
        net_.setInput(keep.back(), format_ == DnnFormat::kDarknet ? "" : spec.name);
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
        // Darknet's region layer gives one image's rows as [rows, 5 + classes]
        // (a batch as [N, rows, 5 + classes]): always [N, rows, 5 + classes].
        if (format_ == DnnFormat::kDarknet && shape.size() == 2) shape.insert(shape.begin(), 1);
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

  mutable cv::dnn::Net net_;
  mutable std::mutex mutex_;
  DnnFormat format_;
};

// Every declared output must be a layer of the network (the unconnected
// output layers are what a network gives by default): else kMetadata naming them.
void CheckDeclaredOutputs(const cv::dnn::Net& net, const ModelMetadata& metadata, const std::string& source) {
  std::vector<std::string> unconnected;
  try {
    unconnected = net.getUnconnectedOutLayersNames();
  } catch (...) {
    return;  // the verification pass reports what is wrong
  }
  for (const auto& o : metadata.outputs) {
    if (std::find(unconnected.begin(), unconnected.end(), o.name) != unconnected.end()) continue;
    if (net.getLayerId(o.name) >= 0) continue;
    std::string names;
    for (const auto& n : unconnected) names += (names.empty() ? "" : ", ") + n;
    throw Error(ErrorCode::kMetadata, source + ": declares output '" + o.name + "', which the network does not have; its "
                                                "output layers are: " + names);
  }
}

// Runs the verification pass of a freshly loaded OpenCV DNN model.
void VerifyDnnModel(const Model& model, const std::string& path) {
  NamedTensors outputs;
  try {
    outputs = model.Run(DummyInputs(model.metadata()));
  } catch (...) {
    const Error e = CurrentExceptionAsError(ErrorCode::kBackend, path);
    if (e.code() == ErrorCode::kResource) throw e;
    throw Error(ErrorCode::kMetadata, path + ": the model does not accept inputs shaped as its metadata declares: " + e.what());
  }
  CheckOutputsAgainstMetadata(model.metadata(), outputs, path);
}

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
  const LocatedMetadata located = LocateSidecar(path, plan.options.metadata_path, "ONNX models need");
  const std::string& source = located.source;
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
  CheckDeclaredOutputs(net, metadata, source);
  auto model = std::make_unique<OnnxModel>(plan, std::move(metadata), source, std::move(assets), std::move(net));
  if (plan.options.verify) VerifyDnnModel(*model, path);
  return model;
}

// The .cfg with `thresh=0` in every [yolo] section: OpenCV 4.6 otherwise
// zeroes every class score below 0.2 (its default when the section sets no
// thresh), which is harmless for display but loses the low scores that
// ranking metrics (COCO AP) need; the score threshold applies later, in the
// detector. An existing thresh line in a [yolo] section is replaced.
std::string DarknetConfigWithoutThreshold(const std::string& cfg) {
  std::string out;
  out.reserve(cfg.size() + 64);
  bool in_yolo = false;
  std::size_t start = 0;
  static const std::regex section(R"(^\s*\[([^\]]*)\].*)");
  static const std::regex thresh(R"(^\s*thresh\s*=.*)");
  while (start <= cfg.size()) {
    std::size_t end = cfg.find('\n', start);
    if (end == std::string::npos) end = cfg.size();
    std::string line = cfg.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::smatch m;
    if (std::regex_match(line, m, section)) {
      in_yolo = m[1] == "yolo";
      out += line + "\n";
      if (in_yolo) out += "thresh=0\n";
    } else if (!(in_yolo && std::regex_match(line, thresh))) {
      out += line + "\n";
    }
    start = end + 1;
  }
  return out;
}

std::unique_ptr<Model> LoadDarknet(const LoadPlan& plan_in) {
  LoadPlan plan = plan_in;
  const std::string given = plan.options.path;
  if (plan.device.type != Device::Type::kCPU)
    throw Error(ErrorCode::kDevice, given + ": the Darknet (OpenCV DNN) backend runs on cpu only; found device \"" +
                                        plan.device.ToString() + "\"");
  const bool given_cfg = fs::path(given).extension() == ".cfg" || fs::path(given).extension() == ".CFG";
  const LocatedMetadata located =
      LocateSidecar(given, plan.options.metadata_path, "Darknet models need", ", or pass the sidecar itself as the model");
  const std::string& source = located.source;
  ModelMetadata metadata = ParseMetadata(located.text, source);
  // The pair: from the sidecar's files (already resolved when it was the
  // model path), else the file of the same stem beside the given one.
  std::string weights = given, cfg = plan.config_path;
  if (given_cfg) {
    cfg = given;
    weights = metadata.files && !metadata.files->model.empty() && fs::path(metadata.files->model).extension() == ".weights"
                  ? ResolveBeside(source, metadata.files->model)
                  : (fs::path(given).parent_path() / (fs::path(given).stem().string() + ".weights")).string();
  } else if (cfg.empty()) {
    cfg = metadata.files && !metadata.files->config.empty()
              ? ResolveBeside(source, metadata.files->config)
              : (fs::path(given).parent_path() / (fs::path(given).stem().string() + ".cfg")).string();
  }
  for (const std::string* f : {&weights, &cfg})
    if (!fs::is_regular_file(*f))
      throw Error(ErrorCode::kFile, given + ": the Darknet " + (f == &cfg ? "config " : "weights ") + *f +
                                        " does not exist (name it in the sidecar's 'files')");
  plan.options.path = weights;
  std::error_code ec;
  plan.file_size = fs::file_size(weights, ec);
  std::map<std::string, std::string> assets = ReadAssets(weights, metadata, located);
  cv::dnn::Net net;
  try {
    cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_ERROR);
    const std::string cfg_text = DarknetConfigWithoutThreshold(ReadFileText(cfg));
    const std::string weights_bytes = ReadFileText(weights);
    net = cv::dnn::readNetFromDarknet(cfg_text.data(), cfg_text.size(), weights_bytes.data(), weights_bytes.size());
    if (net.empty()) throw Error(ErrorCode::kModelFormat, weights + ": OpenCV DNN read an empty network");
    net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
  } catch (...) {
    throw CurrentExceptionAsError(ErrorCode::kModelFormat, weights + " with " + cfg + ": not a loadable Darknet model");
  }
  CheckDeclaredOutputs(net, metadata, source);
  auto model = std::make_unique<OnnxModel>(plan, std::move(metadata), source, std::move(assets), std::move(net),
                                           DnnFormat::kDarknet);
  if (plan.options.verify) VerifyDnnModel(*model, weights);
  return model;
}

}  // namespace sense::internal
