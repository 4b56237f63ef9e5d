#include "sense/text/text_classifier.h"

#include "sense/text/model_inputs.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <numeric>
#include <optional>

namespace sense::text {

TextExplainMethod ParseTextExplainMethod(const std::string& name) {
  for (TextExplainMethod m : {TextExplainMethod::kAuto, TextExplainMethod::kIntegratedGradients, TextExplainMethod::kOcclusion})
    if (name == TextExplainMethodName(m)) return m;
  throw Error(ErrorCode::kOption, "explain method must be auto, integrated_gradients or occlusion; found \"" + name + "\"");
}

const char* TextExplainMethodName(TextExplainMethod method) {
  switch (method) {
    case TextExplainMethod::kAuto: return "auto";
    case TextExplainMethod::kIntegratedGradients: return "integrated_gradients";
    case TextExplainMethod::kOcclusion: return "occlusion";
  }
  return "?";
}

void TextClassifier::ValidateExplainOptions(const TextExplainOptions& o) {
  if (o.steps < 2) throw Error(ErrorCode::kOption, "integrated gradients needs steps >= 2, found " + std::to_string(o.steps));
}

std::unique_ptr<TextClassifier> TextClassifier::Create(const TextClassifierOptions& options) {
  if (options.max_batch_size < 1)
    throw Error(ErrorCode::kOption, "max_batch_size must be >= 1, found " + std::to_string(options.max_batch_size));
  const ModelMetadata m = ReadBundleMetadata(options.model.path, options.model.metadata_path);
  if (m.task != Task::kTextClassification)
    throw Error(ErrorCode::kMetadata, options.model.path + ": is a " + TaskName(m.task) +
                                          " model; TextClassifier needs a text_classification bundle");
  ValidateClassifierOptions(options.classifier, m.labels);
  TextRunnerOptions ro;
  ro.model = options.model;
  ro.max_batch_size = options.max_batch_size;
  ro.invalid_utf8 = options.invalid_utf8;
  return std::unique_ptr<TextClassifier>(new TextClassifier(options, TextRunner::Create(ro)));
}

TextClassifier::TextClassifier(TextClassifierOptions options, std::unique_ptr<TextRunner> runner)
    : options_(std::move(options)), runner_(std::move(runner)) {
  const ModelMetadata& m = metadata();
  if (m.ood && options_.classifier.detect_out_of_domain)
    ood_.emplace(*m.ood, static_cast<int>(m.labels.size()), m.output.temperature,
                 m.ood->statistics_asset.empty() ? std::string() : model().Asset(m.ood->statistics_asset));
}

namespace {

// A float32 [1, width] row of a named output, checked.
const float* OutputRow(const NamedTensors& row_outputs, const std::string& name, int64_t width, const std::string& path,
                       Tensor* keep) {
  const Tensor& t = row_outputs.at(name);
  if (t.dim() != 2 || t.size(0) != 1 || t.size(1) != width)
    throw Error(ErrorCode::kBackend, path + ": expected output '" + name + "' [batch, " + std::to_string(width) +
                                         "], model returned a row of " + t.Describe());
  *keep = t.dtype() == DType::kFloat32 ? t : t.ToFloat();
  return keep->data<float>();
}

}  // namespace

std::vector<float> TextClassifier::RowProbabilities(const NamedTensors& row_outputs) const {
  const ModelMetadata& m = metadata();
  const Tensor& logits = row_outputs.at(m.output.name);
  const int64_t k = static_cast<int64_t>(m.labels.size());
  if (logits.dim() != 2 || logits.size(0) != 1 || logits.size(1) != k)
    throw Error(ErrorCode::kBackend, model().path() + ": expected output [batch, " + std::to_string(k) +
                                         "], model returned a row of " + logits.Describe());
  const Tensor f = logits.dtype() == DType::kFloat32 ? logits : logits.ToFloat();
  return Probabilities(f.data<float>(), static_cast<int>(k), m.output);
}

std::vector<Outcome<std::vector<float>>> TextClassifier::GroupProbabilities(
    const std::vector<std::vector<EncodedInput>>& groups, std::vector<std::optional<OutOfDomain>>* ood) const {
  const bool score = ood && ood_;
  std::vector<std::vector<double>> raw_sums(score ? groups.size() : 0);
  // Out-of-domain raw signals of one row: its logits, its features, and the
  // share of unknown tokens among the group's text tokens (all its rows).
  auto row_signals = [&](const NamedTensors& outputs, std::size_t g) {
    const ModelMetadata& m = metadata();
    Tensor logits, features;
    OodInputs in;
    in.num_classes = static_cast<int>(m.labels.size());
    in.logits = OutputRow(outputs, m.output.name, in.num_classes, model().path(), &logits);
    if (ood_->needs_features()) {
      in.feature_dim = m.ood->feature_dim;
      in.features = OutputRow(outputs, m.ood->features_output, in.feature_dim, model().path(), &features);
    }
    if (m.ood->Uses(OodSignalKind::kUnknownShare)) {
      const int unk = tokenizer().special_ids().unk;
      std::size_t text = 0, unknown = 0;
      for (const auto& r : groups[g])
        for (std::size_t p = 0; p < r.ids.size(); ++p)
          if (r.sequence_ids[p] == 0) {
            ++text;
            unknown += r.ids[p] == unk;
          }
      in.unknown_share = text ? static_cast<float>(unknown) / static_cast<float>(text) : 1.0f;
    }
    return ood_->RawSignals(in);
  };
  std::vector<const EncodedInput*> rows;
  std::vector<std::size_t> group_of;
  for (std::size_t g = 0; g < groups.size(); ++g)
    for (const auto& r : groups[g]) {
      rows.push_back(&r);
      group_of.push_back(g);
    }
  const auto outputs = runner_->Run(rows);
  const std::size_t k = metadata().labels.size();
  std::vector<std::vector<float>> sums(groups.size(), std::vector<float>(k, 0.0f));
  std::vector<std::optional<Error>> errors(groups.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::size_t g = group_of[i];
    if (errors[g]) continue;
    Outcome<std::vector<float>> p =
        outputs[i].ok() ? Capture([&] { return RowProbabilities(outputs[i].value()); }, ErrorCode::kBackend)
                        : Outcome<std::vector<float>>(outputs[i].error());
    if (p.ok() && score) {
      auto raw = Capture([&] { return row_signals(outputs[i].value(), g); }, ErrorCode::kBackend);
      if (!raw.ok()) p = Outcome<std::vector<float>>(raw.error());
      else if (raw_sums[g].empty()) raw_sums[g] = raw.value();
      else for (std::size_t j = 0; j < raw.value().size(); ++j) raw_sums[g][j] += raw.value()[j];
    }
    if (!p.ok()) {
      errors[g] = p.error();
      continue;
    }
    for (std::size_t c = 0; c < k; ++c) sums[g][c] += p.value()[c];
  }
  if (ood) ood->assign(groups.size(), std::nullopt);
  if (score)
    for (std::size_t g = 0; g < groups.size(); ++g)
      if (!errors[g] && !groups[g].empty()) {
        for (double& v : raw_sums[g]) v /= static_cast<double>(groups[g].size());
        (*ood)[g] = ood_->FromRaw(raw_sums[g]);
      }
  std::vector<Outcome<std::vector<float>>> out;
  out.reserve(groups.size());
  for (std::size_t g = 0; g < groups.size(); ++g) {
    if (errors[g]) {
      out.emplace_back(*errors[g]);
      continue;
    }
    if (groups[g].empty()) {
      out.emplace_back(Error(ErrorCode::kInternal, "a text with no model rows"));
      continue;
    }
    const float n = static_cast<float>(groups[g].size());
    for (float& v : sums[g]) v /= n;
    out.emplace_back(std::move(sums[g]));
  }
  return out;
}

TextClassification TextClassifier::Classify(std::string_view text) const {
  return ClassifyBatch({std::string(text)}).front().value();
}

std::vector<Outcome<TextClassification>> TextClassifier::ClassifyBatch(const std::vector<std::string>& texts) const {
  auto encoded = runner_->Encode(texts);
  std::vector<std::vector<EncodedInput>> groups;
  std::vector<std::size_t> text_of;
  for (std::size_t i = 0; i < texts.size(); ++i)
    if (encoded[i].ok()) {
      groups.push_back(std::move(encoded[i].value()));
      text_of.push_back(i);
    }
  std::vector<std::optional<OutOfDomain>> ood;
  const auto probs = GroupProbabilities(groups, &ood);
  std::vector<std::optional<Outcome<TextClassification>>> out(texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i)
    if (!encoded[i].ok()) out[i] = encoded[i].error();
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const std::size_t i = text_of[g];
    if (!probs[g].ok()) {
      out[i] = probs[g].error();
      continue;
    }
    const EncodedInput& first = groups[g].front();
    TextClassification r;
    r.classifications = FromProbabilities(probs[g].value(), metadata().labels, options_.classifier);
    r.classifications.out_of_domain = ood[g];
    r.num_tokens = static_cast<int>(std::count(first.sequence_ids.begin(), first.sequence_ids.end(), 0) + first.truncated);
    r.truncated = groups[g].size() == 1 && first.truncated > 0;
    r.windows = static_cast<int>(groups[g].size());
    out[i] = std::move(r);
  }
  std::vector<Outcome<TextClassification>> result;
  result.reserve(texts.size());
  for (auto& o : out) result.push_back(std::move(*o));
  return result;
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
  const ModelMetadata& m = metadata();
  const Model& model = runner_->model();
  if (category_index < -1 || category_index >= static_cast<int>(m.labels.size()))
    throw Error(ErrorCode::kOption, "category index " + std::to_string(category_index) + " out of range [-1, " +
                                        std::to_string(m.labels.size()) + ")");
  ValidateExplainOptions(eo);
  const bool has_ig = m.explain && m.explain->method == "integrated_gradients" && model.SupportsGradients() &&
                      model.HasMethod(m.explain->features_method) && model.HasMethod(m.explain->head_method);
  const TextExplainMethod method = eo.method != TextExplainMethod::kAuto ? eo.method
                                   : has_ig ? TextExplainMethod::kIntegratedGradients
                                            : TextExplainMethod::kOcclusion;
  if (method == TextExplainMethod::kIntegratedGradients && !has_ig)
    throw Error(ErrorCode::kUnsupported, model.path() + ": integrated gradients need a TorchScript bundle whose metadata "
                                                        "names its embedding and classifier methods; use occlusion");

  // The rows Classify feeds: every window of a long text.
  const std::vector<EncodedInput> rows = runner_->Encode({std::string(text)}).front().value();
  const std::vector<float> base = GroupProbabilities({rows}).front().value();
  const int target = category_index >= 0 ? category_index
                                         : static_cast<int>(std::max_element(base.begin(), base.end()) - base.begin());
  TextExplanation ex;
  ex.method = TextExplainMethodName(method);
  ex.category = {target, m.labels[static_cast<size_t>(target)], base[static_cast<size_t>(target)]};

  // The word each text token of each row belongs to (-1: special or padding).
  const auto words = Words(text);
  const auto word_at = [&](const EncodedInput& row, size_t pos) -> int {
    if (row.sequence_ids[pos] != 0) return -1;
    size_t at = row.offsets[pos].begin;
    while (at < row.offsets[pos].end && std::isspace(static_cast<unsigned char>(text[at]))) ++at;
    for (size_t w = 0; w < words.size(); ++w)
      if (at >= words[w].first && at < words[w].second) return static_cast<int>(w);
    return -1;
  };
  std::vector<std::vector<int>> word_of(rows.size());
  for (size_t r = 0; r < rows.size(); ++r)
    for (size_t p = 0; p < rows[r].length(); ++p) word_of[r].push_back(word_at(rows[r], p));

  std::vector<float> word_score(words.size(), 0.0f);
  const float windows = static_cast<float>(rows.size());
  if (method == TextExplainMethod::kIntegratedGradients) {
    const TextInputBinding& ids = *FindBinding(runner_->bindings(), TextInputRole::kIds);
    for (size_t r = 0; r < rows.size(); ++r) {
      const EncodedInput& row = rows[r];
      const int64_t T = static_cast<int64_t>(row.length());
      NamedTensors one = runner_->Inputs({&row});
      NamedTensors e = model.RunMethod(m.explain->features_method, {{ids.input, one.at(ids.input)}});
      const Tensor emb = e[0].second.dtype() == DType::kFloat32 ? e[0].second : e[0].second.ToFloat();
      if (emb.dim() != 3 || emb.size(0) != 1 || emb.size(1) < T)
        throw Error(ErrorCode::kMetadata, model.path() + ": embedding method returned " + emb.Describe() +
                                              "; expected [1, " + std::to_string(T) + ", D]");
      const int64_t TE = emb.size(1), D = emb.size(2), S = eo.steps;
      // Midpoint Riemann sum of gradients along the straight path from a zero baseline.
      Tensor path = Tensor::Empty(DType::kFloat32, {S, TE, D});
      for (int64_t s = 0; s < S; ++s) {
        const float alpha = (static_cast<float>(s) + 0.5f) / static_cast<float>(S);
        for (int64_t i = 0; i < TE * D; ++i) path.data<float>()[s * TE * D + i] = alpha * emb.data<float>()[i];
      }
      // The head takes the embeddings, then the row's other inputs (mask, type ids ...) as the model does.
      NamedTensors args;
      args.Set("embeddings", path);
      const NamedTensors repeated = runner_->Inputs(std::vector<const EncodedInput*>(static_cast<size_t>(S), &row));
      for (const auto& b : runner_->bindings())
        if (b.role != TextInputRole::kIds) args.Set(b.input, repeated.at(b.input));
      GradientResult g = model.RunMethodWithGradient(m.explain->head_method, args, "", 0,
                                                     std::vector<int64_t>(static_cast<size_t>(S), target));
      for (int64_t pos = 0; pos < T; ++pos) {
        const int w = word_of[r][static_cast<size_t>(pos)];
        if (w < 0) continue;
        double a = 0;
        for (int64_t d = 0; d < D; ++d) {
          double grad = 0;
          for (int64_t s = 0; s < S; ++s) grad += g.gradient.data<float>()[(s * TE + pos) * D + d];
          a += emb.data<float>()[pos * D + d] * grad / static_cast<double>(S);
        }
        word_score[static_cast<size_t>(w)] += static_cast<float>(a) / windows;
      }
    }
  } else {
    // Occlusion: each word's tokens left out of every row; the change of the
    // mean probability over the rows, as Classify averages windows.
    std::vector<std::vector<EncodedInput>> variants(words.size());
    for (size_t w = 0; w < words.size(); ++w)
      for (size_t r = 0; r < rows.size(); ++r) {
        EncodedInput v;
        const EncodedInput& row = rows[r];
        for (size_t p = 0; p < row.length(); ++p) {
          if (word_of[r][p] == static_cast<int>(w)) continue;
          v.ids.push_back(row.ids[p]);
          v.attention_mask.push_back(row.attention_mask[p]);
          v.type_ids.push_back(row.type_ids[p]);
          v.sequence_ids.push_back(row.sequence_ids[p]);
          v.offsets.push_back(row.offsets[p]);
        }
        variants[w].push_back(std::move(v));
      }
    const auto probs = GroupProbabilities(variants);
    for (size_t w = 0; w < words.size(); ++w)
      word_score[w] = base[static_cast<size_t>(target)] - probs[w].value()[static_cast<size_t>(target)];
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
