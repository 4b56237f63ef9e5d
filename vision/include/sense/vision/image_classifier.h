// sense/vision/image_classifier.h — classify images with any image
// classification bundle, and explain the answer.
//
//   sense::vision::ImageClassifierOptions options;
//   options.model.path = "models/fashion-mnist.pt";
//   auto classifier = sense::vision::ImageClassifier::Create(options);
//   sense::Classifications result = classifier->Classify(sense::vision::DecodeImage("shoe.png"));
//   for (const auto& c : result.categories) std::cout << c.label << " " << c.score << "\n";
//
// Preprocessing, labels, activation (softmax, or sigmoid for multi-label
// models) and calibration all come from the bundle's metadata.
//
// Input contract: images as DecodeImage returns them (8-bit gray, BGR or
// BGRA cv::Mat, any size up to the decoder's pixel limit). Empty or other
// images are Error(kInput).
// Ownership: the classifier owns its model; images are only read.
// Thread safety: Classify, ClassifyBatch and Explain are const and safe to
// call from several threads at once.
#ifndef SENSE_VISION_IMAGE_CLASSIFIER_H_
#define SENSE_VISION_IMAGE_CLASSIFIER_H_

#include <memory>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "sense/inference/classification.h"
#include "sense/inference/model.h"

namespace sense::vision {

struct ImageClassifierOptions {
  ModelOptions model;            // path (required), device, threads
  ClassifierOptions classifier;  // top-k, score threshold, allow/deny labels
  int max_batch_size = 16;       // ClassifyBatch runs the model on chunks of at most this many; >= 1
};

// Which pixels drove a prediction.
struct SaliencyMap {
  Category category;    // the class explained
  std::string method;   // "gradcam" or "occlusion"
  cv::Mat map;          // CV_32F, source image size, values in [0, 1] (1 = most important)
};

struct ExplainOptions {
  std::string method = "auto";  // "auto" (Grad-CAM if the bundle names its layers, else occlusion), "gradcam", "occlusion"
  int occlusion_grid = 8;       // occlusion: patches per side, >= 2
};

class ImageClassifier {
 public:
  // Loads and checks the model (must be an image_classification bundle) and
  // the options. Throws sense::Error.
  static std::unique_ptr<ImageClassifier> Create(const ImageClassifierOptions& options);

  Classifications Classify(const cv::Mat& image) const;
  // One result per image, in order. Images are preprocessed and run in
  // chunks of max_batch_size.
  std::vector<Classifications> ClassifyBatch(const std::vector<cv::Mat>& images) const;

  // Saliency for `category_index` (-1: the top prediction).
  SaliencyMap Explain(const cv::Mat& image, int category_index = -1, const ExplainOptions& options = {}) const;

  const ModelMetadata& metadata() const { return model_->metadata(); }
  const Model& model() const { return *model_; }

 private:
  ImageClassifier(ImageClassifierOptions options, std::unique_ptr<Model> model);
  std::vector<Classifications> RunChunk(const std::vector<cv::Mat>& images, size_t begin, size_t end) const;
  Tensor Logits(const Tensor& batch) const;              // checked float32 [N, classes]
  std::vector<float> Scores(const Tensor& batch) const;  // probabilities, row-major [N, classes]

  ImageClassifierOptions options_;
  std::unique_ptr<Model> model_;
};

// A heat-map overlay for a person to look at: the image with the saliency
// map blended in (JET colours) and the label and score written on it.
cv::Mat RenderSaliencyOverlay(const cv::Mat& image, const SaliencyMap& saliency, double alpha = 0.45);

}  // namespace sense::vision

#endif  // SENSE_VISION_IMAGE_CLASSIFIER_H_
