#include "sense/vision/image_classifier.h"

#include <gtest/gtest.h>

#include <filesystem>

#include <opencv2/core.hpp>

#include "sense/vision/image_io.h"
#include "test_util.h"

namespace sense::vision {
namespace {

using sense::testing::TestData;
using sense::testing::TestModel;

ImageClassifierOptions Options(const std::string& model = TestModel("colour3.pt")) {
  ImageClassifierOptions o;
  o.model.path = model;
  o.model.num_threads = 1;
  return o;
}

TEST(ImageClassifierTest, ClassifiesRealImageFiles) {
  auto c = ImageClassifier::Create(Options());
  for (const std::string colour : {"red", "green", "blue"}) {
    Classifications r = c->Classify(DecodeImage(TestData("images/" + colour + ".png")));
    ASSERT_FALSE(r.categories.empty());
    EXPECT_EQ(r.categories[0].label, colour);
    EXPECT_GT(r.categories[0].score, 0.99f);
    for (size_t i = 1; i < r.categories.size(); ++i) EXPECT_LE(r.categories[i].score, r.categories[i - 1].score);
  }
}

TEST(ImageClassifierTest, BatchMatchesSingleAndKeepsOrder) {
  auto o = Options();
  o.max_batch_size = 2;  // three images: two chunks
  auto c = ImageClassifier::Create(o);
  std::vector<cv::Mat> imgs = {DecodeImage(TestData("images/blue.png")), DecodeImage(TestData("images/red.png")),
                               DecodeImage(TestData("images/butterfly.jpg"))};
  auto batch = c->ClassifyBatch(imgs);
  ASSERT_EQ(batch.size(), 3u);
  for (size_t i = 0; i < imgs.size(); ++i) {
    auto single = c->Classify(imgs[i]);
    ASSERT_EQ(single.categories.size(), batch[i].categories.size());
    EXPECT_EQ(single.categories[0].label, batch[i].categories[0].label);
    EXPECT_NEAR(single.categories[0].score, batch[i].categories[0].score, 1e-5);
  }
  EXPECT_EQ(batch[0].categories[0].label, "blue");
  EXPECT_EQ(batch[1].categories[0].label, "red");
}

TEST(ImageClassifierTest, TopKThresholdAllowDeny) {
  auto o = Options();
  o.classifier.max_results = 1;
  EXPECT_EQ(ImageClassifier::Create(o)->Classify(DecodeImage(TestData("images/red.png"))).categories.size(), 1u);
  o.classifier.max_results = -1;
  o.classifier.score_threshold = 0.5f;
  EXPECT_EQ(ImageClassifier::Create(o)->Classify(DecodeImage(TestData("images/red.png"))).categories.size(), 1u);
  o.classifier.score_threshold = 0;
  o.classifier.deny_labels = {"red"};
  auto r = ImageClassifier::Create(o)->Classify(DecodeImage(TestData("images/red.png")));
  ASSERT_EQ(r.categories.size(), 2u);
  EXPECT_NE(r.categories[0].label, "red");
  o.classifier.deny_labels.clear();
  o.classifier.allow_labels = {"green", "blue"};
  r = ImageClassifier::Create(o)->Classify(DecodeImage(TestData("images/red.png")));
  ASSERT_EQ(r.categories.size(), 2u);
}

TEST(ImageClassifierTest, BadOptionsAndWrongModel) {
  auto expect = [](ImageClassifierOptions o, ErrorCode code, const std::string& frag) {
    try {
      ImageClassifier::Create(o);
      FAIL() << frag;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), code) << e.what();
      EXPECT_NE(std::string(e.what()).find(frag), std::string::npos) << e.what();
    }
  };
  auto o = Options();
  o.classifier.max_results = 0;
  expect(o, ErrorCode::kOption, "max_results");
  o = Options();
  o.classifier.allow_labels = {"purple"};
  expect(o, ErrorCode::kOption, "\"purple\" is not one of the model's labels");
  o = Options();
  o.max_batch_size = 0;
  expect(o, ErrorCode::kOption, "max_batch_size");
  expect(Options(TestModel("tiny_text.pt")), ErrorCode::kMetadata, "needs an image_classification bundle");
}

// A half-red, half-blue image: explaining "red" must highlight the red half.
void CheckRedHalf(const std::string& method) {
  auto c = ImageClassifier::Create(Options());
  cv::Mat img(60, 80, CV_8UC3, cv::Scalar(220, 30, 20));  // blue (BGR)
  img(cv::Rect(0, 0, 40, 60)).setTo(cv::Scalar(20, 30, 220));  // left half red
  ExplainOptions eo;
  eo.method = method;
  SaliencyMap s = c->Explain(img, 0, eo);
  EXPECT_EQ(s.method, method);
  EXPECT_EQ(s.category.label, "red");
  ASSERT_EQ(s.map.size(), img.size());
  ASSERT_EQ(s.map.type(), CV_32F);
  double lo, hi;
  cv::minMaxLoc(s.map, &lo, &hi);
  EXPECT_GE(lo, 0.0);
  EXPECT_LE(hi, 1.0 + 1e-6);
  const double left = cv::mean(s.map(cv::Rect(5, 5, 25, 50)))[0];
  const double right = cv::mean(s.map(cv::Rect(50, 5, 25, 50)))[0];
  EXPECT_GT(left, right + 0.2) << method << ": left " << left << " right " << right;
  cv::Mat overlay = RenderSaliencyOverlay(img, s);
  EXPECT_EQ(overlay.type(), CV_8UC3);
}

TEST(ImageClassifierExplainTest, GradCamHighlightsEvidence) { CheckRedHalf("gradcam"); }
TEST(ImageClassifierExplainTest, OcclusionHighlightsEvidence) { CheckRedHalf("occlusion"); }

TEST(ImageClassifierExplainTest, GradCamNeedsMethods) {
  if (!std::filesystem::exists(TestModel("colour3.onnx"))) GTEST_SKIP() << "no ONNX test model";
  auto c = ImageClassifier::Create(Options(TestModel("colour3.onnx")));
  ExplainOptions eo;
  eo.method = "gradcam";
  EXPECT_THROW(c->Explain(DecodeImage(TestData("images/red.png")), -1, eo), Error);
  eo.method = "auto";  // falls back to occlusion
  EXPECT_EQ(c->Explain(DecodeImage(TestData("images/red.png")), -1, eo).method, "occlusion");
}

}  // namespace
}  // namespace sense::vision
