// Throughput of sense's entity path (raw text in, entities out: tokenize,
// pad, inference, Viterbi, spans and offsets), for
// benchmarks/run_entities_bench.sh. Batch 1: one Recognize call per
// sentence. Batch B > 1: one RecognizeBatch call over the whole set with
// max_batch_size B (sorted by length into batches by the text runner). One
// JSON line per batch size; words are the pre-tokenizer words tagged.
#include <sys/resource.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sense/text/entity_recognizer.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: bench_entities MODEL SENTENCES.txt THREADS [BATCH...] (one sentence per line)\n";
    return 2;
  }
  const std::string model = argv[1], data = argv[2];
  const int threads = std::stoi(argv[3]);
  std::vector<int> batches;
  for (int i = 4; i < argc; ++i) batches.push_back(std::stoi(argv[i]));
  if (batches.empty()) batches = {1, 32};
  std::vector<std::string> texts;
  std::ifstream in(data);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) texts.push_back(line);
  const auto t_load = std::chrono::steady_clock::now();
  sense::text::EntityRecognizerOptions o;
  o.model.path = model;
  o.model.num_threads = threads;
  auto rec = sense::text::EntityRecognizer::Create(o);
  const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count();
  for (int b : batches) {
    sense::text::EntityRecognizerOptions ob = o;
    ob.max_batch_size = b;
    auto r = sense::text::EntityRecognizer::Create(ob);
    for (int w = 0; w < 3; ++w) r->RecognizeBatch(std::vector<std::string>(texts.begin(), texts.begin() + b));
    size_t words = 0, entities = 0;
    const auto t0 = std::chrono::steady_clock::now();
    if (b == 1) {
      for (const auto& t : texts) {
        const auto e = r->Recognize(t);
        words += e.words.size();
        entities += e.entities.size();
      }
    } else {
      for (const auto& e : r->RecognizeBatch(texts)) {
        words += e.value().words.size();
        entities += e.value().entities.size();
      }
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    std::cout << nlohmann::json{{"impl", "sense"}, {"threads", threads}, {"batch", b}, {"sentences", texts.size()},
                                {"words", words}, {"entities", entities}, {"words_per_s", words / secs},
                                {"load_s", load_s}, {"peak_rss_mb", ru.ru_maxrss / 1024.0}}.dump()
              << std::endl;
  }
  return 0;
}
