// sense-eval --ood: how well a bundle's out-of-domain detector separates its
// in-domain data from inputs it was never meant for, and what rejecting does
// to accuracy. Reached through the hook at the top of sense_eval.cc.
#include "eval_ood.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "common/app.h"
#include "sense/inference/evaluation.h"
#include "sense/text/text_classifier.h"
#include "sense/vision/idx.h"
#include "sense/vision/image_classifier.h"
#include "sense/vision/image_io.h"

namespace sense::eval {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using app::UsageError;

// One scored input: its out-of-domain score and flag, and for labelled
// in-domain inputs whether the classifier's top label was right.
struct Scored {
  float score = 0;
  bool flag = false;
  bool correct = false;
};

// Everything one set gave: scores of the inputs that ran, and how many failed.
struct SetResult {
  std::string name;
  std::vector<Scored> items;
  int failed = 0;
};

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Normalise(const std::string& s) {
  std::string out;
  for (char c : s) out += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c)) : ' ';
  return out;
}

int LabelIndex(const std::string& label, const std::vector<std::string>& labels) {
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] == label || Normalise(labels[i]) == Normalise(label)) return static_cast<int>(i);
  if (!label.empty() && label.size() < 6 && std::all_of(label.begin(), label.end(), ::isdigit) &&
      std::stoi(label) < static_cast<int>(labels.size()))
    return std::stoi(label);
  return -1;
}

// Text lines of a file: a .tsv keeps the text before its last tab (and its
// label when it names a class); other files are one text per line. A first
// TSV line whose label is not a class is a header.
struct TextRow {
  std::string text;
  int truth = -1;
};
std::vector<TextRow> ReadTexts(const std::string& path, const std::vector<std::string>& labels, bool need_labels) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kFile, path + ": cannot be opened");
  const bool tsv = Lower(fs::path(path).extension().string()) == ".tsv";
  std::vector<TextRow> rows;
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    TextRow r{line, -1};
    const auto tab = line.rfind('\t');
    if (tsv && tab != std::string::npos) {
      r.text = line.substr(0, tab);
      r.truth = LabelIndex(line.substr(tab + 1), labels);
      if (r.truth < 0 && n == 1) continue;  // header
    }
    if (need_labels && r.truth < 0)
      throw Error(ErrorCode::kInput, path + ":" + std::to_string(n) + ": the in-domain set needs text<TAB>label lines");
    rows.push_back(std::move(r));
  }
  if (rows.empty()) throw Error(ErrorCode::kInput, path + ": no texts");
  return rows;
}

void Add(SetResult& set, const Outcome<Classifications>& o, int truth, const std::string& where, const std::string& app) {
  if (!o.ok()) {
    ++set.failed;
    app::PrintError(app, where, o.error().what());
    return;
  }
  const Classifications& c = o.value();
  if (!c.out_of_domain) throw Error(ErrorCode::kInternal, "a result without an out-of-domain score");
  Scored s{c.out_of_domain->score, c.out_of_domain->flag, false};
  s.correct = truth >= 0 && !c.categories.empty() && c.categories.front().index == truth;
  set.items.push_back(s);
}

std::string Pct(double v) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(2) << v * 100 << " %";
  return o.str();
}

}  // namespace

bool WantsOod(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--ood") return true;
  return false;
}

int OodMain(int argc, char** argv) {
  const std::string app = "sense-eval";
  return app::Guarded(app, [&]() -> int {
    namespace po = app::po;
    std::vector<std::string> sets;
    std::string model_path, device, labels_path;
    int batch = 0, threads = 0, limit = 0;
    double max_mp = 0;
    po::options_description opts("Options");
    opts.add_options()
      ("ood", "out-of-domain evaluation (this mode)")
      ("sets", po::value(&sets), "IN then one or more OUT sets")
      ("model,m", po::value(&model_path)->default_value(app::DefaultModelPath("fashion-mnist.pt")), "classification bundle with an out-of-domain detector")
      ("labels", po::value(&labels_path), "IN as IDX: its label file (default: the image file name with labels-idx1)")
      ("limit", po::value(&limit)->default_value(0), "use only the first N inputs of each set (0: all)")
      ("batch-size,b", po::value(&batch)->default_value(64), "inputs per model call, >= 1")
      ("max-megapixels", po::value(&max_mp)->default_value(100.0), "refuse images larger than this, before decoding; in (0, 1000000]")
      ("threads", po::value(&threads)->default_value(0), "inference threads (0: all cores)")
      ("device", po::value(&device)->default_value("cpu"), "cpu, cuda or cuda:N")
      ("json", "print the report as one JSON object");
    po::variables_map vm;
    int rc = 0;
    if (!app::ParseCommandLine(argc, argv, app,
                               "sense-eval --ood [options] IN OUT [OUT...]\n\n"
                               "Evaluates a bundle's out-of-domain detector (metadata \"ood\", fitted by scripts/fit_ood.py):\n"
                               "IN is labelled in-domain data (an IDX image file, a folder per class, or a text<TAB>label\n"
                               "TSV); each OUT is data the model was not made for (image files, folders or globs; for text\n"
                               "models a file with one text per line, or a TSV). Reports AUROC, the false-positive rate at\n"
                               "95 % true-positive rate, the rates at the bundle's own threshold, and the classifier's\n"
                               "accuracy on the in-domain inputs the detector accepts against all of them.\n"
                               "Example: sense-eval --ood /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz photos/",
                               opts, "sets", &vm, &rc))
      return rc;
    if (!app::CheckThreadsOption(app, &threads, &rc)) return rc;
    if (sets.size() < 2) throw UsageError("--ood needs IN and at least one OUT set, found " + std::to_string(sets.size()) + " set(s)");
    if (batch < 1) throw UsageError("--batch-size must be >= 1, found " + std::to_string(batch));
    if (limit < 0) throw UsageError("--limit must be >= 0 (0: all), found " + std::to_string(limit));
    vision::DecodeOptions decode;
    decode.max_pixels = app::MaxPixelsOption(max_mp);
    const ModelMetadata meta = ReadBundleMetadata(model_path);
    if (!meta.ood)
      throw Error(ErrorCode::kMetadata, model_path + ": has no out-of-domain detector (metadata 'ood'); fit one with "
                                                     "scripts/fit_ood.py");
    const bool is_text = meta.task == Task::kTextClassification;
    auto configure = [&](auto options) {
      options.model.path = model_path;
      options.model.device = device;
      options.model.num_threads = threads;
      options.classifier.max_results = 1;
      options.max_batch_size = batch;
      return options;
    };
    auto cap = [&](auto& v) {
      if (limit > 0 && static_cast<size_t>(limit) < v.size()) v.resize(static_cast<size_t>(limit));
    };
    std::vector<SetResult> results;
    if (is_text) {
      auto classifier = text::TextClassifier::Create(configure(text::TextClassifierOptions()));
      for (size_t s = 0; s < sets.size(); ++s) {
        auto rows = ReadTexts(sets[s], meta.labels, s == 0);
        cap(rows);
        std::vector<std::string> texts;
        for (const auto& r : rows) texts.push_back(r.text);
        const auto out = classifier->ClassifyBatch(texts);
        SetResult set{sets[s], {}, 0};
        for (size_t i = 0; i < rows.size(); ++i)
          Add(set, out[i].ok() ? Outcome<Classifications>(out[i].value().classifications) : Outcome<Classifications>(out[i].error()),
              rows[i].truth, sets[s] + ":" + std::to_string(i + 1), app);
        results.push_back(std::move(set));
      }
    } else {
      auto classifier = vision::ImageClassifier::Create(configure(vision::ImageClassifierOptions()));
      for (size_t s = 0; s < sets.size(); ++s) {
        SetResult set{sets[s], {}, 0};
        auto sink_for = [&](const std::vector<int>& truth) {
          return [&, truth](size_t k, const cv::Mat&, Outcome<Classifications> o) { Add(set, o, truth[k], "", app); };
        };
        const bool idx = !fs::is_directory(sets[s]) && sets[s].find("idx3") != std::string::npos;
        if (s == 0 && idx) {
          std::string lp = labels_path;
          if (lp.empty()) {
            lp = sets[s];
            lp.replace(lp.find("images-idx3"), 11, "labels-idx1");
          }
          auto images = vision::ReadIdxImages(sets[s]);
          auto truth = vision::ReadIdxLabels(lp);
          if (images.size() != truth.size())
            throw Error(ErrorCode::kInput, sets[s] + " has " + std::to_string(images.size()) + " images but " + lp + " has " +
                                               std::to_string(truth.size()) + " labels");
          cap(images);
          truth.resize(images.size());
          classifier->ClassifyBatch(images, sink_for(truth));
        } else if (idx) {
          auto images = vision::ReadIdxImages(sets[s]);
          cap(images);
          classifier->ClassifyBatch(images, sink_for(std::vector<int>(images.size(), -1)));
        } else {
          // In-domain folders: one subfolder per class; out-of-domain: any files, folders, globs.
          std::vector<std::string> paths;
          std::vector<int> truth;
          if (s == 0) {
            if (!fs::is_directory(sets[s]))
              throw Error(ErrorCode::kInput, sets[s] + ": the in-domain set must be an IDX image file or a folder per class");
            std::vector<fs::path> dirs;
            for (const auto& e : fs::directory_iterator(sets[s]))
              if (e.is_directory()) dirs.push_back(e.path());
            std::sort(dirs.begin(), dirs.end());
            for (const auto& d : dirs) {
              const int t = LabelIndex(d.filename().string(), meta.labels);
              if (t < 0) throw Error(ErrorCode::kInput, d.string() + ": folder name matches no model label");
              for (const auto& item : app::GatherPaths({d.string()}, vision::ImageExtensions()))
                if (item.error.empty()) {
                  paths.push_back(item.text);
                  truth.push_back(t);
                }
            }
          } else {
            for (const auto& item : app::GatherPaths({sets[s]}, vision::ImageExtensions())) {
              if (!item.error.empty()) {
                ++set.failed;
                app::PrintError(app, item.source, item.error);
                continue;
              }
              paths.push_back(item.text);
              truth.push_back(-1);
            }
          }
          cap(paths);
          truth.resize(paths.size());
          classifier->ClassifyFiles(paths, decode, sink_for(truth));
        }
        results.push_back(std::move(set));
      }
    }

    // Report.
    const SetResult& in = results.front();
    if (in.items.empty()) throw Error(ErrorCode::kInput, in.name + ": no in-domain input could be scored");
    std::vector<float> in_scores;
    int correct = 0, accepted = 0, accepted_correct = 0;
    for (const auto& x : in.items) {
      in_scores.push_back(x.score);
      correct += x.correct;
      accepted += !x.flag;
      accepted_correct += !x.flag && x.correct;
    }
    const double acc_all = static_cast<double>(correct) / static_cast<double>(in.items.size());
    const double acc_accepted = accepted ? static_cast<double>(accepted_correct) / accepted : 0.0;
    std::vector<float> all_out;
    std::vector<std::pair<std::string, OodReport>> reports;
    int failed = in.failed;
    for (size_t s = 1; s < results.size(); ++s) {
      failed += results[s].failed;
      std::vector<float> v;
      for (const auto& x : results[s].items) v.push_back(x.score);
      if (v.empty()) {
        app::PrintError(app, results[s].name, "no input of this set could be scored");
        continue;
      }
      all_out.insert(all_out.end(), v.begin(), v.end());
      reports.emplace_back(results[s].name, EvaluateOod(in_scores, v, meta.ood->threshold));
    }
    if (all_out.empty()) throw Error(ErrorCode::kInput, "no out-of-domain input could be scored");
    const OodReport all = EvaluateOod(in_scores, all_out, meta.ood->threshold);
    std::string signals;
    for (const auto& g : meta.ood->signals) signals += std::string(signals.empty() ? "" : " + ") + OodSignalName(g.kind);
    if (vm.count("json")) {
      auto rj = [](const OodReport& r) {
        return json{{"in_domain", r.in_domain}, {"out_of_domain", r.out_of_domain}, {"auroc", r.auroc},
                    {"fpr_at_95_tpr", r.fpr_at_95_tpr}, {"threshold_at_95_tpr", r.threshold_at_95},
                    {"tpr_at_threshold", r.tpr}, {"fpr_at_threshold", r.fpr}};
      };
      json per = json::array();
      for (const auto& [name, r] : reports) {
        json j = rj(r);
        j["set"] = name;
        per.push_back(j);
      }
      app::PrintJsonLine({{"model", model_path}, {"signals", signals}, {"threshold", meta.ood->threshold},
                          {"in_domain_set", in.name}, {"all_out_of_domain", rj(all)}, {"sets", per},
                          {"accuracy_all", acc_all}, {"accuracy_accepted", acc_accepted}, {"accepted", accepted},
                          {"failed", failed}});
    } else {
      std::cout << "model      " << model_path << "\n"
                << "detector   " << signals << ", threshold " << meta.ood->threshold << " (chosen at "
                << meta.ood->tpr * 100 << " % TPR on " << meta.ood->threshold_on << ")\n"
                << "in-domain  " << in.name << " (" << in.items.size() << " inputs"
                << (in.failed ? ", " + std::to_string(in.failed) + " failed" : "") << ")\n\n";
      std::cout << std::left << std::setw(48) << "out-of-domain set" << std::right << std::setw(7) << "n" << std::setw(9)
                << "AUROC" << std::setw(13) << "FPR@95%TPR" << std::setw(22) << "accepted (threshold)" << "\n";
      auto row = [](const std::string& name, const OodReport& r) {
        std::string shown = name.size() > 47 ? "..." + name.substr(name.size() - 44) : name;
        std::cout << std::left << std::setw(48) << shown << std::right << std::setw(7) << r.out_of_domain << std::fixed
                  << std::setprecision(4) << std::setw(9) << r.auroc << std::setw(13) << Pct(r.fpr_at_95_tpr)
                  << std::setw(22) << Pct(r.fpr) << "\n";
      };
      for (const auto& [name, r] : reports) row(name, r);
      if (reports.size() > 1) row("all out-of-domain sets", all);
      std::cout << "\nin-domain accepted at the threshold (TPR): " << Pct(all.tpr) << " (" << accepted << " of "
                << in.items.size() << ")\n"
                << "accuracy on all in-domain inputs:          " << Pct(acc_all) << "\n"
                << "accuracy on the accepted ones (selective): " << Pct(acc_accepted) << "\n";
    }
    return failed ? 1 : 0;
  });
}

}  // namespace sense::eval
