// sense/inference/model.h — loading a model bundle and running it.
//
// A Model is a loaded model file plus its validated metadata. Backends:
//   * TorchScript through LibTorch ("torchscript"): sense.json and assets are
//     extra files inside the archive; a sidecar JSON is the fallback for
//     third-party files without metadata.
//   * ONNX through OpenCV DNN ("onnx-opencv"): metadata in a sidecar JSON.
// Load() checks the file, the metadata and the model against each other (one
// forward pass on a small dummy input checks every declared output and the
// label count), so a Model that exists works.
//
// Thread safety: Run, RunMethod and RunMethodWithGradient are const and safe
// to call from several threads at once on one Model (TorchScript modules are
// re-entrant in inference; the ONNX backend serialises calls on an internal
// mutex because cv::dnn::Net is not).
//
// Threads, the one policy of sense:
//  * A Model has num_threads() intra-op threads: ModelOptions::num_threads,
//    0 meaning the cores this process may run on (AvailableCores()) that
//    other processes are not keeping busy at load (at least 1; read from
//    /proc/stat's runnable count), and a larger request clamped to
//    AvailableCores() with thread_note() saying so. An OpenMP pool on a busy
//    core stalls every parallel region (2 threads with one core taken ran
//    several times slower than 1 thread), so "auto" leaves busy cores alone;
//    an explicit count is used as given. Long runs on a loaded machine can
//    also set OMP_WAIT_POLICY=PASSIVE (read by the OpenMP runtime at start).
//  * A call runs with them on the calling thread's OpenMP pool (LibTorch,
//    oneDNN and OpenBLAS follow it) and restores the calling thread's count
//    when it returns. Nothing process-wide changes: at::set_num_threads is
//    never called, so other models, threads started later and the host's own
//    LibTorch code keep their settings.
//  * Calls of one Model share its threads as a budget: a call takes every
//    thread that no other call in flight holds, and at least its own calling
//    thread. So N threads calling one Model at once do not run N x
//    num_threads() threads: the first runs with num_threads(), calls that
//    start while it runs get what is left (one thread, their own, when
//    nothing is), and the pool threads of all its calls together never exceed
//    num_threads() - 1. Two Models each have their own budget.
//  * ONNX (OpenCV DNN): OpenCV's thread count is process-wide, so a call sets
//    it under a process-wide lock and restores it after; ONNX models run one
//    at a time in a process, and other OpenCV work running on another thread
//    at that moment (image decoding, resizing) shares the model's count.
#ifndef SENSE_INFERENCE_MODEL_H_
#define SENSE_INFERENCE_MODEL_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sense/inference/error.h"
#include "sense/inference/metadata.h"
#include "sense/inference/tensor.h"

namespace sense {

struct Device {
  enum class Type { kCPU, kCUDA };
  Type type = Type::kCPU;
  int index = -1;  // CUDA ordinal, -1 = current
  // Parses "cpu", "cuda", "cuda:N". Throws Error(kDevice) for anything else.
  static Device Parse(const std::string& text);
  std::string ToString() const;
};

// True when this LibTorch build can run on CUDA and a device is present.
bool CudaAvailable();
int CudaDeviceCount();

// Cores this process may run on (sched_getaffinity), at least 1.
int AvailableCores();

// Inputs for the checks a Model runs at load (the verification pass, and the
// comparison of an optimised graph with the original): one batch of rows,
// row r with row_lengths[r] valid positions (tokens for a text model; image
// models ignore it). The task that knows what its inputs mean supplies it
// (text: ids within the vocabulary, masks, type ids; see
// text/text_inputs.h); unset: zeros shaped as the metadata declares.
using SampleInputs = std::function<NamedTensors(const ModelMetadata& metadata, const std::vector<int64_t>& row_lengths)>;

struct ModelOptions {
  std::string path;            // model file (.pt TorchScript bundle, or .onnx); required
  std::string metadata_path;   // sidecar sense.json; empty: embedded, else <path>.json, else <stem>.json
  std::string device = "cpu";  // "cpu", "cuda", "cuda:N"; unavailable CUDA is Error(kDevice)
  int num_threads = 0;         // intra-op threads for this model; 0 = the idle usable cores (above); < 0 is Error(kOption);
                               // more than AvailableCores() is clamped to it (see Model::thread_note())
  bool verify = true;          // run one dummy forward pass at load to check outputs vs metadata
  // Graph optimisation on CPU for forward(), kept only when it answers as
  // the original does (relative difference <= 1e-4) on sample_inputs, else
  // on random inputs; otherwise the original runs. Model::optimization()
  // says which and why. What is tried follows the graph, not the task:
  //  * a graph that calls aten::lstm: every aten::lstm runs sense's own LSTM
  //    kernel (same weights, no copy). Costs a forward pass of the dense and
  //    the packed-sequence path at load. Gradients (integrated gradients)
  //    keep LibTorch's LSTM. Such models also run with LibTorch's
  //    graph-executor optimisation off: its profile-then-recompile costs
  //    tens of ms over the first two calls and did not speed up the
  //    recurrent models we measured;
  //  * any other graph: freeze + optimize_for_inference (conv+BN folding,
  //    prepacked MKL-DNN weights). Costs load time and a second copy of the
  //    weights.
  bool optimize = true;
  // On CPU, a TorchScript bundle whose code is one of sense's own
  // architectures (today the BiLSTM-CNN entity tagger of
  // scripts/train_ner.py) runs on sense's own kernels without loading
  // LibTorch: Model::backend() is then "native" and start-up skips
  // LibTorch's half-second of static initialisers. Same outputs as LibTorch
  // within float rounding (tests/inference/native_backend_test.cc). false,
  // or SENSE_NATIVE=0 in the environment: always LibTorch.
  bool native = true;
  SampleInputs sample_inputs;  // see above; empty: zero inputs
};

struct GradientResult {
  NamedTensors outputs;  // the method's outputs (detached)
  Tensor gradient;       // d(sum_i outputs[output_index][i, targets[i]]) / d(inputs[wrt])
};

class Model {
 public:
  // Loads and validates a bundle. Throws Error with kFile, kModelFormat,
  // kMetadata, kDevice or kOption, naming the file and the problem.
  static std::unique_ptr<Model> Load(const ModelOptions& options);
  virtual ~Model() = default;
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelMetadata& metadata() const { return metadata_; }
  const std::string& path() const { return path_; }
  const std::string& metadata_source() const { return metadata_source_; }  // "embedded" or a sidecar path
  Device device() const { return device_; }
  int num_threads() const { return num_threads_; }  // the thread budget of this model's calls (see above)
  // Empty, or one line when options.num_threads was clamped: "num_threads 1000
  // is more than the 2 usable cores; using 2". Apps print it once on stderr.
  const std::string& thread_note() const { return thread_note_; }
  std::uintmax_t file_size() const { return file_size_; }
  // What graph optimisation was applied at load, and why not if not.
  const std::string& optimization() const { return optimization_; }
  virtual std::string backend() const = 0;

  // Bundled assets by name (tokenizer model, vocabulary ...). Throws
  // Error(kMetadata) when the bundle has no such asset.
  const std::string& Asset(const std::string& name) const;
  std::vector<std::string> AssetNames() const;

  // Runs the model's forward pass. Inputs are matched by name to the
  // metadata's inputs (a single input may have any name); dtypes and ranks
  // are checked first (Error(kInput)). Outputs are named after the metadata's
  // outputs; tuples/lists/dicts of tensors are flattened in order. Tensors
  // stay on CPU for the caller; device transfer happens inside.
  virtual NamedTensors Run(const NamedTensors& inputs) const = 0;

  // Exported TorchScript methods (e.g. "features", "head"). Inputs matched to
  // the method's argument names, else by position. Others: Error(kUnsupported).
  virtual bool HasMethod(const std::string& method) const;
  virtual NamedTensors RunMethod(const std::string& method, const NamedTensors& inputs) const;
  // RunMethodWithGradient: `wrt` names the argument to differentiate by (its
  // name in the method's signature or in `inputs`; empty = the first).
  virtual bool SupportsGradients() const { return false; }
  virtual GradientResult RunMethodWithGradient(const std::string& method, const NamedTensors& inputs,
                                               const std::string& wrt, int output_index,
                                               const std::vector<int64_t>& targets) const;

 protected:
  Model() = default;
  ModelMetadata metadata_;
  std::string path_;
  std::string metadata_source_;
  std::map<std::string, std::string> assets_;
  Device device_;
  int num_threads_ = 1;
  std::string thread_note_;
  std::uintmax_t file_size_ = 0;
  std::string optimization_ = "none";
};

// Checks a model's declared outputs against its labels and task: called by
// Load after the verification pass with the real output shapes.
void CheckOutputsAgainstMetadata(const ModelMetadata& metadata, const NamedTensors& outputs,
                                 const std::string& source);

// Reads only a bundle's metadata (no model load): fast, for listings.
ModelMetadata ReadBundleMetadata(const std::string& path, const std::string& metadata_path = "");

// A bundle's metadata and assets (tokenizer model, vocabulary ...), found
// and read exactly as Model::Load finds them, without loading the model: for
// a task that needs an asset before Load (a text task's sample inputs come
// from its tokenizer). Throws Error as Load does (kFile, kModelFormat,
// kMetadata).
struct BundleFiles {
  ModelMetadata metadata;
  std::string metadata_source;                // "embedded" or the sidecar's path
  std::map<std::string, std::string> assets;  // by name, as Model::Asset returns them
};
BundleFiles ReadBundleFiles(const std::string& path, const std::string& metadata_path = "");

}  // namespace sense

#endif  // SENSE_INFERENCE_MODEL_H_
