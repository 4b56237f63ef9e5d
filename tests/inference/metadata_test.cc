// ParseMetadata: every rule of docs/model-format.md gets a failing case that
// checks the error code and the field named in the message.
#include "sense/inference/metadata.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "sense/inference/error.h"

namespace sense {
namespace {

using json = nlohmann::json;

json Valid() {
  return json::parse(R"({
    "schema_version": 1, "task": "image_classification", "name": "m",
    "labels": ["a", "b"],
    "inputs": [{"name": "x", "dtype": "float32", "shape": [-1, 3, 8, 8]}],
    "outputs": [{"name": "logits", "dtype": "float32", "shape": [-1, 2]}],
    "image": {"width": 8, "height": 8, "color": "rgb", "mean": [0, 0, 0], "std": [1, 1, 1]}
  })");
}

void ExpectMetadataError(const json& j, const std::string& fragment) {
  try {
    ParseMetadata(j.dump(), "test.json");
    FAIL() << "expected an error containing: " << fragment;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kMetadata);
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("test.json"), std::string::npos) << e.what();
  }
}

TEST(MetadataTest, ParsesValidImageClassifier) {
  ModelMetadata m = ParseMetadata(Valid().dump(), "test.json");
  EXPECT_EQ(m.task, Task::kImageClassification);
  EXPECT_EQ(m.labels.size(), 2u);
  ASSERT_TRUE(m.image.has_value());
  EXPECT_EQ(m.image->width, 8);
  EXPECT_EQ(m.image->channels(), 3);
  EXPECT_EQ(m.output.name, "logits");
  EXPECT_EQ(m.output.activation, Activation::kSoftmax);
  EXPECT_EQ(m.image->pad_value.size(), 3u);
}

TEST(MetadataTest, MalformedJson) { 
  try {
    ParseMetadata("{\"schema_version\": 1,", "test.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kMetadata);
    EXPECT_NE(std::string(e.what()).find("malformed JSON"), std::string::npos);
  }
}

TEST(MetadataTest, WrongSchemaVersion) {
  json j = Valid();
  j["schema_version"] = 2;
  ExpectMetadataError(j, "unsupported schema_version 2");
}

TEST(MetadataTest, MissingField) {
  json j = Valid();
  j.erase("inputs");
  ExpectMetadataError(j, "missing required field 'inputs'");
}

TEST(MetadataTest, WeightsDtype) {
  EXPECT_EQ(ParseMetadata(Valid().dump(), "test.json").weights_dtype, "float32");
  json j = Valid();
  j["weights_dtype"] = "float16";
  EXPECT_EQ(ParseMetadata(j.dump(), "test.json").weights_dtype, "float16");
  j["weights_dtype"] = "int8";
  ExpectMetadataError(j, "field 'weights_dtype': expected \"float32\" or \"float16\", found \"int8\"");
}

TEST(MetadataTest, WrongType) {
  json j = Valid();
  j["image"]["width"] = "8";
  ExpectMetadataError(j, "field 'image.width': expected an integer, found a string");
}

TEST(MetadataTest, UnknownTask) {
  json j = Valid();
  j["task"] = "image_colouring";
  ExpectMetadataError(j, "field 'task': expected one of");
}

TEST(MetadataTest, MeanCountMustMatchChannels) {
  json j = Valid();
  j["image"]["mean"] = {0.5};
  ExpectMetadataError(j, "expected 3 values (one per channel of a rgb image), found 1");
}

TEST(MetadataTest, FloatInputWithoutNormalisationIsAnError) {
  json j = Valid();
  j["image"].erase("std");
  ExpectMetadataError(j, "image.std");
}

TEST(MetadataTest, LabelCountAgainstDeclaredOutput) {
  json j = Valid();
  j["labels"] = {"a", "b", "c"};
  ExpectMetadataError(j, "'labels' has 3 entries but output 'logits' declares 2 classes");
}

TEST(MetadataTest, DuplicateLabel) {
  json j = Valid();
  j["labels"] = {"a", "a"};
  ExpectMetadataError(j, "duplicate label");
}

TEST(MetadataTest, OutputNameMustBeDeclared) {
  json j = Valid();
  j["output"] = {{"name", "probs"}};
  ExpectMetadataError(j, "\"probs\" is not one of the declared outputs");
}

TEST(MetadataTest, TextTaskNeedsTokenizerAsset) {
  json j = Valid();
  j["task"] = "text_classification";
  j.erase("image");
  ExpectMetadataError(j, "needs a 'text' object");
  j["text"] = {{"tokenizer", {{"type", "sentencepiece"}, {"asset", "sp.model"}}}};
  ExpectMetadataError(j, "is not listed in 'assets'");
  j["assets"] = {"sp.model"};
  ModelMetadata m = ParseMetadata(j.dump(), "test.json");
  ASSERT_TRUE(m.text.has_value());
  EXPECT_EQ(m.text->tokenizer.type, TokenizerType::kSentencePiece);
}

TEST(MetadataTest, AllSixTasksParse) {
  // image_embedding, object_detection, text_embedding, token_classification
  json emb = Valid();
  emb["task"] = "image_embedding";
  emb.erase("labels");
  emb["outputs"][0] = {{"name", "embedding"}, {"dtype", "float32"}, {"shape", {-1, 16}}};
  ExpectMetadataError(emb, "needs an 'embedding' object");
  emb["embedding"] = {{"dim", 16}};
  EXPECT_EQ(ParseMetadata(emb.dump(), "t").output.type, OutputType::kEmbeddings);

  json det = Valid();
  det["task"] = "object_detection";
  det["outputs"] = json::array({{{"name", "boxes"}, {"shape", {-1, 4}}}, {{"name", "scores"}, {"shape", {-1}}},
                                {{"name", "labels"}, {"dtype", "int64"}, {"shape", {-1}}}});
  ExpectMetadataError(det, "needs a 'detection' object");
  det["detection"] = {{"box_format", "xyxy"}, {"nms_applied", true}};
  EXPECT_TRUE(ParseMetadata(det.dump(), "t").detection->nms_applied);

  json ner;
  ner["schema_version"] = 1;
  ner["task"] = "token_classification";
  ner["name"] = "ner";
  ner["labels"] = {"O", "B-PER", "I-PER"};
  ner["inputs"] = json::array({{{"name", "ids"}, {"dtype", "int64"}, {"shape", {-1, -1}}}});
  ner["outputs"] = json::array({{{"name", "logits"}, {"shape", {-1, -1, 3}}}});
  ner["text"] = {{"tokenizer", {{"type", "wordpiece"}, {"asset", "vocab.txt"}, {"lowercase", true}}}};
  ner["assets"] = {"vocab.txt"};
  ner["token_classification"] = {{"scheme", "bio"}};
  ModelMetadata m = ParseMetadata(ner.dump(), "t");
  EXPECT_EQ(m.output.type, OutputType::kTokenLogits);
  ner["token_classification"]["scheme"] = "xyz";
  ExpectMetadataError(ner, "token_classification.scheme");

  json temb = ner;
  temb["task"] = "text_embedding";
  temb.erase("labels");
  temb.erase("token_classification");
  temb["embedding"] = {{"dim", 3}, {"pooling", "mean"}};
  EXPECT_EQ(ParseMetadata(temb.dump(), "t").embedding->pooling, "mean");
}

// detection layout "gfl" (NanoDet's head): 16x16 input, strides 8 and 16
// give 4 + 1 = 5 anchors; reg_max 3 gives 16 distribution values.
json Gfl() {
  json j = Valid();
  j["task"] = "object_detection";
  j["image"]["width"] = 16;
  j["image"]["height"] = 16;
  j["inputs"][0]["shape"] = {-1, 3, 16, 16};
  j["outputs"] = json::parse(R"([{"name": "scores", "shape": [-1, 5, 2]}, {"name": "dists", "shape": [-1, 5, 16]}])");
  j["output"] = json::parse(R"({"name": "scores", "type": "detections", "activation": "none"})");
  j["detection"] = json::parse(R"({"layout": "gfl", "max_detections": 50, "multi_label": true,
      "gfl": {"scores_output": "scores", "distributions_output": "dists", "strides": [8, 16], "reg_max": 3}})");
  return j;
}

TEST(MetadataTest, GflDetectionLayout) {
  ModelMetadata m = ParseMetadata(Gfl().dump(), "test.json");
  ASSERT_TRUE(m.detection && m.detection->gfl);
  EXPECT_EQ(m.detection->gfl->strides, (std::vector<int>{8, 16}));
  EXPECT_EQ(m.detection->gfl->reg_max, 3);
  EXPECT_FLOAT_EQ(m.detection->gfl->centre_offset, 0.5f);
  EXPECT_EQ(m.detection->max_detections, 50);
  EXPECT_TRUE(m.detection->multi_label);
  auto with = [](const char* key, json value) {
    json j = Gfl();
    j["detection"]["gfl"][key] = value;
    return j;
  };
  ExpectMetadataError(with("reg_max", 4), "'dists' must end in [5, 20]");
  ExpectMetadataError(with("strides", {8}), "'scores' must end in [4, 2]");
  ExpectMetadataError(with("strides", {8, 0}), "detection.gfl.strides[1]");
  ExpectMetadataError(with("centre_offset", 0.25), "detection.gfl.centre_offset");
  ExpectMetadataError(with("scores_output", "logits"), "detection.gfl.scores_output");
  ExpectMetadataError(with("scores_activation", "softmax"), "detection.gfl.scores_activation");
  json no_gfl = Gfl();
  no_gfl["detection"].erase("gfl");
  ExpectMetadataError(no_gfl, "detection.gfl");
}

// ---- out-of-domain detector ("ood") ----------------------------------------
json WithOod() {
  json j = Valid();
  j["outputs"].push_back(json::parse(R"({"name": "features", "dtype": "float32", "shape": [-1, 4]})"));
  j["assets"] = {"stats.f32"};
  j["ood"] = json::parse(R"({"signals": [{"name": "mahalanobis", "loc": 10, "scale": 2},
                                          {"name": "energy", "loc": -3, "scale": 0.5}],
      "threshold": 1.5, "tpr": 0.95, "domain": "tiny squares", "fitted_on": "train", "threshold_on": "val",
      "features_output": "features", "statistics_asset": "stats.f32", "feature_dim": 4})");
  return j;
}

TEST(MetadataTest, OodDetector) {
  ModelMetadata m = ParseMetadata(WithOod().dump(), "test.json");
  ASSERT_TRUE(m.ood.has_value());
  ASSERT_EQ(m.ood->signals.size(), 2u);
  EXPECT_EQ(m.ood->signals[0].kind, OodSignalKind::kMahalanobis);
  EXPECT_FLOAT_EQ(m.ood->signals[1].loc, -3.0f);
  EXPECT_FLOAT_EQ(m.ood->threshold, 1.5f);
  EXPECT_EQ(m.ood->feature_dim, 4);
  EXPECT_EQ(m.ood->domain, "tiny squares");
  EXPECT_TRUE(m.ood->Uses(OodSignalKind::kEnergy));
  EXPECT_FALSE(m.ood->Uses(OodSignalKind::kMaxLogit));
  EXPECT_STREQ(OodSignalName(OodSignalKind::kUnknownShare), "unknown_share");
  EXPECT_FALSE(ParseMetadata(Valid().dump(), "test.json").ood.has_value());

  auto with = [](const std::string& key, json value) {
    json j = WithOod();
    if (value.is_null()) j["ood"].erase(key);
    else j["ood"][key] = value;
    return j;
  };
  ExpectMetadataError(with("signals", json::array()), "ood.signals");
  ExpectMetadataError(with("signals", json::parse(R"([{"name": "entropy", "loc": 0, "scale": 1}])")), "ood.signals[0].name");
  ExpectMetadataError(with("signals", json::parse(R"([{"name": "energy", "loc": 0, "scale": 0}])")), "ood.signals[0].scale");
  ExpectMetadataError(with("signals", json::parse(R"([{"name": "energy", "loc": 0, "scale": 1},
                                                      {"name": "energy", "loc": 0, "scale": 1}])")), "listed twice");
  ExpectMetadataError(with("signals", json::parse(R"([{"name": "unknown_share", "loc": 0, "scale": 1}])")), "for text bundles");
  ExpectMetadataError(with("tpr", 0), "ood.tpr");
  ExpectMetadataError(with("tpr", 1.5), "ood.tpr");
  ExpectMetadataError(with("threshold", nullptr), "ood.threshold");
  ExpectMetadataError(with("domain", ""), "ood.domain");
  ExpectMetadataError(with("fitted_on", nullptr), "ood.fitted_on");
  ExpectMetadataError(with("combine", "mean"), "ood.combine");
  ExpectMetadataError(with("features_output", "embeddings"), "ood.features_output");
  ExpectMetadataError(with("features_output", "logits"), "classification output");
  ExpectMetadataError(with("feature_dim", 8), "ood.feature_dim");
  ExpectMetadataError(with("statistics_asset", "other.f32"), "ood.statistics_asset");
  ExpectMetadataError(with("features_output", nullptr), "ood.features_output");
  // without mahalanobis no features are needed
  json logits_only = WithOod();
  logits_only["ood"] = json::parse(R"({"signals": [{"name": "max_logit", "loc": 0, "scale": 1}], "threshold": 0,
      "tpr": 0.9, "domain": "d", "fitted_on": "f", "threshold_on": "t"})");
  EXPECT_NO_THROW(ParseMetadata(logits_only.dump(), "test.json"));
  json embedding = logits_only;
  embedding["task"] = "image_embedding";
  embedding["embedding"] = {{"dim", 2}};
  ExpectMetadataError(embedding, "image_classification and text_classification");
}

}  // namespace
}  // namespace sense

namespace sense {
namespace {

// ---- detection layouts other than gfl, and detection preprocessing (issue 13) ----
json Yolo(const char* layout = "yolov5") {
  json j = Valid();
  j["task"] = "object_detection";
  j["outputs"] = json::parse(std::string(layout) == "yolov5" ? R"([{"name": "pred", "shape": [-1, 100, 7]}])"
                                                              : R"([{"name": "pred", "shape": [-1, 6, 100]}])");
  j["detection"] = {{"layout", layout}};
  return j;
}

TEST(MetadataTest, DetectionLayoutsAndRoles) {
  ModelMetadata m = ParseMetadata(Yolo().dump(), "test.json");
  EXPECT_EQ(m.detection->box_format, BoxFormat::kCXCYWH);  // the yolo default
  EXPECT_EQ(m.detection->predictions_outputs, (std::vector<std::string>{"pred"}));
  EXPECT_EQ(ParseMetadata(Yolo("yolov8").dump(), "test.json").detection->layout, "yolov8");
  json j = Yolo();
  j["detection"]["layout"] = "yolo";  // schema 1's reserved name
  EXPECT_EQ(ParseMetadata(j.dump(), "test.json").detection->layout, "yolov5");
  j["detection"]["layout"] = "ssd";
  ExpectMetadataError(j, "detection.layout': expected one of \"boxes_scores_labels\", \"torchvision\", \"boxes_scores\"");
  j = Yolo();
  j["outputs"][0]["shape"] = {-1, 100, 6};  // 4 + objectness + 2 labels = 7
  ExpectMetadataError(j, "'pred' must be [-1, -1, 7]");
  j = Yolo("yolov8");
  j["outputs"][0]["shape"] = {-1, 7, 100};  // 4 + 2 labels = 6
  ExpectMetadataError(j, "'pred' must be [-1, 6, -1]");
  j = Yolo();
  j["detection"]["num_keypoints"] = 1;  // + 2 values
  j["outputs"][0]["shape"] = {-1, 100, 9};
  EXPECT_EQ(ParseMetadata(j.dump(), "test.json").detection->num_keypoints, 1);
  j = Yolo();
  j["detection"]["predictions_outputs"] = {"pred", "other"};
  ExpectMetadataError(j, "\"other\" is not a declared output");
  j = Yolo("yolov8");
  j["detection"]["scores_include_objectness"] = true;
  ExpectMetadataError(j, "only layout 'yolov5' has an objectness column");
  j = Yolo();
  j["detection"]["background_class"] = true;
  ExpectMetadataError(j, "only layout 'boxes_scores' has a background score column");
  j = Yolo();
  j["detection"]["score_threshold"] = 1.5;
  ExpectMetadataError(j, "detection.score_threshold': expected a number in [0, 1]");
  // boxes_scores: the background column counts
  j = Yolo();
  j["outputs"] = json::parse(R"([{"name": "boxes", "shape": [-1, 10, 4]}, {"name": "scores", "shape": [-1, 10, 3]}])");
  j["detection"] = {{"layout", "boxes_scores"}, {"background_class", true}, {"normalized", true}};
  EXPECT_TRUE(ParseMetadata(j.dump(), "test.json").detection->background_class);
  j["detection"]["background_class"] = false;
  ExpectMetadataError(j, "'scores' must be [-1, -1, 2] (batch, anchors, labels)");
  j["detection"] = {{"layout", "boxes_scores"}, {"boxes_output", "box"}};
  ExpectMetadataError(j, "detection.boxes_output': expected one of the declared outputs (boxes, scores), found \"box\"");
  // torchvision: count defaults to num_detections and NMS to done
  j = Yolo();
  j["outputs"] = json::parse(R"([{"name": "boxes", "shape": [-1, -1, 4]}, {"name": "scores", "shape": [-1, -1]},
                                {"name": "labels", "dtype": "int64", "shape": [-1, -1]}, {"name": "num_detections", "shape": [-1]}])");
  j["detection"] = {{"layout", "torchvision"}};
  m = ParseMetadata(j.dump(), "test.json");
  EXPECT_EQ(m.detection->count_output, "num_detections");
  EXPECT_TRUE(m.detection->nms_applied);
  j["detection"]["layout"] = "boxes_scores_labels";
  EXPECT_TRUE(ParseMetadata(j.dump(), "test.json").detection->count_output.empty());
  j["outputs"][0]["shape"] = {-1, -1, 5};
  ExpectMetadataError(j, "'boxes' must be [-1, -1, 4]");
}

TEST(MetadataTest, DetectionResizeModes) {
  json j = Valid();
  j["image"]["resize"] = "pad_to_square";
  EXPECT_EQ(ParseMetadata(j.dump(), "test.json").image->resize, ResizeMode::kPadToSquare);
  j["image"]["resize"] = "letterbox";
  j["image"]["sampling"] = "warp";
  EXPECT_EQ(ParseMetadata(j.dump(), "test.json").image->sampling, Sampling::kWarp);
  j["image"]["resize"] = "stretch";
  ExpectMetadataError(j, "image.sampling': \"warp\" is a letterbox sampling; image.resize is \"stretch\"");
  j["image"]["sampling"] = "affine";
  ExpectMetadataError(j, "image.sampling': expected one of \"resize\", \"warp\"");
}

}  // namespace
}  // namespace sense
