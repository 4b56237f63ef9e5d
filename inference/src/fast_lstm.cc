// sense::lstm_input / sense::lstm_data: see fast_lstm.h.
#include "fast_lstm.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/ThreadLocalState.h>
#include <c10/util/intrusive_ptr.h>
#include <torch/library.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>
#include <vector>

#include "lstm_kernel.h"
#include "packed_gemm.h"

namespace sense::internal {
namespace {

using Result = std::tuple<at::Tensor, at::Tensor, at::Tensor>;

struct Weights {
  at::Tensor w_ih, w_hh, bias;  // bias = b_ih + b_hh (or undefined)
};

Weights LayerWeights(const std::vector<at::Tensor>& params, bool has_biases, int64_t index) {
  const int64_t per = has_biases ? 4 : 2;
  Weights w;
  w.w_ih = params[static_cast<size_t>(index * per)];
  w.w_hh = params[static_cast<size_t>(index * per + 1)];
  if (has_biases) w.bias = params[static_cast<size_t>(index * per + 2)] + params[static_cast<size_t>(index * per + 3)];
  return w;
}

// Input projections of all steps at once: x [N, in] -> [N, 4H].
at::Tensor Project(const at::Tensor& x, const Weights& w) {
  return w.bias.defined() ? at::addmm(w.bias, x, w.w_ih.t()) : at::mm(x, w.w_ih.t());
}

// One layer and direction's weights packed for PackedMatrix, with the two
// biases summed.
struct PackedDirection {
  explicit PackedDirection(const Weights& w)
      : w_ih(Ptr(w.w_ih), w.w_ih.size(0), w.w_ih.size(1)),
        w_hh(Ptr(w.w_hh), w.w_hh.size(0), w.w_hh.size(1)),
        bias(static_cast<size_t>(w.w_hh.size(0)), 0.0f) {
    if (w.bias.defined()) {
      const at::Tensor b = w.bias.contiguous();
      std::copy(b.data_ptr<float>(), b.data_ptr<float>() + b.numel(), bias.begin());
    }
  }
  static const float* Ptr(const at::Tensor& t) {
    TORCH_CHECK(t.is_contiguous(), "sense LSTM: packing needs contiguous weights");
    return t.data_ptr<float>();
  }
  PackedMatrix w_ih, w_hh;
  std::vector<float> bias;
};

struct PackedLstm {
  std::vector<PackedDirection> dirs;  // layer * directions + direction
};

std::atomic<bool> packed_weights_enabled{true};

// Packed weights, reused across calls for the same parameter tensors: a
// model's LSTM parameters are the same tensors on every call, so the packing
// happens on the first call only. An entry is matched on the layout
// (biases, layers x directions), the identity of every parameter tensor
// (held weakly, so that a freed tensor's address is never taken for a new
// one), its data pointer and its version counter. So a parameter changed by
// an in-place ATen op on it (copy_, mul_, ...: they bump the counter) or
// replaced by another tensor is packed again; a write that bypasses the
// counter (through Tensor::data(), or to the raw memory) is not seen: the
// contract of these ops is that weights change only through ATen ops on the
// parameter tensors themselves. Inference tensors have no version counter:
// their weights are packed on every call, never cached. An entry goes when
// one of its tensors has been freed or when a newer version of the same
// tensors replaces it, checked at the next call.
class PackCache {
 public:
  std::shared_ptr<const PackedLstm> Get(const std::vector<at::Tensor>& params, bool has_biases, int64_t layers_dirs) {
    for (const auto& p : params)
      if (p.is_inference()) return Pack(params, has_biases, layers_dirs);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (auto hit = FindLocked(params, has_biases, layers_dirs)) return hit;
    }
    // Pack without the lock: other models' calls go on meanwhile. Two threads
    // may both pack the same weights on their first call; one copy is kept.
    Entry e;
    e.has_biases = has_biases;
    e.layers_dirs = layers_dirs;
    for (const auto& p : params) {
      e.refs.emplace_back(p.getIntrusivePtr());
      e.impls.push_back(p.unsafeGetTensorImpl());
      e.data.push_back(p.data_ptr());
      e.versions.push_back(p._version());
    }
    e.packed = Pack(params, has_biases, layers_dirs);
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto hit = FindLocked(params, has_biases, layers_dirs)) return hit;
    entries_.push_back(std::move(e));
    return entries_.back().packed;
  }

  size_t size() {
    std::lock_guard<std::mutex> lock(mutex_);
    return entries_.size();
  }

 private:
  using WeakImpl = c10::weak_intrusive_ptr<c10::TensorImpl, c10::UndefinedTensorImpl>;
  struct Entry {
    bool has_biases = false;
    int64_t layers_dirs = 0;
    std::vector<WeakImpl> refs;
    std::vector<const c10::TensorImpl*> impls;
    std::vector<const void*> data;
    std::vector<uint32_t> versions;
    std::shared_ptr<const PackedLstm> packed;

    bool Expired() const {
      return std::any_of(refs.begin(), refs.end(), [](const WeakImpl& r) { return r.expired(); });
    }
    bool SameTensors(const std::vector<at::Tensor>& params) const {
      if (params.size() != impls.size()) return false;
      for (size_t i = 0; i < params.size(); ++i)
        if (params[i].unsafeGetTensorImpl() != impls[i]) return false;
      return true;
    }
    // same data and version as when packed; only meaningful with SameTensors
    bool SameData(const std::vector<at::Tensor>& params) const {
      for (size_t i = 0; i < params.size(); ++i)
        if (params[i].data_ptr() != data[i] || params[i]._version() != versions[i]) return false;
      return true;
    }
  };

  // With mutex_ held: drops entries whose tensors have been freed and older
  // versions of `params` (same tensors, other data or version counters), then
  // returns the packed copy of `params` in this layout, or null.
  std::shared_ptr<const PackedLstm> FindLocked(const std::vector<at::Tensor>& params, bool has_biases,
                                               int64_t layers_dirs) {
    entries_.erase(std::remove_if(entries_.begin(), entries_.end(),
                                  [&](const Entry& e) {
                                    return e.Expired() || (e.SameTensors(params) && !e.SameData(params));
                                  }),
                   entries_.end());
    for (const Entry& e : entries_)
      if (e.has_biases == has_biases && e.layers_dirs == layers_dirs && e.SameTensors(params)) return e.packed;
    return nullptr;
  }

  static std::shared_ptr<const PackedLstm> Pack(const std::vector<at::Tensor>& params, bool has_biases,
                                                int64_t layers_dirs) {
    auto packed = std::make_shared<PackedLstm>();
    packed->dirs.reserve(static_cast<size_t>(layers_dirs));
    for (int64_t i = 0; i < layers_dirs; ++i) {
      Weights w = LayerWeights(params, has_biases, i);
      w.w_ih = w.w_ih.contiguous();
      w.w_hh = w.w_hh.contiguous();
      packed->dirs.emplace_back(w);
    }
    return packed;
  }

  std::mutex mutex_;
  std::vector<Entry> entries_;
};

PackCache& Cache() {
  static PackCache* cache = new PackCache;  // never destroyed: the apps end with _Exit
  return *cache;
}

thread_local bool fast_lstm_on = false;

// Whether the fast path applies; otherwise the call goes to at::lstm, which
// also raises the errors for malformed arguments: the kernel works on raw
// pointers, so every shape it relies on is checked here. `rows` is the
// number of input rows (N, or T * B) and `width` the input feature size; B is
// the batch (hx's second dimension).
bool Supported(const at::Tensor& input, at::TensorList hx, at::TensorList params, bool has_biases, int64_t num_layers,
               bool train, bool bidirectional) {
  if (!fast_lstm_on || train || !input.device().is_cpu() || input.scalar_type() != at::kFloat) return false;
  const int64_t dirs = bidirectional ? 2 : 1;
  if (num_layers < 1 || hx.size() != 2 || static_cast<int64_t>(params.size()) != num_layers * dirs * (has_biases ? 4 : 2))
    return false;
  const bool grad = at::GradMode::is_enabled();
  if (grad && input.requires_grad()) return false;
  for (const auto& t : hx)
    if (!t.device().is_cpu() || t.scalar_type() != at::kFloat || (grad && t.requires_grad())) return false;
  for (const auto& p : params)
    if (!p.device().is_cpu() || p.scalar_type() != at::kFloat || (grad && p.requires_grad())) return false;
  // every layer and direction: w_ih [4H, in_l], w_hh [4H, H] (proj_size would
  // make it [4H, P]), biases [4H]; states [layers * dirs, B, H]
  const int64_t H = params[1].dim() == 2 ? params[1].size(1) : -1;
  if (H < 1 || input.dim() < 2) return false;
  const int64_t per = has_biases ? 4 : 2;
  for (int64_t l = 0; l < num_layers; ++l)
    for (int64_t d = 0; d < dirs; ++d) {
      const int64_t i = (l * dirs + d) * per;
      const int64_t in = l == 0 ? input.size(-1) : dirs * H;
      const at::Tensor& w_ih = params[static_cast<size_t>(i)];
      const at::Tensor& w_hh = params[static_cast<size_t>(i + 1)];
      if (w_ih.dim() != 2 || w_ih.size(0) != 4 * H || w_ih.size(1) != in) return false;
      if (w_hh.dim() != 2 || w_hh.size(0) != 4 * H || w_hh.size(1) != H) return false;
      for (int64_t b = 2; b < per; ++b)
        if (params[static_cast<size_t>(i + b)].numel() != 4 * H) return false;
    }
  for (const auto& t : hx)
    if (t.dim() != 3 || t.size(0) != num_layers * dirs || t.size(2) != H || !t.sizes().equals(hx[0].sizes()))
      return false;
  return true;
}

// The recurrence over sequences laid out as pack_padded_sequence lays them
// out: x [N, in], time step t holds the first batch_sizes[t] sequences
// (sorted by decreasing length), N = sum of batch_sizes. A dense [T, B, in]
// batch is the case batch_sizes = T times B. Returns output [N, dirs * H],
// h_n and c_n.
Result Recurrence(at::Tensor x, const std::vector<int64_t>& batch_sizes, at::TensorList hx,
                  at::TensorList params_list, bool has_biases, int64_t num_layers, bool bidirectional) {
  const std::vector<at::Tensor> params(params_list.begin(), params_list.end());
  const int64_t T = static_cast<int64_t>(batch_sizes.size());
  std::vector<int64_t> offset(batch_sizes.size() + 1, 0);
  for (size_t t = 0; t < batch_sizes.size(); ++t) offset[t + 1] = offset[t] + batch_sizes[t];
  const int64_t dirs = bidirectional ? 2 : 1;
  const int64_t B = T > 0 ? batch_sizes[0] : 0;
  const int64_t H = params[1].size(1);
  const std::shared_ptr<const PackedLstm> packed =
      packed_weights_enabled && PackedMatrix::Available() ? Cache().Get(params, has_biases, num_layers * dirs) : nullptr;
  at::Tensor h_n = at::empty({num_layers * dirs, B, H}, x.options());
  at::Tensor c_n = at::empty({num_layers * dirs, B, H}, x.options());
  for (int64_t layer = 0; layer < num_layers; ++layer) {
    at::Tensor out = at::empty({x.size(0), dirs * H}, x.options());
    std::vector<Weights> w;  // without packed copies: the weights as given
    std::vector<at::Tensor> proj;
    for (int64_t d = 0; d < dirs; ++d) {  // input projections: matrix products over all threads
      if (packed) {
        const PackedDirection& pd = packed->dirs[static_cast<size_t>(layer * dirs + d)];
        proj.push_back(at::empty({x.size(0), 4 * H}, x.options()));
        pd.w_ih.MultiplyAdd(x.data_ptr<float>(), x.size(1), x.size(0), pd.bias.data(), 0, proj.back().data_ptr<float>(),
                            4 * H, /*parallel=*/true);
      } else {
        w.push_back(LayerWeights(params, has_biases, layer * dirs + d));
        proj.push_back(Project(x, w.back()));
      }
    }
    // the directions' recurrences are independent: one per thread when there
    // are two. The worker thread takes the caller's thread-local state
    // (inference mode, grad mode), which ATen's OpenMP parallel_for does not pass.
    const at::ThreadLocalState caller_state;
    at::parallel_for(0, dirs, 1, [&](int64_t begin, int64_t end) {
      at::ThreadLocalStateGuard state(caller_state);
      for (int64_t d = begin; d < end; ++d) {
        const int64_t idx = layer * dirs + d;
        at::Tensor gates = at::empty({std::max<int64_t>(B, 1), 4 * H}, x.options());
        at::Tensor h = hx[0][idx].contiguous().clone();
        at::Tensor c = hx[1][idx].contiguous().clone();
        const at::Tensor w_hh_t = packed ? at::Tensor() : w[static_cast<size_t>(d)].w_hh.t();
        for (int64_t s = 0; s < T; ++s) {
          const size_t t = static_cast<size_t>(d == 0 ? s : T - 1 - s);
          const int64_t rows = batch_sizes[t], off = offset[t];
          float* g = gates.data_ptr<float>();
          if (packed) {
            packed->dirs[static_cast<size_t>(idx)].w_hh.MultiplyAdd(h.data_ptr<float>(), H, rows,
                                                                   proj[static_cast<size_t>(d)].data_ptr<float>() + off * 4 * H,
                                                                   4 * H, g, 4 * H, /*parallel=*/false);
          } else {
            at::Tensor gv = gates.narrow(0, 0, rows);
            at::addmm_out(gv, proj[static_cast<size_t>(d)].narrow(0, off, rows), h.narrow(0, 0, rows), w_hh_t);
          }
          GateStep(g, rows, H, h.data_ptr<float>(), c.data_ptr<float>(),
                   out.data_ptr<float>() + off * dirs * H + d * H, dirs * H);
        }
        h_n[idx].copy_(h);
        c_n[idx].copy_(c);
      }
    });
    x = out;
  }
  return {x, h_n, c_n};
}

}  // namespace

Result LstmInput(const at::Tensor& input, at::TensorList hx, at::TensorList params, bool has_biases, int64_t num_layers,
                 double dropout, bool train, bool bidirectional, bool batch_first) {
  if (!Supported(input, hx, params, has_biases, num_layers, train, bidirectional) || input.dim() != 3 ||
      input.size(batch_first ? 0 : 1) != hx[0].size(1))
    return at::lstm(input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first);
  const at::Tensor x = (batch_first ? input.transpose(0, 1) : input).contiguous();  // [T, B, in]
  const int64_t T = x.size(0), B = x.size(1);
  auto [out, h_n, c_n] = Recurrence(x.reshape({T * B, x.size(2)}), std::vector<int64_t>(static_cast<size_t>(T), B), hx,
                                    params, has_biases, num_layers, bidirectional);
  out = out.view({T, B, out.size(1)});
  return {batch_first ? out.transpose(0, 1) : out, h_n, c_n};
}

Result LstmData(const at::Tensor& data, const at::Tensor& batch_sizes, at::TensorList hx, at::TensorList params,
                bool has_biases, int64_t num_layers, double dropout, bool train, bool bidirectional) {
  if (!Supported(data, hx, params, has_biases, num_layers, train, bidirectional) || data.dim() != 2 ||
      !batch_sizes.device().is_cpu() || batch_sizes.scalar_type() != at::kLong)
    return at::lstm(data, batch_sizes, hx, params, has_biases, num_layers, dropout, train, bidirectional);
  const at::Tensor bs = batch_sizes.contiguous();
  std::vector<int64_t> sizes(bs.data_ptr<int64_t>(), bs.data_ptr<int64_t>() + bs.numel());
  // as pack_padded_sequence makes them: non-increasing, at least 1, summing to
  // the rows of data, the first equal to the states' batch
  bool valid = !sizes.empty() && sizes[0] == hx[0].size(1);
  int64_t total = 0;
  for (size_t t = 0; valid && t < sizes.size(); ++t) {
    valid = sizes[t] >= 1 && (t == 0 || sizes[t] <= sizes[t - 1]);
    total += sizes[t];
  }
  if (!valid || total != data.size(0))
    return at::lstm(data, batch_sizes, hx, params, has_biases, num_layers, dropout, train, bidirectional);
  return Recurrence(data.contiguous(), sizes, hx, params, has_biases, num_layers, bidirectional);
}

namespace {

TORCH_LIBRARY(sense, m) {
  m.def("lstm_input(Tensor input, Tensor[] hx, Tensor[] params, bool has_biases, int num_layers, float dropout, "
        "bool train, bool bidirectional, bool batch_first) -> (Tensor, Tensor, Tensor)",
        &LstmInput);
  m.def("lstm_data(Tensor data, Tensor batch_sizes, Tensor[] hx, Tensor[] params, bool has_biases, int num_layers, "
        "float dropout, bool train, bool bidirectional) -> (Tensor, Tensor, Tensor)",
        &LstmData);
}

int ReplaceIn(torch::jit::Block* block, torch::jit::Graph& graph) {
  static const auto kLstm = c10::Symbol::fromQualString("aten::lstm");
  static const auto kInput = c10::Symbol::fromQualString("sense::lstm_input");
  static const auto kData = c10::Symbol::fromQualString("sense::lstm_data");
  int replaced = 0;
  for (auto it = block->nodes().begin(); it != block->nodes().end();) {
    torch::jit::Node* node = *it;
    ++it;  // before node may be destroyed
    for (torch::jit::Block* sub : node->blocks()) replaced += ReplaceIn(sub, graph);
    if (node->kind() != kLstm || node->inputs().size() != 9 || node->outputs().size() != 3) continue;
    const auto* schema = node->maybeSchema();
    if (schema == nullptr) continue;
    const bool packed = schema->overload_name() == "data";
    if (!packed && schema->overload_name() != "input") continue;
    torch::jit::Node* fast = graph.create(packed ? kData : kInput, node->inputs(), 3);
    fast->insertBefore(node);
    for (size_t i = 0; i < 3; ++i) {
      fast->output(i)->setType(node->output(i)->type());
      node->output(i)->replaceAllUsesWith(fast->output(i));
    }
    node->destroy();
    ++replaced;
  }
  return replaced;
}

}  // namespace

void SetPackedWeightsForTesting(bool on) { packed_weights_enabled = on; }

size_t PackedWeightCacheSizeForTesting() { return Cache().size(); }

int ParallelThreadsForTesting(int64_t tasks) {
  std::mutex mutex;
  std::set<std::thread::id> ids;
  at::parallel_for(0, tasks, 1, [&](int64_t, int64_t) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // long enough for the other threads to take tasks
    std::lock_guard<std::mutex> lock(mutex);
    ids.insert(std::this_thread::get_id());
  });
  return static_cast<int>(ids.size());
}

FastLstmScope::FastLstmScope(bool on) : previous_(fast_lstm_on) { fast_lstm_on = on; }
FastLstmScope::~FastLstmScope() { fast_lstm_on = previous_; }

int ReplaceLstmNodes(torch::jit::Graph& graph) { return ReplaceIn(graph.block(), graph); }

}  // namespace sense::internal
