// sense's LSTM kernel (inference/src/fast_lstm.h) against aten::lstm: dense
// and packed sequences, one and two layers, one and two directions, with and
// without biases and initial states, with packed and unpacked weights; the
// cache of packed weights; the fallback for autograd; the graph rewrite. And
// the packed matrix product under it (packed_gemm.h) against a
// double-precision reference.
#include "fast_lstm.h"

#include "packed_gemm.h"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <torch/nn/utils/rnn.h>
#include <torch/script.h>

#include <cmath>
#include <thread>
#include <vector>

namespace sense::internal {
namespace {

struct Config {
  int64_t in, hidden, layers;
  bool bidirectional, biases;
};

std::vector<at::Tensor> Params(const Config& c) {
  std::vector<at::Tensor> p;
  const int64_t dirs = c.bidirectional ? 2 : 1;
  for (int64_t l = 0; l < c.layers; ++l)
    for (int64_t d = 0; d < dirs; ++d) {
      const int64_t in = l == 0 ? c.in : dirs * c.hidden;
      p.push_back(torch::randn({4 * c.hidden, in}) * 0.5);
      p.push_back(torch::randn({4 * c.hidden, c.hidden}) * 0.5);
      if (c.biases) {
        p.push_back(torch::randn({4 * c.hidden}) * 0.5);
        p.push_back(torch::randn({4 * c.hidden}) * 0.5);
      }
    }
  return p;
}

double MaxDiff(const at::Tensor& a, const at::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  return (a - b).abs().max().item<double>();
}

const std::vector<Config> kConfigs = {
    {5, 7, 1, true, true},  {5, 7, 1, false, true},   {6, 8, 2, true, true},
    {3, 4, 2, false, false}, {9, 16, 1, true, false}, {37, 20, 1, true, true}};  // 4H = 80: panels of 16, 4 + 1

TEST(FastLstmTest, DenseMatchesAten) {
  torch::manual_seed(1);
  c10::InferenceMode guard;
  FastLstmScope on(true);
  for (const Config& c : kConfigs)
    for (bool batch_first : {true, false})
      for (int64_t B : {1, 2, 3, 13}) {  // the kernel's row tiles: 1 x 64, 2 x 32, 6 x 16 and remainders
        const int64_t T = 6, dirs = c.bidirectional ? 2 : 1;
        const auto params = Params(c);
        at::Tensor x = batch_first ? torch::randn({B, T, c.in}) : torch::randn({T, B, c.in});
        for (bool zero_state : {true, false}) {
          at::Tensor h0 = zero_state ? torch::zeros({c.layers * dirs, B, c.hidden}) : torch::randn({c.layers * dirs, B, c.hidden});
          at::Tensor c0 = zero_state ? torch::zeros({c.layers * dirs, B, c.hidden}) : torch::randn({c.layers * dirs, B, c.hidden});
          auto ref = at::lstm(x, {h0, c0}, params, c.biases, c.layers, 0.0, false, c.bidirectional, batch_first);
          auto got = LstmInput(x, {h0, c0}, params, c.biases, c.layers, 0.0, false, c.bidirectional, batch_first);
          SCOPED_TRACE(testing::Message() << "in " << c.in << " hidden " << c.hidden << " layers " << c.layers
                                          << " bidirectional " << c.bidirectional << " biases " << c.biases
                                          << " batch_first " << batch_first << " B " << B);
          EXPECT_LT(MaxDiff(std::get<0>(got), std::get<0>(ref)), 2e-6);
          EXPECT_LT(MaxDiff(std::get<1>(got), std::get<1>(ref)), 2e-6);
          EXPECT_LT(MaxDiff(std::get<2>(got), std::get<2>(ref)), 2e-6);
        }
      }
}

TEST(FastLstmTest, PackedMatchesAten) {
  torch::manual_seed(2);
  c10::InferenceMode guard;
  FastLstmScope on(true);
  for (const Config& c : kConfigs) {
    const int64_t dirs = c.bidirectional ? 2 : 1;
    const auto params = Params(c);
    // unsorted lengths, as pack_padded_sequence(enforce_sorted=False) gets them
    for (const std::vector<int64_t>& lengths : std::vector<std::vector<int64_t>>{{4, 7, 1, 7, 3}, {1}, {2, 2}}) {
      const int64_t B = static_cast<int64_t>(lengths.size());
      at::Tensor padded = torch::randn({B, 7, c.in});
      auto packed = torch::nn::utils::rnn::pack_padded_sequence(padded, torch::tensor(lengths), /*batch_first=*/true,
                                                                /*enforce_sorted=*/false);
      at::Tensor h0 = torch::randn({c.layers * dirs, B, c.hidden});
      at::Tensor c0 = torch::randn({c.layers * dirs, B, c.hidden});
      // the state rows follow the packed (sorted) order
      h0 = h0.index_select(1, packed.sorted_indices());
      c0 = c0.index_select(1, packed.sorted_indices());
      auto ref = at::lstm(packed.data(), packed.batch_sizes(), {h0, c0}, params, c.biases, c.layers, 0.0, false,
                          c.bidirectional);
      auto got = LstmData(packed.data(), packed.batch_sizes(), {h0, c0}, params, c.biases, c.layers, 0.0, false,
                          c.bidirectional);
      SCOPED_TRACE(testing::Message() << "layers " << c.layers << " bidirectional " << c.bidirectional << " B " << B);
      EXPECT_LT(MaxDiff(std::get<0>(got), std::get<0>(ref)), 2e-6);
      EXPECT_LT(MaxDiff(std::get<1>(got), std::get<1>(ref)), 2e-6);
      EXPECT_LT(MaxDiff(std::get<2>(got), std::get<2>(ref)), 2e-6);
    }
  }
}

TEST(FastLstmTest, TwoThreadsMatchOne) {  // the directions run on two threads
  torch::manual_seed(7);
  c10::InferenceMode guard;
  FastLstmScope on(true);
  const int before = at::get_num_threads();
  for (const Config& c : kConfigs) {
    const int64_t dirs = c.bidirectional ? 2 : 1;
    const auto params = Params(c);
    at::Tensor x = torch::randn({3, 6, c.in});
    at::Tensor h0 = torch::randn({c.layers * dirs, 3, c.hidden}), c0 = torch::randn({c.layers * dirs, 3, c.hidden});
    auto packed = torch::nn::utils::rnn::pack_padded_sequence(x, torch::tensor({6, 2, 4}), true, false);
    at::set_num_threads(1);
    auto dense1 = LstmInput(x, {h0, c0}, params, c.biases, c.layers, 0.0, false, c.bidirectional, true);
    auto packed1 = LstmData(packed.data(), packed.batch_sizes(), {h0, c0}, params, c.biases, c.layers, 0.0, false, c.bidirectional);
    at::set_num_threads(2);
    auto dense2 = LstmInput(x, {h0, c0}, params, c.biases, c.layers, 0.0, false, c.bidirectional, true);
    auto packed2 = LstmData(packed.data(), packed.batch_sizes(), {h0, c0}, params, c.biases, c.layers, 0.0, false, c.bidirectional);
    EXPECT_LT(MaxDiff(std::get<0>(dense2), std::get<0>(dense1)), 1e-6);
    EXPECT_LT(MaxDiff(std::get<1>(dense2), std::get<1>(dense1)), 1e-6);
    EXPECT_LT(MaxDiff(std::get<0>(packed2), std::get<0>(packed1)), 1e-6);
    EXPECT_LT(MaxDiff(std::get<2>(packed2), std::get<2>(packed1)), 1e-6);
  }
  at::set_num_threads(before);
}

TEST(FastLstmTest, PackedAndUnpackedWeightsAgree) {
  torch::manual_seed(8);
  c10::InferenceMode guard;
  FastLstmScope on(true);
  for (const Config& c : kConfigs) {
    const int64_t dirs = c.bidirectional ? 2 : 1;
    const auto params = Params(c);
    at::Tensor x = torch::randn({5, 9, c.in});
    at::Tensor h0 = torch::randn({c.layers * dirs, 5, c.hidden}), c0 = torch::randn({c.layers * dirs, 5, c.hidden});
    SetPackedWeightsForTesting(false);
    auto plain = LstmInput(x, {h0, c0}, params, c.biases, c.layers, 0.0, false, c.bidirectional, true);
    SetPackedWeightsForTesting(true);
    auto packed = LstmInput(x, {h0, c0}, params, c.biases, c.layers, 0.0, false, c.bidirectional, true);
    EXPECT_LT(MaxDiff(std::get<0>(packed), std::get<0>(plain)), 2e-6);
    EXPECT_LT(MaxDiff(std::get<2>(packed), std::get<2>(plain)), 2e-6);
  }
}

// Model parameters are ordinary tensors (not inference tensors), so their
// packed copies are cached: the cache must see in-place writes and new tensors.
TEST(FastLstmTest, CachedWeightsFollowTheParameters) {
  torch::manual_seed(9);
  const Config c{6, 12, 1, true, true};
  std::vector<at::Tensor> params = Params(c);
  at::Tensor x = torch::randn({2, 5, c.in});
  at::Tensor h0 = torch::zeros({2, 2, c.hidden}), c0 = torch::zeros({2, 2, c.hidden});
  const auto check = [&](const char* what) {
    c10::InferenceMode guard;
    auto ref = at::lstm(x, {h0, c0}, params, true, 1, 0.0, false, true, true);
    FastLstmScope on(true);
    for (int call = 0; call < 2; ++call) {  // the first call packs, the second finds the cache
      auto got = LstmInput(x, {h0, c0}, params, true, 1, 0.0, false, true, true);
      EXPECT_LT(MaxDiff(std::get<0>(got), std::get<0>(ref)), 2e-6) << what << ", call " << call;
    }
  };
  check("fresh parameters");
  {
    torch::NoGradGuard no_grad;
    params[1].mul_(-0.5);  // w_hh of the forward direction, in place
    params[6].add_(1.0);   // b_ih of the backward direction
  }
  check("after in-place writes");
  params = Params(c);  // new tensors; the old ones are freed
  check("new parameter tensors");
}

// Parameters created outside inference mode, as a loaded model's are: these
// go through the cache of packed weights.
std::vector<at::Tensor> ModelParams(const Config& c) {
  std::vector<at::Tensor> p = Params(c);
  for (const auto& t : p) EXPECT_FALSE(t.is_inference());
  return p;
}

TEST(FastLstmTest, SameTensorsInAnotherLayoutArePackedApart) {
  // [w_ih, w_hh] x 2 with in == H: a 1-layer bidirectional LSTM, or 2 layers of one direction
  torch::manual_seed(11);
  const Config c{6, 6, 1, true, false};
  const std::vector<at::Tensor> params = ModelParams(c);
  at::Tensor x = torch::randn({2, 5, 6});
  at::Tensor s = torch::zeros({2, 2, 6});
  c10::InferenceMode guard;
  FastLstmScope on(true);
  for (int round = 0; round < 2; ++round) {
    const bool bidirectional = round == 0;
    const int64_t layers = bidirectional ? 1 : 2;
    auto ref = at::lstm(x, {s, s}, params, false, layers, 0.0, false, bidirectional, true);
    auto got = LstmInput(x, {s, s}, params, false, layers, 0.0, false, bidirectional, true);
    EXPECT_LT(MaxDiff(std::get<0>(got), std::get<0>(ref)), 2e-6) << "bidirectional " << bidirectional;
  }
  for (int round = 0; round < 2; ++round) {  // and back, from the cache
    const bool bidirectional = round == 0;
    const int64_t layers = bidirectional ? 1 : 2;
    auto ref = at::lstm(x, {s, s}, params, false, layers, 0.0, false, bidirectional, true);
    auto got = LstmInput(x, {s, s}, params, false, layers, 0.0, false, bidirectional, true);
    EXPECT_LT(MaxDiff(std::get<0>(got), std::get<0>(ref)), 2e-6) << "again, bidirectional " << bidirectional;
  }
}

TEST(FastLstmTest, CacheKeepsOneCopyPerWeightSet) {
  torch::manual_seed(12);
  const Config c{5, 8, 1, true, true};
  std::vector<at::Tensor> params = ModelParams(c);
  at::Tensor x = torch::randn({1, 4, c.in});
  at::Tensor s = torch::zeros({2, 1, c.hidden});
  const auto run = [&] {
    c10::InferenceMode guard;
    FastLstmScope on(true);
    LstmInput(x, {s, s}, params, true, 1, 0.0, false, true, true);
  };
  run();
  const size_t held = PackedWeightCacheSizeForTesting();
  for (int i = 0; i < 20; ++i) {
    {
      torch::NoGradGuard no_grad;
      params[1].mul_(0.9);  // a new version: packed again, the old copy dropped
    }
    run();
  }
  EXPECT_EQ(PackedWeightCacheSizeForTesting(), held);
  params = ModelParams(c);  // the old tensors are freed: their entry goes at the next call
  run();
  EXPECT_EQ(PackedWeightCacheSizeForTesting(), held);
}

TEST(FastLstmTest, ConcurrentCallersGetTheirOwnResults) {
  torch::manual_seed(13);
  std::vector<Config> configs = {{7, 12, 1, true, true}, {9, 20, 2, true, true}};
  std::vector<std::vector<at::Tensor>> params;
  std::vector<at::Tensor> inputs, refs;
  for (const Config& c : configs) {
    params.push_back(ModelParams(c));
    inputs.push_back(torch::randn({3, 7, c.in}));
    at::Tensor s = torch::zeros({c.layers * 2, 3, c.hidden});
    c10::InferenceMode guard;
    refs.push_back(std::get<0>(at::lstm(inputs.back(), {s, s}, params.back(), true, c.layers, 0.0, false, true, true)));
  }
  std::vector<double> worst(8, 0.0);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < worst.size(); ++t)
    threads.emplace_back([&, t] {
      c10::InferenceMode guard;
      FastLstmScope on(true);
      for (int i = 0; i < 20; ++i) {
        const size_t k = (t + static_cast<size_t>(i)) % configs.size();
        at::Tensor s = torch::zeros({configs[k].layers * 2, 3, configs[k].hidden});
        auto got = LstmInput(inputs[k], {s, s}, params[k], true, configs[k].layers, 0.0, false, true, true);
        worst[t] = std::max(worst[t], (std::get<0>(got) - refs[k]).abs().max().item<double>());
      }
    });
  for (auto& th : threads) th.join();
  for (double w : worst) EXPECT_LT(w, 2e-6);
}

TEST(FastLstmTest, MalformedArgumentsRaiseAtensErrors) {
  torch::manual_seed(14);
  c10::InferenceMode guard;
  FastLstmScope on(true);
  const Config c{5, 8, 1, true, true};
  const auto params = Params(c);
  at::Tensor s = torch::zeros({2, 2, c.hidden});
  // input width 6 for weights made for 5
  at::Tensor wide = torch::randn({2, 4, 6});
  EXPECT_THROW(at::lstm(wide, {s, s}, params, true, 1, 0.0, false, true, true), c10::Error);
  EXPECT_THROW(LstmInput(wide, {s, s}, params, true, 1, 0.0, false, true, true), c10::Error);
  // states for a batch of 1, input batch 2
  at::Tensor x = torch::randn({2, 4, c.in});
  at::Tensor s1 = torch::zeros({2, 1, c.hidden});
  EXPECT_THROW(at::lstm(x, {s1, s1}, params, true, 1, 0.0, false, true, true), c10::Error);
  EXPECT_THROW(LstmInput(x, {s1, s1}, params, true, 1, 0.0, false, true, true), c10::Error);
  // packed: increasing batch sizes
  at::Tensor data = torch::randn({9, c.in});
  at::Tensor bad_sizes = torch::tensor({1, 8}, at::kLong);
  at::Tensor s8 = torch::zeros({2, 1, c.hidden});
  EXPECT_THROW(at::lstm(data, bad_sizes, {s8, s8}, params, true, 1, 0.0, false, true), c10::Error);
  EXPECT_THROW(LstmData(data, bad_sizes, {s8, s8}, params, true, 1, 0.0, false, true), c10::Error);
  // a bias of the wrong size
  auto short_bias = params;
  short_bias[2] = torch::randn({4 * c.hidden - 1});
  EXPECT_THROW(at::lstm(x, {s, s}, short_bias, true, 1, 0.0, false, true, true), c10::Error);
  EXPECT_THROW(LstmInput(x, {s, s}, short_bias, true, 1, 0.0, false, true, true), c10::Error);
}

// The inference layer must be built with OpenMP: ATen's parallel_for is a
// header template over `#pragma omp parallel`, serial in code built without it.
TEST(FastLstmTest, ParallelForRunsOnSeveralThreads) {
  const int before = at::get_num_threads();
  at::set_num_threads(2);
  EXPECT_EQ(ParallelThreadsForTesting(2), 2);
  at::set_num_threads(before);
}

TEST(PackedMatrixTest, ParallelSplitMatchesSerial) {  // the 1 x 64 and 2 x 32 tiles too
  if (!PackedMatrix::Available()) GTEST_SKIP() << "this CPU has no AVX2/FMA";
  torch::manual_seed(15);
  const int before = at::get_num_threads();
  const int64_t n = 1000, k = 600;
  at::Tensor w = torch::randn({n, k});
  const PackedMatrix packed(w.data_ptr<float>(), n, k);
  at::Tensor bias = torch::randn({n});
  for (int64_t m : {1, 2, 3, 7}) {
    at::Tensor a = torch::randn({m, k});
    at::Tensor serial = torch::empty({m, n}), split = torch::empty({m, n});
    at::set_num_threads(1);
    packed.MultiplyAdd(a.data_ptr<float>(), k, m, bias.data_ptr<float>(), 0, serial.data_ptr<float>(), n, true);
    at::set_num_threads(2);
    packed.MultiplyAdd(a.data_ptr<float>(), k, m, bias.data_ptr<float>(), 0, split.data_ptr<float>(), n, true);
    EXPECT_EQ(MaxDiff(split, serial), 0.0) << "m " << m;
    EXPECT_LT(MaxDiff(serial.to(at::kDouble), bias.to(at::kDouble) + at::mm(a.to(at::kDouble), w.to(at::kDouble).t())),
              1e-3);
  }
  at::set_num_threads(before);
  EXPECT_THROW(packed.MultiplyAdd(w.data_ptr<float>(), k - 1, 1, bias.data_ptr<float>(), 0, bias.data_ptr<float>(), n,
                                  false),
               std::invalid_argument);  // lda < k
}

TEST(PackedMatrixTest, MatchesDoubleReference) {
  if (!PackedMatrix::Available()) GTEST_SKIP() << "this CPU has no AVX2/FMA: sense's LSTM uses OpenBLAS products here";
  torch::manual_seed(10);
  const int before = at::get_num_threads();
  for (int64_t n : {5, 16, 20, 64, 80, 1000})
    for (int64_t k : {1, 7, 33})
      for (int64_t m : {1, 2, 3, 4, 5, 6, 7, 13, 40})
        for (bool bias_row : {true, false}) {
          const int64_t lda = k + 3, ldc = n + 5;  // strided rows
          at::Tensor w = torch::randn({n, k}), a = torch::randn({m, lda});
          at::Tensor init = torch::randn({bias_row ? 1 : m, ldc});
          const PackedMatrix packed(w.data_ptr<float>(), n, k);
          ASSERT_EQ(packed.n(), n);
          ASSERT_EQ(packed.k(), k);
          at::Tensor c = torch::full({m, ldc}, 7.0f);
          packed.MultiplyAdd(a.data_ptr<float>(), lda, m, init.data_ptr<float>(), bias_row ? 0 : ldc,
                             c.data_ptr<float>(), ldc, /*parallel=*/false);
          at::Tensor ref = init.narrow(1, 0, n).to(at::kDouble) +
                           at::mm(a.narrow(1, 0, k).to(at::kDouble), w.to(at::kDouble).t());
          SCOPED_TRACE(testing::Message() << "n " << n << " k " << k << " m " << m << " bias row " << bias_row);
          EXPECT_LT(MaxDiff(c.narrow(1, 0, n).to(at::kDouble), ref), 1e-5 * std::sqrt(double(k)) + 1e-6);
          EXPECT_EQ(MaxDiff(c.narrow(1, n, ldc - n), torch::full({m, ldc - n}, 7.0f)), 0.0);  // past n untouched
          if (!bias_row) {  // in place: c is init
            at::Tensor inplace = init.clone();
            packed.MultiplyAdd(a.data_ptr<float>(), lda, m, inplace.data_ptr<float>(), ldc, inplace.data_ptr<float>(),
                               ldc, false);
            EXPECT_EQ(MaxDiff(inplace.narrow(1, 0, n), c.narrow(1, 0, n)), 0.0);
          }
          at::set_num_threads(2);  // split by column panels: each output is summed the same way
          at::Tensor c2 = torch::full({m, ldc}, 7.0f);
          packed.MultiplyAdd(a.data_ptr<float>(), lda, m, init.data_ptr<float>(), bias_row ? 0 : ldc,
                             c2.data_ptr<float>(), ldc, /*parallel=*/true);
          at::set_num_threads(before);
          EXPECT_EQ(MaxDiff(c2, c), 0.0);
        }
}

TEST(FastLstmTest, GradientsFallBackToAten) {
  torch::manual_seed(3);
  FastLstmScope on(true);
  const Config c{4, 5, 1, true, true};
  const auto params = Params(c);
  at::Tensor x = torch::randn({1, 3, c.in}, torch::requires_grad());
  at::Tensor h0 = torch::zeros({2, 1, c.hidden}), c0 = torch::zeros({2, 1, c.hidden});
  auto got = LstmInput(x, {h0, c0}, params, true, 1, 0.0, false, true, true);
  ASSERT_TRUE(std::get<0>(got).requires_grad());  // autograd kept: the call went to at::lstm
  std::get<0>(got).sum().backward();
  EXPECT_TRUE(x.grad().defined());
  EXPECT_GT(x.grad().abs().sum().item<double>(), 0.0);
}

TEST(FastLstmTest, OtherDtypesFallBackToAten) {
  torch::manual_seed(4);
  c10::InferenceMode guard;
  FastLstmScope on(true);
  const Config c{3, 4, 1, false, true};
  std::vector<at::Tensor> params;
  for (const auto& p : Params(c)) params.push_back(p.to(at::kDouble));
  at::Tensor x = torch::randn({2, 5, c.in}, at::kDouble);
  at::Tensor h0 = torch::zeros({1, 2, c.hidden}, at::kDouble), c0 = torch::zeros({1, 2, c.hidden}, at::kDouble);
  auto ref = at::lstm(x, {h0, c0}, params, true, 1, 0.0, false, false, true);
  auto got = LstmInput(x, {h0, c0}, params, true, 1, 0.0, false, false, true);
  EXPECT_EQ(std::get<0>(got).scalar_type(), at::kDouble);
  EXPECT_EQ(MaxDiff(std::get<0>(got), std::get<0>(ref)), 0.0);
}

TEST(FastLstmTest, OffOutsideAScope) {
  torch::manual_seed(6);
  c10::InferenceMode guard;
  const Config c{5, 7, 1, true, true};
  const auto params = Params(c);
  at::Tensor x = torch::randn({2, 4, c.in});
  at::Tensor h0 = torch::zeros({2, 2, c.hidden}), c0 = torch::zeros({2, 2, c.hidden});
  auto ref = at::lstm(x, {h0, c0}, params, true, 1, 0.0, false, true, true);
  auto off = LstmInput(x, {h0, c0}, params, true, 1, 0.0, false, true, true);
  EXPECT_EQ(MaxDiff(std::get<0>(off), std::get<0>(ref)), 0.0);  // LibTorch's own result, bit for bit
  double on_diff;
  {
    FastLstmScope on(true);
    FastLstmScope nested_off(false);
    EXPECT_EQ(MaxDiff(std::get<0>(LstmInput(x, {h0, c0}, params, true, 1, 0.0, false, true, true)), std::get<0>(ref)), 0.0);
  }
  {
    FastLstmScope on(true);
    on_diff = MaxDiff(std::get<0>(LstmInput(x, {h0, c0}, params, true, 1, 0.0, false, true, true)), std::get<0>(ref));
  }
  EXPECT_GT(on_diff, 0.0);  // the kernel ran (its tanh is not LibTorch's)...
  EXPECT_LT(on_diff, 2e-6);  // ...and agrees
  EXPECT_EQ(MaxDiff(std::get<0>(LstmInput(x, {h0, c0}, params, true, 1, 0.0, false, true, true)), std::get<0>(ref)), 0.0);
}

TEST(FastLstmTest, TanhApproximation) {
  double worst = 0;
  for (float x = -12.f; x <= 12.f; x += 1e-3f) worst = std::max(worst, std::abs(double(FastTanh(x)) - std::tanh(double(x))));
  EXPECT_LT(worst, 1e-6);
  EXPECT_EQ(FastTanh(0.f), 0.f);
  EXPECT_FLOAT_EQ(FastTanh(50.f), 1.f);
  EXPECT_FLOAT_EQ(FastTanh(-50.f), -1.f);
}

TEST(FastLstmTest, RewriteReplacesLstmNodesAndKeepsResults) {
  torch::manual_seed(5);
  torch::jit::Module m("m");
  const Config c{4, 6, 1, true, true};
  const auto params = Params(c);
  for (size_t i = 0; i < params.size(); ++i) m.register_parameter("p" + std::to_string(i), params[i], false);
  m.define(R"JIT(
    def forward(self, x):
        h = torch.zeros([2, x.size(0), 6])
        out, hn, cn = torch.lstm(x, [h, h], [self.p0, self.p1, self.p2, self.p3, self.p4, self.p5, self.p6, self.p7],
                                 True, 1, 0.0, False, True, True)
        if x.size(1) > 2:
            out2, hn2, cn2 = torch.lstm(x, [h, h], [self.p0, self.p1, self.p2, self.p3, self.p4, self.p5, self.p6, self.p7],
                                        True, 1, 0.0, False, True, True)
            out = out + out2
        return out
  )JIT");
  at::Tensor x = torch::randn({2, 5, c.in});
  c10::InferenceMode guard;
  const at::Tensor ref = m.forward({x}).toTensor();
  torch::jit::Module copy = m.clone(/*inplace=*/true);
  auto graph = copy.get_method("forward").graph();
  EXPECT_EQ(ReplaceLstmNodes(*graph), 2);  // one of them inside the if block
  EXPECT_EQ(ReplaceLstmNodes(*graph), 0);
  std::ostringstream ir;
  ir << *graph;
  EXPECT_EQ(ir.str().find("aten::lstm"), std::string::npos) << ir.str();
  EXPECT_NE(ir.str().find("sense::lstm_input"), std::string::npos) << ir.str();
  EXPECT_EQ(MaxDiff(copy.forward({x}).toTensor(), ref), 0.0);  // kernel off: at::lstm
  FastLstmScope on(true);
  EXPECT_LT(MaxDiff(copy.forward({x}).toTensor(), ref), 2e-6);
  // the original module keeps aten::lstm
  std::ostringstream orig;
  orig << *m.get_method("forward").graph();
  EXPECT_NE(orig.str().find("aten::lstm"), std::string::npos);
}

}  // namespace
}  // namespace sense::internal
