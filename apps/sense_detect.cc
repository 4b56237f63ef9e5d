// sense-detect: detect objects in images and videos with an object
// detection bundle (default: the COCO detector).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "common/app.h"
#include "sense/vision/draw.h"
#include "sense/vision/image_io.h"
#include "sense/vision/object_detector.h"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using sense::app::UsageError;

const std::vector<std::string>& VideoExtensions() {
  static const std::vector<std::string> v = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg",
                                             ".mpeg", ".wmv", ".flv", ".ogv", ".3gp", ".ts"};
  return v;
}

std::string LowerExt(const std::string& path) {
  std::string e = fs::path(path).extension().string();
  std::transform(e.begin(), e.end(), e.begin(), ::tolower);
  return e;
}

bool IsVideo(const std::string& path) {
  const auto& v = VideoExtensions();
  return std::find(v.begin(), v.end(), LowerExt(path)) != v.end();
}

std::vector<std::string> SplitCommas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    const auto b = item.find_first_not_of(' '), e = item.find_last_not_of(' ');
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
  }
  return out;
}

std::string Num(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

// --classes must name the model's labels; checked from the metadata before
// the model is loaded (a bundle whose metadata cannot be read is left to
// ObjectDetector::Create, which reports it as a load error).
void CheckClasses(const std::string& model_path, const std::vector<std::string>& classes) {
  if (classes.empty()) return;
  std::vector<std::string> labels;
  try {
    labels = sense::ReadBundleMetadata(model_path).labels;
  } catch (const sense::Error&) {
    return;
  }
  for (const auto& c : classes)
    if (std::find(labels.begin(), labels.end(), c) == labels.end()) {
      std::string known;
      for (size_t i = 0; i < labels.size() && i < 8; ++i) known += (i ? ", " : "") + labels[i];
      if (labels.size() > 8) known += ", ... (" + std::to_string(labels.size()) + " in all; sense-info lists them)";
      throw UsageError("--classes: \"" + c + "\" is not one of the model's labels (" + known + ")");
    }
}

json DetectionsJson(const sense::vision::Detections& d) {
  json arr = json::array();
  for (const auto& x : d.detections) {
    json j = {{"box", {x.box.x1, x.box.y1, x.box.x2, x.box.y2}}, {"label", x.label}, {"class_index", x.class_index},
              {"score", x.score}};
    if (!x.keypoints.empty()) {
      json k = json::array();
      for (const auto& p : x.keypoints) k.push_back({p.x, p.y});
      j["keypoints"] = k;
    }
    arr.push_back(j);
  }
  return arr;
}

std::string ResultText(const sense::vision::Detections& d) {
  std::ostringstream line;
  if (d.detections.empty()) return " no objects above the threshold";
  line << " " << d.detections.size() << (d.detections.size() == 1 ? " object:" : " objects:");
  for (size_t k = 0; k < d.detections.size(); ++k) {
    const auto& x = d.detections[k];
    line << (k ? "," : "") << " " << x.label << " " << std::fixed << std::setprecision(2) << x.score << " ["
         << std::setprecision(0) << x.box.x1 << " " << x.box.y1 << " " << x.box.x2 << " " << x.box.y2 << "]";
  }
  return line.str();
}

std::string SafeName(const std::string& s) {
  std::string out;
  for (char ch : s) out += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  return out;
}

// Output file names: DIR/<stem><ext> (a video frame: <stem>.f<frame>), with
// the input's number added when two inputs share a stem; crops
// DIR/<stem>.<k>.<label><ext> for the k-th detection (0: the best).
class OutputNames {
 public:
  // `ext`: the input's extension if OpenCV writes it, else .png.
  std::string Stem(const std::string& input, size_t item, long frame) {
    std::string stem = fs::path(input).stem().string();
    if (frame >= 0) {
      char buf[32];
      std::snprintf(buf, sizeof(buf), ".f%06ld", frame);
      stem += buf;
    }
    const std::string key = stem + "|" + fs::path(input).string();
    auto it = by_input_.find(key);
    if (it != by_input_.end()) return it->second;
    std::string name = stem;
    if (used_.count(name)) name = stem + "_" + std::to_string(item + 1);
    used_.insert(name);
    by_input_[key] = name;
    return name;
  }
  static std::string Ext(const std::string& input) {
    const std::string e = LowerExt(input);
    for (const char* ok : {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
      if (e == ok) return e;
    return IsVideo(input) ? ".jpg" : ".png";
  }

 private:
  std::set<std::string> used_;
  std::map<std::string, std::string> by_input_;
};

void WriteImage(const std::string& path, const cv::Mat& image) {
  cv::Mat out = image;
  const std::string e = LowerExt(path);
  if (image.channels() == 4 && (e == ".jpg" || e == ".jpeg" || e == ".bmp")) cv::cvtColor(image, out, cv::COLOR_BGRA2BGR);
  bool ok = false;
  try {
    ok = cv::imwrite(path, out);
  } catch (const cv::Exception& ex) {
    throw sense::Error(sense::ErrorCode::kFile, "cannot write " + path + ": " + ex.what());
  }
  if (!ok) throw sense::Error(sense::ErrorCode::kFile, "cannot write " + path);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string app = "sense-detect";
  return sense::app::Guarded(app, [&]() -> int {
    namespace po = sense::app::po;
    std::vector<std::string> inputs;
    std::string model_path, device, classes_flag, draw_dir, crops_dir;
    int batch = 0, threads = 0, max_det = 0, every = 0;
    float threshold = 0, iou = 0, min_size = 0, crop_padding = 0;
    double max_mp = 0;
    po::options_description opts("Options");
    opts.add_options()
      ("input", po::value(&inputs), "image or video files, folders (recursive), globs; '-' or no input reads paths from stdin")
      ("model,m", po::value(&model_path)->default_value(sense::app::DefaultModelPath("coco-detector.pt")), "object detection bundle (.pt) or sidecar (.json)")
      ("threshold,t", po::value(&threshold), "minimum score, in [0, 1] (default: the model's)")
      ("iou", po::value(&iou), "NMS overlap above which the lower-scored box is dropped, in [0, 1] (default: the model's)")
      ("max-detections", po::value(&max_det), "at most this many boxes per image, >= 1 (default: the model's)")
      ("classes", po::value(&classes_flag), "comma-separated labels to report (others are dropped), e.g. person,dog")
      ("min-size", po::value(&min_size)->default_value(0.0f), "drop boxes narrower or lower than this many pixels, >= 0")
      ("agnostic-nms", "one NMS over all classes (default: the model's; usually per class)")
      ("draw", po::value(&draw_dir), "write an annotated copy of each image (each sampled video frame) into this folder")
      ("crops", po::value(&crops_dir), "write each detected object as its own image into this folder")
      ("crop-padding", po::value(&crop_padding)->default_value(0.0f), "--crops: grow each box by this fraction of its size, >= 0")
      ("every", po::value(&every)->default_value(1), "videos: detect on every N-th frame, >= 1")
      ("batch-size,b", po::value(&batch)->default_value(4), "images per model call, >= 1")
      ("threads", po::value(&threads)->default_value(0), "inference threads (0: all cores)")
      ("no-optimize", "run the model exactly as stored: no graph optimisation at load")
      ("device", po::value(&device)->default_value("cpu"), "cpu, cuda or cuda:N")
      ("max-megapixels", po::value(&max_mp)->default_value(100.0), "refuse images larger than this, before decoding; in (0, 1000000]")
      ("json", "print JSON Lines: one object per image or video frame, in input order");
    po::variables_map vm;
    int rc = 0;
    if (!sense::app::ParseCommandLine(argc, argv, app,
                                      "sense-detect [options] IMAGE|VIDEO|FOLDER|GLOB...\n\n"
                                      "Detects objects with a sense bundle (default: the bundled COCO detector, 80 classes).\n"
                                      "Prints one line per image, in input order: 'IMAGE: N objects: label score [x1 y1 x2 y2], ...'\n"
                                      "(box corners in the image's pixels), and one line per sampled frame of a video\n"
                                      "('VIDEO frame F (T s): ...'). An input that fails gets 'INPUT: error CODE: message' in its\n"
                                      "place (the message also goes to stderr); the exit status is then 1.\n"
                                      "Examples: sense-detect --draw out/ photo.jpg\n"
                                      "          sense-detect --json --every 10 --classes person,car clip.mp4",
                                      opts, "input", &vm, &rc))
      return rc;
    if (!sense::app::CheckThreadsOption(app, &threads, &rc)) return rc;
    const bool as_json = vm.count("json") > 0;

    // Flag values that can never work: one usage error (exit 2) naming the flag, before any input is read.
    sense::vision::ObjectDetectorOptions options;
    auto& det = options.detector;
    if (vm.count("threshold")) {
      if (!(threshold >= 0.0f && threshold <= 1.0f)) throw UsageError("--threshold must be in [0, 1], found " + Num(threshold));
      det.score_threshold = threshold;
    }
    if (vm.count("iou")) {
      if (!(iou >= 0.0f && iou <= 1.0f)) throw UsageError("--iou must be in [0, 1], found " + Num(iou));
      det.iou_threshold = iou;
    }
    if (vm.count("max-detections")) {
      if (max_det < 1) throw UsageError("--max-detections must be >= 1, found " + std::to_string(max_det));
      det.max_detections = max_det;
    }
    if (!(min_size >= 0.0f && std::isfinite(min_size))) throw UsageError("--min-size must be >= 0, found " + Num(min_size));
    if (!(crop_padding >= 0.0f && std::isfinite(crop_padding))) throw UsageError("--crop-padding must be >= 0, found " + Num(crop_padding));
    if (every < 1) throw UsageError("--every must be >= 1, found " + std::to_string(every));
    if (batch < 1) throw UsageError("--batch-size must be >= 1, found " + std::to_string(batch));
    if (vm.count("agnostic-nms")) det.class_agnostic_nms = true;
    det.min_box_size = min_size;
    det.allow_labels = SplitCommas(classes_flag);
    if (vm.count("classes") && det.allow_labels.empty()) throw UsageError("--classes needs at least one label");
    sense::vision::DecodeOptions decode;
    decode.max_pixels = sense::app::MaxPixelsOption(max_mp);
    try {
      sense::Device::Parse(device);
    } catch (const sense::Error& e) {
      throw UsageError(std::string("--device: ") + e.what());
    }
    CheckClasses(model_path, det.allow_labels);
    options.model.path = model_path;
    options.model.device = device;
    options.model.num_threads = threads;
    options.model.optimize = vm.count("no-optimize") == 0;
    options.max_batch_size = batch;
    // Pictures are drawn and cut from the full-size image.
    options.reduced_jpeg_decode = draw_dir.empty() && crops_dir.empty();
    auto detector = sense::vision::ObjectDetector::Create(options);
    if (!draw_dir.empty()) fs::create_directories(draw_dir);
    if (!crops_dir.empty()) fs::create_directories(crops_dir);

    std::vector<std::string> exts = sense::vision::ImageExtensions();
    exts.insert(exts.end(), VideoExtensions().begin(), VideoExtensions().end());
    const auto items = sense::app::GatherPaths(inputs, exts);
    if (items.empty()) {
      std::cerr << app << ": no inputs\nTry '" << app << " --help'.\n";
      return 2;
    }
    // Progress counts images and sampled video frames (frame counts from the containers).
    size_t total = 0;
    for (const auto& it : items) {
      if (!it.error.empty() || !IsVideo(it.text)) {
        ++total;
        continue;
      }
      cv::VideoCapture cap(it.text);
      const double n = cap.isOpened() ? cap.get(cv::CAP_PROP_FRAME_COUNT) : 0;
      total += n > 0 ? static_cast<size_t>(std::ceil(n / every)) : 1;
    }
    sense::app::Progress progress(total, "detecting");
    size_t ticked = 0;
    auto tick = [&] {
      if (ticked < total) progress.Tick();
      ++ticked;
    };
    int failed = 0;
    OutputNames names;

    auto print_error = [&](const std::string& src, const std::string& code, const std::string& message, const json& extra) {
      ++failed;
      if (as_json) {
        json j = sense::app::ErrorJson(code, message);
        j["input"] = src;
        for (auto it = extra.begin(); it != extra.end(); ++it) j[it.key()] = it.value();
        sense::app::PrintJsonLine(j);
      } else {
        const std::string brief = message.rfind(src + ": ", 0) == 0 ? message.substr(src.size() + 2) : message;
        std::cout << sense::app::EscapeControl(src) << (extra.contains("frame") ? " frame " + extra["frame"].dump() : "")
                  << ": error " << code << ": " << sense::app::EscapeControl(brief) << "\n";
        std::cout.flush();  // keeps stdout and stderr lines in input order on a terminal
        sense::app::PrintError(app, message.rfind(src, 0) == 0 ? "" : src, message);
      }
    };
    // One result: the pictures asked for, then the line. A picture that
    // cannot be written keeps the detections and adds its own error.
    auto print_result = [&](const std::string& src, size_t item, long frame, double seconds, const cv::Mat& image,
                            const sense::vision::Detections& d) {
      std::string drawn, picture_error;
      std::vector<std::string> crops;
      try {
        const std::string ext = OutputNames::Ext(src);
        if (!draw_dir.empty()) {
          drawn = (fs::path(draw_dir) / (names.Stem(src, item, frame) + ext)).string();
          WriteImage(drawn, sense::vision::DrawDetections(image, d));
        }
        if (!crops_dir.empty()) {
          sense::vision::CropOptions co;
          co.padding = crop_padding;
          const auto cut = sense::vision::CropDetections(image, d, co);
          for (size_t k = 0; k < cut.size(); ++k) {
            crops.push_back((fs::path(crops_dir) / (names.Stem(src, item, frame) + "." + std::to_string(k) + "." +
                                                    SafeName(d.detections[k].label) + ext))
                                .string());
            WriteImage(crops.back(), cut[k]);
          }
        }
      } catch (...) {
        picture_error = sense::CurrentExceptionAsError(sense::ErrorCode::kFile, "pictures").what();
        ++failed;
      }
      if (as_json) {
        json j = {{"input", src}};
        if (frame >= 0) {
          j["frame"] = frame;
          j["time"] = seconds;
        }
        j["width"] = d.image_width;
        j["height"] = d.image_height;
        j["detections"] = DetectionsJson(d);
        if (!drawn.empty()) j["draw"] = drawn;
        if (!crops_dir.empty()) j["crops"] = crops;
        if (!picture_error.empty()) j["picture_error"] = picture_error;
        sense::app::PrintJsonLine(j);
      } else {
        std::ostringstream head;
        head << sense::app::EscapeControl(src);
        if (frame >= 0) head << " frame " << frame << " (" << std::fixed << std::setprecision(3) << seconds << " s)";
        std::cout << head.str() << ":" << ResultText(d);
        if (!drawn.empty()) std::cout << "  -> " << drawn;
        std::cout << "\n";
        if (!picture_error.empty()) {
          std::cout.flush();
          sense::app::PrintError(app, src, picture_error);
        }
      }
      tick();
    };

    // Runs of consecutive images go through DetectFiles (decoding overlaps
    // inference); each video is read frame by frame and detected in batches.
    size_t i = 0;
    while (i < items.size()) {
      if (items[i].error.empty() && IsVideo(items[i].text)) {
        const std::string& src = items[i].source;
        cv::VideoCapture cap(items[i].text);
        if (!cap.isOpened()) {
          print_error(src, "input", src + ": cannot open this video (not a video, or no decoder for its format)", json::object());
          tick();
          ++i;
          continue;
        }
        const double fps = cap.get(cv::CAP_PROP_FPS);
        std::vector<cv::Mat> frames;
        std::vector<long> index;
        std::vector<double> times;
        auto flush = [&] {
          if (frames.empty()) return;
          detector->DetectBatch(frames, [&](size_t k, const cv::Mat& image, sense::Outcome<sense::vision::Detections> o) {
            if (!o.ok()) {
              print_error(src, sense::ErrorCodeName(o.error().code()), o.error().what(), {{"frame", index[k]}, {"time", times[k]}});
              tick();
              return;
            }
            print_result(src, i, index[k], times[k], image.empty() ? frames[k] : image, o.value());
          });
          frames.clear();
          index.clear();
          times.clear();
        };
        long n = 0;
        cv::Mat frame;
        while (true) {
          bool got = false;
          try {
            got = cap.read(frame);
          } catch (const cv::Exception&) {
            got = false;
          }
          if (!got || frame.empty()) break;
          if (n % every == 0) {
            frames.push_back(frame.clone());
            index.push_back(n);
            times.push_back(fps > 0 ? n / fps : cap.get(cv::CAP_PROP_POS_MSEC) / 1000.0);
            if (static_cast<int>(frames.size()) >= batch) flush();
          }
          ++n;
        }
        flush();
        if (n == 0) {
          print_error(src, "input", src + ": no frame could be read from this video", json::object());
          tick();
        }
        ++i;
        continue;
      }
      // A run of images (and inputs that failed while gathering, which keep their place).
      size_t end = i;
      while (end < items.size() && !(items[end].error.empty() && IsVideo(items[end].text))) ++end;
      std::vector<std::string> paths;
      std::vector<size_t> item_of;
      for (size_t k = i; k < end; ++k)
        if (items[k].error.empty()) {
          paths.push_back(items[k].text);
          item_of.push_back(k);
        }
      size_t printed = i;
      auto gather_errors_before = [&](size_t item) {
        for (; printed < item; ++printed) {
          print_error(items[printed].source, "file", items[printed].error, json::object());
          tick();
        }
      };
      detector->DetectFiles(paths, decode, [&](size_t k, const cv::Mat& image, sense::Outcome<sense::vision::Detections> o) {
        const size_t it = item_of[k];
        gather_errors_before(it);
        printed = it + 1;
        const std::string& src = items[it].source;
        if (!o.ok()) {
          print_error(src, sense::ErrorCodeName(o.error().code()), o.error().what(), json::object());
          tick();
          return;
        }
        print_result(src, it, -1, 0, image, o.value());
      });
      gather_errors_before(end);
      i = end;
    }
    std::cout.flush();
    progress.Finish();
    return failed ? 1 : 0;
  });
}
