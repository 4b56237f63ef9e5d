// sense-entities: the people, organisations, places and other names in each
// line of text, as inline markup, JSON Lines with offsets, or CoNLL columns.
#include <algorithm>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "common/app.h"
#include "sense/text/entity_recognizer.h"

namespace {

using json = nlohmann::json;

std::vector<std::string> SplitTypes(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s + ",") {
    if (c == ',') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else if (c != ' ') {
      cur += c;
    }
  }
  return out;
}

// "[Angela Merkel](PER) visited [Paris](LOC)": the text with each entity marked.
std::string Markup(const std::string& text, const sense::text::EntityResult& r) {
  std::string out;
  size_t at = 0;
  for (const auto& e : r.entities) {
    out += sense::app::EscapeControl(text.substr(at, e.begin - at));
    out += "[" + sense::app::EscapeControl(e.text) + "](" + e.type + ")";
    at = e.end;
  }
  out += sense::app::EscapeControl(text.substr(at));
  return out;
}

// "{Angela Merkel (PER): Merkel +1.00, Angela +0.62, met +0.10; ...}": the three words with the largest weights.
std::string ExplanationText(const std::vector<sense::text::EntityExplanation>& ex) {
  std::ostringstream o;
  o << "{";
  for (size_t k = 0; k < ex.size(); ++k) {
    auto words = ex[k].words;
    std::stable_sort(words.begin(), words.end(), [](const auto& a, const auto& b) { return std::fabs(a.weight) > std::fabs(b.weight); });
    o << (k ? "; " : "") << sense::app::EscapeControl(ex[k].entity.text) << " (" << ex[k].entity.type << "):";
    for (size_t i = 0; i < words.size() && i < 3; ++i)
      o << (i ? ", " : " ") << sense::app::EscapeControl(words[i].word) << " " << std::showpos << std::fixed
        << std::setprecision(2) << words[i].weight << std::noshowpos;
  }
  o << "}";
  return o.str();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string app = "sense-entities";
  return sense::app::Guarded(app, [&]() -> int {
    namespace po = sense::app::po;
    std::vector<std::string> texts, files;
    std::string model_path, device, types, decoding;
    int batch = 0, threads = 0;
    float threshold = 0;
    po::options_description opts("Options");
    opts.add_options()
      ("text", po::value(&texts), "texts to tag; with none (or '-'), lines are read from stdin")
      ("file,f", po::value(&files), "read texts from this file, one per line (repeatable)")
      ("model,m", po::value(&model_path)->default_value(sense::app::DefaultModelPath("ner-conll2003.pt")), "token classification bundle")
      ("types,t", po::value(&types), "keep only these entity types, comma-separated, e.g. PER,ORG")
      ("threshold", po::value(&threshold)->default_value(0.0f), "drop entities scoring below this, in [0, 1]")
      ("decoding", po::value(&decoding)->default_value("auto"), "auto (Viterbi when the bundle has CRF scores), viterbi or greedy")
      ("explain", "for each entity, the words that made the model call it so (occlusion; weights in JSON)")
      ("conll", "print CoNLL columns instead: word<TAB>tag<TAB>score per line, a blank line after each text")
      ("batch-size,b", po::value(&batch)->default_value(32), "model rows per call (>= 1)")
      ("threads", po::value(&threads)->default_value(0), "inference threads (0: all cores)")
      ("no-optimize", "run the model exactly as stored: no graph optimisation at load (see sense-info's \"graph\" row)")
      ("device", po::value(&device)->default_value("cpu"), "cpu, cuda or cuda:N")
      ("replace-invalid-utf8", "read invalid UTF-8 as U+FFFD instead of reporting the line")
      ("json", "print JSON Lines: one object per text, in input order; begin/end count Unicode code points, "
               "byte_begin/byte_end UTF-8 bytes");
    std::vector<sense::app::po::option> ordered;
    po::variables_map vm;
    int rc = 0;
    if (!sense::app::ParseCommandLine(argc, argv, app,
                                      "sense-entities [options] [TEXT...]\n\n"
                                      "Finds the named entities of each text (with the bundled CoNLL-2003 model: PER, ORG,\n"
                                      "LOC, MISC). Texts and -f files are read in command-line order; one output line (or\n"
                                      "CoNLL block) per input line, in order. Default output marks the entities inline:\n"
                                      "  [Angela Merkel](PER) met [Emmanuel Macron](PER) in [Paris](LOC) on Tuesday.\n"
                                      "--json gives offsets: begin/end in Unicode code points (Python string indices),\n"
                                      "byte_begin/byte_end in UTF-8 bytes. A line that fails gets \"error <code>: <message>\"\n"
                                      "in its place (and the message on stderr), and the exit status is 1.\n"
                                      "Example: echo \"Angela Merkel met Emmanuel Macron in Paris on Tuesday.\" | sense-entities",
                                      opts, "text", &vm, &rc, &ordered))
      return rc;
    if (!sense::app::CheckThreadsOption(app, &threads, &rc)) return rc;
    const bool as_json = vm.count("json") > 0, conll = vm.count("conll") > 0, explain = vm.count("explain") > 0;
    using sense::app::UsageError;
    if (as_json && conll) throw UsageError("--json and --conll exclude each other");
    if (explain && conll) throw UsageError("--explain and --conll exclude each other");
    if (batch < 1) throw UsageError("--batch-size must be >= 1; found " + std::to_string(batch));
    if (!(threshold >= 0 && threshold <= 1)) throw UsageError("--threshold must be in [0, 1]; found " + std::to_string(threshold));
    sense::text::EntityRecognizerOptions options;
    try {
      options.decoding = sense::text::ParseEntityDecoding(decoding);
      sense::Device::Parse(device);
    } catch (const sense::Error& e) {
      throw UsageError((e.code() == sense::ErrorCode::kDevice ? "--device: " : "--decoding: ") + std::string(e.what()));
    }
    if (vm.count("types") && SplitTypes(types).empty()) throw UsageError("--types names no type; e.g. --types PER,ORG");
    options.model.path = model_path;
    options.model.device = device;
    options.model.num_threads = threads;
    options.model.optimize = vm.count("no-optimize") == 0;
    options.max_batch_size = batch;
    options.types = SplitTypes(types);
    options.score_threshold = threshold;
    if (vm.count("replace-invalid-utf8")) options.invalid_utf8 = sense::text::InvalidUtf8::kReplace;
    std::unique_ptr<sense::text::EntityRecognizer> recognizer;
    try {
      recognizer = sense::text::EntityRecognizer::Create(options);
    } catch (const sense::Error& e) {
      // A type or decoding the model cannot give is a usage error, found once the bundle is read.
      if (e.code() == sense::ErrorCode::kOption) throw UsageError(e.what());
      throw;
    }

    const auto items = sense::app::GatherTexts(sense::app::OrderedTextArgs(ordered, "text", "file"));
    sense::app::Progress progress(items.size(), "tagging", 200);
    int failed = 0;
    sense::app::ForEachTextResult<sense::text::EntityResult>(
        items, static_cast<size_t>(batch) * 8,
        [&](const std::vector<std::string>& texts) { return recognizer->RecognizeBatch(texts); },
        [&](const sense::app::InputItem& item, const sense::Outcome<sense::text::EntityResult>& outcome, std::string error, std::string code) {
        // An explanation that fails keeps the entities and adds its error.
        std::vector<sense::text::EntityExplanation> ex;
        std::string explain_error, explain_code;
        if (error.empty() && explain && !outcome.value().entities.empty()) {
          try {
            ex = recognizer->Explain(item.text);
          } catch (const sense::Error& err) {
            explain_error = err.what();
            explain_code = sense::ErrorCodeName(err.code());
          }
        }
        if (!explain_error.empty()) {
          ++failed;
          sense::app::PrintError(app, item.source, "explanation failed: " + explain_error);
        }
        progress.Tick();
        if (!error.empty()) {
          ++failed;
          sense::app::PrintError(app, item.source, error);
          if (as_json) {
            json j = sense::app::ErrorJson(code, error);
            j["source"] = item.source;
            sense::app::PrintJsonLine(j);
          } else if (conll) {
            std::cout << "# error " << code << ": " << sense::app::EscapeControl(error) << "\n\n";
          } else {
            std::cout << "error " << code << ": " << sense::app::EscapeControl(error) << "\n";
          }
          return;
        }
        const auto& r = outcome.value();
        if (as_json) {
          json ents = json::array();
          for (size_t k = 0; k < r.entities.size(); ++k) {
            const auto& en = r.entities[k];
            json je = {{"text", en.text}, {"type", en.type}, {"score", std::round(static_cast<double>(en.score) * 1e4) / 1e4},
                       {"begin", en.char_begin}, {"end", en.char_end}, {"byte_begin", en.begin}, {"byte_end", en.end}};
            if (k < ex.size()) {
              json words = json::array();
              for (const auto& w : ex[k].words)
                words.push_back({{"word", w.word}, {"byte_begin", w.begin}, {"byte_end", w.end},
                                 {"weight", std::round(static_cast<double>(w.weight) * 1e3) / 1e3}});
              je["explanation"] = {{"method", ex[k].method}, {"words", words}};
            }
            ents.push_back(je);
          }
          json j = {{"source", item.source}, {"text", item.text}, {"entities", ents}, {"words", r.words.size()}};
          if (r.truncated) j["truncated"] = true;
          if (r.windows > 1) j["windows"] = r.windows;
          if (!explain_error.empty()) j["explanation_error"] = {{"code", explain_code}, {"message", explain_error}};
          sense::app::PrintJsonLine(j);
        } else if (conll) {
          std::ostringstream o;
          for (const auto& w : r.words) {
            o << sense::app::EscapeControl(w.text) << "\t" << (w.tag.empty() ? "-" : w.tag) << "\t" << std::fixed
              << std::setprecision(3) << w.score << "\n";
          }
          std::cout << o.str() << "\n";
        } else {
          std::cout << Markup(item.text, r) << (r.truncated ? "  (truncated)" : "");
          if (!ex.empty()) std::cout << "  " << ExplanationText(ex);
          if (!explain_error.empty()) std::cout << "  (explanation failed: " << sense::app::EscapeControl(explain_error) << ")";
          std::cout << "\n";
        }
        });
    progress.Finish();
    return failed ? 1 : 0;
  });
}
