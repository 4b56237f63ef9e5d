// sense-eval's detection mode: run a detector over a labelled image set and
// print COCO's metrics (vision/detection_eval.h).
#include "eval_detection.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/app.h"
#include "sense/vision/detection_eval.h"
#include "sense/vision/image_io.h"
#include "sense/vision/object_detector.h"

namespace sense::app {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string Normalise(const std::string& s) {
  std::string out;
  for (char c : s)
    if (std::isalnum(static_cast<unsigned char>(c))) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsSidecarModel(const std::string& path) {
  std::string e = fs::path(path).extension().string();
  std::transform(e.begin(), e.end(), e.begin(), ::tolower);
  return e == ".json" || e == ".onnx" || e == ".cfg" || e == ".weights" || e == ".xml";
}

bool IsCocoData(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return fs::is_regular_file(fs::path(path) / "instances.json", ec);
  std::string e = fs::path(path).extension().string();
  std::transform(e.begin(), e.end(), e.begin(), ::tolower);
  return e == ".json" && fs::is_regular_file(path, ec);
}

std::string Num(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

// A COCO figure in percent with one decimal; -1 (no ground truth) as "-".
std::string Pct(double v) {
  if (v < 0) return "-";
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%.1f", 100 * v);
  return buf;
}

// Precision-recall curves at IoU 0.5 and 0.75 (the mean over categories of
// COCO's 101-point interpolated precision).
void WritePrPng(const vision::DetectionReport& r, const std::string& title, const std::string& path) {
  const int W = 720, H = 540, left = 70, right = 30, top = 50, bottom = 60;
  cv::Mat img(H, W, CV_8UC3, cv::Scalar(255, 255, 255));
  const int pw = W - left - right, ph = H - top - bottom;
  auto px = [&](double recall, double precision) {
    return cv::Point(left + static_cast<int>(std::lround(recall * pw)), top + static_cast<int>(std::lround((1 - precision) * ph)));
  };
  for (int i = 0; i <= 10; ++i) {
    const cv::Scalar grid(225, 225, 225);
    cv::line(img, px(i / 10.0, 0), px(i / 10.0, 1), grid, 1);
    cv::line(img, px(0, i / 10.0), px(1, i / 10.0), grid, 1);
    char buf[8];
    std::snprintf(buf, sizeof(buf), "%.1f", i / 10.0);
    cv::putText(img, buf, px(i / 10.0, 0) + cv::Point(-10, 20), cv::FONT_HERSHEY_SIMPLEX, 0.4, cv::Scalar(60, 60, 60), 1, cv::LINE_AA);
    cv::putText(img, buf, px(0, i / 10.0) + cv::Point(-32, 4), cv::FONT_HERSHEY_SIMPLEX, 0.4, cv::Scalar(60, 60, 60), 1, cv::LINE_AA);
  }
  cv::rectangle(img, px(0, 1), px(1, 0), cv::Scalar(80, 80, 80), 1);
  cv::putText(img, "recall", cv::Point(left + pw / 2 - 20, H - 15), cv::FONT_HERSHEY_SIMPLEX, 0.5, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  cv::putText(img, "precision", cv::Point(5, top - 15), cv::FONT_HERSHEY_SIMPLEX, 0.5, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  cv::putText(img, title, cv::Point(left + 70, top - 18), cv::FONT_HERSHEY_SIMPLEX, 0.5, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  const std::pair<const std::vector<double>*, cv::Scalar> curves[] = {{&r.precision50, cv::Scalar(180, 119, 31)},
                                                                      {&r.precision75, cv::Scalar(14, 127, 255)}};
  const double aps[] = {r.metrics.ap50, r.metrics.ap75};
  const char* names[] = {"IoU 0.50", "IoU 0.75"};
  for (int c = 0; c < 2; ++c) {
    const auto& p = *curves[c].first;
    for (size_t i = 1; i < p.size(); ++i)
      cv::line(img, px((i - 1) / 100.0, p[i - 1]), px(i / 100.0, p[i]), curves[c].second, 2, cv::LINE_AA);
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%s  AP %.3f", names[c], aps[c]);
    const cv::Point at(left + pw - 200, top + 25 + 24 * c);
    cv::line(img, at + cv::Point(0, -5), at + cv::Point(30, -5), curves[c].second, 3, cv::LINE_AA);
    cv::putText(img, buf, at + cv::Point(38, 0), cv::FONT_HERSHEY_SIMPLEX, 0.5, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  }
  if (!cv::imwrite(path, img)) throw Error(ErrorCode::kFile, path + ": cannot write the precision-recall PNG");
}

}  // namespace

bool WantsDetectionEval(int argc, char** argv) {
  std::string model;
  std::vector<std::string> others;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--detection") return true;
    if ((a == "--model" || a == "-m") && i + 1 < argc) {
      model = argv[++i];
      continue;
    }
    if (a.rfind("--model=", 0) == 0) {
      model = a.substr(8);
      continue;
    }
    if (a.rfind("-m", 0) == 0 && a.size() > 2 && a[2] != '-') {
      model = a.substr(2);
      continue;
    }
    others.push_back(a);
  }
  if (!model.empty()) {
    if (IsSidecarModel(model)) return true;
    try {
      return ReadBundleMetadata(model).task == Task::kObjectDetection;
    } catch (const std::exception&) {
      return false;  // the classification mode reports the bad model
    }
  }
  for (const auto& a : others)
    if (!a.empty() && a[0] != '-' && (IsCocoData(a) || vision::LooksLikeBoxList(a))) return true;
  return false;
}

int RunDetectionEval(int argc, char** argv) {
  const std::string app = "sense-eval";
  return Guarded(app, [&]() -> int {
    std::string model_path, data, images_dir, device, png, save;
    int batch = 0, threads = 0, limit = 0, max_det = 0;
    float threshold = 0, iou = 0;
    double max_mp = 0;
    po::options_description opts("Options (detection)");
    opts.add_options()
      ("data", po::value(&data), "ground truth: a COCO folder (instances.json + images/), a COCO instances .json, or a 'FILE X Y W H LABEL' text file")
      ("model,m", po::value(&model_path)->default_value(DefaultModelPath("coco-detector.pt")), "object detection bundle or sidecar")
      ("images", po::value(&images_dir), "COCO: the image folder (default: images/ beside instances.json, else its folder)")
      ("threshold,t", po::value(&threshold)->default_value(0.01f), "minimum score, in [0, 1] (COCO protocol: 0.01)")
      ("iou", po::value(&iou), "NMS IoU threshold, in [0, 1] (default: the model's)")
      ("max-detections", po::value(&max_det)->default_value(100), "boxes per image, >= 1 (COCO: 100)")
      ("single-label", "one class per box (default: the model's multi_label setting)")
      ("multi-label", "every class above the threshold per box (COCO evaluation practice)")
      ("limit", po::value(&limit)->default_value(0), "evaluate only the first N images (0: all)")
      ("batch-size,b", po::value(&batch)->default_value(4), "images per model call, >= 1")
      ("max-megapixels", po::value(&max_mp)->default_value(100.0), "refuse images larger than this, before decoding; in (0, 1000000]")
      ("threads", po::value(&threads)->default_value(0), "inference threads (0: all cores)")
      ("no-optimize", "run the model exactly as stored: no graph optimisation at load")
      ("device", po::value(&device)->default_value("cpu"), "cpu, cuda or cuda:N")
      ("pr-png", po::value(&png), "write precision-recall curves (IoU 0.5 and 0.75) as a PNG here")
      ("save-detections", po::value(&save), "write the detections as COCO results JSON ([{image_id, category_id, bbox, score}])")
      ("detection", "detection mode (chosen by itself for a detection model or detection ground truth)")
      ("json", "print the report as one JSON object");
    po::variables_map vm;
    int rc = 0;
    if (!ParseCommandLine(argc, argv, app,
                          "sense-eval [options] COCO_FOLDER|instances.json|BOXES.txt\n\n"
                          "Evaluates an object detection bundle (default: the bundled COCO detector) with COCO's rules\n"
                          "(pycocotools' bbox evaluation): AP at IoU 0.50:0.95, AP50, AP75, AP small/medium/large, AR1/10/100\n"
                          "and per-category AP. An image that cannot be read or run is reported, left out, and makes\n"
                          "the exit status 1. Model labels are matched to the ground truth's category names.\n"
                          "Example: sense-eval ../shared/data/coco-val-mini --pr-png pr.png",
                          opts, "data", &vm, &rc))
      return rc;
    if (!CheckThreadsOption(app, &threads, &rc)) return rc;
    if (data.empty()) throw UsageError("no data given");
    if (!(threshold >= 0.0f && threshold <= 1.0f)) throw UsageError("--threshold must be in [0, 1], found " + Num(threshold));
    if (vm.count("iou") && !(iou >= 0.0f && iou <= 1.0f)) throw UsageError("--iou must be in [0, 1], found " + Num(iou));
    if (max_det < 1) throw UsageError("--max-detections must be >= 1, found " + std::to_string(max_det));
    if (batch < 1) throw UsageError("--batch-size must be >= 1, found " + std::to_string(batch));
    if (limit < 0) throw UsageError("--limit must be >= 0 (0: all), found " + std::to_string(limit));
    if (vm.count("single-label") && vm.count("multi-label")) throw UsageError("--single-label and --multi-label are exclusive");
    vision::DecodeOptions decode;
    decode.max_pixels = MaxPixelsOption(max_mp);
    try {
      sense::Device::Parse(device);
    } catch (const sense::Error& e) {
      throw UsageError(std::string("--device: ") + e.what());
    }
    std::error_code ec;
    if (!fs::exists(data, ec)) throw UsageError(data + ": no such file or folder");

    // Ground truth.
    vision::DetectionDataset set;
    if (IsCocoData(data)) {
      const fs::path json_path = fs::is_directory(data) ? fs::path(data) / "instances.json" : fs::path(data);
      if (images_dir.empty()) {
        const fs::path beside = json_path.parent_path() / "images";
        images_dir = fs::is_directory(beside) ? beside.string() : json_path.parent_path().string();
      }
      set = vision::ReadCocoInstances(json_path.string(), images_dir);
    } else if (vision::LooksLikeBoxList(data)) {
      set = vision::ReadBoxList(data);
    } else {
      throw UsageError(data + ": expected a COCO folder (with instances.json), a COCO .json file or a 'FILE X Y W H LABEL' text file");
    }
    if (limit > 0 && static_cast<size_t>(limit) < set.images.size()) set.images.resize(static_cast<size_t>(limit));

    vision::ObjectDetectorOptions options;
    options.model.path = model_path;
    options.model.device = device;
    options.model.num_threads = threads;
    options.model.optimize = vm.count("no-optimize") == 0;
    options.detector.score_threshold = threshold;
    if (vm.count("iou")) options.detector.iou_threshold = iou;
    options.detector.max_detections = max_det;
    if (vm.count("single-label")) options.detector.multi_label = false;
    if (vm.count("multi-label")) options.detector.multi_label = true;
    options.max_batch_size = batch;
    options.reduced_jpeg_decode = false;  // the model sees what a full-size decode gives, as in Python references
    const auto t0 = std::chrono::steady_clock::now();
    auto detector = vision::ObjectDetector::Create(options);
    const double loading = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const auto& labels = detector->metadata().labels;
    const auto& used = detector->options();

    // Model label -> dataset category, by name (then ignoring case and punctuation).
    std::vector<int> category_of(labels.size(), -1);
    std::vector<bool> covered(set.categories.size(), false);
    for (size_t l = 0; l < labels.size(); ++l) {
      for (size_t c = 0; c < set.categories.size() && category_of[l] < 0; ++c)
        if (labels[l] == set.categories[c]) category_of[l] = static_cast<int>(c);
      for (size_t c = 0; c < set.categories.size() && category_of[l] < 0; ++c)
        if (Normalise(labels[l]) == Normalise(set.categories[c])) category_of[l] = static_cast<int>(c);
      if (category_of[l] >= 0) covered[static_cast<size_t>(category_of[l])] = true;
    }
    std::string uncovered;
    int n_uncovered = 0;
    for (size_t c = 0; c < set.categories.size(); ++c)
      if (!covered[c]) {
        if (n_uncovered < 8) uncovered += (n_uncovered ? ", " : "") + set.categories[c];
        ++n_uncovered;
      }
    if (n_uncovered == static_cast<int>(set.categories.size()))
      throw Error(ErrorCode::kInput, "none of the ground truth's categories (" + uncovered + (n_uncovered > 8 ? ", ..." : "") +
                                         ") is one of the model's labels");
    if (n_uncovered)
      std::cerr << app << ": " << n_uncovered << " ground truth categor" << (n_uncovered == 1 ? "y is" : "ies are")
                << " not among the model's labels and can only be missed: " << uncovered << (n_uncovered > 8 ? ", ..." : "") << "\n";

    vision::DetectionEvaluator evaluator(set.categories);
    std::vector<std::string> paths;
    for (const auto& im : set.images) paths.push_back(im.path);
    Progress progress(paths.size(), "evaluating", 10);
    int failed = 0;
    json saved = json::array();
    const auto t1 = std::chrono::steady_clock::now();
    detector->DetectFiles(paths, decode, [&](size_t k, const cv::Mat&, Outcome<vision::Detections> o) {
      const auto& im = set.images[k];
      progress.Tick();
      if (!o.ok()) {
        ++failed;
        PrintError(app, "", o.error().what());
        return;
      }
      const auto& d = o.value();
      if (im.width && im.height && (d.image_width != im.width || d.image_height != im.height)) {
        ++failed;
        PrintError(app, im.path, "decoded as " + std::to_string(d.image_width) + " x " + std::to_string(d.image_height) +
                                     " but the ground truth says " + std::to_string(im.width) + " x " + std::to_string(im.height) +
                                     "; left out");
        return;
      }
      std::vector<vision::ScoredBox> found;
      for (const auto& x : d.detections) {
        if (x.class_index < 0 || static_cast<size_t>(x.class_index) >= category_of.size()) continue;
        const int c = category_of[static_cast<size_t>(x.class_index)];
        if (c < 0) continue;  // a label the ground truth does not have
        found.push_back({x.box, c, x.score});
        if (!save.empty())
          saved.push_back({{"image_id", im.id}, {"category_id", set.category_ids[static_cast<size_t>(c)]},
                           {"bbox", {x.box.x1, x.box.y1, static_cast<double>(x.box.x2) - x.box.x1, static_cast<double>(x.box.y2) - x.box.y1}},
                           {"score", x.score}});
      }
      evaluator.AddImage(im.objects, found);
    });
    progress.Finish();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    const auto r = evaluator.Report();
    if (r.images == 0) throw Error(ErrorCode::kInput, data + ": no image could be evaluated");
    if (!save.empty()) {
      std::ofstream out(save);
      out << saved.dump() << "\n";
      if (!out) throw Error(ErrorCode::kFile, save + ": cannot write the detections");
    }
    if (!png.empty())
      WritePrPng(r, fs::path(model_path).filename().string() + " on " + fs::path(data).filename().string() + " (" +
                        std::to_string(r.images) + " images)", png);
    const auto& m = r.metrics;
    const double ips = seconds > 0 ? r.images / seconds : 0;
    const float used_iou = used.iou_threshold.value_or(-1);
    const bool used_multi = used.multi_label.value_or(false);
    if (vm.count("json")) {
      json per = json::object();
      for (const auto& c : r.categories)
        per[c.label] = {{"ap", c.ap}, {"ap50", c.ap50}, {"boxes", c.ground_truth}, {"detections", c.detections}};
      PrintJsonLine({{"model", model_path}, {"data", data}, {"images", r.images}, {"failed", failed},
                     {"ground_truth", r.ground_truth}, {"crowd_regions", r.crowd_regions}, {"detections", r.detections},
                     {"AP", m.ap}, {"AP50", m.ap50}, {"AP75", m.ap75}, {"APs", m.ap_small}, {"APm", m.ap_medium},
                     {"APl", m.ap_large}, {"AR1", m.ar1}, {"AR10", m.ar10}, {"AR100", m.ar100}, {"ARs", m.ar_small},
                     {"ARm", m.ar_medium}, {"ARl", m.ar_large}, {"per_class", per},
                     {"threshold", threshold}, {"iou", used_iou}, {"max_detections", max_det}, {"multi_label", used_multi},
                     {"seconds", seconds}, {"images_per_second", ips}, {"threads", detector->model().num_threads()},
                     {"batch_size", batch}});
    } else {
      std::cout << "model     " << model_path << "\n"
                << "data      " << data << " (" << r.images << " images" << (failed ? ", " + std::to_string(failed) + " failed and left out" : "")
                << ", " << r.ground_truth << " boxes, " << r.crowd_regions << " crowd regions)\n"
                << "protocol  score >= " << Num(threshold) << ", NMS IoU " << Num(used_iou) << ", " << max_det
                << " detections per image, " << (used_multi ? "every class above the threshold per box" : "one class per box") << "\n"
                << "AP        " << Pct(m.ap) << "   AP50 " << Pct(m.ap50) << "   AP75 " << Pct(m.ap75) << "\n"
                << "APs/m/l   " << Pct(m.ap_small) << " / " << Pct(m.ap_medium) << " / " << Pct(m.ap_large) << "   AR100 "
                << Pct(m.ar100) << "   (percent; -: no ground truth in that size range)\n"
                << std::fixed << std::setprecision(1) << "speed     " << ips << " images/s (decode + preprocess + inference + NMS, " << detector->model().num_threads()
                << " threads, batch " << batch << "; loading took " << std::setprecision(2) << loading << " s)\n\n"
                << vision::DetectionEvaluator::Format(r);
      if (!png.empty()) std::cout << "\nprecision-recall PNG: " << png << "\n";
    }
    return failed ? 1 : 0;
  });
}

}  // namespace sense::app
