// bench_classify: how fast sense classifies real photos, end to end.
//
//   bench_classify --model resnet18.pt --threads 1 --batch 16 [--seconds 8] [--json] IMAGE_OR_DIR...
//
// For one (threads, batch) configuration, in one process (so the peak RSS
// belongs to that configuration), it measures:
//   * end-to-end throughput: ImageClassifier::ClassifyFiles (decode inside,
//     the next chunk decoded and preprocessed while the model runs on this
//     one, JPEGs decoded at reduced scale where the model input allows) on
//     64 files per call (chunks of `batch`) cycled from the inputs, images/s;
//   * the same work split into stages, each timed on its own: decode,
//     preprocessing (PreprocessBatch: colour, PIL-exact resize and crop,
//     normalisation, layout), the model (Model::Run) and scoring; the shares
//     say where the end-to-end time goes, and model images/s is the model
//     alone on real preprocessed inputs (comparable to ONNX Runtime);
//   * latency: wall time of one ClassifyFiles call on one chunk, file paths
//     in, Classifications out (median and 90th percentile; with --batch 1
//     that is one image);
//   * peak resident memory of the process (getrusage ru_maxrss).
// Warm-up chunks run first (TorchScript's profiling executor optimises the
// graph on the first calls); they are not counted.
//
// Output: a human summary, or with --json one JSON object on stdout.
// SENSE_BENCH_FULL_DECODE=1 in the environment turns reduced JPEG decoding
// off (for run_vision_bench.sh --variant).
//
//   bench_classify --model resnet18.pt --check-reduced-decode IMAGE_OR_DIR...
// instead compares, per JPEG that reduced decoding applies to, the network
// input from a full decode (A) with the one from a reduced decode (B) and
// with one from the full decode area-resized to the reduced size (C: "a
// resize from a slightly different source"), and the model's top-1 and
// top-5 on A vs B and A vs C.
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "sense/inference/error.h"
#include "sense/vision/image_classifier.h"
#include "sense/vision/image_io.h"
#include "sense/vision/preprocess.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// CPU seconds used by all threads of this process so far. Another process
// competing for the cores slows the wall clock but hardly the CPU time a
// piece of work needs, so CPU ms per image is the steadier figure on a busy
// machine (OpenMP threads that spin while waiting count as busy).
double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double PeakRssMiB() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5));
  return v[i];
}

int Usage(const char* argv0) {
  std::cerr << "usage: " << argv0
            << " --model BUNDLE [--threads N] [--batch N] [--seconds S] [--warmup N] [--json] [--check-reduced-decode] IMAGE_OR_DIR...\n";
  return 2;
}

std::vector<std::string> GatherImages(const std::vector<std::string>& args) {
  std::vector<std::string> files;
  const auto& exts = sense::vision::ImageExtensions();
  for (const auto& a : args) {
    if (fs::is_directory(a)) {
      std::vector<std::string> found;
      for (const auto& e : fs::recursive_directory_iterator(a)) {
        std::string ext = e.path().extension().string();
        std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        if (e.is_regular_file() && std::find(exts.begin(), exts.end(), ext) != exts.end()) found.push_back(e.path().string());
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else {
      files.push_back(a);
    }
  }
  return files;
}

// Top-k label indices of one row of logits.
std::vector<int> TopK(const float* row, int n, int k) {
  std::vector<int> idx(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) idx[static_cast<size_t>(i)] = i;
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int a, int b) { return row[a] > row[b]; });
  idx.resize(static_cast<size_t>(k));
  return idx;
}

int CheckReducedDecode(const sense::vision::ImageClassifier& classifier, const std::vector<std::string>& files,
                       const sense::vision::DecodeOptions& reduced) {
  const sense::ImagePreprocessing& pre = *classifier.metadata().image;
  const std::string input = classifier.metadata().inputs[0].name, output = classifier.metadata().output.name;
  if (reduced.min_width <= 0) throw sense::Error(sense::ErrorCode::kOption, "reduced decoding is off (SENSE_BENCH_FULL_DECODE)");
  auto run = [&](const cv::Mat& image, std::vector<float>* input_values) {
    sense::Tensor x = sense::vision::PreprocessBatch({image}, pre);
    input_values->assign(x.data<float>(), x.data<float>() + x.numel());
    const sense::Tensor logits = classifier.model().Run({{input, x}}).at(output);
    return TopK(logits.data<float>(), static_cast<int>(logits.size(1)), 5);
  };
  auto mad = [](const std::vector<float>& a, const std::vector<float>& b) {
    double s = 0;
    for (size_t i = 0; i < a.size(); ++i) s += std::abs(a[i] - b[i]);
    return s / static_cast<double>(a.size());
  };
  int n = 0, top1_b = 0, top1_c = 0;
  double mad_b = 0, mad_c = 0, top5_b = 0, top5_c = 0;
  std::printf("| file | size | reduction | mean abs diff B | mean abs diff C | top-1 B | top-1 C | top-5 overlap B | top-5 overlap C |\n|---|---|---|---|---|---|---|---|---|\n");
  for (const auto& f : files) {
    const cv::Mat a = sense::vision::DecodeImage(f);
    const cv::Mat b = sense::vision::DecodeImage(f, reduced);
    if (b.size() == a.size()) continue;  // not a JPEG, or too small to reduce
    cv::Mat c;
    cv::resize(a, c, b.size(), 0, 0, cv::INTER_AREA);
    std::vector<float> xa, xb, xc;
    const auto ta = run(a, &xa), tb = run(b, &xb), tc = run(c, &xc);
    auto overlap = [&](const std::vector<int>& t) {
      int k = 0;
      for (int v : t) k += std::count(ta.begin(), ta.end(), v) > 0;
      return k / 5.0;
    };
    const double db = mad(xa, xb), dc = mad(xa, xc);
    std::printf("| %s | %dx%d | 1/%d | %.4f | %.4f | %s | %s | %.1f | %.1f |\n", fs::path(f).filename().string().c_str(), a.cols,
                a.rows, sense::vision::JpegReduction(a.cols, a.rows, reduced), db, dc, tb[0] == ta[0] ? "same" : "differs",
                tc[0] == ta[0] ? "same" : "differs", overlap(tb), overlap(tc));
    ++n;
    mad_b += db, mad_c += dc;
    top1_b += tb[0] == ta[0], top1_c += tc[0] == ta[0];
    top5_b += overlap(tb), top5_c += overlap(tc);
  }
  if (n == 0) return std::printf("no JPEG here is large enough to decode at reduced scale\n"), 0;
  std::printf("\n%d images reduced; network input (normalised units) mean abs diff vs full decode: reduced decode %.4f, "
              "area-resized full decode %.4f; top-1 same: %d/%d vs %d/%d; top-5 overlap %.2f vs %.2f\n",
              n, mad_b / n, mad_c / n, top1_b, n, top1_c, n, top5_b / n, top5_c / n);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_path;
  int threads = 1, batch = 1, warmup = 3;
  double seconds = 8;
  bool json = false, check_reduced = false;
  std::vector<std::string> inputs;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) { std::cerr << a << " needs a value\n"; std::exit(2); }
      return argv[++i];
    };
    if (a == "--model") model_path = next();
    else if (a == "--threads") threads = std::atoi(next().c_str());
    else if (a == "--batch") batch = std::atoi(next().c_str());
    else if (a == "--seconds") seconds = std::atof(next().c_str());
    else if (a == "--warmup") warmup = std::atoi(next().c_str());
    else if (a == "--json") json = true;
    else if (a == "--check-reduced-decode") check_reduced = true;
    else if (a == "--help" || a == "-h") return Usage(argv[0]), 0;
    else if (!a.empty() && a[0] == '-') return Usage(argv[0]);
    else inputs.push_back(a);
  }
  if (model_path.empty() || inputs.empty() || threads < 1 || batch < 1 || seconds <= 0) return Usage(argv[0]);

  try {
    const std::vector<std::string> files = GatherImages(inputs);
    if (files.empty()) throw sense::Error(sense::ErrorCode::kInput, "no images found");

    const auto t_load0 = Clock::now();
    sense::vision::ImageClassifierOptions options;
    options.model.path = model_path;
    options.model.num_threads = threads;
    options.max_batch_size = batch;
    options.classifier.max_results = 5;
    const char* full_decode = std::getenv("SENSE_BENCH_FULL_DECODE");
    options.reduced_jpeg_decode = !(full_decode && std::string(full_decode) == "1");
    auto classifier = sense::vision::ImageClassifier::Create(options);
    const double load_s = Seconds(t_load0, Clock::now());
    const sense::ImagePreprocessing& pre = *classifier->metadata().image;
    const std::string input_name = classifier->metadata().inputs[0].name;
    // What the runner decodes with (image_runner.h), for the stage timings.
    sense::vision::DecodeOptions decode;
    if (options.reduced_jpeg_decode) decode.min_width = decode.min_height = std::max({pre.resize_shorter, pre.width, pre.height});
    if (check_reduced) return CheckReducedDecode(*classifier, files, decode);

    size_t cursor = 0;
    auto next_chunk = [&]() {
      std::vector<std::string> chunk;
      for (int i = 0; i < batch; ++i) chunk.push_back(files[cursor++ % files.size()]);
      return chunk;
    };
    auto decode_all = [&decode](const std::vector<std::string>& chunk) {
      std::vector<cv::Mat> images;
      images.reserve(chunk.size());
      for (const auto& f : chunk) images.push_back(sense::vision::DecodeImage(f, decode));
      return images;
    };
    const int chunks_per_call = std::max(1, 64 / batch);
    auto next_call = [&]() {
      std::vector<std::string> call;
      for (int c = 0; c < chunks_per_call; ++c)
        for (auto& f : next_chunk()) call.push_back(std::move(f));
      return call;
    };

    // Warm-up: the first calls of a TorchScript module profile and optimise the graph.
    const auto t_warm0 = Clock::now();
    for (int i = 0; i < warmup; ++i) classifier->ClassifyFiles(next_chunk());
    const double warmup_s = Seconds(t_warm0, Clock::now());

    // End to end: paths in, Classifications out, through the public API;
    // several chunks per call, so decoding overlaps inference as it does
    // when an app classifies a folder.
    size_t e2e_images = 0;
    const auto t0 = Clock::now();
    const double cpu0 = CpuSeconds();
    double e2e_s = 0;
    size_t checksum = 0;
    do {
      auto results = classifier->ClassifyFiles(next_call());
      e2e_images += results.size();
      checksum += static_cast<size_t>(results.front().value().categories.front().index);
      e2e_s = Seconds(t0, Clock::now());
    } while (e2e_s < seconds);
    const double e2e_cpu_s = CpuSeconds() - cpu0;

    // Latency: one chunk per call (at least 5 calls, about a quarter of --seconds).
    std::vector<double> latencies;
    const auto l0 = Clock::now();
    do {
      const auto c0 = Clock::now();
      auto results = classifier->ClassifyFiles(next_chunk());
      latencies.push_back(Seconds(c0, Clock::now()));
      checksum += static_cast<size_t>(results.front().value().categories.front().index);
    } while (latencies.size() < 5 || Seconds(l0, Clock::now()) < seconds / 4);

    // Stages, each timed on its own, on the same kind of chunks.
    double decode_s = 0, preprocess_s = 0, model_s = 0, score_s = 0, preprocess_cpu_s = 0, model_cpu_s = 0;
    size_t stage_images = 0;
    const auto s0 = Clock::now();
    do {
      const auto a = Clock::now();
      std::vector<cv::Mat> images = decode_all(next_chunk());
      const auto b = Clock::now();
      const double cb = CpuSeconds();
      sense::Tensor x = sense::vision::PreprocessBatch(images, pre);
      const auto c = Clock::now();
      const double cc = CpuSeconds();
      sense::NamedTensors out = classifier->model().Run({{input_name, x}});
      const auto d = Clock::now();
      const double cd = CpuSeconds();
      preprocess_cpu_s += cc - cb;
      model_cpu_s += cd - cc;
      const sense::Tensor& logits = out.at(classifier->metadata().output.name);
      const int k = static_cast<int>(logits.size(1));
      for (int64_t i = 0; i < logits.size(0); ++i)
        checksum += static_cast<size_t>(sense::Classify(logits.data<float>() + i * k, k, classifier->metadata().output,
                                                        classifier->metadata().labels, options.classifier)
                                            .categories.front().index);
      const auto e = Clock::now();
      decode_s += Seconds(a, b);
      preprocess_s += Seconds(b, c);
      model_s += Seconds(c, d);
      score_s += Seconds(d, e);
      stage_images += images.size();
    } while (Seconds(s0, Clock::now()) < seconds);
    const double stage_total = decode_s + preprocess_s + model_s + score_s;

    const double e2e_ips = static_cast<double>(e2e_images) / e2e_s;
    const double model_ips = static_cast<double>(stage_images) / model_s;
    const double lat_med = Percentile(latencies, 0.5) * 1e3, lat_p90 = Percentile(latencies, 0.9) * 1e3;
    const double rss = PeakRssMiB();
    if (json) {
      std::printf(
          "{\"impl\":\"sense\",\"threads\":%d,\"batch\":%d,\"images\":%zu,\"seconds\":%.3f,\"e2e_ips\":%.3f,"
          "\"model_ips\":%.3f,\"decode_share\":%.4f,\"preprocess_share\":%.4f,\"model_share\":%.4f,\"score_share\":%.4f,"
          "\"stage_ips\":%.3f,\"latency_ms_median\":%.2f,\"latency_ms_p90\":%.2f,\"peak_rss_mib\":%.1f,"
          "\"load_s\":%.3f,\"warmup_s\":%.3f,\"files\":%zu,\"checksum\":%zu,\"e2e_cpu_ms_per_image\":%.3f,"
          "\"model_cpu_ms_per_image\":%.3f,\"preprocess_cpu_ms_per_image\":%.3f}\n",
          threads, batch, e2e_images, e2e_s, e2e_ips, model_ips, decode_s / stage_total, preprocess_s / stage_total,
          model_s / stage_total, score_s / stage_total, static_cast<double>(stage_images) / stage_total, lat_med, lat_p90,
          rss, load_s, warmup_s, files.size(), checksum, 1e3 * e2e_cpu_s / static_cast<double>(e2e_images),
          1e3 * model_cpu_s / static_cast<double>(stage_images), 1e3 * preprocess_cpu_s / static_cast<double>(stage_images));
    } else {
      std::printf("sense  threads %d  batch %2d: %7.2f images/s end to end (%zu images in %.1f s; %.1f CPU ms per image)\n",
                  threads, batch, e2e_ips, e2e_images, e2e_s, 1e3 * e2e_cpu_s / static_cast<double>(e2e_images));
      std::printf("  stages: decode %.1f%%, preprocess %.1f%%, model %.1f%% (%.2f images/s alone), scoring %.1f%%\n",
                  100 * decode_s / stage_total, 100 * preprocess_s / stage_total, 100 * model_s / stage_total, model_ips,
                  100 * score_s / stage_total);
      std::printf("  latency per %s: median %.1f ms, p90 %.1f ms; peak RSS %.0f MiB; load %.2f s, warm-up %.2f s\n",
                  batch == 1 ? "image" : "batch", lat_med, lat_p90, rss, load_s, warmup_s);
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "bench_classify: " << e.what() << "\n";
    return 1;
  }
}
