// Users' own detectors, tested on real ones: the four third-party models in
// ../shared/models (Yolo-Fastest Darknet, FastestDet, YuNet and UltraFace
// ONNX), each run through ObjectDetector with only its sidecar
// (models/third-party/*.json), boxes checked on the shared photos; the
// Debian cascades (models/cascades/*.json) and the BlazeFace bundle
// (models/faces-blazeface.pt, models/faces.json) the same way. Tests that
// need ../shared skip with a message when it is absent; cascade tests skip
// when Debian's opencv-data is not installed.
#include "sense/vision/object_detector.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <set>

#include "sense/inference/error.h"
#include "sense/vision/image_io.h"
#include "test_util.h"

namespace sense::vision {
namespace {

namespace fs = std::filesystem;
using sense::testing::SharedData;
using sense::testing::SourcePath;

std::string SharedModels(const std::string& rel) { return SharedData("../models/" + rel); }

#define REQUIRE_SHARED_MODEL(rel)                                                                          \
  do {                                                                                                     \
    if (!fs::exists(SharedModels(rel)))                                                                    \
      GTEST_SKIP() << "needs ../shared/models/" << (rel) << " (not present: " << SharedModels(rel) << ")"; \
  } while (0)

#define REQUIRE_OPENCV_DATA(xml)                                                                           \
  do {                                                                                                     \
    if (!fs::exists(xml)) GTEST_SKIP() << "needs Debian's opencv-data (" << (xml) << " is not installed)"; \
  } while (0)

std::unique_ptr<ObjectDetector> Load(const std::string& sidecar, std::optional<float> threshold = std::nullopt) {
  ObjectDetectorOptions o;
  o.model.path = SourcePath(sidecar);
  o.model.num_threads = 1;
  o.detector.score_threshold = threshold;
  return ObjectDetector::Create(o);
}

Detections DetectShared(const ObjectDetector& d, const std::string& image) { return d.Detect(DecodeImage(SharedData("images/" + image))); }

const Detection* Find(const Detections& d, const std::set<std::string>& labels) {
  for (const auto& x : d.detections)
    if (labels.count(x.label)) return &x;
  return nullptr;
}

cv::Point2f Centre(const Box& b) { return {(b.x1 + b.x2) / 2, (b.y1 + b.y2) / 2}; }
bool Inside(cv::Point2f p, const Box& b) { return p.x >= b.x1 && p.x <= b.x2 && p.y >= b.y1 && p.y <= b.y2; }

// two_people.jpg (1126 x 661): Obama's face around (315, 130), Biden's around (865, 150).
void ExpectTwoPeopleFaces(const Detections& d, size_t keypoints) {
  ASSERT_EQ(d.detections.size(), 2u);
  std::vector<Box> faces = {d.detections[0].box, d.detections[1].box};
  std::sort(faces.begin(), faces.end(), [](const Box& a, const Box& b) { return a.x1 < b.x1; });
  EXPECT_TRUE(Inside({315, 130}, faces[0])) << faces[0].x1 << "," << faces[0].y1 << "," << faces[0].x2 << "," << faces[0].y2;
  EXPECT_TRUE(Inside({865, 150}, faces[1])) << faces[1].x1 << "," << faces[1].y1 << "," << faces[1].x2 << "," << faces[1].y2;
  for (const auto& f : faces) {
    EXPECT_GT(f.width(), 100);   // a face, not a feature of one
    EXPECT_LT(f.width(), 260);
  }
  for (const auto& x : d.detections) {
    EXPECT_EQ(x.label, "face");
    ASSERT_EQ(x.keypoints.size(), keypoints);
    for (const auto& k : x.keypoints) {  // landmarks near their face (ears may sit at its edge)
      EXPECT_GT(k.x, x.box.x1 - 0.25f * x.box.width());
      EXPECT_LT(k.x, x.box.x2 + 0.25f * x.box.width());
      EXPECT_GT(k.y, x.box.y1 - 0.25f * x.box.height());
      EXPECT_LT(k.y, x.box.y2 + 0.25f * x.box.height());
    }
  }
}

size_t Count(const ObjectDetector& d, const std::string& image) { return DetectShared(d, image).detections.size(); }

// ---- Yolo-Fastest 1.1 xl (Darknet .cfg + .weights) ----

TEST(YoloFastest, DogBicycleCarFromTheSidecarAlone) {
  REQUIRE_SHARED_MODEL("yolo-fastest-1.1-xl/yolo-fastest-1.1-xl.weights");
  SENSE_REQUIRE_SHARED("images/dog.jpg");
  auto det = Load("models/third-party/yolo-fastest-1.1-xl.json");
  EXPECT_EQ(det->model().backend(), "darknet-opencv");
  const Detections d = DetectShared(*det, "dog.jpg");  // 768 x 576
  const Detection* dog = Find(d, {"dog"});
  const Detection* bike = Find(d, {"bicycle"});
  const Detection* car = Find(d, {"car", "truck"});
  ASSERT_TRUE(dog && bike && car);
  EXPECT_TRUE(Inside({230, 400}, dog->box));
  EXPECT_TRUE(Inside({330, 300}, bike->box));
  EXPECT_TRUE(Inside({580, 120}, car->box));
  EXPECT_GT(car->box.x1, 400);
  const Detections p = DetectShared(*det, "person.jpg");  // a person, a dog and a horse
  const Detection* person = Find(p, {"person"});
  ASSERT_TRUE(person);
  EXPECT_TRUE(Inside({230, 230}, person->box));
  ASSERT_TRUE(Find(p, {"dog"}));
  EXPECT_TRUE(Inside({130, 300}, Find(p, {"dog"})->box));
}

TEST(YoloFastest, ClassScoresBelowDarknetsHidden02ThresholdSurvive) {
  // OpenCV 4.6 zeroes class scores below 0.2 unless the [yolo] sections set
  // thresh; the loader sets it to 0, so a low threshold sees the low scores
  // that COCO AP needs.
  REQUIRE_SHARED_MODEL("yolo-fastest-1.1-xl/yolo-fastest-1.1-xl.weights");
  SENSE_REQUIRE_SHARED("images/dog.jpg");
  auto det = Load("models/third-party/yolo-fastest-1.1-xl.json", 0.01f);
  const Detections d = DetectShared(*det, "dog.jpg");
  size_t low = 0;
  for (const auto& x : d.detections) low += x.score > 0.0f && x.score < 0.2f;
  EXPECT_GT(low, 5u) << "no class score in (0, 0.2): the [yolo] threshold was not overridden";
}

TEST(YoloFastest, WeightsPathWithSidecarBesideIt) {
  // The .weights given as the model, the sidecar as metadata_path: the .cfg
  // comes from the sidecar's 'files' (relative to the sidecar).
  REQUIRE_SHARED_MODEL("yolo-fastest-1.1-xl/yolo-fastest-1.1-xl.weights");
  SENSE_REQUIRE_SHARED("images/dog.jpg");
  ObjectDetectorOptions o;
  o.model.path = SharedModels("yolo-fastest-1.1-xl/yolo-fastest-1.1-xl.weights");
  o.model.metadata_path = SourcePath("models/third-party/yolo-fastest-1.1-xl.json");
  o.model.num_threads = 1;
  auto det = ObjectDetector::Create(o);
  EXPECT_TRUE(Find(DetectShared(*det, "dog.jpg"), {"dog"}));
}

// ---- FastestDet (ONNX, one grid output) ----

TEST(FastestDet, DogBicycleCar) {
  REQUIRE_SHARED_MODEL("fastestdet/FastestDet.onnx");
  SENSE_REQUIRE_SHARED("images/dog.jpg");
  auto det = Load("models/third-party/fastestdet.json");
  EXPECT_EQ(det->metadata().detection->layout, "fastestdet");
  const Detections d = DetectShared(*det, "dog.jpg");
  const Detection* dog = Find(d, {"dog"});
  const Detection* bike = Find(d, {"bicycle"});
  const Detection* car = Find(d, {"car", "truck"});
  ASSERT_TRUE(dog && bike && car);
  EXPECT_TRUE(Inside({230, 400}, dog->box));
  EXPECT_TRUE(Inside({330, 300}, bike->box));
  EXPECT_TRUE(Inside({580, 120}, car->box));
  for (size_t i = 1; i < d.detections.size(); ++i) EXPECT_GE(d.detections[i - 1].score, d.detections[i].score);
}

TEST(FastestDet, ABatchEqualsSingleImages) {
  // The graph fixes batch 1: the backend runs a batch row by row.
  REQUIRE_SHARED_MODEL("fastestdet/FastestDet.onnx");
  SENSE_REQUIRE_SHARED("images/dog.jpg");
  auto det = Load("models/third-party/fastestdet.json");
  const std::vector<cv::Mat> images = {DecodeImage(SharedData("images/dog.jpg")), DecodeImage(SharedData("images/person.jpg"))};
  const auto batch = det->DetectBatch(images);
  ASSERT_EQ(batch.size(), 2u);
  for (size_t i = 0; i < images.size(); ++i) {
    ASSERT_TRUE(batch[i].ok()) << batch[i].error().what();
    const Detections one = det->Detect(images[i]);
    ASSERT_EQ(one.detections.size(), batch[i].value().detections.size());
    for (size_t j = 0; j < one.detections.size(); ++j) {
      EXPECT_EQ(one.detections[j].label, batch[i].value().detections[j].label);
      EXPECT_NEAR(one.detections[j].score, batch[i].value().detections[j].score, 1e-5);
    }
  }
}

// ---- YuNet (ONNX, twelve outputs, 5 landmarks) ----

TEST(YuNet, TwoFacesWithFiveLandmarks) {
  REQUIRE_SHARED_MODEL("yunet/yunet_n_320_320.onnx");
  SENSE_REQUIRE_SHARED("images/two_people.jpg");
  auto det = Load("models/third-party/yunet.json");
  EXPECT_EQ(det->metadata().outputs.size(), 12u);
  ExpectTwoPeopleFaces(DetectShared(*det, "two_people.jpg"), 5);
  EXPECT_EQ(Count(*det, "obama.jpg"), 1u);
  EXPECT_EQ(Count(*det, "messi5.jpg"), 1u);
  EXPECT_EQ(Count(*det, "baboon.jpg"), 0u);
  EXPECT_EQ(Count(*det, "starry_night.jpg"), 0u);
}

TEST(YuNet, EyesAboveMouth) {
  REQUIRE_SHARED_MODEL("yunet/yunet_n_320_320.onnx");
  SENSE_REQUIRE_SHARED("images/obama.jpg");
  auto det = Load("models/third-party/yunet.json");
  const Detections d = DetectShared(*det, "obama.jpg");
  ASSERT_EQ(d.detections.size(), 1u);
  const auto& k = d.detections[0].keypoints;  // right eye, left eye, nose, right and left mouth corners
  ASSERT_EQ(k.size(), 5u);
  EXPECT_LT(k[0].x, k[1].x);  // the subject's right eye is on the image's left
  EXPECT_LT(k[0].y, k[2].y);
  EXPECT_LT(k[2].y, k[3].y);
  EXPECT_LT(k[3].x, k[4].x);
}

// ---- UltraFace (ONNX, SSD-style decoded boxes + softmaxed scores) ----

TEST(UltraFace, TwoFaces) {
  REQUIRE_SHARED_MODEL("ultraface/version-RFB-320.onnx");
  SENSE_REQUIRE_SHARED("images/two_people.jpg");
  auto det = Load("models/third-party/ultraface.json");
  ExpectTwoPeopleFaces(DetectShared(*det, "two_people.jpg"), 0);
  EXPECT_EQ(Count(*det, "obama.jpg"), 1u);
  EXPECT_EQ(Count(*det, "messi5.jpg"), 1u);
  EXPECT_EQ(Count(*det, "fruits.jpg"), 0u);
}

// ---- BlazeFace (models/faces-blazeface.pt) and the recommended faces.json ----

TEST(BlazeFace, TwoFacesWithSixLandmarks) {
  SENSE_REQUIRE_SHARED("images/two_people.jpg");
  auto det = Load("models/faces-blazeface.pt");
  EXPECT_EQ(det->metadata().detection->layout, "blazeface");
  ExpectTwoPeopleFaces(DetectShared(*det, "two_people.jpg"), 6);
  EXPECT_EQ(Count(*det, "obama.jpg"), 1u);
  EXPECT_EQ(Count(*det, "messi5.jpg"), 1u);
  EXPECT_EQ(Count(*det, "baboon.jpg"), 0u);
}

TEST(FacesJson, IsTheBlazeFaceBundleWithTheSameMetadata) {
  SENSE_REQUIRE_SHARED("images/two_people.jpg");
  auto det = Load("models/faces.json");
  ExpectTwoPeopleFaces(DetectShared(*det, "two_people.jpg"), 6);
  // the sidecar repeats the bundle's embedded metadata (make_face_detector.py writes both)
  nlohmann::json side = nlohmann::json::parse(det->metadata().json);
  side.erase("files");
  nlohmann::json embedded = nlohmann::json::parse(Load("models/faces-blazeface.pt")->metadata().json);
  EXPECT_EQ(side, embedded);
}

// ---- OpenCV cascades (Debian opencv-data) ----

TEST(Cascade, FrontalFacesOnTwoPeople) {
  REQUIRE_OPENCV_DATA("/usr/share/opencv4/haarcascades/haarcascade_frontalface_alt2.xml");
  SENSE_REQUIRE_SHARED("images/two_people.jpg");
  auto det = Load("models/cascades/frontal-face-alt2.json");
  EXPECT_EQ(det->model().backend(), "cascade-opencv");
  ExpectTwoPeopleFaces(DetectShared(*det, "two_people.jpg"), 0);
  for (const auto& x : DetectShared(*det, "two_people.jpg").detections) {
    EXPECT_GT(x.score, 0.5f);  // about 15-25 raw hits each: n / (n + 10)
    EXPECT_LT(x.score, 1.0f);
  }
}

TEST(Cascade, FaceOnTheProjectsOwnTestImage) {
  // tests/data/images/messi5.jpg (548 x 342): the face around (243, 112).
  REQUIRE_OPENCV_DATA("/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml");
  auto det = Load("models/cascades/frontal-face.json");
  const Detections d = det->Detect(DecodeImage(sense::testing::TestData("images/messi5.jpg")));
  ASSERT_FALSE(d.detections.empty());
  EXPECT_TRUE(Inside({243, 112}, d.detections[0].box));
  EXPECT_LT(d.detections[0].box.width(), 60);
}

TEST(Cascade, EveryShippedSidecarLoads) {
  for (const auto& e : fs::directory_iterator(SourcePath("models/cascades"))) {
    if (e.path().extension() != ".json") continue;
    const auto j = nlohmann::json::parse(std::ifstream(e.path()));
    const std::string xml = j["files"]["model"];
    if (!fs::exists(xml)) {
      std::cout << "skipped " << e.path() << ": " << xml << " is not installed\n";
      continue;
    }
    ObjectDetectorOptions o;
    o.model.path = e.path().string();
    EXPECT_NO_THROW(ObjectDetector::Create(o)) << e.path();
  }
}

TEST(Cascade, MissingXmlIsAFileErrorNamingTheField) {
  const fs::path dir = fs::temp_directory_path() / "sense_cascade_missing";
  fs::create_directories(dir);
  auto j = nlohmann::json::parse(std::ifstream(SourcePath("models/cascades/frontal-face.json")));
  j["files"]["model"] = "/usr/share/opencv4/haarcascades/no_such_cascade.xml";
  std::ofstream(dir / "c.json") << j.dump();
  ObjectDetectorOptions o;
  o.model.path = (dir / "c.json").string();
  try {
    ObjectDetector::Create(o);
    FAIL() << "a missing cascade loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kFile);
    EXPECT_NE(std::string(e.what()).find("files.model"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("no_such_cascade.xml"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace sense::vision
