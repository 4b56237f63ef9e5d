#include "torch_pickle.h"

#include <cstring>
#include <map>
#include <stdexcept>

namespace sense::internal {

namespace {

using Kind = PickleValue::Kind;

PickleRef Make(Kind kind) {
  auto v = std::make_shared<PickleValue>();
  v->kind = kind;
  return v;
}

class Unpickler {
 public:
  explicit Unpickler(const std::string& bytes) : p_(reinterpret_cast<const unsigned char*>(bytes.data())), n_(bytes.size()) {}

  PickleRef Run() {
    while (true) {
      const unsigned char op = Byte();
      switch (op) {
        case 0x80: Byte(); break;                          // PROTO
        case 0x95: Skip(8); break;                         // FRAME
        case '.': return Pop();                            // STOP
        case '(': marks_.push_back(stack_.size()); break;  // MARK
        case '0': Pop(); break;                            // POP
        case '1': PopMark(); break;                        // POP_MARK
        case '2': Push(Top()); break;                      // DUP
        case 'N': Push(Make(Kind::kNone)); break;
        case 0x88: case 0x89: {                            // NEWTRUE, NEWFALSE
          auto v = Make(Kind::kBool);
          v->boolean = op == 0x88;
          Push(v);
          break;
        }
        case 'J': PushInt(static_cast<std::int32_t>(Uint(4))); break;  // BININT
        case 'K': PushInt(static_cast<std::int64_t>(Uint(1))); break;  // BININT1
        case 'M': PushInt(static_cast<std::int64_t>(Uint(2))); break;  // BININT2
        case 0x8a: {                                                   // LONG1
          const std::size_t len = Uint(1);
          if (len > 8) throw std::runtime_error("pickle: an integer wider than 64 bits");
          std::uint64_t u = Uint(len);
          if (len > 0 && len < 8 && (u >> (8 * len - 1)) & 1) u |= ~std::uint64_t{0} << (8 * len);  // sign-extend
          PushInt(static_cast<std::int64_t>(u));
          break;
        }
        case 'G': {  // BINFLOAT, big-endian
          std::uint64_t u = 0;
          for (int i = 0; i < 8; ++i) u = (u << 8) | Byte();
          auto v = Make(Kind::kFloat);
          std::memcpy(&v->real, &u, 8);
          Push(v);
          break;
        }
        case 'X': PushString(Uint(4)); break;    // BINUNICODE
        case 0x8c: PushString(Uint(1)); break;   // SHORT_BINUNICODE
        case 0x8d: PushString(Uint(8)); break;   // BINUNICODE8
        case 'B': PushString(Uint(4)); break;    // BINBYTES (kept as text)
        case 'C': PushString(Uint(1)); break;    // SHORT_BINBYTES
        case ')': Push(Make(Kind::kTuple)); break;
        case 't': case 'l': {  // TUPLE, LIST
          auto v = Make(op == 't' ? Kind::kTuple : Kind::kList);
          v->items = PopMark();
          Push(v);
          break;
        }
        case 0x85: case 0x86: case 0x87: {  // TUPLE1..3
          const std::size_t k = static_cast<std::size_t>(op - 0x84);
          if (stack_.size() < k) throw std::runtime_error("pickle: stack underflow");
          auto v = Make(Kind::kTuple);
          v->items.assign(stack_.end() - static_cast<std::ptrdiff_t>(k), stack_.end());
          stack_.resize(stack_.size() - k);
          Push(v);
          break;
        }
        case ']': Push(Make(Kind::kList)); break;
        case 'a': {  // APPEND
          auto x = Pop();
          Expect(Top(), Kind::kList, "APPEND")->items.push_back(x);
          break;
        }
        case 'e': {  // APPENDS
          auto xs = PopMark();
          auto& l = Expect(Top(), Kind::kList, "APPENDS")->items;
          l.insert(l.end(), xs.begin(), xs.end());
          break;
        }
        case '}': Push(Make(Kind::kDict)); break;
        case 'd': {  // DICT
          auto xs = PopMark();
          auto v = Make(Kind::kDict);
          AddPairs(*v, xs);
          Push(v);
          break;
        }
        case 's': {  // SETITEM
          auto value = Pop(), key = Pop();
          Expect(Top(), Kind::kDict, "SETITEM")->dict.emplace_back(key, value);
          break;
        }
        case 'u': {  // SETITEMS
          auto xs = PopMark();
          AddPairs(*Expect(Top(), Kind::kDict, "SETITEMS"), xs);
          break;
        }
        case 'c': {  // GLOBAL "module\nname\n"
          std::string module = Line(), name = Line();
          auto v = Make(Kind::kGlobal);
          v->text = module + " " + name;
          Push(v);
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          auto name = Pop(), module = Pop();
          auto v = Make(Kind::kGlobal);
          v->text = Expect(module, Kind::kString, "STACK_GLOBAL")->text + " " + Expect(name, Kind::kString, "STACK_GLOBAL")->text;
          Push(v);
          break;
        }
        case 0x81: {  // NEWOBJ: cls.__new__(cls, *args)
          Pop();
          auto cls = Expect(Pop(), Kind::kGlobal, "NEWOBJ");
          auto v = Make(Kind::kObject);
          v->text = cls->text;
          Push(v);
          break;
        }
        case 'b': {  // BUILD
          auto state = Pop();
          Expect(Top(), Kind::kObject, "BUILD")->state = state;
          break;
        }
        case 'R': {  // REDUCE
          auto args = Expect(Pop(), Kind::kTuple, "REDUCE");
          auto fn = Expect(Pop(), Kind::kGlobal, "REDUCE");
          Push(Reduce(fn->text, args->items));
          break;
        }
        case 'Q': Push(Persistent(Pop())); break;  // BINPERSID
        case 'q': Memo(Uint(1)); break;            // BINPUT
        case 'r': Memo(Uint(4)); break;            // LONG_BINPUT
        case 0x94: Memo(memo_.size()); break;      // MEMOIZE
        case 'h': Get(Uint(1)); break;             // BINGET
        case 'j': Get(Uint(4)); break;             // LONG_BINGET
        default:
          throw std::runtime_error("pickle: unsupported opcode 0x" + Hex(op) + " at byte " + std::to_string(i_ - 1));
      }
    }
  }

 private:
  static std::string Hex(unsigned char c) {
    const char* d = "0123456789abcdef";
    return {d[c >> 4], d[c & 15]};
  }
  unsigned char Byte() {
    if (i_ >= n_) throw std::runtime_error("pickle: truncated stream");
    return p_[i_++];
  }
  void Skip(std::size_t k) {
    if (k > n_ - i_) throw std::runtime_error("pickle: truncated stream");
    i_ += k;
  }
  std::uint64_t Uint(std::size_t bytes) {
    if (bytes > n_ - i_) throw std::runtime_error("pickle: truncated stream");
    std::uint64_t v = 0;
    for (std::size_t k = bytes; k-- > 0;) v = (v << 8) | p_[i_ + k];
    i_ += bytes;
    return v;
  }
  std::string Line() {
    std::string s;
    for (unsigned char c = Byte(); c != '\n'; c = Byte()) s += static_cast<char>(c);
    return s;
  }
  void Push(PickleRef v) { stack_.push_back(std::move(v)); }
  void PushInt(std::int64_t x) {
    auto v = Make(Kind::kInt);
    v->integer = x;
    Push(v);
  }
  void PushString(std::uint64_t len) {
    if (len > n_ - i_) throw std::runtime_error("pickle: truncated string");
    auto v = Make(Kind::kString);
    v->text.assign(reinterpret_cast<const char*>(p_ + i_), static_cast<std::size_t>(len));
    i_ += static_cast<std::size_t>(len);
    Push(v);
  }
  PickleRef& Top() {
    if (stack_.empty() || (!marks_.empty() && marks_.back() == stack_.size()))
      throw std::runtime_error("pickle: stack underflow");
    return stack_.back();
  }
  PickleRef Pop() {
    PickleRef v = Top();
    stack_.pop_back();
    return v;
  }
  std::vector<PickleRef> PopMark() {
    if (marks_.empty()) throw std::runtime_error("pickle: no mark");
    const std::size_t m = marks_.back();
    marks_.pop_back();
    std::vector<PickleRef> out(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return out;
  }
  static PickleRef Expect(PickleRef v, Kind kind, const char* op) {
    if (!v || v->kind != kind) throw std::runtime_error(std::string("pickle: unexpected operand of ") + op);
    return v;
  }
  static void AddPairs(PickleValue& d, const std::vector<PickleRef>& xs) {
    if (xs.size() % 2 != 0) throw std::runtime_error("pickle: odd number of dict items");
    for (std::size_t k = 0; k < xs.size(); k += 2) d.dict.emplace_back(xs[k], xs[k + 1]);
  }
  void Memo(std::uint64_t key) { memo_[key] = Top(); }
  void Get(std::uint64_t key) {
    auto it = memo_.find(key);
    if (it == memo_.end()) throw std::runtime_error("pickle: memo key " + std::to_string(key) + " unset");
    Push(it->second);
  }
  static std::vector<std::int64_t> Ints(const PickleRef& v) {
    if (!v || v->kind != Kind::kTuple) throw std::runtime_error("pickle: tensor size/stride is not a tuple");
    std::vector<std::int64_t> out;
    for (const auto& x : v->items) out.push_back(Expect(x, Kind::kInt, "_rebuild_tensor_v2")->integer);
    return out;
  }
  // ('storage', torch.<Type>Storage, key, location, numel)
  static PickleRef Persistent(const PickleRef& pid) {
    Expect(pid, Kind::kTuple, "BINPERSID");
    const auto& t = pid->items;
    if (t.size() != 5 || t[0]->kind != Kind::kString || t[0]->text != "storage" || t[1]->kind != Kind::kGlobal ||
        t[2]->kind != Kind::kString || t[4]->kind != Kind::kInt)
      throw std::runtime_error("pickle: a persistent id that is not a tensor storage");
    const std::string& cls = t[1]->text;  // "torch FloatStorage"
    const std::string suffix = "Storage";
    if (cls.rfind("torch ", 0) != 0 || cls.size() <= 6 + suffix.size() || cls.compare(cls.size() - suffix.size(), suffix.size(), suffix) != 0)
      throw std::runtime_error("pickle: unknown storage type '" + cls + "'");
    auto v = Make(Kind::kStorage);
    v->text = cls.substr(6, cls.size() - 6 - suffix.size());
    v->storage_key = t[2]->text;
    v->storage_numel = t[4]->integer;
    return v;
  }
  static PickleRef Reduce(const std::string& fn, const std::vector<PickleRef>& args) {
    if (fn == "torch._utils _rebuild_tensor_v2") {
      if (args.size() < 4) throw std::runtime_error("pickle: _rebuild_tensor_v2 with " + std::to_string(args.size()) + " arguments");
      const PickleRef& s = Expect(args[0], Kind::kStorage, "_rebuild_tensor_v2");
      auto v = Make(Kind::kTensor);
      v->text = s->text;
      v->storage_key = s->storage_key;
      v->storage_numel = s->storage_numel;
      v->offset = Expect(args[1], Kind::kInt, "_rebuild_tensor_v2")->integer;
      v->sizes = Ints(args[2]);
      v->strides = Ints(args[3]);
      if (v->sizes.size() != v->strides.size()) throw std::runtime_error("pickle: tensor with sizes and strides of different ranks");
      return v;
    }
    if (fn == "collections OrderedDict") return Make(Kind::kDict);
    if (fn == "torch.jit._pickle restore_type_tag" && !args.empty()) return args[0];
    if (fn.rfind("torch.jit._pickle build_", 0) == 0 && args.size() == 1) return args[0];
    throw std::runtime_error("pickle: call of an unsupported function '" + fn + "'");
  }

  const unsigned char* p_;
  std::size_t n_, i_ = 0;
  std::vector<PickleRef> stack_;
  std::vector<std::size_t> marks_;
  std::map<std::uint64_t, PickleRef> memo_;
};

}  // namespace

const PickleValue* PickleValue::Attr(const std::string& name) const {
  if (kind != Kind::kObject || !state || state->kind != Kind::kDict) return nullptr;
  for (const auto& [k, v] : state->dict)
    if (k->kind == Kind::kString && k->text == name) return v.get();
  return nullptr;
}

PickleRef Unpickle(const std::string& bytes) { return Unpickler(bytes).Run(); }

}  // namespace sense::internal
