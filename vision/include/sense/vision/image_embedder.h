// sense/vision/image_embedder.h — one vector per image from any
// image_embedding bundle, for "more like this" search.
//
//   sense::vision::ImageEmbedderOptions options;
//   options.model.path = "models/fashion-embed.pt";
//   auto embedder = sense::vision::ImageEmbedder::Create(options);
//   sense::Embedding a = embedder->Embed(sense::vision::DecodeImage("shoe.png"));
//   sense::Embedding b = embedder->Embed(sense::vision::DecodeImage("boot.png"));
//   float s = sense::CosineSimilarity(a, b);
//
// What it does, in this order: the bundle's image preprocessing (through
// ImageRunner, image_runner.h), the model, then the output its metadata
// names (output.name): [N, D] as it is, or [N, T, D] / [N, D, H, W] pooled
// over T (or H x W) with the bundle's embedding.pooling (mean, cls = first
// position, max); then optional L2 normalisation (default: the bundle's
// embedding.normalize); then optional int8 scalar quantisation
// (embedding.h). The vector size must equal embedding.dim.
//
// Input contract: images as DecodeImage returns them (8-bit gray, BGR or
// BGRA cv::Mat). An empty image, a file that does not decode, or an image
// the model raises on is that input's Error; the others keep their vectors.
// Ownership: the embedder owns its model; images are only read.
// Thread safety: Embed, EmbedBatch and EmbedFiles are const and safe to call
// from several threads at once.
#ifndef SENSE_VISION_IMAGE_EMBEDDER_H_
#define SENSE_VISION_IMAGE_EMBEDDER_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "sense/inference/embedding.h"
#include "sense/inference/model.h"
#include "sense/inference/outcome.h"
#include "sense/vision/image_io.h"
#include "sense/vision/image_runner.h"

namespace sense::vision {

struct ImageEmbedderOptions {
  ModelOptions model;                  // path (required), device, threads
  std::optional<bool> l2_normalize;    // unset: the bundle's embedding.normalize
  bool quantize = false;               // int8 scalar quantisation of each vector (embedding.h)
  int max_batch_size = 16;             // images per model call; >= 1
  bool reduced_jpeg_decode = true;     // EmbedFiles: JPEGs decoded at 1/2-1/8 scale where the input size allows
};

class ImageEmbedder {
 public:
  // Loads the model (an image_embedding bundle with an image object and an
  // embedding object) and checks the options. Throws sense::Error.
  static std::unique_ptr<ImageEmbedder> Create(const ImageEmbedderOptions& options);

  // One image; throws its Error.
  Embedding Embed(const cv::Mat& image) const;
  // One outcome per image, in input order.
  std::vector<Outcome<Embedding>> EmbedBatch(const std::vector<cv::Mat>& images) const;
  // Image files decoded inside; a missing or corrupt file is that file's Error.
  std::vector<Outcome<Embedding>> EmbedFiles(const std::vector<std::string>& paths, const DecodeOptions& decode = {}) const;
  // Streaming form: `sink` receives each outcome in input order with the decoded image.
  using Sink = ImageRunner::Sink<Embedding>;
  void EmbedFiles(const std::vector<std::string>& paths, const DecodeOptions& decode, const Sink& sink) const;
  void EmbedBatch(const std::vector<cv::Mat>& images, const Sink& sink) const;

  int dim() const { return dim_; }
  // The identity stored with a vector index built from this embedder.
  const EmbeddingModelIdentity& identity() const { return identity_; }
  const ModelMetadata& metadata() const { return model_->metadata(); }
  const Model& model() const { return *model_; }

 private:
  ImageEmbedder(ImageEmbedderOptions options, std::unique_ptr<Model> model);
  std::vector<Embedding> EmbedRows(const ImageBatch& batch) const;

  ImageEmbedderOptions options_;
  std::unique_ptr<Model> model_;
  ImageRunner runner_;
  Pooling pooling_ = Pooling::kNone;
  bool normalize_ = true;
  int dim_ = 0;
  EmbeddingModelIdentity identity_;
};

}  // namespace sense::vision

#endif  // SENSE_VISION_IMAGE_EMBEDDER_H_
