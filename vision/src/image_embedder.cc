#include "sense/vision/image_embedder.h"

namespace sense::vision {

std::unique_ptr<ImageEmbedder> ImageEmbedder::Create(const ImageEmbedderOptions& options) {
  if (options.max_batch_size < 1)
    throw Error(ErrorCode::kOption, "max_batch_size must be >= 1, found " + std::to_string(options.max_batch_size));
  auto model = Model::Load(options.model);
  const ModelMetadata& m = model->metadata();
  if (m.task != Task::kImageEmbedding)
    throw Error(ErrorCode::kMetadata, options.model.path + ": is a " + TaskName(m.task) +
                                          " model; ImageEmbedder needs an image_embedding bundle");
  if (!m.image || !m.embedding)
    throw Error(ErrorCode::kMetadata, options.model.path + ": an image_embedding bundle needs 'image' and 'embedding' objects");
  if (m.inputs.size() != 1 || m.inputs[0].dtype != DType::kFloat32)
    throw Error(ErrorCode::kMetadata, options.model.path + ": image embedders take one float32 image input, metadata declares " +
                                          std::to_string(m.inputs.size()) + " input(s)");
  return std::unique_ptr<ImageEmbedder>(new ImageEmbedder(options, std::move(model)));
}

ImageEmbedder::ImageEmbedder(ImageEmbedderOptions options, std::unique_ptr<Model> model)
    : options_(std::move(options)), model_(std::move(model)),
      runner_(*model_->metadata().image, ImageRunnerOptions{options_.max_batch_size, options_.reduced_jpeg_decode}) {
  const ModelMetadata& m = model_->metadata();
  pooling_ = ParsePooling(m.embedding->pooling);
  normalize_ = options_.l2_normalize.value_or(m.embedding->normalize);
  dim_ = m.embedding->dim;
  identity_ = {m.name, m.version, TaskName(m.task), FileFingerprint(options_.model.path), dim_, normalize_, options_.quantize};
}

std::vector<Embedding> ImageEmbedder::EmbedRows(const ImageBatch& batch) const {
  const ModelMetadata& m = model_->metadata();
  NamedTensors out;
  try {
    out = model_->Run({{m.inputs[0].name, batch.input}});
  } catch (...) {
    throw CurrentExceptionAsError(ErrorCode::kBackend, model_->path() + ": forward");
  }
  const std::string& name = m.output.name.empty() ? out[0].first : m.output.name;
  if (!out.Contains(name))
    throw Error(ErrorCode::kBackend, model_->path() + ": the model has no output '" + name + "'");
  Tensor t = out.at(name);
  if (t.dtype() != DType::kFloat32) t = t.ToFloat();
  const int64_t n = batch.input.size(0);
  if (t.dim() < 2 || t.size(0) != n)
    throw Error(ErrorCode::kBackend, model_->path() + ": expected an embedding output [" + std::to_string(n) +
                                         ", ...], model returned " + t.Describe());
  std::vector<Embedding> results;
  results.reserve(static_cast<size_t>(n));
  const float* d = t.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    Embedding e;
    if (t.dim() == 2) {
      // [N, D]: already one vector per image, whatever the pooling says
      e.values.assign(d + i * t.size(1), d + (i + 1) * t.size(1));
    } else {
      if (pooling_ == Pooling::kNone)
        throw Error(ErrorCode::kBackend, model_->path() + ": output " + t.Describe() +
                                             " has positions to pool but embedding.pooling is \"none\"");
      if (t.dim() == 3) {  // [N, T, D]
        const int64_t T = t.size(1), D = t.size(2);
        e.values = PoolTokens(d + i * T * D, T, D, nullptr, pooling_);
      } else if (t.dim() == 4) {  // [N, D, H, W]: positions are H x W
        const int64_t D = t.size(1), P = t.size(2) * t.size(3);
        std::vector<float> rows(static_cast<size_t>(P * D));
        const float* src = d + i * D * P;
        for (int64_t c = 0; c < D; ++c)
          for (int64_t p = 0; p < P; ++p) rows[static_cast<size_t>(p * D + c)] = src[c * P + p];
        e.values = PoolTokens(rows.data(), P, D, nullptr, pooling_);
      } else {
        throw Error(ErrorCode::kBackend, model_->path() + ": cannot read an embedding from output " + t.Describe());
      }
    }
    if (static_cast<int>(e.values.size()) != dim_)
      throw Error(ErrorCode::kBackend, model_->path() + ": embedding has " + std::to_string(e.values.size()) +
                                           " values; metadata says embedding.dim " + std::to_string(dim_));
    if (normalize_) {
      L2Normalize(e.values);
      e.normalized = true;
    }
    if (options_.quantize) {
      QuantizedVector q = QuantizeInt8(e.values);
      e.values = DequantizeInt8(q);
      e.quantized = std::move(q.codes);
      e.scale = q.scale;
    }
    results.push_back(std::move(e));
  }
  return results;
}

Embedding ImageEmbedder::Embed(const cv::Mat& image) const {
  return EmbedBatch(std::vector<cv::Mat>{image}).front().value();
}

std::vector<Outcome<Embedding>> ImageEmbedder::EmbedBatch(const std::vector<cv::Mat>& images) const {
  return runner_.Run<Embedding>(images, [this](const ImageBatch& b) { return EmbedRows(b); });
}

void ImageEmbedder::EmbedBatch(const std::vector<cv::Mat>& images, const Sink& sink) const {
  runner_.Run<Embedding>(images, [this](const ImageBatch& b) { return EmbedRows(b); }, sink);
}

std::vector<Outcome<Embedding>> ImageEmbedder::EmbedFiles(const std::vector<std::string>& paths,
                                                          const DecodeOptions& decode) const {
  return runner_.RunFiles<Embedding>(paths, decode, [this](const ImageBatch& b) { return EmbedRows(b); });
}

void ImageEmbedder::EmbedFiles(const std::vector<std::string>& paths, const DecodeOptions& decode, const Sink& sink) const {
  runner_.RunFiles<Embedding>(paths, decode, [this](const ImageBatch& b) { return EmbedRows(b); }, sink);
}

}  // namespace sense::vision
