// sense/inference/embedding.h — what image and text embedders share: the
// Embedding result, pooling token vectors into one, L2 normalisation, int8
// scalar quantisation, cosine and dot similarity, and the identity of the
// model that made a vector (so that a vector index refuses queries from
// another model).
//
// Thread safety: plain values and pure functions.
#ifndef SENSE_INFERENCE_EMBEDDING_H_
#define SENSE_INFERENCE_EMBEDDING_H_

#include <cstdint>
#include <string>
#include <vector>

#include "sense/inference/metadata.h"

namespace sense {

// One vector per input. `values` always holds the float vector (L2-normalised
// when the embedder normalises). With quantisation on, `quantized` holds the
// int8 codes and `scale` the step: values[i] ~= quantized[i] * scale
// (symmetric, one scale per vector: scale = max |value| / 127), and `values`
// holds that dequantised form, so what is compared is what is stored.
struct Embedding {
  std::vector<float> values;
  std::vector<int8_t> quantized;  // empty unless quantised
  float scale = 0.0f;             // quantised: the step of one code; 0 otherwise
  bool normalized = false;        // values have unit L2 norm (before quantisation)
  int num_tokens = 0;             // text: tokens pooled (special tokens included); images: 0
  bool truncated = false;         // text: tokens past the model's max_length were dropped
  int windows = 1;                // text: windows whose vectors were averaged
  std::size_t dim() const { return values.size(); }
};

// How token vectors [T, D] become one [D] (EmbeddingSpec::pooling).
enum class Pooling {
  kNone,  // the model pools: its output is [N, D]
  kMean,  // mean over the tokens whose mask is 1
  kCls,   // the first token's vector
  kMax,   // element-wise maximum over the tokens whose mask is 1
};
// "none", "mean", "cls", "max"; anything else is Error(kMetadata) listing them.
Pooling ParsePooling(const std::string& name);
const char* PoolingName(Pooling pooling);

// Pools `tokens` rows of `dim` floats (row-major, token t at data + t * dim).
// `mask` has `tokens` entries (nonzero: a real token) or is null (all real).
// Throws Error(kInput) when no token is real (mean, max) or tokens == 0;
// Error(kOption) for kNone.
std::vector<float> PoolTokens(const float* data, int64_t tokens, int64_t dim, const int64_t* mask, Pooling pooling);

// Scales to unit L2 norm; a zero vector stays zero. Returns the norm before.
float L2Normalize(std::vector<float>& v);

// Symmetric int8 scalar quantisation with one scale per vector
// (code = round(v / scale), scale = max |v| / 127; all-zero: scale 0).
struct QuantizedVector {
  std::vector<int8_t> codes;
  float scale = 0.0f;
};
QuantizedVector QuantizeInt8(const std::vector<float>& v);
std::vector<float> DequantizeInt8(const QuantizedVector& q);

// Similarity of two embeddings of one model. Both quantised: computed on the
// int8 codes (an integer dot product times the scales). Throws Error(kInput)
// when the dimensions differ.
float DotSimilarity(const Embedding& a, const Embedding& b);
// Dot product over the product of norms; 0 when either vector is zero.
float CosineSimilarity(const Embedding& a, const Embedding& b);

enum class Similarity { kCosine, kDot };
// "cosine", "dot"; anything else is Error(kOption).
Similarity ParseSimilarity(const std::string& name);
const char* SimilarityName(Similarity similarity);

// Which model made a vector: vectors of different models (or of one model
// at different settings) are not comparable. `fingerprint` is a 64-bit
// FNV-1a hash of the model file's bytes, in hex.
struct EmbeddingModelIdentity {
  std::string name;         // the bundle's metadata name
  std::string version;      // the bundle's metadata version
  std::string task;         // "image_embedding" or "text_embedding"
  std::string fingerprint;  // 16 hex digits
  int dim = 0;              // vector size
  bool normalized = false;  // vectors are L2-normalised
  bool quantized = false;   // vectors are int8-quantised
  // "fashion-embed 1.0.0 (image_embedding, 128-d, normalised, 0123456789abcdef)"
  std::string Describe() const;
  bool operator==(const EmbeddingModelIdentity& o) const;
  bool operator!=(const EmbeddingModelIdentity& o) const { return !(*this == o); }
};
// FNV-1a 64 of a file's bytes as 16 hex digits. Throws Error(kFile).
std::string FileFingerprint(const std::string& path);

}  // namespace sense

#endif  // SENSE_INFERENCE_EMBEDDING_H_
