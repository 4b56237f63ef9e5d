// sense/inference/tensor.h — sense's own small tensor type.
//
// A Tensor is a dtype, a shape and contiguous row-major storage. It either
// owns its storage (Empty, Zeros, FromVector, Clone) or is a zero-copy view of
// memory owned elsewhere (View, ViewVector). Copying a Tensor copies the
// handle, not the data: copies share storage, as cv::Mat does.
// (A cv::Mat view is sense::vision::TensorFromMat, in vision/mat_tensor.h:
// this header needs no OpenCV.)
//
// Ownership: a view made by View with an `owner` keeps the owner alive (a
// reference, shared by the view's copies). A view made by View without one,
// or by ViewVector, does NOT: the caller keeps the memory alive and
// unchanged in size for as long as the view is used.
//
// Thread safety: concurrent reads of one Tensor are safe; writes need
// external synchronisation, as with any shared buffer.
#ifndef SENSE_INFERENCE_TENSOR_H_
#define SENSE_INFERENCE_TENSOR_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sense/inference/error.h"
#include "sense/inference/metadata.h"

namespace sense {

std::size_t DTypeSize(DType dtype);

template <typename T> struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::kFloat32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::kFloat64; };
template <> struct DTypeOf<int64_t> { static constexpr DType value = DType::kInt64; };
template <> struct DTypeOf<int32_t> { static constexpr DType value = DType::kInt32; };
template <> struct DTypeOf<uint8_t> { static constexpr DType value = DType::kUInt8; };
template <> struct DTypeOf<bool> { static constexpr DType value = DType::kBool; };

class Tensor {
 public:
  Tensor() = default;  // an empty tensor: no storage, shape {}, numel() == 0

  // Owning, uninitialised / zero-filled storage. Throws Error(kInput) on a negative dimension.
  static Tensor Empty(DType dtype, std::vector<int64_t> shape);
  static Tensor Zeros(DType dtype, std::vector<int64_t> shape);

  // Owning: takes the vector's buffer (no copy). data.size() must equal the shape's product.
  template <typename T>
  static Tensor FromVector(std::vector<T> data, std::vector<int64_t> shape) {
    auto holder = std::make_shared<std::vector<T>>(std::move(data));
    return Wrap(holder->data(), DTypeOf<T>::value, std::move(shape), holder, holder->size());
  }

  // Zero-copy view of caller-owned memory (see the ownership note above).
  static Tensor View(void* data, DType dtype, std::vector<int64_t> shape);
  template <typename T>
  static Tensor ViewVector(std::vector<T>& data, std::vector<int64_t> shape) {
    return Wrap(data.data(), DTypeOf<T>::value, std::move(shape), nullptr, data.size());
  }

  // Zero-copy view that holds `owner` (whatever keeps `data` valid: a
  // refcounted image, a buffer) for as long as the view or a copy lives.
  static Tensor View(void* data, DType dtype, std::vector<int64_t> shape, std::shared_ptr<void> owner);

  DType dtype() const { return dtype_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  int64_t dim() const { return static_cast<int64_t>(shape_.size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end; throws on a bad d
  int64_t numel() const;
  std::size_t nbytes() const { return static_cast<std::size_t>(numel()) * DTypeSize(dtype_); }
  bool empty() const { return data_ == nullptr; }

  void* raw_data() { return data_; }
  const void* raw_data() const { return data_; }
  // Typed access; throws Error(kInput) when T does not match dtype().
  template <typename T> T* data() { CheckType(DTypeOf<T>::value); return static_cast<T*>(data_); }
  template <typename T> const T* data() const { CheckType(DTypeOf<T>::value); return static_cast<const T*>(data_); }

  Tensor Clone() const;  // deep copy into owned storage
  // Same storage, new shape with the same element count (one -1 allowed).
  Tensor Reshape(std::vector<int64_t> shape) const;
  // Rows [begin, end) of the first dimension, sharing storage.
  Tensor Slice(int64_t begin, int64_t end) const;
  // Copy converted to float32 (any numeric dtype).
  Tensor ToFloat() const;

  std::string ShapeString() const;  // "[1, 3, 224, 224]"
  std::string Describe() const;     // "float32[1, 3, 224, 224]"

 private:
  static Tensor Wrap(void* data, DType dtype, std::vector<int64_t> shape,
                     std::shared_ptr<void> holder, std::size_t available_elements);
  void CheckType(DType expected) const;

  std::shared_ptr<void> holder_;  // keeps owned or Mat storage alive; null for plain views
  void* data_ = nullptr;
  DType dtype_ = DType::kFloat32;
  std::vector<int64_t> shape_;
};

// Named tensors in insertion order: model inputs and outputs.
class NamedTensors {
 public:
  NamedTensors() = default;
  NamedTensors(std::initializer_list<std::pair<std::string, Tensor>> items);
  void Set(const std::string& name, Tensor tensor);  // replaces an existing name
  bool Contains(const std::string& name) const;
  // Throws Error(kInput) naming the missing name and the names present.
  const Tensor& at(const std::string& name) const;
  std::size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  const std::pair<std::string, Tensor>& operator[](std::size_t i) const { return items_.at(i); }
  std::vector<std::string> Names() const;
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }

 private:
  std::vector<std::pair<std::string, Tensor>> items_;
};

}  // namespace sense

#endif  // SENSE_INFERENCE_TENSOR_H_
