// The native backend: TorchScript bundles whose code is one of sense's own
// architectures, run by sense's kernels without LibTorch (see backends.h).
//
// One architecture so far: the BiLSTM-CNN tagger that scripts/train_ner.py
// exports (Tagger -> Ensemble of QCore members; models/ner-conll2003.pt).
// Its TorchScript code is recognised by a hash of the archive's code records,
// so that a change to the exported classes falls back to LibTorch instead of
// being run with the wrong arithmetic; the weights, vocabularies and
// constants are read from data.pkl and its storages. Tagger.forward, as
// scripted, is reproduced step by step below (word segmentation of the
// character pieces, the two polynomial word hashes and their sorted table,
// the character CNN with its masked max, the packed BiLSTM, the projection
// and the members' mean); tests/inference/native_backend_test.cc checks it
// against LibTorch on real text.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "backends.h"
#include "lstm_kernel.h"
#include "packed_gemm.h"
#include "torch_pickle.h"
#include "zip_archive.h"

namespace sense::internal {
namespace {

using Kind = PickleValue::Kind;

// FNV-1a 64 over "name\0content\0" of the code/ records (not the debug
// tables) in name order, for the code that train_ner.py's Tagger with a
// three-member Ensemble of QCores scripts to under LibTorch 1.13.
constexpr std::uint64_t kTaggerCodeHash = 0x0b2f4799b7de49e8ull;

struct NotNative : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::uint64_t CodeHash(const ZipArchive& zip) {
  std::vector<std::string> names;
  for (const auto& n : zip.names())
    if (n.rfind("code/", 0) == 0 && (n.size() < 10 || n.compare(n.size() - 10, 10, ".debug_pkl") != 0)) names.push_back(n);
  std::sort(names.begin(), names.end());
  std::uint64_t h = 0xcbf29ce484222325ull;
  auto add = [&h](const char* p, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) h = (h ^ static_cast<unsigned char>(p[i])) * 0x100000001b3ull;
  };
  for (const auto& n : names) {
    const std::string text = zip.Read(n);
    add(n.c_str(), n.size() + 1);
    add(text.c_str(), text.size() + 1);
  }
  return h;
}

// Typed access to the module tree and its tensors.
class Reader {
 public:
  explicit Reader(const ZipArchive& zip) : zip_(zip) {}

  static const PickleValue& Attr(const PickleValue& obj, const std::string& name) {
    const PickleValue* v = obj.Attr(name);
    if (v == nullptr) throw NotNative("module " + obj.text + " has no attribute '" + name + "'");
    return *v;
  }
  static const PickleValue& Module(const PickleValue& obj, const std::string& name, const std::string& cls) {
    const PickleValue& m = Attr(obj, name);
    if (m.kind != Kind::kObject || m.text != cls) throw NotNative("'" + name + "' is not a " + cls);
    if (const PickleValue* t = m.Attr("training"); t == nullptr || t->kind != Kind::kBool || t->boolean)
      throw NotNative("module '" + name + "' is in training mode");
    return m;
  }
  static std::int64_t Int(const PickleValue& obj, const std::string& name) {
    const PickleValue& v = Attr(obj, name);
    if (v.kind != Kind::kInt) throw NotNative("attribute '" + name + "' is not an int");
    return v.integer;
  }
  static bool Bool(const PickleValue& obj, const std::string& name) {
    const PickleValue& v = Attr(obj, name);
    if (v.kind != Kind::kBool) throw NotNative("attribute '" + name + "' is not a bool");
    return v.boolean;
  }
  // A contiguous tensor attribute of element type `dtype` ("Float", "Long",
  // "Char") and the given shape (-1: any), copied out of its storage.
  template <typename T>
  std::vector<T> Tensor(const PickleValue& obj, const std::string& name, const std::string& dtype,
                        std::vector<std::int64_t>* shape) {
    const PickleValue& t = Attr(obj, name);
    if (t.kind != Kind::kTensor || t.text != dtype) throw NotNative("'" + name + "' is not a " + dtype + " tensor");
    std::int64_t numel = 1, stride = 1;
    for (std::size_t d = t.sizes.size(); d-- > 0;) {
      if (t.sizes[d] != 1 && t.strides[d] != stride) throw NotNative("tensor '" + name + "' is not contiguous");
      stride *= t.sizes[d];
    }
    for (auto s : t.sizes) numel *= s;
    if (shape != nullptr) {
      if (shape->size() != t.sizes.size()) throw NotNative("tensor '" + name + "' has rank " + std::to_string(t.sizes.size()));
      for (std::size_t d = 0; d < shape->size(); ++d) {
        if ((*shape)[d] >= 0 && (*shape)[d] != t.sizes[d]) throw NotNative("tensor '" + name + "' has an unexpected shape");
        (*shape)[d] = t.sizes[d];
      }
    }
    const std::string& bytes = Storage(t.storage_key);
    if (bytes.size() != static_cast<std::size_t>(t.storage_numel) * sizeof(T) || t.offset < 0 ||
        t.offset + numel > t.storage_numel)
      throw NotNative("storage of tensor '" + name + "' does not hold it");
    std::vector<T> out(static_cast<std::size_t>(numel));
    if (numel > 0) std::memcpy(out.data(), bytes.data() + t.offset * static_cast<std::int64_t>(sizeof(T)), out.size() * sizeof(T));
    return out;
  }

 private:
  const std::string& Storage(const std::string& key) {
    auto it = storages_.find(key);
    if (it == storages_.end()) it = storages_.emplace(key, zip_.Read("data/" + key)).first;
    return it->second;
  }
  const ZipArchive& zip_;
  std::map<std::string, std::string> storages_;
};

// c[r, :] = init + a[r, :] W^T for a row-major W [n, k]: through the packed
// AVX2 kernel where the CPU has it, else plain loops.
class Linear {
 public:
  Linear() = default;
  Linear(std::vector<float> w, std::vector<float> bias, std::int64_t n, std::int64_t k)
      : w_(std::move(w)), bias_(std::move(bias)), n_(n), k_(k) {
    if (PackedMatrix::Available()) packed_ = std::make_shared<PackedMatrix>(w_.data(), n_, k_);
  }
  // rows of a (stride k) -> rows of c (stride n), adding `init` rows (stride
  // n) or the bias when init is nullptr
  void Apply(const float* a, std::int64_t rows, const float* init, float* c) const {
    const float* in = init != nullptr ? init : bias_.data();
    const std::int64_t ldi = init != nullptr ? n_ : 0;
    if (packed_) {
      packed_->MultiplyAdd(a, k_, rows, in, ldi, c, n_, /*parallel=*/false);
      return;
    }
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t j = 0; j < n_; ++j) {
        const float* wr = w_.data() + j * k_;
        const float* ar = a + r * k_;
        float s = in[r * ldi + j];
        for (std::int64_t q = 0; q < k_; ++q) s += ar[q] * wr[q];
        c[r * n_ + j] = s;
      }
  }

 private:
  std::vector<float> w_, bias_;
  std::int64_t n_ = 0, k_ = 0;
  std::shared_ptr<PackedMatrix> packed_;
};

struct Member {
  std::int64_t word_dim = 0, filters = 0, hidden = 0;
  std::vector<std::int8_t> wq;  // [rows, word_dim]
  std::vector<float> ws;        // [rows]
  // the character CNN folded into per-character tables: tap[k][ch * F + f] =
  // sum_d conv.weight[f, d, k] * char_emb[ch, d]
  std::vector<float> tap[3], conv_bias;
  std::int64_t n_chars = 0;
  Linear ih[2], hh[2];  // input (with b_ih + b_hh) and recurrent products, forward and reverse
  Linear proj;
};

Member LoadMember(Reader& r, const PickleValue& m, std::int64_t n_rows, std::int64_t n_gaz, std::int64_t tags) {
  Member out;
  std::vector<std::int64_t> shape{n_rows, -1};
  out.wq = r.Tensor<std::int8_t>(m, "wq", "Char", &shape);
  out.word_dim = shape[1];
  shape = {n_rows};
  out.ws = r.Tensor<float>(m, "ws", "Float", &shape);
  if (Reader::Int(m, "gaz_dim") != n_gaz) throw NotNative("gaz_dim differs from the gazetteer table");
  const PickleValue& emb = Reader::Module(m, "char_emb", "__torch__.torch.nn.modules.sparse Embedding");
  shape = {-1, -1};
  const std::vector<float> ce = r.Tensor<float>(emb, "weight", "Float", &shape);
  out.n_chars = shape[0];
  const std::int64_t D = shape[1];
  const PickleValue& conv = Reader::Module(m, "char_cnn", "__torch__.torch.nn.modules.conv Conv1d");
  // padding 1, stride 1, dilation 1, one group: Final constants in the hashed code
  shape = {-1, D, 3};
  const std::vector<float> cw = r.Tensor<float>(conv, "weight", "Float", &shape);
  out.filters = shape[0];
  shape = {out.filters};
  out.conv_bias = r.Tensor<float>(conv, "bias", "Float", &shape);
  const std::int64_t F = out.filters;
  for (int k = 0; k < 3; ++k) {
    out.tap[k].assign(static_cast<std::size_t>(out.n_chars * F), 0.f);
    for (std::int64_t ch = 0; ch < out.n_chars; ++ch)
      for (std::int64_t f = 0; f < F; ++f) {
        float s = 0;
        for (std::int64_t d = 0; d < D; ++d) s += cw[(f * D + d) * 3 + k] * ce[ch * D + d];
        out.tap[k][ch * F + f] = s;
      }
  }
  Reader::Module(m, "dropout", "__torch__.torch.nn.modules.dropout Dropout");
  const PickleValue& lstm = Reader::Module(m, "lstm", "__torch__.torch.nn.modules.rnn LSTM");
  // one layer, bidirectional, batch-first, biases: Final constants in the hashed code
  {
    std::vector<std::int64_t> hh{-1, -1};
    r.Tensor<float>(lstm, "weight_hh_l0", "Float", &hh);
    out.hidden = hh[1];
  }
  const std::int64_t H = out.hidden, in = out.word_dim + F + n_gaz;
  for (int d = 0; d < 2; ++d) {
    const std::string sfx = d == 0 ? "_l0" : "_l0_reverse";
    shape = {4 * H, in};
    auto w_ih = r.Tensor<float>(lstm, "weight_ih" + sfx, "Float", &shape);
    shape = {4 * H, H};
    auto w_hh = r.Tensor<float>(lstm, "weight_hh" + sfx, "Float", &shape);
    shape = {4 * H};
    auto b = r.Tensor<float>(lstm, "bias_ih" + sfx, "Float", &shape);
    shape = {4 * H};
    const auto b_hh = r.Tensor<float>(lstm, "bias_hh" + sfx, "Float", &shape);
    for (std::size_t j = 0; j < b.size(); ++j) b[j] += b_hh[j];
    out.ih[d] = Linear(std::move(w_ih), std::move(b), 4 * H, in);
    out.hh[d] = Linear(std::move(w_hh), std::vector<float>(static_cast<std::size_t>(4 * H), 0.f), 4 * H, H);
  }
  const PickleValue& proj = Reader::Module(m, "proj", "__torch__.torch.nn.modules.linear Linear");
  shape = {tags, 2 * H};
  auto pw = r.Tensor<float>(proj, "weight", "Float", &shape);
  shape = {tags};
  auto pb = r.Tensor<float>(proj, "bias", "Float", &shape);
  out.proj = Linear(std::move(pw), std::move(pb), tags, 2 * H);
  return out;
}

// One row's words, as Tagger.words and the start of Tagger.forward make them.
struct RowWords {
  std::int64_t n = 0;                    // words (nw)
  std::vector<std::int64_t> word_of;     // per token: its word, or -1 (not valid)
  std::vector<std::int64_t> start;       // per word: its start token
  std::vector<std::int64_t> length;      // per word: its valid tokens
  std::vector<std::int64_t> rows;        // per word: embedding row
  std::vector<std::int64_t> chars;       // per word: C character indices (0 = none)
};

class NativeTagger final : public BackendModel {
 public:
  NativeTagger(const LoadPlan& plan, const ZipArchive& zip, ModelMetadata metadata, std::string metadata_source,
               std::map<std::string, std::string> assets)
      : BackendModel(plan, std::move(metadata), std::move(metadata_source), std::move(assets)), budget_(plan.num_threads) {
    if (metadata_.inputs.size() != 2 || metadata_.outputs.size() != 1)
      throw NotNative("the metadata does not declare two inputs (ids, mask) and one output");
    PickleRef root;
    try {
      root = Unpickle(zip.Read("data.pkl"));
    } catch (const std::runtime_error& e) {
      throw NotNative(e.what());
    }
    const PickleValue& t = *root;
    if (t.kind != Kind::kObject || t.text != "__torch__ Tagger") throw NotNative("the module is not a Tagger");
    Reader r(zip);
    std::vector<std::int64_t> shape{-1};
    kind_ = r.Tensor<std::int64_t>(t, "kind", "Long", &shape);
    const std::int64_t V = shape[0];
    shape = {V};
    char_of_ = r.Tensor<std::int64_t>(t, "char_of", "Long", &shape);
    shape = {V};
    key_of_ = r.Tensor<std::int64_t>(t, "key_of", "Long", &shape);
    shape = {-1};
    pow1_ = r.Tensor<std::int64_t>(t, "pow1", "Long", &shape);
    shape = {static_cast<std::int64_t>(pow1_.size())};
    pow2_ = r.Tensor<std::int64_t>(t, "pow2", "Long", &shape);
    shape = {-1};
    keys_ = r.Tensor<std::int64_t>(t, "keys", "Long", &shape);
    shape = {static_cast<std::int64_t>(keys_.size())};
    rows_ = r.Tensor<std::int64_t>(t, "rows", "Long", &shape);
    shape = {-1, -1};
    gaz_ = r.Tensor<float>(t, "gaz", "Float", &shape);
    const std::int64_t n_rows = shape[0];
    gaz_dim_ = shape[1];
    tags_ = Reader::Int(t, "num_tags");
    max_cnn_ = Reader::Int(t, "max_cnn");
    max_word_ = Reader::Int(t, "max_word");
    m1_ = Reader::Int(t, "m1");
    m2_ = Reader::Int(t, "m2");
    if (Reader::Bool(t, "training")) throw NotNative("the Tagger is in training mode");
    if (keys_.empty() || !std::is_sorted(keys_.begin(), keys_.end()) || max_cnn_ < 1 || max_word_ < 0 ||
        static_cast<std::int64_t>(pow1_.size()) < max_word_ + 2 || m1_ <= 0 || m2_ <= 0 || tags_ < 1)
      throw NotNative("the Tagger's tables are inconsistent");
    for (auto x : rows_)
      if (x < 0 || x >= n_rows) throw NotNative("the hash table points past the embedding rows");
    const PickleValue& ens = Reader::Module(t, "core", "__torch__ Ensemble");
    const PickleValue& list = Reader::Module(ens, "members", "__torch__.torch.nn.modules.container ModuleList");
    for (int i = 0; i < 3; ++i)
      members_.push_back(LoadMember(r, Reader::Module(list, std::to_string(i), "__torch__ QCore"), n_rows, gaz_dim_, tags_));
    for (const auto& m : members_) {
      for (std::size_t id = 0; id < char_of_.size(); ++id)
        if (char_of_[id] < 0 || char_of_[id] >= m.n_chars) throw NotNative("char_of points past the character table");
    }
    optimization_ = "native: sense's own kernels run this tagger without LibTorch";
  }

  std::string backend() const override { return "native"; }

  NamedTensors Run(const NamedTensors& inputs) const override {
    const Tensor& ids = Input(inputs, 0);
    const Tensor& mask = Input(inputs, 1);
    if (ids.shape() != mask.shape())
      throw Error(ErrorCode::kInput, path_ + ": inputs '" + metadata_.inputs[0].name + "' " + ids.Describe() + " and '" +
                                         metadata_.inputs[1].name + "' " + mask.Describe() + " differ in shape");
    const std::int64_t B = ids.size(0), L = ids.size(1);
    Tensor out = Tensor::Zeros(DType::kFloat32, {B, L, tags_});
    std::vector<RowWords> words(static_cast<std::size_t>(B));
    std::int64_t W = 0, longest = 0;
    for (std::int64_t b = 0; b < B; ++b) {
      Segment(ids.data<std::int64_t>() + b * L, mask.data<std::int64_t>() + b * L, L, &words[b]);
      W = std::max(W, words[b].n);
      for (std::int64_t len : words[b].length) longest = std::max(longest, len);
    }
    NamedTensors result;
    if (W > 0) {
      const std::int64_t C = std::min(std::max<std::int64_t>(longest, 1), max_cnn_);
      for (std::int64_t b = 0; b < B; ++b) Characters(ids.data<std::int64_t>() + b * L, L, C, &words[b]);
      // tasks: each member over groups of rows (all rows on one thread; on
      // more, enough groups to keep every thread busy); the members'
      // emissions are summed in member order afterwards
      const std::int64_t M = static_cast<std::int64_t>(members_.size());
      std::vector<std::int64_t> order;  // rows with words, longest first (as pack_padded_sequence sorts)
      for (std::int64_t b = 0; b < B; ++b)
        if (words[static_cast<std::size_t>(b)].n > 0) order.push_back(b);
      std::stable_sort(order.begin(), order.end(), [&](std::int64_t x, std::int64_t y) {
        return words[static_cast<std::size_t>(x)].n > words[static_cast<std::size_t>(y)].n;
      });
      std::vector<std::vector<float>> em(static_cast<std::size_t>(B * M));
      const int threads = budget_.Acquire();
      const std::int64_t rows = static_cast<std::int64_t>(order.size());
      const std::int64_t groups = threads > 1 ? std::min<std::int64_t>(rows, (2 * threads + M - 1) / M) : 1;
      const std::int64_t tasks = M * groups;
      std::string failure;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1) if (threads > 1 && tasks > 1)
      for (std::int64_t task = 0; task < tasks; ++task) {
        try {
          const std::int64_t m = task % M, g = task / M;
          // group g: every groups-th row of the sorted order, so that groups have like lengths
          std::vector<const RowWords*> group;
          std::vector<std::int64_t> index;
          for (std::int64_t i = g; i < rows; i += groups) {
            group.push_back(&words[static_cast<std::size_t>(order[static_cast<std::size_t>(i)])]);
            index.push_back(order[static_cast<std::size_t>(i)] * M + m);
          }
          std::vector<std::vector<float>> out = Emissions(members_[static_cast<std::size_t>(m)], group, C);
          for (std::size_t i = 0; i < out.size(); ++i) em[static_cast<std::size_t>(index[i])] = std::move(out[i]);
        } catch (const std::exception& e) {
#pragma omp critical(sense_native_failure)
          failure = e.what();
        }
      }
      budget_.Release(threads);
      if (!failure.empty()) throw Error(ErrorCode::kResource, path_ + ": " + failure);
      float* o = out.data<float>();
      for (std::int64_t b = 0; b < B; ++b) {
        const RowWords& rw = words[static_cast<std::size_t>(b)];
        if (rw.n == 0) continue;
        std::vector<float> mean(em[static_cast<std::size_t>(b * M)]);
        for (std::int64_t m = 1; m < M; ++m) {
          const auto& e = em[static_cast<std::size_t>(b * M + m)];
          for (std::size_t j = 0; j < mean.size(); ++j) mean[j] += e[j];
        }
        for (float& x : mean) x /= static_cast<float>(M);
        for (std::int64_t l = 0; l < L; ++l) {
          const std::int64_t w = rw.word_of[static_cast<std::size_t>(l)];
          if (w >= 0) std::copy_n(mean.data() + w * tags_, tags_, o + (b * L + l) * tags_);
        }
      }
    }
    result.Set(metadata_.outputs[0].name, std::move(out));
    return result;
  }

 private:
  const Tensor& Input(const NamedTensors& inputs, std::size_t i) const {
    const TensorSpec& spec = metadata_.inputs[i];
    if (!inputs.Contains(spec.name))
      throw Error(ErrorCode::kInput, path_ + ": missing input '" + spec.name + "'");
    const Tensor& t = inputs.at(spec.name);
    if (t.dtype() != DType::kInt64 || t.dim() != 2)
      throw Error(ErrorCode::kInput, path_ + ": input '" + spec.name + "': expected int64[?, ?], found " + t.Describe());
    return t;
  }

  // kind per id: 0 special or padding, 1 word start, 2 continuation, 3 [UNK]
  void Segment(const std::int64_t* ids, const std::int64_t* mask, std::int64_t L, RowWords* rw) const {
    const std::int64_t V = static_cast<std::int64_t>(kind_.size());
    rw->word_of.assign(static_cast<std::size_t>(L), -1);
    rw->start.clear();
    rw->length.clear();
    std::vector<std::int64_t> h1, h2;
    std::vector<bool> unk;
    std::int64_t widx = -1;
    for (std::int64_t l = 0; l < L; ++l) {
      if (ids[l] < 0 || ids[l] >= V)
        throw Error(ErrorCode::kInput, path_ + ": token id " + std::to_string(ids[l]) + " outside the vocabulary of " +
                                           std::to_string(V));
      const std::int64_t k = mask[l] != 0 ? kind_[static_cast<std::size_t>(ids[l])] : 0;
      if (k == 1 || k == 3) {
        ++widx;
        rw->start.push_back(l);
        rw->length.push_back(0);
        h1.push_back(0);
        h2.push_back(0);
        unk.push_back(k == 3);
      }
      if (k == 0 || widx < 0) continue;
      rw->word_of[static_cast<std::size_t>(l)] = widx;
      ++rw->length[static_cast<std::size_t>(widx)];
      const std::int64_t p = std::min(l - rw->start[static_cast<std::size_t>(widx)], max_word_ + 1);
      const std::int64_t kc = key_of_[static_cast<std::size_t>(ids[l])];
      h1[static_cast<std::size_t>(widx)] += kc * pow1_[static_cast<std::size_t>(p)];
      h2[static_cast<std::size_t>(widx)] += kc * pow2_[static_cast<std::size_t>(p)];
    }
    rw->n = widx + 1;
    rw->rows.assign(static_cast<std::size_t>(rw->n), 0);
    for (std::int64_t w = 0; w < rw->n; ++w) {
      const std::size_t i = static_cast<std::size_t>(w);
      const std::int64_t key = (h1[i] % m1_) * m2_ + h2[i] % m2_;
      auto it = std::lower_bound(keys_.begin(), keys_.end(), key);
      if (it == keys_.end()) --it;  // torch: searchsorted, clamped to the last key
      const std::int64_t row = *it == key ? rows_[static_cast<std::size_t>(it - keys_.begin())] : 0;
      rw->rows[i] = unk[i] ? 0 : row;
    }
  }

  void Characters(const std::int64_t* ids, std::int64_t L, std::int64_t C, RowWords* rw) const {
    rw->chars.assign(static_cast<std::size_t>(rw->n * C), 0);
    // a token's position counts every token since its word's start token
    // (Tagger.words: ar - start_pos)
    for (std::int64_t l = 0; l < L; ++l) {
      const std::int64_t w = rw->word_of[static_cast<std::size_t>(l)];
      if (w < 0) continue;
      const std::int64_t p = l - rw->start[static_cast<std::size_t>(w)];
      if (p < C) rw->chars[static_cast<std::size_t>(w * C + p)] = char_of_[static_cast<std::size_t>(ids[l])];
    }
  }

  // One member's emissions, [n, tags] per row, for rows sorted by
  // decreasing word count (each with at least one word).
  std::vector<std::vector<float>> Emissions(const Member& m, const std::vector<const RowWords*>& group,
                                            std::int64_t C) const {
    const std::int64_t F = m.filters, H = m.hidden, in = m.word_dim + F + gaz_dim_;
    const std::size_t R = group.size();
    std::vector<std::int64_t> base(R + 1, 0);  // the rows' words, one after another
    for (std::size_t r = 0; r < R; ++r) base[r + 1] = base[r] + group[r]->n;
    const std::int64_t N = base[R];
    std::vector<float> x(static_cast<std::size_t>(N * in));
    std::vector<float> conv(static_cast<std::size_t>(F));
    for (std::size_t r = 0; r < R; ++r)
      for (std::int64_t w = 0; w < group[r]->n; ++w) Features(m, *group[r], w, C, conv.data(), x.data() + (base[r] + w) * in);
    // BiLSTM: h [N, 2H] = forward, reverse. At step s the rows longer than s
    // (a prefix of the sorted rows) take one recurrent product together.
    std::vector<float> h(static_cast<std::size_t>(N * 2 * H)), proj(static_cast<std::size_t>(N * 4 * H));
    std::vector<float> gates(R * static_cast<std::size_t>(4 * H)), hs(R * static_cast<std::size_t>(H)),
        cs(R * static_cast<std::size_t>(H)), step(R * static_cast<std::size_t>(H));
    const std::int64_t T = group.front()->n;
    for (int d = 0; d < 2; ++d) {
      m.ih[d].Apply(x.data(), N, nullptr, proj.data());
      std::fill(hs.begin(), hs.end(), 0.f);
      std::fill(cs.begin(), cs.end(), 0.f);
      std::size_t active = R;
      for (std::int64_t s = 0; s < T; ++s) {
        while (active > 0 && group[active - 1]->n <= s) --active;
        auto word = [&](std::size_t r) { return base[r] + (d == 0 ? s : group[r]->n - 1 - s); };
        for (std::size_t r = 0; r < active; ++r)
          std::copy_n(proj.data() + word(r) * 4 * H, 4 * H, gates.data() + r * 4 * H);
        m.hh[d].Apply(hs.data(), static_cast<std::int64_t>(active), gates.data(), gates.data());
        GateStep(gates.data(), static_cast<std::int64_t>(active), H, hs.data(), cs.data(), step.data(), H);
        for (std::size_t r = 0; r < active; ++r) std::copy_n(step.data() + r * H, H, h.data() + word(r) * 2 * H + d * H);
      }
    }
    std::vector<float> em(static_cast<std::size_t>(N * tags_));
    m.proj.Apply(h.data(), N, nullptr, em.data());
    std::vector<std::vector<float>> out(R);
    for (std::size_t r = 0; r < R; ++r) out[r].assign(em.begin() + base[r] * tags_, em.begin() + base[r + 1] * tags_);
    return out;
  }

  // The LSTM input of word w: [word vector, character CNN features, gazetteer bits].
  void Features(const Member& m, const RowWords& rw, std::int64_t w, std::int64_t C, float* conv, float* xr) const {
    const std::int64_t F = m.filters;
    const std::int64_t row = rw.rows[static_cast<std::size_t>(w)];
    const std::int8_t* q = m.wq.data() + row * m.word_dim;
    const float scale = m.ws[static_cast<std::size_t>(row)];
    for (std::int64_t d = 0; d < m.word_dim; ++d) xr[d] = static_cast<float>(q[d]) * scale;
    // character CNN: conv[f, c] = bias + taps of the characters at c - 1, c, c + 1
    // (zero padding outside [0, C)); max over positions with a character,
    // -1e4 elsewhere; 0 for a word without characters
    float* cf = xr + m.word_dim;
    const std::int64_t* ch = rw.chars.data() + w * C;
    bool any = false;
    for (std::int64_t c = 0; c < C; ++c) any = any || ch[c] > 0;
    if (!any) {
      std::fill(cf, cf + F, 0.f);
    } else {
      std::fill(cf, cf + F, -3.0e38f);
      for (std::int64_t c = 0; c < C; ++c) {
        for (std::int64_t f = 0; f < F; ++f) conv[f] = m.conv_bias[static_cast<std::size_t>(f)];
        for (int k = 0; k < 3; ++k) {
          const std::int64_t at = c + k - 1;
          if (at < 0 || at >= C) continue;
          const float* tap = m.tap[k].data() + ch[at] * F;
          for (std::int64_t f = 0; f < F; ++f) conv[f] += tap[f];
        }
        const bool valid = ch[c] > 0;
        for (std::int64_t f = 0; f < F; ++f) cf[f] = std::max(cf[f], valid ? conv[f] : -1e4f);
      }
    }
    std::copy_n(gaz_.data() + row * gaz_dim_, gaz_dim_, xr + m.word_dim + F);
  }

  std::vector<std::int64_t> kind_, char_of_, key_of_, pow1_, pow2_, keys_, rows_;
  std::vector<float> gaz_;
  std::int64_t gaz_dim_ = 0, tags_ = 0, max_cnn_ = 0, max_word_ = 0, m1_ = 0, m2_ = 0;
  std::vector<Member> members_;
  mutable ThreadBudget budget_;
};

}  // namespace

std::unique_ptr<Model> LoadNative(const LoadPlan& plan, std::string* why_not) {
  const std::string& path = plan.options.path;
  auto decline = [&](const std::string& why) -> std::unique_ptr<Model> {
    if (why_not != nullptr) *why_not = why;
    return nullptr;
  };
  if (!plan.options.native) return decline("ModelOptions::native is off");
  if (const char* env = std::getenv("SENSE_NATIVE"); env != nullptr && std::string(env) == "0")
    return decline("SENSE_NATIVE=0");
  if (plan.device.type != Device::Type::kCPU) return decline("the native backend runs on CPU only");
  std::unique_ptr<ZipArchive> archive;
  try {  // an archive this reader cannot take is left to LibTorch, which says what is wrong with it
    archive = std::make_unique<ZipArchive>(path);
    if (!archive->Contains("data.pkl") || !archive->Contains("constants.pkl")) return decline("not a TorchScript archive");
    if (CodeHash(*archive) != kTaggerCodeHash) return decline("its TorchScript code is none of sense's native architectures");
    if (archive->Read("constants.pkl") != std::string("\x80\x02).", 4)) return decline("the code has tensor constants");
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kResource) throw;
    return decline(e.what());
  }
  // one of ours: from here a corrupt record (a CRC-32 mismatch) is an error of its own
  const ZipArchive& zip = *archive;
  try {
    BundleFiles bundle = ReadBundleFiles(path, plan.options.metadata_path);
    if (!bundle.metadata.weights_dtype.empty() && bundle.metadata.weights_dtype != "float32")
      return decline("weights stored as " + bundle.metadata.weights_dtype);
    auto model = std::make_unique<NativeTagger>(plan, zip, std::move(bundle.metadata), std::move(bundle.metadata_source),
                                                std::move(bundle.assets));
    VerifyLoadedModel(*model, plan);
    return model;
  } catch (const NotNative& e) {
    return decline(e.what());
  }
}

}  // namespace sense::internal
