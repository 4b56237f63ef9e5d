// sense-eval entities: entity-level precision/recall/F1 on CoNLL-format files,
// exactly as conlleval computes them, plus type and boundary errors.
//
//   sense-eval entities ../shared/data/conll2003/test.txt            # runs the model
//   sense-eval entities --predicted tagged.conll                      # last two columns: gold, predicted
//
// With a model, each sentence's words are joined by single spaces, tagged by
// EntityRecognizer (sense's own pre-tokenizer words, so "U.S." is four
// words), and every predicted entity marks the file's tokens it overlaps
// (BIO); the file's gold column may be BIO or IOB1 (both read by conlleval's
// rules).
#include <chrono>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "common/app.h"
#include "sense/text/entity_recognizer.h"
#include "sense/text/tag_scheme.h"

namespace {

using json = nlohmann::json;

struct Sentence {
  std::vector<std::string> words, gold, predicted;
  size_t line = 0;  // first line in the file
};

std::vector<Sentence> ReadConll(const std::string& path, bool with_predicted) {
  std::ifstream in(path);
  if (!in) throw sense::Error(sense::ErrorCode::kFile, path + ": cannot open the CoNLL file");
  std::vector<Sentence> out;
  Sentence cur;
  std::string line;
  size_t n = 0;
  auto flush = [&] {
    if (!cur.words.empty()) out.push_back(std::move(cur));
    cur = Sentence();
  };
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::istringstream cols(line);
    std::vector<std::string> c;
    for (std::string s; cols >> s;) c.push_back(s);
    if (c.empty() || c[0] == "-DOCSTART-") {
      flush();
      continue;
    }
    const size_t need = with_predicted ? 3 : 2;
    if (c.size() < need)
      throw sense::Error(sense::ErrorCode::kInput, path + ":" + std::to_string(n) + ": expected at least " +
                                                       std::to_string(need) + " columns (word ... " +
                                                       (with_predicted ? "gold predicted" : "tag") + "), found " +
                                                       std::to_string(c.size()));
    if (cur.words.empty()) cur.line = n;
    cur.words.push_back(c[0]);
    cur.gold.push_back(c[c.size() - (with_predicted ? 2 : 1)]);
    if (with_predicted) cur.predicted.push_back(c.back());
    try {
      sense::text::ParseTag(cur.gold.back());
      if (with_predicted) sense::text::ParseTag(cur.predicted.back());
    } catch (const sense::Error& e) {
      throw sense::Error(sense::ErrorCode::kInput, path + ":" + std::to_string(n) + ": " + e.what());
    }
  }
  flush();
  return out;
}

json ScoresJson(const sense::text::EntityScores& s) {
  return {{"precision", s.precision}, {"recall", s.recall}, {"f1", s.f1}, {"gold", s.gold}, {"predicted", s.predicted},
          {"correct", s.correct}};
}

}  // namespace

// Called by sense-eval's main for "sense-eval entities ...".
int RunEntityEval(int argc, char** argv) {
  const std::string app = "sense-eval";
  return sense::app::Guarded(app, [&]() -> int {
    namespace po = sense::app::po;
    std::string data, model_path, device, decoding;
    int batch = 0, threads = 0, limit = 0;
    po::options_description opts("Options");
    opts.add_options()
      ("data", po::value(&data), "CoNLL-format file: one token per line, tag in the last column, blank line between sentences")
      ("model,m", po::value(&model_path)->default_value(sense::app::DefaultModelPath("ner-conll2003.pt")), "token classification bundle")
      ("predicted", "score the file's last two columns (gold, predicted) without a model, as conlleval does")
      ("decoding", po::value(&decoding)->default_value("auto"), "auto, viterbi or greedy")
      ("limit", po::value(&limit)->default_value(0), "evaluate only the first N sentences (0: all)")
      ("batch-size,b", po::value(&batch)->default_value(32), "model rows per call, >= 1")
      ("threads", po::value(&threads)->default_value(0), "inference threads (0: all cores)")
      ("device", po::value(&device)->default_value("cpu"), "cpu, cuda or cuda:N")
      ("json", "print the report as one JSON object");
    po::variables_map vm;
    int rc = 0;
    if (!sense::app::ParseCommandLine(argc, argv, "sense-eval entities",
                                      "sense-eval entities [options] FILE\n\n"
                                      "Entity-level precision, recall and F1 per type and overall, exactly as the CoNLL\n"
                                      "script conlleval computes them, and a table of type and boundary errors. Runs the\n"
                                      "model on each sentence (words joined by spaces), or with --predicted scores the\n"
                                      "file's last two columns. Example:\n"
                                      "  sense-eval entities ../shared/data/conll2003/dev.txt",
                                      opts, "data", &vm, &rc))
      return rc;
    if (!sense::app::CheckThreadsOption(app, &threads, &rc)) return rc;
    using sense::app::UsageError;
    if (data.empty()) throw UsageError("no CoNLL file given");
    if (batch < 1) throw UsageError("--batch-size must be >= 1, found " + std::to_string(batch));
    if (limit < 0) throw UsageError("--limit must be >= 0 (0: all), found " + std::to_string(limit));
    const bool given = vm.count("predicted") > 0;
    sense::text::EntityRecognizerOptions options;
    try {
      options.decoding = sense::text::ParseEntityDecoding(decoding);
    } catch (const sense::Error& e) {
      throw UsageError(std::string("--decoding: ") + e.what());
    }
    auto sentences = ReadConll(data, given);
    if (limit > 0 && static_cast<size_t>(limit) < sentences.size()) sentences.resize(static_cast<size_t>(limit));
    if (sentences.empty()) throw sense::Error(sense::ErrorCode::kInput, data + ": no sentences");
    int failed = 0, used_threads = 0;
    double seconds = 0, loading = 0;
    size_t words = 0;
    if (!given) {
      const auto t0 = std::chrono::steady_clock::now();
      options.model.path = model_path;
      options.model.device = device;
      options.model.num_threads = threads;
      options.max_batch_size = batch;
      auto recognizer = sense::text::EntityRecognizer::Create(options);
      used_threads = recognizer->model().num_threads();
      std::vector<std::string> texts;
      std::vector<std::vector<std::pair<size_t, size_t>>> spans;
      for (const auto& s : sentences) {
        std::string text;
        std::vector<std::pair<size_t, size_t>> sp;
        for (const auto& w : s.words) {
          if (!text.empty()) text += " ";
          sp.push_back({text.size(), text.size() + w.size()});
          text += w;
        }
        texts.push_back(std::move(text));
        spans.push_back(std::move(sp));
      }
      const auto t1 = std::chrono::steady_clock::now();
      loading = std::chrono::duration<double>(t1 - t0).count();
      sense::app::Progress progress(texts.size(), "tagging", 200);
      const size_t chunk = static_cast<size_t>(batch) * 8;
      for (size_t b = 0; b < texts.size(); b += chunk) {
        const size_t e = std::min(texts.size(), b + chunk);
        const auto results = recognizer->RecognizeBatch(std::vector<std::string>(texts.begin() + static_cast<long>(b),
                                                                                 texts.begin() + static_cast<long>(e)));
        for (size_t i = b; i < e; ++i) {
          Sentence& s = sentences[i];
          const auto& o = results[i - b];
          std::vector<sense::text::TagSpan> pred;
          if (!o.ok()) {  // counted and reported; its tokens count as tagged O
            ++failed;
            sense::app::PrintError(app, data + ":" + std::to_string(s.line), o.error().what());
          } else {
            words += o.value().words.size();
            for (const auto& en : o.value().entities) {
              int first = -1, end = -1;
              for (size_t t = 0; t < spans[i].size(); ++t)
                if (spans[i][t].first < en.end && en.begin < spans[i][t].second) {
                  if (first < 0) first = static_cast<int>(t);
                  end = static_cast<int>(t) + 1;
                }
              if (first >= 0 && (pred.empty() || pred.back().end <= first)) pred.push_back({en.type, first, end});
            }
          }
          s.predicted = sense::text::SpansToTags(pred, static_cast<int>(s.words.size()), sense::text::TagScheme::kBIO);
          progress.Tick();
        }
      }
      progress.Finish();
      seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    }
    sense::text::EntityEvaluator ev;
    size_t tokens = 0;
    for (const auto& s : sentences) {
      ev.Add(s.gold, s.predicted);
      tokens += s.words.size();
    }
    const sense::text::EntityReport r = ev.Report();
    if (vm.count("json")) {
      json types = json::object();
      for (const auto& t : r.types) types[t.type] = ScoresJson(t);
      json errors = {{"type_confusions", r.errors.type_confusions}, {"boundary", r.errors.boundary},
                     {"boundary_and_type", r.errors.boundary_and_type}, {"missed", r.errors.missed},
                     {"spurious", r.errors.spurious}};
      json j = {{"data", data}, {"sentences", sentences.size()}, {"tokens", r.tokens}, {"failed", failed},
                {"overall", ScoresJson(r.overall)}, {"types", types}, {"errors", errors},
                {"tag_accuracy", r.tokens ? 100.0 * r.correct_tags / r.tokens : 0.0}};
      if (!given) {
        j["model"] = model_path;
        j["seconds"] = seconds;
        j["tokens_per_second"] = seconds > 0 ? tokens / seconds : 0.0;
        j["threads"] = used_threads;
        j["batch_size"] = batch;
      }
      sense::app::PrintJsonLine(j);
    } else {
      if (!given)
        std::cout << "model     " << model_path << "\n"
                  << "data      " << data << " (" << sentences.size() << " sentences, " << tokens << " tokens, " << words
                  << " pre-tokenizer words" << (failed ? ", " + std::to_string(failed) + " failed" : "") << ")\n"
                  << std::fixed << std::setprecision(1) << "speed     " << (seconds > 0 ? tokens / seconds : 0.0)
                  << " tokens/s (tokenize + inference + decoding, " << used_threads << " threads, batch " << batch
                  << "; loading took " << std::setprecision(2) << loading << " s)\n\n";
      std::cout << sense::text::EntityEvaluator::Format(r);
    }
    return failed ? 1 : 0;
  });
}
