// apps/embed/any_embedder.h — what sense-embed, sense-similar and sense-eval's
// retrieval mode share: an embedder for whichever kind of bundle the user
// names (its task decides: image_embedding or text_embedding). Apps only.
#ifndef SENSE_APPS_EMBED_ANY_EMBEDDER_H_
#define SENSE_APPS_EMBED_ANY_EMBEDDER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "sense/inference/embedding.h"
#include "sense/inference/outcome.h"
#include "sense/text/text_embedder.h"
#include "sense/vision/image_embedder.h"

namespace sense::app {

struct AnyEmbedderOptions {
  std::string model_path;
  std::string device = "cpu";
  int threads = 0;
  int batch_size = 0;  // 0: the task's default
  bool quantize = false;
  int64_t max_pixels = 0;  // images: DecodeOptions::max_pixels (0: the default)
};

// True for an idx3-ubyte image file (raw or .gz), by name.
bool IsIdxImageFile(const std::string& path);
// The images of an IDX file, read once and kept for the process (apps are
// single-threaded here). Throws sense::Error.
const std::vector<cv::Mat>& IdxImages(const std::string& path);
// Image paths with every IDX file replaced by "PATH#0" ... "PATH#N-1".
std::vector<std::string> ExpandIdx(const std::vector<std::string>& paths);
// An image item as a person sees it: a file decoded, or "PATH#N" from its
// IDX file. Throws sense::Error.
cv::Mat LoadItemImage(const std::string& item);

class AnyEmbedder {
 public:
  // Reads the bundle's task and loads the matching embedder. Throws
  // sense::Error (kMetadata when the bundle is not an embedding model).
  static std::unique_ptr<AnyEmbedder> Create(const AnyEmbedderOptions& options);

  bool is_image() const { return image_ != nullptr; }
  const EmbeddingModelIdentity& identity() const;
  const ModelMetadata& metadata() const;

  // Image files or texts (by is_image), one outcome per input in order, to
  // `sink` as each is ready (images: with the decoded image).
  using Sink = std::function<void(size_t index, const cv::Mat& image, Outcome<Embedding> outcome)>;
  // An image input may name one image of an IDX file (Fashion-MNIST):
  // "PATH#N" (ExpandIdx makes these).
  void Embed(const std::vector<std::string>& inputs, const Sink& sink) const;

 private:
  AnyEmbedderOptions options_;
  std::unique_ptr<vision::ImageEmbedder> image_;
  std::unique_ptr<text::TextEmbedder> text_;
};

}  // namespace sense::app

#endif  // SENSE_APPS_EMBED_ANY_EMBEDDER_H_
