// The vector index: faiss for the search, sense's own file around it.
#include "sense/inference/vector_index.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <faiss/impl/DistanceComputer.h>
#include <faiss/utils/Heap.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>
#include <nlohmann/json.hpp>
#include <omp.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "sense/inference/error.h"

namespace sense {

namespace {

constexpr char kMagic[8] = {'S', 'E', 'N', 'S', 'E', 'V', 'I', 'X'};

uint64_t Fnv1a(const uint8_t* p, size_t n, uint64_t h = 1469598103934665603ULL) {
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 1099511628211ULL;
  }
  return h;
}

// Runs faiss code, turning its exceptions into sense errors.
template <typename F>
auto Faiss(const std::string& what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const faiss::FaissException& e) {
    throw Error(ErrorCode::kBackend, what + ": faiss: " + e.what());
  } catch (const std::bad_alloc&) {
    throw Error(ErrorCode::kResource, what + ": out of memory");
  }
}

// Runs with omp threads set for the call, restoring them after.
struct OmpThreads {
  explicit OmpThreads(int n) : saved(omp_get_max_threads()) { omp_set_num_threads(std::max(1, n)); }
  ~OmpThreads() { omp_set_num_threads(saved); }
  int saved;
};

// Inner products for the HNSW search. Debian builds faiss for baseline
// x86-64, where its fvec_inner_product is the scalar reference loop (one
// multiply-add after another): at 1M vectors that loop was most of a
// query's time. Here: eight (AVX2 + FMA: 32) independent partial sums, the
// AVX2 version chosen at run time when the CPU has it. Sums differ from
// faiss's only by float rounding order.
float DotPortable(const float* a, const float* b, size_t d) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= d; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
  float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; i < d; ++i) s += a[i] * b[i];
  return s;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SENSE_INDEX_HAVE_AVX2 1
__attribute__((target("avx2,fma"))) float DotAvx2(const float* a, const float* b, size_t d) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= d; i += 32) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
  }
  for (; i + 8 <= d; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  const __m256 s = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_movehdup_ps(h));
  float r = _mm_cvtss_f32(h);
  for (; i < d; ++i) r += a[i] * b[i];
  return r;
}
#endif

using DotFn = float (*)(const float*, const float*, size_t);

DotFn BestDot() {
#ifdef SENSE_INDEX_HAVE_AVX2
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return DotAvx2;
#endif
  return DotPortable;
}

// The storage of sense's HNSW graphs: faiss's IndexFlatIP (same data, same
// file format: faiss writes and reads it as a plain IndexFlatIP), whose
// distance computer uses BestDot. faiss's HNSW build and search reach the
// vectors only through that computer (IndexHNSW wraps it to negate inner
// products), so both run faiss's own graph code on the fast kernel.
struct FastDotComputer final : faiss::FlatCodesDistanceComputer {
  FastDotComputer(const faiss::IndexFlat& storage)
      : faiss::FlatCodesDistanceComputer(storage.codes.data(), storage.code_size),
        base(storage.get_xb()),
        d(static_cast<size_t>(storage.d)),
        dot(BestDot()) {}
  void set_query(const float* x) override { q = x; }
  float distance_to_code(const uint8_t* code) override { return dot(q, reinterpret_cast<const float*>(code), d); }
  float symmetric_dis(idx_t i, idx_t j) override {
    return dot(base + static_cast<size_t>(i) * d, base + static_cast<size_t>(j) * d, d);
  }
  const float* base;
  size_t d;
  DotFn dot;
  const float* q = nullptr;
};

struct FastFlatIP final : faiss::IndexFlatIP {
  explicit FastFlatIP(int d) : faiss::IndexFlatIP(d) {}
  faiss::FlatCodesDistanceComputer* get_FlatCodesDistanceComputer() const override { return new FastDotComputer(*this); }
};

// faiss's HNSW search (HNSW::search with its defaults: greedy descent on
// the upper levels, then search_from_candidates on level 0 with a bounded
// queue and the relative-distance stop), step for step, with one change:
// before computing a node's unvisited neighbours it prefetches all their
// vectors, so the memory misses of a 1M-vector graph overlap instead of
// coming one after another (faiss 1.7.3 does not prefetch). Same visiting
// order and the same distances as faiss with FastDotComputer, so the same
// results. `D`/`I` are a max-heap of k negated inner products on entry.
void PrefetchVector(const float* v, size_t d) {
#if defined(__x86_64__) || defined(__i386__)
  const char* p = reinterpret_cast<const char*>(v);
  for (size_t off = 0; off < d * sizeof(float); off += 64) _mm_prefetch(p + off, _MM_HINT_T0);
#else
  (void)v;
  (void)d;
#endif
}

void SearchHnswOne(const faiss::HNSW& hnsw, const FastDotComputer& dis, int ef, int k, faiss::Index::idx_t* I, float* D,
                   faiss::VisitedTable& vt, std::vector<int>& fresh) {
  using storage_idx_t = faiss::HNSW::storage_idx_t;
  if (hnsw.entry_point < 0) return;
  auto dist = [&](storage_idx_t v) { return -dis.dot(dis.q, dis.base + static_cast<size_t>(v) * dis.d, dis.d); };
  storage_idx_t nearest = hnsw.entry_point;
  float d_nearest = dist(nearest);
  for (int level = hnsw.max_level; level >= 1; --level) {
    for (;;) {  // greedy_update_nearest
      const storage_idx_t prev = nearest;
      size_t begin, end;
      hnsw.neighbor_range(nearest, level, &begin, &end);
      for (size_t i = begin; i < end; ++i) {
        const storage_idx_t v = hnsw.neighbors[i];
        if (v < 0) break;
        const float dv = dist(v);
        if (dv < d_nearest) {
          nearest = v;
          d_nearest = dv;
        }
      }
      if (nearest == prev) break;
    }
  }
  faiss::HNSW::MinimaxHeap candidates(std::max(ef, k));
  candidates.push(nearest, d_nearest);
  int nres = 0;
  auto keep = [&](storage_idx_t v, float dv) {
    if (nres < k) faiss::maxheap_push(static_cast<size_t>(++nres), D, I, dv, static_cast<faiss::Index::idx_t>(v));
    else if (dv < D[0]) faiss::maxheap_replace_top(static_cast<size_t>(nres), D, I, dv, static_cast<faiss::Index::idx_t>(v));
  };
  keep(nearest, d_nearest);
  vt.set(nearest);
  while (candidates.size() > 0) {
    float d0 = 0;
    const int v0 = candidates.pop_min(&d0);
    if (candidates.count_below(d0) >= ef) break;
    size_t begin, end;
    hnsw.neighbor_range(v0, 0, &begin, &end);
    fresh.clear();
    for (size_t j = begin; j < end; ++j) {
      const int v1 = hnsw.neighbors[j];
      if (v1 < 0) break;
      if (vt.get(v1)) continue;
      vt.set(v1);
      fresh.push_back(v1);
      PrefetchVector(dis.base + static_cast<size_t>(v1) * dis.d, dis.d);
    }
    for (const int v1 : fresh) {
      const float dv = dist(v1);
      keep(v1, dv);
      candidates.push(v1, dv);
    }
  }
}

// IndexHNSWFlat::search with SearchHnswOne: similarities, best first;
// queries split over OpenMP threads as faiss does.
void SearchHnsw(const faiss::IndexHNSWFlat& h, const FastFlatIP& storage, int64_t n, const float* x, int64_t k, int ef,
                float* distances, faiss::Index::idx_t* labels) {
#pragma omp parallel
  {
    faiss::VisitedTable vt(static_cast<int>(h.ntotal));
    FastDotComputer dis(storage);
    std::vector<int> fresh;
#pragma omp for schedule(guided)
    for (int64_t i = 0; i < n; ++i) {
      faiss::Index::idx_t* idxi = labels + i * k;
      float* simi = distances + i * k;
      dis.set_query(x + static_cast<size_t>(i) * dis.d);
      faiss::maxheap_heapify(static_cast<size_t>(k), simi, idxi);
      SearchHnswOne(h.hnsw, dis, ef, static_cast<int>(k), idxi, simi, vt, fresh);
      faiss::maxheap_reorder(static_cast<size_t>(k), simi, idxi);
      vt.advance();
    }
  }
  for (int64_t i = 0; i < n * k; ++i) distances[i] = -distances[i];
}

// Gives an HNSW graph FastFlatIP storage (moving the vectors, if any).
void UseFastStorage(faiss::IndexHNSWFlat& h) {
  auto* flat = dynamic_cast<faiss::IndexFlat*>(h.storage);
  if (!flat || dynamic_cast<FastFlatIP*>(flat) || flat->metric_type != faiss::METRIC_INNER_PRODUCT) return;
  auto fast = std::make_unique<FastFlatIP>(static_cast<int>(flat->d));
  fast->codes.swap(flat->codes);
  fast->ntotal = flat->ntotal;
  if (h.own_fields) delete h.storage;
  h.storage = fast.release();
  h.own_fields = true;
}

void Normalize(float* v, int d) {
  double s = 0;
  for (int i = 0; i < d; ++i) s += static_cast<double>(v[i]) * v[i];
  if (s > 0) {
    const float inv = static_cast<float>(1.0 / std::sqrt(s));
    for (int i = 0; i < d; ++i) v[i] *= inv;
  }
}

int DefaultSubquantizers(int dim) {
  int m = std::max(1, dim / 4);
  while (m > 1 && dim % m != 0) --m;
  return m;
}

}  // namespace

IndexKind ParseIndexKind(const std::string& name) {
  for (IndexKind k : {IndexKind::kAuto, IndexKind::kExact, IndexKind::kHnsw, IndexKind::kIvfPq})
    if (name == IndexKindName(k)) return k;
  throw Error(ErrorCode::kOption, "index kind must be auto, exact, hnsw or ivfpq, found \"" + name + "\"");
}

const char* IndexKindName(IndexKind kind) {
  switch (kind) {
    case IndexKind::kAuto: return "auto";
    case IndexKind::kExact: return "exact";
    case IndexKind::kHnsw: return "hnsw";
    case IndexKind::kIvfPq: return "ivfpq";
  }
  return "?";
}

void ValidateVectorIndexOptions(const VectorIndexOptions& o) {
  auto bad = [](const std::string& field, const std::string& want, long long found) {
    throw Error(ErrorCode::kOption, "vector index option " + field + " must be " + want + ", found " + std::to_string(found));
  };
  if (o.exact_max_items < 0) bad("exact_max_items", ">= 0", o.exact_max_items);
  if (o.hnsw_m < 4 || o.hnsw_m > 128) bad("hnsw_m", "in [4, 128]", o.hnsw_m);
  if (o.hnsw_ef_construction < o.hnsw_m) bad("hnsw_ef_construction", ">= hnsw_m (" + std::to_string(o.hnsw_m) + ")", o.hnsw_ef_construction);
  if (o.hnsw_ef_search < 1) bad("hnsw_ef_search", ">= 1", o.hnsw_ef_search);
  if (o.ivf_lists < 0) bad("ivf_lists", ">= 0 (0: automatic)", o.ivf_lists);
  if (o.ivf_nprobe < 1) bad("ivf_nprobe", ">= 1", o.ivf_nprobe);
  if (o.pq_subquantizers < 0) bad("pq_subquantizers", ">= 0 (0: automatic)", o.pq_subquantizers);
  if (o.threads < 1) bad("threads", ">= 1", o.threads);
}

struct VectorIndex::Impl {
  EmbeddingModelIdentity model;
  VectorIndexOptions options;
  IndexKind kind = IndexKind::kExact;
  std::unique_ptr<faiss::Index> index;
  // exact, HNSW: faiss position -> stable id (faiss labels are positions);
  // IVF-PQ: faiss labels are the stable ids themselves.
  std::vector<int64_t> position_ids;
  std::unordered_map<int64_t, std::string> items;
  int64_t next_id = 0;
  // IVF-PQ: a search with another nprobe than the index's sets it on the
  // index while holding this lock exclusively; every other search (HNSW
  // passes its ef to SearchHnsw) shares it.
  mutable std::shared_mutex search_settings;

  int dim() const { return model.dim; }

  std::unique_ptr<faiss::Index> NewIndex() const {
    const int d = dim();
    if (kind == IndexKind::kExact) return std::make_unique<faiss::IndexFlatIP>(d);
    if (kind == IndexKind::kHnsw) {
      auto h = std::make_unique<faiss::IndexHNSWFlat>(d, options.hnsw_m, faiss::METRIC_INNER_PRODUCT);
      UseFastStorage(*h);
      h->hnsw.efConstruction = options.hnsw_ef_construction;
      h->hnsw.efSearch = options.hnsw_ef_search;
      return h;
    }
    throw Error(ErrorCode::kInternal, "NewIndex for IVF-PQ");
  }

  // Copies vectors, normalised for cosine; checks sizes.
  std::vector<float> Prepare(const float* data, int64_t n) const {
    std::vector<float> v(data, data + n * dim());
    if (options.similarity == Similarity::kCosine)
      for (int64_t i = 0; i < n; ++i) Normalize(v.data() + i * dim(), dim());
    for (float x : v)
      if (!std::isfinite(x)) throw Error(ErrorCode::kInput, "vector index: a vector holds a NaN or infinite value");
    return v;
  }

  void AddPrepared(const std::vector<std::string>& names, const std::vector<float>& v) {
    const int64_t n = static_cast<int64_t>(names.size());
    std::vector<int64_t> ids(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) ids[static_cast<size_t>(i)] = next_id + i;
    OmpThreads threads(options.threads);
    Faiss("vector index add", [&] {
      if (kind == IndexKind::kIvfPq) index->add_with_ids(n, v.data(), ids.data());
      else index->add(n, v.data());
    });
    if (kind != IndexKind::kIvfPq) position_ids.insert(position_ids.end(), ids.begin(), ids.end());
    for (int64_t i = 0; i < n; ++i) items[ids[static_cast<size_t>(i)]] = names[static_cast<size_t>(i)];
    next_id += n;
  }
};

VectorIndex::VectorIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
VectorIndex::~VectorIndex() = default;

std::unique_ptr<VectorIndex> VectorIndex::Create(const EmbeddingModelIdentity& model, const VectorIndexOptions& options) {
  ValidateVectorIndexOptions(options);
  if (model.dim < 1) throw Error(ErrorCode::kOption, "vector index: the model's dim must be >= 1, found " + std::to_string(model.dim));
  if (options.kind == IndexKind::kIvfPq)
    throw Error(ErrorCode::kOption, "an IVF-PQ index is trained on the vectors it is built from: use VectorIndex::Build");
  auto impl = std::make_unique<Impl>();
  impl->model = model;
  impl->options = options;
  impl->kind = options.kind == IndexKind::kAuto ? IndexKind::kExact : options.kind;
  impl->index = impl->NewIndex();
  return std::unique_ptr<VectorIndex>(new VectorIndex(std::move(impl)));
}

std::unique_ptr<VectorIndex> VectorIndex::Build(const EmbeddingModelIdentity& model, const VectorIndexOptions& options,
                                                const std::vector<std::string>& items,
                                                const std::vector<std::vector<float>>& vectors) {
  if (items.size() != vectors.size())
    throw Error(ErrorCode::kInput, "vector index: " + std::to_string(items.size()) + " items but " +
                                       std::to_string(vectors.size()) + " vectors");
  std::vector<float> flat;
  flat.reserve(vectors.size() * static_cast<size_t>(std::max(0, model.dim)));
  for (size_t i = 0; i < vectors.size(); ++i) {
    if (static_cast<int>(vectors[i].size()) != model.dim)
      throw Error(ErrorCode::kInput, "vector index: vector " + std::to_string(i) + " has " + std::to_string(vectors[i].size()) +
                                         " values; the model's vectors have " + std::to_string(model.dim));
    flat.insert(flat.end(), vectors[i].begin(), vectors[i].end());
  }
  return Build(model, options, items, flat.data(), static_cast<int64_t>(items.size()));
}

std::unique_ptr<VectorIndex> VectorIndex::Build(const EmbeddingModelIdentity& model, const VectorIndexOptions& options,
                                                const std::vector<std::string>& items, const float* data, int64_t n) {
  ValidateVectorIndexOptions(options);
  if (model.dim < 1) throw Error(ErrorCode::kOption, "vector index: the model's dim must be >= 1, found " + std::to_string(model.dim));
  if (static_cast<int64_t>(items.size()) != n)
    throw Error(ErrorCode::kInput, "vector index: " + std::to_string(items.size()) + " items but " + std::to_string(n) + " vectors");
  auto impl = std::make_unique<Impl>();
  impl->model = model;
  impl->options = options;
  IndexKind kind = options.kind;
  if (kind == IndexKind::kAuto) kind = n <= options.exact_max_items ? IndexKind::kExact : IndexKind::kHnsw;
  impl->kind = kind;
  std::vector<float> v = impl->Prepare(data, n);
  if (kind == IndexKind::kIvfPq) {
    const int d = model.dim;
    int lists = options.ivf_lists;
    if (lists == 0) lists = static_cast<int>(std::clamp<int64_t>(static_cast<int64_t>(4 * std::sqrt(static_cast<double>(n))), 1, n / 39));
    if (n < 39LL * std::max(lists, 1) || n < 256)
      throw Error(ErrorCode::kInput, "an IVF-PQ index with " + std::to_string(std::max(lists, 1)) + " lists needs at least " +
                                         std::to_string(std::max<int64_t>(256, 39LL * std::max(lists, 1))) +
                                         " vectors to train on, found " + std::to_string(n) + "; use exact or hnsw");
    const int m = options.pq_subquantizers ? options.pq_subquantizers : DefaultSubquantizers(d);
    if (d % m != 0)
      throw Error(ErrorCode::kOption, "pq_subquantizers (" + std::to_string(m) + ") must divide the dimension (" + std::to_string(d) + ")");
    impl->options.ivf_lists = lists;
    impl->options.pq_subquantizers = m;
    auto quantizer = new faiss::IndexFlatIP(d);
    auto ivf = std::make_unique<faiss::IndexIVFPQ>(quantizer, d, static_cast<size_t>(lists), static_cast<size_t>(m), 8,
                                                    faiss::METRIC_INNER_PRODUCT);
    ivf->own_fields = true;
    ivf->nprobe = static_cast<size_t>(options.ivf_nprobe);
    OmpThreads threads(options.threads);
    Faiss("IVF-PQ training", [&] { ivf->train(n, v.data()); });
    impl->index = std::move(ivf);
  } else {
    impl->index = impl->NewIndex();
  }
  impl->AddPrepared(items, v);
  return std::unique_ptr<VectorIndex>(new VectorIndex(std::move(impl)));
}

int64_t VectorIndex::Add(const std::string& item, const std::vector<float>& vector) {
  if (static_cast<int>(vector.size()) != impl_->dim())
    throw Error(ErrorCode::kInput, "vector index: the vector has " + std::to_string(vector.size()) + " values; the index holds " +
                                       std::to_string(impl_->dim()) + "-d vectors");
  const int64_t id = impl_->next_id;
  impl_->AddPrepared({item}, impl_->Prepare(vector.data(), 1));
  return id;
}

bool VectorIndex::Remove(int64_t id) {
  Impl& m = *impl_;
  if (!m.items.count(id)) return false;
  if (m.kind == IndexKind::kIvfPq) {
    faiss::IDSelectorBatch sel(1, &id);
    Faiss("vector index remove", [&] { return m.index->remove_ids(sel); });
  } else {
    const auto it = std::find(m.position_ids.begin(), m.position_ids.end(), id);
    const int64_t pos = it - m.position_ids.begin();
    if (m.kind == IndexKind::kExact) {
      faiss::IDSelectorRange sel(pos, pos + 1);
      Faiss("vector index remove", [&] { return m.index->remove_ids(sel); });
    } else {
      // HNSW cannot drop a node: rebuild from the other vectors
      const int64_t n = m.index->ntotal;
      std::vector<float> all(static_cast<size_t>(n * m.dim()));
      Faiss("vector index remove", [&] { m.index->reconstruct_n(0, n, all.data()); });
      all.erase(all.begin() + pos * m.dim(), all.begin() + (pos + 1) * m.dim());
      auto fresh = m.NewIndex();
      OmpThreads threads(m.options.threads);
      Faiss("vector index rebuild", [&] { fresh->add(n - 1, all.data()); });
      m.index = std::move(fresh);
    }
    m.position_ids.erase(it);
  }
  m.items.erase(id);
  return true;
}

int64_t VectorIndex::RemoveItem(const std::string& item) {
  std::vector<int64_t> ids;
  for (const auto& [id, s] : impl_->items)
    if (s == item) ids.push_back(id);
  for (int64_t id : ids) Remove(id);
  return static_cast<int64_t>(ids.size());
}

std::vector<Neighbor> VectorIndex::Search(const std::vector<float>& query, int k, const SearchOptions& options) const {
  if (static_cast<int>(query.size()) != impl_->dim())
    throw Error(ErrorCode::kInput, "vector index: the query has " + std::to_string(query.size()) + " values; the index holds " +
                                       std::to_string(impl_->dim()) + "-d vectors");
  SearchOptions o = options;
  auto r = SearchBatch(query.data(), 1, k, o);
  return std::move(r.front());
}

std::vector<std::vector<Neighbor>> VectorIndex::SearchBatch(const float* queries, int64_t n, int k,
                                                            const SearchOptions& options) const {
  const Impl& m = *impl_;
  if (k < 1) throw Error(ErrorCode::kInput, "vector index: k must be >= 1, found " + std::to_string(k));
  if (options.ef_search < 0 || options.nprobe < 0 || options.threads < 0)
    throw Error(ErrorCode::kOption, "search options ef_search, nprobe and threads must be >= 0 (0: the index's default), found " +
                                        std::to_string(options.ef_search) + ", " + std::to_string(options.nprobe) + ", " +
                                        std::to_string(options.threads));
  std::vector<std::vector<Neighbor>> out(static_cast<size_t>(n));
  const int64_t total = m.index->ntotal;
  if (total == 0 || n == 0) return out;
  const int64_t kk = std::min<int64_t>(k, total);
  std::vector<float> q = m.Prepare(queries, n);
  std::vector<float> dist(static_cast<size_t>(n * kk));
  std::vector<faiss::Index::idx_t> labels(static_cast<size_t>(n * kk));
  {
    OmpThreads threads(n > 1 ? (options.threads ? options.threads : m.options.threads) : 1);
    auto search = [&] { Faiss("vector index search", [&] { m.index->search(n, q.data(), kk, dist.data(), labels.data()); }); };
    if (auto* h = dynamic_cast<faiss::IndexHNSWFlat*>(m.index.get())) {
      const int ef = std::max<int>(options.ef_search ? options.ef_search : m.options.hnsw_ef_search, static_cast<int>(kk));
      // Build and Load give every HNSW graph FastFlatIP storage (UseFastStorage).
      const auto* fast = dynamic_cast<const FastFlatIP*>(h->storage);
      if (!fast) throw Error(ErrorCode::kInternal, "vector index: HNSW storage is not sense's FastFlatIP");
      std::shared_lock<std::shared_mutex> lock(m.search_settings);  // ef is passed, the graph is only read
      SearchHnsw(*h, *fast, n, q.data(), kk, ef, dist.data(), labels.data());
    } else if (auto* ivf = dynamic_cast<faiss::IndexIVFPQ*>(m.index.get())) {
      const size_t nprobe = static_cast<size_t>(options.nprobe ? options.nprobe : m.options.ivf_nprobe);
      if (nprobe == static_cast<size_t>(m.options.ivf_nprobe)) {
        std::shared_lock<std::shared_mutex> lock(m.search_settings);
        search();
      } else {
        std::unique_lock<std::shared_mutex> lock(m.search_settings);
        ivf->nprobe = nprobe;
        search();
        ivf->nprobe = static_cast<size_t>(m.options.ivf_nprobe);
      }
    } else {
      search();
    }
  }
  for (int64_t i = 0; i < n; ++i) {
    auto& row = out[static_cast<size_t>(i)];
    for (int64_t j = 0; j < kk; ++j) {
      const faiss::Index::idx_t l = labels[static_cast<size_t>(i * kk + j)];
      if (l < 0) continue;
      const int64_t id = m.kind == IndexKind::kIvfPq ? l : m.position_ids.at(static_cast<size_t>(l));
      const auto it = m.items.find(id);
      if (it == m.items.end()) continue;
      row.push_back({id, it->second, dist[static_cast<size_t>(i * kk + j)]});
    }
  }
  return out;
}

void VectorIndex::CheckModel(const EmbeddingModelIdentity& query_model) const {
  if (query_model != impl_->model)
    throw Error(ErrorCode::kInput, "the index was built with " + impl_->model.Describe() + "; the query model is " +
                                       query_model.Describe() + ": vectors of different models cannot be compared");
}

const EmbeddingModelIdentity& VectorIndex::model() const { return impl_->model; }
IndexKind VectorIndex::kind() const { return impl_->kind; }
const VectorIndexOptions& VectorIndex::options() const { return impl_->options; }
int64_t VectorIndex::size() const { return static_cast<int64_t>(impl_->items.size()); }
int VectorIndex::dim() const { return impl_->dim(); }

const std::string& VectorIndex::item(int64_t id) const {
  const auto it = impl_->items.find(id);
  if (it == impl_->items.end()) throw Error(ErrorCode::kInput, "vector index: no item with id " + std::to_string(id));
  return it->second;
}

std::vector<std::pair<int64_t, std::string>> VectorIndex::items() const {
  std::vector<std::pair<int64_t, std::string>> v(impl_->items.begin(), impl_->items.end());
  std::sort(v.begin(), v.end());
  return v;
}

int64_t VectorIndex::IndexBytes() const {
  faiss::VectorIOWriter w;
  Faiss("vector index size", [&] { faiss::write_index(impl_->index.get(), &w); });
  return static_cast<int64_t>(w.data.size());
}

// ---------------------------------------------------------------------------
// File: magic[8] | u32 version | u64 header_len | header JSON | u64 items_len |
// items (per item: i64 id, u32 len, bytes) | u64 faiss_len | faiss bytes |
// u64 FNV-1a of everything before.

namespace {

void Put(std::vector<uint8_t>& b, const void* p, size_t n) {
  const auto* c = static_cast<const uint8_t*>(p);
  b.insert(b.end(), c, c + n);
}
template <typename T>
void PutPod(std::vector<uint8_t>& b, T v) {
  Put(b, &v, sizeof v);
}

struct Cursor {
  const std::vector<uint8_t>& b;
  size_t pos;
  const std::string& path;
  void Need(size_t n, const char* what) const {
    if (n > b.size() - pos)
      throw Error(ErrorCode::kFile, path + ": truncated vector index: " + what + " needs " + std::to_string(n) +
                                        " bytes at offset " + std::to_string(pos) + ", the file has " +
                                        std::to_string(b.size() - pos) + " left");
  }
  template <typename T>
  T Pod(const char* what) {
    Need(sizeof(T), what);
    T v;
    std::memcpy(&v, b.data() + pos, sizeof v);
    pos += sizeof v;
    return v;
  }
};

nlohmann::json IdentityJson(const EmbeddingModelIdentity& m) {
  return {{"name", m.name}, {"version", m.version}, {"task", m.task}, {"fingerprint", m.fingerprint},
          {"dim", m.dim}, {"normalized", m.normalized}, {"quantized", m.quantized}};
}

}  // namespace

void VectorIndex::Save(const std::string& path) const {
  const Impl& m = *impl_;
  nlohmann::json h = {
      {"kind", IndexKindName(m.kind)},
      {"similarity", SimilarityName(m.options.similarity)},
      {"model", IdentityJson(m.model)},
      {"count", m.items.size()},
      {"next_id", m.next_id},
      {"options", {{"exact_max_items", m.options.exact_max_items}, {"hnsw_m", m.options.hnsw_m},
                   {"hnsw_ef_construction", m.options.hnsw_ef_construction}, {"hnsw_ef_search", m.options.hnsw_ef_search},
                   {"ivf_lists", m.options.ivf_lists}, {"ivf_nprobe", m.options.ivf_nprobe},
                   {"pq_subquantizers", m.options.pq_subquantizers}}},
      {"writer", "sense"}};
  const std::string header = h.dump();
  std::vector<uint8_t> b;
  Put(b, kMagic, sizeof kMagic);
  PutPod<uint32_t>(b, kVectorIndexFormatVersion);
  PutPod<uint64_t>(b, header.size());
  Put(b, header.data(), header.size());
  std::vector<uint8_t> items;
  const auto sorted = this->items();
  std::vector<int64_t> order;  // exact/HNSW: items in faiss position order
  if (m.kind != IndexKind::kIvfPq) order = m.position_ids;
  else for (const auto& p : sorted) order.push_back(p.first);
  for (int64_t id : order) {
    const std::string& s = m.items.at(id);
    PutPod<int64_t>(items, id);
    PutPod<uint32_t>(items, static_cast<uint32_t>(s.size()));
    Put(items, s.data(), s.size());
  }
  PutPod<uint64_t>(b, items.size());
  Put(b, items.data(), items.size());
  faiss::VectorIOWriter w;
  Faiss(path + ": writing the faiss index", [&] { faiss::write_index(m.index.get(), &w); });
  PutPod<uint64_t>(b, w.data.size());
  Put(b, w.data.data(), w.data.size());
  PutPod<uint64_t>(b, Fnv1a(b.data(), b.size()));
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(ErrorCode::kFile, tmp + ": cannot write the vector index");
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    out.close();
    if (!out) throw Error(ErrorCode::kFile, tmp + ": write failed (disk full?)");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error(ErrorCode::kFile, path + ": cannot rename " + tmp + " to it");
  }
}

std::unique_ptr<VectorIndex> VectorIndex::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kFile, path + ": cannot open the vector index (missing or unreadable)");
  std::vector<uint8_t> b;
  const std::streamoff size = in.seekg(0, std::ios::end) ? std::streamoff(in.tellg()) : std::streamoff(-1);
  if (size >= 0 && in.seekg(0)) {  // a regular file: one read of its known size (not a byte-wise copy)
    b.resize(static_cast<size_t>(size));
    in.read(reinterpret_cast<char*>(b.data()), size);
    if (in.gcount() != size) throw Error(ErrorCode::kFile, path + ": read error (the file changed or shrank while it was read)");
  } else {  // a pipe or another stream without a size
    in.clear();
    b.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  if (in.bad()) throw Error(ErrorCode::kFile, path + ": read error");
  if (b.empty()) throw Error(ErrorCode::kFile, path + ": empty file; expected a sense vector index");
  if (b.size() < sizeof kMagic || std::memcmp(b.data(), kMagic, sizeof kMagic) != 0)
    throw Error(ErrorCode::kFile, path + ": not a sense vector index (no SENSEVIX signature at the start; "
                                         "build one with sense-similar index)");
  Cursor c{b, sizeof kMagic, path};
  const uint32_t version = c.Pod<uint32_t>("the format version");
  if (version != kVectorIndexFormatVersion)
    throw Error(ErrorCode::kFile, path + ": vector index format version " + std::to_string(version) + "; this build reads version " +
                                      std::to_string(kVectorIndexFormatVersion) + " (rebuild the index with this sense)");
  if (b.size() < sizeof kMagic + 4 + 8)
    throw Error(ErrorCode::kFile, path + ": truncated vector index (" + std::to_string(b.size()) + " bytes)");
  uint64_t stored;
  std::memcpy(&stored, b.data() + b.size() - 8, 8);
  const uint64_t header_len = c.Pod<uint64_t>("the header length");
  c.Need(header_len, "the header");
  const std::string header(reinterpret_cast<const char*>(b.data() + c.pos), header_len);
  c.pos += header_len;
  const uint64_t items_len = c.Pod<uint64_t>("the items length");
  c.Need(items_len, "the items");
  const size_t items_at = c.pos;
  c.pos += items_len;
  const uint64_t faiss_len = c.Pod<uint64_t>("the faiss index length");
  c.Need(faiss_len, "the faiss index");
  const size_t faiss_at = c.pos;
  c.pos += faiss_len;
  c.Need(8, "the checksum");
  if (c.pos + 8 != b.size())
    throw Error(ErrorCode::kFile, path + ": vector index has " + std::to_string(b.size() - c.pos - 8) + " unexpected bytes at the end");
  if (Fnv1a(b.data(), b.size() - 8) != stored)
    throw Error(ErrorCode::kFile, path + ": vector index checksum mismatch: the file is corrupted");

  auto impl = std::make_unique<Impl>();
  try {
    const nlohmann::json h = nlohmann::json::parse(header);
    impl->kind = ParseIndexKind(h.at("kind").get<std::string>());
    impl->options.kind = impl->kind;
    impl->options.similarity = ParseSimilarity(h.at("similarity").get<std::string>());
    const auto& mj = h.at("model");
    impl->model = {mj.at("name").get<std::string>(), mj.at("version").get<std::string>(), mj.at("task").get<std::string>(),
                   mj.at("fingerprint").get<std::string>(), mj.at("dim").get<int>(), mj.at("normalized").get<bool>(),
                   mj.at("quantized").get<bool>()};
    const auto& o = h.at("options");
    impl->options.exact_max_items = o.at("exact_max_items").get<int64_t>();
    impl->options.hnsw_m = o.at("hnsw_m").get<int>();
    impl->options.hnsw_ef_construction = o.at("hnsw_ef_construction").get<int>();
    impl->options.hnsw_ef_search = o.at("hnsw_ef_search").get<int>();
    impl->options.ivf_lists = o.at("ivf_lists").get<int>();
    impl->options.ivf_nprobe = o.at("ivf_nprobe").get<int>();
    impl->options.pq_subquantizers = o.at("pq_subquantizers").get<int>();
    impl->next_id = h.at("next_id").get<int64_t>();
    const auto count = h.at("count").get<uint64_t>();
    if (impl->kind == IndexKind::kAuto) throw Error(ErrorCode::kFile, "kind \"auto\" is not a stored kind");
    if (impl->model.dim < 1) throw Error(ErrorCode::kFile, "model dim " + std::to_string(impl->model.dim));
    ValidateVectorIndexOptions(impl->options);
    Cursor ic{b, items_at, path};
    const size_t items_end = items_at + items_len;
    for (uint64_t i = 0; i < count; ++i) {
      if (ic.pos >= items_end) throw Error(ErrorCode::kFile, "the items section holds fewer than " + std::to_string(count) + " items");
      const int64_t id = ic.Pod<int64_t>("an item id");
      const uint32_t len = ic.Pod<uint32_t>("an item length");
      ic.Need(len, "an item");
      if (ic.pos + len > items_end) throw Error(ErrorCode::kFile, "an item runs past the items section");
      if (id < 0 || id >= impl->next_id || impl->items.count(id))
        throw Error(ErrorCode::kFile, "bad or repeated item id " + std::to_string(id));
      impl->items[id] = std::string(reinterpret_cast<const char*>(b.data() + ic.pos), len);
      ic.pos += len;
      if (impl->kind != IndexKind::kIvfPq) impl->position_ids.push_back(id);
    }
    if (ic.pos != items_end) throw Error(ErrorCode::kFile, "the items section has bytes after its " + std::to_string(count) + " items");
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kFile) throw Error(ErrorCode::kFile, path + ": bad vector index header: " + e.what());
    throw Error(ErrorCode::kFile, path + ": bad vector index header: " + e.what());
  } catch (const std::exception& e) {
    throw Error(ErrorCode::kFile, path + ": bad vector index header: " + e.what());
  }
  // faiss reads straight from the file's bytes (a VectorIOReader would copy them first)
  struct SpanReader final : faiss::IOReader {
    const uint8_t* p;
    size_t n, pos = 0;
    SpanReader(const uint8_t* p, size_t n) : p(p), n(n) {}
    size_t operator()(void* ptr, size_t size, size_t nitems) override {
      if (size == 0 || pos >= n) return 0;
      const size_t items = std::min(nitems, (n - pos) / size);
      if (items == 0) return 0;  // faiss reads empty vectors into a null data()
      std::memcpy(ptr, p + pos, items * size);
      pos += items * size;
      return items;
    }
  } r(b.data() + faiss_at, faiss_len);
  faiss::Index* raw = nullptr;
  try {
    raw = faiss::read_index(&r);
  } catch (const std::exception& e) {
    throw Error(ErrorCode::kFile, path + ": the faiss index inside the file does not read: " + e.what());
  }
  impl->index.reset(raw);
  const Impl& m = *impl;
  const bool type_ok = m.kind == IndexKind::kExact   ? dynamic_cast<faiss::IndexFlatIP*>(raw) != nullptr
                       : m.kind == IndexKind::kHnsw ? dynamic_cast<faiss::IndexHNSWFlat*>(raw) != nullptr
                                                     : dynamic_cast<faiss::IndexIVFPQ*>(raw) != nullptr;
  if (!type_ok || raw->d != m.model.dim || raw->metric_type != faiss::METRIC_INNER_PRODUCT ||
      raw->ntotal != static_cast<faiss::Index::idx_t>(m.items.size()))
    throw Error(ErrorCode::kFile, path + ": the faiss index inside the file does not match its header (" +
                                      std::to_string(raw->ntotal) + " vectors of " + std::to_string(raw->d) + " dimensions; header: " +
                                      std::to_string(m.items.size()) + " " + IndexKindName(m.kind) + " items of " +
                                      std::to_string(m.model.dim) + ")");
  if (auto* h = dynamic_cast<faiss::IndexHNSWFlat*>(raw)) {
    h->hnsw.efSearch = m.options.hnsw_ef_search;
    UseFastStorage(*h);
  }
  if (auto* ivf = dynamic_cast<faiss::IndexIVFPQ*>(raw)) ivf->nprobe = static_cast<size_t>(m.options.ivf_nprobe);
  return std::unique_ptr<VectorIndex>(new VectorIndex(std::move(impl)));
}

}  // namespace sense
