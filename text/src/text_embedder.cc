#include "sense/text/text_embedder.h"

#include <optional>

#include "sense/text/model_inputs.h"

namespace sense::text {

std::unique_ptr<TextEmbedder> TextEmbedder::Create(const TextEmbedderOptions& options) {
  if (options.max_batch_size < 1)
    throw Error(ErrorCode::kOption, "max_batch_size must be >= 1, found " + std::to_string(options.max_batch_size));
  const ModelMetadata m = ReadBundleMetadata(options.model.path, options.model.metadata_path);
  if (m.task != Task::kTextEmbedding)
    throw Error(ErrorCode::kMetadata, options.model.path + ": is a " + TaskName(m.task) +
                                          " model; TextEmbedder needs a text_embedding bundle");
  if (!m.embedding) throw Error(ErrorCode::kMetadata, options.model.path + ": a text_embedding bundle needs an 'embedding' object");
  ParsePooling(m.embedding->pooling);
  TextRunnerOptions ro;
  ro.model = options.model;
  ro.max_batch_size = options.max_batch_size;
  ro.invalid_utf8 = options.invalid_utf8;
  return std::unique_ptr<TextEmbedder>(new TextEmbedder(options, TextRunner::Create(ro)));
}

TextEmbedder::TextEmbedder(TextEmbedderOptions options, std::unique_ptr<TextRunner> runner)
    : options_(std::move(options)), runner_(std::move(runner)) {
  const ModelMetadata& m = runner_->metadata();
  pooling_ = ParsePooling(m.embedding->pooling);
  normalize_ = options_.l2_normalize.value_or(m.embedding->normalize);
  dim_ = m.embedding->dim;
  identity_ = {m.name, m.version, TaskName(m.task), FileFingerprint(options_.model.path), dim_, normalize_, options_.quantize};
}

std::vector<float> TextEmbedder::RowVector(const EncodedInput& row, const NamedTensors& outputs) const {
  const ModelMetadata& m = metadata();
  const std::string& name = m.output.name.empty() ? outputs[0].first : m.output.name;
  if (!outputs.Contains(name)) throw Error(ErrorCode::kBackend, runner_->model().path() + ": the model has no output '" + name + "'");
  Tensor t = outputs.at(name);
  if (t.dtype() != DType::kFloat32) t = t.ToFloat();
  std::vector<float> v;
  if (t.dim() == 2 && t.size(0) == 1) {
    v.assign(t.data<float>(), t.data<float>() + t.size(1));
  } else if (t.dim() == 3 && t.size(0) == 1) {
    if (pooling_ == Pooling::kNone)
      throw Error(ErrorCode::kBackend, runner_->model().path() + ": output " + t.Describe() +
                                           " is per token but embedding.pooling is \"none\"; set mean, cls or max");
    const int64_t L = static_cast<int64_t>(row.length());
    if (t.size(1) < L)
      throw Error(ErrorCode::kBackend, runner_->model().path() + ": token output " + t.Describe() + " is shorter than the row (" +
                                           std::to_string(L) + " tokens)");
    v = PoolTokens(t.data<float>(), L, t.size(2), row.attention_mask.data(), pooling_);
  } else {
    throw Error(ErrorCode::kBackend, runner_->model().path() + ": expected an embedding row [1, D] or token vectors [1, L, D], "
                                                               "model returned " + t.Describe());
  }
  if (static_cast<int>(v.size()) != dim_)
    throw Error(ErrorCode::kBackend, runner_->model().path() + ": embedding has " + std::to_string(v.size()) +
                                         " values; metadata says embedding.dim " + std::to_string(dim_));
  return v;
}

Embedding TextEmbedder::Embed(std::string_view text) const {
  return EmbedBatch({std::string(text)}).front().value();
}

std::vector<Outcome<Embedding>> TextEmbedder::EmbedBatch(const std::vector<std::string>& texts) const {
  auto encoded = runner_->Encode(texts);
  std::vector<const EncodedInput*> rows;
  std::vector<std::size_t> text_of;
  for (std::size_t i = 0; i < texts.size(); ++i)
    if (encoded[i].ok())
      for (const auto& r : encoded[i].value()) {
        rows.push_back(&r);
        text_of.push_back(i);
      }
  const auto outputs = runner_->Run(rows);
  std::vector<std::optional<Error>> errors(texts.size());
  std::vector<std::vector<float>> sums(texts.size());
  std::vector<int> windows(texts.size(), 0);
  for (std::size_t k = 0; k < rows.size(); ++k) {
    const std::size_t i = text_of[k];
    if (errors[i]) continue;
    if (!outputs[k].ok()) {
      errors[i] = outputs[k].error();
      continue;
    }
    Outcome<std::vector<float>> v = Capture([&] { return RowVector(*rows[k], outputs[k].value()); }, ErrorCode::kBackend);
    if (!v.ok()) {
      errors[i] = v.error();
      continue;
    }
    if (sums[i].empty()) sums[i].assign(v.value().size(), 0.0f);
    for (std::size_t d = 0; d < sums[i].size(); ++d) sums[i][d] += v.value()[d];
    ++windows[i];
  }
  std::vector<Outcome<Embedding>> out;
  out.reserve(texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    if (!encoded[i].ok()) {
      out.emplace_back(encoded[i].error());
      continue;
    }
    if (errors[i]) {
      out.emplace_back(*errors[i]);
      continue;
    }
    if (windows[i] == 0) {
      out.emplace_back(Error(ErrorCode::kInternal, "a text with no model rows"));
      continue;
    }
    Embedding e;
    e.values = std::move(sums[i]);
    if (windows[i] > 1)
      for (float& x : e.values) x /= static_cast<float>(windows[i]);
    const EncodedInput& first = encoded[i].value().front();
    e.num_tokens = static_cast<int>(first.length());
    e.truncated = windows[i] == 1 && first.truncated > 0;
    e.windows = windows[i];
    if (normalize_) {
      L2Normalize(e.values);
      e.normalized = true;
    }
    if (options_.quantize) {
      QuantizedVector q = QuantizeInt8(e.values);
      e.values = DequantizeInt8(q);
      e.quantized = std::move(q.codes);
      e.scale = q.scale;
    }
    out.emplace_back(std::move(e));
  }
  return out;
}

}  // namespace sense::text
