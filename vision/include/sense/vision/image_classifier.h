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
// Batches: ClassifyBatch and ClassifyFiles run through ImageRunner
// (image_runner.h): chunks of max_batch_size, decoding and preprocessing of
// the next chunk overlapped with inference on the current one, and one
// Outcome per input in input order. An image the model raises on gets its
// own Error (code kBackend) and the others keep their results.
// Out of domain: with a bundle that carries a detector (metadata "ood"),
// every Classifications has out_of_domain set, from the same model call
// (the features output comes with the logits).
// Thread safety: Classify, ClassifyBatch, ClassifyFiles and Explain are
// const and safe to call from several threads at once.
#ifndef SENSE_VISION_IMAGE_CLASSIFIER_H_
#define SENSE_VISION_IMAGE_CLASSIFIER_H_

#include <memory>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "sense/inference/classification.h"
#include "sense/inference/model.h"
#include "sense/inference/outcome.h"
#include "sense/vision/image_io.h"
#include "sense/vision/image_runner.h"

namespace sense::vision {

struct ImageClassifierOptions {
  ModelOptions model;            // path (required), device, threads
  ClassifierOptions classifier;  // top-k, score threshold, allow/deny labels
  int max_batch_size = 16;       // ClassifyBatch/ClassifyFiles run the model on chunks of at most this many; >= 1
  bool reduced_jpeg_decode = true;  // ClassifyFiles: JPEGs decoded at 1/2-1/8 scale where the input size allows (image_runner.h)
};

enum class ExplainMethod {
  kAuto,       // Grad-CAM if the bundle names its feature and head methods, else occlusion
  kGradCam,    // gradient-weighted class activation of the bundle's feature map
  kOcclusion,  // the drop in the class's probability when patches are greyed out
};
// "auto", "gradcam" or "occlusion"; anything else is Error(kOption) listing them.
ExplainMethod ParseExplainMethod(const std::string& name);
const char* ExplainMethodName(ExplainMethod method);

// Which pixels drove a prediction.
struct SaliencyMap {
  Category category;                               // the class explained
  ExplainMethod method = ExplainMethod::kOcclusion;  // the method used: kGradCam or kOcclusion, never kAuto
  cv::Mat map;                                     // CV_32F, source image size, values in [0, 1] (1 = most important)
};

struct ExplainOptions {
  ExplainMethod method = ExplainMethod::kAuto;
  int occlusion_grid = 8;  // occlusion: patches per side, >= 2
};

class ImageClassifier {
 public:
  // Loads and checks the model (must be an image_classification bundle) and
  // the options. Throws sense::Error.
  static std::unique_ptr<ImageClassifier> Create(const ImageClassifierOptions& options);

  // One image; throws the image's Error.
  Classifications Classify(const cv::Mat& image) const;

  // One outcome per image, in input order (see Batches above).
  std::vector<Outcome<Classifications>> ClassifyBatch(const std::vector<cv::Mat>& images) const;
  // Image files, decoded inside with `decode`: a missing, corrupt or too
  // large file is that file's Error (messages start with the path).
  std::vector<Outcome<Classifications>> ClassifyFiles(const std::vector<std::string>& paths,
                                                      const DecodeOptions& decode = {}) const;

  // Streaming forms: `sink` receives each input's outcome, in input order, on
  // the calling thread, as soon as its chunk is done, with the decoded image
  // (empty when decoding failed), e.g. to explain it or print it while the
  // next chunk is decoded.
  using Sink = ImageRunner::Sink<Classifications>;
  void ClassifyBatch(const std::vector<cv::Mat>& images, const Sink& sink) const;
  void ClassifyFiles(const std::vector<std::string>& paths, const DecodeOptions& decode, const Sink& sink) const;

  // Saliency for `category_index` (-1: the top prediction). Throws
  // sense::Error (kOption for a bad index or grid, kUnsupported for Grad-CAM
  // on a bundle without its methods, the backend's error when the model
  // raises).
  SaliencyMap Explain(const cv::Mat& image, int category_index = -1, const ExplainOptions& options = {}) const;

  const ModelMetadata& metadata() const { return model_->metadata(); }
  const Model& model() const { return *model_; }

 private:
  ImageClassifier(ImageClassifierOptions options, std::unique_ptr<Model> model);
  SaliencyMap ExplainUnchecked(const cv::Mat& image, int category_index, const ExplainOptions& options) const;
  std::vector<Classifications> ClassifyRows(const ImageBatch& batch) const;  // the runner's model call
  Tensor Logits(const Tensor& batch, Tensor* features = nullptr) const;  // checked float32 [N, classes] (and [N, D])
  std::vector<float> Scores(const Tensor& batch) const;  // probabilities, row-major [N, classes]

  ImageClassifierOptions options_;
  std::unique_ptr<Model> model_;
  ImageRunner runner_;
  std::optional<OodScorer> ood_;  // the bundle's out-of-domain detector, when it has one and it is enabled
};

// A heat-map overlay for a person to look at: the image with the saliency
// map blended in (JET colours) and the label and score written on it.
cv::Mat RenderSaliencyOverlay(const cv::Mat& image, const SaliencyMap& saliency, double alpha = 0.45);

}  // namespace sense::vision

#endif  // SENSE_VISION_IMAGE_CLASSIFIER_H_
