// ObjectDetector: options, decoders on test models with known outputs, the
// inverse box mapping of each resize mode, per-image errors, and the real
// default model on ../shared photos.
#include "sense/vision/object_detector.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <opencv2/imgcodecs.hpp>

#include "sense/vision/image_io.h"
#include "test_util.h"

namespace sense::vision {
namespace {

using sense::testing::SharedData;
using sense::testing::SourcePath;

std::string DefaultModel() { return SourcePath("models/coco-detector.pt"); }

const Detection* Find(const Detections& d, const std::string& label) {
  for (const auto& x : d.detections)
    if (x.label == label) return &x;
  return nullptr;
}

TEST(DefaultDetector, DogBicycleCar) {
  SENSE_REQUIRE_SHARED("images/dog.jpg");
  ObjectDetectorOptions o;
  o.model.path = DefaultModel();
  auto det = ObjectDetector::Create(o);
  EXPECT_FLOAT_EQ(*det->options().score_threshold, 0.35f);
  const cv::Mat img = DecodeImage(SharedData("images/dog.jpg"));
  const Detections d = det->Detect(img);
  ASSERT_EQ(d.image_width, img.cols);
  ASSERT_EQ(d.image_height, img.rows);
  for (size_t i = 1; i < d.detections.size(); ++i) EXPECT_GE(d.detections[i - 1].score, d.detections[i].score);
  const Detection* dog = Find(d, "dog");
  const Detection* bike = Find(d, "bicycle");
  const Detection* car = Find(d, "car");
  ASSERT_TRUE(dog && bike && car);
  // dog.jpg (768 x 576): the dog bottom left, the bicycle across the middle, the car top right
  EXPECT_LT(dog->box.x1, 200); EXPECT_GT(dog->box.y1, 180); EXPECT_LT(dog->box.x2, 340); EXPECT_GT(dog->box.y2, 480);
  EXPECT_LT(bike->box.x1, 160); EXPECT_LT(bike->box.y1, 160); EXPECT_GT(bike->box.x2, 520); EXPECT_GT(bike->box.y2, 380);
  EXPECT_GT(car->box.x1, 420); EXPECT_LT(car->box.y1, 110); EXPECT_GT(car->box.x2, 640); EXPECT_LT(car->box.y2, 200);
  for (const auto& x : d.detections) {
    EXPECT_GE(x.box.x1, 0); EXPECT_GE(x.box.y1, 0);
    EXPECT_LE(x.box.x2, img.cols); EXPECT_LE(x.box.y2, img.rows);
    EXPECT_LE(x.box.x1, x.box.x2); EXPECT_LE(x.box.y1, x.box.y2);
  }
}


// ---- test detectors (scripts/make_test_models.py, BrightBox) ----
// A 128 x 64 black image with a coloured rectangle (32, 16)-(96, 48). Every
// BrightBox model (64 x 48 letterbox unless said) finds, in network pixels,
// B = (16, 16, 48, 32) and answers r0 = B with the colour 0.9, r1 = B + 2 px
// with the colour 0.8 and the next colour 0.4, r2 = (30, 20, 33, 23) blue
// 0.7; mapped back: B -> (32, 16, 96, 48), B + 2 -> (36, 16, 100, 48),
// r2 -> (60, 24, 66, 30).
using sense::testing::TestModel;

cv::Mat Picture(cv::Scalar bgr, int w = 128, int h = 64) {
  cv::Mat m(h, w, CV_8UC3, cv::Scalar(0, 0, 0));
  m(cv::Rect(32, 16, 64, 32)).setTo(bgr);
  return m;
}
const cv::Scalar kRed(0, 0, 255), kGreen(0, 255, 0), kBlue(255, 0, 0);

std::unique_ptr<ObjectDetector> Make(const std::string& model, DetectorOptions d = {}, int batch = 8) {
  ObjectDetectorOptions o;
  o.model.path = TestModel(model);
  o.model.num_threads = 1;
  o.detector = std::move(d);
  o.max_batch_size = batch;
  return ObjectDetector::Create(o);
}

struct Want {
  std::string label;
  float score;
  Box box;
};

void ExpectDetections(const Detections& got, const std::vector<Want>& want, float tol = 1e-3f, const std::string& what = "") {
  ASSERT_EQ(got.detections.size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i) {
    const Detection& d = got.detections[i];
    EXPECT_EQ(d.label, want[i].label) << what << " #" << i;
    EXPECT_NEAR(d.score, want[i].score, 1e-5) << what << " #" << i;
    EXPECT_NEAR(d.box.x1, want[i].box.x1, tol) << what << " #" << i;
    EXPECT_NEAR(d.box.y1, want[i].box.y1, tol) << what << " #" << i;
    EXPECT_NEAR(d.box.x2, want[i].box.x2, tol) << what << " #" << i;
    EXPECT_NEAR(d.box.y2, want[i].box.y2, tol) << what << " #" << i;
  }
}

const Want kR0{"red", 0.9f, {32, 16, 96, 48}};
const Want kR1{"red", 0.8f, {36, 16, 100, 48}};
const Want kG1{"green", 0.4f, {36, 16, 100, 48}};
const Want kB2{"blue", 0.7f, {60, 24, 66, 30}};

TEST(ObjectDetector, EveryLayoutDecodesTheSameRows) {
  // yolov5 (pixels, objectness), Darknet through OpenCV (two outputs,
  // normalized, scores times objectness), yolov8 (channels first), SSD-style
  // (normalized, background column): the same rows, so the same answer.
  for (const char* model : {"det_yolov5.pt", "det_darknet.pt", "det_yolov8.pt", "det_ssd.pt"}) {
    auto det = Make(model);
    ExpectDetections(det->Detect(Picture(kRed)), {kR0, kB2}, 1e-3f, model);
  }
  // boxes_scores_labels: the rows as split per class (r1 twice), label_offset 1, a count, NMS by sense
  auto bsl = Make("det_bsl.pt");
  ExpectDetections(bsl->Detect(Picture(kRed)), {kR0, kB2, kG1}, 1e-3f, "det_bsl");
  // green: r1's second class is blue, which green r0 does not suppress
  ExpectDetections(bsl->Detect(Picture(kGreen)), {{"green", 0.9f, kR0.box}, kB2, {"blue", 0.4f, kR1.box}}, 1e-3f,
                   "det_bsl green");
}

TEST(ObjectDetector, KeypointsMapBackWithTheBoxes) {
  auto det = Make("det_ssd.pt");  // landmarks: each box's two corners
  const Detections d = det->Detect(Picture(kRed));
  ASSERT_EQ(d.detections.size(), 2u);
  for (const auto& x : d.detections) {
    ASSERT_EQ(x.keypoints.size(), 2u);
    EXPECT_NEAR(x.keypoints[0].x, x.box.x1, 1e-3);
    EXPECT_NEAR(x.keypoints[0].y, x.box.y1, 1e-3);
    EXPECT_NEAR(x.keypoints[1].x, x.box.x2, 1e-3);
    EXPECT_NEAR(x.keypoints[1].y, x.box.y2, 1e-3);
  }
  EXPECT_TRUE(Make("det_yolov5.pt")->Detect(Picture(kRed)).detections[0].keypoints.empty());
}

TEST(ObjectDetector, InverseMappingOfEachResizeMode) {
  // letterbox (64 x 32 at y 8), its NanoDet warp (scale 0.5, offset (0, 8)),
  // pad_to_square (128 x 128 -> 64 x 64): the rectangle's edges fall on
  // whole network pixels, so the boxes come back exactly.
  ExpectDetections(Make("det_yolov5.pt")->Detect(Picture(kRed)), {kR0, kB2}, 1e-3f, "letterbox");
  ExpectDetections(Make("det_yolov5_warp.pt")->Detect(Picture(kRed)), {kR0, kB2}, 1e-3f, "letterbox warp");
  // pad_to_square: B = (16, 8, 48, 24), r2 (30, 20, 33, 23) -> (60, 40, 66, 46)
  ExpectDetections(Make("det_yolov5_square.pt")->Detect(Picture(kRed)), {kR0, {"blue", 0.7f, {60, 40, 66, 46}}}, 1e-3f,
                   "pad_to_square");
  // stretch (x 0.5, y 0.75): rows 12 ... 36 of the network input; edges
  // within one network pixel (4/3 source pixels) after bilinear resizing;
  // r2 -> (60, 26.67, 66, 30.67) exactly.
  const Detections s = Make("det_yolov5_stretch.pt")->Detect(Picture(kRed));
  ASSERT_EQ(s.detections.size(), 2u);
  ExpectDetections(s, {kR0, {"blue", 0.7f, {60, 20 / 0.75f, 66, 23 / 0.75f}}}, 1.34f, "stretch");
  EXPECT_NEAR(s.detections[1].box.y1, 20 / 0.75f, 1e-3);
  // the same source at another size and aspect: letterbox pads x now
  cv::Mat tall(128, 64, CV_8UC3, cv::Scalar(0, 0, 0));
  tall(cv::Rect(8, 32, 32, 64)).setTo(kBlue);  // r = 0.375: 24 x 48 at x 20
  const Detections t = Make("det_yolov5.pt")->Detect(tall);
  ASSERT_FALSE(t.detections.empty());
  EXPECT_EQ(t.detections[0].label, "blue");
  EXPECT_NEAR(t.detections[0].box.x1, 8, 1.0 / 0.375);
  EXPECT_NEAR(t.detections[0].box.y1, 32, 1.0 / 0.375);
  EXPECT_NEAR(t.detections[0].box.x2, 40, 1.0 / 0.375);
  EXPECT_NEAR(t.detections[0].box.y2, 96, 1.0 / 0.375);
}

TEST(ObjectDetector, ThresholdsLabelsNmsAndCaps) {
  const cv::Mat red = Picture(kRed);
  DetectorOptions o;
  o.score_threshold = 0.75f;
  ExpectDetections(Make("det_yolov5.pt", o)->Detect(red), {kR0}, 1e-3f, "threshold 0.75");
  o = {};
  o.multi_label = true;  // r1's green 0.4 is a candidate of its own; class-aware NMS keeps it
  ExpectDetections(Make("det_yolov5.pt", o)->Detect(red), {kR0, kB2, kG1}, 1e-3f, "multi-label");
  o.class_agnostic_nms = true;  // now red r0 suppresses it (IoU 0.88); blue r2 overlaps r0 by 9/2048
  ExpectDetections(Make("det_yolov5.pt", o)->Detect(red), {kR0, kB2}, 1e-3f, "class-agnostic");
  o = {};
  o.iou_threshold = 0.9f;  // IoU(r0, r1) = 1920 / 2176 = 0.88 < 0.9: r1 stays
  ExpectDetections(Make("det_yolov5.pt", o)->Detect(red), {kR0, kR1, kB2}, 1e-3f, "iou 0.9");
  o = {};
  o.deny_labels = {"red"};  // single-label: r0 and r1 are red, dropped; r2 stays
  ExpectDetections(Make("det_yolov5.pt", o)->Detect(red), {kB2}, 1e-3f, "deny red");
  o = {};
  o.allow_labels = {"green"};
  o.multi_label = true;  // only green candidates: nothing red to suppress it
  ExpectDetections(Make("det_yolov5.pt", o)->Detect(red), {kG1}, 1e-3f, "allow green");
  o = {};
  o.min_box_size = 10;  // r2 is 6 x 6 source pixels
  ExpectDetections(Make("det_yolov5.pt", o)->Detect(red), {kR0}, 1e-3f, "min_box_size");
  o = {};
  o.max_detections = 1;
  ExpectDetections(Make("det_yolov5.pt", o)->Detect(red), {kR0}, 1e-3f, "max_detections");
  // defaults come from the bundle
  auto det = Make("det_yolov5.pt");
  EXPECT_FLOAT_EQ(*det->options().score_threshold, 0.25f);
  EXPECT_FLOAT_EQ(*det->options().iou_threshold, 0.45f);
  EXPECT_EQ(*det->options().max_detections, 10);
  EXPECT_FALSE(*det->options().multi_label);
  EXPECT_FALSE(*det->options().class_agnostic_nms);
  // nothing bright: nothing found
  EXPECT_TRUE(det->Detect(cv::Mat(64, 128, CV_8UC3, cv::Scalar(0, 0, 0))).detections.empty());
}

void ExpectOptionError(DetectorOptions d, const std::string& fragment, int batch = 8) {
  try {
    Make("det_yolov5.pt", std::move(d), batch);
    ADD_FAILURE() << "no error for " << fragment;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kOption) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(ObjectDetector, CreateChecksOptions) {
  DetectorOptions d;
  d.score_threshold = 1.5f;
  ExpectOptionError(d, "score_threshold must be in [0, 1], found 1.5");
  d = {};
  d.iou_threshold = -0.1f;
  ExpectOptionError(d, "iou_threshold");
  d = {};
  d.max_detections = 0;
  ExpectOptionError(d, "max_detections must be >= 1, found 0");
  d = {};
  d.min_box_size = -1;
  ExpectOptionError(d, "min_box_size");
  d = {};
  d.allow_labels = {"red"};
  d.deny_labels = {"blue"};
  ExpectOptionError(d, "exclusive");
  d = {};
  d.deny_labels = {"purple"};
  ExpectOptionError(d, "deny_labels: \"purple\" is not one of the model's labels (red, green, blue)");
  ExpectOptionError({}, "max_batch_size", 0);
  ObjectDetectorOptions o;
  o.model.path = TestModel("colour3.pt");
  try {
    ObjectDetector::Create(o);
    ADD_FAILURE() << "a classifier made a detector";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kMetadata);
    EXPECT_NE(std::string(e.what()).find("needs an object_detection bundle"), std::string::npos) << e.what();
  }
}

TEST(ObjectDetector, OneFailingImageKeepsTheOthers) {
  const cv::Mat white(64, 128, CV_8UC3, cv::Scalar(255, 255, 255)), black(64, 128, CV_8UC3, cv::Scalar(0, 0, 0));
  const std::vector<cv::Mat> images = {Picture(kRed), white, black, Picture(kGreen), cv::Mat()};
  auto det = Make("det_raises.pt", {}, 4);
  const auto out = det->DetectBatch(images);
  ASSERT_EQ(out.size(), images.size());
  ASSERT_TRUE(out[0].ok());
  ExpectDetections(out[0].value(), {kR0, kB2}, 1e-3f, "red");
  ASSERT_FALSE(out[1].ok());
  EXPECT_EQ(out[1].error().code(), ErrorCode::kBackend);
  EXPECT_NE(std::string(out[1].error().what()).find("almost all white"), std::string::npos) << out[1].error().what();
  ASSERT_TRUE(out[2].ok());
  EXPECT_TRUE(out[2].value().detections.empty());
  ASSERT_TRUE(out[3].ok());
  ExpectDetections(out[3].value(), {{"green", 0.9f, kR0.box}, kB2}, 1e-3f, "green");
  ASSERT_FALSE(out[4].ok());
  EXPECT_EQ(out[4].error().code(), ErrorCode::kInput);
  // a batch answers as single images do
  auto plain = Make("det_yolov5.pt", {}, 3);
  const auto batch = plain->DetectBatch({Picture(kRed), Picture(kBlue), black, Picture(kGreen)});
  for (const auto& [i, img] : std::vector<std::pair<int, cv::Mat>>{{0, Picture(kRed)}, {1, Picture(kBlue)}, {3, Picture(kGreen)}}) {
    const Detections one = plain->Detect(img);
    ASSERT_TRUE(batch[static_cast<size_t>(i)].ok());
    ASSERT_EQ(batch[static_cast<size_t>(i)].value().detections.size(), one.detections.size());
    for (size_t k = 0; k < one.detections.size(); ++k) EXPECT_EQ(batch[static_cast<size_t>(i)].value().detections[k].box.x1, one.detections[k].box.x1);
  }
}

TEST(ObjectDetector, FilesAndStreaming) {
  const std::string dir = ::testing::TempDir() + "/sense_detect_files";
  std::filesystem::create_directories(dir);
  cv::imwrite(dir + "/red.png", Picture(kRed));
  const std::vector<std::string> paths = {dir + "/red.png", dir + "/missing.png"};
  auto det = Make("det_yolov5.pt");
  const auto out = det->DetectFiles(paths);
  ASSERT_TRUE(out[0].ok());
  ExpectDetections(out[0].value(), {kR0, kB2}, 1e-3f, "file");
  EXPECT_EQ(out[0].value().image_width, 128);
  ASSERT_FALSE(out[1].ok());
  EXPECT_NE(std::string(out[1].error().what()).find("missing.png"), std::string::npos);
  std::vector<size_t> order;
  det->DetectFiles(paths, {}, [&](size_t i, const cv::Mat& image, Outcome<Detections> o) {
    order.push_back(i);
    EXPECT_EQ(o.ok(), i == 0);
    EXPECT_EQ(image.empty(), i != 0);
  });
  EXPECT_EQ(order, (std::vector<size_t>{0, 1}));
}

TEST(ObjectDetector, TorchvisionListOfDicts) {
  // forward(List[Tensor]) -> (losses, [per-image dicts]): the backend gives
  // boxes/labels/scores [N, K, ...] plus num_detections; nms_applied, so all
  // three rows stay; an image without a bright region has none.
  auto det = Make("det_torchvision.pt", {}, 4);
  EXPECT_EQ(det->model().metadata().detection->layout, "torchvision");
  const auto out = det->DetectBatch({Picture(kRed), cv::Mat(64, 128, CV_8UC3, cv::Scalar(0, 0, 0)), Picture(kBlue)});
  ASSERT_TRUE(out[0].ok() && out[1].ok() && out[2].ok());
  ExpectDetections(out[0].value(), {kR0, kR1, {"blue", 0.7f, {60, 20 / 0.75f, 66, 23 / 0.75f}}}, 1.34f, "torchvision red");
  EXPECT_TRUE(out[1].value().detections.empty());
  ASSERT_EQ(out[2].value().detections.size(), 3u);
  EXPECT_EQ(out[2].value().detections[0].label, "blue");
}

TEST(ObjectDetector, GflDecoding) {
  // det_gfl: constant outputs on a 16 x 16 stretch input; a 32 x 32 image doubles every box.
  auto det = Make("det_gfl.pt");
  const Detections d = det->Detect(cv::Mat(32, 32, CV_8UC3, cv::Scalar(10, 20, 30)));
  // anchor 3: (4, 4, 12, 28) clipped to the input (.., 16) -> x2; anchor 4: (-16, -16, 32, 32) -> the whole input
  ExpectDetections(d, {{"green", 0.8f, {8, 8, 24, 32}}, {"red", 0.6f, {0, 0, 32, 32}}, {"blue", 0.3f, {0, 0, 32, 32}}}, 1e-3f, "gfl");
  DetectorOptions o;
  o.multi_label = false;
  ExpectDetections(Make("det_gfl.pt", o)->Detect(cv::Mat(32, 32, CV_8UC3, cv::Scalar(0, 0, 0))),
                   {{"green", 0.8f, {8, 8, 24, 32}}, {"red", 0.6f, {0, 0, 32, 32}}}, 1e-3f, "gfl single-label");
}

TEST(ThirdParty, UltraFaceIsBoxesScoresWithASidecar) {
  // ../shared/models/ultraface (ONNX, OpenCV DNN): scores [1, 4420, 2]
  // background + face, boxes [1, 4420, 4] normalized xyxy; only a sidecar.
  SENSE_REQUIRE_SHARED("../models/ultraface/version-RFB-320.onnx");
  SENSE_REQUIRE_SHARED("images/two_people.jpg");
  const std::string sidecar = ::testing::TempDir() + "/ultraface.json";
  std::ofstream(sidecar) << R"({"schema_version": 1, "task": "object_detection", "name": "ultraface", "labels": ["face"],
    "inputs": [{"name": "input", "dtype": "float32", "shape": [1, 3, 240, 320]}],
    "outputs": [{"name": "scores", "shape": [1, 4420, 2]}, {"name": "boxes", "shape": [1, 4420, 4]}],
    "image": {"width": 320, "height": 240, "color": "rgb", "resize": "stretch", "antialias": false,
              "scale": 1, "mean": [127, 127, 127], "std": [128, 128, 128]},
    "detection": {"layout": "boxes_scores", "normalized": true, "background_class": true,
                  "score_threshold": 0.7, "iou_threshold": 0.3}})";
  ObjectDetectorOptions o;
  o.model.path = SharedData("../models/ultraface/version-RFB-320.onnx");
  o.model.metadata_path = sidecar;
  o.max_batch_size = 1;
  auto det = ObjectDetector::Create(o);
  const cv::Mat img = DecodeImage(SharedData("images/two_people.jpg"));
  const Detections d = det->Detect(img);
  ASSERT_EQ(d.detections.size(), 2u);
  // one face in each half of the picture, in its upper half
  const float left = std::min(d.detections[0].box.x1, d.detections[1].box.x1);
  const float right = std::max(d.detections[0].box.x1, d.detections[1].box.x1);
  EXPECT_LT(left, img.cols / 2.0f);
  EXPECT_GT(right, img.cols / 2.0f);
  for (const auto& f : d.detections) {
    EXPECT_EQ(f.label, "face");
    EXPECT_GT(f.score, 0.9f);
    EXPECT_LT(f.box.y2, img.rows / 2.0f);
    EXPECT_GT(f.box.width(), 50);
  }
}

}  // namespace
}  // namespace sense::vision
