// sense/inference/vector_index.h — nearest-neighbour search over embeddings
// (faiss underneath), with the items the vectors stand for and the model
// that made them, in one file.
//
//   sense::VectorIndexOptions o;                       // kind kAuto: exact for small sets
//   auto index = sense::VectorIndex::Build(embedder->identity(), o, paths, vectors);
//   index->Save("shop.sidx");
//   auto loaded = sense::VectorIndex::Load("shop.sidx");
//   loaded->CheckModel(embedder->identity());          // a query from another model is an error
//   for (const auto& n : loaded->Search(query, 10)) std::cout << n.item << " " << n.score << "\n";
//
// Kinds: exact (faiss IndexFlatIP: every vector compared), HNSW (a graph;
// fast and accurate, memory ~ (dim * 4 + M * 8) bytes per vector; its
// search is faiss's algorithm with sense's AVX2 inner product and prefetching), IVF-PQ
// (inverted lists of product-quantised codes: compact, needs training on the
// vectors it is built from, lower recall). kAuto picks exact below
// VectorIndexOptions::exact_max_items vectors and HNSW above. Scores are
// inner products: cosine similarity for Similarity::kCosine (vectors are
// L2-normalised when added and queried), the raw dot product for kDot.
// Larger is closer.
//
// Items: each added vector gets a stable id (0, 1, ... in add order, never
// reused) and carries its item string (a path, a text, a product id).
// Remove(id) takes it out; for HNSW, whose graph cannot drop nodes, the
// index is rebuilt from the remaining vectors (slow for large sets).
//
// File: "SENSEVIX" magic, a format version, a JSON header (kind, settings,
// model identity), the items, the faiss index, and a checksum over all of
// it. Load refuses a missing, truncated, foreign, corrupted or
// other-version file with Error(kFile) saying which, never a crash.
//
// Thread safety: Search, SearchBatch, CheckModel and the accessors are const
// and safe to call from several threads at once; Add, Remove and Save must
// not run concurrently with any other call on the same index.
#ifndef SENSE_INFERENCE_VECTOR_INDEX_H_
#define SENSE_INFERENCE_VECTOR_INDEX_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sense/inference/embedding.h"

namespace sense {

// The on-disk format version this build writes and reads.
inline constexpr uint32_t kVectorIndexFormatVersion = 1;

enum class IndexKind { kAuto, kExact, kHnsw, kIvfPq };
// "auto", "exact", "hnsw", "ivfpq"; anything else is Error(kOption) listing them.
IndexKind ParseIndexKind(const std::string& name);
const char* IndexKindName(IndexKind kind);

struct VectorIndexOptions {
  IndexKind kind = IndexKind::kAuto;          // kAuto: exact up to exact_max_items vectors at Build, HNSW above
  Similarity similarity = Similarity::kCosine;  // kCosine normalises vectors; kDot keeps them as they are
  int64_t exact_max_items = 50000;            // kAuto's threshold; >= 0
  int hnsw_m = 32;                            // HNSW: graph neighbours per node, 4..128
  int hnsw_ef_construction = 80;              // HNSW: candidate list while building, >= hnsw_m
  int hnsw_ef_search = 64;                    // HNSW: candidate list while searching (default for Search), >= 1
  int ivf_lists = 0;                          // IVF-PQ: inverted lists; 0: about 4 * sqrt(n), at most n / 39
  int ivf_nprobe = 16;                        // IVF-PQ: lists visited per query (default for Search), >= 1
  int pq_subquantizers = 0;                   // IVF-PQ: bytes per vector; 0: dim / 4 (rounded to a divisor of dim)
  int threads = 1;                            // faiss (OpenMP) threads for Build and SearchBatch; >= 1
};
// Error(kOption) naming the field.
void ValidateVectorIndexOptions(const VectorIndexOptions& options);

struct Neighbor {
  int64_t id = -1;    // the item's stable id
  std::string item;   // the path, text or key it was added with
  float score = 0;    // inner product (cosine for Similarity::kCosine); larger is closer
};

// Per-search settings; 0 means the index's default.
struct SearchOptions {
  int ef_search = 0;  // HNSW
  int nprobe = 0;     // IVF-PQ
  int threads = 0;    // SearchBatch's faiss threads (e.g. build on many, serve on one)
};

class VectorIndex {
 public:
  // An empty index for vectors of `model` (exact or HNSW; kAuto gives
  // exact; IVF-PQ needs Build, which trains it). Throws Error(kOption).
  static std::unique_ptr<VectorIndex> Create(const EmbeddingModelIdentity& model, const VectorIndexOptions& options);
  // An index of `items` with their `vectors` (same count, each model.dim
  // long). Throws Error(kOption) for bad options, Error(kInput) for a count
  // or dimension mismatch, or for IVF-PQ with too few vectors to train on.
  static std::unique_ptr<VectorIndex> Build(const EmbeddingModelIdentity& model, const VectorIndexOptions& options,
                                            const std::vector<std::string>& items,
                                            const std::vector<std::vector<float>>& vectors);
  // The same from a row-major [n, dim] float array (benchmarks, NumPy data).
  static std::unique_ptr<VectorIndex> Build(const EmbeddingModelIdentity& model, const VectorIndexOptions& options,
                                            const std::vector<std::string>& items, const float* data, int64_t n);
  // Reads a file Save wrote. Throws Error(kFile) (missing, truncated,
  // foreign, corrupted, another format version).
  static std::unique_ptr<VectorIndex> Load(const std::string& path);
  ~VectorIndex();

  // Writes the index, its items and its model identity to one file
  // (written to PATH.tmp, then renamed). Throws Error(kFile).
  void Save(const std::string& path) const;

  // Adds one vector; returns its id. Throws Error(kInput) for a wrong size.
  int64_t Add(const std::string& item, const std::vector<float>& vector);
  // Removes the item with this id; false when there is none.
  bool Remove(int64_t id);
  // Removes every item whose string equals `item`; returns how many.
  int64_t RemoveItem(const std::string& item);

  // The k nearest items, closest first (fewer when the index holds fewer).
  // Throws Error(kInput) for a wrong size or k < 1.
  std::vector<Neighbor> Search(const std::vector<float>& query, int k, const SearchOptions& options = {}) const;
  // Many queries at once ([n, dim] row-major), faiss's batched search on
  // options.threads threads: one list per query.
  std::vector<std::vector<Neighbor>> SearchBatch(const float* queries, int64_t n, int k,
                                                 const SearchOptions& options = {}) const;

  // Error(kInput) unless `query_model` is the model the index was built
  // with: "index built with <a>; the query model is <b>".
  void CheckModel(const EmbeddingModelIdentity& query_model) const;

  const EmbeddingModelIdentity& model() const;
  IndexKind kind() const;  // never kAuto
  const VectorIndexOptions& options() const;
  int64_t size() const;
  int dim() const;
  // The item string of an id; Error(kInput) when there is none.
  const std::string& item(int64_t id) const;
  // Every (id, item) in id order.
  std::vector<std::pair<int64_t, std::string>> items() const;
  // Bytes the faiss index occupies when serialised (its memory, near enough).
  int64_t IndexBytes() const;

  struct Impl;

 private:
  explicit VectorIndex(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sense

#endif  // SENSE_INFERENCE_VECTOR_INDEX_H_
