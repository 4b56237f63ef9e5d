// text_inputs.h: roles bound by name or order, and the one builder of text
// model inputs (padding, dtypes, fixed lengths, every role).
#include "sense/text/text_inputs.h"

#include <gtest/gtest.h>

#include "sense/inference/error.h"

namespace sense::text {
namespace {

ModelMetadata Meta(std::vector<TensorSpec> inputs, std::map<std::string, std::string> names = {}) {
  ModelMetadata m;
  m.task = Task::kTextClassification;
  m.name = "t";
  m.inputs = std::move(inputs);
  m.text = TextPreprocessing();
  m.text->max_length = 8;
  m.text->pad_id = 9;
  m.text->input_names = std::move(names);
  return m;
}

TensorSpec Spec(const std::string& name, DType d = DType::kInt64, std::vector<int64_t> shape = {-1, -1}) {
  return {name, d, shape};
}

EncodedInput Row(std::vector<int64_t> ids, std::vector<int64_t> types = {}) {
  EncodedInput r;
  r.ids = ids;
  r.attention_mask.assign(ids.size(), 1);
  r.type_ids = types.empty() ? std::vector<int64_t>(ids.size(), 0) : types;
  r.sequence_ids.assign(ids.size(), 0);
  r.offsets.assign(ids.size(), Span{0, 0});
  return r;
}

void ExpectMetadataError(const ModelMetadata& m, const std::string& fragment) {
  try {
    BindTextInputs(m, "m.pt");
    FAIL() << "expected: " << fragment;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kMetadata);
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(TextInputsTest, RolesByNameThenByOrder) {
  auto b = BindTextInputs(Meta({Spec("a"), Spec("b"), Spec("c"), Spec("d")}), "m.pt");
  ASSERT_EQ(b.size(), 4u);
  EXPECT_EQ(b[0].role, TextInputRole::kIds);
  EXPECT_EQ(b[1].role, TextInputRole::kMask);
  EXPECT_EQ(b[2].role, TextInputRole::kTypeIds);
  EXPECT_EQ(b[3].role, TextInputRole::kPositionIds);
  b = BindTextInputs(Meta({Spec("a"), Spec("b"), Spec("n", DType::kInt64, {-1})}, {{"ids", "b"}, {"lengths", "n"}}), "m.pt");
  EXPECT_EQ(b[0].role, TextInputRole::kMask);  // the first unnamed input takes the first unclaimed role
  EXPECT_EQ(b[1].role, TextInputRole::kIds);
  EXPECT_EQ(b[2].role, TextInputRole::kLengths);
}

TEST(TextInputsTest, BadBindingsAreMetadataErrors) {
  ExpectMetadataError(Meta({Spec("ids"), Spec("mask")}, {{"ids", "ids"}, {"type_ids", "ids"}}),
                      "roles ids and type_ids both name input 'ids'");
  ExpectMetadataError(Meta({Spec("ids")}, {{"segment", "ids"}}), "unknown role 'segment'");
  ExpectMetadataError(Meta({Spec("ids")}, {{"mask", "attention"}}), "names 'attention', which is not a model input");
  ExpectMetadataError(Meta({Spec("a"), Spec("b"), Spec("c"), Spec("d"), Spec("e")}), "input 'e' has no role");
  ExpectMetadataError(Meta({Spec("ids", DType::kUInt8)}), "is uint8");
  ExpectMetadataError(Meta({Spec("ids", DType::kInt64, {-1, -1, 4})}), "has 3 dimensions");
  ExpectMetadataError(Meta({Spec("m"), Spec("ids")}, {{"mask", "m"}, {"type_ids", "ids"}}), "no model input takes the token ids");
}

TEST(TextInputsTest, RowsArePaddedAndConvertedToEachDeclaredType) {
  const ModelMetadata m = Meta({Spec("ids"), Spec("mask", DType::kBool), Spec("types", DType::kInt32),
                                Spec("pos", DType::kFloat32), Spec("len", DType::kInt64, {-1})},
                               {{"position_ids", "pos"}, {"lengths", "len"}, {"type_ids", "types"}});
  const auto b = BindTextInputs(m, "m.pt");
  const EncodedInput r0 = Row({2, 5, 6, 3}, {0, 0, 1, 1}), r1 = Row({2, 3});
  const NamedTensors in = MakeTextInputs(b, *m.text, {&r0, &r1});
  ASSERT_EQ(in.size(), 5u);
  const Tensor& ids = in.at("ids");
  ASSERT_EQ(ids.shape(), (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(std::vector<int64_t>(ids.data<int64_t>(), ids.data<int64_t>() + 8), (std::vector<int64_t>{2, 5, 6, 3, 2, 3, 9, 9}));
  const Tensor& mask = in.at("mask");
  EXPECT_EQ(mask.dtype(), DType::kBool);
  EXPECT_TRUE(mask.data<bool>()[5]);
  EXPECT_FALSE(mask.data<bool>()[6]);
  EXPECT_EQ(in.at("types").data<int32_t>()[2], 1);
  EXPECT_EQ(in.at("types").data<int32_t>()[7], 0);
  EXPECT_EQ(in.at("pos").data<float>()[7], 3.0f);
  EXPECT_EQ(in.at("len").shape(), (std::vector<int64_t>{2}));
  EXPECT_EQ(in.at("len").data<int64_t>()[1], 2);
}

TEST(TextInputsTest, PaddedLengthFollowsFixedShapesThenMaxLength) {
  ModelMetadata m = Meta({Spec("ids", DType::kInt64, {-1, 6})});
  const EncodedInput r = Row({2, 3});
  auto b = BindTextInputs(m, "m.pt");
  EXPECT_EQ(b[0].fixed_length, 6);
  EXPECT_EQ(MakeTextInputs(b, *m.text, {&r}).at("ids").shape(), (std::vector<int64_t>{1, 6}));
  const EncodedInput long_row = Row({1, 2, 3, 4, 5, 6, 7});
  EXPECT_THROW(MakeTextInputs(b, *m.text, {&long_row}), Error);
  m = Meta({Spec("ids")});
  m.text->padding = Padding::kMaxLength;
  b = BindTextInputs(m, "m.pt");
  EXPECT_EQ(MakeTextInputs(b, *m.text, {&r}).at("ids").shape(), (std::vector<int64_t>{1, 8}));
  EXPECT_THROW(MakeTextInputs(b, *m.text, {}), Error);
}

}  // namespace
}  // namespace sense::text
