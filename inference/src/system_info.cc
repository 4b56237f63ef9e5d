// What math stack sense runs on: BLAS, threads, CPU capability, CUDA.
#include "sense/inference/system_info.h"

#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <torch/torch.h>

#include <opencv2/core/version.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "sense/inference/model.h"
#include "torch_module.h"

namespace sense {

namespace {

// The libblas.so.3 mapped into this process, resolved through the
// Debian alternatives symlinks.
std::string MappedBlas() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    const auto pos = line.find('/');
    if (pos == std::string::npos) continue;
    const std::string file = line.substr(pos);
    const std::string base = std::filesystem::path(file).filename().string();
    if (base.rfind("libblas.so", 0) == 0 || base.rfind("libopenblas", 0) == 0 || base.rfind("libmkl_rt", 0) == 0 ||
        base.rfind("libblis", 0) == 0) {
      std::error_code ec;
      auto real = std::filesystem::canonical(file, ec);
      return ec ? file : real.string();
    }
  }
  return "";
}

}  // namespace

SystemInfo internal::TorchSystemInfo() {
  SystemInfo s;
  s.sense_version = SenseVersion();
  s.torch_version = TORCH_VERSION;
  s.opencv_version = CV_VERSION;
  // Make sure BLAS is loaded (LibTorch loads it lazily with its first GEMM).
  (void)torch::mm(torch::ones({2, 2}), torch::ones({2, 2}));
  s.blas_library = MappedBlas();
  const std::string& b = s.blas_library;
  if (b.find("openblas") != std::string::npos) {
    s.blas_vendor = b.find("openmp") != std::string::npos ? "OpenBLAS (OpenMP)"
                    : b.find("pthread") != std::string::npos ? "OpenBLAS (pthreads)" : "OpenBLAS";
    s.blas_is_fast = true;
  } else if (b.find("blis") != std::string::npos) {
    s.blas_vendor = "BLIS";
    s.blas_is_fast = true;
  } else if (b.find("mkl") != std::string::npos) {
    s.blas_vendor = "Intel MKL";
    s.blas_is_fast = true;
  } else if (b.find("/blas/") != std::string::npos) {
    s.blas_vendor = "reference BLAS (slow: install libopenblas0-openmp)";
  } else {
    s.blas_vendor = b.empty() ? "none mapped" : "unknown";
  }
  // ATen's kernel level, as LibTorch's own build summary reports it.
  {
    const std::string config = at::show_config();
    const std::string key = "CPU capability usage: ";
    const auto pos = config.find(key);
    s.cpu_capability = pos == std::string::npos ? "unknown"
                                                : config.substr(pos + key.size(), config.find('\n', pos) - pos - key.size());
  }
#if AT_PARALLEL_OPENMP
  s.parallel_backend = "OpenMP";
#elif AT_PARALLEL_NATIVE
  s.parallel_backend = "native thread pool";
#else
  s.parallel_backend = "TBB";
#endif
  s.available_cores = AvailableCores();
  s.torch_threads = at::get_num_threads();
  s.torch_interop_threads = at::get_num_interop_threads();
  s.cuda_available = internal::TorchCudaAvailable();
  s.cuda_devices = std::max(0, internal::TorchCudaDeviceCount());
  return s;
}

double internal::TorchGemmGflops(int n, int threads) {
  const int previous = at::get_num_threads();
  at::set_num_threads(std::max(1, threads));
  c10::InferenceMode guard;
  torch::manual_seed(0);
  at::Tensor a = torch::rand({n, n}), b = torch::rand({n, n});
  (void)torch::mm(a, b);  // warm-up
  double best = 1e30;
  for (int i = 0; i < 3; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    at::Tensor c = torch::mm(a, b);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, s);
  }
  at::set_num_threads(previous);
  return 2.0 * n * n * static_cast<double>(n) / best / 1e9;
}

}  // namespace sense
