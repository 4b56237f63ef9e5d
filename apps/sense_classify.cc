// sense-classify: classify images with an image classification bundle.
#include <filesystem>
#include <future>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <opencv2/imgcodecs.hpp>

#include "common/app.h"
#include "sense/vision/image_classifier.h"
#include "sense/vision/image_io.h"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::vector<std::string> SplitCommas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

struct Decoded {
  cv::Mat image;
  std::string error, code;
};

std::vector<Decoded> DecodeChunk(const std::vector<sense::app::InputItem>& items, size_t begin, size_t end,
                                 const sense::vision::DecodeOptions& opts) {
  std::vector<Decoded> out(end - begin);
  for (size_t i = begin; i < end; ++i) {
    Decoded& d = out[i - begin];
    if (!items[i].error.empty()) {
      d.error = items[i].error;
      d.code = "file";
      continue;
    }
    try {
      d.image = sense::vision::DecodeImage(items[i].text, opts);
    } catch (const sense::Error& e) {
      d.error = e.what();
      d.code = sense::ErrorCodeName(e.code());
    } catch (const std::exception& e) {
      d.error = e.what();
      d.code = "input";
    }
  }
  return out;
}

json CategoriesJson(const sense::Classifications& c) {
  json arr = json::array();
  for (const auto& cat : c.categories) arr.push_back({{"index", cat.index}, {"label", cat.label}, {"score", cat.score}});
  return arr;
}

std::string ExplainPath(const std::string& dir, const std::string& input, const std::string& label) {
  std::string safe;
  for (char ch : label) safe += (std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_');
  return (fs::path(dir) / (fs::path(input).stem().string() + "." + safe + ".png")).string();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string app = "sense-classify";
  return sense::app::Guarded(app, [&]() -> int {
    namespace po = sense::app::po;
    std::vector<std::string> inputs;
    std::string model_path, device, allow, deny, explain_dir, explain_method;
    int top_k = 0, batch = 0, threads = 0;
    float threshold = 0;
    double max_mp = 0;
    po::options_description opts("Options");
    opts.add_options()
      ("input", po::value(&inputs), "image files, folders (recursive), globs; '-' or no input reads paths from stdin")
      ("model,m", po::value(&model_path)->default_value(sense::app::DefaultModelPath("fashion-mnist.pt")), "image classification bundle")
      ("top-k,k", po::value(&top_k)->default_value(3), "labels to show per image (-1: all)")
      ("threshold,t", po::value(&threshold)->default_value(0.0f), "hide labels scoring below this probability")
      ("allow", po::value(&allow), "comma-separated labels to consider (others are ignored)")
      ("deny", po::value(&deny), "comma-separated labels never to report")
      ("batch-size,b", po::value(&batch)->default_value(16), "images per model call")
      ("threads", po::value(&threads)->default_value(0), "inference threads (0: all cores)")
      ("no-optimize", "run the model exactly as stored: no graph optimisation at load (see sense-info's \"graph\" row)")
      ("device", po::value(&device)->default_value("cpu"), "cpu, cuda or cuda:N")
      ("max-megapixels", po::value(&max_mp)->default_value(100.0), "refuse images larger than this, before decoding")
      ("explain", po::value(&explain_dir), "write a heat-map overlay PNG per image (for its top label) into this folder")
      ("explain-method", po::value(&explain_method)->default_value("auto"), "auto (Grad-CAM when the bundle supports it), gradcam or occlusion")
      ("json", "print JSON Lines: one object per input, in input order");
    po::variables_map vm;
    int rc = 0;
    if (!sense::app::ParseCommandLine(argc, argv, app,
                                      "sense-classify [options] IMAGE|FOLDER|GLOB...\n\n"
                                      "Classifies images with a sense bundle (default: the bundled Fashion-MNIST model).\n"
                                      "Example: sense-classify --top-k 3 photos/ --explain heatmaps/",
                                      opts, "input", &vm, &rc))
      return rc;
    if (!sense::app::CheckThreadsOption(app, &threads, &rc)) return rc;
    const bool as_json = vm.count("json") > 0;

    sense::vision::ImageClassifierOptions options;
    options.model.path = model_path;
    options.model.device = device;
    options.model.num_threads = threads;
    options.model.optimize = vm.count("no-optimize") == 0;
    options.classifier.max_results = top_k;
    options.classifier.score_threshold = threshold;
    options.classifier.allow_labels = SplitCommas(allow);
    options.classifier.deny_labels = SplitCommas(deny);
    options.max_batch_size = batch;
    auto classifier = sense::vision::ImageClassifier::Create(options);
    sense::vision::DecodeOptions decode;
    decode.max_pixels = static_cast<int64_t>(max_mp * 1e6);
    if (!explain_dir.empty()) fs::create_directories(explain_dir);

    const auto items = sense::app::GatherPaths(inputs, sense::vision::ImageExtensions());
    if (items.empty()) {
      std::cerr << app << ": no input images\nTry '" << app << " --help'.\n";
      return 2;
    }
    sense::app::Progress progress(items.size(), "classifying");
    int failed = 0;
    const size_t step = static_cast<size_t>(std::max(1, batch));
    // Decoding the next chunk overlaps inference on the current one.
    std::future<std::vector<Decoded>> next =
        std::async(std::launch::async, DecodeChunk, std::cref(items), 0, std::min(step, items.size()), decode);
    for (size_t b = 0; b < items.size(); b += step) {
      const size_t e = std::min(items.size(), b + step);
      std::vector<Decoded> chunk = next.get();
      if (e < items.size())
        next = std::async(std::launch::async, DecodeChunk, std::cref(items), e, std::min(items.size(), e + step), decode);
      std::vector<cv::Mat> images;
      for (const auto& d : chunk)
        if (d.error.empty()) images.push_back(d.image);
      std::vector<sense::Classifications> results;
      std::string batch_error;
      try {
        results = classifier->ClassifyBatch(images);
      } catch (const sense::Error& err) {
        batch_error = err.what();
      }
      size_t r = 0;
      for (size_t i = b; i < e; ++i) {
        const Decoded& d = chunk[i - b];
        const std::string& src = items[i].source;
        std::string error = d.error, code = d.code;
        sense::Classifications result;
        if (error.empty()) {
          if (!batch_error.empty()) {
            try {  // isolate which image broke the batch
              result = classifier->Classify(d.image);
            } catch (const sense::Error& err) {
              error = err.what();
              code = sense::ErrorCodeName(err.code());
            }
          } else {
            result = results[r];
          }
          ++r;
        }
        std::string explain_file;
        if (error.empty() && !explain_dir.empty()) {
          try {
            auto sal = classifier->Explain(d.image, -1, {explain_method});
            explain_file = ExplainPath(explain_dir, src, sal.category.label);
            if (!cv::imwrite(explain_file, sense::vision::RenderSaliencyOverlay(d.image, sal)))
              throw sense::Error(sense::ErrorCode::kFile, "cannot write " + explain_file);
          } catch (const sense::Error& err) {
            error = std::string("explanation failed: ") + err.what();
            code = sense::ErrorCodeName(err.code());
          }
        }
        if (!error.empty()) {
          ++failed;
          if (as_json) {
            json j = sense::app::ErrorJson(code, error);
            j["input"] = src;
            sense::app::PrintJsonLine(j);
          } else {
            sense::app::PrintError(app, error.rfind(src, 0) == 0 ? "" : src, error);
          }
        } else if (as_json) {
          json j = {{"input", src}, {"categories", CategoriesJson(result)}};
          if (!explain_file.empty()) j["explanation"] = explain_file;
          sense::app::PrintJsonLine(j);
        } else {
          std::ostringstream line;
          line << src << ":";
          if (result.categories.empty()) line << " (no label above the threshold)";
          for (size_t k = 0; k < result.categories.size(); ++k)
            line << (k ? "," : "") << " " << result.categories[k].label << " (" << std::fixed << std::setprecision(3)
                 << result.categories[k].score << ")";
          if (!explain_file.empty()) line << "  -> " << explain_file;
          std::cout << line.str() << "\n";
        }
        progress.Tick();
      }
      std::cout.flush();
    }
    progress.Finish();
    return failed ? 1 : 0;
  });
}
