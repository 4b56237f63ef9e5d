// The TorchScript backend: LibTorch behind sense::Model. All torch headers
// of sense are included here and in system_info.cc only.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/script.h>

#include <dlfcn.h>
#include <glob.h>
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <sstream>

#include "backends.h"
#include "fast_lstm.h"
#include "sense/inference/outcome.h"
#include "torch_module.h"
#include "torch_util.h"

namespace fs = std::filesystem;

namespace sense {

bool internal::TorchCudaAvailable() {
  try {
    return at::globalContext().hasCUDA() && torch::cuda::is_available();
  } catch (...) {
    return false;
  }
}

int internal::TorchCudaDeviceCount() {
  if (!at::globalContext().hasCUDA()) return -1;
  try {
    return static_cast<int>(torch::cuda::device_count());
  } catch (...) {
    return 0;
  }
}

namespace internal {

at::ScalarType ToTorchType(DType d) {
  switch (d) {
    case DType::kFloat32: return at::kFloat;
    case DType::kFloat64: return at::kDouble;
    case DType::kInt64: return at::kLong;
    case DType::kInt32: return at::kInt;
    case DType::kUInt8: return at::kByte;
    case DType::kBool: return at::kBool;
  }
  return at::kFloat;
}

DType FromTorchType(at::ScalarType t, const std::string& what) {
  switch (t) {
    case at::kFloat: return DType::kFloat32;
    case at::kDouble: return DType::kFloat64;
    case at::kLong: return DType::kInt64;
    case at::kInt: return DType::kInt32;
    case at::kByte: return DType::kUInt8;
    case at::kBool: return DType::kBool;
    case at::kHalf:
    case at::kBFloat16: return DType::kFloat32;  // converted on the way out
    default:
      throw Error(ErrorCode::kUnsupported, what + ": tensor type " + std::string(c10::toString(t)) + " is not supported");
  }
}

at::Tensor ToTorch(const Tensor& t) {
  if (t.empty()) throw Error(ErrorCode::kInput, "empty tensor passed to a model");
  return torch::from_blob(const_cast<void*>(t.raw_data()), t.shape(), torch::TensorOptions().dtype(ToTorchType(t.dtype())));
}

Tensor FromTorch(const at::Tensor& in, const std::string& what) {
  at::Tensor t = in.detach();
  if (t.scalar_type() == at::kHalf || t.scalar_type() == at::kBFloat16) t = t.to(at::kFloat);
  t = t.to(at::kCPU).contiguous();
  Tensor out = Tensor::Empty(FromTorchType(t.scalar_type(), what), t.sizes().vec());
  if (out.nbytes()) std::memcpy(out.raw_data(), t.data_ptr(), out.nbytes());
  return out;
}

// Flattens an IValue of tensors / tuples / lists / dicts into (name, tensor)
// pairs; names are dict keys or positions joined with '.'.
void Flatten(const c10::IValue& v, const std::string& prefix, std::vector<std::pair<std::string, at::Tensor>>* out) {
  auto join = [&](const std::string& k) { return prefix.empty() ? k : prefix + "." + k; };
  if (v.isTensor()) {
    out->emplace_back(prefix, v.toTensor());
  } else if (v.isTuple()) {
    const auto& elems = v.toTupleRef().elements();
    for (size_t i = 0; i < elems.size(); ++i) Flatten(elems[i], join(std::to_string(i)), out);
  } else if (v.isTensorList()) {
    auto list = v.toTensorList();
    for (size_t i = 0; i < list.size(); ++i) out->emplace_back(join(std::to_string(i)), list.get(i));
  } else if (v.isList()) {
    auto list = v.toList();
    for (size_t i = 0; i < list.size(); ++i) Flatten(list.get(i), join(std::to_string(i)), out);
  } else if (v.isGenericDict()) {
    for (const auto& kv : v.toGenericDict()) {
      const c10::IValue& key = kv.key();
      std::string k = key.isString() ? key.toStringRef() : key.isInt() ? std::to_string(key.toInt()) : "?";
      Flatten(kv.value(), join(k), out);
    }
  } else if (v.isNone()) {
    // skip
  } else {
    throw Error(ErrorCode::kUnsupported, "model output of type " + v.tagKind() +
                                             " is not supported; expected tensors, tuples, lists or dicts of tensors");
  }
}

// torchvision's detectors return one dict of tensors per image: a
// List[Dict[str, Tensor]] (scripted, as (losses, detections) with an empty
// losses dict in eval mode). Such an output becomes, per key, one tensor
// [images, K, ...] (K = the most rows any image has; shorter images padded
// with zeros) plus "num_detections" [images] (int64: each image's rows), so
// "boxes", "labels", "scores" (and "keypoints", "masks" ...) are batch-first
// tensors like any other output (layout "torchvision", docs/model-format.md).
// Returns false, leaving *out alone, for any other output.
bool FlattenDetectionList(const c10::IValue& v, std::vector<std::pair<std::string, at::Tensor>>* out) {
  const c10::IValue* list = &v;
  if (v.isTuple()) {
    const auto& e = v.toTupleRef().elements();
    if (e.size() != 2 || !e[0].isGenericDict() || !e[1].isList()) return false;
    list = &e[1];
  }
  if (!list->isList()) return false;
  const c10::List<c10::IValue> images = list->toList();
  if (images.size() == 0) return false;
  std::vector<c10::Dict<c10::IValue, c10::IValue>> dicts;
  for (size_t i = 0; i < images.size(); ++i) {
    const c10::IValue item = images.get(i);
    if (!item.isGenericDict()) return false;
    dicts.push_back(item.toGenericDict());
    for (const auto& kv : dicts.back())
      if (!kv.key().isString() || !kv.value().isTensor() || kv.value().toTensor().dim() < 1) return false;
  }
  const int64_t n = static_cast<int64_t>(dicts.size());
  std::vector<std::string> keys;
  for (const auto& kv : dicts[0]) keys.push_back(kv.key().toStringRef());
  at::Tensor counts = torch::zeros({n}, torch::kLong);
  for (const std::string& key : keys) {
    int64_t most = 0;
    std::vector<at::Tensor> parts;
    for (int64_t i = 0; i < n; ++i) {
      auto it = dicts[static_cast<size_t>(i)].find(key);
      if (it == dicts[static_cast<size_t>(i)].end())
        throw Error(ErrorCode::kUnsupported, "detection output: image " + std::to_string(i) + " has no '" + key + "'");
      parts.push_back(it->value().toTensor().detach().to(at::kCPU));
      most = std::max(most, parts.back().size(0));
      counts[i] = parts.back().size(0);
    }
    std::vector<int64_t> shape = parts[0].sizes().vec();
    shape.insert(shape.begin(), n);
    shape[1] = most;
    at::Tensor stacked = torch::zeros(shape, parts[0].options());
    for (int64_t i = 0; i < n; ++i) {
      const at::Tensor& p = parts[static_cast<size_t>(i)];
      if (p.dim() != parts[0].dim() || !p.sizes().slice(1).equals(parts[0].sizes().slice(1)))
        throw Error(ErrorCode::kUnsupported, "detection output '" + key + "': image " + std::to_string(i) + " has shape " +
                                                 c10::str(p.sizes()) + ", image 0 " + c10::str(parts[0].sizes()));
      if (p.size(0) > 0) stacked[i].narrow(0, 0, p.size(0)).copy_(p);
    }
    out->emplace_back(key, stacked);
  }
  out->emplace_back("num_detections", counts);
  return true;
}

// Every model output as (name, tensor): torchvision's per-image detection
// dicts as above, anything else by Flatten.
bool FlattenOutputs(const c10::IValue& v, std::vector<std::pair<std::string, at::Tensor>>* out) {
  if (FlattenDetectionList(v, out)) return true;
  Flatten(v, "", out);
  return false;
}

// torchvision's detectors take List[Tensor] (one [C, H, W] image each)
// instead of a batch: such a forward() gets the batch's rows as a list.
bool TakesImageList(const torch::jit::Module& module) {
  auto m = module.find_method("forward");
  if (!m) return false;
  const auto& args = m->function().getSchema().arguments();
  return args.size() >= 2 && args[1].type()->kind() == c10::TypeKind::ListType;
}

c10::IValue AsImageList(const at::Tensor& batch) {
  c10::List<at::Tensor> list;
  for (int64_t i = 0; i < batch.size(0); ++i) list.push_back(batch[i]);
  return list;
}

// torchvision's operator library (the torchvision::nms, roi_align ...
// that scripted torchvision detectors call), loaded into the process once:
// $SENSE_TORCHVISION_OPS, else the _C library of a system torchvision for
// Python 3 (Debian: python3-torchvision; it depends on LibTorch only, not on
// Python). Returns the path loaded, or "error: <why>".
std::string LoadTorchvisionOps() {
  static std::mutex mu;
  static std::string loaded;
  std::lock_guard<std::mutex> lock(mu);
  if (!loaded.empty()) return loaded;
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("SENSE_TORCHVISION_OPS"); env && *env) {
    candidates.push_back(env);
  } else {
    for (const char* pattern : {"/usr/lib/python3/dist-packages/torchvision/_C*.so",
                                "/usr/local/lib/python3*/dist-packages/torchvision/_C*.so",
                                "/usr/lib/python3*/site-packages/torchvision/_C*.so"}) {
      glob_t g;
      if (glob(pattern, 0, nullptr, &g) == 0)
        for (size_t i = 0; i < g.gl_pathc; ++i) candidates.emplace_back(g.gl_pathv[i]);
      globfree(&g);
    }
  }
  std::string why = candidates.empty() ? "no torchvision found (install python3-torchvision, or set "
                                         "SENSE_TORCHVISION_OPS to torchvision's _C library)"
                                       : "";
  for (const auto& c : candidates) {
    if (dlopen(c.c_str(), RTLD_NOW | RTLD_GLOBAL)) return loaded = c;
    const char* err = dlerror();
    why += (why.empty() ? "" : "; ") + c + ": " + (err ? err : "dlopen failed");
  }
  return "error: " + why;
}

// The caller's count is read before LibTorch's lazy per-thread init: on a
// thread's first LibTorch use that init sets the thread's count to LibTorch's
// process default, which would otherwise overwrite the count set here (at the
// first parallel op) and be what the caller gets back.
ThreadScope::ThreadScope(int threads) : previous_(omp_get_max_threads()), threads_(threads) {
  at::internal::lazy_init_num_threads();
  omp_set_num_threads(threads_ > 0 ? threads_ : previous_);
}
ThreadScope::ThreadScope(ThreadBudget& budget) : ThreadScope(budget.Acquire()) { budget_ = &budget; }
ThreadScope::~ThreadScope() {
  omp_set_num_threads(previous_);
  if (budget_) budget_->Release(threads_);
}

namespace {

class TorchScriptModel final : public BackendModel {
 public:
  TorchScriptModel(const LoadPlan& plan, ModelMetadata metadata, std::string metadata_source,
                   std::map<std::string, std::string> assets, torch::jit::Module module)
      : BackendModel(plan, std::move(metadata), std::move(metadata_source), std::move(assets)),
        module_(std::move(module)),
        budget_(plan.num_threads) {
    torch_device_ = device_.type == Device::Type::kCPU ? torch::Device(torch::kCPU)
                                                       : torch::Device(torch::kCUDA, static_cast<int8_t>(std::max(0, device_.index)));
    image_list_ = TakesImageList(module_);
  }

  std::string backend() const override { return "torchscript"; }

  NamedTensors Run(const NamedTensors& inputs) const override {
    return Translated("running 'forward'", [&] {
      std::vector<c10::IValue> args;
      if (metadata_.inputs.size() == 1 && inputs.size() == 1) {
        CheckInput(metadata_.inputs[0], inputs[0].second);
        args.push_back(image_list_ ? AsImageList(ToDevice(inputs[0].second)) : c10::IValue(ToDevice(inputs[0].second)));
      } else {
        for (const auto& spec : metadata_.inputs) {
          const Tensor& t = inputs.at(spec.name);
          CheckInput(spec, t);
          args.push_back(ToDevice(t));
        }
      }
      return Call("forward", std::move(args), /*use_metadata_names=*/true);
    });
  }

  bool HasMethod(const std::string& method) const override {
    return Translated("looking up method '" + method + "'", [&] { return module_.find_method(method).has_value(); });
  }

  NamedTensors RunMethod(const std::string& method, const NamedTensors& inputs) const override {
    return Translated("running '" + method + "'", [&] { return Call(method, MethodArgs(method, inputs, "", nullptr), false); });
  }

  bool SupportsGradients() const override { return true; }

  GradientResult RunMethodWithGradient(const std::string& method, const NamedTensors& inputs, const std::string& wrt,
                                       int output_index, const std::vector<int64_t>& targets) const override {
    ThreadScope threads(budget_);
    torch::jit::GraphOptimizerEnabledGuard executor(executor_optimize_);
    try {
      c10::InferenceMode off(false);
      torch::AutoGradMode grad(true);
      at::Tensor leaf;
      auto args = MethodArgs(method, inputs, wrt, &leaf);
      c10::IValue out = module_.get_method(method)(std::move(args));
      std::vector<std::pair<std::string, at::Tensor>> flat;
      Flatten(out, "", &flat);
      if (output_index < 0 || output_index >= static_cast<int>(flat.size()))
        throw Error(ErrorCode::kInput, "output index " + std::to_string(output_index) + " out of range: method '" + method +
                                           "' returned " + std::to_string(flat.size()) + " tensors");
      at::Tensor y = flat[static_cast<size_t>(output_index)].second;
      if (y.dim() < 2 || y.size(0) != static_cast<int64_t>(targets.size()))
        throw Error(ErrorCode::kInput, "gradient targets: expected one target per batch row of output " +
                                           std::string(c10::str(y.sizes())) + ", found " + std::to_string(targets.size()));
      at::Tensor idx = torch::tensor(targets, torch::kLong).to(y.device()).view({-1, 1});
      for (int64_t v : targets)
        if (v < 0 || v >= y.size(-1))
          throw Error(ErrorCode::kInput, "gradient target " + std::to_string(v) + " out of range [0, " + std::to_string(y.size(-1)) + ")");
      at::Tensor y2 = y.reshape({y.size(0), -1, y.size(-1)});  // [B, *, C]
      at::Tensor picked = y2.gather(2, idx.view({-1, 1, 1}).expand({y2.size(0), y2.size(1), 1}));
      at::Tensor grad_in = torch::autograd::grad({picked.sum()}, {leaf})[0];
      GradientResult result;
      for (size_t i = 0; i < flat.size(); ++i)
        result.outputs.Set(flat[i].first.empty() ? "output" : flat[i].first, FromTorch(flat[i].second, path_));
      result.gradient = FromTorch(grad_in, path_);
      return result;
    } catch (...) {
      throw CurrentExceptionAsError(ErrorCode::kBackend, path_ + ": running '" + method + "' with gradients");
    }
  }

 private:
  // Runs f() and lets only sense::Error out: a sense::Error passes
  // unchanged; anything else a backend call throws (c10::Error, the
  // TorchScript interpreter's std::runtime_error for a scripted raise,
  // std::bad_alloc ...) becomes Error(kBackend, or kResource for memory and
  // threads) "<file>: <what>: <what failed>".
  template <typename F>
  auto Translated(const std::string& what, F&& f) const -> decltype(f()) {
    try {
      return f();
    } catch (...) {
      throw CurrentExceptionAsError(ErrorCode::kBackend, path_ + ": " + what);
    }
  }

  at::Tensor ToDevice(const Tensor& t) const {
    at::Tensor x = ToTorch(t);
    return torch_device_.is_cpu() ? x : x.to(torch_device_);
  }

  void CheckInput(const TensorSpec& spec, const Tensor& t) const {
    bool ok = t.dtype() == spec.dtype && (spec.shape.empty() || static_cast<size_t>(t.dim()) == spec.shape.size());
    for (size_t i = 0; ok && i < spec.shape.size(); ++i) ok = spec.shape[i] < 0 || spec.shape[i] == t.shape()[i];
    if (!ok) {
      std::ostringstream want;
      want << DTypeName(spec.dtype) << "[";
      for (size_t i = 0; i < spec.shape.size(); ++i) want << (i ? ", " : "") << (spec.shape[i] < 0 ? std::string("?") : std::to_string(spec.shape[i]));
      want << "]";
      throw Error(ErrorCode::kInput, path_ + ": input '" + spec.name + "': expected " + want.str() + ", found " + t.Describe());
    }
  }

  std::vector<c10::IValue> MethodArgs(const std::string& method, const NamedTensors& inputs, const std::string& wrt,
                                      at::Tensor* leaf) const {
    auto m = module_.find_method(method);
    if (!m) throw Error(ErrorCode::kUnsupported, path_ + ": model has no method '" + method + "'");
    const auto& schema = m->function().getSchema();
    std::vector<std::string> names;
    for (size_t i = 1; i < schema.arguments().size(); ++i) names.push_back(schema.arguments()[i].name());
    bool by_name = true;
    for (const auto& n : names) by_name = by_name && inputs.Contains(n);
    if (!by_name && inputs.size() != names.size())
      throw Error(ErrorCode::kInput, path_ + ": method '" + method + "' takes " + std::to_string(names.size()) +
                                         " arguments, given " + std::to_string(inputs.size()));
    std::vector<c10::IValue> args;
    for (size_t i = 0; i < names.size(); ++i) {
      const auto& item = by_name ? std::pair<std::string, Tensor>(names[i], inputs.at(names[i])) : inputs[i];
      at::Tensor x = ToDevice(item.second);
      if (leaf && (item.first == wrt || names[i] == wrt || (wrt.empty() && i == 0))) {
        x = x.detach().clone().set_requires_grad(true);
        *leaf = x;
      }
      args.emplace_back(x);
    }
    if (leaf && !leaf->defined())
      throw Error(ErrorCode::kInput, path_ + ": method '" + method + "' has no argument '" + wrt + "' to differentiate by");
    return args;
  }

  NamedTensors Call(const std::string& method, std::vector<c10::IValue> args, bool use_metadata_names) const {
    ThreadScope threads(budget_);
    torch::jit::GraphOptimizerEnabledGuard executor(executor_optimize_);
    std::vector<std::pair<std::string, at::Tensor>> flat;
    try {
      c10::InferenceMode guard;
      FastLstmScope lstm(fast_lstm_);
      c10::IValue out = method != "forward" ? module_.get_method(method)(std::move(args))
                        : fast_ ? fast_->forward(std::move(args)) : module_.forward(std::move(args));
      const bool per_image_dicts = FlattenOutputs(out, &flat);
      NamedTensors result;
      const bool positional = !out.isGenericDict() && !per_image_dicts;
      for (size_t i = 0; i < flat.size(); ++i) {
        std::string name = flat[i].first.empty() ? "output" : flat[i].first;
        if (use_metadata_names && positional && flat.size() == metadata_.outputs.size()) name = metadata_.outputs[i].name;
        result.Set(name, FromTorch(flat[i].second, path_));
      }
      return result;
    } catch (...) {
      throw CurrentExceptionAsError(ErrorCode::kBackend, path_ + ": running '" + method + "'");
    }
  }

  mutable torch::jit::Module module_;  // forward/get_method are not const-qualified; calls are re-entrant
  // forward() on CPU: module_ frozen + optimize_for_inference, kept only when
  // it answers as module_ does. module_ stays for exported methods and gradients.
  mutable std::optional<torch::jit::Module> fast_;
  // Recurrent models: module_'s LSTMs were rewritten to sense's ops and checked;
  // Call() turns the kernel on (fast_lstm.h).
  bool fast_lstm_ = false;
  // LibTorch's graph-executor optimisation (profiling, then a recompiled graph
  // on the second call). Off for recurrent models: on the default sentiment model
  // it costs about 60 ms over the first two calls, which dominates a one-shot
  // `sense-sentiment "text"`, and bought no steady-state speed.
  bool executor_optimize_ = true;
  // forward() takes List[Tensor] (torchvision's detectors): Run passes the batch's rows as a list.
  bool image_list_ = false;
  torch::Device torch_device_{torch::kCPU};
  mutable ThreadBudget budget_;  // num_threads_, shared by the calls in flight (model.h)

 public:
  // True when a method's graph calls aten::lstm (before TryFastRecurrence
  // rewrites those calls).
  bool HasRecurrence() const;
  // Tries the frozen + optimize_for_inference graph for forward(); records
  // the outcome in optimization_. `sample` (ModelOptions::sample_inputs)
  // supplies the comparison's inputs; without it, random floats and zero
  // integers.
  void TryOptimize(const SampleInputs& sample);
  // Text models: module_'s LSTMs run sense's kernel (fast_lstm.h) in Call(),
  // if it answers as LibTorch's LSTM does on dense and packed inputs.
  // `sample` (ModelOptions::sample_inputs) supplies the check's inputs.
  void TryFastRecurrence(const SampleInputs& sample);
  void set_executor_optimize(bool on) { executor_optimize_ = on; }
};

// Random input shaped as `spec` (dynamic dims: the batch, then 8) from a
// private generator, so loading leaves the process's random state alone.
at::Tensor RandomLike(const TensorSpec& spec, int64_t batch, at::Generator& gen) {
  std::vector<int64_t> shape = spec.shape;
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] < 0) shape[i] = i == 0 ? batch : 8;
  if (spec.dtype == DType::kFloat32) return at::randn(shape, gen);
  return torch::zeros(shape, torch::TensorOptions().dtype(ToTorchType(spec.dtype)));
}

// Compares an optimised graph's outputs with the original's: returns "" and
// raises *worst to the largest relative difference, or says what differs in
// structure ("returns other outputs", "changes output shapes").
using FlatOutputs = std::vector<std::pair<std::string, at::Tensor>>;
std::string CompareOutputs(const FlatOutputs& ref, const FlatOutputs& got, double* worst) {
  if (ref.size() != got.size()) return "returns other outputs";
  for (size_t i = 0; i < ref.size(); ++i) {
    if (!ref[i].second.sizes().equals(got[i].second.sizes())) return "changes output shapes";
    const at::Tensor r = ref[i].second.to(at::kDouble), g = got[i].second.to(at::kDouble);
    const double scale = r.abs().max().item<double>(), diff = (r - g).abs().max().item<double>();
    *worst = std::max(*worst, scale > 0 ? diff / scale : diff);
  }
  return "";
}

namespace {
bool CallsLstm(const torch::jit::Block& block) {
  for (const torch::jit::Node* node : block.nodes()) {
    if (node->kind() == c10::Symbol::fromQualString("aten::lstm")) return true;
    for (const torch::jit::Block* sub : node->blocks())
      if (CallsLstm(*sub)) return true;
  }
  return false;
}
}  // namespace

bool TorchScriptModel::HasRecurrence() const {
  for (const torch::jit::Module& m : module_.modules())
    for (const torch::jit::Method& method : m.get_methods())
      if (CallsLstm(*method.graph()->block())) return true;
  return false;
}

void TorchScriptModel::TryOptimize(const SampleInputs& sample) {
  if (image_list_) {
    // torchvision's detectors: data-dependent control flow around their own
    // ops; their frozen graph resizes preallocated outputs on every call, and
    // LibTorch prints a warning each time.
    optimization_ = "none: forward takes a list of images (a torchvision detector); run as scripted";
    return;
  }
  ThreadScope threads(num_threads_);
  try {
    torch::jit::Module frozen = torch::jit::freeze(module_);
    torch::jit::Module opt = torch::jit::optimize_for_inference(frozen);
    // Same answers? Batches of 1 and 2 and 1 again (in torch 1.13
    // optimize_for_inference changes mobilenet_v3_small's answers), from a
    // fixed seed so that a load is reproducible.
    at::Generator gen = at::detail::createCPUGenerator(1234);
    double worst = 0;
    for (int64_t b : {1, 2, 1}) {
      std::vector<c10::IValue> args;
      if (sample) {  // the task's inputs: rows of 8 and 5 positions
        const NamedTensors inputs = sample(metadata_, b == 1 ? std::vector<int64_t>{8} : std::vector<int64_t>{8, 5});
        for (const auto& spec : metadata_.inputs) args.emplace_back(ToTorch(inputs.at(spec.name)).clone());
      } else {
        for (const auto& spec : metadata_.inputs) args.emplace_back(RandomLike(spec, b, gen));
      }
      if (image_list_ && args.size() == 1) args[0] = AsImageList(args[0].toTensor());
      c10::InferenceMode guard;
      FlatOutputs ref, got;
      FlattenOutputs(module_.forward(args), &ref);
      FlattenOutputs(opt.forward(args), &got);
      const std::string differs = CompareOutputs(ref, got, &worst);
      if (!differs.empty()) { optimization_ = "none: the optimised graph " + differs; return; }
    }
    std::ostringstream what;
    what << "relative difference " << worst << " on random inputs";
    if (worst > 1e-4) { optimization_ = "none: the optimised graph answers differently (" + what.str() + ")"; return; }
    fast_ = std::move(opt);
    optimization_ = "freeze + optimize_for_inference (" + what.str() + ")";
  } catch (...) {
    optimization_ = std::string("none: optimisation failed: ") + CurrentExceptionAsError(ErrorCode::kBackend, "").what();
  }
}

void TorchScriptModel::TryFastRecurrence(const SampleInputs& sample) {
  ThreadScope threads(num_threads_);
  // as Call() runs the model: with the executor's profile-and-recompile off
  // for text models, which would otherwise cost ~60 ms here
  torch::jit::GraphOptimizerEnabledGuard executor(executor_optimize_);
  try {
    // In place: the sense ops run aten::lstm unless a FastLstmScope is on,
    // so until the check below passes (and in every call outside Call(),
    // gradients included) the module computes exactly what it did.
    int replaced = 0;
    for (const torch::jit::Module& m : module_.modules())
      for (const torch::jit::Method& method : m.get_methods()) replaced += ReplaceLstmNodes(*method.graph());
    if (replaced == 0) return;  // nothing recurrent: optimization_ stays "none"
    // Check inputs: rows of 9, then 9, 4 and 1 tokens, so that both the dense
    // and the packed-sequence paths of a recurrent model run. They come from
    // the task that knows what the inputs mean (ModelOptions::sample_inputs);
    // without it only float inputs can be made up (random values).
    const bool all_float = std::all_of(metadata_.inputs.begin(), metadata_.inputs.end(), [](const TensorSpec& s) {
      return s.dtype == DType::kFloat32 || s.dtype == DType::kFloat64;
    });
    if (!sample && !all_float) {
      optimization_ = "none: no sample inputs to check sense's LSTM kernel on (a model with integer inputs is "
                      "checked when a text task loads it, e.g. TextClassifier)";
      return;
    }
    at::Generator gen = at::detail::createCPUGenerator(1234);
    double worst = 0;
    for (const std::vector<int64_t>& lengths : std::vector<std::vector<int64_t>>{{9}, {9, 4, 1}}) {
      c10::InferenceMode guard;
      std::vector<c10::IValue> args;
      if (sample) {
        const NamedTensors inputs = sample(metadata_, lengths);
        for (const auto& spec : metadata_.inputs) args.emplace_back(ToTorch(inputs.at(spec.name)).clone());
      } else {
        for (const auto& spec : metadata_.inputs)
          args.emplace_back(RandomLike(spec, static_cast<int64_t>(lengths.size()), gen).to(ToTorchType(spec.dtype)));
      }
      FlatOutputs ref, got;
      Flatten(module_.forward(args), "", &ref);  // LibTorch's LSTM
      {
        FastLstmScope fast(true);
        Flatten(module_.forward(args), "", &got);
      }
      const std::string differs = CompareOutputs(ref, got, &worst);
      if (!differs.empty()) { optimization_ = "none: the LSTM rewrite " + differs; return; }
    }
    std::ostringstream what;
    what << replaced << (replaced == 1 ? " LSTM" : " LSTMs") << ", relative difference " << worst
         << (sample ? " on sample inputs" : " on random inputs");
    if (worst > 1e-4) { optimization_ = "none: sense's LSTM kernel answers differently (" + what.str() + ")"; return; }
    fast_lstm_ = true;
    optimization_ = "sense LSTM kernel (" + what.str() + ")";
  } catch (...) {
    optimization_ = std::string("none: the LSTM check failed: ") + CurrentExceptionAsError(ErrorCode::kBackend, "").what();
  }
}

}  // namespace

std::unique_ptr<Model> LoadTorchScriptWithLibTorch(const LoadPlan& plan) {
  const std::string& path = plan.options.path;
  BundleFiles bundle = ReadBundleFiles(path, plan.options.metadata_path);

  torch::jit::Module module;
  try {
    const torch::Device dev = plan.device.type == Device::Type::kCPU
                                  ? torch::Device(torch::kCPU)
                                  : torch::Device(torch::kCUDA, static_cast<int8_t>(std::max(0, plan.device.index)));
    try {
      module = torch::jit::load(path, dev);
    } catch (const std::exception& e) {
      // Scripted torchvision detectors call torchvision's own ops (nms,
      // roi_align): load their library once and try again.
      if (std::string(e.what()).find("torchvision::") == std::string::npos) throw;
      const std::string ops = LoadTorchvisionOps();
      if (ops.rfind("error: ", 0) == 0)
        throw Error(ErrorCode::kModelFormat, path + ": the model calls torchvision's operators (" +
                                                 std::string(std::strstr(e.what(), "torchvision::") ? "torchvision::..." : "") +
                                                 ") and their library could not be loaded: " + ops.substr(7));
      module = torch::jit::load(path, dev);
    }
    module.eval();
    // weights stored in half precision to keep the file small: compute in float32
    if (bundle.metadata.weights_dtype == "float16") module.to(torch::kFloat32);
  } catch (...) {  // c10::Error, the importer's plain runtime_errors; bad_alloc is kResource
    throw CurrentExceptionAsError(ErrorCode::kModelFormat, path + ": not a loadable TorchScript module");
  }
  auto model = std::make_unique<TorchScriptModel>(plan, std::move(bundle.metadata), std::move(bundle.metadata_source),
                                                  std::move(bundle.assets), std::move(module));
  // The optimisation follows the graph, not the task (this layer knows no
  // task's meaning). A graph that calls aten::lstm runs sense's LSTM kernel,
  // with LibTorch's profile-and-recompile off (it cost ~60 ms over the first
  // two calls of the recurrent sentiment model and bought no steady-state
  // speed); any other graph is frozen + optimize_for_inference. Either is
  // kept only if it answers as the stored graph does on the task's sample
  // inputs (else random ones).
  const bool optimize = plan.options.optimize && plan.device.type == Device::Type::kCPU;
  if (model->HasRecurrence()) {
    model->set_executor_optimize(false);
    if (optimize) model->TryFastRecurrence(plan.options.sample_inputs);
  } else if (optimize) {
    model->TryOptimize(plan.options.sample_inputs);
  }
  VerifyLoadedModel(*model, plan);
  return model;
}

}  // namespace internal
}  // namespace sense
