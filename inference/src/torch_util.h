// Internal: conversions between sense::Tensor and at::Tensor. Not installed.
#ifndef SENSE_INFERENCE_SRC_TORCH_UTIL_H_
#define SENSE_INFERENCE_SRC_TORCH_UTIL_H_

#include <ATen/ATen.h>

#include <string>

#include "sense/inference/tensor.h"

namespace sense::internal {

// Zero-copy CPU view of a sense tensor (valid while `t` lives).
at::Tensor ToTorch(const Tensor& t);
// Copies to a CPU sense tensor (half/bfloat16 become float32).
Tensor FromTorch(const at::Tensor& t, const std::string& what);

}  // namespace sense::internal

#endif  // SENSE_INFERENCE_SRC_TORCH_UTIL_H_
