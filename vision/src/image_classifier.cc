#include "sense/vision/image_classifier.h"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "sense/vision/preprocess.h"

namespace sense::vision {

std::unique_ptr<ImageClassifier> ImageClassifier::Create(const ImageClassifierOptions& options) {
  if (options.max_batch_size < 1)
    throw Error(ErrorCode::kOption, "max_batch_size must be >= 1, found " + std::to_string(options.max_batch_size));
  auto model = Model::Load(options.model);
  const ModelMetadata& m = model->metadata();
  if (m.task != Task::kImageClassification)
    throw Error(ErrorCode::kMetadata, options.model.path + ": is a " + TaskName(m.task) +
                                          " model; ImageClassifier needs an image_classification bundle");
  if (m.inputs.size() != 1 || m.inputs[0].dtype != DType::kFloat32)
    throw Error(ErrorCode::kMetadata, options.model.path + ": image classifiers take one float32 image input, metadata declares " +
                                          std::to_string(m.inputs.size()) + " input(s)");
  ValidateClassifierOptions(options.classifier, m.labels);
  return std::unique_ptr<ImageClassifier>(new ImageClassifier(options, std::move(model)));
}

ImageClassifier::ImageClassifier(ImageClassifierOptions options, std::unique_ptr<Model> model)
    : options_(std::move(options)), model_(std::move(model)),
      runner_(*model_->metadata().image, ImageRunnerOptions{options_.max_batch_size, options_.reduced_jpeg_decode}) {
  const ModelMetadata& m = model_->metadata();
  if (m.ood && options_.classifier.detect_out_of_domain)
    ood_.emplace(*m.ood, static_cast<int>(m.labels.size()), m.output.temperature,
                 m.ood->statistics_asset.empty() ? std::string() : model_->Asset(m.ood->statistics_asset));
}

Tensor ImageClassifier::Logits(const Tensor& batch, Tensor* features) const {
  const ModelMetadata& m = model_->metadata();
  NamedTensors out = model_->Run({{m.inputs[0].name, batch}});
  const Tensor& logits = out.at(m.output.name);
  const int64_t n = batch.size(0), k = static_cast<int64_t>(m.labels.size());
  if (logits.dim() != 2 || logits.size(0) != n || logits.size(1) != k)
    throw Error(ErrorCode::kBackend, model_->path() + ": expected output [" + std::to_string(n) + ", " + std::to_string(k) +
                                         "], model returned " + logits.Describe());
  if (features) {
    const Tensor& f = out.at(m.ood->features_output);
    if (f.dim() != 2 || f.size(0) != n || f.size(1) != m.ood->feature_dim)
      throw Error(ErrorCode::kBackend, model_->path() + ": expected features output '" + m.ood->features_output + "' [" +
                                           std::to_string(n) + ", " + std::to_string(m.ood->feature_dim) +
                                           "], model returned " + f.Describe());
    *features = f.dtype() == DType::kFloat32 ? f : f.ToFloat();
  }
  return logits.dtype() == DType::kFloat32 ? logits : logits.ToFloat();
}

std::vector<float> ImageClassifier::Scores(const Tensor& batch) const {
  const ModelMetadata& m = model_->metadata();
  const Tensor logits = Logits(batch);
  const int64_t n = logits.size(0), k = logits.size(1);
  std::vector<float> probs(static_cast<size_t>(n * k));
  for (int64_t i = 0; i < n; ++i) {
    std::vector<float> p = Probabilities(logits.data<float>() + i * k, static_cast<int>(k), m.output);
    std::copy(p.begin(), p.end(), probs.begin() + i * k);
  }
  return probs;
}

std::vector<Classifications> ImageClassifier::ClassifyRows(const ImageBatch& batch) const {
  const ModelMetadata& m = model_->metadata();
  Tensor logits, features;
  const bool with_features = ood_ && ood_->needs_features();
  try {
    logits = Logits(batch.input, with_features ? &features : nullptr);
  } catch (...) {
    throw CurrentExceptionAsError(ErrorCode::kBackend, model_->path() + ": forward");
  }
  const int64_t n = logits.size(0), k = logits.size(1);
  std::vector<Classifications> results;
  results.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const float* row = logits.data<float>() + i * k;
    results.push_back(sense::Classify(row, static_cast<int>(k), m.output, m.labels, options_.classifier));
    if (ood_) {
      OodInputs in;
      in.logits = row;
      in.num_classes = static_cast<int>(k);
      if (with_features) {
        in.features = features.data<float>() + i * features.size(1);
        in.feature_dim = static_cast<int>(features.size(1));
      }
      results.back().out_of_domain = ood_->Score(in);
    }
  }
  return results;
}

Classifications ImageClassifier::Classify(const cv::Mat& image) const {
  return ClassifyBatch(std::vector<cv::Mat>{image}).front().value();
}

std::vector<Outcome<Classifications>> ImageClassifier::ClassifyBatch(const std::vector<cv::Mat>& images) const {
  return runner_.Run<Classifications>(images, [this](const ImageBatch& b) { return ClassifyRows(b); });
}

void ImageClassifier::ClassifyBatch(const std::vector<cv::Mat>& images, const Sink& sink) const {
  runner_.Run<Classifications>(images, [this](const ImageBatch& b) { return ClassifyRows(b); }, sink);
}

std::vector<Outcome<Classifications>> ImageClassifier::ClassifyFiles(const std::vector<std::string>& paths,
                                                                     const DecodeOptions& decode) const {
  return runner_.RunFiles<Classifications>(paths, decode, [this](const ImageBatch& b) { return ClassifyRows(b); });
}

void ImageClassifier::ClassifyFiles(const std::vector<std::string>& paths, const DecodeOptions& decode,
                                    const Sink& sink) const {
  runner_.RunFiles<Classifications>(paths, decode, [this](const ImageBatch& b) { return ClassifyRows(b); }, sink);
}

ExplainMethod ParseExplainMethod(const std::string& name) {
  if (name == "auto") return ExplainMethod::kAuto;
  if (name == "gradcam") return ExplainMethod::kGradCam;
  if (name == "occlusion") return ExplainMethod::kOcclusion;
  throw Error(ErrorCode::kOption, "explanation method must be auto, gradcam or occlusion, found \"" + name + "\"");
}

const char* ExplainMethodName(ExplainMethod method) {
  switch (method) {
    case ExplainMethod::kAuto: return "auto";
    case ExplainMethod::kGradCam: return "gradcam";
    case ExplainMethod::kOcclusion: return "occlusion";
  }
  return "unknown";
}

namespace {

// Normalises a float map to [0, 1] (all-zero stays zero).
void Normalise(cv::Mat& m) {
  double lo, hi;
  cv::minMaxLoc(m, &lo, &hi);
  m = cv::max(m, 0.0);
  if (hi > 1e-12) m /= hi;
}

}  // namespace

SaliencyMap ImageClassifier::Explain(const cv::Mat& image, int category_index, const ExplainOptions& eo) const {
  try {
    return ExplainUnchecked(image, category_index, eo);
  } catch (...) {
    throw CurrentExceptionAsError(ErrorCode::kBackend, model_->path() + ": explanation");
  }
}

SaliencyMap ImageClassifier::ExplainUnchecked(const cv::Mat& image, int category_index, const ExplainOptions& eo) const {
  const ModelMetadata& m = model_->metadata();
  const ImagePreprocessing& p = *m.image;
  if (category_index < -1 || category_index >= static_cast<int>(m.labels.size()))
    throw Error(ErrorCode::kOption, "category index " + std::to_string(category_index) + " out of range [0, " +
                                        std::to_string(m.labels.size()) + ")");
  ExplainMethod method = eo.method;
  const bool has_cam = m.explain && m.explain->method == "gradcam" && model_->SupportsGradients() &&
                       model_->HasMethod(m.explain->features_method) && model_->HasMethod(m.explain->head_method);
  if (method == ExplainMethod::kAuto) method = has_cam ? ExplainMethod::kGradCam : ExplainMethod::kOcclusion;
  if (method == ExplainMethod::kGradCam && !has_cam)
    throw Error(ErrorCode::kUnsupported, model_->path() + ": Grad-CAM needs a TorchScript bundle whose metadata names its "
                                                          "feature and head methods ('explain'); use occlusion");
  if (eo.occlusion_grid < 2) throw Error(ErrorCode::kOption, "occlusion_grid must be >= 2");

  InputTransform tr;
  std::vector<InputTransform> trs;
  Tensor x = PreprocessBatch({image}, p, &trs);
  tr = trs[0];
  const std::vector<float> base = Scores(x);
  SaliencyMap result;
  result.method = method;
  int target = category_index;
  if (target < 0) target = static_cast<int>(std::max_element(base.begin(), base.end()) - base.begin());
  result.category = {target, m.labels[static_cast<size_t>(target)], base[static_cast<size_t>(target)]};

  cv::Mat net_map;  // network-input coordinates, CV_32F
  if (method == ExplainMethod::kGradCam) {
    NamedTensors f = model_->RunMethod(m.explain->features_method, {{m.inputs[0].name, x}});
    const Tensor& feat = f[0].second;
    if (feat.dim() != 4)
      throw Error(ErrorCode::kMetadata, model_->path() + ": Grad-CAM features method returned " + feat.Describe() +
                                            "; expected a [1, C, H, W] feature map");
    GradientResult g = model_->RunMethodWithGradient(m.explain->head_method, {{"features", feat}}, "", 0, {target});
    const int64_t C = feat.size(1), H = feat.size(2), W = feat.size(3);
    const float* fd = feat.data<float>();
    const float* gd = g.gradient.data<float>();
    cv::Mat cam = cv::Mat::zeros(static_cast<int>(H), static_cast<int>(W), CV_32F);
    for (int64_t ch = 0; ch < C; ++ch) {
      double w = 0;
      for (int64_t i = 0; i < H * W; ++i) w += gd[ch * H * W + i];
      w /= static_cast<double>(H * W);
      for (int64_t i = 0; i < H * W; ++i) cam.at<float>(static_cast<int>(i / W), static_cast<int>(i % W)) += static_cast<float>(w * fd[ch * H * W + i]);
    }
    Normalise(cam);
    cv::resize(cam, net_map, cv::Size(p.width, p.height), 0, 0, cv::INTER_LINEAR);
  } else {
    // Occlusion: grey out overlapping windows (the normalised mean, i.e. 0)
    // and record how much the target's probability drops.
    const int g = eo.occlusion_grid;
    const int sx = std::max(1, p.width / g), sy = std::max(1, p.height / g);
    std::vector<cv::Rect> windows;
    for (int y = 0; y < p.height; y += sy)
      for (int xx = 0; xx < p.width; xx += sx)
        windows.emplace_back(cv::Rect(xx - sx / 2, y - sy / 2, 2 * sx, 2 * sy) & cv::Rect(0, 0, p.width, p.height));
    cv::Mat sum = cv::Mat::zeros(p.height, p.width, CV_32F), count = cv::Mat::zeros(p.height, p.width, CV_32F);
    const int64_t c = p.channels();
    const size_t chunk = static_cast<size_t>(options_.max_batch_size);
    for (size_t b = 0; b < windows.size(); b += chunk) {
      const size_t n = std::min(chunk, windows.size() - b);
      Tensor batch = Tensor::Empty(DType::kFloat32, [&] {
        std::vector<int64_t> s = x.shape();
        s[0] = static_cast<int64_t>(n);
        return s;
      }());
      const int64_t per = x.numel();
      for (size_t i = 0; i < n; ++i) {
        float* dst = batch.data<float>() + static_cast<int64_t>(i) * per;
        std::copy(x.data<float>(), x.data<float>() + per, dst);
        const cv::Rect r = windows[b + i];
        for (int yy = r.y; yy < r.y + r.height; ++yy)
          for (int xx = r.x; xx < r.x + r.width; ++xx)
            for (int64_t k = 0; k < c; ++k) {
              const int64_t idx = p.layout == Layout::kNCHW ? (k * p.height + yy) * p.width + xx : (yy * p.width + xx) * c + k;
              dst[idx] = 0.0f;
            }
      }
      const std::vector<float> scores = Scores(batch);
      const size_t k = m.labels.size();
      for (size_t i = 0; i < n; ++i) {
        const float drop = base[static_cast<size_t>(target)] - scores[i * k + static_cast<size_t>(target)];
        sum(windows[b + i]) += drop;
        count(windows[b + i]) += 1.0f;
      }
    }
    net_map = sum / cv::max(count, 1.0f);
    Normalise(net_map);
    cv::GaussianBlur(net_map, net_map, cv::Size(0, 0), std::max(1.0, sx / 2.0));
    Normalise(net_map);
  }
  result.map = tr.MapToSource(net_map, 0.0);
  return result;
}

cv::Mat RenderSaliencyOverlay(const cv::Mat& image, const SaliencyMap& s, double alpha) {
  cv::Mat bgr;
  if (image.channels() == 1) cv::cvtColor(image, bgr, cv::COLOR_GRAY2BGR);
  else if (image.channels() == 4) cv::cvtColor(image, bgr, cv::COLOR_BGRA2BGR);
  else bgr = image.clone();
  // Small images (28x28) are enlarged so the overlay is visible.
  const double up = std::max(1.0, 256.0 / std::max(bgr.cols, bgr.rows));
  cv::Mat map = s.map;
  if (up > 1.0) {
    cv::resize(bgr, bgr, cv::Size(), up, up, cv::INTER_NEAREST);
    cv::resize(map, map, bgr.size(), 0, 0, cv::INTER_LINEAR);
  } else if (map.size() != bgr.size()) {
    cv::resize(map, map, bgr.size(), 0, 0, cv::INTER_LINEAR);
  }
  cv::Mat heat8, heat;
  map.convertTo(heat8, CV_8U, 255.0);
  cv::applyColorMap(heat8, heat, cv::COLORMAP_JET);
  cv::Mat out;
  cv::addWeighted(bgr, 1.0 - alpha, heat, alpha, 0.0, out);
  char text[256];
  std::snprintf(text, sizeof(text), "%s %.2f (%s)", s.category.label.c_str(), s.category.score, ExplainMethodName(s.method));
  const double font = std::max(0.4, out.cols / 700.0);
  const int thick = std::max(1, static_cast<int>(font * 2));
  int baseline = 0;
  const cv::Size ts = cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, font, thick, &baseline);
  cv::rectangle(out, cv::Rect(0, 0, std::min(out.cols, ts.width + 10), ts.height + baseline + 10), cv::Scalar(0, 0, 0), cv::FILLED);
  cv::putText(out, text, cv::Point(5, ts.height + 5), cv::FONT_HERSHEY_SIMPLEX, font, cv::Scalar(255, 255, 255), thick, cv::LINE_AA);
  return out;
}

}  // namespace sense::vision
