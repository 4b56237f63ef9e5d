// detector_dump — a measuring tool, not a test: runs ObjectDetector on image
// files and writes one JSON line per image ({"file", "detections": [{"box",
// "class_index", "label", "score"}]}), for scripts/coco_eval.py (see
// models/coco-detector.md). With --input-dump FILE it writes the first
// image's preprocessed float32 tensor (raw, little-endian) and stops.
//
//   detector_dump MODEL THRESHOLD IMAGE... > dets.jsonl
#include <cstdio>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "sense/vision/image_io.h"
#include "sense/vision/object_detector.h"
#include "sense/vision/preprocess.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: detector_dump MODEL THRESHOLD|--input-dump FILE IMAGE...\n";
    return 2;
  }
  try {
    sense::vision::ObjectDetectorOptions o;
    o.model.path = argv[1];
    o.model.num_threads = 1;
    if (std::string(argv[2]) == "--input-dump") {
      auto model = sense::Model::Load(o.model);
      std::vector<sense::vision::InputTransform> t;
      sense::Tensor x = sense::vision::PreprocessBatch({sense::vision::DecodeImage(argv[4])}, *model->metadata().image, &t);
      std::ofstream(argv[3], std::ios::binary).write(static_cast<const char*>(x.raw_data()), static_cast<std::streamsize>(x.nbytes()));
      return 0;
    }
    o.detector.score_threshold = std::stof(argv[2]);
    auto det = sense::vision::ObjectDetector::Create(o);
    std::vector<std::string> files(argv + 3, argv + argc);
    auto outs = det->DetectFiles(files, {});
    for (size_t i = 0; i < files.size(); ++i) {
      nlohmann::json j{{"file", files[i]}};
      if (!outs[i].ok()) {
        j["error"] = outs[i].error().what();
      } else {
        j["detections"] = nlohmann::json::array();
        for (const auto& d : outs[i].value().detections)
          j["detections"].push_back({{"box", {d.box.x1, d.box.y1, d.box.x2, d.box.y2}}, {"class_index", d.class_index},
                                     {"label", d.label}, {"score", d.score}});
      }
      std::cout << j.dump() << "\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "detector_dump: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
