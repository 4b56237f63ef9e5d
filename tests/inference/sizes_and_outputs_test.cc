// Sizes that come from metadata or callers never overflow (huge shapes and
// out-of-range integers are errors, not undefined behaviour), and the
// output types `logits` and `probabilities` are honoured exactly.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>

#include "sense/inference/classification.h"
#include "sense/inference/error.h"
#include "sense/inference/metadata.h"
#include "sense/inference/model.h"
#include "sense/inference/tensor.h"
#include "test_util.h"

namespace sense {
namespace {

using json = nlohmann::json;

json Valid() {
  return json::parse(R"({
    "schema_version": 1, "task": "image_classification", "name": "m",
    "labels": ["a", "b", "c"],
    "inputs": [{"name": "x", "dtype": "float32", "shape": [-1, 3, 8, 8]}],
    "outputs": [{"name": "scores", "dtype": "float32", "shape": [-1, 3]}],
    "image": {"width": 8, "height": 8, "color": "rgb", "mean": [0, 0, 0], "std": [1, 1, 1]}
  })");
}

void ExpectMetadataError(const json& j, const std::string& fragment) {
  try {
    ParseMetadata(j.dump(), "test.json");
    FAIL() << "expected an error containing: " << fragment;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kMetadata) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

void ExpectInputError(const std::function<void()>& f, const std::string& fragment) {
  try {
    f();
    FAIL() << "expected an input error containing: " << fragment;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInput) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(TensorSizeTest, HugeShapesAreInputErrorsNotOverflow) {
  const int64_t big = int64_t{1} << 32;
  // 2^32 * 2^32 wraps to 0 in int64 arithmetic: an "empty" tensor before the fix.
  ExpectInputError([&] { Tensor::Empty(DType::kFloat32, {big, big}); }, "too many elements");
  ExpectInputError([&] { Tensor::Zeros(DType::kUInt8, {int64_t{1} << 31, int64_t{1} << 31, 4}); }, "too many elements");
  float one = 0;
  ExpectInputError([&] { Tensor::View(&one, DType::kFloat32, {big, big, 3}); }, "too many elements");
  Tensor t = Tensor::Zeros(DType::kFloat32, {2, 3});
  ExpectInputError([&] { t.Reshape({-1, big, big}); }, "too many elements");
  ExpectInputError([&] { t.Reshape({-1, -3}); }, "negative dimension");
  EXPECT_EQ(t.Reshape({3, -1}).shape(), (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(Tensor::Zeros(DType::kFloat32, {0, big}).numel(), 0);
}

TEST(MetadataRangeTest, IntegersAreNeverNarrowed) {
  json j = Valid();
  j["image"]["width"] = (int64_t{1} << 32) + 1;  // static_cast<int> made this 1
  ExpectMetadataError(j, "field 'image.width': expected an integer <= 16384, found 4294967297");
  j = Valid();
  j["image"]["height"] = 16385;
  ExpectMetadataError(j, "field 'image.height': expected an integer <= 16384");
  j = Valid();
  j["image"]["width"] = 16384;
  j["image"]["height"] = 16384;
  EXPECT_EQ(ParseMetadata(j.dump(), "test.json").image->width, 16384);
  j = Valid();
  j["image"]["resize"] = "center_crop";
  j["image"]["resize_shorter"] = (int64_t{1} << 32) + 8;
  ExpectMetadataError(j, "field 'image.resize_shorter': expected an integer <= 2147483647");
  j = Valid();
  j["schema_version"] = (int64_t{1} << 32) + 1;
  ExpectMetadataError(j, "field 'schema_version': expected an integer <= 2147483647");
  // 2^64 - 1 is a valid JSON integer that get<int64_t>() turns into -1 (a dynamic dimension).
  j = Valid();
  j["inputs"][0]["shape"] = json::parse("[18446744073709551615, 3, 8, 8]");
  ExpectMetadataError(j, "field 'inputs[0].shape': expected positive integers or -1");
}

TEST(MetadataRangeTest, HugeDeclaredShapesAreMetadataErrors) {
  json j = Valid();
  j["inputs"][0]["shape"] = {-1, int64_t{1} << 31, int64_t{1} << 31, 3};
  ExpectMetadataError(j, "field 'inputs[0].shape': the fixed dimensions of [-1,2147483648,2147483648,3] hold more than 2^60");
  j = Valid();
  j["outputs"][0]["shape"] = {int64_t{1} << 40, int64_t{1} << 40, 3};
  ExpectMetadataError(j, "field 'outputs[0].shape'");
}

TEST(MetadataRangeTest, FloatsOutsideFloatRangeAreErrors) {
  json j = Valid();
  j["image"]["scale"] = 1e300;  // double-to-float conversion out of range is undefined behaviour
  ExpectMetadataError(j, "field 'image.scale': expected a number within float range");
  j = Valid();
  j["image"]["mean"] = {0, 1e39, 0};
  ExpectMetadataError(j, "field 'image.mean[1]': expected a number within float range");
  j = Valid();
  j["output"] = {{"temperature", 1e40}};
  ExpectMetadataError(j, "field 'output.temperature': expected a number within float range");
}

TEST(OutputTypeTest, ProbabilitiesAreTakenAsTheModelGivesThem) {
  json j = Valid();
  j["output"] = {{"type", "probabilities"}};
  const ModelMetadata m = ParseMetadata(j.dump(), "test.json");
  EXPECT_EQ(m.output.type, OutputType::kProbabilities);
  EXPECT_EQ(m.output.activation, Activation::kNone);
  const float row[] = {1.0f, 0.0f, 0.0f};
  // Before the fix, softmax ran again: 0.576 for a model that said 1.0.
  const Classifications c = Classify(row, 3, m.output, m.labels, ClassifierOptions{});
  ASSERT_EQ(c.categories.size(), 3u);
  EXPECT_EQ(c.categories[0].label, "a");
  EXPECT_FLOAT_EQ(c.categories[0].score, 1.0f);
  EXPECT_FLOAT_EQ(c.categories[1].score, 0.0f);
  const float soft[] = {0.2f, 0.5f, 0.3f};
  EXPECT_EQ(Probabilities(soft, 3, m.output), (std::vector<float>{0.2f, 0.5f, 0.3f}));
  // Even an OutputSpec built by hand with an activation: probabilities stay as they are.
  OutputSpec hand = m.output;
  hand.activation = Activation::kSoftmax;
  hand.temperature = 2.0f;
  EXPECT_EQ(Probabilities(soft, 3, hand), (std::vector<float>{0.2f, 0.5f, 0.3f}));
}

TEST(OutputTypeTest, ABundleEmittingProbabilitiesIsReportedExactly) {
  ModelOptions o;
  o.path = sense::testing::TestModel("colour3_probabilities.pt");
  o.num_threads = 1;
  auto model = Model::Load(o);
  ASSERT_EQ(model->metadata().output.type, OutputType::kProbabilities);
  Tensor red = Tensor::Zeros(DType::kFloat32, {1, 3, 32, 32});
  for (int i = 0; i < 32 * 32; ++i) red.data<float>()[i] = 0.5f;  // channel 0 a little above the others
  const Tensor p = model->Run({{"x", red}}).at("probabilities");
  const Classifications c = Classify(p.data<float>(), 3, model->metadata().output, model->metadata().labels,
                                     ClassifierOptions{});
  ASSERT_EQ(c.categories.size(), 3u);
  EXPECT_EQ(c.categories[0].label, "red");
  for (const Category& k : c.categories) EXPECT_EQ(k.score, p.data<float>()[k.index]) << k.label;
  float sum = 0;
  for (const Category& k : c.categories) sum += k.score;
  EXPECT_NEAR(sum, 1.0f, 1e-6);
}

TEST(OutputTypeTest, ProbabilitiesRefuseAnActivationOrTemperature) {
  json j = Valid();
  j["output"] = {{"type", "probabilities"}, {"activation", "softmax"}};
  ExpectMetadataError(j, "field 'output.activation': output type \"probabilities\" is used as the model gives it");
  j["output"] = {{"type", "probabilities"}, {"activation", "none"}};
  EXPECT_NO_THROW(ParseMetadata(j.dump(), "test.json"));
  j["output"] = {{"type", "probabilities"}, {"temperature", 1.5}};
  ExpectMetadataError(j, "field 'output.temperature': output type \"probabilities\" takes no temperature");
}

TEST(OutputTypeTest, LogitsGetTemperatureAndActivation) {
  json j = Valid();
  j["output"] = {{"type", "logits"}, {"temperature", 2.0}};
  const ModelMetadata m = ParseMetadata(j.dump(), "test.json");
  EXPECT_EQ(m.output.activation, Activation::kSoftmax);
  const float row[] = {1.0f, 0.0f, 0.0f};
  const std::vector<float> p = Probabilities(row, 3, m.output);
  const double e = std::exp(0.5);  // softmax(row / 2)
  EXPECT_NEAR(p[0], e / (e + 2), 1e-6);
  EXPECT_NEAR(p[1], 1 / (e + 2), 1e-6);
  OutputSpec sig = m.output;
  sig.activation = Activation::kSigmoid;
  EXPECT_NEAR(Probabilities(row, 3, sig)[0], 1 / (1 + std::exp(-0.5)), 1e-6);
  OutputSpec none = m.output;
  none.activation = Activation::kNone;
  EXPECT_FLOAT_EQ(Probabilities(row, 3, none)[0], 1.0f);  // no activation: no temperature either
}

}  // namespace
}  // namespace sense
