#include "sense/inference/tensor.h"

#include <cstring>
#include <limits>
#include <sstream>

namespace sense {

std::size_t DTypeSize(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return 4;
    case DType::kFloat64: return 8;
    case DType::kInt64: return 8;
    case DType::kInt32: return 4;
    case DType::kUInt8: return 1;
    case DType::kBool: return 1;
  }
  return 1;
}

namespace {
std::string Join(const std::vector<int64_t>& shape) {
  std::ostringstream s;
  s << "[";
  for (size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  s << "]";
  return s.str();
}
// Elements of `shape`. Throws Error(kInput) for a negative dimension, or when
// the element count or its size in bytes (8 per element at most) would not
// fit in int64: shapes come from metadata and callers, so a huge one is an
// error, never an overflowed product.
int64_t Product(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) {
      std::ostringstream s;
      s << "tensor shape has a negative dimension " << d;
      throw Error(ErrorCode::kInput, s.str());
    }
    if (__builtin_mul_overflow(n, d, &n) || n > std::numeric_limits<int64_t>::max() / 8)
      throw Error(ErrorCode::kInput, "tensor shape " + Join(shape) + " has too many elements (more than 2^60)");
  }
  return n;
}
}  // namespace

Tensor Tensor::Wrap(void* data, DType dtype, std::vector<int64_t> shape, std::shared_ptr<void> holder,
                    std::size_t available_elements) {
  const int64_t n = Product(shape);
  if (static_cast<std::size_t>(n) != available_elements)
    throw Error(ErrorCode::kInput, "tensor shape " + Join(shape) + " needs " + std::to_string(n) +
                                       " elements, but the buffer holds " + std::to_string(available_elements));
  Tensor t;
  t.holder_ = std::move(holder);
  t.data_ = data;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::Empty(DType dtype, std::vector<int64_t> shape) {
  const int64_t n = Product(shape);
  const std::size_t bytes = std::max<std::size_t>(1, static_cast<std::size_t>(n) * DTypeSize(dtype));
  std::shared_ptr<void> holder(new unsigned char[bytes], [](void* p) { delete[] static_cast<unsigned char*>(p); });
  Tensor t;
  t.data_ = holder.get();
  t.holder_ = std::move(holder);
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::Zeros(DType dtype, std::vector<int64_t> shape) {
  Tensor t = Empty(dtype, std::move(shape));
  std::memset(t.data_, 0, t.nbytes());
  return t;
}

Tensor Tensor::View(void* data, DType dtype, std::vector<int64_t> shape) {
  if (data == nullptr) throw Error(ErrorCode::kInput, "Tensor::View: null data pointer");
  Tensor t;
  t.data_ = data;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  Product(t.shape_);
  return t;
}

Tensor Tensor::View(void* data, DType dtype, std::vector<int64_t> shape, std::shared_ptr<void> owner) {
  Tensor t = View(data, dtype, std::move(shape));
  t.holder_ = std::move(owner);
  return t;
}

int64_t Tensor::size(int64_t d) const {
  const int64_t n = dim();
  const int64_t i = d < 0 ? d + n : d;
  if (i < 0 || i >= n)
    throw Error(ErrorCode::kInput, "dimension " + std::to_string(d) + " out of range for a " + std::to_string(n) + "-D tensor");
  return shape_[static_cast<size_t>(i)];
}

int64_t Tensor::numel() const { return data_ ? Product(shape_) : 0; }

void Tensor::CheckType(DType expected) const {
  if (expected != dtype_)
    throw Error(ErrorCode::kInput, std::string("tensor holds ") + DTypeName(dtype_) + ", accessed as " + DTypeName(expected));
}

Tensor Tensor::Clone() const {
  if (empty()) return Tensor();
  Tensor t = Empty(dtype_, shape_);
  std::memcpy(t.data_, data_, nbytes());
  return t;
}

Tensor Tensor::Reshape(std::vector<int64_t> shape) const {
  int64_t infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) throw Error(ErrorCode::kInput, "Reshape: more than one -1 in " + Join(shape));
      infer = static_cast<int64_t>(i);
    }
  }
  std::vector<int64_t> fixed;
  for (int64_t d : shape)
    if (d != -1) fixed.push_back(d);
  const int64_t known = Product(fixed);  // negative or huge dimensions: Error(kInput)
  if (infer >= 0 && known > 0) shape[static_cast<size_t>(infer)] = numel() / known;
  if (Product(shape) != numel())
    throw Error(ErrorCode::kInput, "cannot reshape " + Describe() + " to " + Join(shape));
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::Slice(int64_t begin, int64_t end) const {
  if (dim() == 0) throw Error(ErrorCode::kInput, "cannot slice a 0-D tensor");
  if (begin < 0 || end < begin || end > shape_[0])
    throw Error(ErrorCode::kInput, "slice [" + std::to_string(begin) + ", " + std::to_string(end) +
                                       ") out of range for first dimension " + std::to_string(shape_[0]));
  Tensor t = *this;
  const int64_t row = shape_[0] ? numel() / shape_[0] : 0;
  t.data_ = static_cast<unsigned char*>(data_) + static_cast<std::size_t>(begin * row) * DTypeSize(dtype_);
  t.shape_[0] = end - begin;
  return t;
}

Tensor Tensor::ToFloat() const {
  Tensor out = Empty(DType::kFloat32, shape_);
  float* o = out.data<float>();
  const int64_t n = numel();
  switch (dtype_) {
    case DType::kFloat32: std::memcpy(o, data_, nbytes()); break;
    case DType::kFloat64: for (int64_t i = 0; i < n; ++i) o[i] = static_cast<float>(static_cast<const double*>(data_)[i]); break;
    case DType::kInt64: for (int64_t i = 0; i < n; ++i) o[i] = static_cast<float>(static_cast<const int64_t*>(data_)[i]); break;
    case DType::kInt32: for (int64_t i = 0; i < n; ++i) o[i] = static_cast<float>(static_cast<const int32_t*>(data_)[i]); break;
    case DType::kUInt8: for (int64_t i = 0; i < n; ++i) o[i] = static_cast<const uint8_t*>(data_)[i]; break;
    case DType::kBool: for (int64_t i = 0; i < n; ++i) o[i] = static_cast<const bool*>(data_)[i] ? 1.f : 0.f; break;
  }
  return out;
}

std::string Tensor::ShapeString() const { return Join(shape_); }
std::string Tensor::Describe() const { return std::string(DTypeName(dtype_)) + Join(shape_); }

NamedTensors::NamedTensors(std::initializer_list<std::pair<std::string, Tensor>> items) {
  for (const auto& it : items) Set(it.first, it.second);
}

void NamedTensors::Set(const std::string& name, Tensor tensor) {
  for (auto& it : items_)
    if (it.first == name) { it.second = std::move(tensor); return; }
  items_.emplace_back(name, std::move(tensor));
}

bool NamedTensors::Contains(const std::string& name) const {
  for (const auto& it : items_) if (it.first == name) return true;
  return false;
}

const Tensor& NamedTensors::at(const std::string& name) const {
  for (const auto& it : items_) if (it.first == name) return it.second;
  std::string names;
  for (const auto& it : items_) names += (names.empty() ? "" : ", ") + it.first;
  throw Error(ErrorCode::kInput, "no tensor named '" + name + "'; have: " + (names.empty() ? "(none)" : names));
}

std::vector<std::string> NamedTensors::Names() const {
  std::vector<std::string> out;
  for (const auto& it : items_) out.push_back(it.first);
  return out;
}

}  // namespace sense
