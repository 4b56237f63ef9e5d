// bench_detect: how fast sense detects objects, end to end, and on video.
//
//   bench_detect --model coco-detector.pt --threads 1 --batch 1 [--seconds 8] [--json] IMAGE_OR_DIR...
//   bench_detect --model coco-detector.pt --threads 1 --video clip.avi [--json]
//   bench_detect --make-video clip.avi --frames 120 --fps 25 IMAGE_OR_DIR...
//
// For one (threads, batch) configuration, in one process (so the peak RSS
// belongs to that configuration), it measures:
//   * end to end: ObjectDetector::DetectFiles (decode, preprocess, model,
//     box decoding, NMS; the next chunk decoded while the model runs) on
//     chunks of `batch` files cycled from the inputs, 32 images per call,
//     in images/s and CPU ms per image (all threads);
//   * the model alone: Model::Run on a ready preprocessed batch of the same
//     photos (comparable to ONNX Runtime on the same network);
//   * latency: one DetectFiles call on one chunk (median);
//   * peak resident memory of the process (getrusage ru_maxrss).
// --video: every frame of the file read with OpenCV's VideoCapture and
// detected in batches of `batch` (DetectBatch): frames/s including the
// video decode. --make-video writes a test video (MJPG in AVI) from photos,
// each resized to 640 x 480 and shown for `--hold` frames.
// Warm-up calls run first and are not counted.
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
#include <opencv2/videoio.hpp>

#include "sense/inference/error.h"
#include "sense/vision/image_io.h"
#include "sense/vision/object_detector.h"
#include "sense/vision/preprocess.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double PeakRssMiB() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::vector<std::string> GatherImages(const std::vector<std::string>& args) {
  std::vector<std::string> files;
  const auto& exts = sense::vision::ImageExtensions();
  for (const auto& a : args) {
    if (!fs::is_directory(a)) {
      files.push_back(a);
      continue;
    }
    std::vector<std::string> found;
    for (const auto& e : fs::recursive_directory_iterator(a)) {
      std::string ext = e.path().extension().string();
      std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (e.is_regular_file() && std::find(exts.begin(), exts.end(), ext) != exts.end()) found.push_back(e.path().string());
    }
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

int MakeVideo(const std::string& out, const std::vector<std::string>& files, int frames, double fps, int hold) {
  cv::VideoWriter writer(out, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), fps, cv::Size(640, 480));
  if (!writer.isOpened()) throw sense::Error(sense::ErrorCode::kFile, out + ": OpenCV cannot write an MJPG video here");
  for (int f = 0; f < frames; ++f) {
    cv::Mat img = sense::vision::DecodeImage(files[static_cast<size_t>(f / hold) % files.size()]);
    if (img.channels() == 1) cv::cvtColor(img, img, cv::COLOR_GRAY2BGR);
    if (img.channels() == 4) cv::cvtColor(img, img, cv::COLOR_BGRA2BGR);
    cv::resize(img, img, cv::Size(640, 480), 0, 0, cv::INTER_AREA);
    writer.write(img);
  }
  writer.release();
  std::printf("wrote %s: %d frames, 640 x 480, %.0f fps, MJPG\n", out.c_str(), frames, fps);
  return 0;
}

int Usage() {
  std::cerr << "usage: bench_detect --model BUNDLE [--threads N] [--batch N] [--seconds S] [--json] IMAGE_OR_DIR...\n"
               "       bench_detect --model BUNDLE [--threads N] [--batch N] --video FILE [--json]\n"
               "       bench_detect --make-video OUT.avi [--frames N] [--fps F] [--hold K] IMAGE_OR_DIR...\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_path, video, make_video;
  int threads = 1, batch = 1, warmup = 3, frames = 120, hold = 5;
  double seconds = 8, fps = 25;
  bool json = false;
  std::vector<std::string> inputs;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--model") model_path = next();
    else if (a == "--threads") threads = std::atoi(next().c_str());
    else if (a == "--batch") batch = std::atoi(next().c_str());
    else if (a == "--seconds") seconds = std::atof(next().c_str());
    else if (a == "--warmup") warmup = std::atoi(next().c_str());
    else if (a == "--video") video = next();
    else if (a == "--make-video") make_video = next();
    else if (a == "--frames") frames = std::atoi(next().c_str());
    else if (a == "--fps") fps = std::atof(next().c_str());
    else if (a == "--hold") hold = std::atoi(next().c_str());
    else if (a == "--json") json = true;
    else if (a == "--help" || a == "-h") return Usage(), 0;
    else if (!a.empty() && a[0] == '-') return Usage();
    else inputs.push_back(a);
  }
  try {
    if (!make_video.empty()) {
      const auto files = GatherImages(inputs);
      if (files.empty() || frames < 1 || hold < 1 || fps <= 0) return Usage();
      return MakeVideo(make_video, files, frames, fps, hold);
    }
    if (model_path.empty() || threads < 1 || batch < 1 || seconds <= 0 || (video.empty() && inputs.empty())) return Usage();

    const auto t_load0 = Clock::now();
    sense::vision::ObjectDetectorOptions options;
    options.model.path = model_path;
    options.model.num_threads = threads;
    options.max_batch_size = batch;
    auto detector = sense::vision::ObjectDetector::Create(options);
    const double load_s = Seconds(t_load0, Clock::now());

    if (!video.empty()) {
      // Warm-up on the first frames, then the whole file timed.
      auto run_video = [&](long limit) {
        cv::VideoCapture cap(video);
        if (!cap.isOpened()) throw sense::Error(sense::ErrorCode::kFile, video + ": cannot open this video");
        std::vector<cv::Mat> chunk;
        long n = 0, found = 0;
        cv::Mat frame;
        auto flush = [&] {
          for (const auto& o : detector->DetectBatch(chunk)) found += o.ok() ? static_cast<long>(o.value().detections.size()) : 0;
          chunk.clear();
        };
        while ((limit < 0 || n < limit) && cap.read(frame)) {
          chunk.push_back(frame.clone());
          ++n;
          if (static_cast<int>(chunk.size()) == batch) flush();
        }
        if (!chunk.empty()) flush();
        return std::make_pair(n, found);
      };
      run_video(warmup * batch);
      const auto t0 = Clock::now();
      const double c0 = CpuSeconds();
      const auto [n, found] = run_video(-1);
      const double s = Seconds(t0, Clock::now()), cpu = CpuSeconds() - c0;
      if (json)
        std::printf("{\"impl\":\"sense\",\"mode\":\"video\",\"threads\":%d,\"batch\":%d,\"frames\":%ld,\"seconds\":%.3f,"
                    "\"fps\":%.3f,\"cpu_ms_per_frame\":%.3f,\"detections\":%ld,\"peak_rss_mib\":%.1f,\"load_s\":%.3f}\n",
                    threads, batch, n, s, n / s, 1e3 * cpu / n, found, PeakRssMiB(), load_s);
      else
        std::printf("sense video  threads %d  batch %d: %.2f frames/s (%ld frames in %.1f s, decode + detect; %.1f CPU ms per frame)\n",
                    threads, batch, n / s, n, s, 1e3 * cpu / n);
      return 0;
    }

    const auto files = GatherImages(inputs);
    if (files.empty()) throw sense::Error(sense::ErrorCode::kInput, "no images found");
    size_t cursor = 0;
    auto next_chunk = [&](int n) {
      std::vector<std::string> chunk;
      for (int i = 0; i < n; ++i) chunk.push_back(files[cursor++ % files.size()]);
      return chunk;
    };
    const int per_call = std::max(batch, 32 / batch * batch);
    const auto w0 = Clock::now();
    for (int i = 0; i < warmup; ++i) detector->DetectFiles(next_chunk(batch));
    const double warmup_s = Seconds(w0, Clock::now());

    size_t images = 0, found = 0;
    const auto t0 = Clock::now();
    const double cpu0 = CpuSeconds();
    double e2e_s = 0;
    do {
      for (const auto& o : detector->DetectFiles(next_chunk(per_call))) {
        if (!o.ok()) throw o.error();
        found += o.value().detections.size();
        ++images;
      }
      e2e_s = Seconds(t0, Clock::now());
    } while (e2e_s < seconds);
    const double e2e_cpu = CpuSeconds() - cpu0;

    std::vector<double> latencies;
    const auto l0 = Clock::now();
    do {
      const auto c0 = Clock::now();
      detector->DetectFiles(next_chunk(batch));
      latencies.push_back(Seconds(c0, Clock::now()));
    } while (latencies.size() < 5 || Seconds(l0, Clock::now()) < seconds / 4);

    // The model alone on a ready batch of real preprocessed photos.
    const auto& meta = detector->metadata();
    std::vector<cv::Mat> decoded;
    for (const auto& f : next_chunk(batch)) decoded.push_back(sense::vision::DecodeImage(f));
    const sense::Tensor x = sense::vision::PreprocessBatch(decoded, *meta.image);
    const std::string input_name = meta.inputs[0].name;
    size_t model_images = 0;
    double model_cpu = 0;
    const auto m0 = Clock::now();
    double model_s = 0;
    do {
      const double c0 = CpuSeconds();
      detector->model().Run({{input_name, x}});
      model_cpu += CpuSeconds() - c0;
      model_images += static_cast<size_t>(batch);
      model_s = Seconds(m0, Clock::now());
    } while (model_s < seconds / 2);

    const double e2e_ips = images / e2e_s, model_ips = model_images / model_s;
    if (json) {
      std::printf("{\"impl\":\"sense\",\"mode\":\"images\",\"threads\":%d,\"batch\":%d,\"images\":%zu,\"seconds\":%.3f,"
                  "\"e2e_ips\":%.3f,\"e2e_cpu_ms_per_image\":%.3f,\"model_ips\":%.3f,\"model_cpu_ms_per_image\":%.3f,"
                  "\"latency_ms_median\":%.2f,\"peak_rss_mib\":%.1f,\"load_s\":%.3f,\"warmup_s\":%.3f,\"files\":%zu,"
                  "\"detections_per_image\":%.2f}\n",
                  threads, batch, images, e2e_s, e2e_ips, 1e3 * e2e_cpu / images, model_ips, 1e3 * model_cpu / model_images,
                  Median(latencies) * 1e3, PeakRssMiB(), load_s, warmup_s, files.size(), static_cast<double>(found) / images);
    } else {
      std::printf("sense  threads %d  batch %d: %.2f images/s end to end (%zu images in %.1f s; %.1f CPU ms per image; "
                  "%.1f detections per image)\n",
                  threads, batch, e2e_ips, images, e2e_s, 1e3 * e2e_cpu / images, static_cast<double>(found) / images);
      std::printf("  model alone %.2f images/s; latency per %s: median %.1f ms; peak RSS %.0f MiB; load %.2f s\n", model_ips,
                  batch == 1 ? "image" : "batch", Median(latencies) * 1e3, PeakRssMiB(), load_s);
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "bench_detect: " << e.what() << "\n";
    return 1;
  }
}
