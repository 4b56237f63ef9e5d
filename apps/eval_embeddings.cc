// sense-eval retrieval / sts: how good an embedding model is, through the
// same C++ path the apps use (ImageEmbedder / TextEmbedder).
#include "eval_embeddings.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <numeric>
#include <sstream>

#include "common/app.h"
#include "embed/any_embedder.h"
#include "sense/vision/idx.h"
#include "sense/vision/image_io.h"

namespace sense::app {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::vector<double> Ranks(const std::vector<double>& x) {
  std::vector<size_t> order(x.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return x[a] < x[b]; });
  std::vector<double> r(x.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && x[order[j + 1]] == x[order[i]]) ++j;
    for (size_t t = i; t <= j; ++t) r[order[t]] = (static_cast<double>(i + j) / 2.0) + 1;
    i = j + 1;
  }
  return r;
}

double Pearson(const std::vector<double>& a, const std::vector<double>& b) {
  const double n = static_cast<double>(a.size());
  const double ma = std::accumulate(a.begin(), a.end(), 0.0) / n, mb = std::accumulate(b.begin(), b.end(), 0.0) / n;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : 0.0;
}

struct Pair {
  std::string a, b;
  double score = 0;
};

bool ParseNumber(const std::string& s, double* v) {
  try {
    size_t used = 0;
    *v = std::stod(s, &used);
    return used == s.size() && std::isfinite(*v);
  } catch (const std::exception&) {
    return false;
  }
}

std::vector<std::string> SplitTabs(const std::string& line) {
  std::vector<std::string> f;
  std::string cur;
  for (char c : line) {
    if (c == '\t') {
      f.push_back(cur);
      cur.clear();
    } else if (c != '\r') {
      cur += c;
    }
  }
  f.push_back(cur);
  return f;
}

// STS Benchmark lines (genre, file, year, id, score, s1, s2[, sources]) or
// plain "s1<TAB>s2<TAB>score"; a first line whose score is not a number is
// a header and skipped. Other lines are an error naming the line.
std::vector<Pair> ReadPairs(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(ErrorCode::kFile, path + ": cannot open the pairs file");
  std::vector<Pair> pairs;
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty()) continue;
    const auto f = SplitTabs(line);
    Pair p;
    bool ok = false;
    if (f.size() >= 7 && ParseNumber(f[4], &p.score)) {
      p.a = f[5];
      p.b = f[6];
      ok = true;
    } else if (f.size() == 3 && ParseNumber(f[2], &p.score)) {
      p.a = f[0];
      p.b = f[1];
      ok = true;
    }
    if (!ok) {
      if (lineno == 1) continue;  // header
      throw Error(ErrorCode::kInput, path + ":" + std::to_string(lineno) + ": expected STS Benchmark fields (score in field 5, "
                                         "sentences in 6 and 7) or 'sentence1<TAB>sentence2<TAB>score', found " +
                                         std::to_string(f.size()) + " fields");
    }
    pairs.push_back(std::move(p));
  }
  if (pairs.empty()) throw Error(ErrorCode::kInput, path + ": no sentence pairs");
  return pairs;
}

// Labelled images: an IDX image file (labels from the matching labels-idx1
// file or --labels) or a folder with one subfolder per class.
void ReadLabelled(const std::string& data, std::string labels_path, std::vector<std::string>* items, std::vector<int>* labels) {
  std::error_code ec;
  if (fs::is_directory(data, ec)) {
    std::vector<std::string> classes;
    for (const auto& e : fs::directory_iterator(data))
      if (e.is_directory()) classes.push_back(e.path().filename().string());
    std::sort(classes.begin(), classes.end());
    if (classes.empty()) throw Error(ErrorCode::kInput, data + ": no class subfolders");
    for (size_t c = 0; c < classes.size(); ++c)
      for (const auto& it : GatherPaths({(fs::path(data) / classes[c]).string()}, vision::ImageExtensions()))
        if (it.error.empty()) {
          items->push_back(it.text);
          labels->push_back(static_cast<int>(c));
        }
    return;
  }
  if (!IsIdxImageFile(data))
    throw Error(ErrorCode::kInput, data + ": retrieval data must be an idx3-ubyte image file or a folder of class subfolders");
  if (labels_path.empty()) {
    labels_path = data;
    const auto at = labels_path.rfind("images-idx3");
    if (at == std::string::npos) throw Error(ErrorCode::kOption, data + ": cannot infer the label file name; pass --labels");
    labels_path.replace(at, 11, "labels-idx1");
  }
  *items = ExpandIdx({data});
  *labels = vision::ReadIdxLabels(labels_path);
  if (labels->size() != items->size())
    throw Error(ErrorCode::kInput, data + " has " + std::to_string(items->size()) + " images but " + labels_path + " has " +
                                       std::to_string(labels->size()) + " labels");
}

}  // namespace

bool IsEmbeddingEvalMode(const std::string& arg) { return arg == "retrieval" || arg == "sts"; }

int EmbeddingEvalMain(int argc, char** argv) {
  const std::string mode = argv[1];
  const std::string app = "sense-eval " + mode;
  return Guarded("sense-eval", [&]() -> int {
    std::string data, model_path, labels_path, device;
    int batch = 0, threads = 0, k = 10, limit = 0;
    po::options_description opts("Options");
    opts.add_options()
      ("data", po::value(&data), mode == "sts" ? "sentence pairs: STS Benchmark .csv, or sentence1<TAB>sentence2<TAB>score"
                                                : "labelled images: an idx3-ubyte(.gz) file or a folder of class subfolders")
      ("model,m", po::value(&model_path)->default_value(DefaultModelPath(mode == "sts" ? "text-embed.pt" : "fashion-embed.pt")),
       "embedding bundle")
      ("labels", po::value(&labels_path), "retrieval, IDX: the label file (default: the image file name with labels-idx1)")
      ("top-k,k", po::value(&k)->default_value(10), "retrieval: precision@k, >= 1")
      ("limit", po::value(&limit)->default_value(0), "use only the first N items or pairs (0: all)")
      ("batch-size,b", po::value(&batch)->default_value(0), "inputs per model call (0: the task's default)")
      ("threads", po::value(&threads)->default_value(0), "inference threads (0: all cores)")
      ("device", po::value(&device)->default_value("cpu"), "cpu, cuda or cuda:N")
      ("json", "print the report as one JSON object");
    po::variables_map vm;
    int rc = 0;
    const std::string usage =
        mode == "sts" ? "sense-eval sts [options] PAIRS\n\n"
                        "Spearman and Pearson correlation (x 100) between the cosine similarity of each pair's\n"
                        "embeddings and its gold score.\n"
                        "Example: sense-eval sts ../shared/data/stsb/sts-dev.csv"
                      : "sense-eval retrieval [options] DATA\n\n"
                        "Each labelled image queries all the others by cosine similarity: precision@k (the share of\n"
                        "the k nearest with the query's label) and mAP (mean average precision over the full ranking).\n"
                        "Example: sense-eval retrieval /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
    if (!ParseCommandLine(argc - 1, argv + 1, app, usage, opts, "data", &vm, &rc)) return rc;
    if (!CheckThreadsOption(app, &threads, &rc)) return rc;
    if (data.empty()) throw UsageError("no data given");
    if (k < 1) throw UsageError("--top-k must be >= 1, found " + std::to_string(k));
    if (limit < 0) throw UsageError("--limit must be >= 0, found " + std::to_string(limit));
    if (batch < 0) throw UsageError("--batch-size must be >= 0, found " + std::to_string(batch));
    const bool as_json = vm.count("json") > 0;
    AnyEmbedderOptions eo;
    eo.model_path = model_path;
    eo.device = device;
    eo.threads = threads;
    eo.batch_size = batch;
    const double t0 = Now();
    auto embedder = AnyEmbedder::Create(eo);
    const double loaded = Now();

    if (mode == "sts") {
      if (embedder->is_image()) throw UsageError(model_path + " is an image model; sts needs a text embedding model");
      auto pairs = ReadPairs(data);
      if (limit > 0 && pairs.size() > static_cast<size_t>(limit)) pairs.resize(static_cast<size_t>(limit));
      std::vector<std::string> texts;
      for (const auto& p : pairs) {
        texts.push_back(p.a);
        texts.push_back(p.b);
      }
      std::vector<std::optional<Embedding>> vecs(texts.size());
      int failed_texts = 0;
      embedder->Embed(texts, [&](size_t i, const cv::Mat&, Outcome<Embedding> o) {
        if (o.ok()) vecs[i] = std::move(o.value());
        else {
          ++failed_texts;
          PrintError("sense-eval", "", "pair " + std::to_string(i / 2 + 1) + ": " + o.error().what());
        }
      });
      const double secs = Now() - loaded;
      std::vector<double> cos, gold;
      for (size_t i = 0; i < pairs.size(); ++i)
        if (vecs[2 * i] && vecs[2 * i + 1]) {
          cos.push_back(CosineSimilarity(*vecs[2 * i], *vecs[2 * i + 1]));
          gold.push_back(pairs[i].score);
        }
      if (cos.size() < 2) throw Error(ErrorCode::kInput, "fewer than 2 pairs could be scored");
      const double spearman = 100 * Pearson(Ranks(cos), Ranks(gold)), pearson = 100 * Pearson(cos, gold);
      const size_t failed = pairs.size() - cos.size();
      if (as_json) {
        PrintJsonLine({{"mode", "sts"}, {"data", data}, {"model", model_path}, {"pairs", pairs.size()}, {"scored", cos.size()},
                       {"failed", failed}, {"spearman_x100", spearman}, {"pearson_x100", pearson},
                       {"sentences_per_second", texts.size() / std::max(secs, 1e-9)}, {"load_seconds", loaded - t0}});
      } else {
        std::cout << std::fixed << std::setprecision(2) << "sts: " << data << "\nmodel: " << model_path << " ("
                  << embedder->identity().Describe() << ")\npairs: " << pairs.size() << " (" << failed << " failed)\n"
                  << "Spearman x100: " << spearman << "\nPearson x100:  " << pearson << "\n"
                  << std::setprecision(0) << "throughput: " << texts.size() / std::max(secs, 1e-9) << " sentences/s\n";
      }
      return failed ? 1 : 0;
    }

    // retrieval
    if (!embedder->is_image()) throw UsageError(model_path + " is a text model; retrieval needs an image embedding model");
    std::vector<std::string> items;
    std::vector<int> labels;
    ReadLabelled(data, labels_path, &items, &labels);
    if (limit > 0 && items.size() > static_cast<size_t>(limit)) {
      items.resize(static_cast<size_t>(limit));
      labels.resize(static_cast<size_t>(limit));
    }
    const size_t dim = static_cast<size_t>(embedder->identity().dim);
    std::vector<float> mat;
    std::vector<int> lab;
    int failed = 0;
    Progress progress(items.size(), "embedding");
    embedder->Embed(items, [&](size_t i, const cv::Mat&, Outcome<Embedding> o) {
      progress.Tick();
      if (!o.ok()) {
        ++failed;
        PrintError("sense-eval", "", o.error().what());
        return;
      }
      std::vector<float> v = o.value().values;
      L2Normalize(v);
      mat.insert(mat.end(), v.begin(), v.end());
      lab.push_back(labels[i]);
    });
    progress.Finish();
    const double embedded = Now();
    const size_t n = lab.size();
    if (n < 2) throw Error(ErrorCode::kInput, "fewer than 2 images could be embedded");
    double p_at_k = 0, map = 0;
    std::vector<float> scores(n);
    std::vector<size_t> order(n);
    for (size_t q = 0; q < n; ++q) {
      const float* a = mat.data() + q * dim;
      for (size_t j = 0; j < n; ++j) {
        const float* b = mat.data() + j * dim;
        float s = 0;
        for (size_t d = 0; d < dim; ++d) s += a[d] * b[d];
        scores[j] = s;
      }
      std::iota(order.begin(), order.end(), 0);
      order.erase(order.begin() + static_cast<std::ptrdiff_t>(q));
      std::sort(order.begin(), order.end(), [&](size_t x, size_t y) { return scores[x] > scores[y] || (scores[x] == scores[y] && x < y); });
      order.push_back(q);  // keeps the buffer's size for the next query
      size_t hits = 0, relevant = 0;
      double ap = 0;
      for (size_t r = 0; r + 1 < n; ++r) {
        if (lab[order[r]] == lab[q]) {
          ++hits;
          ap += static_cast<double>(hits) / static_cast<double>(r + 1);
          if (r < static_cast<size_t>(k)) ++relevant;
        }
      }
      p_at_k += static_cast<double>(relevant) / std::min<double>(k, static_cast<double>(n - 1));
      map += hits ? ap / static_cast<double>(hits) : 0.0;
    }
    p_at_k /= static_cast<double>(n);
    map /= static_cast<double>(n);
    if (as_json) {
      PrintJsonLine({{"mode", "retrieval"}, {"data", data}, {"model", model_path}, {"items", items.size()}, {"failed", failed},
                     {"k", k}, {"precision_at_k", p_at_k}, {"map", map},
                     {"images_per_second", n / std::max(embedded - loaded, 1e-9)}, {"load_seconds", loaded - t0}});
    } else {
      std::cout << std::fixed << std::setprecision(4) << "retrieval: " << data << "\nmodel: " << model_path << " ("
                << embedder->identity().Describe() << ")\nqueries: " << n << " (each against the other " << n - 1 << "; "
                << failed << " failed)\nprecision@" << k << ": " << p_at_k << "\nmAP: " << map << "\n"
                << std::setprecision(0) << "throughput: " << n / std::max(embedded - loaded, 1e-9) << " images/s\n";
    }
    return failed ? 1 : 0;
  });
}

}  // namespace sense::app
