// A weight matrix repacked once for the small matrix products of recurrent
// inference: c = init + a W^T with few rows in a (one per sequence in a
// recurrent step, one per token in an input projection). Internal to the
// inference layer.
//
// Why: OpenBLAS repacks W on every sgemm call. For the input projection of a
// sentence (25 x 281 times 281 x 896) that copy costs as much as the
// arithmetic; packed once and kept (the LSTM kernel keeps a model's packed
// weights between calls), it is gone. The products run in an AVX2 +
// FMA micro-kernel (6 rows x 16 columns, or 1-2 rows x 64 columns so that a
// single row still has eight independent accumulators).
//
// Contract: float32, row-major, finite or not (no special cases). Each output
// is init + sum over k in increasing k of a[r, k] * W[j, k], fused
// multiply-adds in float32; the result differs from OpenBLAS's only in
// rounding (summation order). Needs a CPU with AVX2 and FMA: check
// Available() first.
// Thread safety: a PackedMatrix is immutable after construction; MultiplyAdd
// may run on several threads at once.
#ifndef SENSE_INFERENCE_SRC_PACKED_GEMM_H_
#define SENSE_INFERENCE_SRC_PACKED_GEMM_H_

#include <cstdint>
#include <vector>

namespace sense::internal {

class PackedMatrix {
 public:
  // w: row-major [n, k], copied; columns are padded to panels of 16 outputs.
  PackedMatrix(const float* w, int64_t n, int64_t k);

  // Whether this CPU runs the kernel (AVX2 and FMA).
  static bool Available();

  int64_t n() const { return n_; }
  int64_t k() const { return k_; }

  // For r < m: c[r * ldc + j] = init[r * ldi + j] + sum_k a[r * lda + k] * W[j, k],
  // j < n. ldi = 0 adds the same row (a bias) to every row; c may be init
  // (same stride) but must not overlap a. Needs lda >= k, ldc >= n and
  // ldi = 0 or >= n (checked: std::invalid_argument). With parallel, large
  // products are split over the calling thread's OpenMP threads by column
  // panels (serial inside a parallel region).
  void MultiplyAdd(const float* a, int64_t lda, int64_t m, const float* init, int64_t ldi, float* c, int64_t ldc,
                   bool parallel) const;

 private:
  void Panels(const float* a, int64_t lda, int64_t m, const float* init, int64_t ldi, float* c, int64_t ldc,
              int64_t begin, int64_t end) const;

  int64_t n_, k_, panels_;
  std::vector<float> data_;  // panel p, step k: W[16p .. 16p + 15, k], zero past n
};

}  // namespace sense::internal

#endif  // SENSE_INFERENCE_SRC_PACKED_GEMM_H_
