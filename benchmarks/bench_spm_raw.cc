// The SentencePiece library alone (no sense, no LibTorch in the process):
// the baseline for sense's SentencePiece wrapper in bench_tokenize. Same
// corpora, same line handling, same timing (best of --repeat).
#include <sentencepiece_processor.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) out.push_back(line);
    start = end + 1;
  }
  return out;
}

std::vector<std::string> Sst2(const std::string& path) {
  std::vector<std::string> out;
  auto lines = Lines(ReadAll(path));
  for (std::size_t i = 1; i < lines.size(); ++i) {
    std::string s = lines[i].substr(0, lines[i].rfind('\t'));
    while (!s.empty() && s.back() == ' ') s.pop_back();
    out.push_back(s);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string sst2, botchan, model;
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int repeat = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--sst2") sst2 = v;
    else if (k == "--botchan") botchan = v;
    else if (k == "--spm-model") model = v;
    else if (k == "--threads") threads = std::stoi(v);
    else if (k == "--repeat") repeat = std::stoi(v);
  }
  sentencepiece::SentencePieceProcessor sp;
  if (!sp.Load(model).ok()) {
    std::fprintf(stderr, "cannot load %s\n", model.c_str());
    return 1;
  }
  const std::vector<std::pair<const char*, std::vector<std::string>>> corpora = {
      {"sst2_train", sst2.empty() ? std::vector<std::string>{} : Sst2(sst2)},
      {"botchan", botchan.empty() ? std::vector<std::string>{} : Lines(ReadAll(botchan))}};
  std::vector<int> thread_counts = {1};
  if (threads > 1) thread_counts.push_back(threads);
  for (const auto& [name, s] : corpora) {
    if (s.empty()) continue;
    std::size_t bytes = 0;
    for (const auto& x : s) bytes += x.size();
    // ids: Encode(text, &ids); full: EncodeAsImmutableProto (pieces, ids and
    // byte offsets), what sense's full encodings carry.
    for (const bool full : {false, true}) {
      for (int t : thread_counts) {
        double best = 1e30, best_cpu = 1e30;
        std::size_t tokens = 0;
        for (int r = 0; r < repeat; ++r) {
          std::vector<std::size_t> counts(t);
          timespec c0, c1;
          clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
          const auto t0 = std::chrono::steady_clock::now();
          std::vector<std::thread> workers;
          for (int w = 0; w < t; ++w) {
            workers.emplace_back([&, w] {
              const std::size_t begin = s.size() * w / t, end = s.size() * (w + 1) / t;
              std::vector<int> ids;
              for (std::size_t i = begin; i < end; ++i) {
                if (full) {
                  counts[w] += sp.EncodeAsImmutableProto(s[i]).pieces_size();
                } else {
                  ids.clear();
                  sp.Encode(s[i], &ids).IgnoreError();
                  counts[w] += ids.size();
                }
              }
            });
          }
          for (auto& w : workers) w.join();
          best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
          clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
          best_cpu = std::min(best_cpu, (c1.tv_sec - c0.tv_sec) + (c1.tv_nsec - c0.tv_nsec) * 1e-9);
          tokens = 0;
          for (auto c : counts) tokens += c;
        }
        std::printf("%-11s %-40s %3d %7zu %6.2f %8.4f %10.0f %7.2f %8.4f %10.0f %7.2f %8zu\n", name,
                    full ? "[full] spm library EncodeAsImmutable" : "[ids]  spm library Encode", t, s.size(),
                    bytes / 1e6, best, s.size() / best, bytes / 1e6 / best, best_cpu, s.size() / best_cpu,
                    bytes / 1e6 / best_cpu, tokens);
      }
    }
  }
  return 0;
}
