// The inference layer's OpenCV formats (issue 13) without ../shared: a
// sidecar JSON as the model path, a Darknet .cfg/.weights pair written here
// (one 1x1 convolution and a [yolo] layer) whose class scores sit below
// OpenCV's hidden 0.2 threshold, an ONNX model through a sidecar's 'files',
// declared outputs the network lacks, and the metadata rules of the
// 'files', 'cascade', 'fastestdet', 'yunet' and 'blazeface' fields.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>

#include <unistd.h>

#include "sense/inference/error.h"
#include "sense/inference/model.h"
#include "test_util.h"

namespace sense {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using sense::testing::TestModel;

class TempDir {
 public:
  TempDir() : path_(fs::temp_directory_path() / ("sense_opencv_formats_" + std::to_string(::getpid()) + "_" + std::to_string(n_++))) {
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string Write(const std::string& name, const std::string& bytes) const {
    std::ofstream(path_ / name, std::ios::binary) << bytes;
    return (path_ / name).string();
  }
  std::string Path(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
  static inline int n_ = 0;
};

using sense::testing::ExpectError;

std::unique_ptr<Model> Load(const std::string& path, const std::string& metadata = "") {
  ModelOptions o;
  o.path = path;
  o.metadata_path = metadata;
  o.num_threads = 1;
  return Model::Load(o);
}

// ---- a Darknet model written here ----
// [net] 8x8x3 -> 1x1 conv, 21 filters (3 anchors x (5 + 2 classes)), zero
// weights, so every cell's outputs are sigmoid(bias): objectness
// sigmoid(3) = 0.953, class a sigmoid(-3) * 0.953 = 0.045 (below 0.2),
// class b sigmoid(0) * 0.953 = 0.476.
const char* kCfg = R"([net]
width=8
height=8
channels=3

[convolutional]
filters=21
size=1
stride=1
pad=0
activation=linear

[yolo]
mask=0,1,2
anchors=2,2, 4,4, 6,6
classes=2
num=3
)";

std::string DarknetWeights() {
  std::string w;
  auto put = [&](const void* p, size_t n) { w.append(static_cast<const char*>(p), n); };
  const int32_t major = 0, minor = 2, revision = 0;
  const uint64_t seen = 0;
  put(&major, 4); put(&minor, 4); put(&revision, 4); put(&seen, 8);
  for (int a = 0; a < 3; ++a) {
    const float bias[7] = {0, 0, 0, 0, 3, -3, 0};
    put(bias, sizeof(bias));
  }
  const std::vector<float> weights(21 * 3, 0.0f);
  put(weights.data(), weights.size() * 4);
  return w;
}

json DarknetSidecar(const std::string& output = "yolo_1") {
  return json::parse(R"({
    "schema_version": 1, "task": "object_detection", "name": "tiny-darknet", "labels": ["a", "b"],
    "files": {"model": "tiny.weights", "config": "tiny.cfg"},
    "inputs": [{"name": "data", "shape": [-1, 3, 8, 8]}],
    "outputs": [{"name": ")" + output + R"(", "shape": [-1, 192, 7]}],
    "image": {"width": 8, "height": 8, "color": "rgb", "mean": [0, 0, 0], "std": [1, 1, 1]},
    "detection": {"layout": "yolov5", "predictions_outputs": [")" + output + R"("], "normalized": true,
                  "scores_include_objectness": true}
  })");
}

TEST(Darknet, SidecarAsModelAndTheHiddenThresholdRemoved) {
  TempDir d;
  d.Write("tiny.cfg", kCfg);
  d.Write("tiny.weights", DarknetWeights());
  const std::string side = d.Write("tiny.json", DarknetSidecar().dump());
  auto m = Load(side);
  EXPECT_EQ(m->backend(), "darknet-opencv");
  EXPECT_EQ(m->metadata_source(), side);
  EXPECT_EQ(fs::path(m->path()).filename(), "tiny.weights");
  for (int64_t batch : {1, 2}) {
    const NamedTensors out = m->Run({{"data", Tensor::Zeros(DType::kFloat32, {batch, 3, 8, 8})}});
    const Tensor& t = out.at("yolo_1");
    ASSERT_EQ(t.shape(), (std::vector<int64_t>{batch, 192, 7})) << t.Describe();
    const float* row = t.data<float>();
    EXPECT_NEAR(row[4], 1 / (1 + std::exp(-3.0f)), 1e-4);
    // class a: 0.045, zeroed by OpenCV's default 0.2 threshold unless the loader removed it
    EXPECT_NEAR(row[5], row[4] / (1 + std::exp(3.0f)), 1e-4);
    EXPECT_NEAR(row[6], row[4] * 0.5f, 1e-4);
  }
}

TEST(Darknet, AnExistingThreshLineIsReplaced) {
  TempDir d;
  std::string cfg = kCfg;
  cfg += "thresh = 0.5\n";  // the last section is [yolo]
  d.Write("tiny.cfg", cfg);
  d.Write("tiny.weights", DarknetWeights());
  auto m = Load(d.Write("tiny.json", DarknetSidecar().dump()));
  const Tensor t = m->Run({{"data", Tensor::Zeros(DType::kFloat32, {1, 3, 8, 8})}}).at("yolo_1");
  EXPECT_GT(t.data<float>()[5], 0.04f);
}

TEST(Darknet, CfgOrWeightsPathWithTheSidecarBesideIt) {
  TempDir d;
  d.Write("tiny.cfg", kCfg);
  d.Write("tiny.weights", DarknetWeights());
  json side = DarknetSidecar();
  side.erase("files");  // the pair is found by stem
  d.Write("tiny.json", side.dump());
  EXPECT_EQ(Load(d.Path("tiny.weights"))->backend(), "darknet-opencv");
  EXPECT_EQ(Load(d.Path("tiny.cfg"))->backend(), "darknet-opencv");
}

TEST(Darknet, ErrorsNameTheProblem) {
  TempDir d;
  d.Write("tiny.cfg", kCfg);
  d.Write("tiny.weights", DarknetWeights());
  ExpectError([&] { Load(d.Write("a.json", DarknetSidecar("yolo_9").dump())); }, ErrorCode::kMetadata,
              "declares output 'yolo_9', which the network does not have; its output layers are: yolo_1");
  json side = DarknetSidecar();
  side["files"]["config"] = "missing.cfg";
  ExpectError([&] { Load(d.Write("b.json", side.dump())); }, ErrorCode::kFile, "field 'files.config'");
  side["files"].erase("config");
  ExpectError([&] { Load(d.Write("c.json", side.dump())); }, ErrorCode::kMetadata, "needs its .cfg");
  d.Write("bad.cfg", "[net]\nwidth=8\n[nonsense]\n");
  side["files"]["config"] = "bad.cfg";
  ExpectError([&] { Load(d.Write("e.json", side.dump())); }, ErrorCode::kModelFormat, "not a loadable Darknet model");
  d.Write("lonely.weights", DarknetWeights());
  ExpectError([&] { Load(d.Path("lonely.weights")); }, ErrorCode::kMetadata, "Darknet models need a sidecar");
}

// ---- ONNX through a sidecar's files ----

TEST(SidecarAsModel, OnnxNamedRelativeToTheSidecar) {
  if (!fs::exists(TestModel("colour3.onnx"))) GTEST_SKIP() << "no ONNX test model";
  TempDir d;
  json side = json::parse(std::ifstream(TestModel("colour3.onnx.json")));
  side["files"] = {{"model", fs::relative(TestModel("colour3.onnx"), d.Path("")).string()}};
  auto m = Load(d.Write("colour.json", side.dump()));
  EXPECT_EQ(m->backend(), "onnx-opencv");
  EXPECT_EQ(fs::canonical(m->path()), fs::canonical(TestModel("colour3.onnx")));
  EXPECT_EQ(ReadBundleMetadata(d.Path("colour.json")).name, side["name"].get<std::string>());
}

TEST(SidecarAsModel, Refusals) {
  TempDir d;
  json side = json::parse(std::ifstream(TestModel("colour3.onnx.json")));
  ExpectError([&] { Load(d.Write("nofiles.json", side.dump())); }, ErrorCode::kMetadata, "needs 'files'");
  side["files"] = {{"model", "nowhere.onnx"}};
  ExpectError([&] { Load(d.Write("missing.json", side.dump())); }, ErrorCode::kFile, "field 'files.model'");
  ExpectError([&] { Load(d.Path("missing.json"), d.Path("missing.json")); }, ErrorCode::kOption, "metadata_path");
}

TEST(SidecarAsModel, DeclaredOnnxOutputMustExist) {
  if (!fs::exists(TestModel("colour3.onnx"))) GTEST_SKIP() << "no ONNX test model";
  TempDir d;
  json side = json::parse(std::ifstream(TestModel("colour3.onnx.json")));
  side["files"] = {{"model", TestModel("colour3.onnx")}};
  side["outputs"][0]["name"] = "scores";
  side["output"] = {{"name", "scores"}};
  ExpectError([&] { Load(d.Write("o.json", side.dump())); }, ErrorCode::kMetadata, "declares output 'scores', which the network does not have");
}

// ---- metadata rules ----

json Detector(const std::string& layout) {
  json j = json::parse(R"({
    "schema_version": 1, "task": "object_detection", "name": "d", "labels": ["face"],
    "inputs": [{"name": "x", "shape": [1, 3, 32, 32]}],
    "image": {"width": 32, "height": 32, "color": "bgr", "mean": [0, 0, 0], "std": [1, 1, 1]}
  })");
  j["detection"] = {{"layout", layout}};
  return j;
}

void ExpectMetadataError(const json& j, const std::string& fragment) {
  ExpectError([&] { ParseMetadata(j.dump(), "test.json"); }, ErrorCode::kMetadata, fragment);
}

TEST(ThirdPartyMetadata, FastestDet) {
  json j = Detector("fastestdet");
  j["outputs"] = {{{"name", "grid"}, {"shape", {1, 6, 4, 4}}}};
  EXPECT_EQ(ParseMetadata(j.dump(), "t").detection->fastestdet->output, "grid");
  EXPECT_FLOAT_EQ(ParseMetadata(j.dump(), "t").detection->fastestdet->obj_power, 0.6f);
  j["outputs"][0]["shape"] = {1, 7, 4, 4};
  ExpectMetadataError(j, "needs 5 + 1 = 6");
  j["outputs"][0]["shape"] = {1, 6, 16};
  ExpectMetadataError(j, "must be [batch, 5 + labels, rows, columns]");
  j["outputs"][0]["shape"] = {1, 6, 4, 4};
  j["detection"]["fastestdet"] = {{"cls_power", 0}};
  ExpectMetadataError(j, "detection.fastestdet.cls_power");
}

json YuNetOutputs(int keypoints) {
  json outs = json::array();
  for (int s : {8, 16}) {
    const int cells = (32 / s) * (32 / s);
    outs.push_back({{"name", "cls_" + std::to_string(s)}, {"shape", {1, cells, 1}}});
    outs.push_back({{"name", "obj_" + std::to_string(s)}, {"shape", {1, cells, 1}}});
    outs.push_back({{"name", "bbox_" + std::to_string(s)}, {"shape", {1, cells, 4}}});
    outs.push_back({{"name", "kps_" + std::to_string(s)}, {"shape", {1, cells, 2 * keypoints}}});
  }
  return outs;
}

TEST(ThirdPartyMetadata, YuNet) {
  json j = Detector("yunet");
  j["outputs"] = YuNetOutputs(5);
  ExpectMetadataError(j, "needs a 'detection.yunet' object");
  j["detection"]["yunet"] = {{"strides", {8, 16}}};
  const ModelMetadata m = ParseMetadata(j.dump(), "t");
  EXPECT_EQ(m.detection->yunet->keypoints, 5);
  EXPECT_EQ(m.detection->num_keypoints, 5);
  j["detection"]["yunet"]["strides"] = {8, 16, 32};
  ExpectMetadataError(j, "\"cls_32\"");
  j["detection"]["yunet"]["strides"] = {8, 16};
  j["outputs"][0]["shape"] = {1, 15, 1};
  ExpectMetadataError(j, "must end in [16, 1] (stride 8: 16 cells on 32x32)");
  j["outputs"] = YuNetOutputs(5);
  j["outputs"][3]["shape"] = {1, 16, 9};
  ExpectMetadataError(j, "even number of values");
  j["outputs"] = YuNetOutputs(5);
  j["labels"] = {"face", "cat"};
  ExpectMetadataError(j, "layout 'yunet' has one class");
}

TEST(ThirdPartyMetadata, BlazeFace) {
  json j = Detector("blazeface");
  // strides 8 and 16 on 32x32: 4x4x2 + 2x2x6 = 56 anchors
  j["outputs"] = {{{"name", "s"}, {"shape", {-1, 56}}}, {{"name", "r"}, {"shape", {-1, 56, 16}}}};
  j["detection"]["blazeface"] = {{"scores_output", "s"}, {"regressors_output", "r"}, {"strides", {8, 16}},
                                 {"anchors_per_cell", {2, 6}}};
  const ModelMetadata m = ParseMetadata(j.dump(), "t");
  EXPECT_EQ(m.detection->blazeface->keypoints, 6);
  EXPECT_FLOAT_EQ(m.detection->blazeface->scale_x, 32.0f);
  j["outputs"][0]["shape"] = {-1, 56, 1};
  EXPECT_NO_THROW(ParseMetadata(j.dump(), "t"));
  j["detection"]["blazeface"]["anchors_per_cell"] = {2, 5};
  ExpectMetadataError(j, "must end in [52, 1] (52 anchors");
  j["detection"]["blazeface"]["anchors_per_cell"] = {2};
  ExpectMetadataError(j, "expected one count per stride (2), found 1");
  j["detection"]["blazeface"]["anchors_per_cell"] = {2, 6};
  j["outputs"][1]["shape"] = {-1, 56, 15};
  ExpectMetadataError(j, "4 + 2 * keypoints");
  j["outputs"][1]["shape"] = {-1, 56, 16};
  j["detection"]["blazeface"]["regressors_output"] = "boxes";
  ExpectMetadataError(j, "detection.blazeface.regressors_output");
}

TEST(ThirdPartyMetadata, FilesAndCascade) {
  json j = Detector("boxes_scores_labels");
  j["outputs"] = {{{"name", "boxes"}, {"shape", {-1, -1, 4}}}, {{"name", "scores"}, {"shape", {-1, -1}}},
                  {{"name", "labels"}, {"shape", {-1, -1}}}};
  j["files"] = {{"model", "net.weights"}};
  ExpectMetadataError(j, "needs its .cfg");
  j["files"] = {{"model", "net.onnx"}, {"config", "net.cfg"}};
  ExpectMetadataError(j, "only a Darknet .weights model takes a config");
  j["files"] = {{"model", "net.bin"}};
  ExpectMetadataError(j, "expected a .pt, .onnx, .weights");
  j["files"] = {{"model", "face.xml"}};
  j["cascade"] = {{"scale_factor", 1.0}};
  ExpectMetadataError(j, "cascade.scale_factor");
  j["cascade"] = {{"min_size", {24}}};
  ExpectMetadataError(j, "cascade.min_size");
  j["cascade"] = {{"min_size", {24, 24}}};
  ExpectMetadataError(j, "a cascade reads gray images");
  j["image"]["color"] = "gray";
  j["image"]["mean"] = {0};
  j["image"]["std"] = {1};
  const ModelMetadata m = ParseMetadata(j.dump(), "t");
  EXPECT_EQ(m.files->model, "face.xml");
  EXPECT_EQ(m.cascade->min_width, 24);
  EXPECT_EQ(m.cascade->min_neighbors, 3);
}

}  // namespace
}  // namespace sense
