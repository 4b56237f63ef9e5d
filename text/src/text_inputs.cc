#include "sense/text/text_inputs.h"

#include <algorithm>
#include <array>
#include <optional>
#include <random>

#include "sense/inference/error.h"

namespace sense::text {

namespace {

constexpr std::array<TextInputRole, 5> kRoles = {TextInputRole::kIds, TextInputRole::kMask, TextInputRole::kTypeIds,
                                                 TextInputRole::kPositionIds, TextInputRole::kLengths};
// Roles that inputs without a name in text.input_names take, in this order.
constexpr std::array<TextInputRole, 4> kOrderRoles = {TextInputRole::kIds, TextInputRole::kMask,
                                                      TextInputRole::kTypeIds, TextInputRole::kPositionIds};

std::string RoleList() {
  std::string s;
  for (TextInputRole r : kRoles) s += (s.empty() ? "" : ", ") + std::string(TextInputRoleName(r));
  return s;
}

// Writes v (one value per element) into t in its dtype.
void Fill(Tensor* t, const std::vector<int64_t>& v) {
  const std::size_t n = v.size();
  switch (t->dtype()) {
    case DType::kInt64: std::copy(v.begin(), v.end(), t->data<int64_t>()); break;
    case DType::kInt32:
      for (std::size_t i = 0; i < n; ++i) t->data<int32_t>()[i] = static_cast<int32_t>(v[i]);
      break;
    case DType::kFloat32:
      for (std::size_t i = 0; i < n; ++i) t->data<float>()[i] = static_cast<float>(v[i]);
      break;
    case DType::kFloat64:
      for (std::size_t i = 0; i < n; ++i) t->data<double>()[i] = static_cast<double>(v[i]);
      break;
    case DType::kBool:
      for (std::size_t i = 0; i < n; ++i) t->data<bool>()[i] = v[i] != 0;
      break;
    case DType::kUInt8:
      throw Error(ErrorCode::kInternal, "text input of dtype uint8 passed BindTextInputs");
  }
}

}  // namespace

const char* TextInputRoleName(TextInputRole role) {
  switch (role) {
    case TextInputRole::kIds: return "ids";
    case TextInputRole::kMask: return "mask";
    case TextInputRole::kTypeIds: return "type_ids";
    case TextInputRole::kPositionIds: return "position_ids";
    case TextInputRole::kLengths: return "lengths";
  }
  return "?";
}

std::vector<TextInputBinding> BindTextInputs(const ModelMetadata& m, const std::string& source) {
  if (!m.text) throw Error(ErrorCode::kMetadata, source + ": a " + std::string(TaskName(m.task)) + " model has no 'text' section");
  std::vector<std::optional<TextInputRole>> role_of(m.inputs.size());
  std::vector<bool> claimed(kRoles.size(), false);
  const auto input_index = [&](const std::string& name) -> std::size_t {
    for (std::size_t i = 0; i < m.inputs.size(); ++i)
      if (m.inputs[i].name == name) return i;
    return m.inputs.size();
  };
  for (const auto& [key, input] : m.text->input_names) {
    auto r = std::find_if(kRoles.begin(), kRoles.end(), [&](TextInputRole x) { return key == TextInputRoleName(x); });
    if (r == kRoles.end())
      throw Error(ErrorCode::kMetadata, source + ": text.input_names: unknown role '" + key + "'; expected " + RoleList());
    const std::size_t i = input_index(input);
    if (i == m.inputs.size())
      throw Error(ErrorCode::kMetadata, source + ": text.input_names." + key + " names '" + input +
                                            "', which is not a model input");
    if (role_of[i])
      throw Error(ErrorCode::kMetadata, source + ": text.input_names: roles " + TextInputRoleName(*role_of[i]) + " and " +
                                            key + " both name input '" + input + "'; each input takes one role");
    role_of[i] = *r;
    claimed[static_cast<std::size_t>(r - kRoles.begin())] = true;
  }
  // Unnamed inputs, in order, take the unclaimed roles, in order.
  std::size_t next = 0;
  for (std::size_t i = 0; i < m.inputs.size(); ++i) {
    if (role_of[i]) continue;
    while (next < kOrderRoles.size() && claimed[static_cast<std::size_t>(kOrderRoles[next])]) ++next;
    if (next == kOrderRoles.size())
      throw Error(ErrorCode::kMetadata, source + ": model input '" + m.inputs[i].name + "' has no role: a text model's " +
                                            "inputs are " + RoleList() + "; name them in text.input_names");
    role_of[i] = kOrderRoles[next];
    claimed[static_cast<std::size_t>(kOrderRoles[next])] = true;
  }
  std::vector<TextInputBinding> out;
  for (std::size_t i = 0; i < m.inputs.size(); ++i) {
    const TensorSpec& s = m.inputs[i];
    TextInputBinding b;
    b.role = *role_of[i];
    b.input = s.name;
    b.dtype = s.dtype;
    const std::string what = source + ": input '" + s.name + "' (role " + TextInputRoleName(b.role) + ")";
    if (b.dtype == DType::kUInt8)
      throw Error(ErrorCode::kMetadata, what + " is uint8; text inputs are int64, int32, float32, float64 or bool");
    const std::size_t rank = b.role == TextInputRole::kLengths ? 1 : 2;
    if (!s.shape.empty() && s.shape.size() != rank)
      throw Error(ErrorCode::kMetadata, what + " has " + std::to_string(s.shape.size()) + " dimensions; expected " +
                                            (rank == 1 ? "[batch]" : "[batch, length]"));
    if (rank == 2 && !s.shape.empty() && s.shape[1] > 0) b.fixed_length = s.shape[1];
    out.push_back(b);
  }
  if (!FindBinding(out, TextInputRole::kIds))
    throw Error(ErrorCode::kMetadata, source + ": no model input takes the token ids (role ids)");
  return out;
}

const TextInputBinding* FindBinding(const std::vector<TextInputBinding>& bindings, TextInputRole role) {
  for (const auto& b : bindings)
    if (b.role == role) return &b;
  return nullptr;
}

int64_t PaddedLength(const std::vector<TextInputBinding>& bindings, const TextPreprocessing& text,
                     const std::vector<const EncodedInput*>& rows) {
  for (const auto& b : bindings)
    if (b.fixed_length > 0) return b.fixed_length;
  if (text.padding == Padding::kMaxLength) return text.max_length;
  std::size_t longest = 0;
  for (const auto* r : rows) longest = std::max(longest, r->length());
  return static_cast<int64_t>(longest);
}

NamedTensors MakeTextInputs(const std::vector<TextInputBinding>& bindings, const TextPreprocessing& text,
                            const std::vector<const EncodedInput*>& rows) {
  if (rows.empty()) throw Error(ErrorCode::kInput, "no rows to feed the model");
  const int64_t B = static_cast<int64_t>(rows.size());
  const int64_t T = PaddedLength(bindings, text, rows);
  for (std::size_t r = 0; r < rows.size(); ++r) {
    // A padded row may carry padding past T; only its valid tokens must fit.
    const auto& mask = rows[r]->attention_mask;
    const std::size_t valid = static_cast<std::size_t>(std::count(mask.begin(), mask.end(), 1));
    if (static_cast<int64_t>(valid) > T)
      throw Error(ErrorCode::kInput, "row " + std::to_string(r) + " has " + std::to_string(valid) +
                                         " tokens; the model takes " + std::to_string(T));
  }
  NamedTensors inputs;
  for (const auto& b : bindings) {
    if (b.role == TextInputRole::kLengths) {
      std::vector<int64_t> v(rows.size());
      for (std::size_t r = 0; r < rows.size(); ++r) {
        const auto& mask = rows[r]->attention_mask;
        v[r] = std::count(mask.begin(), mask.end(), 1);
      }
      Tensor t = Tensor::Empty(b.dtype, {B});
      Fill(&t, v);
      inputs.Set(b.input, t);
      continue;
    }
    const int64_t pad = b.role == TextInputRole::kIds ? text.pad_id : 0;
    std::vector<int64_t> v(static_cast<std::size_t>(B * T), pad);
    for (std::size_t r = 0; r < rows.size(); ++r) {
      const EncodedInput& row = *rows[r];
      int64_t* dst = v.data() + static_cast<int64_t>(r) * T;
      const std::size_t n = std::min<std::size_t>(row.length(), static_cast<std::size_t>(T));
      switch (b.role) {
        case TextInputRole::kIds:
          for (std::size_t j = 0; j < n; ++j) dst[j] = row.attention_mask[j] ? row.ids[j] : pad;
          break;
        case TextInputRole::kMask: std::copy(row.attention_mask.begin(), row.attention_mask.begin() + n, dst); break;
        case TextInputRole::kTypeIds: std::copy(row.type_ids.begin(), row.type_ids.begin() + n, dst); break;
        case TextInputRole::kPositionIds:
          for (int64_t j = 0; j < T; ++j) dst[j] = j;
          break;
        case TextInputRole::kLengths: break;
      }
    }
    Tensor t = Tensor::Empty(b.dtype, {B, T});
    Fill(&t, v);
    inputs.Set(b.input, t);
  }
  return inputs;
}

SampleInputs SampleInputsFor(std::shared_ptr<const Tokenizer> tokenizer) {
  return [tokenizer](const ModelMetadata& m, const std::vector<int64_t>& row_lengths) -> NamedTensors {
    const std::vector<TextInputBinding> bindings = BindTextInputs(m, m.name);
    const SequenceTemplate& s = tokenizer->sequence_template();
    int64_t limit = m.text->max_length;
    for (const auto& b : bindings)
      if (b.fixed_length > 0) limit = std::min(limit, b.fixed_length);
    std::mt19937 gen(1234);  // fixed: a load is reproducible
    std::uniform_int_distribution<int64_t> id(0, std::max(0, tokenizer->vocab_size() - 1));
    std::vector<EncodedInput> rows;
    for (int64_t want : row_lengths) {
      const int64_t n = std::max<int64_t>(1, std::min(want, limit));
      EncodedInput row;
      for (int64_t j = 0; j < n; ++j) row.ids.push_back(id(gen));
      // The wrapping special tokens where a text task puts them, when they fit.
      if (static_cast<int64_t>(s.prefix.size() + s.suffix.size()) < n) {
        std::copy(s.prefix.begin(), s.prefix.end(), row.ids.begin());
        std::copy(s.suffix.begin(), s.suffix.end(), row.ids.end() - static_cast<std::ptrdiff_t>(s.suffix.size()));
      }
      row.attention_mask.assign(row.ids.size(), 1);
      row.type_ids.assign(row.ids.size(), 0);
      row.sequence_ids.assign(row.ids.size(), 0);
      row.offsets.assign(row.ids.size(), Span{0, 0});
      rows.push_back(std::move(row));
    }
    std::vector<const EncodedInput*> ptrs;
    for (const auto& r : rows) ptrs.push_back(&r);
    return MakeTextInputs(bindings, *m.text, ptrs);
  };
}

std::unique_ptr<Tokenizer> BundleTokenizer(const BundleFiles& bundle, const std::string& path, InvalidUtf8 invalid_utf8) {
  const ModelMetadata& m = bundle.metadata;
  if (!m.text) throw Error(ErrorCode::kMetadata, path + ": a " + std::string(TaskName(m.task)) + " model has no tokenizer");
  TokenizerOptions to;
  to.spec = m.text->tokenizer;
  to.data = bundle.assets.at(m.text->tokenizer.asset);  // the metadata requires it among the assets
  to.source = path + ":" + m.text->tokenizer.asset;
  to.invalid_utf8 = invalid_utf8;
  return CreateTokenizer(to);
}

ModelOptions WithTextSampleInputs(ModelOptions options, InvalidUtf8 invalid_utf8) {
  if (options.sample_inputs) return options;
  const BundleFiles bundle = ReadBundleFiles(options.path, options.metadata_path);
  if (!bundle.metadata.text) return options;
  options.sample_inputs = SampleInputsFor(BundleTokenizer(bundle, options.path, invalid_utf8));
  return options;
}

}  // namespace sense::text
