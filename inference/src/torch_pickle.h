// Internal: the object tree of a TorchScript archive's data.pkl (modules,
// their attributes and tensor references), read without LibTorch. Not
// installed.
//
// Contract: pickle protocol 2 (what LibTorch's pickler writes; the protocol
// 3-4 framing and memo opcodes are read too). Modules are kObject values
// (class "__torch__.Tagger"; attributes in the dict that BUILD gave them);
// tensors are kTensor values naming their storage record ("data/<key>") and
// element type. Only the callables that TorchScript archives use are
// understood (torch._utils._rebuild_tensor_v2, collections.OrderedDict,
// torch.jit._pickle.restore_type_tag / build_*list); anything else, or a
// malformed stream, throws std::runtime_error saying what was found.
// Thread safety: Unpickle is re-entrant; a tree is immutable once returned.
#ifndef SENSE_INFERENCE_SRC_TORCH_PICKLE_H_
#define SENSE_INFERENCE_SRC_TORCH_PICKLE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace sense::internal {

struct PickleValue;
using PickleRef = std::shared_ptr<PickleValue>;

struct PickleValue {
  enum class Kind { kNone, kBool, kInt, kFloat, kString, kTuple, kList, kDict, kGlobal, kObject, kStorage, kTensor };
  Kind kind = Kind::kNone;
  bool boolean = false;
  std::int64_t integer = 0;
  double real = 0;
  // kString: the text; kGlobal: "module name"; kObject: the class's global
  // name; kStorage and kTensor: the element type ("Float", "Long", "Char" ...)
  std::string text;
  std::vector<PickleRef> items;                       // kTuple, kList
  std::vector<std::pair<PickleRef, PickleRef>> dict;  // kDict
  PickleRef state;                                    // kObject: what BUILD set (a kDict for modules)
  // kStorage, kTensor: the storage's record key and its element count
  std::string storage_key;
  std::int64_t storage_numel = 0;
  // kTensor
  std::int64_t offset = 0;
  std::vector<std::int64_t> sizes, strides;

  // A kObject's attribute (its state dict's string key), or nullptr.
  const PickleValue* Attr(const std::string& name) const;
};

PickleRef Unpickle(const std::string& bytes);

}  // namespace sense::internal

#endif  // SENSE_INFERENCE_SRC_TORCH_PICKLE_H_
