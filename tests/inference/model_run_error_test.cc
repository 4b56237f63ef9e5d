// Run-time failures of a model become sense::Error, never a foreign
// exception: colour3_raises.pt (scripts/make_test_models.py) raises a
// TorchScript ValueError on any batch row whose mean exceeds 1.5, which the
// interpreter throws as a plain std::runtime_error.
#include <gtest/gtest.h>

#include <string>

#include "sense/inference/model.h"
#include "test_util.h"

namespace sense {
namespace {

using sense::testing::TestModel;

// [rows, 3, 32, 32] filled with `value` (normalised units: 2.0 is a white image).
Tensor Filled(int64_t rows, float value) {
  Tensor t = Tensor::Zeros(DType::kFloat32, {rows, 3, 32, 32});
  std::fill(t.data<float>(), t.data<float>() + t.numel(), value);
  return t;
}

std::unique_ptr<Model> LoadRaising() {
  ModelOptions o;
  o.path = TestModel("colour3_raises.pt");
  o.num_threads = 1;
  return Model::Load(o);
}

// Calls f, which must throw; returns the sense::Error (a foreign exception fails the test).
template <typename F>
Error ErrorOf(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "a foreign exception escaped: " << e.what();
    return Error(ErrorCode::kInternal, e.what());
  }
  ADD_FAILURE() << "no exception";
  return Error(ErrorCode::kInternal, "no exception");
}

void ExpectBackendError(const Error& e, const std::string& method) {
  const std::string what = e.what();
  EXPECT_EQ(e.code(), ErrorCode::kBackend) << what;
  EXPECT_NE(what.find("colour3_raises.pt"), std::string::npos) << what;
  EXPECT_NE(what.find("'" + method + "'"), std::string::npos) << what;
  EXPECT_NE(what.find("ValueError: sense test model: input mean 2"), std::string::npos) << what;
  EXPECT_NE(what.find("exceeds 1.5"), std::string::npos) << what;
  EXPECT_EQ(what.find("frame #"), std::string::npos) << "C++ backtrace left in: " << what;
}

TEST(ModelRunErrorTest, ScriptedRaiseInForwardIsABackendError) {
  auto model = LoadRaising();
  ExpectBackendError(ErrorOf([&] { model->Run({{"x", Filled(1, 2.0f)}}); }), "forward");
  // The model still works on inputs it accepts.
  NamedTensors out = model->Run({{"x", Filled(2, 0.0f)}});
  EXPECT_EQ(out.at("logits").shape(), (std::vector<int64_t>{2, 3}));
}

TEST(ModelRunErrorTest, ScriptedRaiseInMethodsAndGradientsIsABackendError) {
  auto model = LoadRaising();
  ExpectBackendError(ErrorOf([&] { model->RunMethod("forward", {{"x", Filled(1, 2.0f)}}); }), "forward");
  ExpectBackendError(ErrorOf([&] { model->RunMethodWithGradient("forward", {{"x", Filled(1, 2.0f)}}, "x", 0, {0}); }),
                     "forward");
}

TEST(ModelRunErrorTest, AtenErrorNamesFileAndMethod) {
  auto model = LoadRaising();
  // head() takes a 4-d feature map: a 2-d one fails inside ATen (c10::Error).
  const Error e = ErrorOf([&] { model->RunMethod("head", {{"f", Tensor::Zeros(DType::kFloat32, {1, 3})}}); });
  EXPECT_EQ(e.code(), ErrorCode::kBackend) << e.what();
  EXPECT_NE(std::string(e.what()).find("colour3_raises.pt: running 'head'"), std::string::npos) << e.what();
}

}  // namespace
}  // namespace sense
