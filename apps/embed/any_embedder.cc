#include "embed/any_embedder.h"

#include <algorithm>
#include <map>
#include <optional>

#include "sense/vision/idx.h"
#include "sense/vision/image_io.h"

namespace sense::app {

bool IsIdxImageFile(const std::string& path) {
  const auto slash = path.find_last_of('/');
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  return base.find("idx3-ubyte") != std::string::npos;
}

const std::vector<cv::Mat>& IdxImages(const std::string& path) {
  static std::map<std::string, std::vector<cv::Mat>> cache;
  auto it = cache.find(path);
  if (it == cache.end()) it = cache.emplace(path, vision::ReadIdxImages(path)).first;
  return it->second;
}

std::vector<std::string> ExpandIdx(const std::vector<std::string>& paths) {
  std::vector<std::string> out;
  for (const auto& p : paths) {
    if (!IsIdxImageFile(p)) {
      out.push_back(p);
      continue;
    }
    const size_t n = IdxImages(p).size();
    for (size_t i = 0; i < n; ++i) out.push_back(p + "#" + std::to_string(i));
  }
  return out;
}

namespace {

// "PATH#N" of an IDX file: the path and N; nullopt for anything else.
std::optional<std::pair<std::string, size_t>> IdxRef(const std::string& item) {
  const auto hash = item.rfind('#');
  if (hash == std::string::npos || hash + 1 >= item.size()) return std::nullopt;
  const std::string path = item.substr(0, hash), num = item.substr(hash + 1);
  if (!IsIdxImageFile(path) || num.find_first_not_of("0123456789") != std::string::npos || num.size() > 9) return std::nullopt;
  return std::make_pair(path, static_cast<size_t>(std::stoul(num)));
}

}  // namespace

cv::Mat LoadItemImage(const std::string& item) {
  if (auto ref = IdxRef(item)) {
    const auto& images = IdxImages(ref->first);
    if (ref->second >= images.size())
      throw Error(ErrorCode::kInput, item + ": " + ref->first + " has " + std::to_string(images.size()) + " images");
    return images[ref->second];
  }
  return vision::DecodeImage(item);
}

std::unique_ptr<AnyEmbedder> AnyEmbedder::Create(const AnyEmbedderOptions& options) {
  const ModelMetadata m = ReadBundleMetadata(options.model_path);
  auto e = std::make_unique<AnyEmbedder>();
  e->options_ = options;
  ModelOptions mo;
  mo.path = options.model_path;
  mo.device = options.device;
  mo.num_threads = options.threads;
  if (m.task == Task::kImageEmbedding) {
    vision::ImageEmbedderOptions o;
    o.model = mo;
    o.quantize = options.quantize;
    if (options.batch_size > 0) o.max_batch_size = options.batch_size;
    e->image_ = vision::ImageEmbedder::Create(o);
  } else if (m.task == Task::kTextEmbedding) {
    text::TextEmbedderOptions o;
    o.model = mo;
    o.quantize = options.quantize;
    if (options.batch_size > 0) o.max_batch_size = options.batch_size;
    e->text_ = text::TextEmbedder::Create(o);
  } else {
    throw Error(ErrorCode::kMetadata, options.model_path + ": is a " + TaskName(m.task) +
                                          " model; an embedding bundle (image_embedding or text_embedding) is needed");
  }
  return e;
}

const EmbeddingModelIdentity& AnyEmbedder::identity() const {
  return image_ ? image_->identity() : text_->identity();
}

const ModelMetadata& AnyEmbedder::metadata() const { return image_ ? image_->metadata() : text_->metadata(); }

void AnyEmbedder::Embed(const std::vector<std::string>& inputs, const Sink& sink) const {
  if (image_) {
    vision::DecodeOptions decode;
    if (options_.max_pixels > 0) decode.max_pixels = options_.max_pixels;
    const bool any_idx = std::any_of(inputs.begin(), inputs.end(), [](const std::string& s) { return IdxRef(s).has_value(); });
    if (any_idx) {
      // in memory, in chunks: IDX images as they are, files decoded here
      const size_t chunk = 1024;
      for (size_t b = 0; b < inputs.size(); b += chunk) {
        const size_t e = std::min(inputs.size(), b + chunk);
        std::vector<cv::Mat> mats;
        std::vector<std::optional<Error>> errors(e - b);
        for (size_t i = b; i < e; ++i) {
          try {
            if (auto ref = IdxRef(inputs[i])) mats.push_back(LoadItemImage(inputs[i]));
            else mats.push_back(vision::DecodeImage(inputs[i], decode));
          } catch (...) {
            errors[i - b] = CurrentExceptionAsError(ErrorCode::kInput, inputs[i]);
            mats.emplace_back();
          }
        }
        auto out = image_->EmbedBatch(mats);
        for (size_t i = b; i < e; ++i) {
          if (errors[i - b]) sink(i, mats[i - b], *errors[i - b]);
          else sink(i, mats[i - b], std::move(out[i - b]));
        }
      }
      return;
    }
    image_->EmbedFiles(inputs, decode, [&](size_t i, const cv::Mat& img, Outcome<Embedding> o) { sink(i, img, std::move(o)); });
    return;
  }
  // texts: in chunks, so output starts before the whole input is embedded
  const size_t chunk = 256;
  static const cv::Mat kNone;
  for (size_t b = 0; b < inputs.size(); b += chunk) {
    std::vector<std::string> part(inputs.begin() + static_cast<std::ptrdiff_t>(b),
                                  inputs.begin() + static_cast<std::ptrdiff_t>(std::min(inputs.size(), b + chunk)));
    auto out = text_->EmbedBatch(part);
    for (size_t i = 0; i < out.size(); ++i) sink(b + i, kNone, std::move(out[i]));
  }
}

}  // namespace sense::app
