// sense-classify: classify images with an image classification bundle.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>
#include <stdexcept>

#include <opencv2/imgcodecs.hpp>

#include "common/app.h"
#include "common/ood_output.h"
#include "sense/vision/image_classifier.h"
#include "sense/vision/image_io.h"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using sense::app::UsageError;

std::vector<std::string> SplitCommas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

std::string Num(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

// --allow/--deny labels must be the model's; checked from the metadata
// before the model is loaded. A bundle whose metadata cannot be read is left
// to ImageClassifier::Create, which reports it as a load error.
void CheckLabelFlags(const std::string& model_path, const std::vector<std::string>& allow,
                     const std::vector<std::string>& deny) {
  if (allow.empty() && deny.empty()) return;
  if (!allow.empty() && !deny.empty()) throw UsageError("--allow and --deny are exclusive; give one of them");
  std::vector<std::string> labels;
  try {
    labels = sense::ReadBundleMetadata(model_path).labels;
  } catch (const sense::Error&) {
    return;
  }
  const std::string flag = allow.empty() ? "--deny" : "--allow";
  for (const auto& l : allow.empty() ? deny : allow)
    if (std::find(labels.begin(), labels.end(), l) == labels.end()) {
      std::string known;
      for (size_t i = 0; i < labels.size() && i < 12; ++i) known += (i ? ", " : "") + labels[i];
      if (labels.size() > 12) known += ", ...";
      throw UsageError(flag + ": \"" + l + "\" is not one of the model's labels (" + known + ")");
    }
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

std::string ResultLine(const std::string& src, const sense::Classifications& result, const std::string& explain_file,
                       const sense::ModelMetadata& metadata) {
  std::ostringstream line;
  line << sense::app::EscapeControl(src) << ":";
  if (sense::app::Flagged(result))  // said first and plainly; the guesses follow
    line << " " << sense::app::OodMessage(metadata, *result.out_of_domain, "images") << "; its guesses:";
  if (result.categories.empty()) line << " (no label above the threshold)";
  for (size_t k = 0; k < result.categories.size(); ++k)
    line << (k ? "," : "") << " " << result.categories[k].label << " (" << std::fixed << std::setprecision(3)
         << result.categories[k].score << ")";
  if (!explain_file.empty()) line << "  -> " << explain_file;
  return line.str();
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
      ("top-k,k", po::value(&top_k)->default_value(3), "labels to show per image (-1: all; >= 1 otherwise)")
      ("threshold,t", po::value(&threshold)->default_value(0.0f), "hide labels scoring below this probability, in [0, 1]")
      ("allow", po::value(&allow), "comma-separated labels to consider (others are ignored)")
      ("deny", po::value(&deny), "comma-separated labels never to report")
      ("batch-size,b", po::value(&batch)->default_value(16), "images per model call, >= 1")
      ("threads", po::value(&threads)->default_value(0), "inference threads (0: all cores)")
      ("no-optimize", "run the model exactly as stored: no graph optimisation at load (see sense-info's \"graph\" row)")
      ("device", po::value(&device)->default_value("cpu"), "cpu, cuda or cuda:N")
      ("max-megapixels", po::value(&max_mp)->default_value(100.0), "refuse images larger than this, before decoding; in (0, 1000000]")
      ("explain", po::value(&explain_dir), "write a heat-map overlay PNG per image (for its top label) into this folder")
      ("explain-method", po::value(&explain_method)->default_value("auto"), "auto (Grad-CAM when the bundle supports it), gradcam or occlusion")
      ("reject-ood", "treat images the bundle's out-of-domain detector flags as errors (exit 1); others are unaffected")
      ("json", "print JSON Lines: one object per input, in input order");
    po::variables_map vm;
    int rc = 0;
    if (!sense::app::ParseCommandLine(argc, argv, app,
                                      "sense-classify [options] IMAGE|FOLDER|GLOB...\n\n"
                                      "Classifies images with a sense bundle (default: the bundled Fashion-MNIST model).\n"
                                      "Prints one line per input, in input order: 'IMAGE: label (score), ...', or\n"
                                      "'IMAGE: error CODE: message' for an input that failed (the message also goes to\n"
                                      "stderr); the exit status is then 1. With a bundle that carries an out-of-domain\n"
                                      "detector, an image unlike the model's training data is marked 'not like the images\n"
                                      "this model knows' (JSON: \"out_of_domain\": {\"score\", \"flag\"}); --reject-ood makes it an error.\n"
                                      "Example: sense-classify --top-k 3 photos/ --explain heatmaps/",
                                      opts, "input", &vm, &rc))
      return rc;
    if (!sense::app::CheckThreadsOption(app, &threads, &rc)) return rc;
    const bool as_json = vm.count("json") > 0;
    const bool reject_ood = vm.count("reject-ood") > 0;

    sense::vision::ImageClassifierOptions options;
    sense::vision::DecodeOptions decode;
    sense::vision::ExplainOptions explain;
    // Flag values that can never work: one usage error (exit 2, from Guarded)
    // naming the flag, before any input is read.
    if (top_k == 0 || top_k < -1) throw UsageError("--top-k must be -1 (all) or >= 1, found " + std::to_string(top_k));
    if (!(threshold >= 0.0f && threshold <= 1.0f))
      throw UsageError("--threshold must be in [0, 1], found " + Num(threshold));
    if (batch < 1) throw UsageError("--batch-size must be >= 1, found " + std::to_string(batch));
    decode.max_pixels = sense::app::MaxPixelsOption(max_mp);
    try {
      explain.method = sense::vision::ParseExplainMethod(explain_method);
    } catch (const sense::Error& e) {
      throw UsageError(std::string("--explain-method: ") + e.what());
    }
    CheckLabelFlags(model_path, SplitCommas(allow), SplitCommas(deny));
    options.model.path = model_path;
    options.model.device = device;
    options.model.num_threads = threads;
    options.model.optimize = vm.count("no-optimize") == 0;
    options.classifier.max_results = top_k;
    options.classifier.score_threshold = threshold;
    options.classifier.allow_labels = SplitCommas(allow);
    options.classifier.deny_labels = SplitCommas(deny);
    options.max_batch_size = batch;
    options.reduced_jpeg_decode = explain_dir.empty();  // overlays are drawn on the full-size photo
    auto classifier = sense::vision::ImageClassifier::Create(options);
    if (!explain_dir.empty()) fs::create_directories(explain_dir);

    const auto items = sense::app::GatherPaths(inputs, sense::vision::ImageExtensions());
    if (items.empty()) {
      std::cerr << app << ": no input images\nTry '" << app << " --help'.\n";
      return 2;
    }
    sense::app::Progress progress(items.size(), "classifying");
    int failed = 0;
    auto print_error = [&](const std::string& src, const std::string& code, const std::string& message) {
      ++failed;
      if (as_json) {
        json j = sense::app::ErrorJson(code, message);
        j["input"] = src;
        sense::app::PrintJsonLine(j);
      } else {
        // One stdout line per input: the error takes the result's place (as
        // sense-sentiment does), and the message also goes to stderr.
        const std::string brief = message.rfind(src + ": ", 0) == 0 ? message.substr(src.size() + 2) : message;
        std::cout << sense::app::EscapeControl(src) << ": error " << code << ": " << sense::app::EscapeControl(brief) << "\n";
        std::cout.flush();  // keeps stdout and stderr lines in input order on a terminal
        sense::app::PrintError(app, message.rfind(src, 0) == 0 ? "" : src, message);
      }
      progress.Tick();
    };
    // Inputs that failed while gathering (no such file, a glob without a
    // match) keep their place: they are printed when the runner reaches them.
    std::vector<std::string> paths;
    std::vector<size_t> item_of;  // paths[k] is items[item_of[k]]
    for (size_t i = 0; i < items.size(); ++i)
      if (items[i].error.empty()) {
        paths.push_back(items[i].text);
        item_of.push_back(i);
      }
    size_t printed = 0;
    auto print_gather_errors_before = [&](size_t item) {
      for (; printed < item; ++printed) print_error(items[printed].source, "file", items[printed].error);
    };
    classifier->ClassifyFiles(paths, decode, [&](size_t k, const cv::Mat& image, sense::Outcome<sense::Classifications> o) {
      const size_t i = item_of[k];
      print_gather_errors_before(i);
      printed = i + 1;
      const std::string& src = items[i].source;
      if (!o.ok()) {
        print_error(src, sense::ErrorCodeName(o.error().code()), o.error().what());
        return;
      }
      if (reject_ood && sense::app::Flagged(o.value())) {
        print_error(src, "out_of_domain", src + ": " + sense::app::OodMessage(classifier->metadata(), *o.value().out_of_domain, "images"));
        return;
      }
      // An explanation that fails keeps the classification and adds its own error.
      std::string explain_file;
      std::optional<sense::Error> explain_error;
      if (!explain_dir.empty()) {
        try {
          const auto sal = classifier->Explain(image, -1, explain);
          explain_file = ExplainPath(explain_dir, src, sal.category.label);
          if (!cv::imwrite(explain_file, sense::vision::RenderSaliencyOverlay(image, sal)))
            throw sense::Error(sense::ErrorCode::kFile, "cannot write " + explain_file);
        } catch (...) {
          explain_error = sense::CurrentExceptionAsError(sense::ErrorCode::kInternal, "explanation");
          explain_file.clear();
        }
      }
      if (explain_error) ++failed;
      if (as_json) {
        json j = {{"input", src}, {"categories", CategoriesJson(o.value())}};
        sense::app::AddOodJson(j, o.value());
        if (!explain_file.empty()) j["explanation"] = explain_file;
        if (explain_error)
          j["explanation_error"] = sense::app::ErrorJson(sense::ErrorCodeName(explain_error->code()), explain_error->what())["error"];
        sense::app::PrintJsonLine(j);
      } else {
        std::cout << ResultLine(src, o.value(), explain_file, classifier->metadata()) << "\n";
        if (explain_error) {
          std::cout.flush();
          sense::app::PrintError(app, src, std::string("explanation failed: ") + explain_error->what());
        }
      }
      progress.Tick();
    });
    print_gather_errors_before(items.size());
    std::cout.flush();
    progress.Finish();
    return failed ? 1 : 0;
  });
}
