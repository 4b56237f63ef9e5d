// bench_index: sense's vector index (faiss underneath) on real vectors:
// build time, queries/s on one core, recall@10 against exact search, size.
//
//   bench_index BASE.npy QUERIES.npy [--n N] [--kinds exact,hnsw,ivfpq] [--ef 64] [--nprobe 16] [--json]
//               [--build-threads T] [--save-hnsw FILE | --load-hnsw FILE] [--repeat R]
//
// BASE and QUERIES are float32 [n, d] NumPy files (benchmarks/make_sift_vectors.py
// makes SIFT descriptors). Searches run on one thread (faiss's OpenMP set to
// 1), as benchmarks/bench_index_python.py does for faiss from Python; builds
// too unless --build-threads says otherwise. --save-hnsw writes the HNSW index
// it built (a sense index file); --load-hnsw searches a saved one instead of
// building (bench_index_python.py --load-hnsw reads the same file's faiss
// graph, so at 1M vectors both sides search the very same graph). --repeat:
// queries/s is the best of R passes over the queries (filters a shared
// machine's time slicing).
#include <chrono>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sense/inference/error.h"
#include "sense/inference/vector_index.h"

namespace {

struct Matrix {
  std::vector<float> data;
  int64_t rows = 0, cols = 0;
};

Matrix ReadNpy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw sense::Error(sense::ErrorCode::kFile, path + ": cannot open");
  char magic[8];
  in.read(magic, 8);
  if (std::memcmp(magic, "\x93NUMPY", 6) != 0) throw sense::Error(sense::ErrorCode::kFile, path + ": not a .npy file");
  uint32_t hlen = 0;
  if (magic[6] == 1) {
    uint16_t h;
    in.read(reinterpret_cast<char*>(&h), 2);
    hlen = h;
  } else {
    in.read(reinterpret_cast<char*>(&hlen), 4);
  }
  std::string header(hlen, ' ');
  in.read(header.data(), hlen);
  if (header.find("'<f4'") == std::string::npos || header.find("'fortran_order': False") == std::string::npos)
    throw sense::Error(sense::ErrorCode::kFile, path + ": expected float32 C-order, header " + header);
  const auto open = header.find('('), comma = header.find(',', open), close = header.find(')', open);
  Matrix m;
  m.rows = std::stoll(header.substr(open + 1, comma - open - 1));
  m.cols = std::stoll(header.substr(comma + 1, close - comma - 1));
  m.data.resize(static_cast<size_t>(m.rows * m.cols));
  in.read(reinterpret_cast<char*>(m.data.data()), static_cast<std::streamsize>(m.data.size() * 4));
  if (!in) throw sense::Error(sense::ErrorCode::kFile, path + ": short file");
  return m;
}

double Now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc < 3) {
      std::cerr << "usage: bench_index BASE.npy QUERIES.npy [--n N] [--kinds exact,hnsw,ivfpq] [--ef 64] [--nprobe 16] "
                   "[--hnsw-m 32] [--ef-construction 80] [--build-threads 1] [--save-hnsw FILE | --load-hnsw FILE] "
                   "[--repeat 1] [--json]\n";
      return 2;
    }
    Matrix base = ReadNpy(argv[1]), queries = ReadNpy(argv[2]);
    int64_t n = base.rows;
    std::string kinds = "exact,hnsw,ivfpq";
    std::vector<int> efs = {64};
    int nprobe = 16, m = 32, efc = 80;
    bool json = false;
    int build_threads = 1, repeat = 1;
    std::string save_hnsw, load_hnsw;
    for (int i = 3; i < argc; ++i) {
      const std::string a = argv[i];
      auto next = [&] { return std::string(argv[++i]); };
      if (a == "--n") n = std::min<int64_t>(n, std::stoll(next()));
      else if (a == "--kinds") kinds = next();
      else if (a == "--ef") {
        efs.clear();
        std::stringstream s(next());
        std::string t;
        while (std::getline(s, t, ',')) efs.push_back(std::stoi(t));
      } else if (a == "--nprobe") nprobe = std::stoi(next());
      else if (a == "--hnsw-m") m = std::stoi(next());
      else if (a == "--ef-construction") efc = std::stoi(next());
      else if (a == "--json") json = true;
      else if (a == "--build-threads") build_threads = std::stoi(next());
      else if (a == "--repeat") repeat = std::max(1, std::stoi(next()));
      else if (a == "--save-hnsw") save_hnsw = next();
      else if (a == "--load-hnsw") load_hnsw = next();
      else throw sense::Error(sense::ErrorCode::kOption, "unknown option " + a);
    }
    const int d = static_cast<int>(base.cols);
    const int64_t nq = queries.rows;
    const int k = 10;
    sense::EmbeddingModelIdentity model{"sift", "1", "benchmark", "0000000000000000", d, false, false};
    std::vector<std::string> items(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) items[static_cast<size_t>(i)] = std::to_string(i);

    // exact ground truth (and exact's own speed)
    std::vector<std::set<int64_t>> truth;
    auto run = [&](sense::IndexKind kind, const std::vector<int>& ef_list) {
      const int ef = ef_list.front();
      sense::VectorIndexOptions o;
      o.kind = kind;
      o.hnsw_m = m;
      o.hnsw_ef_construction = efc;
      o.hnsw_ef_search = ef > 0 ? ef : 64;
      o.ivf_nprobe = nprobe;
      o.threads = build_threads;
      const bool hnsw = kind == sense::IndexKind::kHnsw;
      const double t0 = Now();
      std::unique_ptr<sense::VectorIndex> index;
      if (hnsw && !load_hnsw.empty()) {
        index = sense::VectorIndex::Load(load_hnsw);
        if (index->size() != n)
          throw sense::Error(sense::ErrorCode::kInput, load_hnsw + ": holds " + std::to_string(index->size()) +
                                                           " vectors, the benchmark has " + std::to_string(n));
      } else {
        index = sense::VectorIndex::Build(model, o, items, base.data.data(), n);
      }
      const double built = Now() - t0;  // with --load-hnsw: the load time
      if (hnsw && !save_hnsw.empty()) index->Save(save_hnsw);
      for (int ef : ef_list) {
      sense::SearchOptions so;
      so.ef_search = ef;
      so.threads = 1;
      std::vector<std::vector<sense::Neighbor>> res;
      double searched = 1e30;  // the best of --repeat passes over the queries
      for (int pass = 0; pass < repeat; ++pass) {
        const double t1 = Now();
        res = index->SearchBatch(queries.data.data(), nq, k, so);
        searched = std::min(searched, Now() - t1);
      }
      if (truth.empty()) {
        for (const auto& r : res) {
          std::set<int64_t> s;
          for (const auto& nb : r) s.insert(nb.id);
          truth.push_back(s);
        }
      }
      double hits = 0;
      for (int64_t q = 0; q < nq; ++q)
        for (const auto& nb : res[static_cast<size_t>(q)]) hits += truth[static_cast<size_t>(q)].count(nb.id);
      const double recall = hits / (static_cast<double>(k) * nq);
      const double qps = nq / searched;
      const int64_t bytes = index->IndexBytes();
      if (json) {
        std::cout << nlohmann::json{{"impl", "sense"}, {"kind", sense::IndexKindName(kind)}, {"n", n}, {"dim", d},
                                    {"queries", nq}, {"hnsw_m", m}, {"ef_construction", efc}, {"ef_search", ef},
                                    {"nprobe", nprobe}, {"ivf_lists", index->options().ivf_lists},
                                    {"pq_m", index->options().pq_subquantizers}, {"build_s", built}, {"qps", qps},
                                    {"recall_at_10", recall}, {"index_bytes", bytes}}
                         .dump()
                  << std::endl;
      } else {
        std::cout << std::fixed << std::setprecision(3) << "sense " << std::setw(5) << sense::IndexKindName(kind) << " n=" << n
                  << " d=" << d << (kind == sense::IndexKind::kHnsw ? " M=" + std::to_string(m) + " efC=" + std::to_string(efc) +
                                                                          " ef=" + std::to_string(ef)
                                    : kind == sense::IndexKind::kIvfPq ? " lists=" + std::to_string(index->options().ivf_lists) +
                                                                             " nprobe=" + std::to_string(nprobe)
                                                                       : std::string())
                  << "  build " << built << " s  " << std::setprecision(0) << qps << " q/s  recall@10 " << std::setprecision(4)
                  << recall << "  " << std::setprecision(1) << bytes / 1e6 << " MB" << std::endl;
      }
      }
    };
    run(sense::IndexKind::kExact, {0});
    std::stringstream ks(kinds);
    std::string kind;
    while (std::getline(ks, kind, ',')) {
      if (kind == "exact") continue;
      if (kind == "hnsw") {
        run(sense::IndexKind::kHnsw, efs);  // one build, a search per ef
      } else if (kind == "ivfpq") {
        run(sense::IndexKind::kIvfPq, {0});
      }
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "bench_index: " << e.what() << "\n";
    return 1;
  }
}
