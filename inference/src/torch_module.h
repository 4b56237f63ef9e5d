// Internal: the LibTorch half of the inference layer. Not installed.
//
// Why: a program linked to LibTorch spends about half a second in its static
// initialisers before main() (operator registration; measured by
// benchmarks/bench_torch_floor), whether or not it ever runs a TorchScript
// model. So sense_inference does not link LibTorch: the TorchScript backend,
// sense's LSTM op, and the LibTorch parts of the system report live in the
// module libsense_torch.so, which sense_inference dlopen()s the first time
// it needs one of them. A model that the native backend runs (backends.h,
// LoadNative), and every OpenCV-format model, never loads it.
//
// Where the module is looked for, in order: $SENSE_TORCH_MODULE (then the
// only choice); the build tree's; <bin>/../lib/sense (the install layout);
// the install prefix the library was built for; the bare name (the
// program's RUNPATH, which find_package(sense) points at <prefix>/lib/sense).
// A program that links the module's objects directly (sense's tests do,
// through the sense_torch_impl object library) registers them with
// RegisterTorchModule at static initialisation and never dlopen()s.
//
// Thread safety: TorchModule() loads once (a function-local static); the
// API's functions are as thread-safe as the functions they stand for.
#ifndef SENSE_INFERENCE_SRC_TORCH_MODULE_H_
#define SENSE_INFERENCE_SRC_TORCH_MODULE_H_

#include <memory>

#include "backends.h"
#include "sense/inference/system_info.h"

namespace sense::internal {

// Bumped whenever this struct or the types it passes change.
constexpr int kTorchModuleAbi = 1;

struct TorchModuleApi {
  int abi;
  std::unique_ptr<Model> (*load_torchscript)(const LoadPlan& plan);  // LibTorch's torch::jit::load and friends
  bool (*cuda_available)();
  int (*cuda_device_count)();  // -1: this LibTorch has no CUDA support
  SystemInfo (*system_info)();
  double (*gemm_gflops)(int n, int threads);
};

// The module's API: the registered one, else loaded on first use. Throws
// Error(kUnsupported) naming every place tried when it cannot be loaded.
const TorchModuleApi& TorchModule();
void RegisterTorchModule(const TorchModuleApi* api);

// The implementations behind the API (torch_backend.cc, system_info.cc).
std::unique_ptr<Model> LoadTorchScriptWithLibTorch(const LoadPlan& plan);
bool TorchCudaAvailable();
int TorchCudaDeviceCount();
SystemInfo TorchSystemInfo();
double TorchGemmGflops(int n, int threads);

}  // namespace sense::internal

// The module's entry point (default visibility; everything else in the
// module is hidden).
extern "C" const sense::internal::TorchModuleApi* sense_torch_module_api();

#endif  // SENSE_INFERENCE_SRC_TORCH_MODULE_H_
