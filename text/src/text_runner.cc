#include "sense/text/text_runner.h"

#include <algorithm>
#include <numeric>

#include "sense/inference/error.h"

namespace sense::text {

std::unique_ptr<TextRunner> TextRunner::Create(const TextRunnerOptions& options) {
  if (options.max_batch_size < 1)
    throw Error(ErrorCode::kOption, "max_batch_size must be >= 1, found " + std::to_string(options.max_batch_size));
  const std::string& path = options.model.path;
  if (path.empty()) throw Error(ErrorCode::kOption, "no model path given");
  const BundleFiles bundle = ReadBundleFiles(path, options.model.metadata_path);  // one read: metadata and tokenizer
  const ModelMetadata& m = bundle.metadata;
  if (!IsTextTask(m.task) || !m.text)
    throw Error(ErrorCode::kMetadata, path + ": is a " + std::string(TaskName(m.task)) + " model; a text task needs a text bundle");
  std::unique_ptr<TextRunner> r(new TextRunner());
  r->bindings_ = BindTextInputs(m, path);
  r->max_batch_size_ = options.max_batch_size;
  ModelOptions mo = options.model;
  std::shared_ptr<const Tokenizer> tokenizer = BundleTokenizer(bundle, path, options.invalid_utf8);
  if (!mo.sample_inputs) mo.sample_inputs = SampleInputsFor(tokenizer);
  r->model_ = Model::Load(mo);
  r->tokenizer_ = std::move(tokenizer);
  const TextPreprocessing& text = *r->model_->metadata().text;
  const SequenceTemplate& s = r->tokenizer_->sequence_template();
  const std::size_t specials = text.tokenizer.add_special_tokens ? s.prefix.size() + s.suffix.size() : 0;
  if (static_cast<std::size_t>(text.max_length) <= specials)
    throw Error(ErrorCode::kMetadata, path + ": text.max_length " + std::to_string(text.max_length) +
                                          " leaves no room for text after " + std::to_string(specials) + " special tokens");
  for (const auto& b : r->bindings_)
    if (b.fixed_length > 0 && b.fixed_length < text.max_length)
      throw Error(ErrorCode::kMetadata, path + ": input '" + b.input + "' has a fixed length of " +
                                            std::to_string(b.fixed_length) + ", shorter than text.max_length " +
                                            std::to_string(text.max_length));
  r->encode_options_ = EncodeOptions::FromMetadata(text);
  r->encode_options_.add_special_tokens = text.tokenizer.add_special_tokens;
  r->encode_options_.pad = false;  // padding happens per batch, in MakeTextInputs
  r->encode_options_.threads = 1;
  return r;
}

std::vector<Outcome<std::vector<EncodedInput>>> TextRunner::Encode(const std::vector<std::string>& texts) const {
  std::vector<Outcome<std::vector<EncodedInput>>> out;
  out.reserve(texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    out.push_back(Capture(
        [&]() -> std::vector<EncodedInput> {
          std::vector<EncodedInput> rows;
          try {
            rows = EncodeBatch(*tokenizer_, {texts[i]}, encode_options_);
          } catch (const Error& e) {
            // Drop model_inputs' "text 0: " prefix: the caller knows which text it is.
            std::string msg = e.what();
            if (msg.rfind("text 0: ", 0) == 0) msg = msg.substr(8);
            throw Error(e.code(), msg);
          }
          const EncodedInput& first = rows.front();
          const auto tokens = std::count(first.sequence_ids.begin(), first.sequence_ids.end(), 0) + first.truncated;
          if (tokens == 0)
            throw Error(ErrorCode::kInput,
                        texts[i].empty() ? "empty text" : "text has no tokens (only blanks or control characters)");
          for (auto& row : rows) row.source = i;
          return rows;
        },
        ErrorCode::kInput, "text " + std::to_string(i)));
  }
  return out;
}

NamedTensors TextRunner::Inputs(const std::vector<const EncodedInput*>& rows) const {
  return MakeTextInputs(bindings_, text(), rows);
}

NamedTensors TextRunner::RunBatch(const std::vector<const EncodedInput*>& rows) const {
  NamedTensors out = model_->Run(Inputs(rows));
  const int64_t B = static_cast<int64_t>(rows.size());
  for (const auto& [name, t] : out)
    if (t.dim() < 1 || t.size(0) != B)
      throw Error(ErrorCode::kBackend, model_->path() + ": output '" + name + "' is " + t.Describe() +
                                           "; expected its first dimension to be the batch of " + std::to_string(B));
  return out;
}

std::vector<Outcome<NamedTensors>> TextRunner::Run(const std::vector<const EncodedInput*>& rows) const {
  std::vector<std::size_t> order(rows.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return rows[a]->length() < rows[b]->length(); });
  std::vector<std::optional<Outcome<NamedTensors>>> results(rows.size());
  const auto slice = [](const NamedTensors& all, int64_t i) {
    NamedTensors one;
    for (const auto& [name, t] : all) one.Set(name, t.Slice(i, i + 1));
    return one;
  };
  const std::string context = model_->path() + ": running the model";
  const std::size_t step = static_cast<std::size_t>(max_batch_size_);
  for (std::size_t b = 0; b < order.size(); b += step) {
    const std::size_t e = std::min(order.size(), b + step);
    std::vector<const EncodedInput*> batch;
    for (std::size_t i = b; i < e; ++i) batch.push_back(rows[order[i]]);
    Outcome<NamedTensors> all = Capture([&] { return RunBatch(batch); }, ErrorCode::kBackend, context);
    if (all.ok()) {
      for (std::size_t i = b; i < e; ++i) results[order[i]] = slice(all.value(), static_cast<int64_t>(i - b));
      continue;
    }
    if (batch.size() == 1) {
      results[order[b]] = all.error();
      continue;
    }
    // Find the culprit: each row alone.
    for (std::size_t i = b; i < e; ++i)
      results[order[i]] = Capture([&] { return RunBatch({rows[order[i]]}); }, ErrorCode::kBackend, context);
  }
  std::vector<Outcome<NamedTensors>> out;
  out.reserve(rows.size());
  for (auto& r : results) out.push_back(std::move(*r));
  return out;
}

}  // namespace sense::text
