// sense-sentiment: label and score per line of text, with the words that
// drove it.
#include <unistd.h>

#include <cmath>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "common/app.h"
#include "common/ood_output.h"
#include "sense/text/text_classifier.h"

namespace {

using json = nlohmann::json;

struct NeutralBand {
  bool on = false;
  float low = 0, high = 0;
};

NeutralBand ParseBand(const std::string& s) {
  NeutralBand b;
  if (s.empty()) return b;
  const auto colon = s.find(':');
  try {
    if (colon == std::string::npos) throw std::invalid_argument(s);
    size_t used_low = 0, used_high = 0;
    b.low = std::stof(s.substr(0, colon), &used_low);
    b.high = std::stof(s.substr(colon + 1), &used_high);
    if (used_low != colon || used_high != s.size() - colon - 1) throw std::invalid_argument(s);
  } catch (const std::exception&) {
    throw sense::app::UsageError("--neutral expects LOW:HIGH, e.g. 0.4:0.6; found \"" + s + "\"");
  }
  if (!(0 <= b.low && b.low < b.high && b.high <= 1))
    throw sense::app::UsageError("--neutral LOW:HIGH needs 0 <= LOW < HIGH <= 1; found \"" + s + "\"");
  b.on = true;
  return b;
}

// Terminal colours for an explanation: green pushes towards the label, red away.
std::string Colour(const sense::text::WordAttribution& w, bool tty) {
  const std::string word = sense::app::EscapeControl(w.word);
  if (!tty) {
    std::ostringstream o;
    o << word << "(" << std::showpos << std::fixed << std::setprecision(2) << w.weight << ")";
    return o.str();
  }
  const float a = std::fabs(w.weight);
  if (a < 0.15f) return word;
  const int code = w.weight > 0 ? (a > 0.5f ? 42 : 32) : (a > 0.5f ? 41 : 31);
  return "\033[" + std::to_string(code) + "m" + word + "\033[0m";
}

}  // namespace

int main(int argc, char** argv) {
  const std::string app = "sense-sentiment";
  return sense::app::Guarded(app, [&]() -> int {
    namespace po = sense::app::po;
    std::vector<std::string> texts, files;
    std::string model_path, device, neutral, explain_method;
    int batch = 0, threads = 0;
    po::options_description opts("Options");
    opts.add_options()
      ("text", po::value(&texts), "texts to classify; with none (or '-'), lines are read from stdin")
      ("file,f", po::value(&files), "read texts from this file, one per line (repeatable)")
      ("model,m", po::value(&model_path)->default_value(sense::app::DefaultModelPath("sentiment-sst2.pt")), "text classification bundle")
      ("neutral", po::value(&neutral), "binary models: call a text neutral when P(positive) is in LOW:HIGH, e.g. 0.4:0.6")
      ("explain", "show the words that drove each label (coloured in a terminal; weights in JSON)")
      ("explain-method", po::value(&explain_method)->default_value("auto"), "auto, integrated_gradients or occlusion")
      ("batch-size,b", po::value(&batch)->default_value(32), "texts per model call (>= 1)")
      ("threads", po::value(&threads)->default_value(0), "inference threads (0: all cores)")
      ("no-optimize", "run the model exactly as stored: no graph optimisation at load (see sense-info's \"graph\" row)")
      ("device", po::value(&device)->default_value("cpu"), "cpu, cuda or cuda:N")
      ("replace-invalid-utf8", "read invalid UTF-8 as U+FFFD instead of reporting the line")
      ("reject-ood", "treat texts the bundle's out-of-domain detector flags as errors (exit 1); others are unaffected")
      ("json", "print JSON Lines: one object per text, in input order");
    std::vector<sense::app::po::option> ordered;
    po::variables_map vm;
    int rc = 0;
    if (!sense::app::ParseCommandLine(argc, argv, app,
                                      "sense-sentiment [options] [TEXT...]\n\n"
                                      "Labels each text positive or negative (with the bundled SST-2 model) and a score.\n"
                                      "Texts and -f files are read in command-line order. Output: one line per input\n"
                                      "line, in order; a line that fails gets \"error    <code>: <message>\" in its place\n"
                                      "(and the message on stderr), and the exit status is 1. Control characters of\n"
                                      "the input are printed escaped (\\x1b). With a bundle that carries an out-of-domain\n"
                                      "detector, a text unlike the model's training data is marked 'not like the texts\n"
                                      "this model knows' (JSON: \"out_of_domain\": {\"score\", \"flag\"}); --reject-ood makes it an error.\n"
                                      "Example: echo \"A gorgeous, witty, seductive movie.\" | sense-sentiment --explain",
                                      opts, "text", &vm, &rc, &ordered))
      return rc;
    if (!sense::app::CheckThreadsOption(app, &threads, &rc)) return rc;
    const bool as_json = vm.count("json") > 0, explain = vm.count("explain") > 0;
    const bool reject_ood = vm.count("reject-ood") > 0;
    // Options are checked here, once, as usage errors (exit 2) naming the flag.
    const NeutralBand band = ParseBand(neutral);
    if (batch < 1) throw sense::app::UsageError("--batch-size must be >= 1; found " + std::to_string(batch));
    sense::text::TextExplainOptions explain_options;
    try {
      explain_options.method = sense::text::ParseTextExplainMethod(explain_method);
      sense::Device::Parse(device);
    } catch (const sense::Error& e) {
      throw sense::app::UsageError((e.code() == sense::ErrorCode::kDevice ? "--device: " : "--explain-method: ") +
                                   std::string(e.what()));
    }

    sense::text::TextClassifierOptions options;
    options.model.path = model_path;
    options.model.device = device;
    options.model.num_threads = threads;
    options.model.optimize = vm.count("no-optimize") == 0;
    options.classifier.max_results = -1;
    options.max_batch_size = batch;
    if (vm.count("replace-invalid-utf8")) options.invalid_utf8 = sense::text::InvalidUtf8::kReplace;
    auto classifier = sense::text::TextClassifier::Create(options);
    const auto& labels = classifier->metadata().labels;
    if (band.on && labels.size() != 2)
      throw sense::app::UsageError("--neutral needs a binary model; " + model_path + " has " +
                                   std::to_string(labels.size()) + " labels");
    const int positive = labels.size() == 2 ? 1 : -1;

    const auto items = sense::app::GatherTexts(sense::app::OrderedTextArgs(ordered, "text", "file"));
    const bool tty = isatty(STDOUT_FILENO);
    sense::app::Progress progress(items.size(), "classifying", 200);
    int failed = 0;
    sense::app::ForEachTextResult<sense::text::TextClassification>(
        items, static_cast<size_t>(std::max(1, batch)) * 8,
        [&](const std::vector<std::string>& texts) { return classifier->ClassifyBatch(texts); },
        [&](const sense::app::InputItem& item, const sense::Outcome<sense::text::TextClassification>& outcome, std::string error, std::string code) {
        if (error.empty() && reject_ood && sense::app::Flagged(outcome.value().classifications)) {
          error = item.source + ": " +
                  sense::app::OodMessage(classifier->metadata(), *outcome.value().classifications.out_of_domain, "texts");
          code = "out_of_domain";
        }
        // An explanation that fails keeps the classification and adds its error.
        sense::text::TextExplanation ex;
        std::string explain_error, explain_code;
        if (error.empty() && explain) {
          try {
            ex = classifier->Explain(item.text, -1, explain_options);
          } catch (const sense::Error& err) {
            explain_error = err.what();
            explain_code = sense::ErrorCodeName(err.code());
          }
        }
        progress.Tick();
        if (!error.empty()) {
          ++failed;
          sense::app::PrintError(app, item.source, error);
          if (as_json) {
            json j = sense::app::ErrorJson(code, error);
            j["source"] = item.source;
            sense::app::PrintJsonLine(j);
          } else {
            std::cout << "error    " << code << ": " << sense::app::EscapeControl(error) << "\n";
          }
          return;
        }
        if (!explain_error.empty()) {
          ++failed;
          sense::app::PrintError(app, item.source, "explanation failed: " + explain_error);
        }
        const auto& r = outcome.value();
        const auto& top = r.classifications.categories.front();
        std::string label = top.label;
        float score = top.score;
        float p_pos = -1;
        if (positive >= 0)
          for (const auto& c : r.classifications.categories)
            if (c.index == positive) p_pos = c.score;
        if (band.on && p_pos >= band.low && p_pos <= band.high) {
          label = "neutral";
          score = 1.0f - std::fabs(p_pos - 0.5f) * 2.0f;
        }
        if (as_json) {
          json scores = json::object();
          for (const auto& c : r.classifications.categories) scores[c.label] = c.score;
          json j = {{"source", item.source}, {"text", item.text}, {"label", label}, {"score", score}, {"scores", scores},
                    {"tokens", r.num_tokens}};
          if (r.truncated) j["truncated"] = true;
          if (r.windows > 1) j["windows"] = r.windows;
          sense::app::AddOodJson(j, r.classifications);
          if (explain && explain_error.empty()) {
            json words = json::array();
            for (const auto& w : ex.words) words.push_back({{"word", w.word}, {"begin", w.begin}, {"end", w.end}, {"weight", w.weight}});
            j["explanation"] = {{"label", ex.category.label}, {"method", ex.method}, {"words", words}};
          } else if (explain) {
            j["explanation_error"] = {{"code", explain_code}, {"message", explain_error}};
          }
          sense::app::PrintJsonLine(j);
        } else {
          std::ostringstream line;
          line << std::left << std::setw(8) << label << " " << std::fixed << std::setprecision(3) << score;
          if (r.windows > 1) line << " (" << r.windows << " windows)";
          if (r.truncated) line << " (truncated)";
          if (sense::app::Flagged(r.classifications))  // said plainly, before the text
            line << "  [" << sense::app::OodMessage(classifier->metadata(), *r.classifications.out_of_domain, "texts") << "]";
          line << "  ";
          if (explain && explain_error.empty()) {
            for (size_t k = 0; k < ex.words.size(); ++k) line << (k ? " " : "") << Colour(ex.words[k], tty);
          } else {
            line << sense::app::EscapeControl(item.text);
            if (explain) line << "  (explanation failed: " << sense::app::EscapeControl(explain_error) << ")";
          }
          std::cout << line.str() << "\n";
        }
        });
    progress.Finish();
    return failed ? 1 : 0;
  });
}
