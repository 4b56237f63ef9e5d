#include "sense/text/text_classifier.h"

#include "sense/text/model_inputs.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <numeric>

namespace sense::text {

// One text, tokenized and shaped into model rows (several when windowed).
struct TextClassifier::Encoded {
  std::vector<std::vector<int>> rows;  // ids with special tokens, at most max_length each
  int num_tokens = 0;
  bool truncated = false;
};

std::unique_ptr<TextClassifier> TextClassifier::Create(const TextClassifierOptions& options) {
  if (options.max_batch_size < 1)
    throw Error(ErrorCode::kOption, "max_batch_size must be >= 1, found " + std::to_string(options.max_batch_size));
  auto model = Model::Load(options.model);
  const ModelMetadata& m = model->metadata();
  if (m.task != Task::kTextClassification)
    throw Error(ErrorCode::kMetadata, options.model.path + ": is a " + TaskName(m.task) +
                                          " model; TextClassifier needs a text_classification bundle");
  ValidateClassifierOptions(options.classifier, m.labels);
  TokenizerOptions to;
  to.spec = m.text->tokenizer;
  to.data = model->Asset(m.text->tokenizer.asset);
  to.source = options.model.path + ":" + m.text->tokenizer.asset;
  to.invalid_utf8 = options.invalid_utf8;
  auto tokenizer = CreateTokenizer(to);
  return std::unique_ptr<TextClassifier>(new TextClassifier(options, std::move(model), std::move(tokenizer)));
}

TextClassifier::TextClassifier(TextClassifierOptions options, std::unique_ptr<Model> model,
                               std::unique_ptr<Tokenizer> tokenizer)
    : options_(std::move(options)), model_(std::move(model)), tokenizer_(std::move(tokenizer)) {
  const ModelMetadata& m = model_->metadata();
  const TextInputRoles roles = TextInputs(m);
  ids_input_ = roles.ids;
  mask_input_ = roles.mask;
  for (const auto& n : {ids_input_, mask_input_}) {
    if (n.empty()) continue;
    if (std::none_of(m.inputs.begin(), m.inputs.end(), [&](const TensorSpec& s) { return s.name == n; }))
      throw Error(ErrorCode::kMetadata, model_->path() + ": text.input_names names '" + n + "', which is not a model input");
  }
  if (m.inputs.size() > (mask_input_.empty() ? 1u : 2u))
    throw Error(ErrorCode::kMetadata, model_->path() + ": TextClassifier feeds ids and an attention mask; the model declares " +
                                          std::to_string(m.inputs.size()) + " inputs");
}

TextClassifier::Encoded TextClassifier::Encode(std::string_view text) const {
  // Special tokens, truncation and windows as model_inputs.h does them; the
  // classifier pads later, per length-sorted batch.
  EncodeOptions eo = EncodeOptions::FromMetadata(*model_->metadata().text);
  eo.pad = false;
  eo.threads = 1;
  std::vector<EncodedInput> rows;
  try {
    rows = EncodeBatch(*tokenizer_, {std::string(text)}, eo);
  } catch (const Error& e) {
    // Drop model_inputs' "text 0: " prefix: the caller knows which text it is.
    std::string m = e.what();
    if (m.rfind("text 0: ", 0) == 0) m = m.substr(8);
    throw Error(e.code(), m);
  }
  Encoded e;
  const auto& first = rows.front();
  e.num_tokens = static_cast<int>(std::count(first.sequence_ids.begin(), first.sequence_ids.end(), 0) + first.truncated);
  if (e.num_tokens == 0)
    throw Error(ErrorCode::kInput, text.empty() ? "empty text" : "text has no tokens (only blanks or control characters)");
  e.truncated = rows.size() == 1 && first.truncated > 0;
  for (auto& r : rows) e.rows.emplace_back(r.ids.begin(), r.ids.end());
  return e;
}

std::vector<std::vector<float>> TextClassifier::RunRows(const std::vector<const std::vector<int>*>& rows) const {
  const ModelMetadata& m = model_->metadata();
  size_t longest = 0;
  for (const auto* r : rows) longest = std::max(longest, r->size());
  if (m.text->padding == Padding::kMaxLength) longest = static_cast<size_t>(m.text->max_length);
  const int64_t B = static_cast<int64_t>(rows.size()), T = static_cast<int64_t>(longest);
  auto spec_of = [&](const std::string& name) {
    return *std::find_if(m.inputs.begin(), m.inputs.end(), [&](const TensorSpec& s) { return s.name == name; });
  };
  std::vector<int64_t> ids(static_cast<size_t>(B * T), m.text->pad_id), mask(static_cast<size_t>(B * T), 0);
  for (int64_t i = 0; i < B; ++i)
    for (size_t j = 0; j < rows[static_cast<size_t>(i)]->size(); ++j) {
      ids[static_cast<size_t>(i * T) + j] = (*rows[static_cast<size_t>(i)])[j];
      mask[static_cast<size_t>(i * T) + j] = 1;
    }
  auto as = [&](std::vector<int64_t>& v, DType d) {
    Tensor t = Tensor::FromVector(v, {B, T});
    if (d == DType::kInt64) return t;
    Tensor out = Tensor::Empty(d, {B, T});
    for (int64_t k = 0; k < B * T; ++k) {
      switch (d) {
        case DType::kInt32: out.data<int32_t>()[k] = static_cast<int32_t>(v[static_cast<size_t>(k)]); break;
        case DType::kFloat32: out.data<float>()[k] = static_cast<float>(v[static_cast<size_t>(k)]); break;
        case DType::kBool: out.data<bool>()[k] = v[static_cast<size_t>(k)] != 0; break;
        default: throw Error(ErrorCode::kMetadata, model_->path() + ": unsupported text input type " + DTypeName(d));
      }
    }
    return out;
  };
  NamedTensors inputs;
  inputs.Set(ids_input_, as(ids, spec_of(ids_input_).dtype));
  if (!mask_input_.empty()) inputs.Set(mask_input_, as(mask, spec_of(mask_input_).dtype));
  NamedTensors out = model_->Run(inputs);
  const Tensor& logits = out.at(m.output.name);
  const int64_t k = static_cast<int64_t>(m.labels.size());
  if (logits.dim() != 2 || logits.size(0) != B || logits.size(1) != k)
    throw Error(ErrorCode::kBackend, model_->path() + ": expected output [" + std::to_string(B) + ", " + std::to_string(k) +
                                         "], model returned " + logits.Describe());
  const Tensor f = logits.dtype() == DType::kFloat32 ? logits : logits.ToFloat();
  std::vector<std::vector<float>> probs;
  for (int64_t i = 0; i < B; ++i) probs.push_back(Probabilities(f.data<float>() + i * k, static_cast<int>(k), m.output));
  return probs;
}

TextClassification TextClassifier::Classify(std::string_view text) const {
  return ClassifyBatch({std::string(text)}).front();
}

std::vector<TextClassification> TextClassifier::ClassifyBatch(const std::vector<std::string>& texts,
                                                              std::vector<std::string>* errors) const {
  std::vector<Encoded> enc(texts.size());
  if (errors) errors->assign(texts.size(), "");
  for (size_t i = 0; i < texts.size(); ++i) {
    try {
      enc[i] = Encode(texts[i]);
    } catch (const Error& e) {
      if (!errors || e.code() != ErrorCode::kInput) throw;
      (*errors)[i] = e.what();
    }
  }
  // Every row with its text; sorted by length so batches need little padding.
  std::vector<std::pair<size_t, size_t>> rows;  // (text, row)
  for (size_t i = 0; i < enc.size(); ++i)
    for (size_t r = 0; r < enc[i].rows.size(); ++r) rows.emplace_back(i, r);
  std::stable_sort(rows.begin(), rows.end(), [&](const auto& a, const auto& b) {
    return enc[a.first].rows[a.second].size() < enc[b.first].rows[b.second].size();
  });
  const size_t k = model_->metadata().labels.size();
  std::vector<std::vector<float>> sums(texts.size(), std::vector<float>(k, 0.0f));
  const size_t step = static_cast<size_t>(options_.max_batch_size);
  for (size_t b = 0; b < rows.size(); b += step) {
    std::vector<const std::vector<int>*> batch;
    for (size_t i = b; i < std::min(rows.size(), b + step); ++i) batch.push_back(&enc[rows[i].first].rows[rows[i].second]);
    const auto probs = RunRows(batch);
    for (size_t i = 0; i < batch.size(); ++i)
      for (size_t c = 0; c < k; ++c) sums[rows[b + i].first][c] += probs[i][c];
  }
  std::vector<TextClassification> out(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    if (enc[i].rows.empty()) continue;  // failed; message in (*errors)[i]
    const float n = static_cast<float>(enc[i].rows.size());
    for (float& v : sums[i]) v /= n;
    out[i].classifications = FromProbabilities(sums[i], model_->metadata().labels, options_.classifier);
    out[i].num_tokens = enc[i].num_tokens;
    out[i].truncated = enc[i].truncated;
    out[i].windows = static_cast<int>(enc[i].rows.size());
  }
  return out;
}

namespace {

// Whitespace-separated words of `text` as byte spans.
std::vector<std::pair<size_t, size_t>> Words(std::string_view text) {
  std::vector<std::pair<size_t, size_t>> words;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    const size_t b = i;
    while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i > b) words.emplace_back(b, i);
  }
  return words;
}

}  // namespace

TextExplanation TextClassifier::Explain(std::string_view text, int category_index, const TextExplainOptions& eo) const {
  const ModelMetadata& m = model_->metadata();
  if (category_index < -1 || category_index >= static_cast<int>(m.labels.size()))
    throw Error(ErrorCode::kOption, "category index " + std::to_string(category_index) + " out of range");
  if (eo.steps < 2) throw Error(ErrorCode::kOption, "integrated gradients needs steps >= 2, found " + std::to_string(eo.steps));
  const bool has_ig = m.explain && m.explain->method == "integrated_gradients" && model_->SupportsGradients() &&
                      model_->HasMethod(m.explain->features_method) && model_->HasMethod(m.explain->head_method);
  std::string method = eo.method == "auto" ? (has_ig ? "integrated_gradients" : "occlusion") : eo.method;
  if (method == "integrated_gradients" && !has_ig)
    throw Error(ErrorCode::kUnsupported, model_->path() + ": integrated gradients need a TorchScript bundle whose metadata "
                                                          "names its embedding and classifier methods; use occlusion");
  if (method != "integrated_gradients" && method != "occlusion")
    throw Error(ErrorCode::kOption, "method must be auto, integrated_gradients or occlusion, found \"" + method + "\"");

  // Tokens with offsets; explanations cover the first window of a long text.
  std::vector<Token> tokens = tokenizer_->Tokenize(text);
  if (tokens.empty()) throw Error(ErrorCode::kInput, text.empty() ? "empty text" : "text has no tokens");
  const SequenceTemplate& tmpl = tokenizer_->sequence_template();
  const size_t budget = static_cast<size_t>(m.text->max_length) - tmpl.prefix.size() - tmpl.suffix.size();
  if (tokens.size() > budget) tokens.resize(budget);
  std::vector<int> row(tmpl.prefix);
  for (const auto& t : tokens) row.push_back(t.id);
  row.insert(row.end(), tmpl.suffix.begin(), tmpl.suffix.end());
  const std::vector<float> base = RunRows({&row}).front();
  int target = category_index >= 0 ? category_index
                                   : static_cast<int>(std::max_element(base.begin(), base.end()) - base.begin());
  TextExplanation ex;
  ex.method = method;
  ex.category = {target, m.labels[static_cast<size_t>(target)], base[static_cast<size_t>(target)]};

  // Per-token scores (row positions of the text tokens start after the prefix).
  std::vector<float> token_score(tokens.size(), 0.0f);
  const auto words = Words(text);
  std::vector<int> word_of(tokens.size(), -1);
  for (size_t t = 0; t < tokens.size(); ++t) {
    size_t at = tokens[t].begin;
    while (at < tokens[t].end && std::isspace(static_cast<unsigned char>(text[at]))) ++at;
    for (size_t w = 0; w < words.size(); ++w)
      if (at >= words[w].first && at < words[w].second) word_of[t] = static_cast<int>(w);
  }
  std::vector<float> word_score(words.size(), 0.0f);
  if (method == "integrated_gradients") {
    const int64_t T = static_cast<int64_t>(row.size());
    NamedTensors e = model_->RunMethod(m.explain->features_method, {{ids_input_, Tensor::FromVector(std::vector<int64_t>(row.begin(), row.end()), {1, T})}});
    const Tensor emb = e[0].second;
    if (emb.dim() != 3) throw Error(ErrorCode::kMetadata, model_->path() + ": embedding method returned " + emb.Describe() + "; expected [1, T, D]");
    const int64_t D = emb.size(2), S = eo.steps;
    // Midpoint Riemann sum of gradients along the straight path from a zero baseline.
    Tensor path = Tensor::Empty(DType::kFloat32, {S, T, D});
    for (int64_t s = 0; s < S; ++s) {
      const float alpha = (static_cast<float>(s) + 0.5f) / static_cast<float>(S);
      for (int64_t i = 0; i < T * D; ++i) path.data<float>()[s * T * D + i] = alpha * emb.data<float>()[i];
    }
    NamedTensors args;
    args.Set("embeddings", path);
    if (!mask_input_.empty()) args.Set("mask", Tensor::FromVector(std::vector<int64_t>(static_cast<size_t>(S * T), 1), {S, T}));
    GradientResult g = model_->RunMethodWithGradient(m.explain->head_method, args, "", 0, std::vector<int64_t>(static_cast<size_t>(S), target));
    for (size_t t = 0; t < tokens.size(); ++t) {
      const int64_t pos = static_cast<int64_t>(tmpl.prefix.size() + t);
      double a = 0;
      for (int64_t d = 0; d < D; ++d) {
        double grad = 0;
        for (int64_t s = 0; s < S; ++s) grad += g.gradient.data<float>()[(s * T + pos) * D + d];
        a += emb.data<float>()[pos * D + d] * grad / static_cast<double>(S);
      }
      token_score[t] = static_cast<float>(a);
    }
    for (size_t t = 0; t < tokens.size(); ++t)
      if (word_of[t] >= 0) word_score[static_cast<size_t>(word_of[t])] += token_score[t];
  } else {
    // Occlusion: drop each word's tokens and measure the probability change.
    std::vector<std::vector<int>> variants;
    for (size_t w = 0; w < words.size(); ++w) {
      std::vector<int> v(tmpl.prefix);
      for (size_t t = 0; t < tokens.size(); ++t)
        if (word_of[t] != static_cast<int>(w)) v.push_back(tokens[t].id);
      v.insert(v.end(), tmpl.suffix.begin(), tmpl.suffix.end());
      variants.push_back(std::move(v));
    }
    const size_t step = static_cast<size_t>(options_.max_batch_size);
    for (size_t b = 0; b < variants.size(); b += step) {
      std::vector<const std::vector<int>*> batch;
      for (size_t i = b; i < std::min(variants.size(), b + step); ++i) batch.push_back(&variants[i]);
      const auto probs = RunRows(batch);
      for (size_t i = 0; i < batch.size(); ++i)
        word_score[b + i] = base[static_cast<size_t>(target)] - probs[i][static_cast<size_t>(target)];
    }
  }
  float scale = 0;
  for (float v : word_score) scale = std::max(scale, std::fabs(v));
  for (size_t w = 0; w < words.size(); ++w) {
    WordAttribution a;
    a.begin = words[w].first;
    a.end = words[w].second;
    a.word = std::string(text.substr(a.begin, a.end - a.begin));
    a.weight = scale > 0 ? word_score[w] / scale : 0.0f;
    ex.words.push_back(std::move(a));
  }
  return ex;
}

}  // namespace sense::text
