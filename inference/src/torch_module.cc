// The LibTorch module's entry point: see torch_module.h.
#include "torch_module.h"

namespace sense::internal {
namespace {

const TorchModuleApi kApi = {kTorchModuleAbi, &LoadTorchScriptWithLibTorch, &TorchCudaAvailable,
                             &TorchCudaDeviceCount, &TorchSystemInfo, &TorchGemmGflops};

// Linked into a program directly (the tests), the program's own
// sense_inference takes these functions instead of loading the module.
const bool kRegistered = (RegisterTorchModule(&kApi), true);

}  // namespace
}  // namespace sense::internal

extern "C" __attribute__((visibility("default"))) const sense::internal::TorchModuleApi* sense_torch_module_api() {
  return &sense::internal::kApi;
}
