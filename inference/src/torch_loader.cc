// sense_inference's side of the LibTorch module (torch_module.h): finding and
// loading it, the functions that forward to it, and what needs no LibTorch
// (TorchScript archives' extra files, the native backend first).
#include <dlfcn.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "sense/inference/error.h"
#include "sense/inference/model.h"
#include "sense/inference/outcome.h"
#include "sense/inference/system_info.h"
#include "torch_module.h"
#include "zip_archive.h"

#ifndef SENSE_TORCH_MODULE_BUILD_PATH
#define SENSE_TORCH_MODULE_BUILD_PATH ""
#endif
#ifndef SENSE_TORCH_MODULE_INSTALL_PATH
#define SENSE_TORCH_MODULE_INSTALL_PATH ""
#endif
#ifndef SENSE_TORCH_MODULE_RELATIVE_PATH
#define SENSE_TORCH_MODULE_RELATIVE_PATH "../lib/sense/libsense_torch.so"
#endif

namespace sense {

std::string SenseVersion() { return SENSE_VERSION; }

namespace internal {
namespace {

std::atomic<const TorchModuleApi*>& Registered() {
  static std::atomic<const TorchModuleApi*> api{nullptr};
  return api;
}

std::vector<std::string> Candidates() {
  std::vector<std::string> paths;
  if (const char* env = std::getenv("SENSE_TORCH_MODULE"); env != nullptr && *env != '\0') {
    paths.emplace_back(env);
    return paths;  // an explicit choice is the only one
  }
  namespace fs = std::filesystem;
  if (*SENSE_TORCH_MODULE_BUILD_PATH) paths.emplace_back(SENSE_TORCH_MODULE_BUILD_PATH);
  std::error_code ec;
  const auto exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) paths.push_back((exe.parent_path() / SENSE_TORCH_MODULE_RELATIVE_PATH).lexically_normal().string());
  if (*SENSE_TORCH_MODULE_INSTALL_PATH) paths.emplace_back(SENSE_TORCH_MODULE_INSTALL_PATH);
  paths.emplace_back("libsense_torch.so");
  return paths;
}

struct Loaded {
  const TorchModuleApi* api = nullptr;
  std::string error;
};

Loaded Load() {
  Loaded result;
  std::string tried;
  for (const std::string& path : Candidates()) {
    if (!tried.empty()) tried += "; ";
    std::error_code ec;
    if (path.find('/') != std::string::npos && !std::filesystem::exists(path, ec)) {
      tried += path + " (not found)";
      continue;
    }
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = dlerror();
      tried += path + " (" + (why ? why : "dlopen failed") + ")";
      continue;
    }
    auto entry = reinterpret_cast<const TorchModuleApi* (*)()>(dlsym(handle, "sense_torch_module_api"));
    const TorchModuleApi* api = entry != nullptr ? entry() : nullptr;
    if (api == nullptr || api->abi != kTorchModuleAbi) {
      tried += path + " (ABI " + std::to_string(api ? api->abi : -1) + ", expected " + std::to_string(kTorchModuleAbi) + ")";
      continue;  // the handle stays open: unloading LibTorch is not safe
    }
    result.api = api;
    return result;
  }
  result.error = "cannot load sense's LibTorch module libsense_torch.so; tried: " + tried +
                 ". Set SENSE_TORCH_MODULE to its path";
  return result;
}

}  // namespace

void RegisterTorchModule(const TorchModuleApi* api) { Registered().store(api); }

const TorchModuleApi& TorchModule() {
  if (const TorchModuleApi* api = Registered().load()) return *api;
  static const Loaded loaded = Load();
  if (loaded.api == nullptr) throw Error(ErrorCode::kUnsupported, loaded.error);
  Registered().store(loaded.api);
  return *loaded.api;
}

std::unique_ptr<Model> LoadTorchScript(const LoadPlan& plan) {
  std::string why_not;
  if (std::unique_ptr<Model> model = LoadNative(plan, &why_not)) return model;
  return TorchModule().load_torchscript(plan);
}

std::map<std::string, std::string> ReadTorchScriptExtraFiles(const std::string& path) {
  std::map<std::string, std::string> extra;
  try {
    const ZipArchive zip(path);
    for (const std::string& name : zip.names())
      if (name.rfind("extra/", 0) == 0) extra[name.substr(6)] = zip.Read(name);
  } catch (const Error& e) {  // ZipArchive's messages name the file already
    if (e.code() == ErrorCode::kResource) throw;
    throw Error(ErrorCode::kModelFormat, e.what());
  } catch (...) {
    throw CurrentExceptionAsError(ErrorCode::kModelFormat, path + ": corrupt or truncated TorchScript archive");
  }
  return extra;
}

}  // namespace internal

bool CudaAvailable() {
  try {
    return internal::TorchModule().cuda_available();
  } catch (const Error&) {  // no LibTorch module: no CUDA either
    return false;
  }
}

int CudaDeviceCount() {
  try {
    return internal::TorchModule().cuda_device_count();
  } catch (const Error&) {
    return -1;
  }
}

SystemInfo GetSystemInfo() { return internal::TorchModule().system_info(); }

double MeasureGemmGflops(int n, int threads) { return internal::TorchModule().gemm_gflops(n, threads); }

}  // namespace sense
