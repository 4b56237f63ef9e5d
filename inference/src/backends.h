// Internal: the backends behind sense::Model. Not installed.
#ifndef SENSE_INFERENCE_SRC_BACKENDS_H_
#define SENSE_INFERENCE_SRC_BACKENDS_H_

#include <map>
#include <memory>
#include <string>

#include "sense/inference/model.h"

namespace sense::internal {

// Everything Model::Load works out before a backend loads the graph.
struct LoadPlan {
  ModelOptions options;
  Device device;
  int num_threads = 1;
  std::uintmax_t file_size = 0;
};

// Reads the extra files of a TorchScript archive ("sense.json", assets)
// without loading the module. Throws kModelFormat for a non-zip or corrupt
// archive.
std::map<std::string, std::string> ReadTorchScriptExtraFiles(const std::string& path);

std::unique_ptr<Model> LoadTorchScript(const LoadPlan& plan);
std::unique_ptr<Model> LoadOnnx(const LoadPlan& plan);

// Finds the sidecar metadata for `path`: <path>.json, then <stem>.json.
// Returns "" when there is none.
std::string FindSidecar(const std::string& path);
std::string ReadFileText(const std::string& path);

// A small dummy input for the verification pass: every -1 becomes 1 (batch)
// or 8 (other dims), image inputs get the metadata's size, ints are zeros.
NamedTensors DummyInputs(const ModelMetadata& metadata);

// Applies the thread count to the calling thread for the duration of a call.
class ThreadScope {
 public:
  explicit ThreadScope(int threads);
  ~ThreadScope();

 private:
  int previous_;
  int threads_;
};

}  // namespace sense::internal

#endif  // SENSE_INFERENCE_SRC_BACKENDS_H_
