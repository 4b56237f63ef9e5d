// Internal: the fused gate pass of sense's LSTM kernels, on raw float32
// buffers, without LibTorch: used by the LibTorch op (fast_lstm.h) and by the
// native backend (native_backend.cc). Not installed.
//
// Contract: PyTorch's gate order i, f, g, o; sigmoid and tanh through one
// rational approximation of tanh (|error| below 4e-7 over all floats).
// Thread safety: pure functions of their arguments.
#ifndef SENSE_INFERENCE_SRC_LSTM_KERNEL_H_
#define SENSE_INFERENCE_SRC_LSTM_KERNEL_H_

#include <cstdint>

namespace sense::internal {

// One step for `rows` sequences: gates [rows, 4H] (pre-activations i, f, g, o;
// overwritten) -> the new c and h [rows, H] in place; h is also copied to
// row r of `out` (stride out_stride).
void GateStep(float* gates, int64_t rows, int64_t H, float* h, float* c, float* out, int64_t out_stride);

// tanh as the fused pass computes it; exposed for its test.
float FastTanh(float x);

}  // namespace sense::internal

#endif  // SENSE_INFERENCE_SRC_LSTM_KERNEL_H_
