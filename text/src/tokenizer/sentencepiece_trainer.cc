#include "sense/text/sentencepiece_trainer.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "sense/inference/error.h"
#include "sense/text/utf8.h"
#include "sentencepiece_loader.h"

namespace sense::text {

namespace {

const char* ModelTypeName(SentencePieceModelType t) {
  switch (t) {
    case SentencePieceModelType::kUnigram: return "unigram";
    case SentencePieceModelType::kBpe: return "bpe";
    case SentencePieceModelType::kChar: return "char";
    case SentencePieceModelType::kWord: return "word";
  }
  return "unigram";
}

void Fail(const std::string& message) { throw Error(ErrorCode::kOption, "SentencePieceTrainerOptions: " + message); }

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += ',';
    out += s;
  }
  return out;
}

void Validate(const SentencePieceTrainerOptions& o) {
  if (o.input_files.empty() && o.sentences.empty()) Fail("no corpus: set input_files or sentences");
  for (const std::string& f : o.input_files) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(f, ec)) {
      throw Error(ErrorCode::kFile, f + ": no such file; expected a training corpus, one sentence per line");
    }
  }
  if (o.vocab_size <= 0) Fail("vocab_size must be > 0; found " + std::to_string(o.vocab_size));
  if (!(o.character_coverage > 0.0 && o.character_coverage <= 1.0)) {
    Fail("character_coverage must be in (0, 1]; found " + std::to_string(o.character_coverage));
  }
  if (o.max_sentence_length <= 0) Fail("max_sentence_length must be > 0; found " + std::to_string(o.max_sentence_length));
  if (o.input_sentence_size < 0) Fail("input_sentence_size must be >= 0; found " + std::to_string(o.input_sentence_size));
  if (o.num_threads < 0) Fail("num_threads must be >= 0; found " + std::to_string(o.num_threads));
  if (o.unk_id < 0) Fail("unk_id must be >= 0; found " + std::to_string(o.unk_id));
  for (const auto& [name, id] : {std::pair<const char*, int>{"bos_id", o.bos_id}, {"eos_id", o.eos_id}, {"pad_id", o.pad_id}}) {
    if (id < -1) Fail(std::string(name) + " must be >= -1; found " + std::to_string(id));
  }
  const int ids[] = {o.unk_id, o.bos_id, o.eos_id, o.pad_id};
  for (int i = 0; i < 4; ++i) {
    for (int k = i + 1; k < 4; ++k) {
      if (ids[i] >= 0 && ids[i] == ids[k]) Fail("unk_id, bos_id, eos_id and pad_id must differ; two are " + std::to_string(ids[i]));
    }
  }
  static const char* kNormalizations[] = {"nmt_nfkc", "nfkc", "nmt_nfkc_cf", "nfkc_cf", "identity"};
  if (std::find(std::begin(kNormalizations), std::end(kNormalizations), o.normalization) == std::end(kNormalizations)) {
    Fail("normalization must be nmt_nfkc, nfkc, nmt_nfkc_cf, nfkc_cf or identity; found \"" + o.normalization + "\"");
  }
  for (const auto* list : {&o.user_defined_symbols, &o.control_symbols}) {
    for (const std::string& s : *list) {
      if (s.empty()) Fail("user_defined_symbols and control_symbols must not contain empty strings");
      if (s.find(',') != std::string::npos) Fail("symbol \"" + s + "\" contains a comma, which SentencePiece cannot take");
      CheckUtf8(s);
    }
  }
}

}  // namespace

std::string TrainSentencePiece(const SentencePieceTrainerOptions& o) {
  Validate(o);
  const internal::SpmModuleApi& module = internal::SentencePieceModule();
  internal::SpmTrainRequest request;
  request.input_files = o.input_files;
  request.sentences = &o.sentences;
  request.min_log_level = o.verbose ? 0 : 2;
  const unsigned threads = o.num_threads > 0 ? o.num_threads : std::max(1u, std::thread::hardware_concurrency());
  auto flag = [&](const char* name, const std::string& value) { request.flags.emplace_back(name, value); };
  flag("model_type", ModelTypeName(o.model_type));
  flag("vocab_size", std::to_string(o.vocab_size));
  char coverage[32];
  std::snprintf(coverage, sizeof coverage, "%.9g", o.character_coverage);
  flag("character_coverage", coverage);
  if (!o.user_defined_symbols.empty()) flag("user_defined_symbols", Join(o.user_defined_symbols));
  if (!o.control_symbols.empty()) flag("control_symbols", Join(o.control_symbols));
  flag("normalization_rule_name", o.normalization);
  flag("byte_fallback", o.byte_fallback ? "true" : "false");
  flag("split_digits", o.split_digits ? "true" : "false");
  flag("max_sentence_length", std::to_string(o.max_sentence_length));
  flag("input_sentence_size", std::to_string(o.input_sentence_size));
  flag("shuffle_input_sentence", "true");
  flag("unk_id", std::to_string(o.unk_id));
  flag("bos_id", std::to_string(o.bos_id));
  flag("eos_id", std::to_string(o.eos_id));
  flag("pad_id", std::to_string(o.pad_id));
  flag("num_threads", std::to_string(threads));
  std::string model;
  const std::string error = module.train(request, &model);
  if (!error.empty()) throw Error(ErrorCode::kOption, "SentencePiece training failed: " + error);
  if (model.empty()) throw Error(ErrorCode::kInternal, "SentencePiece training returned no model");
  return model;
}

void TrainSentencePieceToFile(const SentencePieceTrainerOptions& options, const std::string& model_path) {
  const std::string model = TrainSentencePiece(options);
  std::ofstream out(model_path, std::ios::binary | std::ios::trunc);
  if (!out) throw Error(ErrorCode::kFile, model_path + ": cannot open for writing the trained model");
  out.write(model.data(), static_cast<std::streamsize>(model.size()));
  out.close();
  if (!out) throw Error(ErrorCode::kFile, model_path + ": write failed for the trained model");
}

}  // namespace sense::text
