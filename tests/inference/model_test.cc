// Model::Load and Run on the bundles made by scripts/make_test_models.py,
// and one test per kind of bad model file.
#include "sense/inference/model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "test_util.h"

namespace sense {
namespace {

namespace fs = std::filesystem;
using sense::testing::TestModel;

std::unique_ptr<Model> Load(const std::string& path, const std::string& device = "cpu", int threads = 1) {
  ModelOptions o;
  o.path = path;
  o.device = device;
  o.num_threads = threads;
  return Model::Load(o);
}

void ExpectLoadError(const std::string& path, ErrorCode code, const std::string& fragment,
                     const std::string& device = "cpu") {
  try {
    Load(path, device);
    FAIL() << "expected " << ErrorCodeName(code) << " error for " << path;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

class TempDir {
 public:
  TempDir() : path_(fs::temp_directory_path() / ("sense_model_test_" + std::to_string(::getpid()))) {
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string Write(const std::string& name, const std::string& bytes) const {
    const std::string p = (path_ / name).string();
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// A [1, 3, 32, 32] input whose channel `c` is high (normalised units).
Tensor ColourInput(int c) {
  Tensor t = Tensor::Zeros(DType::kFloat32, {1, 3, 32, 32});
  float* p = t.data<float>();
  for (int ch = 0; ch < 3; ++ch)
    for (int i = 0; i < 32 * 32; ++i) p[ch * 1024 + i] = ch == c ? 2.0f : -2.0f;
  return t;
}

int ArgMax(const Tensor& t) {
  const float* p = t.data<float>();
  return static_cast<int>(std::max_element(p, p + t.size(-1)) - p);
}

TEST(ModelTest, LoadsBundleAndRuns) {
  auto model = Load(TestModel("colour3.pt"));
  EXPECT_EQ(model->backend(), "torchscript");
  EXPECT_EQ(model->metadata().name, "colour3");
  EXPECT_EQ(model->metadata_source(), "embedded");
  EXPECT_GT(model->file_size(), 0u);
  for (int c = 0; c < 3; ++c) {
    NamedTensors out = model->Run({{"x", ColourInput(c)}});
    ASSERT_TRUE(out.Contains("logits"));
    EXPECT_EQ(out.at("logits").shape(), (std::vector<int64_t>{1, 3}));
    EXPECT_EQ(ArgMax(out.at("logits")), c);
  }
}

TEST(ModelTest, HalfPrecisionWeightsRunInFloat32) {
  // colour3 with its weights stored as float16: without the conversion at load
  // the float32 input would meet float16 weights and the run would throw.
  auto half = Load(TestModel("colour3_f16.pt"));
  auto full = Load(TestModel("colour3.pt"));
  EXPECT_EQ(half->metadata().weights_dtype, "float16");
  EXPECT_EQ(full->metadata().weights_dtype, "float32");
  for (int c = 0; c < 3; ++c) {
    const Tensor a = half->Run({{"x", ColourInput(c)}}).at("logits");
    const Tensor b = full->Run({{"x", ColourInput(c)}}).at("logits");
    ASSERT_EQ(a.dtype(), DType::kFloat32);
    for (int k = 0; k < 3; ++k) EXPECT_FLOAT_EQ(a.data<float>()[k], b.data<float>()[k]);
    EXPECT_EQ(ArgMax(a), c);
  }
}

TEST(ModelTest, RejectsInputOfWrongShapeOrType) {
  auto model = Load(TestModel("colour3.pt"));
  try {
    model->Run({{"x", Tensor::Zeros(DType::kFloat32, {1, 1, 32, 32})}});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInput);
    EXPECT_NE(std::string(e.what()).find("expected float32[?, 3, 32, 32], found float32[1, 1, 32, 32]"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(model->Run({{"x", Tensor::Zeros(DType::kInt64, {1, 3, 32, 32})}}), Error);
}

TEST(ModelTest, MethodsAndGradients) {
  auto model = Load(TestModel("colour3.pt"));
  ASSERT_TRUE(model->HasMethod("features"));
  NamedTensors f = model->RunMethod("features", {{"x", ColourInput(1)}});
  EXPECT_EQ(f[0].second.shape(), (std::vector<int64_t>{1, 3, 32, 32}));
  GradientResult g = model->RunMethodWithGradient("head", {{"f", f[0].second}}, "f", 0, {1});
  ASSERT_EQ(g.gradient.shape(), (std::vector<int64_t>{1, 3, 32, 32}));
  // d(10 * mean(f[:, 1])) / df = 10 / 1024 on channel 1, 0 elsewhere.
  EXPECT_NEAR(g.gradient.data<float>()[1024 + 5], 10.0 / 1024, 1e-6);
  EXPECT_NEAR(g.gradient.data<float>()[5], 0.0, 1e-9);
  EXPECT_THROW(model->RunMethod("nope", {{"x", ColourInput(0)}}), Error);
}

TEST(ModelTest, ConcurrentRunsFromSeveralThreadsAgree) {
  auto model = Load(TestModel("colour3.pt"), "cpu", 1);
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i)
        if (ArgMax(model->Run({{"x", ColourInput((t + i) % 3)}}).at("logits")) != (t + i) % 3) ++wrong;
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(ModelTest, DictOutputsAreNamedByKey) {
  auto model = Load(TestModel("two_outputs.pt"));
  NamedTensors out = model->Run({{"x", Tensor::FromVector<float>({1, 5, 2, 0}, {1, 4})}});
  EXPECT_FLOAT_EQ(out.at("sum").data<float>()[0], 8.f);
  EXPECT_FLOAT_EQ(out.at("max").data<float>()[0], 5.f);
}

TEST(ModelTest, AssetsAndIntegerInputs) {
  auto model = Load(TestModel("tiny_text.pt"));
  EXPECT_EQ(model->AssetNames(), std::vector<std::string>{"vocab.txt"});
  EXPECT_EQ(model->Asset("vocab.txt").substr(0, 5), "[PAD]");
  EXPECT_THROW(model->Asset("missing.txt"), Error);
  NamedTensors out = model->Run({{"ids", Tensor::FromVector<int64_t>({2, 4, 3}, {1, 3})},
                                 {"mask", Tensor::FromVector<int64_t>({1, 1, 1}, {1, 3})}});
  EXPECT_EQ(out.at("logits").shape(), (std::vector<int64_t>{1, 2}));
}

TEST(ModelTest, SidecarMetadataForThirdPartyFiles) {
  auto model = Load(TestModel("sidecar.pt"));
  EXPECT_EQ(model->metadata().name, "colour3-sidecar");
  EXPECT_NE(model->metadata_source().find("sidecar.pt.json"), std::string::npos);
}

TEST(ModelTest, OnnxBackendMatchesTorchScript) {
  if (!fs::exists(TestModel("colour3.onnx"))) GTEST_SKIP() << "ONNX export was not available when test models were made";
  auto onnx = Load(TestModel("colour3.onnx"));
  auto ts = Load(TestModel("colour3.pt"));
  EXPECT_EQ(onnx->backend(), "onnx-opencv");
  for (int c = 0; c < 3; ++c) {
    Tensor a = onnx->Run({{"x", ColourInput(c)}}).at("logits");
    Tensor b = ts->Run({{"x", ColourInput(c)}}).at("logits");
    for (int i = 0; i < 3; ++i) EXPECT_NEAR(a.data<float>()[i], b.data<float>()[i], 1e-4);
  }
}

// ---- bad model files: one test each -----------------------------------------

TEST(ModelErrorTest, MissingFile) { ExpectLoadError("/nonexistent/model.pt", ErrorCode::kFile, "no such file"); }

TEST(ModelErrorTest, Directory) {
  TempDir d;
  ExpectLoadError(d.path(), ErrorCode::kFile, "is a directory");
}

TEST(ModelErrorTest, EmptyFile) {
  TempDir d;
  ExpectLoadError(d.Write("empty.pt", ""), ErrorCode::kFile, "is empty (0 bytes)");
}

TEST(ModelErrorTest, RandomBytes) {
  TempDir d;
  std::mt19937 rng(42);
  std::string bytes(4096, '\0');
  for (auto& b : bytes) b = static_cast<char>(rng() & 0xff);
  bytes[0] = 'X';
  ExpectLoadError(d.Write("random.pt", bytes), ErrorCode::kModelFormat, "not a TorchScript archive");
}

TEST(ModelErrorTest, TruncatedArchive) {
  TempDir d;
  const std::string full = ReadAll(TestModel("colour3.pt"));
  ExpectLoadError(d.Write("truncated.pt", full.substr(0, full.size() / 2)), ErrorCode::kModelFormat,
                  "corrupt or truncated TorchScript archive");
}

TEST(ModelErrorTest, NoMetadata) {
  ExpectLoadError(TestModel("no_metadata.pt"), ErrorCode::kMetadata, "no sense.json metadata; run scripts/pack_model.py");
}

TEST(ModelErrorTest, MalformedJson) {
  ExpectLoadError(TestModel("malformed_json.pt"), ErrorCode::kMetadata, "malformed JSON");
}

TEST(ModelErrorTest, WrongSchemaVersion) {
  ExpectLoadError(TestModel("schema_v99.pt"), ErrorCode::kMetadata, "unsupported schema_version 99");
}

TEST(ModelErrorTest, MissingField) {
  ExpectLoadError(TestModel("missing_field.pt"), ErrorCode::kMetadata, "missing required field 'inputs'");
}

TEST(ModelErrorTest, WrongFieldType) {
  ExpectLoadError(TestModel("wrong_type.pt"), ErrorCode::kMetadata, "field 'image.width': expected an integer");
}

TEST(ModelErrorTest, UnknownTask) {
  ExpectLoadError(TestModel("unknown_task.pt"), ErrorCode::kMetadata, "\"image_colouring\"");
}

TEST(ModelErrorTest, LabelCountDoesNotMatchModelOutput) {
  ExpectLoadError(TestModel("wrong_label_count.pt"), ErrorCode::kMetadata,
                  "'labels' has 4 entries but the model's output 'logits' has 3 classes");
}

TEST(ModelErrorTest, UnsupportedDevice) {
  ExpectLoadError(TestModel("colour3.pt"), ErrorCode::kDevice, "unknown device \"tpu\"", "tpu");
  if (!CudaAvailable()) ExpectLoadError(TestModel("colour3.pt"), ErrorCode::kDevice, "use --device cpu", "cuda");
}

TEST(ModelErrorTest, NegativeThreads) {
  ModelOptions o;
  o.path = TestModel("colour3.pt");
  o.num_threads = -1;
  try {
    Model::Load(o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kOption);
  }
}

TEST(ModelErrorTest, OnnxWithoutSidecar) {
  if (!fs::exists(TestModel("colour3.onnx"))) GTEST_SKIP() << "no ONNX test model";
  TempDir d;
  ExpectLoadError(d.Write("bare.onnx", ReadAll(TestModel("colour3.onnx"))), ErrorCode::kMetadata,
                  "ONNX models need a sidecar sense.json");
}

TEST(DeviceTest, Parse) {
  EXPECT_EQ(Device::Parse("cpu").type, Device::Type::kCPU);
  EXPECT_EQ(Device::Parse("cuda:1").index, 1);
  EXPECT_EQ(Device::Parse("cuda").ToString(), "cuda");
  EXPECT_THROW(Device::Parse("cuda:x"), Error);
  EXPECT_THROW(Device::Parse("gpu"), Error);
}

}  // namespace
}  // namespace sense

namespace sense {
namespace {

// A test bundle loaded with load-time optimisation (first) and without it
// (second, which must report "none"), on one thread.
std::pair<std::unique_ptr<Model>, std::unique_ptr<Model>> OptimisedAndPlain(const std::string& name,
                                                                           SampleInputs sample_inputs = {}) {
  ModelOptions o;
  o.path = sense::testing::TestModel(name);
  o.num_threads = 1;
  o.sample_inputs = std::move(sample_inputs);
  auto fast = Model::Load(o);
  o.optimize = false;
  auto plain = Model::Load(o);
  EXPECT_EQ(plain->optimization(), "none");
  return {std::move(fast), std::move(plain)};
}

// Both models give the same logits for `inputs`, within 1e-5.
void ExpectSameLogits(const Model& a, const Model& b, const NamedTensors& inputs) {
  Tensor x = a.Run(inputs).at("logits"), y = b.Run(inputs).at("logits");
  ASSERT_EQ(x.numel(), y.numel());
  for (int64_t i = 0; i < x.numel(); ++i) EXPECT_NEAR(x.data<float>()[i], y.data<float>()[i], 1e-5);
}

TEST(ModelOptimizationTest, ImageModelsUseAVerifiedOptimisedGraph) {
  auto [fast, plain] = OptimisedAndPlain("colour3.pt");
  EXPECT_EQ(fast->optimization().rfind("freeze + optimize_for_inference", 0), 0u) << fast->optimization();
  for (int c = 0; c < 3; ++c) ExpectSameLogits(*fast, *plain, {{"x", ColourInput(c)}});  // same answers either way
  // Gradients still come from the original graph's exported methods.
  EXPECT_TRUE(fast->HasMethod("features"));
}

// The optimisation follows the graph, not the task: a text model without
// LSTMs gets the verified frozen graph as an image model does, a recurrent
// one the LSTM kernel (below).
TEST(ModelOptimizationTest, PolicyFollowsTheGraphNotTheTask) {
  auto [fast, plain] = OptimisedAndPlain("tiny_text.pt");
  EXPECT_EQ(fast->optimization().rfind("freeze + optimize_for_inference", 0), 0u) << fast->optimization();
  std::vector<int64_t> ids = {4, 5, 6, 0}, mask = {1, 1, 1, 0};
  const NamedTensors inputs = {{"ids", Tensor::FromVector(ids, {1, 4})}, {"mask", Tensor::FromVector(mask, {1, 4})}};
  ExpectSameLogits(*fast, *plain, inputs);
}

// ids [rows, T] with rows of the given lengths (ids 4..6, then padding 0) and their mask.
NamedTensors TextBatch(const std::vector<int64_t>& lengths, int64_t T) {
  std::vector<int64_t> ids, mask;
  for (size_t r = 0; r < lengths.size(); ++r)
    for (int64_t t = 0; t < T; ++t) {
      ids.push_back(t < lengths[r] ? 4 + (t * 7 + static_cast<int64_t>(r)) % 3 : 0);
      mask.push_back(t < lengths[r] ? 1 : 0);
    }
  const std::vector<int64_t> shape = {static_cast<int64_t>(lengths.size()), T};
  return {{"ids", Tensor::FromVector(ids, shape)}, {"mask", Tensor::FromVector(mask, shape)}};
}

TEST(ModelOptimizationTest, TextModelLstmsRunSensesKernel) {
  // The check's inputs come from the task (text: text_inputs.h's
  // SampleInputsFor); here, TextBatch rows of the requested lengths.
  auto [fast, plain] = OptimisedAndPlain("tiny_lstm_text.pt", [](const ModelMetadata&, const std::vector<int64_t>& lengths) {
    return TextBatch(lengths, *std::max_element(lengths.begin(), lengths.end()));
  });
  // both aten::lstm calls (dense and packed branch) replaced, and checked at load
  EXPECT_EQ(fast->optimization().rfind("sense LSTM kernel (2 LSTMs, relative difference", 0), 0u) << fast->optimization();
  for (const auto& lengths : std::vector<std::vector<int64_t>>{{5}, {5, 2, 1, 5}, {3, 3}})  // dense and packed paths
    ExpectSameLogits(*fast, *plain, TextBatch(lengths, 5));
  // Gradients (integrated gradients) still run, through aten::lstm.
  const NamedTensors in = TextBatch({4}, 4);
  Tensor emb = fast->RunMethod("embed", {{"ids", in.at("ids")}}).at("output");
  GradientResult g = fast->RunMethodWithGradient("classify", {{"emb", emb}, {"mask", in.at("mask")}}, "emb", 0, {1});
  ASSERT_EQ(g.gradient.numel(), emb.numel());
  double norm = 0;
  for (int64_t i = 0; i < g.gradient.numel(); ++i) norm += std::abs(g.gradient.data<float>()[i]);
  EXPECT_GT(norm, 0.0);
}

TEST(ModelOptimizationTest, WithoutSampleInputsIntegerInputsSkipTheLstmRewrite) {
  // Zeros are no text (a mask of zeros is all padding): the rewrite is not
  // checked on made-up ids, and optimization() says why.
  auto [fast, plain] = OptimisedAndPlain("tiny_lstm_text.pt");
  EXPECT_EQ(fast->optimization().rfind("none: no sample inputs", 0), 0u) << fast->optimization();
  ExpectSameLogits(*fast, *plain, TextBatch({5, 2}, 5));
}

}  // namespace
}  // namespace sense
