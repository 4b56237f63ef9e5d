#include "sense/inference/embedding.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "sense/inference/error.h"

namespace sense {

Pooling ParsePooling(const std::string& name) {
  for (Pooling p : {Pooling::kNone, Pooling::kMean, Pooling::kCls, Pooling::kMax})
    if (name == PoolingName(p)) return p;
  throw Error(ErrorCode::kMetadata, "embedding pooling must be \"none\", \"mean\", \"cls\" or \"max\", found \"" + name + "\"");
}

const char* PoolingName(Pooling pooling) {
  switch (pooling) {
    case Pooling::kNone: return "none";
    case Pooling::kMean: return "mean";
    case Pooling::kCls: return "cls";
    case Pooling::kMax: return "max";
  }
  return "?";
}

std::vector<float> PoolTokens(const float* data, int64_t tokens, int64_t dim, const int64_t* mask, Pooling pooling) {
  if (pooling == Pooling::kNone) throw Error(ErrorCode::kOption, "PoolTokens: pooling \"none\" has nothing to pool");
  if (tokens <= 0 || dim <= 0)
    throw Error(ErrorCode::kInput, "cannot pool " + std::to_string(tokens) + " tokens of " + std::to_string(dim) + " values");
  std::vector<float> out(static_cast<size_t>(dim), 0.0f);
  if (pooling == Pooling::kCls) {
    std::copy(data, data + dim, out.begin());
    return out;
  }
  int64_t n = 0;
  for (int64_t t = 0; t < tokens; ++t) {
    if (mask && mask[t] == 0) continue;
    const float* row = data + t * dim;
    if (pooling == Pooling::kMean) {
      for (int64_t d = 0; d < dim; ++d) out[static_cast<size_t>(d)] += row[d];
    } else if (n == 0) {
      std::copy(row, row + dim, out.begin());
    } else {
      for (int64_t d = 0; d < dim; ++d) out[static_cast<size_t>(d)] = std::max(out[static_cast<size_t>(d)], row[d]);
    }
    ++n;
  }
  if (n == 0) throw Error(ErrorCode::kInput, "no unmasked token to pool (" + std::to_string(tokens) + " tokens, all masked)");
  if (pooling == Pooling::kMean)
    for (float& v : out) v /= static_cast<float>(n);
  return out;
}

float L2Normalize(std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += static_cast<double>(x) * x;
  const double norm = std::sqrt(s);
  if (norm > 0)
    for (float& x : v) x = static_cast<float>(x / norm);
  return static_cast<float>(norm);
}

QuantizedVector QuantizeInt8(const std::vector<float>& v) {
  QuantizedVector q;
  float mx = 0;
  for (float x : v) mx = std::max(mx, std::fabs(x));
  q.codes.assign(v.size(), 0);
  if (!(mx > 0) || !std::isfinite(mx)) return q;
  q.scale = mx / 127.0f;
  for (size_t i = 0; i < v.size(); ++i) {
    const float c = std::nearbyint(v[i] / q.scale);
    q.codes[i] = static_cast<int8_t>(std::clamp(c, -127.0f, 127.0f));
  }
  return q;
}

std::vector<float> DequantizeInt8(const QuantizedVector& q) {
  std::vector<float> v(q.codes.size());
  for (size_t i = 0; i < v.size(); ++i) v[i] = q.codes[i] * q.scale;
  return v;
}

namespace {

void CheckDims(const Embedding& a, const Embedding& b) {
  if (a.dim() != b.dim())
    throw Error(ErrorCode::kInput, "cannot compare a " + std::to_string(a.dim()) + "-d embedding with a " +
                                       std::to_string(b.dim()) + "-d one (different models?)");
}

bool BothQuantized(const Embedding& a, const Embedding& b) {
  return !a.quantized.empty() && a.quantized.size() == a.values.size() && !b.quantized.empty() &&
         b.quantized.size() == b.values.size();
}

double Dot(const Embedding& a, const Embedding& b) {
  if (BothQuantized(a, b)) {
    int64_t s = 0;
    for (size_t i = 0; i < a.quantized.size(); ++i) s += static_cast<int32_t>(a.quantized[i]) * b.quantized[i];
    return static_cast<double>(s) * a.scale * b.scale;
  }
  double s = 0;
  for (size_t i = 0; i < a.values.size(); ++i) s += static_cast<double>(a.values[i]) * b.values[i];
  return s;
}

double Norm(const Embedding& e, bool quantized) {
  double s = 0;
  if (quantized) {
    for (int8_t c : e.quantized) s += static_cast<double>(c) * c;
    return std::sqrt(s) * e.scale;
  }
  for (float x : e.values) s += static_cast<double>(x) * x;
  return std::sqrt(s);
}

}  // namespace

float DotSimilarity(const Embedding& a, const Embedding& b) {
  CheckDims(a, b);
  return static_cast<float>(Dot(a, b));
}

float CosineSimilarity(const Embedding& a, const Embedding& b) {
  CheckDims(a, b);
  const bool q = BothQuantized(a, b);
  const double na = Norm(a, q), nb = Norm(b, q);
  if (na <= 0 || nb <= 0) return 0.0f;
  return static_cast<float>(Dot(a, b) / (na * nb));
}

Similarity ParseSimilarity(const std::string& name) {
  if (name == "cosine") return Similarity::kCosine;
  if (name == "dot") return Similarity::kDot;
  throw Error(ErrorCode::kOption, "similarity must be \"cosine\" or \"dot\", found \"" + name + "\"");
}

const char* SimilarityName(Similarity similarity) {
  return similarity == Similarity::kCosine ? "cosine" : "dot";
}

std::string EmbeddingModelIdentity::Describe() const {
  return name + " " + version + " (" + task + ", " + std::to_string(dim) + "-d" + (normalized ? ", normalised" : "") +
         (quantized ? ", int8" : "") + ", " + fingerprint + ")";
}

bool EmbeddingModelIdentity::operator==(const EmbeddingModelIdentity& o) const {
  return name == o.name && version == o.version && task == o.task && fingerprint == o.fingerprint && dim == o.dim &&
         normalized == o.normalized && quantized == o.quantized;
}

std::string FileFingerprint(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kFile, path + ": cannot open to fingerprint it");
  uint64_t h = 1469598103934665603ULL;
  std::vector<char> buf(1 << 16);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const std::streamsize n = in.gcount();
    for (std::streamsize i = 0; i < n; ++i) {
      h ^= static_cast<unsigned char>(buf[static_cast<size_t>(i)]);
      h *= 1099511628211ULL;
    }
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

}  // namespace sense
