// Internal: the backends behind sense::Model. Not installed.
#ifndef SENSE_INFERENCE_SRC_BACKENDS_H_
#define SENSE_INFERENCE_SRC_BACKENDS_H_

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "sense/inference/model.h"

namespace sense::internal {

// Everything Model::Load works out before a backend loads the graph.
struct LoadPlan {
  ModelOptions options;
  Device device;
  int num_threads = 1;  // options.num_threads, 0 resolved and clamped to AvailableCores()
  std::uintmax_t file_size = 0;
  std::string config_path;  // Darknet: the .cfg a sidecar's files.config names (resolved); else ""
};

// ---- sidecars as models and the OpenCV formats (issue 13) ----
// Which backend a model file goes to, by its extension: .onnx, .weights/.cfg
// (Darknet), .xml (OpenCV cascade), anything else TorchScript.
enum class ModelKind { kTorchScript, kOnnx, kDarknet, kCascade };
ModelKind KindOf(const std::string& path);
// When plan.options.path is a sidecar .json: reads its 'files', points
// options.path at the model file and options.metadata_path at the sidecar,
// sets config_path and file_size (kMetadata without 'files', kFile for a
// missing file, named with the field). Other paths are left as they are.
void ResolveSidecarModel(LoadPlan& plan);
// `file` relative to the sidecar's folder, unless absolute.
std::string ResolveBeside(const std::string& sidecar, const std::string& file);
// Darknet (.cfg + .weights) through OpenCV DNN, every [yolo] layer's
// class-score threshold set to 0.
std::unique_ptr<Model> LoadDarknet(const LoadPlan& plan);
// An OpenCV Haar or LBP cascade (.xml) behind sense::Model (cascade_backend.cc).
std::unique_ptr<Model> LoadCascade(const LoadPlan& plan);

// The base of every backend's model: the fields that Model::Load's plan and
// the bundle's metadata decide, set once here.
class BackendModel : public Model {
 protected:
  BackendModel(const LoadPlan& plan, ModelMetadata metadata, std::string metadata_source,
               std::map<std::string, std::string> assets) {
    metadata_ = std::move(metadata);
    path_ = plan.options.path;
    metadata_source_ = std::move(metadata_source);
    assets_ = std::move(assets);
    device_ = plan.device;
    num_threads_ = plan.num_threads;
    file_size_ = plan.file_size;
  }
};

// Reads the extra files of a TorchScript archive ("sense.json", assets)
// without loading the module. Throws kModelFormat for a non-zip or corrupt
// archive.
std::map<std::string, std::string> ReadTorchScriptExtraFiles(const std::string& path);

// A TorchScript bundle: the native backend when it runs the archive's
// architecture (LoadNative), else LibTorch through its module
// (torch_module.h). Defined in torch_loader.cc.
std::unique_ptr<Model> LoadTorchScript(const LoadPlan& plan);
// The native backend (native_backend.cc): a TorchScript archive whose code is
// one of sense's own architectures (recognised by the hash of its code
// records: scripts/train_ner.py's BiLSTM-CNN tagger), run by sense's kernels
// on CPU without LibTorch. Returns nullptr, with the reason in *why_not, for
// any other archive, a CUDA device or options.native off; errors in the
// bundle's metadata are thrown as Model::Load throws them.
std::unique_ptr<Model> LoadNative(const LoadPlan& plan, std::string* why_not);
// The load-time check of every backend when plan.options.verify: one forward
// pass on the task's sample inputs (else DummyInputs) and its outputs against
// the metadata. kMetadata when the model refuses inputs shaped as declared;
// kResource passes unchanged.
void VerifyLoadedModel(const Model& model, const LoadPlan& plan);
std::unique_ptr<Model> LoadOnnx(const LoadPlan& plan);

// Finds the sidecar metadata for `path`: <path>.json, then <stem>.json.
// Returns "" when there is none.
std::string FindSidecar(const std::string& path);
std::string ReadFileText(const std::string& path);

// Where Load finds a bundle's metadata: `metadata_path` when given, else the
// archive's extra file sense.json (source "embedded"), else a sidecar; the
// archive's extra files come along (empty for a file that is not a zip).
// source is "" when there is no metadata anywhere.
struct LocatedMetadata {
  std::string source, text;
  std::map<std::string, std::string> extra;
};
LocatedMetadata LocateMetadata(const std::string& path, const std::string& metadata_path);

// The sidecar metadata of an OpenCV model file (ONNX, Darknet, cascade):
// `metadata_path` when given, else FindSidecar(path), read into `text`.
// None: Error(kMetadata) "<path>: <needs> a sidecar sense.json: expected
// <path>.json or <stem>.json<hint>", e.g. needs = "ONNX models need".
LocatedMetadata LocateSidecar(const std::string& path, const std::string& metadata_path, const std::string& needs,
                              const std::string& hint = "");
// The metadata's assets: the archive's extra files when it is embedded, else
// files beside the sidecar. Error(kMetadata) naming a missing one.
std::map<std::string, std::string> ReadAssets(const std::string& path, const ModelMetadata& metadata,
                                              const LocatedMetadata& located);
// Error(kMetadata) for a bundle without metadata: what to do about it.
Error NoMetadataError(const std::string& path);

// A small dummy input for the verification pass: every -1 becomes 1 (batch)
// or 8 (other dims), image inputs get the metadata's size, ints are zeros.
NamedTensors DummyInputs(const ModelMetadata& metadata);

// A model's intra-op threads, shared by its calls in flight (the policy in
// model.h): a call takes every thread of the budget that no other call holds,
// and at least one (its calling thread). Calls that start while the budget is
// spent run single-threaded and drive it below zero; so the pool threads that
// all calls use beyond their calling threads never exceed threads - 1 in
// total. Lock-free; safe from any thread.
class ThreadBudget {
 public:
  explicit ThreadBudget(int threads) : free_(threads) {}
  int Acquire() {
    int free = free_.load();
    int take = 1;
    do take = std::max(1, free);
    while (!free_.compare_exchange_weak(free, free - take));
    return take;
  }
  void Release(int taken) { free_ += taken; }

 private:
  std::atomic<int> free_;
};

// Sets the calling thread's intra-op thread count (its OpenMP ICV, which
// LibTorch, oneDNN and OpenBLAS read) for the duration of a call and restores
// the previous count at the end. It never calls at::set_num_threads, which
// also changes the count that LibTorch gives every thread started later.
// The budget form takes its count from (and gives it back to) a ThreadBudget.
class ThreadScope {
 public:
  explicit ThreadScope(int threads);
  explicit ThreadScope(ThreadBudget& budget);
  ~ThreadScope();
  ThreadScope(const ThreadScope&) = delete;
  ThreadScope& operator=(const ThreadScope&) = delete;
  int threads() const { return threads_ > 0 ? threads_ : previous_; }  // the count this call runs with

 private:
  int previous_;
  int threads_;
  ThreadBudget* budget_ = nullptr;
};

// OpenCV's thread count is one process-wide setting (its TBB arena):
// OpenCvThreadScope holds a process-wide lock, sets it for the duration of a
// call and restores it, so that one OpenCV DNN model never runs with, or
// leaves behind, another's count.
class OpenCvThreadScope {
 public:
  explicit OpenCvThreadScope(int threads);
  ~OpenCvThreadScope();
  OpenCvThreadScope(const OpenCvThreadScope&) = delete;
  OpenCvThreadScope& operator=(const OpenCvThreadScope&) = delete;

 private:
  std::unique_lock<std::mutex> lock_;
  int previous_;
  int threads_;
};

}  // namespace sense::internal

#endif  // SENSE_INFERENCE_SRC_BACKENDS_H_
