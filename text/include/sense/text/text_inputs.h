// sense/text/text_inputs.h — how a text model is fed: which model input
// carries which role, and the one function that turns encoded rows into the
// model's input tensors. Every text task (classification, explanations,
// entities, embeddings) and the load-time checks build inputs here.
//
// Roles (sense.json text.input_names, docs/model-format.md):
//   ids           token ids, [batch, length]
//   mask          attention mask: 1 for tokens, 0 for padding, [batch, length]
//   type_ids      segment ids: 0 for the first text, 1 for a pair, [batch, length]
//   position_ids  0, 1, 2 ... per row (padding positions too), [batch, length]
//   lengths       tokens per row, [batch]
// A role named in text.input_names feeds that input. The model inputs no
// name claims take, in their declared order, the roles no name claims, in
// the order ids, mask, type_ids, position_ids (the BERT export order:
// input_ids, attention_mask, token_type_ids); `lengths` is fed only when
// named. Every model input must get exactly one role.
//
// Thread safety: plain functions and values.
#ifndef SENSE_TEXT_TEXT_INPUTS_H_
#define SENSE_TEXT_TEXT_INPUTS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sense/inference/metadata.h"
#include "sense/inference/model.h"
#include "sense/inference/tensor.h"
#include "sense/text/model_inputs.h"
#include "sense/text/tokenizer.h"

namespace sense::text {

enum class TextInputRole { kIds, kMask, kTypeIds, kPositionIds, kLengths };
// "ids", "mask", "type_ids", "position_ids", "lengths".
const char* TextInputRoleName(TextInputRole role);

// One model input and the role that feeds it.
struct TextInputBinding {
  TextInputRole role = TextInputRole::kIds;
  std::string input;              // the model input's name
  DType dtype = DType::kInt64;    // its declared dtype: int64, int32, float32, float64 or bool
  int64_t fixed_length = -1;      // a sequence length the input's shape fixes; -1: dynamic
};

// The bindings of a text model, in the model's input order. Throws
// Error(kMetadata), prefixed with `source`, when the metadata has no text
// section, text.input_names names an unknown role or an input the model
// lacks, two roles claim one input ("roles ids and mask both name input
// 'ids'"), an input is left without a role, a role has a dtype sense cannot
// feed, or a token input is not of rank 2 ([batch, length]).
std::vector<TextInputBinding> BindTextInputs(const ModelMetadata& metadata, const std::string& source);

// The binding of `role`, or nullptr when the model does not take it.
const TextInputBinding* FindBinding(const std::vector<TextInputBinding>& bindings, TextInputRole role);

// The sequence length a batch of rows is padded to: the inputs' fixed length
// if one is declared, else text.max_length for padding "max_length", else
// the longest row.
int64_t PaddedLength(const std::vector<TextInputBinding>& bindings, const TextPreprocessing& text,
                     const std::vector<const EncodedInput*>& rows);

// The model inputs for `rows` (EncodedInput as EncodeBatch makes them, padded
// or not), one batch row each, in order: ids padded on the right with
// text.pad_id, mask 0 and type id 0 on padding, converted to each input's
// declared dtype. Throws Error(kInput) for no rows or a row longer than a
// fixed input length.
NamedTensors MakeTextInputs(const std::vector<TextInputBinding>& bindings, const TextPreprocessing& text,
                            const std::vector<const EncodedInput*>& rows);

// The hook for ModelOptions::sample_inputs (model.h): rows of the requested
// lengths (at most text.max_length) made of the tokenizer's wrapping special
// tokens around ids drawn from a fixed-seed generator over the whole
// vocabulary, then MakeTextInputs. So Model::Load's verification pass and
// the check of an optimised recurrent graph see the inputs a text task feeds.
// The tokenizer is shared by the hook.
SampleInputs SampleInputsFor(std::shared_ptr<const Tokenizer> tokenizer);

// Reads the bundle's tokenizer (its bundled asset, without loading the model)
// and returns `options` with sample_inputs set from it, unless already set.
// A bundle whose metadata has no text section is returned unchanged. One
// call for a tool that loads text bundles with Model::Load (sense-info):
//   auto model = sense::Model::Load(sense::text::WithTextSampleInputs(options));
// Throws Error (kFile, kMetadata, kModelFormat) as Model::Load would.
ModelOptions WithTextSampleInputs(ModelOptions options, InvalidUtf8 invalid_utf8 = InvalidUtf8::kError);

// The tokenizer a text bundle describes, from its files as ReadBundleFiles
// returns them (so before, or without, loading the model). `path` names the
// bundle in messages. Error(kMetadata) for a bundle without a text section.
std::unique_ptr<Tokenizer> BundleTokenizer(const BundleFiles& bundle, const std::string& path, InvalidUtf8 invalid_utf8);

}  // namespace sense::text

#endif  // SENSE_TEXT_TEXT_INPUTS_H_
