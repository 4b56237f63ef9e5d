// Model::Load: file checks, metadata discovery, device and thread policy,
// then the backend; plus what every backend shares.
#include "sense/inference/model.h"

#include <sched.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <thread>

#include "backends.h"
#include "sense/inference/outcome.h"

namespace fs = std::filesystem;

namespace sense {

Device Device::Parse(const std::string& text) {
  Device d;
  if (text == "cpu") return d;
  if (text == "cuda" || text.rfind("cuda:", 0) == 0) {
    d.type = Type::kCUDA;
    if (text.size() > 5) {
      const std::string idx = text.substr(5);
      if (idx.empty() || !std::all_of(idx.begin(), idx.end(), ::isdigit) || idx.size() > 3)
        throw Error(ErrorCode::kDevice, "device \"" + text + "\": expected cuda:N with N a device number");
      d.index = std::stoi(idx);
    }
    return d;
  }
  throw Error(ErrorCode::kDevice, "unknown device \"" + text + "\"; expected \"cpu\", \"cuda\" or \"cuda:N\"");
}

std::string Device::ToString() const {
  if (type == Type::kCPU) return "cpu";
  return index < 0 ? "cuda" : "cuda:" + std::to_string(index);
}

int AvailableCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return 1;
}

namespace {

// Cores of `cores` that other processes are not running on now: /proc/stat's
// procs_running (runnable tasks, this thread included) minus one, the least
// of three readings 2 ms apart so a passing spike does not count. A busy core
// given to an OpenMP pool makes every parallel region wait for a thread the
// scheduler has parked elsewhere: with libgomp's default spinning, 2 threads
// on a 2-core machine with one other busy process ran the COCO detector 7x
// slower than 1 thread. Unreadable /proc: all of them.
int IdleCores(int cores) {
  int busy = -1;
  for (int i = 0; i < 3; ++i) {
    if (i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    std::ifstream stat("/proc/stat");
    std::string key;
    long long value = -1;
    while (stat >> key) {
      if (key == "procs_running") {
        stat >> value;
        break;
      }
      stat.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
    }
    if (value < 1) return cores;
    const int others = static_cast<int>(std::min<long long>(value - 1, cores));
    busy = busy < 0 ? others : std::min(busy, others);
  }
  return std::max(1, cores - std::max(0, busy));
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  if (s.size() < suffix.size()) return false;
  std::string tail = s.substr(s.size() - suffix.size());
  std::transform(tail.begin(), tail.end(), tail.begin(), ::tolower);
  return tail == suffix;
}

// kFile errors for paths that cannot be a model file.
std::uintmax_t CheckModelFile(const std::string& path) {
  if (path.empty()) throw Error(ErrorCode::kOption, "no model path given");
  std::error_code ec;
  const auto st = fs::status(path, ec);
  if (ec || !fs::exists(st)) throw Error(ErrorCode::kFile, path + ": no such file");
  if (fs::is_directory(st)) throw Error(ErrorCode::kFile, path + ": is a directory; expected a model file (.pt or .onnx)");
  if (!fs::is_regular_file(st)) throw Error(ErrorCode::kFile, path + ": not a regular file");
  const auto size = fs::file_size(path, ec);
  if (ec) throw Error(ErrorCode::kFile, path + ": cannot read its size: " + ec.message());
  if (size == 0) throw Error(ErrorCode::kFile, path + ": is empty (0 bytes); expected a TorchScript or ONNX model");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(ErrorCode::kFile, path + ": cannot be opened for reading");
  return size;
}

bool LooksLikeZip(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char magic[4] = {0, 0, 0, 0};
  f.read(magic, 4);
  return f.gcount() == 4 && magic[0] == 'P' && magic[1] == 'K' && magic[2] == 3 && magic[3] == 4;
}

std::string HexPrefix(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  unsigned char b[8] = {0};
  f.read(reinterpret_cast<char*>(b), 8);
  std::ostringstream s;
  for (int i = 0; i < f.gcount(); ++i) s << (i ? " " : "") << std::hex << static_cast<int>(b[i]);
  return s.str();
}

}  // namespace

namespace internal {

std::string ReadFileText(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(ErrorCode::kFile, path + ": cannot be opened for reading");
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string FindSidecar(const std::string& path) {
  std::error_code ec;  // an unreadable folder is "no sidecar", not a filesystem_error
  const std::string a = path + ".json";
  if (fs::is_regular_file(a, ec)) return a;
  fs::path p(path);
  const std::string b = (p.parent_path() / (p.stem().string() + ".json")).string();
  if (fs::is_regular_file(b, ec)) return b;
  return "";
}

LocatedMetadata LocateSidecar(const std::string& path, const std::string& metadata_path, const std::string& needs,
                              const std::string& hint) {
  LocatedMetadata located;
  located.source = metadata_path.empty() ? FindSidecar(path) : metadata_path;
  if (located.source.empty())
    throw Error(ErrorCode::kMetadata, path + ": " + needs + " a sidecar sense.json: expected " + path + ".json or " +
                                          (fs::path(path).parent_path() / (fs::path(path).stem().string() + ".json")).string() +
                                          hint);
  located.text = ReadFileText(located.source);
  return located;
}

LocatedMetadata LocateMetadata(const std::string& path, const std::string& metadata_path) {
  LocatedMetadata l;
  if (metadata_path.empty() && EndsWith(path, ".json")) {  // a sidecar given as the model: it is its own metadata
    l.source = path;
    l.text = ReadFileText(path);
    return l;
  }
  if (!metadata_path.empty()) {
    l.source = metadata_path;
    l.text = ReadFileText(metadata_path);
    return l;
  }
  if (LooksLikeZip(path)) {
    l.extra = ReadTorchScriptExtraFiles(path);
    auto it = l.extra.find("sense.json");
    if (it != l.extra.end()) {
      l.source = "embedded";
      l.text = it->second;
      return l;
    }
  }
  l.source = FindSidecar(path);
  if (!l.source.empty()) l.text = ReadFileText(l.source);
  return l;
}

std::map<std::string, std::string> ReadAssets(const std::string& path, const ModelMetadata& metadata,
                                              const LocatedMetadata& located) {
  std::map<std::string, std::string> assets;
  for (const std::string& name : metadata.assets) {
    if (located.source == "embedded") {
      auto it = located.extra.find(name);
      if (it == located.extra.end())
        throw Error(ErrorCode::kMetadata, path + ": sense.json lists asset '" + name + "' but the archive has no extra file of that name");
      assets[name] = it->second;
    } else {
      const std::string file = (fs::path(located.source).parent_path() / name).string();
      if (!fs::is_regular_file(file))
        throw Error(ErrorCode::kMetadata, located.source + ": lists asset '" + name + "' but " + file + " does not exist");
      assets[name] = ReadFileText(file);
    }
  }
  return assets;
}

// ---- sidecars as models and the OpenCV formats (issue 13, helper D3) ----
std::string ResolveBeside(const std::string& sidecar, const std::string& file) {
  const fs::path f(file);
  if (f.is_absolute()) return file;
  return (fs::path(sidecar).parent_path() / f).lexically_normal().string();
}

ModelKind KindOf(const std::string& path) {
  if (EndsWith(path, ".onnx")) return ModelKind::kOnnx;
  if (EndsWith(path, ".weights") || EndsWith(path, ".cfg")) return ModelKind::kDarknet;
  if (EndsWith(path, ".xml")) return ModelKind::kCascade;
  return ModelKind::kTorchScript;
}

void ResolveSidecarModel(LoadPlan& plan) {
  const std::string sidecar = plan.options.path;
  if (!EndsWith(sidecar, ".json")) return;
  if (!plan.options.metadata_path.empty())
    throw Error(ErrorCode::kOption, sidecar + ": the model path is a sidecar JSON, so it is the metadata; metadata_path (\"" +
                                        plan.options.metadata_path + "\") must be empty");
  const ModelMetadata m = ParseMetadata(ReadFileText(sidecar), sidecar);
  if (!m.files)
    throw Error(ErrorCode::kMetadata, sidecar + ": a sidecar given as the model needs 'files': {\"model\": \"...\"} naming "
                                                "the model file (relative to the sidecar's folder, or absolute)");
  const auto check = [&](const std::string& file, const char* field) {
    try {
      return CheckModelFile(file);
    } catch (const Error& e) {
      throw Error(e.code(), sidecar + ": field '" + field + "': " + e.what());
    }
  };
  plan.options.metadata_path = sidecar;
  plan.options.path = ResolveBeside(sidecar, m.files->model);
  plan.file_size = check(plan.options.path, "files.model");
  if (!m.files->config.empty()) {
    plan.config_path = ResolveBeside(sidecar, m.files->config);
    check(plan.config_path, "files.config");
  }
}
// ---- end of the sidecar block ----

Error NoMetadataError(const std::string& path) {
  return Error(ErrorCode::kMetadata, path + ": no sense.json metadata; run scripts/pack_model.py to add it, or put a "
                                            "sidecar " + fs::path(path).filename().string() + ".json next to it");
}

NamedTensors DummyInputs(const ModelMetadata& m) {
  // Zeros (bools: all true); a task that knows what its inputs mean supplies
  // better ones through ModelOptions::sample_inputs.
  NamedTensors inputs;
  for (const auto& spec : m.inputs) {
    std::vector<int64_t> shape = spec.shape;
    if (shape.empty()) shape = {1};
    for (size_t i = 0; i < shape.size(); ++i) {
      if (shape[i] != -1) continue;
      shape[i] = i == 0 ? 1 : 8;
      if (m.image && shape.size() == 4) {  // image input with dynamic spatial dims
        const bool nchw = m.image->layout == Layout::kNCHW;
        if (i == (nchw ? 2u : 1u)) shape[i] = m.image->height;
        if (i == (nchw ? 3u : 2u)) shape[i] = m.image->width;
        if (i == (nchw ? 1u : 3u)) shape[i] = m.image->channels();
      }
    }
    Tensor t = Tensor::Zeros(spec.dtype, shape);
    if (spec.dtype == DType::kBool) std::fill(t.data<bool>(), t.data<bool>() + t.numel(), true);
    inputs.Set(spec.name, t);
  }
  return inputs;
}

}  // namespace internal

void CheckOutputsAgainstMetadata(const ModelMetadata& m, const NamedTensors& outputs, const std::string& source) {
  for (const auto& spec : m.outputs) {
    if (!outputs.Contains(spec.name))
      throw Error(ErrorCode::kMetadata, source + ": metadata declares output '" + spec.name +
                                            "' but the model returned " + std::to_string(outputs.size()) +
                                            " output(s): " + [&] {
                                              std::string s;
                                              for (const auto& n : outputs.Names()) s += (s.empty() ? "" : ", ") + n;
                                              return s;
                                            }());
    const Tensor& t = outputs.at(spec.name);
    if (!spec.shape.empty() && static_cast<size_t>(t.dim()) != spec.shape.size())
      throw Error(ErrorCode::kMetadata, source + ": output '" + spec.name + "' declared with " +
                                            std::to_string(spec.shape.size()) + " dimensions, model returned " +
                                            t.Describe());
    for (size_t i = 0; i < spec.shape.size(); ++i)
      if (spec.shape[i] > 0 && t.shape()[i] != spec.shape[i])
        throw Error(ErrorCode::kMetadata, source + ": output '" + spec.name + "' dimension " + std::to_string(i) +
                                              " declared " + std::to_string(spec.shape[i]) + ", model returned " +
                                              t.Describe());
  }
  const bool classifies = m.task == Task::kImageClassification || m.task == Task::kTextClassification ||
                          m.task == Task::kTokenClassification;
  if (classifies) {
    const Tensor& t = outputs.at(m.output.name);
    if (t.dim() >= 1 && static_cast<size_t>(t.size(-1)) != m.labels.size())
      throw Error(ErrorCode::kMetadata, source + ": 'labels' has " + std::to_string(m.labels.size()) +
                                            " entries but the model's output '" + m.output.name + "' has " +
                                            std::to_string(t.size(-1)) + " classes (" + t.Describe() + ")");
  }
  if (m.embedding && (m.task == Task::kImageEmbedding || m.task == Task::kTextEmbedding)) {
    const Tensor& t = outputs.at(m.output.name);
    if (t.dim() >= 1 && t.size(-1) != m.embedding->dim)
      throw Error(ErrorCode::kMetadata, source + ": 'embedding.dim' is " + std::to_string(m.embedding->dim) +
                                            " but the model returned " + t.Describe());
  }
}

namespace {

BundleFiles ReadBundle(const std::string& path, const std::string& metadata_path, bool with_assets) {
  CheckModelFile(path);
  const internal::LocatedMetadata located = internal::LocateMetadata(path, metadata_path);
  if (located.source.empty()) throw internal::NoMetadataError(path);
  BundleFiles b;
  b.metadata_source = located.source;
  b.metadata = ParseMetadata(located.text, located.source == "embedded" ? path + ":sense.json" : located.source);
  if (with_assets) b.assets = internal::ReadAssets(path, b.metadata, located);
  return b;
}

}  // namespace

ModelMetadata ReadBundleMetadata(const std::string& path, const std::string& metadata_path) try {
  return ReadBundle(path, metadata_path, false).metadata;
} catch (...) {  // sense::Error passes unchanged; anything else (bad_alloc: kResource) is translated
  throw CurrentExceptionAsError(ErrorCode::kInternal, path);
}

BundleFiles ReadBundleFiles(const std::string& path, const std::string& metadata_path) try {
  return ReadBundle(path, metadata_path, true);
} catch (...) {
  throw CurrentExceptionAsError(ErrorCode::kInternal, path);
}

namespace internal {

void VerifyLoadedModel(const Model& model, const LoadPlan& plan) {
  if (!plan.options.verify) return;
  NamedTensors outputs;
  try {
    // the task's sample inputs (real text rows for a text model), else zeros
    outputs = model.Run(plan.options.sample_inputs ? plan.options.sample_inputs(model.metadata(), {8})
                                                   : DummyInputs(model.metadata()));
  } catch (...) {
    const Error e = CurrentExceptionAsError(ErrorCode::kBackend, plan.options.path);
    if (e.code() == ErrorCode::kResource) throw e;
    throw Error(ErrorCode::kMetadata, plan.options.path + ": the model does not accept inputs shaped as its metadata declares: " +
                                          e.what());
  }
  CheckOutputsAgainstMetadata(model.metadata(), outputs, plan.options.path);
}

}  // namespace internal

std::unique_ptr<Model> Model::Load(const ModelOptions& options) try {
  internal::LoadPlan plan;
  plan.options = options;
  if (options.num_threads < 0)
    throw Error(ErrorCode::kOption, "num_threads must be >= 0 (0 = all available cores), found " +
                                        std::to_string(options.num_threads));
  plan.device = Device::Parse(options.device);
  if (plan.device.type == Device::Type::kCUDA) {
    if (!CudaAvailable())
      throw Error(ErrorCode::kDevice, "device \"" + options.device + "\" requested, but " +
                                          std::string(CudaDeviceCount() < 0 ? "this build of LibTorch has no CUDA support"
                                                                            : "no CUDA device is available") +
                                          "; use --device cpu");
    if (plan.device.index >= CudaDeviceCount())
      throw Error(ErrorCode::kDevice, "device \"" + options.device + "\" requested, but only " +
                                          std::to_string(CudaDeviceCount()) + " CUDA device(s) exist");
  }
  const int cores = AvailableCores();
  std::string thread_note;
  plan.num_threads = options.num_threads == 0 ? IdleCores(cores) : std::min(options.num_threads, cores);
  if (options.num_threads > cores)
    thread_note = "num_threads " + std::to_string(options.num_threads) + " is more than the " + std::to_string(cores) +
                  " usable core" + (cores == 1 ? "" : "s") + "; using " + std::to_string(cores);
  plan.file_size = CheckModelFile(options.path);
  internal::ResolveSidecarModel(plan);  // a .json path: the model file(s) it names
  const std::string& path = plan.options.path;
  std::unique_ptr<Model> model;
  switch (internal::KindOf(path)) {
    case internal::ModelKind::kOnnx: model = internal::LoadOnnx(plan); break;
    case internal::ModelKind::kDarknet: model = internal::LoadDarknet(plan); break;
    case internal::ModelKind::kCascade: model = internal::LoadCascade(plan); break;
    case internal::ModelKind::kTorchScript:
      if (!LooksLikeZip(path))
        throw Error(ErrorCode::kModelFormat, path + ": not a TorchScript archive (a zip file), an .onnx model, a Darknet "
                                             ".cfg/.weights pair nor an OpenCV cascade .xml; first bytes: " + HexPrefix(path));
      model = internal::LoadTorchScript(plan);
      break;
  }
  model->thread_note_ = std::move(thread_note);
  return model;
} catch (...) {  // the backends translate what they call; this is the last line for anything else
  throw CurrentExceptionAsError(ErrorCode::kInternal, options.path);
}

const std::string& Model::Asset(const std::string& name) const {
  auto it = assets_.find(name);
  if (it == assets_.end()) {
    std::string names;
    for (const auto& a : assets_) names += (names.empty() ? "" : ", ") + a.first;
    throw Error(ErrorCode::kMetadata, path_ + ": no bundled asset '" + name + "'; bundle has: " +
                                          (names.empty() ? "(none)" : names));
  }
  return it->second;
}

std::vector<std::string> Model::AssetNames() const {
  std::vector<std::string> out;
  for (const auto& a : assets_) out.push_back(a.first);
  return out;
}

bool Model::HasMethod(const std::string&) const { return false; }

NamedTensors Model::RunMethod(const std::string& method, const NamedTensors&) const {
  throw Error(ErrorCode::kUnsupported, path_ + ": the " + backend() + " backend cannot run method '" + method + "'");
}

GradientResult Model::RunMethodWithGradient(const std::string& method, const NamedTensors&, const std::string&, int,
                                            const std::vector<int64_t>&) const {
  throw Error(ErrorCode::kUnsupported, path_ + ": the " + backend() + " backend cannot compute gradients (method '" +
                                           method + "'); use occlusion explanations");
}

}  // namespace sense
