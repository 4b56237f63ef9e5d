#include "sense/vision/image_runner.h"

#include <algorithm>
#include <future>
#include <system_error>

namespace sense::vision {

namespace {

// An error about input `name`: its message starts with the name, so a reader
// of a batch's errors knows which file each belongs to.
Error NamedError(ErrorCode code, const std::string& name) {
  Error e = CurrentExceptionAsError(code, "");
  if (name.empty() || std::string(e.what()).rfind(name, 0) == 0) return e;
  return Error(e.code(), name + ": " + e.what());
}

}  // namespace

ImageRunner::ImageRunner(ImagePreprocessing preprocessing, ImageRunnerOptions options)
    : preprocessing_(std::move(preprocessing)), options_(options) {
  if (options_.max_batch_size < 1)
    throw Error(ErrorCode::kOption, "max_batch_size must be >= 1, found " + std::to_string(options_.max_batch_size));
}

ImageRunner::Chunk ImageRunner::Prepare(const Source& source, size_t begin, size_t end, bool keep_images) const {
  const ImagePreprocessing& p = preprocessing_;
  Chunk c;
  c.begin = begin;
  c.end = end;
  const size_t n = end - begin;
  c.errors.resize(n);
  if (keep_images) c.images.resize(n);
  auto name = [&](size_t i) { return source.paths ? (*source.paths)[begin + i] : std::string(); };
  Tensor batch;
  try {
    const int64_t rows = static_cast<int64_t>(n), ch = p.channels();
    batch = Tensor::Empty(DType::kFloat32, p.layout == Layout::kNCHW ? std::vector<int64_t>{rows, ch, p.height, p.width}
                                                                    : std::vector<int64_t>{rows, p.height, p.width, ch});
  } catch (...) {
    const Error e = CurrentExceptionAsError(ErrorCode::kResource, "cannot allocate the input batch");
    for (auto& err : c.errors) err = e;
    return c;
  }
  DecodeOptions decode = source.decode ? *source.decode : DecodeOptions();
  if (options_.reduced_jpeg_decode && decode.min_width <= 0 && decode.min_height <= 0)
    decode.min_width = decode.min_height = std::max({p.resize_shorter, p.width, p.height});
  int64_t row = 0;
  for (size_t i = 0; i < n; ++i) {
    cv::Mat image;
    try {
      DecodeInfo info;
      image = source.images ? (*source.images)[begin + i] : DecodeImage((*source.paths)[begin + i], decode, &info);
      InputTransform t;
      PreprocessInto(image, p, &batch, row, &t);
      if (info.reduction > 1) {  // map to the file's full-size pixels, not the reduced image's
        t.scale_x *= static_cast<double>(image.cols) / info.full_size.width;
        t.scale_y *= static_cast<double>(image.rows) / info.full_size.height;
        t.source_width = info.full_size.width;
        t.source_height = info.full_size.height;
      }
      c.batch.transforms.push_back(t);
      c.batch.items.push_back(begin + i);
      ++row;
    } catch (...) {
      c.errors[i] = NamedError(ErrorCode::kInput, name(i));
    }
    if (keep_images) c.images[i] = image;
  }
  c.batch.input = row == static_cast<int64_t>(n) ? batch : batch.Slice(0, row);
  return c;
}

void ImageRunner::DriveErased(const Source& source, bool keep_images, const RunRows& run_rows,
                              const Deliver& deliver) const {
  const size_t n = source.size(), step = static_cast<size_t>(options_.max_batch_size);
  auto prepare = [this, &source, n, step, keep_images](size_t b) {
    return Prepare(source, b, std::min(n, b + step), keep_images);
  };
  // The next chunk is prepared on a second thread; where none can be
  // started, here (same results, no overlap).
  auto launch = [&prepare](size_t b) {
    try {
      return std::async(std::launch::async, prepare, b);
    } catch (const std::system_error&) {
      std::promise<Chunk> ready;
      ready.set_value(prepare(b));
      return ready.get_future();
    }
  };
  if (n == 0) return;
  // The first chunk has nothing to overlap with: prepared here, so a call of
  // one chunk starts no thread.
  std::future<Chunk> next;
  for (size_t b = 0; b < n; b += step) {
    Chunk c = b == 0 ? prepare(0) : next.get();
    if (b + step < n) next = launch(b + step);
    const std::vector<size_t>& items = c.batch.items;
    if (!items.empty()) {
      try {
        run_rows(c.batch, c.begin);
      } catch (...) {
        if (items.size() == 1) {
          c.errors[items[0] - c.begin] = NamedError(ErrorCode::kBackend, source.paths ? (*source.paths)[items[0]] : "");
        } else {
          // The batch failed: run each image alone to find which one did.
          for (size_t r = 0; r < items.size(); ++r) {
            ImageBatch one;
            one.input = c.batch.input.Slice(static_cast<int64_t>(r), static_cast<int64_t>(r) + 1);
            one.transforms = {c.batch.transforms[r]};
            one.items = {items[r]};
            try {
              run_rows(one, c.begin);
            } catch (...) {
              c.errors[items[r] - c.begin] = NamedError(ErrorCode::kBackend, source.paths ? (*source.paths)[items[r]] : "");
            }
          }
        }
      }
    }
    for (size_t i = 0; i < c.end - c.begin; ++i) deliver(c, i, c.errors[i] ? &*c.errors[i] : nullptr);
  }
}

}  // namespace sense::vision
