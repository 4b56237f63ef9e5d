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
    ASSERT_TRUE(batch[i].ok()) << batch[i].error().what();
    ASSERT_EQ(single.categories.size(), batch[i].value().categories.size());
    EXPECT_EQ(single.categories[0].label, batch[i].value().categories[0].label);
    EXPECT_NEAR(single.categories[0].score, batch[i].value().categories[0].score, 1e-5);
  }
  EXPECT_EQ(batch[0].value().categories[0].label, "blue");
  EXPECT_EQ(batch[1].value().categories[0].label, "red");
}

// raising_colour3 asserts in forward on a bright image: that image alone
// fails, with a typed error; the others in its chunk keep their results.
TEST(ImageClassifierTest, ModelRaisingOnOneImageFailsOnlyThatImage) {
  auto o = Options(TestModel("raising_colour3.pt"));
  o.max_batch_size = 3;
  auto c = ImageClassifier::Create(o);
  const cv::Mat white(40, 40, CV_8UC3, cv::Scalar(255, 255, 255));
  auto out = c->ClassifyBatch({DecodeImage(TestData("images/red.png")), white, DecodeImage(TestData("images/blue.png"))});
  ASSERT_EQ(out.size(), 3u);
  ASSERT_TRUE(out[0].ok()) << out[0].error().what();
  EXPECT_EQ(out[0].value().categories[0].label, "red");
  ASSERT_FALSE(out[1].ok());
  EXPECT_EQ(out[1].error().code(), ErrorCode::kBackend);
  EXPECT_NE(std::string(out[1].error().what()).find("image too bright"), std::string::npos) << out[1].error().what();
  EXPECT_NE(std::string(out[1].error().what()).find("raising_colour3.pt"), std::string::npos) << out[1].error().what();
  ASSERT_TRUE(out[2].ok()) << out[2].error().what();
  EXPECT_EQ(out[2].value().categories[0].label, "blue");
  try {
    c->Classify(white);
    FAIL() << "expected the model's error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kBackend);
  }
}

TEST(ImageClassifierTest, ClassifyFilesReportsEachFile) {
  auto o = Options();
  o.max_batch_size = 2;
  auto c = ImageClassifier::Create(o);
  const std::vector<std::string> files = {TestData("images/green.png"), TestData("images/nope.png"),
                                          TestData("images/truncated.jpg"), TestData("images/red.png")};
  auto out = c->ClassifyFiles(files);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].value().categories[0].label, "green");
  EXPECT_EQ(out[1].error().code(), ErrorCode::kFile);
  EXPECT_EQ(std::string(out[1].error().what()).rfind(files[1], 0), 0u) << out[1].error().what();
  EXPECT_EQ(out[2].error().code(), ErrorCode::kInput);
  EXPECT_EQ(out[3].value().categories[0].label, "red");
  // The streaming form: the same outcomes, in order, with the decoded images.
  std::vector<size_t> order;
  c->ClassifyFiles(files, {}, [&](size_t i, const cv::Mat& image, Outcome<Classifications> r) {
    order.push_back(i);
    EXPECT_EQ(r.ok(), out[i].ok());
    EXPECT_EQ(image.empty(), !r.ok());
  });
  EXPECT_EQ(order, (std::vector<size_t>{0, 1, 2, 3}));
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
  eo.method = ParseExplainMethod(method);
  SaliencyMap s = c->Explain(img, 0, eo);
  EXPECT_STREQ(ExplainMethodName(s.method), method.c_str());
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
  eo.method = ExplainMethod::kGradCam;
  EXPECT_THROW(c->Explain(DecodeImage(TestData("images/red.png")), -1, eo), Error);
  eo.method = ExplainMethod::kAuto;  // falls back to occlusion
  EXPECT_EQ(c->Explain(DecodeImage(TestData("images/red.png")), -1, eo).method, ExplainMethod::kOcclusion);
}

TEST(ImageClassifierExplainTest, MethodNamesParseOrSayWhatIsValid) {
  EXPECT_EQ(ParseExplainMethod("gradcam"), ExplainMethod::kGradCam);
  EXPECT_EQ(ParseExplainMethod("occlusion"), ExplainMethod::kOcclusion);
  EXPECT_EQ(ParseExplainMethod("auto"), ExplainMethod::kAuto);
  try {
    ParseExplainMethod("foo");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kOption);
    EXPECT_NE(std::string(e.what()).find("auto, gradcam or occlusion, found \"foo\""), std::string::npos) << e.what();
  }
}

// The model raising inside Grad-CAM's features method: a sense::Error naming
// the model, never the interpreter's own exception; classifying still works.
TEST(ImageClassifierExplainTest, ModelRaisingInExplanationIsATypedError) {
  auto c = ImageClassifier::Create(Options(TestModel("raising_colour3.pt")));
  const cv::Mat black(40, 40, CV_8UC3, cv::Scalar(0, 0, 0));
  EXPECT_EQ(c->Classify(black).categories.size(), 3u);
  try {
    c->Explain(black);
    FAIL() << "expected the features method's assertion";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kBackend);
    EXPECT_NE(std::string(e.what()).find("image too dark"), std::string::npos) << e.what();
  } catch (const std::exception& e) {
    FAIL() << "foreign exception escaped: " << e.what();
  }
}

// ---- out-of-domain detection (issue 16) --------------------------------------
TEST(ImageClassifierOodTest, DefaultModelFlagsPhotosNotItsSamples) {
  const std::string path = sense::testing::SourcePath("models/fashion-mnist.pt");
  auto c = ImageClassifier::Create(Options(path));
  ASSERT_TRUE(c->metadata().ood.has_value());
  const std::string samples = sense::testing::SourcePath("models/samples/fashion-mnist/");
  std::vector<std::string> files = {TestData("images/messi5.jpg"), samples + "000_ankle-boot.png",
                                    TestData("images/butterfly.jpg"), samples + "018_bag.png"};
  const auto results = c->ClassifyFiles(files);
  ASSERT_EQ(results.size(), 4u);
  for (size_t i = 0; i < results.size(); ++i) {
    ASSERT_TRUE(results[i].ok()) << results[i].error().what();
    ASSERT_TRUE(results[i].value().out_of_domain.has_value()) << files[i];
    const OutOfDomain& o = *results[i].value().out_of_domain;
    EXPECT_EQ(o.flag, i % 2 == 0) << files[i] << " score " << o.score;
    EXPECT_EQ(o.flag, o.score > c->metadata().ood->threshold);
  }
  // the same image alone or in a batch: the same score (one forward pass gives logits and features)
  const Classifications one = c->Classify(DecodeImage(files[1]));
  EXPECT_NEAR(one.out_of_domain->score, results[1].value().out_of_domain->score, 1e-4);
  // switched off: no score
  auto o = Options(path);
  o.classifier.detect_out_of_domain = false;
  EXPECT_FALSE(ImageClassifier::Create(o)->Classify(DecodeImage(files[0])).out_of_domain.has_value());
  // a bundle without a detector has none
  EXPECT_FALSE(ImageClassifier::Create(Options())->Classify(DecodeImage(TestData("images/red.png"))).out_of_domain.has_value());
}

}  // namespace
}  // namespace sense::vision
