// sense's own LSTM for CPU inference, and the graph rewrite that puts it in
// place of aten::lstm in a frozen TorchScript graph. Internal to the
// inference layer (torch headers).
//
// Why: aten::lstm's CPU path spends most of a small model's time outside the
// arithmetic. Per time step and direction it dispatches about a dozen ATen ops
// (the recurrent matrix product, chunk, three sigmoids, two tanhs, products
// and sums), each with its own allocation, which for one sentence costs more
// than the recurrent matrix-vector product itself, and OpenBLAS repacks the
// weights on every matrix product. sense::lstm_input / sense::lstm_data
// compute the same recurrence with one matrix product per step into a reused
// buffer and one fused pass over the gates; on CPUs with AVX2 and FMA the
// products run against copies of the weights packed on the first call
// (packed_gemm.h) and kept between calls for the same weight tensors.
//
// Contract: same schema and results as aten::lstm.input / aten::lstm.data
// (PyTorch's gate order i, f, g, o; biases b_ih + b_hh; packed sequences as
// pack_padded_sequence makes them). Float32 CPU tensors in inference (no
// autograd, train = false, no proj_size) inside a FastLstmScope; any other
// call is passed to at::lstm unchanged, so the rewrite never changes what a
// graph can run. Malformed arguments are passed to at::lstm too, which
// raises its own errors. Weights may change between calls only through
// ATen ops on the parameter tensors (copy_, mul_, ...), which the cache of
// packed copies sees; writes that bypass the tensors' version counters
// (Tensor::data(), raw memory) are not seen.
// Thread safety: the ops are re-entrant; the cache of packed weights is
// shared and locked.
#ifndef SENSE_INFERENCE_SRC_FAST_LSTM_H_
#define SENSE_INFERENCE_SRC_FAST_LSTM_H_

#include <ATen/ATen.h>
#include <torch/csrc/jit/ir/ir.h>

#include <tuple>

#include "lstm_kernel.h"  // FastTanh, for the tests that include this header

namespace sense::internal {

// Turns the kernel on for the calls made on this thread while it lives
// (nestable). Off, the sense ops call at::lstm: a rewritten graph then
// computes exactly what the original did, which is how a model is checked
// at load and how it runs if the check fails. Work forked to other threads
// (torch.jit.fork) runs with the kernel off.
class FastLstmScope {
 public:
  explicit FastLstmScope(bool on);
  ~FastLstmScope();
  FastLstmScope(const FastLstmScope&) = delete;
  FastLstmScope& operator=(const FastLstmScope&) = delete;

 private:
  bool previous_;
};

// Replaces every aten::lstm node (input and data overloads, in nested blocks
// too) of `graph` by the sense op with the same inputs and outputs. Returns
// how many it replaced.
int ReplaceLstmNodes(torch::jit::Graph& graph);

// The kernels behind sense::lstm_input and sense::lstm_data, with
// aten::lstm's arguments and results (output, h_n, c_n).
std::tuple<at::Tensor, at::Tensor, at::Tensor> LstmInput(const at::Tensor& input, at::TensorList hx, at::TensorList params,
                                                         bool has_biases, int64_t num_layers, double dropout, bool train,
                                                         bool bidirectional, bool batch_first);
std::tuple<at::Tensor, at::Tensor, at::Tensor> LstmData(const at::Tensor& data, const at::Tensor& batch_sizes,
                                                        at::TensorList hx, at::TensorList params, bool has_biases,
                                                        int64_t num_layers, double dropout, bool train,
                                                        bool bidirectional);

// For tests: the number of weight sets held packed now, and the number of
// distinct threads that one at::parallel_for over `tasks` tasks runs on from
// this library's code (2 for 2 tasks at 2 threads when OpenMP is on; 1 when
// the library was built without it and ATen's parallel_for runs serially).
size_t PackedWeightCacheSizeForTesting();
int ParallelThreadsForTesting(int64_t tasks);

// Off, the kernel multiplies by the weights as given (ATen / OpenBLAS
// matrix products) instead of by its packed copies; for tests.
void SetPackedWeightsForTesting(bool on);

}  // namespace sense::internal

#endif  // SENSE_INFERENCE_SRC_FAST_LSTM_H_
