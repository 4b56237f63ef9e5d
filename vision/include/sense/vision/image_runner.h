// sense/vision/image_runner.h — the one batch runner of every vision task:
// decode, preprocess, batch, run the model, one outcome per image.
//
//   ImageRunner runner(*metadata.image, {/*max_batch_size=*/16});
//   std::vector<Outcome<Classifications>> out = runner.RunFiles<Classifications>(
//       paths, decode, [&](const ImageBatch& b) { return ClassifyRows(b); });
//
// What it does, in this order, for each chunk of at most max_batch_size
// inputs:
//   1. gets each image: DecodeImage(path, decode) for files (JPEGs at
//      reduced scale where the model's input allows, see
//      reduced_jpeg_decode), the cv::Mat as given otherwise; an input that
//      fails (missing file, bad pixels, over the pixel limit) gets its own
//      Error and leaves the chunk;
//   2. preprocesses the rest into one float32 batch (PreprocessInto: the
//      bundle's colour order, resize, normalisation and layout), one
//      InputTransform per row; a preprocessing error is that image's error;
//   3. calls the task's `run` on the batch; `run` returns one result per row,
//      in row order, or throws;
//   4. when `run` throws on a batch of several rows, runs each row alone to
//      find the culprit: the rows that pass get their results, the row that
//      fails gets the translated error (CurrentExceptionAsError, code
//      kBackend unless the exception is already a sense::Error).
// Steps 1-2 for the next chunk run on a second thread (one per chunk after
// the first, started by the call) while step 3 runs on the current one:
// decoding and preprocessing overlap inference. If that thread cannot be
// started, the chunk is prepared on the calling thread.
//
// Results come back in input order: as a vector (Run, RunFiles) or, as soon
// as each chunk is done, through a sink called once per input in input
// order on the calling thread, with the decoded image (empty when decoding
// failed), e.g. to explain a result or print it while the next chunk runs.
//
// Ownership: the runner copies the preprocessing; images passed in are only
// read and must stay alive for the call. Decoded images live until the sink
// for them returns (without a sink they are dropped after preprocessing).
// Thread safety: Run and RunFiles are const and safe to call from several
// threads at once if `run` is.
#ifndef SENSE_VISION_IMAGE_RUNNER_H_
#define SENSE_VISION_IMAGE_RUNNER_H_

#include <algorithm>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "sense/inference/error.h"
#include "sense/inference/metadata.h"
#include "sense/inference/outcome.h"
#include "sense/inference/tensor.h"
#include "sense/vision/image_io.h"
#include "sense/vision/preprocess.h"

namespace sense::vision {

struct ImageRunnerOptions {
  int max_batch_size = 16;  // images per model call; >= 1 (Error(kOption) otherwise)
  // RunFiles: JPEGs are decoded at 1/2, 1/4 or 1/8 scale (libjpeg's DCT
  // scaling; DecodeOptions::min_width) when the reduced image still has both
  // sides >= the model's resize target (the larger of resize_shorter, width
  // and height), so the model sees what a resize from a somewhat smaller
  // source gives. ImageBatch::transforms still map to the file's full-size
  // pixels; the sink gets the reduced image. Ignored when the
  // caller's DecodeOptions set min_width/min_height. false: full size.
  bool reduced_jpeg_decode = true;
};

// One model call's input: rows that decoded and preprocessed, in input order.
struct ImageBatch {
  Tensor input;                            // float32 [rows, C, H, W] (or [rows, H, W, C])
  std::vector<InputTransform> transforms;  // per row: network input <-> source image
  std::vector<size_t> items;               // per row: the input's index in the call
};

class ImageRunner {
 public:
  // The task's model call: one result per row of batch.input, in row order,
  // or an exception (any type).
  template <typename R>
  using RunFn = std::function<std::vector<R>(const ImageBatch& batch)>;
  // Receives input `index`'s outcome; `image` is the decoded image (empty
  // when it could not be had). Exceptions from the sink propagate.
  template <typename R>
  using Sink = std::function<void(size_t index, const cv::Mat& image, Outcome<R> outcome)>;

  // Throws Error(kOption) for max_batch_size < 1.
  ImageRunner(ImagePreprocessing preprocessing, ImageRunnerOptions options);

  const ImagePreprocessing& preprocessing() const { return preprocessing_; }
  const ImageRunnerOptions& options() const { return options_; }

  // In-memory images (DecodeImage's contract).
  template <typename R>
  std::vector<Outcome<R>> Run(const std::vector<cv::Mat>& images, const RunFn<R>& run) const {
    return Collect<R>(images.size(), [&](const Sink<R>& sink) { Drive<R>({&images, nullptr, nullptr}, run, sink, false); });
  }
  template <typename R>
  void Run(const std::vector<cv::Mat>& images, const RunFn<R>& run, const Sink<R>& sink) const {
    Drive<R>({&images, nullptr, nullptr}, run, sink, true);
  }

  // Image files, decoded inside with `decode` (per-file errors).
  template <typename R>
  std::vector<Outcome<R>> RunFiles(const std::vector<std::string>& paths, const DecodeOptions& decode,
                                   const RunFn<R>& run) const {
    return Collect<R>(paths.size(), [&](const Sink<R>& sink) { Drive<R>({nullptr, &paths, &decode}, run, sink, false); });
  }
  template <typename R>
  void RunFiles(const std::vector<std::string>& paths, const DecodeOptions& decode, const RunFn<R>& run,
                const Sink<R>& sink) const {
    Drive<R>({nullptr, &paths, &decode}, run, sink, true);
  }

 private:
  struct Source {
    const std::vector<cv::Mat>* images;
    const std::vector<std::string>* paths;
    const DecodeOptions* decode;
    size_t size() const { return images ? images->size() : paths->size(); }
  };
  // A prepared chunk [begin, end): the batch of the inputs that made it, the
  // errors of those that did not, and (when kept) the decoded images.
  struct Chunk {
    size_t begin = 0, end = 0;
    ImageBatch batch;
    std::vector<std::optional<Error>> errors;  // per input of the chunk
    std::vector<cv::Mat> images;               // per input of the chunk, when kept
  };
  // The type-free part (image_runner.cc): prepares chunks (the next one on a
  // second thread), calls run_rows on each batch (then row by row when it
  // throws), and deliver(chunk, i, error) for each input in order; error is
  // null when run_rows stored a result for that input.
  using RunRows = std::function<void(const ImageBatch& batch, size_t chunk_begin)>;
  using Deliver = std::function<void(const Chunk& chunk, size_t i, const Error* error)>;
  void DriveErased(const Source& source, bool keep_images, const RunRows& run_rows, const Deliver& deliver) const;
  Chunk Prepare(const Source& source, size_t begin, size_t end, bool keep_images) const;

  template <typename R>
  static std::vector<Outcome<R>> Collect(size_t n, const std::function<void(const Sink<R>&)>& body) {
    std::vector<std::optional<Outcome<R>>> slots(n);
    body([&](size_t i, const cv::Mat&, Outcome<R> o) { slots[i].emplace(std::move(o)); });
    std::vector<Outcome<R>> out;
    out.reserve(n);
    for (auto& s : slots) out.push_back(std::move(*s));
    return out;
  }

  template <typename R>
  void Drive(const Source& source, const RunFn<R>& run, const Sink<R>& sink, bool keep_images) const {
    std::vector<std::optional<R>> results(  // per input of a chunk
        std::min(source.size(), static_cast<size_t>(options_.max_batch_size)));
    auto run_rows = [&](const ImageBatch& b, size_t chunk_begin) {
      std::vector<R> rows = run(b);
      if (rows.size() != b.items.size())
        throw Error(ErrorCode::kInternal, "vision task returned " + std::to_string(rows.size()) + " results for " +
                                              std::to_string(b.items.size()) + " images");
      for (size_t r = 0; r < rows.size(); ++r) results[b.items[r] - chunk_begin].emplace(std::move(rows[r]));
    };
    auto deliver = [&](const Chunk& c, size_t i, const Error* error) {
      static const cv::Mat kNoImage;
      const cv::Mat& image = c.images.empty() ? kNoImage : c.images[i];
      if (error) {
        sink(c.begin + i, image, *error);
      } else {
        std::optional<R> r = std::move(results[i]);
        results[i].reset();
        if (r) sink(c.begin + i, image, std::move(*r));
        else sink(c.begin + i, image, Error(ErrorCode::kInternal, "vision runner: no result stored for this image"));
      }
    };
    DriveErased(source, keep_images, run_rows, deliver);
  }

  ImagePreprocessing preprocessing_;
  ImageRunnerOptions options_;
};

}  // namespace sense::vision

#endif  // SENSE_VISION_IMAGE_RUNNER_H_
