// Throughput and latency of sense's text classification path (tokenize +
// pad + inference), for benchmarks/run_sentiment_bench.sh. Batch 1: one
// Classify call per sentence (latency). Batch B > 1: one ClassifyBatch call
// over the whole set with max_batch_size B, which sorts the sentences by
// length into batches (what an application gets). One JSON line per batch size.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sense/text/text_classifier.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: bench_sentiment MODEL SENTENCES.tsv THREADS [BATCH...] (default batches: 1 32)\n";
    return 2;
  }
  const std::string model = argv[1], data = argv[2];
  const int threads = std::stoi(argv[3]);
  std::vector<int> batches;
  for (int i = 4; i < argc; ++i) batches.push_back(std::stoi(argv[i]));
  if (batches.empty()) batches = {1, 32};
  std::vector<std::string> texts;
  std::ifstream in(data);
  std::string line;
  bool header = true;
  while (std::getline(in, line)) {
    if (header) { header = false; continue; }
    const auto tab = line.rfind('\t');
    texts.push_back(tab == std::string::npos ? line : line.substr(0, tab));
  }
  const auto t_load = std::chrono::steady_clock::now();
  sense::text::TextClassifierOptions o;
  o.model.path = model;
  o.model.num_threads = threads;
  // SENSE_BENCH_NO_OPTIMIZE=1: LibTorch's own LSTM instead of sense's kernel (ModelOptions::optimize)
  if (const char* v = std::getenv("SENSE_BENCH_NO_OPTIMIZE"); v && std::string(v) == "1") o.model.optimize = false;
  auto classifier = sense::text::TextClassifier::Create(o);
  const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count();
  for (int b : batches) {
    // Warm-up: the TorchScript executor profiles the first calls.
    for (int w = 0; w < 3; ++w) classifier->ClassifyBatch(std::vector<std::string>(texts.begin(), texts.begin() + b));
    std::vector<double> lat;
    double secs = 0;
    if (b == 1) {  // one sentence per call: latency
      const auto t0 = std::chrono::steady_clock::now();
      for (const auto& t : texts) {
        const auto s = std::chrono::steady_clock::now();
        classifier->Classify(t);
        lat.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count());
      }
      secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    } else {  // the whole set in one call: sense sorts by length into batches of b
      sense::text::TextClassifierOptions ob = o;
      ob.max_batch_size = b;
      auto batched = sense::text::TextClassifier::Create(ob);
      batched->ClassifyBatch(std::vector<std::string>(texts.begin(), texts.begin() + b));
      const auto t0 = std::chrono::steady_clock::now();
      batched->ClassifyBatch(texts);
      secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      lat.push_back(secs * 1000.0 * b / static_cast<double>(texts.size()));
    }
    std::sort(lat.begin(), lat.end());
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    std::cout << nlohmann::json{{"impl", "sense"}, {"threads", threads}, {"batch", b}, {"sentences", texts.size()},
                                {"sentences_per_s", texts.size() / secs}, {"median_batch_ms", lat[lat.size() / 2]},
                                {"p90_batch_ms", lat[lat.size() * 9 / 10]}, {"load_s", load_s},
                                {"peak_rss_mb", ru.ru_maxrss / 1024.0}}.dump()
              << std::endl;
  }
  return 0;
}
