// The vector index: exact search equals brute force, approximate kinds find
// most true neighbours, save/load round trips, add/remove, model identity,
// and clear errors (never a crash) for missing, foreign, truncated,
// corrupted and other-version files.
#include "sense/inference/vector_index.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <set>
#include <thread>

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "sense/inference/error.h"

namespace sense {
namespace {

EmbeddingModelIdentity Model(int dim) { return {"test-model", "1.0.0", "image_embedding", "0123456789abcdef", dim, true, false}; }

// Clustered vectors (structure, as real embeddings have): `clusters` centres,
// points scattered around them.
std::vector<std::vector<float>> Clustered(int n, int dim, int clusters, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<std::vector<float>> centres(static_cast<size_t>(clusters), std::vector<float>(static_cast<size_t>(dim)));
  for (auto& c : centres)
    for (auto& x : c) x = g(rng);
  std::vector<std::vector<float>> v(static_cast<size_t>(n), std::vector<float>(static_cast<size_t>(dim)));
  for (int i = 0; i < n; ++i)
    for (int d = 0; d < dim; ++d) v[static_cast<size_t>(i)][static_cast<size_t>(d)] = centres[static_cast<size_t>(i % clusters)][static_cast<size_t>(d)] + 0.4f * g(rng);
  return v;
}

std::vector<std::string> Names(size_t n) {
  std::vector<std::string> s;
  for (size_t i = 0; i < n; ++i) s.push_back("item" + std::to_string(i));
  return s;
}

std::vector<float> Unit(std::vector<float> v) {
  double s = 0;
  for (float x : v) s += x * x;
  for (float& x : v) x = static_cast<float>(x / std::sqrt(s));
  return v;
}

// The k best ids by cosine, computed here.
std::vector<int64_t> BruteForce(const std::vector<std::vector<float>>& data, const std::vector<float>& q, int k) {
  const auto uq = Unit(q);
  std::vector<std::pair<float, int64_t>> s;
  for (size_t i = 0; i < data.size(); ++i) {
    const auto u = Unit(data[i]);
    float dot = 0;
    for (size_t d = 0; d < u.size(); ++d) dot += u[d] * uq[d];
    s.push_back({-dot, static_cast<int64_t>(i)});
  }
  std::sort(s.begin(), s.end());
  std::vector<int64_t> ids;
  for (int i = 0; i < k; ++i) ids.push_back(s[static_cast<size_t>(i)].second);
  return ids;
}

double Recall(const VectorIndex& index, const std::vector<std::vector<float>>& data, const std::vector<std::vector<float>>& queries,
              int k) {
  double hit = 0;
  for (const auto& q : queries) {
    const auto truth = BruteForce(data, q, k);
    const std::set<int64_t> t(truth.begin(), truth.end());
    for (const auto& n : index.Search(q, k)) hit += t.count(n.id);
  }
  return hit / (static_cast<double>(k) * queries.size());
}

TEST(VectorIndex, ExactEqualsBruteForce) {
  const auto data = Clustered(600, 16, 12, 1);
  VectorIndexOptions o;
  auto index = VectorIndex::Build(Model(16), o, Names(data.size()), data);
  EXPECT_EQ(index->kind(), IndexKind::kExact);  // auto, small set
  const auto queries = Clustered(20, 16, 12, 2);
  for (const auto& q : queries) {
    const auto found = index->Search(q, 5);
    const auto truth = BruteForce(data, q, 5);
    ASSERT_EQ(found.size(), 5u);
    for (size_t i = 0; i < 5; ++i) {
      EXPECT_EQ(found[i].id, truth[i]);
      EXPECT_EQ(found[i].item, "item" + std::to_string(truth[i]));
      if (i) EXPECT_GE(found[i - 1].score, found[i].score);
    }
  }
}

TEST(VectorIndex, ScoresAreCosineOrDot) {
  VectorIndexOptions o;
  auto cos = VectorIndex::Build(Model(2), o, {"a", "b"}, {{3, 4}, {0, 2}});
  auto r = cos->Search({1, 0}, 2);
  EXPECT_EQ(r[0].item, "a");
  EXPECT_NEAR(r[0].score, 0.6, 1e-6);
  EXPECT_NEAR(r[1].score, 0.0, 1e-6);
  o.similarity = Similarity::kDot;
  auto dot = VectorIndex::Build(Model(2), o, {"a", "b"}, {{3, 4}, {0, 2}});
  r = dot->Search({0, 1}, 2);
  EXPECT_EQ(r[0].item, "a");
  EXPECT_NEAR(r[0].score, 4.0, 1e-5);
  EXPECT_NEAR(r[1].score, 2.0, 1e-5);
}

TEST(VectorIndex, AutoChoosesHnswAboveTheThreshold) {
  const auto data = Clustered(3000, 16, 30, 3);
  VectorIndexOptions o;
  o.exact_max_items = 1000;
  auto index = VectorIndex::Build(Model(16), o, Names(data.size()), data);
  EXPECT_EQ(index->kind(), IndexKind::kHnsw);
  EXPECT_GE(Recall(*index, data, Clustered(30, 16, 30, 4), 10), 0.9);
}

// Search-time settings are applied (faiss 1.7.3's HNSW ignores its search
// parameters object; the index sets efSearch itself). Deterministic: one
// thread, fixed data.
TEST(VectorIndex, EfSearchAndNprobeChangeTheSearch) {
  const auto data = Clustered(4000, 16, 40, 12);
  const auto queries = Clustered(40, 16, 40, 13);
  VectorIndexOptions o;
  o.kind = IndexKind::kHnsw;
  o.hnsw_m = 4;
  o.hnsw_ef_construction = 8;
  auto h = VectorIndex::Build(Model(16), o, Names(data.size()), data);
  auto recall = [&](const VectorIndex& index, const SearchOptions& so) {
    double hit = 0;
    for (const auto& q : queries) {
      const auto truth = BruteForce(data, q, 10);
      const std::set<int64_t> t(truth.begin(), truth.end());
      for (const auto& n : index.Search(q, 10, so)) hit += t.count(n.id);
    }
    return hit / (10.0 * queries.size());
  };
  SearchOptions narrow, wide;
  narrow.ef_search = 10;
  wide.ef_search = 400;
  EXPECT_LT(recall(*h, narrow), recall(*h, wide));
  o.kind = IndexKind::kIvfPq;
  auto ivf = VectorIndex::Build(Model(16), o, Names(data.size()), data);
  narrow = {};
  wide = {};
  narrow.nprobe = 1;
  wide.nprobe = ivf->options().ivf_lists;
  EXPECT_LT(recall(*ivf, narrow), recall(*ivf, wide));
}

// Build on several threads, search on one (SearchOptions::threads): the
// same neighbours as the index's own thread count; a negative count is an
// option error that names the value.
TEST(VectorIndex, SearchThreadsOverrideTheBuildThreads) {
  const auto data = Clustered(3000, 16, 30, 21);
  const auto queries = Clustered(64, 16, 30, 22);
  std::vector<float> flat;
  for (const auto& q : queries) flat.insert(flat.end(), q.begin(), q.end());
  VectorIndexOptions o;
  o.kind = IndexKind::kHnsw;
  o.threads = 2;
  auto h = VectorIndex::Build(Model(16), o, Names(data.size()), data);
  SearchOptions one;
  one.threads = 1;
  const auto a = h->SearchBatch(flat.data(), static_cast<int64_t>(queries.size()), 10);
  const auto b = h->SearchBatch(flat.data(), static_cast<int64_t>(queries.size()), 10, one);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].size(), b[i].size());
    for (size_t j = 0; j < a[i].size(); ++j) EXPECT_EQ(a[i][j].id, b[i][j].id);
  }
  SearchOptions bad;
  bad.threads = -1;
  try {
    h->SearchBatch(flat.data(), 1, 10, bad);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kOption);
    EXPECT_NE(std::string(e.what()).find("-1"), std::string::npos) << e.what();
  }
}

// HNSW distances come from sense's own inner-product kernel (AVX2 where
// the CPU has it, else a portable loop) inside faiss's graph code: with a
// dimension that is no multiple of 8 or 32 (the kernels' tails), every
// returned score is the exact dot product of the query and that item's
// vector, before and after Save/Load, and the graph finds what exact
// search finds.
TEST(VectorIndex, HnswScoresAreExactDotProducts) {
  const int dim = 45;
  const auto data = Clustered(1500, dim, 15, 31);
  const auto queries = Clustered(25, dim, 15, 32);
  VectorIndexOptions o;
  o.kind = IndexKind::kHnsw;
  o.similarity = Similarity::kDot;
  auto h = VectorIndex::Build(Model(dim), o, Names(data.size()), data);
  o.kind = IndexKind::kExact;
  auto exact = VectorIndex::Build(Model(dim), o, Names(data.size()), data);
  const std::string path = ::testing::TempDir() + "/dot45.sidx";
  h->Save(path);
  auto loaded = VectorIndex::Load(path);
  SearchOptions wide;
  wide.ef_search = 200;
  double hits = 0;
  for (const auto& q : queries) {
    const auto truth = exact->Search(q, 10);
    std::set<int64_t> t;
    for (const auto& nb : truth) t.insert(nb.id);
    for (const VectorIndex* index : {h.get(), loaded.get()}) {
      const auto got = index->Search(q, 10, wide);
      ASSERT_EQ(got.size(), 10u);
      for (const auto& nb : got) {
        double want = 0;
        for (int j = 0; j < dim; ++j) want += double(q[j]) * data[static_cast<size_t>(nb.id)][static_cast<size_t>(j)];
        EXPECT_NEAR(nb.score, want, 1e-4 * std::max(1.0, std::abs(want)));
        hits += t.count(nb.id);
      }
    }
  }
  EXPECT_GE(hits / (2 * 10.0 * queries.size()), 0.95);
}

TEST(VectorIndex, IvfPqFindsMostNeighbours) {
  const auto data = Clustered(4000, 16, 40, 5);
  VectorIndexOptions o;
  o.kind = IndexKind::kIvfPq;
  o.ivf_nprobe = 8;
  auto index = VectorIndex::Build(Model(16), o, Names(data.size()), data);
  EXPECT_EQ(index->kind(), IndexKind::kIvfPq);
  EXPECT_GT(index->options().ivf_lists, 0);
  EXPECT_GE(Recall(*index, data, Clustered(30, 16, 40, 6), 10), 0.4);
}

TEST(VectorIndex, IvfPqNeedsEnoughTrainingVectors) {
  VectorIndexOptions o;
  o.kind = IndexKind::kIvfPq;
  const auto data = Clustered(50, 8, 5, 7);
  try {
    VectorIndex::Build(Model(8), o, Names(data.size()), data);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInput);
    EXPECT_NE(std::string(e.what()).find("to train on"), std::string::npos);
  }
  EXPECT_THROW(VectorIndex::Create(Model(8), o), Error);
}

TEST(VectorIndex, WrongSizesAndBadOptionsAreErrors) {
  VectorIndexOptions o;
  EXPECT_THROW(VectorIndex::Build(Model(3), o, {"a"}, {{1, 2}}), Error);
  EXPECT_THROW(VectorIndex::Build(Model(3), o, {"a", "b"}, {{1, 2, 3}}), Error);
  auto index = VectorIndex::Build(Model(3), o, {"a"}, {{1, 2, 3}});
  EXPECT_THROW(index->Search({1, 2}, 1), Error);
  EXPECT_THROW(index->Search({1, 2, 3}, 0), Error);
  EXPECT_THROW(index->Add("b", {1}), Error);
  o.hnsw_m = 2;
  EXPECT_THROW(VectorIndex::Create(Model(3), o), Error);
  EXPECT_THROW(ParseIndexKind("lsh"), Error);
  EXPECT_EQ(index->Search({1, 2, 3}, 10).size(), 1u);  // k above the count: what there is
}

class AddRemove : public ::testing::TestWithParam<IndexKind> {};

TEST_P(AddRemove, RemovedItemsAreNeverReturnedAndIdsStayStable) {
  const auto data = Clustered(2000, 8, 20, 8);
  VectorIndexOptions o;
  o.kind = GetParam();
  auto index = VectorIndex::Build(Model(8), o, Names(data.size()), data);
  // the item itself is its own nearest neighbour (IVF-PQ's codes are
  // approximate: among the nearest)
  bool found = false;
  for (const auto& n : index->Search(data[7], GetParam() == IndexKind::kIvfPq ? 20 : 1)) found |= n.id == 7;
  EXPECT_TRUE(found);
  EXPECT_TRUE(index->Remove(7));
  EXPECT_FALSE(index->Remove(7));
  EXPECT_EQ(index->size(), 1999);
  for (const auto& n : index->Search(data[7], 20)) EXPECT_NE(n.id, 7);
  const int64_t id = index->Add("new", data[7]);
  EXPECT_EQ(id, 2000);  // ids are never reused
  const auto top = index->Search(data[7], 1);
  if (GetParam() != IndexKind::kIvfPq) {
    EXPECT_EQ(top[0].id, 2000);
    EXPECT_EQ(top[0].item, "new");
  }
  EXPECT_EQ(index->RemoveItem("item9"), 1);
  EXPECT_EQ(index->RemoveItem("item9"), 0);
  EXPECT_THROW(index->item(9), Error);
  EXPECT_EQ(index->item(10), "item10");
  EXPECT_EQ(index->size(), 1999);
}

INSTANTIATE_TEST_SUITE_P(Kinds, AddRemove, ::testing::Values(IndexKind::kExact, IndexKind::kHnsw, IndexKind::kIvfPq),
                         [](const auto& info) { return std::string(IndexKindName(info.param)); });

class SaveLoad : public ::testing::TestWithParam<IndexKind> {};

TEST_P(SaveLoad, RoundTripGivesTheSameResults) {
  const auto data = Clustered(2000, 8, 20, 9);
  VectorIndexOptions o;
  o.kind = GetParam();
  auto index = VectorIndex::Build(Model(8), o, Names(data.size()), data);
  index->Remove(3);
  index->Add("with\ttab and \xc3\xa9", data[3]);
  const std::string path = ::testing::TempDir() + "/rt_" + IndexKindName(GetParam()) + ".sidx";
  index->Save(path);
  auto loaded = VectorIndex::Load(path);
  EXPECT_EQ(loaded->kind(), GetParam());
  EXPECT_EQ(loaded->size(), index->size());
  EXPECT_EQ(loaded->model(), Model(8));
  EXPECT_EQ(loaded->items(), index->items());
  for (int q = 0; q < 20; ++q) {
    const auto a = index->Search(data[static_cast<size_t>(q * 37)], 5), b = loaded->Search(data[static_cast<size_t>(q * 37)], 5);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].id, b[i].id);
      EXPECT_EQ(a[i].item, b[i].item);
      EXPECT_FLOAT_EQ(a[i].score, b[i].score);
    }
  }
  // and it keeps working: ids continue after the stored next id
  EXPECT_EQ(loaded->Add("later", data[0]), 2001);
}

// Load reads a regular file in one read of its size; a stream without a size
// (a named pipe) goes through the byte-wise fallback and must load the same.
TEST(VectorIndexFile, LoadsFromANamedPipe) {
  const auto data = Clustered(300, 8, 5, 4);
  auto index = VectorIndex::Build(Model(8), {}, Names(data.size()), data);
  const std::string path = ::testing::TempDir() + "/pipe_src.sidx";
  index->Save(path);
  std::ifstream f(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const std::string fifo = ::testing::TempDir() + "/pipe.sidx";
  std::remove(fifo.c_str());
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  std::thread writer([&] {
    std::ofstream out(fifo, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  });
  std::unique_ptr<VectorIndex> loaded;
  EXPECT_NO_THROW(loaded = VectorIndex::Load(fifo));
  writer.join();
  std::remove(fifo.c_str());
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->items(), index->items());
  const auto a = index->Search(data[7], 5), b = loaded->Search(data[7], 5);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].id, b[i].id);
}

INSTANTIATE_TEST_SUITE_P(Kinds, SaveLoad, ::testing::Values(IndexKind::kExact, IndexKind::kHnsw, IndexKind::kIvfPq),
                         [](const auto& info) { return std::string(IndexKindName(info.param)); });

TEST(VectorIndex, QueryFromAnotherModelIsAClearError) {
  auto index = VectorIndex::Create(Model(4), {});
  index->CheckModel(Model(4));
  EmbeddingModelIdentity other = Model(4);
  other.fingerprint = "fedcba9876543210";
  try {
    index->CheckModel(other);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInput);
    EXPECT_NE(std::string(e.what()).find("0123456789abcdef"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("fedcba9876543210"), std::string::npos);
  }
}

std::vector<char> ReadAll(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void WriteAll(const std::string& p, const std::vector<char>& b) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(b.data(), static_cast<std::streamsize>(b.size()));
}

// Load must throw Error(kFile) whose message contains `what`.
void ExpectFileError(const std::string& path, const std::string& what) {
  try {
    VectorIndex::Load(path);
    ADD_FAILURE() << path << " loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kFile) << e.what();
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

class BadFiles : public ::testing::TestWithParam<IndexKind> {
 protected:
  void SetUp() override {
    const auto data = Clustered(1500, 8, 10, 11);
    VectorIndexOptions o;
    o.kind = GetParam();
    path_ = ::testing::TempDir() + "/bad_" + IndexKindName(GetParam()) + ".sidx";
    VectorIndex::Build(Model(8), o, Names(data.size()), data)->Save(path_);
    bytes_ = ReadAll(path_);
  }
  std::string path_;
  std::vector<char> bytes_;
};

TEST_P(BadFiles, EveryTruncationIsRefused) {
  const std::string p = path_ + ".cut";
  // every length near the start and the end, and a spread in between
  std::vector<size_t> cuts;
  for (size_t n = 0; n < 200 && n < bytes_.size(); ++n) cuts.push_back(n);
  for (size_t n = 200; n < bytes_.size(); n += bytes_.size() / 97 + 1) cuts.push_back(n);
  for (size_t n = bytes_.size() > 64 ? bytes_.size() - 64 : 0; n < bytes_.size(); ++n) cuts.push_back(n);
  for (size_t n : cuts) {
    WriteAll(p, std::vector<char>(bytes_.begin(), bytes_.begin() + static_cast<std::ptrdiff_t>(n)));
    try {
      VectorIndex::Load(p);
      ADD_FAILURE() << "a file cut to " << n << " bytes loaded";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kFile) << e.what();
    }
  }
}

TEST_P(BadFiles, FlippedBytesAreCaughtByTheChecksum) {
  const std::string p = path_ + ".flip";
  for (size_t at : {size_t{20}, bytes_.size() / 3, bytes_.size() / 2, bytes_.size() - 20}) {
    auto b = bytes_;
    b[at] = static_cast<char>(b[at] ^ 0x5a);
    WriteAll(p, b);
    try {
      VectorIndex::Load(p);
      ADD_FAILURE() << "a file with byte " << at << " flipped loaded";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kFile) << e.what();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, BadFiles, ::testing::Values(IndexKind::kExact, IndexKind::kHnsw, IndexKind::kIvfPq),
                         [](const auto& info) { return std::string(IndexKindName(info.param)); });

TEST(VectorIndexFile, MissingEmptyForeignAndOtherVersion) {
  const std::string dir = ::testing::TempDir();
  ExpectFileError(dir + "/no_such.sidx", "cannot open");
  WriteAll(dir + "/empty.sidx", {});
  ExpectFileError(dir + "/empty.sidx", "empty file");
  const std::string png = "\x89PNG\r\n\x1a\nnot an index at all";
  WriteAll(dir + "/foreign.sidx", std::vector<char>(png.begin(), png.end()));
  ExpectFileError(dir + "/foreign.sidx", "not a sense vector index");
  auto index = VectorIndex::Build(Model(2), {}, {"a"}, {{1, 0}});
  index->Save(dir + "/v.sidx");
  auto b = ReadAll(dir + "/v.sidx");
  const uint32_t v2 = kVectorIndexFormatVersion + 1;
  std::memcpy(b.data() + 8, &v2, 4);
  WriteAll(dir + "/v2.sidx", b);
  ExpectFileError(dir + "/v2.sidx", "format version " + std::to_string(v2));
}

}  // namespace
}  // namespace sense
