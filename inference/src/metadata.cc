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
    {"stretch", ResizeMode::kStretch}, {"center_crop", ResizeMode::kCenterCrop}, {"letterbox", ResizeMode::kLetterbox}};
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

}  // namespace

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
    Reader d = r.Object("detection");
    DetectionSpec s;
    s.box_format = d.Enum("box_format", kBoxFormats, false, BoxFormat::kXYXY);
    s.normalized = d.Bool("normalized", false);
    s.nms_applied = d.Bool("nms_applied", false);
    s.iou_threshold = static_cast<float>(d.Number("iou_threshold", false, 0.45));
    s.score_threshold = static_cast<float>(d.Number("score_threshold", false, 0.25));
    s.layout = d.String("layout", false, s.layout);
    if (s.layout != "boxes_scores_labels" && s.layout != "yolo" && s.layout != "gfl")
      d.FailMsg(d.Path("layout"), "expected \"boxes_scores_labels\", \"yolo\" or \"gfl\", found \"" + s.layout + "\"");
    s.max_detections = static_cast<int>(d.Int("max_detections", false, 100, 1, 1000000));
    s.multi_label = d.Bool("multi_label", false);
    s.class_agnostic_nms = d.Bool("class_agnostic_nms", false);
    if (s.layout == "gfl") s.gfl = ParseGfl(d, m, source);
    m.detection = s;
  } else if (m.task == Task::kObjectDetection) {
    throw Error(ErrorCode::kMetadata, source + ": task object_detection needs a 'detection' object (box format, layout)");
  }
  if (r.Has("embedding")) {
    Reader e = r.Object("embedding");
    EmbeddingSpec s;
    s.dim = static_cast<int>(e.Int("dim", true, 0, 1));
    s.normalize = e.Bool("normalize", true);
    s.pooling = e.String("pooling", false, "none");
    if (s.pooling != "none" && s.pooling != "mean" && s.pooling != "cls")
      e.FailMsg(e.Path("pooling"), "expected \"none\", \"mean\" or \"cls\", found \"" + s.pooling + "\"");
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
  m.json = root.dump(2);
  return m;
} catch (const nlohmann::json::exception& e) {  // a JSON access the checks above did not foresee
  throw Error(ErrorCode::kMetadata, source + ": " + e.what());
} catch (const std::bad_alloc&) {
  throw Error(ErrorCode::kResource, source + ": out of memory");
}

}  // namespace sense
