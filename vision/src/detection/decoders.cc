// The layout table and the helpers of decoders.h.
#include "detection/decoders.h"

#include <utility>

namespace sense::vision::detection {

namespace {

struct LayoutEntry {
  const char* name;
  DecodeFn decode;
};

// One line per layout (the names inference/src/metadata.cc accepts).
const LayoutEntry kLayouts[] = {
    {"boxes_scores_labels", DecodeBoxesScoresLabels},
    {"torchvision", DecodeBoxesScoresLabels},  // the backend flattens torchvision's list of dicts (torch_backend.cc)
    {"boxes_scores", DecodeBoxesScores},
    {"yolov5", DecodeYoloV5},
    {"yolov8", DecodeYoloV8},
    {"gfl", DecodeGfl},
    // layouts added by other decoders: one line each below
};

std::string ShapeText(const std::vector<int64_t>& s) {
  std::string t = "[";
  for (size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + (s[i] < 0 ? std::string("?") : std::to_string(s[i]));
  return t + "]";
}

}  // namespace

DecodeFn FindDecoder(const std::string& layout) {
  for (const auto& e : kLayouts)
    if (layout == e.name) return e.decode;
  return nullptr;
}

std::vector<std::string> DecoderNames() {
  std::vector<std::string> names;
  for (const auto& e : kLayouts) names.emplace_back(e.name);
  return names;
}

const Tensor& Output(const NamedTensors& outputs, const std::string& name, const std::string& layout) {
  if (!outputs.Contains(name)) {
    std::string present;
    for (const auto& n : outputs.Names()) present += (present.empty() ? "" : ", ") + n;
    throw Error(ErrorCode::kBackend, "layout '" + layout + "' reads output '" + name + "'; the model returned " +
                                         (present.empty() ? std::string("none") : present));
  }
  return outputs.at(name);
}

const float* RowData(const Tensor& t, const std::string& name, int64_t row, const DecodeContext& ctx,
                     const std::vector<int64_t>& tail, std::vector<int64_t>* shape, bool allow_unbatched) {
  const auto& s = t.shape();
  const bool batched = s.size() == tail.size() + 1 && s[0] == ctx.batch;
  const bool unbatched = allow_unbatched && ctx.batch == 1 && s.size() == tail.size();
  bool ok = batched || unbatched;
  const size_t first = batched ? 1 : 0;
  for (size_t i = 0; ok && i < tail.size(); ++i) ok = tail[i] < 0 || s[first + i] == tail[i];
  if (!ok || t.dtype() != DType::kFloat32) {
    std::vector<int64_t> want = tail;
    want.insert(want.begin(), ctx.batch);
    throw Error(ErrorCode::kBackend, "layout '" + ctx.spec.layout + "': output '" + name + "' should be " + ShapeText(want) +
                                         (allow_unbatched && ctx.batch == 1 ? " or " + ShapeText(tail) : std::string()) +
                                         ", the model returned " + t.Describe());
  }
  shape->assign(s.begin() + static_cast<std::ptrdiff_t>(first), s.end());
  int64_t per = 1;
  for (int64_t d : *shape) per *= d;
  return t.data<float>() + (batched ? row * per : 0);
}

}  // namespace sense::vision::detection
