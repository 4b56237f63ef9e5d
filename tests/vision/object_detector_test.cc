// ObjectDetector: options, decoders on test models with known outputs, the
// inverse box mapping of each resize mode, per-image errors, and the real
// default model on ../shared photos.
#include "sense/vision/object_detector.h"

#include <gtest/gtest.h>

#include <filesystem>

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

}  // namespace
}  // namespace sense::vision
