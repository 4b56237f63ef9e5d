// sense-eval: evaluate a classifier on a labelled set: accuracy, per-class
// precision/recall/F1, confusion matrix (text and PNG), calibration error,
// throughput.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/app.h"
#include "eval_detection.h"
#include "eval_ood.h"
#include "eval_embeddings.h"  // retrieval and sts modes
#include "sense/inference/evaluation.h"
#include "sense/text/text_classifier.h"
#include "sense/vision/idx.h"
#include "sense/vision/image_classifier.h"
#include "sense/vision/image_io.h"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string Normalise(const std::string& s) {
  std::string out;
  for (char c : s) out += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c)) : ' ';
  return out;
}

// A labelled example: an image in memory (IDX) or a path (folders). An
// example whose label is unusable has `error` set; it counts as failed.
struct Example {
  std::string path;
  cv::Mat image;
  int truth = -1;
  std::string error;
};

std::vector<Example> LoadIdx(const std::string& images_path, std::string labels_path,
                             const std::vector<std::string>& labels) {
  if (labels_path.empty()) {
    labels_path = images_path;
    const auto at = labels_path.find("images-idx3");
    if (at == std::string::npos)
      throw sense::Error(sense::ErrorCode::kOption, images_path + ": cannot infer the label file name; pass --labels");
    labels_path.replace(at, 11, "labels-idx1");
  }
  auto images = sense::vision::ReadIdxImages(images_path);
  auto truth = sense::vision::ReadIdxLabels(labels_path);
  if (images.size() != truth.size())
    throw sense::Error(sense::ErrorCode::kInput, images_path + " has " + std::to_string(images.size()) + " images but " +
                                                     labels_path + " has " + std::to_string(truth.size()) + " labels");
  std::vector<Example> out;
  for (size_t i = 0; i < images.size(); ++i) {
    Example e{images_path + "#" + std::to_string(i), images[i], truth[i], ""};
    if (truth[i] >= static_cast<int>(labels.size()))
      e.error = labels_path + ": label " + std::to_string(truth[i]) + " at index " + std::to_string(i) + " but the model has " +
                std::to_string(labels.size()) + " labels";
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<Example> LoadFolders(const std::string& root, const std::vector<std::string>& labels) {
  std::vector<Example> out;
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(root))
    if (e.is_directory()) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  if (dirs.empty()) throw sense::Error(sense::ErrorCode::kInput, root + ": expected one subfolder per class, found none");
  for (const auto& d : dirs) {
    const std::string name = d.filename().string();
    int truth = -1;
    for (size_t i = 0; i < labels.size(); ++i)
      if (labels[i] == name || Normalise(labels[i]) == Normalise(name)) truth = static_cast<int>(i);
    if (truth < 0) {
      std::string known;
      for (const auto& l : labels) known += (known.empty() ? "" : ", ") + l;
      throw sense::Error(sense::ErrorCode::kInput, d.string() + ": folder name matches no model label (" + known + ")");
    }
    for (const auto& item : sense::app::GatherPaths({d.string()}, sense::vision::ImageExtensions()))
      out.push_back({item.text, cv::Mat(), truth, item.error});
  }
  return out;
}

// One TSV line: its text and label, or why it cannot be used (`error`).
struct TsvRow {
  std::string text;
  int truth = -1;
  std::string error;
};

// text<TAB>label lines; the label is a label name or its index. A first line
// whose label is neither is a header and skipped; later such lines, and
// lines without a tab, are rows with an error (counted as failed examples).
std::vector<TsvRow> LoadTsv(const std::string& path, const std::vector<std::string>& labels) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw sense::Error(sense::ErrorCode::kFile, path + ": cannot be opened");
  std::vector<TsvRow> out;
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const auto tab = line.rfind('\t');
    if (tab == std::string::npos) {
      out.push_back({"", -1, path + ":" + std::to_string(n) + ": expected text<TAB>label"});
      continue;
    }
    const std::string text = line.substr(0, tab), label = line.substr(tab + 1);
    int truth = -1;
    for (size_t i = 0; i < labels.size(); ++i)
      if (labels[i] == label) truth = static_cast<int>(i);
    if (truth < 0 && !label.empty() && std::all_of(label.begin(), label.end(), ::isdigit) && label.size() < 6 &&
        std::stoi(label) < static_cast<int>(labels.size()))
      truth = std::stoi(label);
    if (truth < 0) {
      if (n == 1) continue;  // header
      out.push_back({text, -1, path + ":" + std::to_string(n) + ": label \"" + label +
                                   "\" is neither a model label nor a label index"});
      continue;
    }
    out.push_back({text, truth, ""});
  }
  return out;
}

void WriteConfusionPng(const sense::ClassificationReport& r, const std::string& path) {
  const int k = static_cast<int>(r.classes.size()), cell = 56, margin = 150;
  cv::Mat img(margin + k * cell + 20, margin + k * cell + 20, CV_8UC3, cv::Scalar(255, 255, 255));
  for (int t = 0; t < k; ++t) {
    int row_total = 0;
    for (int v : r.confusion[static_cast<size_t>(t)]) row_total += v;
    for (int p = 0; p < k; ++p) {
      const int v = r.confusion[static_cast<size_t>(t)][static_cast<size_t>(p)];
      const double frac = row_total ? static_cast<double>(v) / row_total : 0;
      const int shade = static_cast<int>(255 * (1 - frac));
      const cv::Rect cellr(margin + p * cell, margin + t * cell, cell - 2, cell - 2);
      cv::rectangle(img, cellr, t == p ? cv::Scalar(shade, 255, shade) : cv::Scalar(shade, shade, 255), cv::FILLED);
      cv::putText(img, std::to_string(v), cv::Point(cellr.x + 6, cellr.y + cell / 2 + 5), cv::FONT_HERSHEY_SIMPLEX, 0.45,
                  frac > 0.6 ? cv::Scalar(255, 255, 255) : cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
    }
    const std::string name = r.classes[static_cast<size_t>(t)].label.substr(0, 18);
    cv::putText(img, name, cv::Point(5, margin + t * cell + cell / 2 + 5), cv::FONT_HERSHEY_SIMPLEX, 0.45, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
    cv::Mat label(20, margin - 10, CV_8UC3, cv::Scalar(255, 255, 255));
    cv::putText(label, name, cv::Point(2, 15), cv::FONT_HERSHEY_SIMPLEX, 0.45, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
    cv::Mat rotated;
    cv::rotate(label, rotated, cv::ROTATE_90_COUNTERCLOCKWISE);
    rotated.copyTo(img(cv::Rect(margin + t * cell + cell / 2 - 10, 5, rotated.cols, rotated.rows)));
  }
  cv::putText(img, "true (rows) vs predicted (columns)", cv::Point(5, img.rows - 5), cv::FONT_HERSHEY_SIMPLEX, 0.4,
              cv::Scalar(80, 80, 80), 1, cv::LINE_AA);
  if (!cv::imwrite(path, img)) throw sense::Error(sense::ErrorCode::kFile, path + ": cannot write the confusion matrix PNG");
}

}  // namespace

// entities (issue 14): "sense-eval entities ..." (apps/eval_entities.cc).
int RunEntityEval(int argc, char** argv);

int main(int argc, char** argv) {
  if (sense::eval::WantsOod(argc, argv)) return sense::eval::OodMain(argc, argv);  // out-of-domain mode (eval_ood.cc)
  if (argc > 1 && sense::app::IsEmbeddingEvalMode(argv[1])) return sense::app::EmbeddingEvalMain(argc, argv);
  if (argc > 1 && std::string(argv[1]) == "entities") return RunEntityEval(argc - 1, argv + 1);
  const std::string app = "sense-eval";
  // Detection models and detection ground truth: COCO metrics (eval_detection.cc).
  if (sense::app::WantsDetectionEval(argc, argv)) return sense::app::RunDetectionEval(argc, argv);
  return sense::app::Guarded(app, [&]() -> int {
    namespace po = sense::app::po;
    std::string model_path, data, labels_path, device, png;
    int batch = 0, threads = 0, limit = 0;
    double max_mp = 0;
    po::options_description opts("Options");
    opts.add_options()
      ("data", po::value(&data), "labelled set: a folder with one subfolder per class, an idx3-ubyte(.gz) image file, or a text<TAB>label TSV")
      ("model,m", po::value(&model_path)->default_value(sense::app::DefaultModelPath("fashion-mnist.pt")), "classification bundle")
      ("labels", po::value(&labels_path), "IDX label file (default: the image file name with labels-idx1)")
      ("limit", po::value(&limit)->default_value(0), "evaluate only the first N examples (0: all)")
      ("batch-size,b", po::value(&batch)->default_value(64), "examples per model call, >= 1")
      ("max-megapixels", po::value(&max_mp)->default_value(100.0), "image folders: refuse images larger than this, before decoding; in (0, 1000000]")
      ("threads", po::value(&threads)->default_value(0), "inference threads (0: all cores)")
      ("no-optimize", "run the model exactly as stored: no graph optimisation at load (see sense-info's \"graph\" row)")
      ("device", po::value(&device)->default_value("cpu"), "cpu, cuda or cuda:N")
      ("confusion-png", po::value(&png), "write the confusion matrix as a PNG here")
      ("json", "print the report as one JSON object");
    po::variables_map vm;
    int rc = 0;
    if (!sense::app::ParseCommandLine(argc, argv, app,
                                      "sense-eval [options] DATA\n\n"
                                      "Evaluates a classification bundle on a labelled set: images (a folder per class, or IDX\n"
                                      "files) for image models, a TSV file (text<TAB>label) for text models.\n"
                                      "Example: sense-eval /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz\n"
                                      "Object detection (COCO metrics): sense-eval [--model M] COCO_FOLDER|instances.json|BOXES.txt;\n"
                                      "see 'sense-eval --detection --help'.\n"
                                      "Out-of-domain detection: sense-eval --ood IN OUT... (see sense-eval --ood --help)\n"
                                      "Named entities on CoNLL files: sense-eval entities --help",
                                      opts, "data", &vm, &rc))
      return rc;
    if (!sense::app::CheckThreadsOption(app, &threads, &rc)) return rc;
    // Flag values that can never work: one usage error (exit 2, from Guarded) naming the flag, before any work.
    using sense::app::UsageError;
    if (data.empty()) throw UsageError("no data given");
    if (batch < 1) throw UsageError("--batch-size must be >= 1, found " + std::to_string(batch));
    if (limit < 0) throw UsageError("--limit must be >= 0 (0: all), found " + std::to_string(limit));
    sense::vision::DecodeOptions decode;
    decode.max_pixels = sense::app::MaxPixelsOption(max_mp);
    const bool is_text = sense::ReadBundleMetadata(model_path).task == sense::Task::kTextClassification;
    std::vector<std::string> labels;
    std::unique_ptr<sense::ClassificationEvaluator> evaluator;
    int failed = 0, used_threads = 0;
    double seconds = 0, loading = 0;
    auto add = [&](int truth, const sense::Classifications& c) {
      std::vector<float> probs(labels.size(), 0.0f);
      for (const auto& cat : c.categories) probs[static_cast<size_t>(cat.index)] = cat.score;
      evaluator->Add(truth, probs);
    };
    // Both classifier kinds take the same model and scoring options.
    auto configure = [&](auto options) {
      options.model.path = model_path;
      options.model.device = device;
      options.model.num_threads = threads;
      options.model.optimize = vm.count("no-optimize") == 0;
      options.classifier.max_results = -1;
      options.max_batch_size = batch;
      return options;
    };
    auto start = [&](const auto& classifier) {
      labels = classifier.metadata().labels;
      used_threads = classifier.model().num_threads();
      evaluator = std::make_unique<sense::ClassificationEvaluator>(labels);
    };
    const auto t0 = std::chrono::steady_clock::now();
    if (is_text) {
      auto classifier = sense::text::TextClassifier::Create(configure(sense::text::TextClassifierOptions()));
      start(*classifier);
      auto rows = LoadTsv(data, labels);
      if (limit > 0 && static_cast<size_t>(limit) < rows.size()) rows.resize(static_cast<size_t>(limit));
      if (rows.empty()) throw sense::Error(sense::ErrorCode::kInput, data + ": no examples");
      // A bad row (unusable label, a text the model fails on) is counted and
      // reported; the evaluation goes on.
      std::vector<std::string> texts;
      std::vector<size_t> row_of;  // texts[k] is rows[row_of[k]]
      for (size_t i = 0; i < rows.size(); ++i) {
        if (!rows[i].error.empty()) {
          ++failed;
          sense::app::PrintError(app, "", rows[i].error);
          continue;
        }
        texts.push_back(rows[i].text);
        row_of.push_back(i);
      }
      const auto t1 = std::chrono::steady_clock::now();
      loading = std::chrono::duration<double>(t1 - t0).count();
      const auto results = classifier->ClassifyBatch(texts);
      seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
      for (size_t k = 0; k < texts.size(); ++k) {
        if (!results[k].ok()) {  // a bad example counts as an error; the others go on
          ++failed;
          sense::app::PrintError(app, data + ":" + std::to_string(row_of[k] + 1), results[k].error().what());
          continue;
        }
        add(rows[row_of[k]].truth, results[k].value().classifications);
      }
    } else {
      auto classifier = sense::vision::ImageClassifier::Create(configure(sense::vision::ImageClassifierOptions()));
      start(*classifier);
      std::vector<Example> examples = fs::is_directory(data) ? LoadFolders(data, labels) : LoadIdx(data, labels_path, labels);
      if (limit > 0 && static_cast<size_t>(limit) < examples.size()) examples.resize(static_cast<size_t>(limit));
      if (examples.empty()) throw sense::Error(sense::ErrorCode::kInput, data + ": no examples");
      sense::app::Progress progress(examples.size(), "evaluating");
      const auto t1 = std::chrono::steady_clock::now();
      loading = std::chrono::duration<double>(t1 - t0).count();
      // A bad example (unreadable file, unusable label, an image the model
      // raises on) is counted and reported; the evaluation goes on.
      auto fail = [&](const std::string& message) {
        ++failed;
        sense::app::PrintError(app, "", message);
        progress.Tick();
      };
      std::vector<size_t> run;  // examples that go to the model
      for (size_t i = 0; i < examples.size(); ++i)
        if (examples[i].error.empty()) run.push_back(i);
        else fail(examples[i].error);
      auto sink = [&](size_t k, const cv::Mat&, sense::Outcome<sense::Classifications> o) {
        if (!o.ok()) return fail(o.error().what());
        add(examples[run[k]].truth, o.value());
        progress.Tick();
      };
      if (fs::is_directory(data)) {
        std::vector<std::string> paths;
        for (size_t i : run) paths.push_back(examples[i].path);
        classifier->ClassifyFiles(paths, decode, sink);
      } else {
        std::vector<cv::Mat> images;
        for (size_t i : run) images.push_back(examples[i].image);
        classifier->ClassifyBatch(images, sink);
      }
      progress.Finish();
      seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    }
    const sense::ClassificationReport r = evaluator->Report();
    if (!png.empty()) WriteConfusionPng(r, png);

    if (vm.count("json")) {
      json classes = json::array();
      for (const auto& c : r.classes)
        classes.push_back({{"label", c.label}, {"precision", c.precision}, {"recall", c.recall}, {"f1", c.f1}, {"support", c.support}});
      sense::app::PrintJsonLine({{"model", model_path}, {"data", data}, {"examples", r.examples}, {"failed", failed},
                                 {"accuracy", r.accuracy}, {"macro_precision", r.macro_precision},
                                 {"macro_recall", r.macro_recall}, {"macro_f1", r.macro_f1},
                                 {"expected_calibration_error", r.expected_calibration_error}, {"classes", classes},
                                 {"confusion", r.confusion}, {"seconds", seconds},
                                 {"examples_per_second", r.examples / seconds},
                                 {"threads", used_threads}, {"batch_size", batch}});
    } else {
      std::cout << "model     " << model_path << "\n"
                << "data      " << data << " (" << r.examples << " examples" << (failed ? ", " + std::to_string(failed) + " failed" : "") << ")\n"
                << std::fixed << std::setprecision(4) << "accuracy  " << r.accuracy << "\n"
                << "macro F1  " << r.macro_f1 << "\n"
                << "ECE       " << r.expected_calibration_error << " (expected calibration error, 15 bins)\n"
                << std::setprecision(1) << "speed     " << r.examples / seconds << " examples/s ("
                << (is_text ? "tokenize" : "decode + preprocess") << " + inference, " << used_threads << " threads, batch "
                << batch << "; loading took " << loading << " s)\n\n"
                << sense::ClassificationEvaluator::Format(r);
      if (!png.empty()) std::cout << "\nconfusion matrix PNG: " << png << "\n";
    }
    return failed ? 1 : 0;
  });
}
