// sense-tokenize: look inside a tokenizer. Encodes lines with a SentencePiece
// .model, a WordPiece vocab.txt or a model bundle's tokenizer; decodes ids
// back to text; trains a SentencePiece model from a corpus.
#include <chrono>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "common/app.h"
#include "sense/inference/error.h"
#include "sense/inference/model.h"
#include "sense/text/model_inputs.h"
#include "sense/text/sentencepiece_tokenizer.h"
#include "sense/text/sentencepiece_trainer.h"
#include "sense/text/text_inputs.h"
#include "sense/text/tokenizer.h"
#include "sense/text/wordpiece_tokenizer.h"

namespace {

namespace po = sense::app::po;
namespace text = sense::text;
using json = nlohmann::json;
using sense::Error;
using sense::ErrorCode;

const char* kApp = "sense-tokenize";

// ---- choosing the tokenizer --------------------------------------------------

struct Source {
  std::string model, vocab, bundle;
  bool cased = false;
  bool replace_invalid = false;
};

void AddSourceOptions(po::options_description& o, Source* s) {
  o.add_options()
    ("model,m", po::value(&s->model), "SentencePiece model (.model / .spm)")
    ("vocab,v", po::value(&s->vocab), "WordPiece vocab.txt (BERT family)")
    ("bundle", po::value(&s->bundle), "a sense model bundle (.pt): its own tokenizer and settings")
    ("cased", po::bool_switch(&s->cased), "--vocab: keep case and accents (a cased BERT vocabulary)")
    ("replace-invalid-utf8", po::bool_switch(&s->replace_invalid),
     "read invalid UTF-8 as U+FFFD instead of reporting the line");
}

std::unique_ptr<text::Tokenizer> OpenTokenizer(const Source& s, bool bos, bool eos, sense::TextPreprocessing* pre) {
  const int chosen = !s.model.empty() + !s.vocab.empty() + !s.bundle.empty();
  if (chosen != 1) {
    throw sense::app::UsageError(chosen == 0 ? "choose a tokenizer: --model X.model, --vocab vocab.txt or --bundle model.pt"
                                             : "--model, --vocab and --bundle are exclusive; give one");
  }
  text::TokenizerOptions o;
  o.invalid_utf8 = s.replace_invalid ? text::InvalidUtf8::kReplace : text::InvalidUtf8::kError;
  if (!s.bundle.empty()) {
    // The bundle's own tokenizer asset and settings, read without loading the model.
    const sense::BundleFiles bundle = sense::ReadBundleFiles(s.bundle);
    const sense::ModelMetadata& m = bundle.metadata;
    if (!m.text) throw Error(ErrorCode::kMetadata, s.bundle + ": a " + sense::TaskName(m.task) + " model has no tokenizer");
    if ((bos || eos) && m.text->tokenizer.type != sense::TokenizerType::kSentencePiece)
      throw sense::app::UsageError("--bos/--eos need a SentencePiece model; WordPiece adds [CLS] and [SEP]");
    if (pre) *pre = *m.text;
    return text::BundleTokenizer(bundle, s.bundle, o.invalid_utf8);
  } else if (!s.model.empty()) {
    o.spec.type = sense::TokenizerType::kSentencePiece;
    o.spec.add_bos = bos;
    o.spec.add_eos = eos;
    o.path = s.model;
  } else {
    o.spec.type = sense::TokenizerType::kWordPiece;
    o.spec.lowercase = !s.cased;
    o.path = s.vocab;
  }
  if ((bos || eos) && o.spec.type != sense::TokenizerType::kSentencePiece) {
    throw sense::app::UsageError("--bos/--eos need a SentencePiece model; WordPiece adds [CLS] and [SEP]");
  }
  return text::CreateTokenizer(o);
}

// The message on stderr; on stdout, what keeps one output line per input:
// a JSON error object, or an empty line in line-per-input modes (--ids,
// --pieces, decode). The human table prints nothing more.
void ReportError(bool as_json, bool empty_line, const sense::app::InputItem& item, const std::string& code,
                 const std::string& message) {
  sense::app::PrintError(kApp, item.source, message);
  if (as_json) {
    json j = sense::app::ErrorJson(code, message);
    j["source"] = item.source;
    sense::app::PrintJsonLine(j);
  } else if (empty_line) {
    std::cout << "\n";
  }
}

std::string Quoted(const std::string& s) { return json(s).dump(-1, ' ', false, json::error_handler_t::replace); }

// ---- encode ----------------------------------------------------------------------

struct Row {
  std::vector<int> ids;
  std::vector<std::string> pieces;
  std::vector<text::Span> offsets;  // {0,0} with special = true for inserted tokens
  std::vector<bool> special;
  float score = 0;
};

json RowJson(const Row& r, const std::string& t) {
  json offsets = json::array(), chars = json::array();
  std::vector<text::Span> real;
  for (std::size_t i = 0; i < r.ids.size(); ++i)
    if (!r.special[i]) real.push_back(r.offsets[i]);
  const auto char_spans = text::ByteToCharSpans(t, real);
  std::size_t k = 0;
  for (std::size_t i = 0; i < r.ids.size(); ++i) {
    if (r.special[i]) {
      offsets.push_back(nullptr);
      chars.push_back(nullptr);
    } else {
      offsets.push_back({r.offsets[i].begin, r.offsets[i].end});
      chars.push_back({char_spans[k].begin, char_spans[k].end});
      ++k;
    }
  }
  return {{"ids", r.ids}, {"tokens", r.pieces}, {"offsets", offsets}, {"char_offsets", chars}};
}

// Display columns of UTF-8 text, counted as code points.
std::size_t Columns(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

void PrintTable(const Row& r, const std::string& t) {
  std::size_t width = 5;
  std::vector<std::string> pieces;
  for (const auto& p : r.pieces) pieces.push_back(sense::app::EscapeControl(p));
  for (const auto& p : pieces) width = std::max(width, Columns(p));
  for (std::size_t i = 0; i < r.ids.size(); ++i) {
    std::cout << "  " << std::setw(4) << i << "  " << pieces[i] << std::string(width + 2 - Columns(pieces[i]), ' ')
              << std::setw(7) << r.ids[i];
    if (!r.special[i]) {
      const auto& s = r.offsets[i];
      std::cout << "  " << std::setw(5) << s.begin << ":" << std::left << std::setw(5) << s.end << std::right << " "
                << Quoted(t.substr(s.begin, s.end - s.begin));
    }
    std::cout << "\n";
  }
}

Row FromTokens(const std::vector<text::Token>& tokens, float score = 0) {
  Row r;
  for (const auto& t : tokens) {
    r.ids.push_back(t.id);
    r.pieces.push_back(t.piece);
    r.offsets.push_back({t.begin, t.end});
    r.special.push_back(false);
  }
  r.score = score;
  return r;
}

int Encode(int argc, char** argv) {
  std::vector<std::string> texts, files;
  Source source;
  bool no_special = false, bos = false, eos = false, ids_only = false, pieces_only = false, sample = false;
  int max_length = 0, nbest = 0;
  float alpha = 0.1f;
  int sample_size = -1;
  unsigned seed = 0;
  po::options_description opts("Options");
  AddSourceOptions(opts, &source);
  opts.add_options()
    ("text", po::value(&texts), "texts to encode; with none (or '-'), lines are read from stdin")
    ("file,f", po::value(&files), "read texts from this file, one per line (repeatable)")
    ("no-special", po::bool_switch(&no_special), "do not add special tokens ([CLS]/[SEP], --bos/--eos)")
    ("bos", po::bool_switch(&bos), "SentencePiece: start with <s>")
    ("eos", po::bool_switch(&eos), "SentencePiece: end with </s>")
    ("max-length", po::value(&max_length)->default_value(0), "truncate to this many tokens, special tokens included (0: no limit; --bundle: the model's)")
    ("nbest", po::value(&nbest)->default_value(0), "SentencePiece unigram: show the N best segmentations")
    ("sample", po::bool_switch(&sample), "SentencePiece: a sampled segmentation (subword regularisation)")
    ("alpha", po::value(&alpha)->default_value(0.1f), "--sample: smoothing (unigram) or dropout (BPE)")
    ("sample-size", po::value(&sample_size)->default_value(-1), "--sample, unigram: sample from the N best (-1: all)")
    ("seed", po::value(&seed), "--sample: random seed")
    ("ids", po::bool_switch(&ids_only), "print only the ids, one line per input line (like spm_encode --output_format=id); "
     "a line that fails prints an empty line (its error on stderr)")
    ("pieces", po::bool_switch(&pieces_only), "print only the pieces, one line per input line; a line that fails prints an empty line")
    ("json", "print JSON Lines: one object per text with ids, tokens, byte and character offsets");
  po::variables_map vm;
  int rc = 0;
  std::vector<po::option> ordered;
  if (!sense::app::ParseCommandLine(argc, argv, kApp,
                                    "sense-tokenize [encode] (--model X.model | --vocab vocab.txt | --bundle model.pt) [options] [TEXT...]\n"
                                    "       sense-tokenize decode (--model|--vocab|--bundle) [IDS...]\n"
                                    "       sense-tokenize train --output X.model [options] CORPUS...\n\n"
                                    "Shows how a tokenizer splits each text: pieces, ids and byte offsets.\n"
                                    "Texts and -f files are read in command-line order. --ids, --pieces and --json\n"
                                    "print one line per input line (--nbest N: one per segmentation); a line that\n"
                                    "fails prints an empty line (--json: an error object) and its error on stderr.\n"
                                    "Control characters are printed escaped (\\x1b).\n"
                                    "Example: echo \"Hello, world!\" | sense-tokenize --vocab vocab.txt --json",
                                    opts, "text", &vm, &rc, &ordered))
    return rc;
  const bool as_json = vm.count("json") > 0;
  using sense::app::UsageError;
  if (ids_only + pieces_only + as_json > 1) throw UsageError("--ids, --pieces and --json are exclusive");
  if (nbest < 0) throw UsageError("--nbest must be >= 0; found " + std::to_string(nbest));
  if (nbest > 0 && sample) throw UsageError("--nbest and --sample are exclusive");
  if (max_length < 0) throw UsageError("--max-length must be >= 0 (0: no limit); found " + std::to_string(max_length));
  if (sample_size == 0 || sample_size < -1)
    throw UsageError("--sample-size must be -1 (all) or >= 1; found " + std::to_string(sample_size));
  if (!(alpha >= 0.0f) || !std::isfinite(alpha)) throw UsageError("--alpha must be >= 0; found " + std::to_string(alpha));

  sense::TextPreprocessing pre;
  auto tokenizer = OpenTokenizer(source, bos, eos, &pre);
  const auto* sp = dynamic_cast<const text::SentencePieceTokenizer*>(tokenizer.get());
  if ((nbest > 0 || sample) && sp == nullptr) throw UsageError("--nbest and --sample need a SentencePiece model");
  if (vm.count("seed")) text::SentencePieceTokenizer::SetSamplingSeed(seed);
  text::EncodeOptions eo;
  if (!source.bundle.empty()) eo = text::EncodeOptions::FromMetadata(pre);
  if (source.bundle.empty() || !vm["max-length"].defaulted()) {  // else the bundle's own limit
    eo.max_length = max_length;
    eo.truncation = sense::Truncation::kLongestFirst;
  }
  if (eo.truncation == sense::Truncation::kWindow) eo.truncation = sense::Truncation::kLongestFirst;
  eo.add_special_tokens = !no_special;
  eo.pad = false;

  const auto items = sense::app::GatherTexts(sense::app::OrderedTextArgs(ordered, "text", "file"));
  const bool line_per_input = ids_only || pieces_only;
  int failed = 0;
  for (const auto& item : items) {
    std::string error = item.error, code = "input";
    if (error.empty() && item.text.empty()) error = "empty line; expected text to tokenize";
    std::vector<Row> rows;
    if (error.empty()) {
      try {
        if (nbest > 0) {
          for (const auto& seg : sp->NBest(item.text, nbest)) rows.push_back(FromTokens(seg.tokens, seg.score));
        } else if (sample) {
          rows.push_back(FromTokens(sp->Sample(item.text, {sample_size, alpha})));
        } else {
          const text::EncodedInput in = text::EncodeInput(*tokenizer, item.text, eo);
          Row r;
          for (std::size_t i = 0; i < in.length(); ++i) {
            r.ids.push_back(static_cast<int>(in.ids[i]));
            r.pieces.push_back(tokenizer->IdToPiece(static_cast<int>(in.ids[i])));
            r.offsets.push_back(in.offsets[i]);
            r.special.push_back(in.sequence_ids[i] < 0);
          }
          rows.push_back(std::move(r));
        }
      } catch (const Error& e) {
        error = e.what();
        code = sense::ErrorCodeName(e.code());
      }
    }
    if (!error.empty()) {
      ++failed;
      ReportError(as_json, line_per_input, item, code, error);
      continue;
    }
    if (as_json) {
      json j = {{"source", item.source}, {"text", item.text}};
      if (nbest > 0) {
        j["nbest"] = json::array();
        for (const auto& r : rows) {
          json s = RowJson(r, item.text);
          s["score"] = r.score;
          j["nbest"].push_back(s);
        }
      } else {
        j.update(RowJson(rows[0], item.text));
      }
      sense::app::PrintJsonLine(j);
    } else if (ids_only || pieces_only) {
      for (const auto& r : rows) {
        for (std::size_t i = 0; i < r.ids.size(); ++i) {
          if (i) std::cout << ' ';
          if (ids_only) std::cout << r.ids[i]; else std::cout << sense::app::EscapeControl(r.pieces[i]);
        }
        std::cout << "\n";
      }
    } else {
      std::cout << sense::app::EscapeControl(item.source) << ": " << Quoted(item.text) << "\n";
      for (std::size_t k = 0; k < rows.size(); ++k) {
        std::cout << "  " << rows[k].ids.size() << " tokens";
        if (nbest > 0) std::cout << ", segmentation " << k + 1 << ", score " << rows[k].score;
        std::cout << "\n";
        PrintTable(rows[k], item.text);
      }
    }
  }
  return failed ? 1 : 0;
}

// ---- decode ----------------------------------------------------------------------

std::vector<int> ParseIds(const std::string& line) {
  std::vector<int> ids;
  std::string cleaned = line;
  for (char& c : cleaned)
    if (c == ',' || c == '[' || c == ']' || c == '\t') c = ' ';
  std::istringstream in(cleaned);
  std::string word;
  while (in >> word) {
    std::size_t used = 0;
    long value = 0;
    try {
      value = std::stol(word, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != word.size() || value < 0 || value > 0x7FFFFFFF)
      throw Error(ErrorCode::kInput, "\"" + word + "\" is not a token id; expected non-negative integers");
    ids.push_back(static_cast<int>(value));
  }
  if (ids.empty()) throw Error(ErrorCode::kInput, "no ids; expected integers separated by spaces or commas");
  return ids;
}

int Decode(int argc, char** argv) {
  std::vector<std::string> texts, files;
  Source source;
  po::options_description opts("Options");
  AddSourceOptions(opts, &source);
  opts.add_options()
    ("ids", po::value(&texts), "id lists to decode (\"101 7592 102\", \"[101, 7592]\"); with none, lines from stdin")
    ("file,f", po::value(&files), "read id lists from this file, one per line (repeatable)")
    ("json", "print JSON Lines: one object per id list");
  po::variables_map vm;
  int rc = 0;
  std::vector<po::option> ordered;
  if (!sense::app::ParseCommandLine(argc, argv, std::string(kApp) + " decode",
                                    "sense-tokenize decode (--model X.model | --vocab vocab.txt | --bundle model.pt) [IDS...]\n\n"
                                    "Turns token ids back into text (special tokens are dropped), one line per\n"
                                    "input line, in command-line order; a line that fails prints an empty line and\n"
                                    "its error on stderr. Control characters are printed escaped (\\x1b).\n"
                                    "Example: sense-tokenize decode --vocab vocab.txt \"101 7592 1010 2088 999 102\"",
                                    opts, "ids", &vm, &rc, &ordered))
    return rc;
  const bool as_json = vm.count("json") > 0;
  auto tokenizer = OpenTokenizer(source, false, false, nullptr);
  const auto items = sense::app::GatherTexts(sense::app::OrderedTextArgs(ordered, "ids", "file"));
  int failed = 0;
  for (const auto& item : items) {
    std::string error = item.error, code = "input";
    std::vector<int> ids;
    std::string decoded;
    if (error.empty()) {
      try {
        ids = ParseIds(item.text);
        decoded = tokenizer->Decode(ids);
      } catch (const Error& e) {
        error = e.what();
        code = sense::ErrorCodeName(e.code());
      }
    }
    if (!error.empty()) {
      ++failed;
      ReportError(as_json, true, item, code, error);
      continue;
    }
    if (as_json) {
      sense::app::PrintJsonLine({{"source", item.source}, {"ids", ids}, {"text", decoded}});
    } else {
      std::cout << sense::app::EscapeControl(decoded) << "\n";
    }
  }
  return failed ? 1 : 0;
}

// ---- train -----------------------------------------------------------------------

int Train(int argc, char** argv) {
  std::vector<std::string> corpus;
  std::string output, type, symbols, controls, normalization;
  text::SentencePieceTrainerOptions o;
  bool byte_fallback = false, split_digits = false, verbose = false;
  po::options_description opts("Options");
  opts.add_options()
    ("corpus", po::value(&corpus), "training text files, one sentence per line")
    ("output,o", po::value(&output)->required(), "where to write the model (.model)")
    ("type", po::value(&type)->default_value("unigram"), "unigram, bpe, char or word")
    ("vocab-size", po::value(&o.vocab_size)->default_value(8000), "pieces in the vocabulary")
    ("character-coverage", po::value(&o.character_coverage)->default_value(0.9995), "share of characters covered (0, 1]; rare ones become <unk>")
    ("user-symbols", po::value(&symbols), "comma-separated pieces always kept whole, e.g. \"<sep>,<cls>\"")
    ("control-symbols", po::value(&controls), "comma-separated reserved pieces that never match text")
    ("normalization", po::value(&normalization)->default_value("nmt_nfkc"), "nmt_nfkc, nfkc, nmt_nfkc_cf, nfkc_cf or identity")
    ("byte-fallback", po::bool_switch(&byte_fallback), "spell unknown characters as UTF-8 byte pieces")
    ("split-digits", po::bool_switch(&split_digits), "make every digit its own piece")
    ("max-sentences", po::value(&o.input_sentence_size)->default_value(0), "sample this many sentences (0: all)")
    ("pad-id", po::value(&o.pad_id)->default_value(-1), "id of <pad> (-1: none)")
    ("threads", po::value(&o.num_threads)->default_value(0), "training threads (0: all cores)")
    ("verbose", po::bool_switch(&verbose), "show SentencePiece's training log")
    ("json", "print the result as one JSON object");
  po::variables_map vm;
  int rc = 0;
  if (!sense::app::ParseCommandLine(argc, argv, std::string(kApp) + " train",
                                    "sense-tokenize train --output X.model [options] CORPUS...\n\n"
                                    "Trains a SentencePiece model (unigram or BPE) from text files.\n"
                                    "Example: sense-tokenize train --output m.model --vocab-size 8000 corpus.txt",
                                    opts, "corpus", &vm, &rc))
    return rc;
  using sense::app::UsageError;
  if (corpus.empty()) throw UsageError("no corpus: give one or more text files");
  if (o.vocab_size < 1) throw UsageError("--vocab-size must be >= 1; found " + std::to_string(o.vocab_size));
  if (!(o.character_coverage > 0 && o.character_coverage <= 1))
    throw UsageError("--character-coverage must be in (0, 1]; found " + std::to_string(o.character_coverage));
  if (o.input_sentence_size < 0)
    throw UsageError("--max-sentences must be >= 0 (0: all); found " + std::to_string(o.input_sentence_size));
  if (o.num_threads < 0) throw UsageError("--threads must be >= 0 (0: all cores); found " + std::to_string(o.num_threads));
  if (o.pad_id < -1) throw UsageError("--pad-id must be >= 0, or -1 for none; found " + std::to_string(o.pad_id));
  static const std::map<std::string, text::SentencePieceModelType> kTypes = {
      {"unigram", text::SentencePieceModelType::kUnigram}, {"bpe", text::SentencePieceModelType::kBpe},
      {"char", text::SentencePieceModelType::kChar}, {"word", text::SentencePieceModelType::kWord}};
  if (!kTypes.count(type)) throw UsageError("--type must be unigram, bpe, char or word; found \"" + type + "\"");
  auto split = [](const std::string& s) {
    std::vector<std::string> out;
    std::stringstream in(s);
    std::string item;
    while (std::getline(in, item, ','))
      if (!item.empty()) out.push_back(item);
    return out;
  };
  o.input_files = corpus;
  o.model_type = kTypes.at(type);
  o.user_defined_symbols = split(symbols);
  o.control_symbols = split(controls);
  o.normalization = normalization;
  o.byte_fallback = byte_fallback;
  o.split_digits = split_digits;
  o.verbose = verbose;
  const auto start = std::chrono::steady_clock::now();
  text::TrainSentencePieceToFile(o, output);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  text::SentencePieceOptions so;
  so.model_path = output;
  auto trained = text::SentencePieceTokenizer::Create(so);
  if (vm.count("json")) {
    sense::app::PrintJsonLine({{"output", output}, {"model_type", trained->model_type()},
                               {"vocab_size", trained->vocab_size()}, {"corpus", corpus}, {"seconds", seconds}});
  } else {
    std::cout << "wrote " << output << ": " << trained->model_type() << ", " << trained->vocab_size() << " pieces, from "
              << corpus.size() << " file" << (corpus.size() == 1 ? "" : "s") << " in " << std::fixed
              << std::setprecision(1) << seconds << " s\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return sense::app::Guarded(kApp, [&]() -> int {
    const std::string command = argc > 1 ? argv[1] : "";
    if (command == "decode") return Decode(argc - 1, argv + 1);
    if (command == "train") return Train(argc - 1, argv + 1);
    if (command == "encode") return Encode(argc - 1, argv + 1);
    return Encode(argc, argv);
  });
}
