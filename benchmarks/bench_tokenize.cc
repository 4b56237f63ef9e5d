// Tokenizer throughput: sense WordPiece and SentencePiece on SST-2 train
// sentences and botchan.txt lines, at 1 thread and at N threads. Prints one
// row per measurement (best of --repeat runs). Rows say what they produce, so
// that like is compared with like: [ids] the ids alone; [full] ids, byte
// offsets, attention mask and type ids with special tokens (Hugging Face's
// encodeBatch also builds token strings, which cannot be turned off);
// [pieces] piece strings and offsets. Compare with
// scripts/wordpiece-reference/bench_hf_tokenizers.js (Hugging Face, npm) and
// bench_spm_raw (the SentencePiece library alone); benchmarks/run_text_bench.sh
// runs all of them on the same corpora.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sense/text/model_inputs.h"
#include "sense/text/sentencepiece_tokenizer.h"
#include "sense/text/wordpiece_tokenizer.h"

namespace {

using namespace sense::text;

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

// SST-2 train.tsv: the sentence column, trailing space removed.
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

double CpuNow() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// Best wall-clock and best process CPU time over `repeat` runs. On a shared
// machine CPU time is the fair 1-thread measure; wall time shows scaling.
struct Timing {
  double wall = 1e30, cpu = 1e30;
};

Timing Seconds(const std::function<void()>& f, int repeat) {
  Timing best;
  for (int r = 0; r < repeat; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = CpuNow();
    f();
    best.cpu = std::min(best.cpu, CpuNow() - c0);
    best.wall = std::min(best.wall, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

void Row(const char* corpus, const char* impl, int threads, const std::vector<std::string>& s, Timing t,
         std::size_t tokens) {
  std::size_t bytes = 0;
  for (const auto& x : s) bytes += x.size();
  std::printf("%-11s %-40s %3d %7zu %6.2f %8.4f %10.0f %7.2f %8.4f %10.0f %7.2f %8zu\n", corpus, impl, threads,
              s.size(), bytes / 1e6, t.wall, s.size() / t.wall, bytes / 1e6 / t.wall, t.cpu, s.size() / t.cpu,
              bytes / 1e6 / t.cpu, tokens);
  std::fflush(stdout);
}

// Encode(ids) over all sentences on `threads` threads.
std::size_t EncodeAll(const Tokenizer& tok, const std::vector<std::string>& s, int threads) {
  std::vector<std::size_t> counts(std::max(1, threads));
  std::vector<std::thread> workers;
  for (std::size_t w = 0; w < counts.size(); ++w) {
    workers.emplace_back([&, w] {
      const std::size_t n = counts.size(), begin = s.size() * w / n, end = s.size() * (w + 1) / n;
      std::size_t c = 0;
      for (std::size_t i = begin; i < end; ++i) c += tok.Encode(s[i]).size();
      counts[w] = c;
    });
  }
  for (auto& w : workers) w.join();
  std::size_t total = 0;
  for (auto c : counts) total += c;
  return total;
}

// Full encodings: ids, byte offsets, attention mask, type ids and sequence
// ids, with the tokenizer's special tokens, no truncation or padding.
std::size_t EncodeFull(const Tokenizer& tok, const std::vector<std::string>& s, int threads) {
  EncodeOptions eo;
  eo.max_length = 0;
  eo.pad = false;
  eo.threads = threads;
  std::size_t tokens = 0;
  for (const auto& r : EncodeBatch(tok, s, eo)) tokens += r.length();
  return tokens;
}

}  // namespace

int main(int argc, char** argv) {
  std::string vocab, sst2, botchan, spm_model;
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int repeat = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--vocab") vocab = v;
    else if (k == "--sst2") sst2 = v;
    else if (k == "--botchan") botchan = v;
    else if (k == "--spm-model") spm_model = v;
    else if (k == "--threads") threads = std::stoi(v);
    else if (k == "--repeat") repeat = std::stoi(v);
    else {
      std::fprintf(stderr, "usage: bench_tokenize --vocab V --sst2 train.tsv --botchan botchan.txt --spm-model M [--threads N] [--repeat R]\n");
      return 2;
    }
  }
  const std::vector<std::pair<const char*, std::vector<std::string>>> corpora = {
      {"sst2_train", sst2.empty() ? std::vector<std::string>{} : Sst2(sst2)},
      {"botchan", botchan.empty() ? std::vector<std::string>{} : Lines(ReadAll(botchan))}};
  std::printf("%-11s %-40s %3s %7s %6s %8s %10s %7s %8s %10s %7s %8s\n", "corpus", "implementation", "thr", "texts",
              "MB", "wall_s", "texts/s", "MB/s", "cpu_s", "texts/cpu", "MB/cpu", "tokens");
  std::vector<int> thread_counts = {1};
  if (threads > 1) thread_counts.push_back(threads);
  if (!vocab.empty()) {
    WordPieceOptions o;
    o.vocab_path = vocab;
    auto wp = WordPieceTokenizer::Create(o);
    for (const auto& [name, s] : corpora) {
      if (s.empty()) continue;
      for (int t : thread_counts) {
        std::size_t tokens = 0;
        Timing sec = Seconds([&] { tokens = EncodeAll(*wp, s, t); }, repeat);
        Row(name, "[ids]  sense WordPiece Encode", t, s, sec, tokens);
        sec = Seconds([&] { tokens = EncodeFull(*wp, s, t); }, repeat);
        Row(name, "[full] sense WordPiece EncodeBatch", t, s, sec, tokens);
      }
    }
  }
  if (!spm_model.empty()) {
    SentencePieceOptions o;
    o.model_path = spm_model;
    auto sp = SentencePieceTokenizer::Create(o);
    for (const auto& [name, s] : corpora) {
      if (s.empty()) continue;
      for (int t : thread_counts) {
        std::size_t tokens = 0;
        Timing sec = Seconds([&] { tokens = EncodeAll(*sp, s, t); }, repeat);
        Row(name, "[ids]  sense SentencePiece Encode", t, s, sec, tokens);
        sec = Seconds([&] { tokens = EncodeFull(*sp, s, t); }, repeat);
        Row(name, "[full] sense SentencePiece EncodeBatch", t, s, sec, tokens);
        sec = Seconds([&] {
          tokens = 0;
          for (const auto& x : s) tokens += sp->Tokenize(x).size();
        }, t == 1 ? repeat : 0);
        if (t == 1) Row(name, "[pieces] sense SentencePiece Tokenize", t, s, sec, tokens);
      }
    }
  }
  return 0;
}
