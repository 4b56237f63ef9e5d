// PackedMatrix: see packed_gemm.h.
#include "packed_gemm.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace sense::internal {
namespace {

constexpr int64_t kPanel = 16;  // outputs per panel: two 8-float AVX registers

// c[r, 0 .. 16P) = init[r, ..] + a[r, :] W^T for R rows and P panels that start
// at w (panel stride ps floats). R x 2P accumulators: 12 for 6 x 1, 8 for
// 1 x 4 and 2 x 2, enough independent chains to hide the FMA latency.
template <int R, int P>
__attribute__((target("avx2,fma"))) void Tile(const float* __restrict a, int64_t lda, int64_t K,
                                              const float* __restrict w, int64_t ps, const float* init, int64_t ldi,
                                              float* c, int64_t ldc) {
  __m256 acc[R][2 * P];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int q = 0; q < 2 * P; ++q) acc[r][q] = _mm256_loadu_ps(init + r * ldi + q * 8);
  for (int64_t k = 0; k < K; ++k) {
    __m256 wv[2 * P];
#pragma GCC unroll 8
    for (int q = 0; q < 2 * P; ++q) wv[q] = _mm256_loadu_ps(w + (q / 2) * ps + k * kPanel + (q % 2) * 8);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m256 x = _mm256_set1_ps(a[r * lda + k]);  // vbroadcastss; a plain load that sanitizers see
#pragma GCC unroll 8
      for (int q = 0; q < 2 * P; ++q) acc[r][q] = _mm256_fmadd_ps(wv[q], x, acc[r][q]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int q = 0; q < 2 * P; ++q) _mm256_storeu_ps(c + r * ldc + q * 8, acc[r][q]);
}

// One panel for any number of rows, in tiles of up to 6.
void Column(const float* a, int64_t lda, int64_t m, int64_t K, const float* w, const float* init, int64_t ldi,
            float* c, int64_t ldc) {
  for (int64_t r = 0; r < m; r += 6) {
    const float* ar = a + r * lda;
    const float* ir = init + r * ldi;
    float* cr = c + r * ldc;
    switch (std::min<int64_t>(6, m - r)) {
      case 6: Tile<6, 1>(ar, lda, K, w, 0, ir, ldi, cr, ldc); break;
      case 5: Tile<5, 1>(ar, lda, K, w, 0, ir, ldi, cr, ldc); break;
      case 4: Tile<4, 1>(ar, lda, K, w, 0, ir, ldi, cr, ldc); break;
      case 3: Tile<3, 1>(ar, lda, K, w, 0, ir, ldi, cr, ldc); break;
      case 2: Tile<2, 1>(ar, lda, K, w, 0, ir, ldi, cr, ldc); break;
      default: Tile<1, 1>(ar, lda, K, w, 0, ir, ldi, cr, ldc); break;
    }
  }
}

}  // namespace

PackedMatrix::PackedMatrix(const float* w, int64_t n, int64_t k)
    : n_(n), k_(k), panels_((n + kPanel - 1) / kPanel), data_(static_cast<size_t>(panels_ * k * kPanel), 0.0f) {
  for (int64_t p = 0; p < panels_; ++p)
    for (int64_t j = 0; j < kPanel && p * kPanel + j < n; ++j) {
      const float* row = w + (p * kPanel + j) * k;
      float* dst = data_.data() + p * k * kPanel + j;
      for (int64_t kk = 0; kk < k; ++kk) dst[kk * kPanel] = row[kk];
    }
}

bool PackedMatrix::Available() {
  static const bool available = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return available;
}

void PackedMatrix::Panels(const float* a, int64_t lda, int64_t m, const float* init, int64_t ldi, float* c,
                          int64_t ldc, int64_t begin, int64_t end) const {
  const int64_t ps = k_ * kPanel;
  const int64_t full_end = std::min(end, n_ / kPanel);  // panels whose 16 outputs all exist
  int64_t p = begin;
  const auto panel = [&](int64_t q) { return data_.data() + q * ps; };
  if (m == 1)
    for (; p + 4 <= full_end; p += 4) Tile<1, 4>(a, lda, k_, panel(p), ps, init + p * kPanel, ldi, c + p * kPanel, ldc);
  else if (m == 2)
    for (; p + 2 <= full_end; p += 2) Tile<2, 2>(a, lda, k_, panel(p), ps, init + p * kPanel, ldi, c + p * kPanel, ldc);
  for (; p < full_end; ++p) Column(a, lda, m, k_, panel(p), init + p * kPanel, ldi, c + p * kPanel, ldc);
  if (p < end) {  // the last, partial panel: through 16-wide scratch rows
    const int64_t cols = n_ - p * kPanel;
    for (int64_t r = 0; r < m; ++r) {
      float in[kPanel] = {}, out[kPanel];
      std::copy(init + r * ldi + p * kPanel, init + r * ldi + p * kPanel + cols, in);
      Tile<1, 1>(a + r * lda, lda, k_, panel(p), ps, in, 0, out, 0);
      std::copy(out, out + cols, c + r * ldc + p * kPanel);
    }
  }
}

void PackedMatrix::MultiplyAdd(const float* a, int64_t lda, int64_t m, const float* init, int64_t ldi, float* c,
                               int64_t ldc, bool parallel) const {
  if (m <= 0) return;
  if (lda < k_ || ldc < n_ || (ldi != 0 && ldi < n_))
    throw std::invalid_argument("PackedMatrix::MultiplyAdd: strides lda " + std::to_string(lda) + ", ldc " +
                                std::to_string(ldc) + ", ldi " + std::to_string(ldi) + " too small for a " +
                                std::to_string(n_) + " x " + std::to_string(k_) + " matrix");
  const int64_t per_panel = m * k_ * kPanel;  // multiply-adds
  constexpr int64_t kGrain = int64_t{1} << 18;  // below this a thread costs more than it saves
  const int64_t min_panels = std::max<int64_t>(1, kGrain / per_panel);
  const int64_t threads = std::min<int64_t>(omp_get_max_threads(), (panels_ + min_panels - 1) / min_panels);
  if (!parallel || per_panel * panels_ < 2 * kGrain || threads < 2 || omp_in_parallel()) {
    Panels(a, lda, m, init, ldi, c, ldc, 0, panels_);
    return;
  }
  // the calling thread's OpenMP count (what ThreadScope sets), in contiguous
  // runs of panels as ATen's parallel_for splits them
#pragma omp parallel num_threads(static_cast<int>(threads))
  {
    const int64_t nt = omp_get_num_threads(), chunk = (panels_ + nt - 1) / nt;
    const int64_t begin = omp_get_thread_num() * chunk, end = std::min(panels_, begin + chunk);
    if (begin < end) Panels(a, lda, m, init, ldi, c, ldc, begin, end);
  }
}

}  // namespace sense::internal
