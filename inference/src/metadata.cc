// Parsing and validation of sense.json (docs/model-format.md).
#include "sense/inference/metadata.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <new>
#include <set>
#include <sstream>

#include "sense/inference/error.h"

namespace sense {
namespace {

using json = nlohmann::json;

const char* JsonTypeName(const json& j) {
  switch (j.type()) {
    case json::value_t::null: return "null";
    case json::value_t::object: return "an object";
    case json::value_t::array: return "an array";
    case json::value_t::string: return "a string";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "an integer";
    case json::value_t::number_float: return "a number";
    default: return "an unknown value";
  }
}

// Integers read into an int field: anything above is refused, never narrowed.
constexpr int64_t kIntMax = std::numeric_limits<int>::max();
// Image width and height: width * height * channels * 4 bytes stays far below
// 2^31 elements, so no size computed from them overflows.
constexpr int64_t kMaxImageSide = 16384;
// Elements a declared tensor shape may hold (its fixed dimensions): 2^60
// keeps the byte count of any dtype within int64.
constexpr int64_t kMaxShapeElements = int64_t{1} << 60;

// A JSON integer as int64: false for a non-negative one above INT64_MAX,
// which nlohmann's get<int64_t>() would wrap to a negative number.
bool AsInt64(const json& v, int64_t* out) {
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return false;
  *out = v.get<int64_t>();
  return true;
}

std::string Show(const json& j) {
  std::string s = j.dump();
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

// Reads fields of one JSON object with errors that name the full field path.
class Reader {
 public:
  Reader(const json& obj, std::string path, const std::string& source)
      : obj_(obj), path_(std::move(path)), source_(source) {
    if (!obj_.is_object()) Fail(path_.empty() ? "(top level)" : path_, "an object", obj_);
  }

  [[noreturn]] void Fail(const std::string& field, const std::string& expected, const json& found) const {
    throw Error(ErrorCode::kMetadata, source_ + ": field '" + field + "': expected " + expected +
                                          ", found " + JsonTypeName(found) + " " + Show(found));
  }
  [[noreturn]] void FailMsg(const std::string& field, const std::string& message) const {
    throw Error(ErrorCode::kMetadata, source_ + ": field '" + field + "': " + message);
  }
  std::string Path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  bool Has(const std::string& key) const { return obj_.contains(key) && !obj_.at(key).is_null(); }
  const json& Get(const std::string& key) const {
    if (!Has(key)) throw Error(ErrorCode::kMetadata, source_ + ": missing required field '" + Path(key) + "'");
    return obj_.at(key);
  }

  std::string String(const std::string& key, bool required, const std::string& def = "") const {
    if (!Has(key)) { if (required) Get(key); return def; }
    const json& v = obj_.at(key);
    if (!v.is_string()) Fail(Path(key), "a string", v);
    return v.get<std::string>();
  }
  bool Bool(const std::string& key, bool def) const {
    if (!Has(key)) return def;
    const json& v = obj_.at(key);
    if (!v.is_boolean()) Fail(Path(key), "true or false", v);
    return v.get<bool>();
  }
  // An integer in [min_value, max_value]; the default maximum is what an int holds.
  int64_t Int(const std::string& key, bool required, int64_t def, int64_t min_value, int64_t max_value = kIntMax) const {
    if (!Has(key)) { if (required) Get(key); return def; }
    const json& v = obj_.at(key);
    if (!v.is_number_integer()) Fail(Path(key), "an integer", v);
    int64_t x = 0;
    if (!AsInt64(v, &x) || x > max_value)
      FailMsg(Path(key), "expected an integer <= " + std::to_string(max_value) + ", found " + Show(v));
    if (x < min_value) FailMsg(Path(key), "expected an integer >= " + std::to_string(min_value) + ", found " + std::to_string(x));
    return x;
  }
  // A finite number that a float holds (the fields read with it are floats).
  double Number(const std::string& key, bool required, double def) const {
    if (!Has(key)) { if (required) Get(key); return def; }
    const json& v = obj_.at(key);
    if (!v.is_number()) Fail(Path(key), "a number", v);
    const double x = v.get<double>();
    if (!FitsFloat(x)) FailMsg(Path(key), "expected a number within float range, found " + Show(v));
    return x;
  }
  static bool FitsFloat(double x) { return std::isfinite(x) && std::fabs(x) <= std::numeric_limits<float>::max(); }
  std::vector<float> Floats(const std::string& key) const {
    if (!Has(key)) return {};
    const json& v = obj_.at(key);
    if (!v.is_array()) Fail(Path(key), "an array of numbers", v);
    std::vector<float> out;
    for (size_t i = 0; i < v.size(); ++i) {
      if (!v[i].is_number()) Fail(Path(key) + "[" + std::to_string(i) + "]", "a number", v[i]);
      if (!FitsFloat(v[i].get<double>()))
        FailMsg(Path(key) + "[" + std::to_string(i) + "]", "expected a number within float range, found " + Show(v[i]));
      out.push_back(static_cast<float>(v[i].get<double>()));
    }
    return out;
  }
  std::vector<std::string> Strings(const std::string& key) const {
    if (!Has(key)) return {};
    const json& v = obj_.at(key);
    if (!v.is_array()) Fail(Path(key), "an array of strings", v);
    std::vector<std::string> out;
    for (size_t i = 0; i < v.size(); ++i) {
      if (!v[i].is_string()) Fail(Path(key) + "[" + std::to_string(i) + "]", "a string", v[i]);
      out.push_back(v[i].get<std::string>());
    }
    return out;
  }
  template <typename E>
  E Enum(const std::string& key, const std::vector<std::pair<const char*, E>>& choices, bool required, E def) const {
    if (!Has(key)) { if (required) Get(key); return def; }
    const json& v = obj_.at(key);
    std::string names;
    for (const auto& c : choices) names += std::string(names.empty() ? "" : ", ") + "\"" + c.first + "\"";
    if (!v.is_string()) Fail(Path(key), "one of " + names, v);
    for (const auto& c : choices)
      if (v.get<std::string>() == c.first) return c.second;
    FailMsg(Path(key), "expected one of " + names + ", found \"" + v.get<std::string>() + "\"");
  }
  Reader Object(const std::string& key) const { return Reader(Get(key), Path(key), source_); }
  const json& raw() const { return obj_; }

 private:
  const json& obj_;
  std::string path_;
  const std::string& source_;
};

const std::vector<std::pair<const char*, Task>> kTasks = {
    {"image_classification", Task::kImageClassification},
    {"object_detection", Task::kObjectDetection},
    {"image_embedding", Task::kImageEmbedding},
    {"text_classification", Task::kTextClassification},
    {"token_classification", Task::kTokenClassification},
    {"text_embedding", Task::kTextEmbedding},
};
const std::vector<std::pair<const char*, DType>> kDTypes = {
    {"float32", DType::kFloat32}, {"float64", DType::kFloat64}, {"int64", DType::kInt64},
    {"int32", DType::kInt32},     {"uint8", DType::kUInt8},     {"bool", DType::kBool},
};
const std::vector<std::pair<const char*, ColorOrder>> kColors = {
    {"rgb", ColorOrder::kRGB}, {"bgr", ColorOrder::kBGR}, {"gray", ColorOrder::kGray}};
const std::vector<std::pair<const char*, Layout>> kLayouts = {{"nchw", Layout::kNCHW}, {"nhwc", Layout::kNHWC}};
const std::vector<std::pair<const char*, ResizeMode>> kResize = {
    {"stretch", ResizeMode::kStretch}, {"center_crop", ResizeMode::kCenterCrop}, {"letterbox", ResizeMode::kLetterbox},
    {"pad_to_square", ResizeMode::kPadToSquare}};
const std::vector<std::pair<const char*, Sampling>> kSampling = {{"resize", Sampling::kResize}, {"warp", Sampling::kWarp}};
const std::vector<std::pair<const char*, Interpolation>> kInterp = {
    {"nearest", Interpolation::kNearest}, {"bilinear", Interpolation::kBilinear},
    {"bicubic", Interpolation::kBicubic}, {"area", Interpolation::kArea}};
const std::vector<std::pair<const char*, TokenizerType>> kTokenizers = {
    {"sentencepiece", TokenizerType::kSentencePiece}, {"wordpiece", TokenizerType::kWordPiece}};
const std::vector<std::pair<const char*, Truncation>> kTruncation = {
    {"longest_first", Truncation::kLongestFirst}, {"only_first", Truncation::kOnlyFirst},
    {"window", Truncation::kWindow}, {"none", Truncation::kNone}};
const std::vector<std::pair<const char*, Padding>> kPadding = {{"longest", Padding::kLongest}, {"max_length", Padding::kMaxLength}};
const std::vector<std::pair<const char*, OutputType>> kOutputTypes = {
    {"logits", OutputType::kLogits}, {"probabilities", OutputType::kProbabilities},
    {"embeddings", OutputType::kEmbeddings}, {"detections", OutputType::kDetections},
    {"token_logits", OutputType::kTokenLogits}};
const std::vector<std::pair<const char*, Activation>> kActivations = {
    {"softmax", Activation::kSoftmax}, {"sigmoid", Activation::kSigmoid}, {"none", Activation::kNone}};
const std::vector<std::pair<const char*, BoxFormat>> kBoxFormats = {
    {"xyxy", BoxFormat::kXYXY}, {"cxcywh", BoxFormat::kCXCYWH}, {"xywh", BoxFormat::kXYWH}};

template <typename E>
const char* NameOf(const std::vector<std::pair<const char*, E>>& table, E value) {
  for (const auto& e : table)
    if (e.second == value) return e.first;
  return "?";
}

std::vector<TensorSpec> ParseTensorSpecs(const Reader& r, const std::string& key) {
  const json& arr = r.Get(key);
  if (!arr.is_array() || arr.empty()) r.Fail(r.Path(key), "a non-empty array of {name, dtype, shape}", arr);
  std::vector<TensorSpec> specs;
  std::set<std::string> names;
  for (size_t i = 0; i < arr.size(); ++i) {
    const std::string path = r.Path(key) + "[" + std::to_string(i) + "]";
    if (!arr[i].is_object()) r.Fail(path, "an object {name, dtype, shape}", arr[i]);
    TensorSpec spec;
    const json& o = arr[i];
    if (!o.contains("name") || !o["name"].is_string() || o["name"].get<std::string>().empty())
      r.Fail(path + ".name", "a non-empty string", o.value("name", json()));
    spec.name = o["name"].get<std::string>();
    if (!names.insert(spec.name).second) r.FailMsg(path + ".name", "duplicate tensor name \"" + spec.name + "\"");
    if (o.contains("dtype")) {
      if (!o["dtype"].is_string()) r.Fail(path + ".dtype", "a dtype string", o["dtype"]);
      bool found = false;
      for (const auto& d : kDTypes)
        if (o["dtype"].get<std::string>() == d.first) { spec.dtype = d.second; found = true; }
      if (!found) r.FailMsg(path + ".dtype", "expected one of float32, float64, int64, int32, uint8, bool; found \"" + o["dtype"].get<std::string>() + "\"");
    }
    if (o.contains("shape")) {
      const json& s = o["shape"];
      if (!s.is_array()) r.Fail(path + ".shape", "an array of integers (-1 = dynamic)", s);
      int64_t elements = 1;  // of the fixed dimensions
      for (const auto& d : s) {
        int64_t x = 0;
        if (!d.is_number_integer() || !AsInt64(d, &x) || x < -1 || x == 0)
          r.Fail(path + ".shape", "positive integers or -1 (dynamic)", d);
        if (x > 0 && (__builtin_mul_overflow(elements, x, &elements) || elements > kMaxShapeElements))
          r.FailMsg(path + ".shape", "the fixed dimensions of " + Show(s) + " hold more than 2^60 elements");
        spec.shape.push_back(x);
      }
    }
    specs.push_back(std::move(spec));
  }
  return specs;
}

}  // namespace

const char* TaskName(Task task) { return NameOf(kTasks, task); }
const char* DTypeName(DType dtype) { return NameOf(kDTypes, dtype); }
bool IsVisionTask(Task t) {
  return t == Task::kImageClassification || t == Task::kObjectDetection || t == Task::kImageEmbedding;
}
bool IsTextTask(Task t) { return !IsVisionTask(t); }

namespace {

// detection.gfl: see DetectionSpec::Gfl. Checks the two outputs' declared
// shapes against the anchors the strides give on the image size.
DetectionSpec::Gfl ParseGfl(const Reader& d, const ModelMetadata& m, const std::string& source) {
  if (!d.Has("gfl")) d.FailMsg(d.Path("gfl"), "layout 'gfl' needs a 'detection.gfl' object");
  Reader g = d.Object("gfl");
  DetectionSpec::Gfl s;
  auto output = [&](const char* key) -> const TensorSpec& {
    const std::string name = g.String(key, true);
    for (const auto& o : m.outputs)
      if (o.name == name) return o;
    std::string names;
    for (const auto& o : m.outputs) names += (names.empty() ? "" : ", ") + o.name;
    g.FailMsg(g.Path(key), "expected one of the declared outputs (" + names + "), found \"" + name + "\"");
  };
  const TensorSpec& scores = output("scores_output");
  const TensorSpec& dists = output("distributions_output");
  s.scores_output = scores.name;
  s.distributions_output = dists.name;
  if (!g.Has("strides") || !g.Get("strides").is_array() || g.Get("strides").empty())
    g.FailMsg(g.Path("strides"), "expected a non-empty array of positive integers");
  const json& strides = g.Get("strides");
  for (size_t i = 0; i < strides.size(); ++i) {
    if (!strides[i].is_number_integer() || strides[i].get<int64_t>() < 1 || strides[i].get<int64_t>() > 4096)
      g.FailMsg(g.Path("strides") + "[" + std::to_string(i) + "]", "expected an integer in [1, 4096], found " + strides[i].dump());
    s.strides.push_back(static_cast<int>(strides[i].get<int64_t>()));
  }
  s.reg_max = static_cast<int>(g.Int("reg_max", true, 0, 1, 1024));
  const double offset = g.Number("centre_offset", false, 0.5);
  if (offset != 0.0 && offset != 0.5)
    g.FailMsg(g.Path("centre_offset"), "expected 0 or 0.5, found " + g.Get("centre_offset").dump());
  s.centre_offset = static_cast<float>(offset);
  const std::string act = g.String("scores_activation", false, "none");
  if (act != "none" && act != "sigmoid")
    g.FailMsg(g.Path("scores_activation"), "expected \"none\" or \"sigmoid\", found \"" + act + "\"");
  s.scores_activation = act == "sigmoid" ? Activation::kSigmoid : Activation::kNone;
  if (!m.image) throw Error(ErrorCode::kMetadata, source + ": layout 'gfl' needs an 'image' object (the grid comes from its size)");
  int64_t anchors = 0;
  for (int st : s.strides) anchors += ((m.image->height + st - 1) / st) * ((m.image->width + st - 1) / st);
  auto check_tail = [&](const TensorSpec& t, int64_t last, const std::string& what) {
    const auto& sh = t.shape;
    const bool ok = sh.size() >= 2 && sh[sh.size() - 2] == anchors && sh.back() == last;
    if (!ok) {
      std::string found = "[";
      for (size_t i = 0; i < sh.size(); ++i) found += (i ? ", " : "") + std::to_string(sh[i]);
      found += "]";
      throw Error(ErrorCode::kMetadata, source + ": field 'outputs': '" + t.name + "' must end in [" + std::to_string(anchors) +
                                            ", " + std::to_string(last) + "] (" + what + "); found " + found);
    }
  };
  std::string strides_text;
  for (int st : s.strides) strides_text += (strides_text.empty() ? "" : ", ") + std::to_string(st);
  check_tail(scores, static_cast<int64_t>(m.labels.size()),
             "anchors for strides [" + strides_text + "] on " + std::to_string(m.image->width) + "x" +
                 std::to_string(m.image->height) + ", labels");
  check_tail(dists, 4 * (static_cast<int64_t>(s.reg_max) + 1), "anchors, 4 * (reg_max + 1)");
  return s;
}

// ---- third-party layouts and sidecars as models (issue 13, helper D3) ----
// detection.fastestdet / detection.yunet / detection.blazeface (see
// DetectionSpec), and the top-level "files" and "cascade" objects.

std::string ShapeString3p(const std::vector<int64_t>& sh) {
  std::string t = "[";
  for (size_t i = 0; i < sh.size(); ++i) t += (i ? ", " : "") + std::to_string(sh[i]);
  return t + "]";
}

const TensorSpec* FindOutput3p(const ModelMetadata& m, const std::string& name) {
  for (const auto& o : m.outputs)
    if (o.name == name) return &o;
  return nullptr;
}

[[noreturn]] void FailOutput3p(const Reader& r, const std::string& field, const ModelMetadata& m, const std::string& name) {
  std::string names;
  for (const auto& o : m.outputs) names += (names.empty() ? "" : ", ") + o.name;
  r.FailMsg(field, "expected one of the declared outputs (" + names + "), found \"" + name + "\"");
}

std::vector<int> Strides3p(const Reader& g, const std::string& key) {
  if (!g.Has(key) || !g.Get(key).is_array() || g.Get(key).empty())
    g.FailMsg(g.Path(key), "expected a non-empty array of positive integers");
  std::vector<int> out;
  const json& a = g.Get(key);
  for (size_t i = 0; i < a.size(); ++i) {
    if (!a[i].is_number_integer() || a[i].get<int64_t>() < 1 || a[i].get<int64_t>() > 4096)
      g.FailMsg(g.Path(key) + "[" + std::to_string(i) + "]", "expected an integer in [1, 4096], found " + Show(a[i]));
    out.push_back(static_cast<int>(a[i].get<int64_t>()));
  }
  return out;
}

// A declared shape must end in `tail` (-1 in tail: any); undeclared shapes pass.
void CheckTail3p(const TensorSpec& t, const std::vector<int64_t>& tail, const std::string& what, const std::string& layout,
                 const std::string& source) {
  if (t.shape.empty()) return;
  bool ok = t.shape.size() >= tail.size();
  for (size_t i = 0; ok && i < tail.size(); ++i) {
    const int64_t have = t.shape[t.shape.size() - tail.size() + i];
    ok = tail[i] < 0 || have < 0 || have == tail[i];
  }
  if (!ok)
    throw Error(ErrorCode::kMetadata, source + ": field 'outputs': '" + t.name + "' must end in " + ShapeString3p(tail) +
                                          " (" + what + ") for layout '" + layout + "'; found " + ShapeString3p(t.shape));
}

// True when `layout` is one of these; fills its DetectionSpec member.
bool ParseThirdPartyLayout(const Reader& d, const ModelMetadata& m, DetectionSpec& s, const std::string& source) {
  const int64_t classes = static_cast<int64_t>(m.labels.size());
  if (s.layout == "fastestdet") {
    DetectionSpec::FastestDet f;
    static const json kNoFields = json::object();  // Reader keeps a reference: it must outlive g
    const Reader g = d.Has("fastestdet") ? d.Object("fastestdet") : Reader(kNoFields, d.Path("fastestdet"), source);
    f.output = g.String("output", false, m.output.name);
    const TensorSpec* t = FindOutput3p(m, f.output);
    if (!t) FailOutput3p(g, g.Path("output"), m, f.output);
    f.obj_power = static_cast<float>(g.Number("obj_power", false, 0.6));
    f.cls_power = static_cast<float>(g.Number("cls_power", false, 0.4));
    if (!(f.obj_power > 0)) g.FailMsg(g.Path("obj_power"), "must be > 0");
    if (!(f.cls_power > 0)) g.FailMsg(g.Path("cls_power"), "must be > 0");
    if (!t->shape.empty() && t->shape.size() != 4)
      throw Error(ErrorCode::kMetadata, source + ": field 'outputs': '" + t->name +
                                            "' must be [batch, 5 + labels, rows, columns] for layout 'fastestdet'; found " +
                                            ShapeString3p(t->shape));
    if (t->shape.size() == 4 && t->shape[1] > 0 && t->shape[1] != 5 + classes)
      throw Error(ErrorCode::kMetadata, source + ": field 'outputs': '" + t->name + "' has " + std::to_string(t->shape[1]) +
                                            " channels; layout 'fastestdet' with " + std::to_string(classes) +
                                            " labels needs 5 + " + std::to_string(classes) + " = " + std::to_string(5 + classes));
    s.fastestdet = f;
    return true;
  }
  if (!m.image && (s.layout == "yunet" || s.layout == "blazeface"))
    throw Error(ErrorCode::kMetadata, source + ": layout '" + s.layout + "' needs an 'image' object (the grid comes from its size)");
  if (s.layout == "yunet") {
    if (!d.Has("yunet")) d.FailMsg(d.Path("yunet"), "layout 'yunet' needs a 'detection.yunet' object with 'strides'");
    const Reader g = d.Object("yunet");
    DetectionSpec::YuNet y;
    y.strides = Strides3p(g, "strides");
    y.cls_output = g.String("cls_output", false, y.cls_output);
    y.obj_output = g.String("obj_output", false, y.obj_output);
    y.bbox_output = g.String("bbox_output", false, y.bbox_output);
    y.kps_output = g.String("kps_output", false, y.kps_output);
    if (classes != 1)
      throw Error(ErrorCode::kMetadata, source + ": layout 'yunet' has one class; 'labels' has " + std::to_string(classes));
    auto name_for = [](const std::string& pattern, int stride) {
      std::string n = pattern;
      const auto at = n.find("{stride}");
      if (at != std::string::npos) n.replace(at, 8, std::to_string(stride));
      return n;
    };
    int keypoint_values = -1;
    for (const int st : y.strides) {
      const int64_t cells = ((m.image->height + st - 1) / st) * ((m.image->width + st - 1) / st);
      const std::string where = "stride " + std::to_string(st) + ": " + std::to_string(cells) + " cells on " +
                                std::to_string(m.image->width) + "x" + std::to_string(m.image->height);
      const std::vector<std::pair<const char*, std::string>> roles = {
          {"cls_output", y.cls_output}, {"obj_output", y.obj_output}, {"bbox_output", y.bbox_output}, {"kps_output", y.kps_output}};
      for (const auto& role : roles) {
        if (role.second.empty()) {
          if (std::string(role.first) != "kps_output") g.FailMsg(g.Path(role.first), "must not be empty");
          continue;
        }
        const std::string n = name_for(role.second, st);
        const TensorSpec* t = FindOutput3p(m, n);
        if (!t) FailOutput3p(g, g.Path(role.first) + " (stride " + std::to_string(st) + ")", m, n);
        const std::string r = role.first;
        const int64_t last = r == "bbox_output" ? 4 : r == "kps_output" ? -1 : 1;
        CheckTail3p(*t, {cells, last}, where, s.layout, source);
        if (r == "kps_output" && !t->shape.empty() && t->shape.back() > 0) {
          if (t->shape.back() % 2 || (keypoint_values >= 0 && keypoint_values != t->shape.back()))
            throw Error(ErrorCode::kMetadata, source + ": field 'outputs': '" + n + "' must end in an even number of values " +
                                                  "(x, y per landmark), the same at every stride; found " + ShapeString3p(t->shape));
          keypoint_values = static_cast<int>(t->shape.back());
        }
      }
    }
    if (!y.kps_output.empty() && keypoint_values < 0)
      g.FailMsg(g.Path("kps_output"), "the keypoint outputs must declare their shape (the last dimension gives the landmarks)");
    y.keypoints = std::max(0, keypoint_values / 2);
    s.num_keypoints = y.keypoints;
    s.keypoint_dims = 2;
    s.yunet = y;
    return true;
  }
  if (s.layout == "blazeface") {
    if (!d.Has("blazeface")) d.FailMsg(d.Path("blazeface"), "layout 'blazeface' needs a 'detection.blazeface' object");
    const Reader g = d.Object("blazeface");
    DetectionSpec::BlazeFace b;
    b.scores_output = g.String("scores_output", true);
    b.regressors_output = g.String("regressors_output", true);
    const TensorSpec* sc = FindOutput3p(m, b.scores_output);
    if (!sc) FailOutput3p(g, g.Path("scores_output"), m, b.scores_output);
    const TensorSpec* rg = FindOutput3p(m, b.regressors_output);
    if (!rg) FailOutput3p(g, g.Path("regressors_output"), m, b.regressors_output);
    b.strides = Strides3p(g, "strides");
    b.anchors_per_cell = Strides3p(g, "anchors_per_cell");
    if (b.anchors_per_cell.size() != b.strides.size())
      g.FailMsg(g.Path("anchors_per_cell"), "expected one count per stride (" + std::to_string(b.strides.size()) + "), found " +
                                                std::to_string(b.anchors_per_cell.size()));
    b.anchor_offset = static_cast<float>(g.Number("anchor_offset", false, 0.5));
    if (!(b.anchor_offset >= 0 && b.anchor_offset <= 1)) g.FailMsg(g.Path("anchor_offset"), "expected a number in [0, 1]");
    const std::vector<float> scale = g.Floats("scale");
    if (g.Has("scale") && (scale.size() != 2 || !(scale[0] > 0) || !(scale[1] > 0)))
      g.FailMsg(g.Path("scale"), "expected [x, y], two numbers > 0");
    b.scale_x = scale.empty() ? static_cast<float>(m.image->width) : scale[0];
    b.scale_y = scale.empty() ? static_cast<float>(m.image->height) : scale[1];
    const std::string act = g.String("scores_activation", false, "sigmoid");
    if (act != "none" && act != "sigmoid")
      g.FailMsg(g.Path("scores_activation"), "expected \"none\" or \"sigmoid\", found \"" + act + "\"");
    b.scores_activation = act == "sigmoid" ? Activation::kSigmoid : Activation::kNone;
    b.score_clip = static_cast<float>(g.Number("score_clip", false, 100.0));
    if (!(b.score_clip > 0)) g.FailMsg(g.Path("score_clip"), "must be > 0");
    if (classes != 1)
      throw Error(ErrorCode::kMetadata, source + ": layout 'blazeface' has one class; 'labels' has " + std::to_string(classes));
    int64_t anchors = 0;
    for (size_t i = 0; i < b.strides.size(); ++i) {
      const int st = b.strides[i];
      anchors += ((m.image->height + st - 1) / st) * ((m.image->width + st - 1) / st) * b.anchors_per_cell[i];
    }
    const std::string what = std::to_string(anchors) + " anchors for these strides on " + std::to_string(m.image->width) + "x" +
                             std::to_string(m.image->height);
    if (!sc->shape.empty() && sc->shape.back() == 1 && sc->shape.size() >= 3) CheckTail3p(*sc, {anchors, 1}, what, s.layout, source);
    else CheckTail3p(*sc, {anchors}, what, s.layout, source);
    CheckTail3p(*rg, {anchors, -1}, what + ", 4 + 2 * keypoints", s.layout, source);
    if (rg->shape.empty() || rg->shape.back() < 4 || (rg->shape.back() - 4) % 2)
      throw Error(ErrorCode::kMetadata, source + ": field 'outputs': '" + rg->name +
                                            "' must declare its shape, ending in 4 + 2 * keypoints values; found " +
                                            ShapeString3p(rg->shape));
    b.keypoints = static_cast<int>((rg->shape.back() - 4) / 2);
    s.num_keypoints = b.keypoints;
    s.keypoint_dims = 2;
    s.blazeface = b;
    return true;
  }
  return false;
}

bool EndsWith3p(const std::string& s, const std::string& suffix) {
  if (s.size() < suffix.size()) return false;
  std::string tail = s.substr(s.size() - suffix.size());
  std::transform(tail.begin(), tail.end(), tail.begin(), ::tolower);
  return tail == suffix;
}

// "files" and "cascade" (ModelMetadata::Files, ModelMetadata::Cascade).
void ParseFilesAndCascade(const Reader& r, ModelMetadata& m, const std::string& source) {
  if (r.Has("files")) {
    const Reader f = r.Object("files");
    ModelMetadata::Files files;
    files.model = f.String("model", true);
    files.config = f.String("config", false);
    if (files.model.empty()) f.FailMsg(f.Path("model"), "must not be empty");
    const bool darknet = EndsWith3p(files.model, ".weights");
    if (!darknet && !EndsWith3p(files.model, ".pt") && !EndsWith3p(files.model, ".onnx") && !EndsWith3p(files.model, ".xml"))
      f.FailMsg(f.Path("model"), "expected a .pt, .onnx, .weights (Darknet, with 'config') or .xml (OpenCV cascade) file, found \"" +
                                     files.model + "\"");
    if (darknet && files.config.empty())
      f.FailMsg(f.Path("config"), "a Darknet model (\"" + files.model + "\") needs its .cfg here");
    if (!files.config.empty() && !darknet)
      f.FailMsg(f.Path("config"), "only a Darknet .weights model takes a config; 'files.model' is \"" + files.model + "\"");
    if (!files.config.empty() && !EndsWith3p(files.config, ".cfg"))
      f.FailMsg(f.Path("config"), "expected a Darknet .cfg file, found \"" + files.config + "\"");
    if (EndsWith3p(files.model, ".xml") && m.task != Task::kObjectDetection)
      f.FailMsg(f.Path("model"), std::string("an OpenCV cascade is an object detector; 'task' is \"") + TaskName(m.task) + "\"");
    m.files = files;
  }
  if (r.Has("cascade")) {
    const Reader c = r.Object("cascade");
    ModelMetadata::Cascade k;
    k.scale_factor = c.Number("scale_factor", false, 1.1);
    if (!(k.scale_factor > 1.0 && k.scale_factor <= 4.0)) c.FailMsg(c.Path("scale_factor"), "expected a number in (1, 4]");
    k.min_neighbors = static_cast<int>(c.Int("min_neighbors", false, 3, 0, 1000));
    const auto size = [&](const char* key, int* w, int* h) {
      if (!c.Has(key)) return;
      const std::vector<float> v = c.Floats(key);
      if (v.size() != 2 || v[0] < 0 || v[1] < 0 || v[0] > kMaxImageSide || v[1] > kMaxImageSide ||
          v[0] != std::floor(v[0]) || v[1] != std::floor(v[1]))
        c.FailMsg(c.Path(key), "expected [width, height], two integers in [0, 16384], found " + Show(c.Get(key)));
      *w = static_cast<int>(v[0]);
      *h = static_cast<int>(v[1]);
    };
    size("min_size", &k.min_width, &k.min_height);
    size("max_size", &k.max_width, &k.max_height);
    if (k.max_width && k.max_height && (k.max_width < k.min_width || k.max_height < k.min_height))
      c.FailMsg(c.Path("max_size"), "must be at least 'min_size'");
    k.equalize_histogram = c.Bool("equalize_histogram", true);
    k.score_half = static_cast<float>(c.Number("score_half", false, 10.0));
    if (!(k.score_half > 0)) c.FailMsg(c.Path("score_half"), "must be > 0");
    if (m.task != Task::kObjectDetection)
      r.FailMsg("cascade", std::string("a cascade is an object detector; 'task' is \"") + TaskName(m.task) + "\"");
    if (m.image && m.image->color != ColorOrder::kGray)
      throw Error(ErrorCode::kMetadata, source + ": field 'image.color': a cascade reads gray images; expected \"gray\", found \"" +
                                            NameOf(kColors, m.image->color) + "\"");
    m.cascade = k;
  }
}
// ---- end of the third-party block ----

// ---- detection (issue 13): layouts and their output roles ----
// Every detection layout a decoder in vision/src/detection/ reads. A new
// decoder adds its name here (and its field checks in ParseDetection).
const std::vector<std::string> kDetectionLayouts = {
    "boxes_scores_labels", "torchvision", "boxes_scores", "yolov5", "yolov8", "gfl",
    // layouts added by other decoders: one line each below
    "fastestdet", "yunet", "blazeface",  // vision/src/detection/{fastestdet,yunet,blazeface}.cc (ParseThirdPartyLayout)
};

std::string ShapeText(const std::vector<int64_t>& sh) {
  std::string t = "[";
  for (size_t i = 0; i < sh.size(); ++i) t += (i ? ", " : "") + (sh[i] < 0 ? std::string("-1") : std::to_string(sh[i]));
  return t + "]";
}

DetectionSpec ParseDetection(const Reader& d, const ModelMetadata& m, const std::string& source) {
  DetectionSpec s;
  s.layout = d.String("layout", false, s.layout);
  if (s.layout == "yolo") s.layout = "yolov5";  // the name schema 1 reserved
  if (std::find(kDetectionLayouts.begin(), kDetectionLayouts.end(), s.layout) == kDetectionLayouts.end()) {
    std::string names;
    for (const auto& l : kDetectionLayouts) names += (names.empty() ? "\"" : ", \"") + l + "\"";
    d.FailMsg(d.Path("layout"), "expected one of " + names + ", found \"" + s.layout + "\"");
  }
  const bool yolo = s.layout == "yolov5" || s.layout == "yolov8";
  s.box_format = d.Enum("box_format", kBoxFormats, false, yolo ? BoxFormat::kCXCYWH : BoxFormat::kXYXY);
  s.normalized = d.Bool("normalized", false);
  s.nms_applied = d.Bool("nms_applied", s.layout == "torchvision");
  const double iou = d.Number("iou_threshold", false, 0.45), score = d.Number("score_threshold", false, 0.25);
  if (!(iou >= 0 && iou <= 1)) d.FailMsg(d.Path("iou_threshold"), "expected a number in [0, 1], found " + Show(d.Get("iou_threshold")));
  if (!(score >= 0 && score <= 1))
    d.FailMsg(d.Path("score_threshold"), "expected a number in [0, 1], found " + Show(d.Get("score_threshold")));
  s.iou_threshold = static_cast<float>(iou);
  s.score_threshold = static_cast<float>(score);
  s.max_detections = static_cast<int>(d.Int("max_detections", false, 100, 1, 1000000));
  s.multi_label = d.Bool("multi_label", false);
  s.class_agnostic_nms = d.Bool("class_agnostic_nms", false);
  s.scores_activation = d.Enum("scores_activation", kActivations, false, Activation::kNone);
  s.background_class = d.Bool("background_class", false);
  s.objectness = d.Bool("objectness", true);
  s.scores_include_objectness = d.Bool("scores_include_objectness", false);
  s.label_offset = static_cast<int>(d.Int("label_offset", false, 0, -1000000, 1000000));
  s.num_keypoints = static_cast<int>(d.Int("num_keypoints", false, 0, 0, 1000));
  s.keypoint_dims = static_cast<int>(d.Int("keypoint_dims", false, 2, 2, 3));
  const int64_t classes = static_cast<int64_t>(m.labels.size());
  const int64_t kp = static_cast<int64_t>(s.num_keypoints) * s.keypoint_dims;

  // An output role: a declared output's name (required roles default to `def`).
  auto role = [&](const char* key, const std::string& def, bool required) -> const TensorSpec* {
    const std::string name = d.String(key, false, def);
    if (name.empty()) {
      if (required) d.FailMsg(d.Path(key), "layout '" + s.layout + "' needs this output name");
      return nullptr;
    }
    for (const auto& o : m.outputs)
      if (o.name == name) return &o;
    if (!required && !d.Has(key)) return nullptr;  // an optional role's default that the bundle does not declare
    std::string names;
    for (const auto& o : m.outputs) names += (names.empty() ? "" : ", ") + o.name;
    d.FailMsg(d.Path(key), "expected one of the declared outputs (" + names + "), found \"" + name + "\"" +
                               (d.Has(key) ? "" : " (the layout's default name)"));
  };
  // A declared shape's rank and fixed dimensions (-1 in `want`: any).
  auto shape = [&](const TensorSpec* t, std::vector<int64_t> want, const std::string& what) {
    if (!t || t->shape.empty()) return;
    bool ok = t->shape.size() == want.size();
    for (size_t i = 0; ok && i < want.size(); ++i) ok = want[i] < 0 || t->shape[i] < 0 || t->shape[i] == want[i];
    if (!ok)
      throw Error(ErrorCode::kMetadata, source + ": field 'outputs': '" + t->name + "' must be " + ShapeText(want) + " (" +
                                            what + ") for layout '" + s.layout + "'; found " + ShapeText(t->shape));
  };
  if (s.layout == "boxes_scores_labels" || s.layout == "torchvision") {
    const TensorSpec* b = role("boxes_output", "boxes", true);
    const TensorSpec* sc = role("scores_output", "scores", true);
    const TensorSpec* l = role("labels_output", "labels", true);
    const TensorSpec* c = role("count_output", s.layout == "torchvision" ? "num_detections" : "", false);
    s.boxes_output = b->name;
    s.scores_output = sc->name;
    s.labels_output = l->name;
    if (c) s.count_output = c->name;
    // [B, K, ...], or [K, ...] for a model that takes one image
    const bool single = b->shape.size() == 2;
    shape(b, single ? std::vector<int64_t>{-1, 4} : std::vector<int64_t>{-1, -1, 4},
          single ? "detections, box: one image" : "batch, detections, box");
    shape(sc, single ? std::vector<int64_t>{-1} : std::vector<int64_t>{-1, -1}, single ? "detections" : "batch, detections");
    shape(l, single ? std::vector<int64_t>{-1} : std::vector<int64_t>{-1, -1}, single ? "detections" : "batch, detections");
    shape(c, single ? std::vector<int64_t>{} : std::vector<int64_t>{-1}, "batch");
    if (s.num_keypoints > 0) {
      const TensorSpec* k = role("keypoints_output", "keypoints", true);
      s.keypoints_output = k->name;
      shape(k, single ? std::vector<int64_t>{-1, s.num_keypoints, s.keypoint_dims}
                      : std::vector<int64_t>{-1, -1, s.num_keypoints, s.keypoint_dims},
            "batch, detections, keypoints, values");
    }
  } else if (s.layout == "boxes_scores") {
    const TensorSpec* b = role("boxes_output", "boxes", true);
    const TensorSpec* sc = role("scores_output", "scores", true);
    s.boxes_output = b->name;
    s.scores_output = sc->name;
    shape(b, {-1, -1, 4}, "batch, anchors, box");
    shape(sc, {-1, -1, classes + (s.background_class ? 1 : 0)},
          "batch, anchors, " + std::string(s.background_class ? "background + labels" : "labels"));
    if (s.num_keypoints > 0) {
      const TensorSpec* k = role("keypoints_output", "keypoints", true);
      s.keypoints_output = k->name;
      shape(k, {-1, -1, kp}, "batch, anchors, num_keypoints * keypoint_dims");
    }
  } else if (yolo) {
    if (d.Has("predictions_outputs")) {
      for (const auto& n : d.Strings("predictions_outputs")) s.predictions_outputs.push_back(n);
      if (s.predictions_outputs.empty()) d.FailMsg(d.Path("predictions_outputs"), "expected at least one output name");
    } else {
      s.predictions_outputs.push_back(m.output.name);
    }
    const int64_t row = 4 + (s.layout == "yolov5" && s.objectness ? 1 : 0) + classes + kp;
    for (const auto& n : s.predictions_outputs) {
      const TensorSpec* t = nullptr;
      for (const auto& o : m.outputs) if (o.name == n) t = &o;
      if (!t) d.FailMsg(d.Path("predictions_outputs"), "\"" + n + "\" is not a declared output");
      const std::string what = s.layout == "yolov5"
                                   ? std::string("anchors, 4 box values") + (s.objectness ? " + objectness" : "") + " + " +
                                         std::to_string(classes) + " labels" + (kp ? " + keypoints" : "")
                                   : "4 box values + " + std::to_string(classes) + " labels" + (kp ? " + keypoints" : "") + ", anchors";
      if (s.layout == "yolov5") {
        if (!t->shape.empty() && t->shape.size() != 2) shape(t, {-1, -1, row}, "batch, " + what);
        else shape(t, {-1, row}, what + "; a rank-2 output is one image's rows");
      } else {
        shape(t, {-1, row, -1}, "batch, " + what);
      }
    }
    if (s.scores_include_objectness && s.layout != "yolov5")
      d.FailMsg(d.Path("scores_include_objectness"), "only layout 'yolov5' has an objectness column");
    if (s.scores_include_objectness && !s.objectness)
      d.FailMsg(d.Path("scores_include_objectness"), "needs 'objectness' true (the column it skips)");
  } else if (s.layout == "gfl") {
    s.gfl = ParseGfl(d, m, source);
  } else if (ParseThirdPartyLayout(d, m, s, source)) {  // fastestdet, yunet, blazeface
  }
  if (s.scores_activation == Activation::kSoftmax && s.layout != "boxes_scores")
    d.FailMsg(d.Path("scores_activation"), "softmax over classes applies to layout 'boxes_scores' only; use \"sigmoid\" or \"none\"");
  if (s.background_class && s.layout != "boxes_scores")
    d.FailMsg(d.Path("background_class"), "only layout 'boxes_scores' has a background score column");
  return s;
}

// ---- out-of-domain detector ("ood"; OodSpec) ------------------------------
const std::vector<std::pair<const char*, OodSignalKind>> kOodSignals = {
    {"mahalanobis", OodSignalKind::kMahalanobis}, {"energy", OodSignalKind::kEnergy},
    {"max_logit", OodSignalKind::kMaxLogit},      {"max_softmax", OodSignalKind::kMaxSoftmax},
    {"unknown_share", OodSignalKind::kUnknownShare}};

OodSpec ParseOod(const Reader& r, const ModelMetadata& m, const std::string& source) {
  if (m.task != Task::kImageClassification && m.task != Task::kTextClassification)
    throw Error(ErrorCode::kMetadata, source + ": field 'ood': out-of-domain detection is for image_classification and "
                                               "text_classification bundles; this one is " + TaskName(m.task));
  Reader o = r.Object("ood");
  OodSpec s;
  const json& sig = o.Get("signals");
  if (!sig.is_array() || sig.empty()) o.Fail(o.Path("signals"), "a non-empty array of {name, loc, scale}", sig);
  for (size_t i = 0; i < sig.size(); ++i) {
    Reader e(sig[i], o.Path("signals") + "[" + std::to_string(i) + "]", source);
    OodSignal g;
    g.kind = e.Enum("name", kOodSignals, true, OodSignalKind::kEnergy);
    if (s.Uses(g.kind)) e.FailMsg(e.Path("name"), std::string("signal \"") + NameOf(kOodSignals, g.kind) + "\" is listed twice");
    if (g.kind == OodSignalKind::kUnknownShare && m.task != Task::kTextClassification)
      e.FailMsg(e.Path("name"), "signal \"unknown_share\" counts a tokenizer's unknown tokens; it is for text bundles");
    g.loc = static_cast<float>(e.Number("loc", true, 0.0));
    g.scale = static_cast<float>(e.Number("scale", true, 1.0));
    if (!(g.scale > 0)) e.FailMsg(e.Path("scale"), "must be > 0, found " + Show(e.Get("scale")));
    s.signals.push_back(g);
  }
  const std::string combine = o.String("combine", false, "max");
  if (combine != "max") o.FailMsg(o.Path("combine"), "expected \"max\" (the largest standardised signal), found \"" + combine + "\"");
  s.threshold = static_cast<float>(o.Number("threshold", true, 0.0));
  const double tpr = o.Number("tpr", true, 0.95);
  if (!(tpr > 0 && tpr <= 1)) o.FailMsg(o.Path("tpr"), "expected a share in (0, 1], found " + Show(o.Get("tpr")));
  s.tpr = static_cast<float>(tpr);
  s.domain = o.String("domain", true);
  if (s.domain.empty()) o.FailMsg(o.Path("domain"), "must say what the model knows (it is shown with every flagged input)");
  s.fitted_on = o.String("fitted_on", true);
  s.threshold_on = o.String("threshold_on", true);
  s.script = o.String("script", false);
  s.command = o.String("command", false);
  s.created = o.String("created", false);
  if (s.Uses(OodSignalKind::kMahalanobis)) {
    s.features_output = o.String("features_output", true);
    const TensorSpec* f = nullptr;
    for (const auto& t : m.outputs)
      if (t.name == s.features_output) f = &t;
    if (!f) o.FailMsg(o.Path("features_output"), "\"" + s.features_output + "\" is not one of the declared outputs");
    if (s.features_output == m.output.name)
      o.FailMsg(o.Path("features_output"), "names the classification output \"" + m.output.name + "\"; expected the penultimate features");
    s.feature_dim = static_cast<int>(o.Int("feature_dim", true, 0, 1, 65536));
    if (f->shape.size() != 2 || (f->shape.back() > 0 && f->shape.back() != s.feature_dim))
      o.FailMsg(o.Path("feature_dim"), "output '" + f->name + "' must be declared [N, " + std::to_string(s.feature_dim) +
                                           "] (dim -1 or " + std::to_string(s.feature_dim) + "), found " + Show(json(f->shape)));
    s.statistics_asset = o.String("statistics_asset", true);
    if (std::find(m.assets.begin(), m.assets.end(), s.statistics_asset) == m.assets.end())
      o.FailMsg(o.Path("statistics_asset"), "\"" + s.statistics_asset + "\" is not listed in 'assets'");
  }
  return s;
}

}  // namespace

const char* OodSignalName(OodSignalKind kind) { return NameOf(kOodSignals, kind); }
bool OodSpec::Uses(OodSignalKind kind) const {
  for (const auto& g : signals)
    if (g.kind == kind) return true;
  return false;
}

ModelMetadata ParseMetadata(const std::string& json_text, const std::string& source) try {
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::parse_error& e) {
    throw Error(ErrorCode::kMetadata, source + ": malformed JSON: " + e.what());
  }
  Reader r(root, "", source);
  ModelMetadata m;
  m.schema_version = static_cast<int>(r.Int("schema_version", true, 0, 0));
  if (m.schema_version != kMetadataSchemaVersion)
    throw Error(ErrorCode::kMetadata, source + ": unsupported schema_version " + std::to_string(m.schema_version) +
                                          "; this build of sense reads version " +
                                          std::to_string(kMetadataSchemaVersion));
  m.task = r.Enum("task", kTasks, true, Task::kImageClassification);
  m.name = r.String("name", true);
  if (m.name.empty()) r.FailMsg("name", "must not be empty");
  m.version = r.String("version", false);
  m.description = r.String("description", false);
  m.labels = r.Strings("labels");
  {
    std::set<std::string> seen;
    for (const auto& l : m.labels) {
      if (l.empty()) r.FailMsg("labels", "labels must not be empty strings");
      if (!seen.insert(l).second) r.FailMsg("labels", "duplicate label \"" + l + "\"");
    }
  }
  const bool needs_labels = m.task == Task::kImageClassification || m.task == Task::kObjectDetection ||
                            m.task == Task::kTextClassification || m.task == Task::kTokenClassification;
  if (needs_labels && m.labels.empty())
    throw Error(ErrorCode::kMetadata, source + ": task " + TaskName(m.task) + " needs a non-empty 'labels' array");
  m.inputs = ParseTensorSpecs(r, "inputs");
  m.outputs = ParseTensorSpecs(r, "outputs");

  if (r.Has("image")) {
    Reader im = r.Object("image");
    ImagePreprocessing p;
    p.width = static_cast<int>(im.Int("width", true, 0, 1, kMaxImageSide));
    p.height = static_cast<int>(im.Int("height", true, 0, 1, kMaxImageSide));
    p.color = im.Enum("color", kColors, true, ColorOrder::kRGB);
    p.layout = im.Enum("layout", kLayouts, false, Layout::kNCHW);
    p.resize = im.Enum("resize", kResize, false, ResizeMode::kStretch);
    p.resize_shorter = static_cast<int>(im.Int("resize_shorter", false, 0, 0));
    if (p.resize == ResizeMode::kCenterCrop && p.resize_shorter == 0) p.resize_shorter = std::min(p.width, p.height);
    if (p.resize == ResizeMode::kCenterCrop && p.resize_shorter < std::max(p.width, p.height) && p.resize_shorter < std::min(p.width, p.height))
      im.FailMsg(im.Path("resize_shorter"), "must be at least the crop size " + std::to_string(std::min(p.width, p.height)) +
                                                ", found " + std::to_string(p.resize_shorter));
    p.interpolation = im.Enum("interpolation", kInterp, false, Interpolation::kBilinear);
    p.antialias = im.Bool("antialias", true);
    p.scale = static_cast<float>(im.Number("scale", false, 1.0 / 255.0));
    if (!(p.scale > 0)) im.FailMsg(im.Path("scale"), "must be > 0");
    const size_t c = static_cast<size_t>(p.channels());
    if (!im.Has("mean") || !im.Has("std"))
      throw Error(ErrorCode::kMetadata, source + ": image models need 'image.mean' and 'image.std' (use [0,...] and [1,...] "
                                                 "for no normalisation); a silent guess would skew every result");
    p.mean = im.Floats("mean");
    p.std = im.Floats("std");
    if (p.mean.size() != c)
      im.FailMsg(im.Path("mean"), "expected " + std::to_string(c) + " values (one per channel of a " +
                                      NameOf(kColors, p.color) + " image), found " + std::to_string(p.mean.size()));
    if (p.std.size() != c)
      im.FailMsg(im.Path("std"), "expected " + std::to_string(c) + " values (one per channel of a " +
                                     NameOf(kColors, p.color) + " image), found " + std::to_string(p.std.size()));
    for (float s : p.std)
      if (!(s > 0)) im.FailMsg(im.Path("std"), "every value must be > 0, found " + std::to_string(s));
    p.pad_value = im.Floats("pad_value");
    if (p.pad_value.empty()) p.pad_value.assign(c, 114.0f);
    if (p.pad_value.size() != c)
      im.FailMsg(im.Path("pad_value"), "expected " + std::to_string(c) + " values, found " + std::to_string(p.pad_value.size()));
    p.sampling = im.Enum("sampling", kSampling, false, Sampling::kResize);
    if (p.sampling == Sampling::kWarp && p.resize != ResizeMode::kLetterbox)
      im.FailMsg(im.Path("sampling"), std::string("\"warp\" is a letterbox sampling; image.resize is \"") +
                                          NameOf(kResize, p.resize) + "\"");
    m.image = p;
  } else if (IsVisionTask(m.task)) {
    throw Error(ErrorCode::kMetadata, source + ": task " + std::string(TaskName(m.task)) +
                                          " needs an 'image' object (size, colour order, resize, mean/std)");
  }

  if (r.Has("text")) {
    Reader tx = r.Object("text");
    TextPreprocessing t;
    Reader tk = tx.Object("tokenizer");
    t.tokenizer.type = tk.Enum("type", kTokenizers, true, TokenizerType::kSentencePiece);
    t.tokenizer.asset = tk.String("asset", true);
    t.tokenizer.lowercase = tk.Bool("lowercase", false);
    if (tk.Has("strip_accents")) t.tokenizer.strip_accents = tk.Bool("strip_accents", false);
    t.tokenizer.tokenize_chinese_chars = tk.Bool("tokenize_chinese_chars", true);
    t.tokenizer.add_bos = tk.Bool("add_bos", false);
    t.tokenizer.add_eos = tk.Bool("add_eos", false);
    t.tokenizer.add_special_tokens = tk.Bool("add_special_tokens", true);
    t.max_length = static_cast<int>(tx.Int("max_length", false, 512, 1));
    t.truncation = tx.Enum("truncation", kTruncation, false, Truncation::kLongestFirst);
    t.window_stride = static_cast<int>(tx.Int("window_stride", false, 0, 0));
    if (t.truncation == Truncation::kWindow && t.window_stride == 0) t.window_stride = std::max(1, t.max_length / 2);
    t.padding = tx.Enum("padding", kPadding, false, Padding::kLongest);
    t.pad_id = tx.Int("pad_id", false, 0, 0, std::numeric_limits<int64_t>::max());
    if (tx.Has("input_names")) {
      const json& names = tx.Get("input_names");
      if (!names.is_object()) tx.Fail(tx.Path("input_names"), "an object {role: input name}", names);
      for (auto it = names.begin(); it != names.end(); ++it) {
        if (!it.value().is_string()) tx.Fail(tx.Path("input_names") + "." + it.key(), "a string", it.value());
        t.input_names[it.key()] = it.value().get<std::string>();
      }
    }
    m.text = t;
  } else if (IsTextTask(m.task)) {
    throw Error(ErrorCode::kMetadata, source + ": task " + std::string(TaskName(m.task)) +
                                          " needs a 'text' object (tokenizer, max_length)");
  }

  // Output interpretation, with task defaults.
  OutputSpec out;
  switch (m.task) {
    case Task::kImageEmbedding:
    case Task::kTextEmbedding: out.type = OutputType::kEmbeddings; out.activation = Activation::kNone; break;
    case Task::kObjectDetection: out.type = OutputType::kDetections; out.activation = Activation::kNone; break;
    case Task::kTokenClassification: out.type = OutputType::kTokenLogits; break;
    default: break;
  }
  out.name = m.outputs.front().name;
  if (r.Has("output")) {
    Reader o = r.Object("output");
    out.name = o.String("name", false, out.name);
    out.type = o.Enum("type", kOutputTypes, false, out.type);
    // Probabilities are used as the model gives them: no activation, no temperature.
    const bool probabilities = out.type == OutputType::kProbabilities;
    if (probabilities) out.activation = Activation::kNone;
    out.activation = o.Enum("activation", kActivations, false, out.activation);
    if (probabilities && out.activation != Activation::kNone)
      o.FailMsg(o.Path("activation"), std::string("output type \"probabilities\" is used as the model gives it; expected "
                                      "\"none\" (or no activation), found \"") + NameOf(kActivations, out.activation) + "\"");
    out.temperature = static_cast<float>(o.Number("temperature", false, 1.0));
    if (!(out.temperature > 0)) o.FailMsg(o.Path("temperature"), "must be > 0");
    if (probabilities && out.temperature != 1.0f)
      o.FailMsg(o.Path("temperature"), "output type \"probabilities\" takes no temperature (it divides logits); found " +
                                           Show(o.raw().at("temperature")));
  }
  bool found = false;
  for (const auto& s : m.outputs) found = found || s.name == out.name;
  if (!found) throw Error(ErrorCode::kMetadata, source + ": field 'output.name': \"" + out.name + "\" is not one of the declared outputs");
  m.output = out;

  // Static label check against a declared class dimension.
  const TensorSpec* os = nullptr;
  for (const auto& s : m.outputs) if (s.name == out.name) os = &s;
  if (!m.labels.empty() && (m.task == Task::kImageClassification || m.task == Task::kTextClassification ||
                            m.task == Task::kTokenClassification) &&
      !os->shape.empty() && os->shape.back() > 0 && static_cast<size_t>(os->shape.back()) != m.labels.size())
    throw Error(ErrorCode::kMetadata, source + ": 'labels' has " + std::to_string(m.labels.size()) + " entries but output '" +
                                          out.name + "' declares " + std::to_string(os->shape.back()) + " classes");

  if (r.Has("detection")) {
    m.detection = ParseDetection(r.Object("detection"), m, source);
  } else if (m.task == Task::kObjectDetection) {
    throw Error(ErrorCode::kMetadata, source + ": task object_detection needs a 'detection' object (box format, layout)");
  }
  if (r.Has("embedding")) {
    Reader e = r.Object("embedding");
    EmbeddingSpec s;
    s.dim = static_cast<int>(e.Int("dim", true, 0, 1));
    s.normalize = e.Bool("normalize", true);
    s.pooling = e.String("pooling", false, "none");
    if (s.pooling != "none" && s.pooling != "mean" && s.pooling != "cls" && s.pooling != "max")
      e.FailMsg(e.Path("pooling"), "expected \"none\", \"mean\", \"cls\" or \"max\", found \"" + s.pooling + "\"");
    m.embedding = s;
  } else if (m.task == Task::kImageEmbedding || m.task == Task::kTextEmbedding) {
    throw Error(ErrorCode::kMetadata, source + ": task " + std::string(TaskName(m.task)) + " needs an 'embedding' object (dim)");
  }
  // token_classification (entities issue): scheme, labels that fit it, sub-token aggregation, optional CRF scores.
  if (r.Has("token_classification")) {
    Reader t = r.Object("token_classification");
    TokenClassificationSpec s;
    s.scheme = t.String("scheme", false, s.scheme);
    if (s.scheme != "bio" && s.scheme != "iob1" && s.scheme != "bioes" && s.scheme != "bilou")
      t.FailMsg(t.Path("scheme"), "expected \"bio\", \"iob1\", \"bioes\" or \"bilou\", found \"" + s.scheme + "\"");
    const std::string prefixes = s.scheme == "bioes" ? "BIES" : s.scheme == "bilou" ? "BILU" : "BI";
    for (const auto& l : m.labels) {
      const bool ok = l == "O" || (l.size() >= 3 && (l[1] == '-' || l[1] == '_') && prefixes.find(l[0]) != std::string::npos);
      if (!ok)
        r.FailMsg("labels", "label \"" + l + "\" does not fit token_classification.scheme \"" + s.scheme +
                                "\": expected O or one of " + prefixes + " followed by '-' and a type, e.g. B-PER");
    }
    s.aggregation = t.String("aggregation", false, s.aggregation);
    if (s.aggregation != "first" && s.aggregation != "average" && s.aggregation != "max")
      t.FailMsg(t.Path("aggregation"), "expected \"first\", \"average\" or \"max\", found \"" + s.aggregation + "\"");
    const size_t k = m.labels.size();
    if (t.Has("transitions")) {
      const json& tr = t.Get("transitions");
      if (!tr.is_array() || tr.size() != k)
        t.Fail(t.Path("transitions"), std::to_string(k) + " rows of " + std::to_string(k) + " numbers (labels x labels)", tr);
      for (size_t i = 0; i < k; ++i) {
        const json& row = tr.at(i);
        if (!row.is_array() || row.size() != k)
          t.Fail(t.Path("transitions") + "[" + std::to_string(i) + "]", "an array of " + std::to_string(k) + " numbers", row);
        for (const json& v : row) {
          if (!v.is_number() || !std::isfinite(v.get<double>()))
            t.Fail(t.Path("transitions") + "[" + std::to_string(i) + "]", "finite numbers", v);
          s.transitions.push_back(static_cast<float>(v.get<double>()));
        }
      }
    }
    for (const char* key : {"start_scores", "end_scores"}) {
      std::vector<float>& dst = std::string(key) == "start_scores" ? s.start_scores : s.end_scores;
      if (!t.Has(key)) {
        if (!s.transitions.empty()) dst.assign(k, 0.0f);
        continue;
      }
      if (s.transitions.empty()) t.FailMsg(t.Path(key), "given without token_classification.transitions");
      const json& v = t.Get(key);
      if (!v.is_array() || v.size() != k) t.Fail(t.Path(key), std::to_string(k) + " numbers (one per label)", v);
      for (const json& x : v) {
        if (!x.is_number() || !std::isfinite(x.get<double>())) t.Fail(t.Path(key), "finite numbers", x);
        dst.push_back(static_cast<float>(x.get<double>()));
      }
    }
    m.token_classification = s;
  }
  if (r.Has("explain")) {
    Reader e = r.Object("explain");
    ExplainSpec s;
    s.method = e.String("method", true);
    if (s.method != "gradcam" && s.method != "integrated_gradients" && s.method != "occlusion")
      e.FailMsg(e.Path("method"), "expected \"gradcam\", \"integrated_gradients\" or \"occlusion\", found \"" + s.method + "\"");
    s.features_method = e.String("features_method", s.method != "occlusion");
    s.head_method = e.String("head_method", s.method != "occlusion");
    m.explain = s;
  }
  m.weights_dtype = r.String("weights_dtype", false, m.weights_dtype);
  if (m.weights_dtype != "float32" && m.weights_dtype != "float16")
    r.FailMsg("weights_dtype", "expected \"float32\" or \"float16\", found \"" + m.weights_dtype + "\"");
  m.assets = r.Strings("assets");
  if (m.text && std::find(m.assets.begin(), m.assets.end(), m.text->tokenizer.asset) == m.assets.end())
    throw Error(ErrorCode::kMetadata, source + ": field 'text.tokenizer.asset': \"" + m.text->tokenizer.asset +
                                          "\" is not listed in 'assets'");
  if (r.Has("ood")) m.ood = ParseOod(r, m, source);  // after outputs, output and assets, which it refers to
  if (r.Has("provenance")) {
    Reader p = r.Object("provenance");
    m.provenance.training_data = p.String("training_data", false);
    m.provenance.script = p.String("script", false);
    m.provenance.command = p.String("command", false);
    m.provenance.created = p.String("created", false);
    m.provenance.license = p.String("license", false);
    m.provenance.framework = p.String("framework", false);
    m.provenance.notes = p.String("notes", false);
    if (p.Has("metrics")) {
      const json& mt = p.Get("metrics");
      if (!mt.is_object()) p.Fail(p.Path("metrics"), "an object {name: number}", mt);
      for (auto it = mt.begin(); it != mt.end(); ++it) {
        if (!it.value().is_number()) p.Fail(p.Path("metrics") + "." + it.key(), "a number", it.value());
        m.provenance.metrics[it.key()] = it.value().get<double>();
      }
    }
  }
  ParseFilesAndCascade(r, m, source);
  m.json = root.dump(2);
  return m;
} catch (const nlohmann::json::exception& e) {  // a JSON access the checks above did not foresee
  throw Error(ErrorCode::kMetadata, source + ": " + e.what());
} catch (const std::bad_alloc&) {
  throw Error(ErrorCode::kResource, source + ": out of memory");
}

}  // namespace sense
