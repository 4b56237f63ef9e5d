#include "sense/inference/tensor.h"

#include <gtest/gtest.h>

namespace sense {
namespace {

TEST(TensorTest, FromVectorOwnsAndChecksSize) {
  Tensor t = Tensor::FromVector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(t.dim(), 2);
  EXPECT_EQ(t.size(-1), 3);
  EXPECT_EQ(t.numel(), 6);
  EXPECT_FLOAT_EQ(t.data<float>()[4], 5.f);
  EXPECT_THROW(Tensor::FromVector<float>({1, 2, 3}, {2, 2}), Error);
  EXPECT_THROW(t.data<int64_t>(), Error);
}

TEST(TensorTest, OwnedViewKeepsItsOwnerAlive) {
  Tensor t;
  std::weak_ptr<std::vector<float>> watch;
  {
    auto buffer = std::make_shared<std::vector<float>>(6, 2.5f);
    watch = buffer;
    t = Tensor::View(buffer->data(), DType::kFloat32, {2, 3}, buffer);
  }  // the caller's handle is gone; the view holds the buffer
  EXPECT_FALSE(watch.expired());
  EXPECT_FLOAT_EQ(t.data<float>()[5], 2.5f);
  t = Tensor();
  EXPECT_TRUE(watch.expired());
}

TEST(TensorTest, VectorViewSharesMemory) {
  std::vector<int64_t> ids = {5, 6, 7, 8};
  Tensor t = Tensor::ViewVector(ids, {1, 4});
  ids[2] = 70;
  EXPECT_EQ(t.data<int64_t>()[2], 70);
}

TEST(TensorTest, SliceReshapeCloneToFloat) {
  Tensor t = Tensor::FromVector<int64_t>({0, 1, 2, 3, 4, 5}, {3, 2});
  Tensor s = t.Slice(1, 3);
  EXPECT_EQ(s.shape(), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(s.data<int64_t>()[0], 2);
  EXPECT_THROW(t.Slice(2, 4), Error);
  EXPECT_EQ(t.Reshape({-1}).shape(), (std::vector<int64_t>{6}));
  EXPECT_THROW(t.Reshape({4, 2}), Error);
  Tensor c = t.Clone();
  c.data<int64_t>()[0] = 9;
  EXPECT_EQ(t.data<int64_t>()[0], 0);
  Tensor f = t.ToFloat();
  EXPECT_EQ(f.dtype(), DType::kFloat32);
  EXPECT_FLOAT_EQ(f.data<float>()[5], 5.f);
}

TEST(TensorTest, NamedTensorsLookup) {
  NamedTensors n{{"a", Tensor::Zeros(DType::kFloat32, {1})}};
  n.Set("b", Tensor::Zeros(DType::kInt64, {2}));
  n.Set("a", Tensor::Zeros(DType::kFloat32, {3}));
  EXPECT_EQ(n.size(), 2u);
  EXPECT_EQ(n.at("a").numel(), 3);
  try {
    n.at("c");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("have: a, b"), std::string::npos);
  }
}

}  // namespace
}  // namespace sense
