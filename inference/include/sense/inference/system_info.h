// sense/inference/system_info.h — what the math stack underneath sense is:
// BLAS library in use, thread counts, CPU capability, LibTorch/OpenCV
// versions, CUDA. Shown by `sense-info --system` so a slow set-up is visible.
//
// Thread safety: SystemInfo() only reads process state; MeasureGemmGflops
// runs a matrix product with the given thread count on the calling thread.
#ifndef SENSE_INFERENCE_SYSTEM_INFO_H_
#define SENSE_INFERENCE_SYSTEM_INFO_H_

#include <string>
#include <vector>

namespace sense {

struct SystemInfo {
  std::string sense_version;
  std::string torch_version;
  std::string opencv_version;
  std::string blas_library;   // resolved path of the libblas.so.3 mapped into this process
  std::string blas_vendor;    // "OpenBLAS (openmp)", "reference BLAS", ...
  bool blas_is_fast = false;  // an optimised BLAS (OpenBLAS, BLIS, MKL)
  std::string cpu_capability;  // ATen kernel level: "DEFAULT", "AVX2", "AVX512"
  std::string parallel_backend;  // "OpenMP", ...
  int available_cores = 1;
  int torch_threads = 1;        // at::get_num_threads() of the calling thread
  int torch_interop_threads = 1;
  bool cuda_available = false;
  int cuda_devices = 0;
};

SystemInfo GetSystemInfo();

// Times a float32 n x n x n matrix product through LibTorch (hence the
// system BLAS) with `threads` threads; returns GFLOP/s (best of a few runs).
double MeasureGemmGflops(int n, int threads);

std::string SenseVersion();

}  // namespace sense

#endif  // SENSE_INFERENCE_SYSTEM_INFO_H_
