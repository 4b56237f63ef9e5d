// The thread policy of model.h: a call runs with its model's threads and
// restores the caller's count; nothing process-wide changes (threads started
// later, OpenCV's count); concurrent calls of one model share its budget;
// a count above the usable cores is clamped with a note. An internal test:
// it reads LibTorch's and OpenMP's thread state directly.
#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <omp.h>
#include <opencv2/core.hpp>

#include <atomic>
#include <filesystem>
#include <thread>

#include "backends.h"
#include "sense/inference/model.h"
#include "test_util.h"

namespace sense {
namespace {

using sense::testing::TestModel;

std::unique_ptr<Model> Load(const std::string& file, int threads) {
  ModelOptions o;
  o.path = TestModel(file);
  o.num_threads = threads;
  return Model::Load(o);
}

Tensor Image() { return Tensor::Zeros(DType::kFloat32, {1, 3, 32, 32}); }

// What LibTorch gives a thread started now (its process default).
int NewThreadsCount() {
  int n = 0;
  std::thread([&] { n = at::get_num_threads(); }).join();
  return n;
}

TEST(ThreadPolicyTest, ACallRestoresTheCallersCount) {
  auto one = Load("colour3.pt", 1);
  std::thread([&] {  // a fresh thread, so that other tests' settings do not matter
    omp_set_num_threads(5);
    one->Run({{"x", Image()}});
    EXPECT_EQ(omp_get_max_threads(), 5);  // the model's 1 stayed before the fix
    EXPECT_EQ(at::get_num_threads(), 5);
    one->RunMethod("features", {{"x", Image()}});
    EXPECT_EQ(omp_get_max_threads(), 5);
    one->RunMethodWithGradient("forward", {{"x", Image()}}, "x", 0, {0});
    EXPECT_EQ(omp_get_max_threads(), 5);
  }).join();
}

TEST(ThreadPolicyTest, NothingProcessWideChanges) {
  const int before = NewThreadsCount();
  ASSERT_GE(before, 1);
  const int other = before == 1 ? 2 : 1;  // a count that differs from LibTorch's default
  if (other > AvailableCores()) GTEST_SKIP() << "needs 2 usable cores";
  auto model = Load("colour3.pt", other);  // load runs the verify pass and the optimisation check
  model->Run({{"x", Image()}});
  // at::set_num_threads(other) also made it the count of every thread started later.
  EXPECT_EQ(NewThreadsCount(), before);
}

TEST(ThreadPolicyTest, TwoModelsDoNotSeeEachOthersCounts) {
  if (AvailableCores() < 2) GTEST_SKIP() << "needs 2 usable cores";
  auto one = Load("colour3.pt", 1);
  auto two = Load("colour3.pt", 2);
  EXPECT_EQ(one->num_threads(), 1);
  EXPECT_EQ(two->num_threads(), 2);
  std::atomic<int> wrong{0};
  auto loop = [&](const Model& m, int own) {
    omp_set_num_threads(own);
    for (int i = 0; i < 30; ++i) {
      m.Run({{"x", Image()}});
      if (omp_get_max_threads() != own) ++wrong;
    }
  };
  std::thread a([&] { loop(*one, 3); });
  std::thread b([&] { loop(*two, 4); });
  a.join();
  b.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(ThreadPolicyTest, ACallRunsWithItsModelsThreads) {
  internal::ThreadBudget budget(2);
  std::thread([&] {
    omp_set_num_threads(7);
    {
      internal::ThreadScope scope(budget);
      EXPECT_EQ(scope.threads(), 2);
      EXPECT_EQ(omp_get_max_threads(), 2);
      EXPECT_EQ(at::get_num_threads(), 2);
    }
    EXPECT_EQ(omp_get_max_threads(), 7);
  }).join();
}

TEST(ThreadPolicyTest, ConcurrentCallsShareTheBudget) {
  internal::ThreadBudget budget(3);
  EXPECT_EQ(budget.Acquire(), 3);  // the first call takes all
  EXPECT_EQ(budget.Acquire(), 1);  // calls during it run on their own thread only
  EXPECT_EQ(budget.Acquire(), 1);
  budget.Release(3);               // the first ends: 1 left for the next, two are still out
  EXPECT_EQ(budget.Acquire(), 1);
  budget.Release(1);
  budget.Release(1);
  budget.Release(1);
  EXPECT_EQ(budget.Acquire(), 3);  // all back
  budget.Release(3);
  // Many callers at once: the pool threads beyond each caller's own stay <= budget - 1.
  std::atomic<int> extra{0}, worst{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 8; ++t)
    callers.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        const int take = budget.Acquire();
        const int now = extra += take - 1;
        int w = worst.load();
        while (now > w && !worst.compare_exchange_weak(w, now)) {}
        extra -= take - 1;
        budget.Release(take);
      }
    });
  for (auto& c : callers) c.join();
  EXPECT_LE(worst.load(), 2);
  EXPECT_EQ(budget.Acquire(), 3);
}

TEST(ThreadPolicyTest, MoreThanTheUsableCoresIsClamped) {
  const int cores = AvailableCores();
  auto many = Load("colour3.pt", 1000);
  EXPECT_EQ(many->num_threads(), cores);
  EXPECT_EQ(many->thread_note(), "num_threads 1000 is more than the " + std::to_string(cores) + " usable core" +
                                     (cores == 1 ? "" : "s") + "; using " + std::to_string(cores));
  EXPECT_EQ(Load("colour3.pt", cores)->thread_note(), "");
  const int automatic = Load("colour3.pt", 0)->num_threads();  // the idle cores: other processes may be busy
  EXPECT_GE(automatic, 1);
  EXPECT_LE(automatic, cores);
}

// 0 threads ("auto") leaves busy cores alone: with a thread of ours spinning,
// at least one core is taken, so auto gets at most cores - 1 (and >= 1).
TEST(ThreadPolicyTest, AutomaticCountLeavesBusyCoresAlone) {
  const int cores = AvailableCores();
  if (cores < 2) GTEST_SKIP() << "needs 2 usable cores";
  std::atomic<bool> stop{false};
  std::thread spinner([&] {
    volatile unsigned long x = 0;
    while (!stop.load(std::memory_order_relaxed)) x = x + 1;
  });
  const int automatic = Load("colour3.pt", 0)->num_threads();
  stop = true;
  spinner.join();
  EXPECT_GE(automatic, 1);
  EXPECT_LE(automatic, cores - 1);
}

TEST(ThreadPolicyTest, OnnxRestoresOpenCvsProcessWideCount) {
  if (!std::filesystem::exists(TestModel("colour3.onnx"))) GTEST_SKIP() << "no ONNX test model";
  auto onnx = Load("colour3.onnx", 1);
  const int before = cv::getNumThreads();
  cv::setNumThreads(3);
  onnx->Run({{"x", Image()}});
  EXPECT_EQ(cv::getNumThreads(), 3);  // cv::setNumThreads(1) stayed for the whole process before the fix
  cv::setNumThreads(before);
}

}  // namespace
}  // namespace sense
