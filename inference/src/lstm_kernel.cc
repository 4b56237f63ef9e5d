// The fused LSTM gate pass: see lstm_kernel.h.
#include "lstm_kernel.h"

#include <algorithm>

namespace sense::internal {
namespace {

// Rational approximation of tanh on [-7.9, 7.9] (beyond it tanh is +-1 in
// float), the form Eigen and XNNPACK use; written branch-free so that loops
// over it vectorise.
inline float TanhApprox(float x) {
  constexpr float kClamp = 7.90531110763549805f;
  x = x < -kClamp ? -kClamp : x;
  x = x > kClamp ? kClamp : x;
  const float x2 = x * x;
  float p = -2.76076847742355e-16f;
  p = p * x2 + 2.00018790482477e-13f;
  p = p * x2 + -8.60467152213735e-11f;
  p = p * x2 + 5.12229709037114e-08f;
  p = p * x2 + 1.48572235717979e-05f;
  p = p * x2 + 6.37261928875436e-04f;
  p = p * x2 + 4.89352455891786e-03f;
  p = p * x;
  float q = 1.19825839466702e-06f;
  q = q * x2 + 1.18534705686654e-04f;
  q = q * x2 + 2.26843463243900e-03f;
  q = q * x2 + 4.89352518554385e-03f;
  return p / q;
}

// The loops below are built for SSE2 and AVX2, picked at run time (GCC
// function multi-versioning); CMake compiles this file with
// -fno-trapping-math so that the clamps become vector min/max.
#define SENSE_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))

SENSE_VECTOR_CLONES void SigmoidInPlace(float* __restrict v, int64_t n) {
  for (int64_t k = 0; k < n; ++k) v[k] = 0.5f + 0.5f * TanhApprox(0.5f * v[k]);
}

SENSE_VECTOR_CLONES void TanhInPlace(float* __restrict v, int64_t n) {
  for (int64_t k = 0; k < n; ++k) v[k] = TanhApprox(v[k]);
}

// c = f * c + i * g; h = o * tanh(c)
SENSE_VECTOR_CLONES void CellUpdate(const float* __restrict i, const float* __restrict f, const float* __restrict g,
                const float* __restrict o, float* __restrict c, float* __restrict h, int64_t n) {
  for (int64_t k = 0; k < n; ++k) {
    const float cn = f[k] * c[k] + i[k] * g[k];
    c[k] = cn;
    h[k] = o[k] * TanhApprox(cn);
  }
}

}  // namespace

// One step for `rows` sequences: gates [rows, 4H] (pre-activations, i f g o;
// overwritten) -> new c and h in place; h also copied to `out` rows (stride
// out_stride).
void GateStep(float* gates, int64_t rows, int64_t H, float* h, float* c, float* out, int64_t out_stride) {
  for (int64_t r = 0; r < rows; ++r) {
    float* g = gates + r * 4 * H;
    float* hr = h + r * H;
    SigmoidInPlace(g, 2 * H);  // i, f
    TanhInPlace(g + 2 * H, H);  // g
    SigmoidInPlace(g + 3 * H, H);  // o
    CellUpdate(g, g + H, g + 2 * H, g + 3 * H, c + r * H, hr, H);
    std::copy(hr, hr + H, out + r * out_stride);
  }
}

float FastTanh(float x) { return TanhApprox(x); }

}  // namespace sense::internal
