#include "sense/vision/preprocess.h"

#include <cmath>

#include <opencv2/imgproc.hpp>

#include "sense/inference/error.h"

namespace sense::vision {

namespace {

// ---- PIL's resampling (Pillow src/libImaging/Resample.c), 8-bit path ----

constexpr int kPrecisionBits = 32 - 8 - 2;

double FilterBilinear(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}
double FilterBicubic(double x) {
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}
double FilterBox(double x) { return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0; }

struct Coeffs {
  int ksize = 0;
  std::vector<int> bounds;   // per output pixel: first source index, tap count
  std::vector<int32_t> k;    // fixed-point weights, ksize per output pixel
};

// Weights for output pixels [out0, out0 + count) of a resize in_size -> out_size.
Coeffs Precompute(int in_size, int out_size, int out0, int count, Interpolation filter) {
  double (*f)(double) = FilterBilinear;
  double support = 1.0;
  if (filter == Interpolation::kBicubic) { f = FilterBicubic; support = 2.0; }
  if (filter == Interpolation::kArea) { f = FilterBox; support = 0.5; }
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = std::max(1.0, scale);
  support *= filterscale;
  Coeffs c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.bounds.resize(static_cast<size_t>(count) * 2);
  c.k.assign(static_cast<size_t>(count) * c.ksize, 0);
  std::vector<double> w(static_cast<size_t>(c.ksize));
  const double ss = 1.0 / filterscale;
  for (int i = 0; i < count; ++i) {
    const int xx = out0 + i;
    const double center = (xx + 0.5) * scale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      w[static_cast<size_t>(x)] = f((x + xmin - center + 0.5) * ss);
      ww += w[static_cast<size_t>(x)];
    }
    for (int x = 0; x < xmax; ++x) {
      const double v = ww != 0.0 ? w[static_cast<size_t>(x)] / ww : w[static_cast<size_t>(x)];
      c.k[static_cast<size_t>(i) * c.ksize + x] =
          static_cast<int32_t>(v < 0 ? -0.5 + v * (1 << kPrecisionBits) : 0.5 + v * (1 << kPrecisionBits));
    }
    c.bounds[static_cast<size_t>(i) * 2] = xmin;
    c.bounds[static_cast<size_t>(i) * 2 + 1] = xmax;
  }
  return c;
}

inline uint8_t Clip8(int32_t in) {
  if (in >= (1 << kPrecisionBits << 8)) return 255;
  if (in <= 0) return 0;
  return static_cast<uint8_t>(in >> kPrecisionBits);
}

// out(y, i) = sum_x in(y, bounds[i] + x) * k[i][x], per channel.
void ResampleHorizontal(const cv::Mat& in, cv::Mat& out, const Coeffs& c, int channels) {
  for (int y = 0; y < out.rows; ++y) {
    const uint8_t* src = in.ptr<uint8_t>(y);
    uint8_t* dst = out.ptr<uint8_t>(y);
    for (int i = 0; i < out.cols; ++i) {
      const int xmin = c.bounds[static_cast<size_t>(i) * 2], n = c.bounds[static_cast<size_t>(i) * 2 + 1];
      const int32_t* k = &c.k[static_cast<size_t>(i) * c.ksize];
      for (int ch = 0; ch < channels; ++ch) {
        int32_t ss = 1 << (kPrecisionBits - 1);
        const uint8_t* s = src + static_cast<size_t>(xmin) * channels + ch;
        for (int x = 0; x < n; ++x) ss += s[static_cast<size_t>(x) * channels] * k[x];
        dst[static_cast<size_t>(i) * channels + ch] = Clip8(ss);
      }
    }
  }
}

// out(j, x) = sum_y in(bounds[j] - row0 + y, x) * k[j][y].
void ResampleVertical(const cv::Mat& in, int row0, cv::Mat& out, const Coeffs& c, int channels) {
  const int width = out.cols * channels;
  std::vector<int32_t> acc(static_cast<size_t>(width));
  for (int j = 0; j < out.rows; ++j) {
    const int ymin = c.bounds[static_cast<size_t>(j) * 2] - row0, n = c.bounds[static_cast<size_t>(j) * 2 + 1];
    const int32_t* k = &c.k[static_cast<size_t>(j) * c.ksize];
    std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
    for (int y = 0; y < n; ++y) {
      const uint8_t* s = in.ptr<uint8_t>(ymin + y);
      const int32_t w = k[y];
      for (int x = 0; x < width; ++x) acc[static_cast<size_t>(x)] += s[x] * w;
    }
    uint8_t* dst = out.ptr<uint8_t>(j);
    for (int x = 0; x < width; ++x) dst[x] = Clip8(acc[static_cast<size_t>(x)]);
  }
}

// PIL's RGB -> L: L = (R*299 + G*587 + B*114) / 1000 in 16.16 fixed point.
cv::Mat BgrToGrayPil(const cv::Mat& bgr) {
  cv::Mat gray(bgr.size(), CV_8UC1);
  for (int y = 0; y < bgr.rows; ++y) {
    const uint8_t* s = bgr.ptr<uint8_t>(y);
    uint8_t* d = gray.ptr<uint8_t>(y);
    for (int x = 0; x < bgr.cols; ++x, s += 3)
      d[x] = static_cast<uint8_t>((s[2] * 19595 + s[1] * 38470 + s[0] * 7471 + 0x8000) >> 16);
  }
  return gray;
}

// Python's round(): half to even, as torchvision's CenterCrop uses.
int RoundHalfEven(double v) { return static_cast<int>(std::nearbyint(v)); }

cv::Mat ToModelColour(const cv::Mat& image, ColorOrder color) {
  if (image.empty()) throw Error(ErrorCode::kInput, "empty image");
  if (image.depth() != CV_8U)
    throw Error(ErrorCode::kInput, "image depth " + std::to_string(image.depth()) + " unsupported; expected 8-bit (decode with DecodeImage)");
  cv::Mat bgr;
  switch (image.channels()) {
    case 1:
      if (color == ColorOrder::kGray) return image;
      cv::cvtColor(image, bgr, color == ColorOrder::kRGB ? cv::COLOR_GRAY2RGB : cv::COLOR_GRAY2BGR);
      return bgr;
    case 3: bgr = image; break;
    case 4: cv::cvtColor(image, bgr, cv::COLOR_BGRA2BGR); break;
    default:
      throw Error(ErrorCode::kInput, "image has " + std::to_string(image.channels()) + " channels; expected 1 (gray), 3 (BGR) or 4 (BGRA)");
  }
  if (color == ColorOrder::kGray) return BgrToGrayPil(bgr);
  if (color == ColorOrder::kRGB) {
    cv::Mat rgb;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    return rgb;
  }
  return bgr;
}

cv::Mat Resize(const cv::Mat& img, cv::Size size, const ImagePreprocessing& p, cv::Rect roi = cv::Rect()) {
  if (roi.area() == 0) roi = cv::Rect(0, 0, size.width, size.height);
  if (img.size() == size) return roi == cv::Rect(0, 0, size.width, size.height) ? img : img(roi).clone();
  if (p.antialias) return ResizePil(img, size, p.interpolation, roi);
  int flag = cv::INTER_LINEAR;
  switch (p.interpolation) {
    case Interpolation::kNearest: flag = cv::INTER_NEAREST_EXACT; break;
    case Interpolation::kBicubic: flag = cv::INTER_CUBIC; break;
    case Interpolation::kArea: flag = cv::INTER_AREA; break;
    default: break;
  }
  cv::Mat out;
  cv::resize(img, out, size, 0, 0, flag);
  return out(roi).clone();
}

}  // namespace

cv::Mat ResizePil(const cv::Mat& image, cv::Size size, Interpolation filter, cv::Rect roi) {
  if (size.width <= 0 || size.height <= 0) throw Error(ErrorCode::kInput, "resize to an empty size");
  if (roi.area() == 0) roi = cv::Rect(0, 0, size.width, size.height);
  if ((roi & cv::Rect(0, 0, size.width, size.height)) != roi)
    throw Error(ErrorCode::kInternal, "ResizePil: region outside the output");
  const int channels = image.channels();
  if (filter == Interpolation::kNearest) {
    // PIL nearest: source = floor((x + 0.5) * scale), i.e. OpenCV's exact nearest.
    cv::Mat out;
    cv::resize(image, out, size, 0, 0, cv::INTER_NEAREST_EXACT);
    return out(roi).clone();
  }
  const bool horizontal = size.width != image.cols;
  const bool vertical = size.height != image.rows;
  Coeffs cv_ = vertical ? Precompute(image.rows, size.height, roi.y, roi.height, filter) : Coeffs();
  // Source rows the vertical pass reads.
  int row0 = roi.y, row1 = roi.y + roi.height;
  if (vertical) {
    row0 = cv_.bounds[0];
    row1 = cv_.bounds[static_cast<size_t>(roi.height - 1) * 2] + cv_.bounds[static_cast<size_t>(roi.height - 1) * 2 + 1];
  }
  cv::Mat rows = image.rowRange(row0, row1);
  cv::Mat temp;
  if (horizontal) {
    Coeffs ch = Precompute(image.cols, size.width, roi.x, roi.width, filter);
    temp.create(rows.rows, roi.width, image.type());
    ResampleHorizontal(rows, temp, ch, channels);
  } else {
    temp = rows.colRange(roi.x, roi.x + roi.width);
  }
  if (!vertical) return temp.clone();
  cv::Mat out(roi.height, roi.width, image.type());
  cv::Mat src = temp.isContinuous() ? temp : temp.clone();
  ResampleVertical(src, row0, out, cv_, channels);
  return out;
}

cv::Point2f InputTransform::ToSource(cv::Point2f q) const {
  return cv::Point2f(static_cast<float>((q.x - pad_x + crop_x) / scale_x), static_cast<float>((q.y - pad_y + crop_y) / scale_y));
}

cv::Mat InputTransform::MapToSource(const cv::Mat& network_map, double fill) const {
  // network = A * source + b, with A = diag(scale) and b = pad - crop.
  cv::Mat m = (cv::Mat_<double>(2, 3) << scale_x, 0, pad_x - crop_x, 0, scale_y, pad_y - crop_y);
  cv::Mat out;
  cv::warpAffine(network_map, out, m, cv::Size(source_width, source_height), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP,
                 cv::BORDER_CONSTANT, cv::Scalar::all(fill));
  return out;
}

cv::Mat PrepareImage(const cv::Mat& image, const ImagePreprocessing& p, InputTransform* t) {
  cv::Mat img = ToModelColour(image, p.color);
  InputTransform tr;
  tr.source_width = img.cols;
  tr.source_height = img.rows;
  cv::Mat out;
  switch (p.resize) {
    case ResizeMode::kStretch:
      out = Resize(img, cv::Size(p.width, p.height), p);
      tr.scale_x = static_cast<double>(p.width) / img.cols;
      tr.scale_y = static_cast<double>(p.height) / img.rows;
      break;
    case ResizeMode::kCenterCrop: {
      // torchvision Resize(s): shorter side s, longer int(s * long / short).
      const int s = p.resize_shorter > 0 ? p.resize_shorter : std::min(p.width, p.height);
      int w, h;
      if (img.cols <= img.rows) {
        w = s;
        h = static_cast<int>(static_cast<double>(s) * img.rows / img.cols);
      } else {
        h = s;
        w = static_cast<int>(static_cast<double>(s) * img.cols / img.rows);
      }
      tr.scale_x = static_cast<double>(w) / img.cols;
      tr.scale_y = static_cast<double>(h) / img.rows;
      // torchvision CenterCrop: pad when smaller, then offsets round((size - crop) / 2).
      if (w < p.width || h < p.height) {
        cv::Mat resized = Resize(img, cv::Size(w, h), p);
        const int pl = std::max(0, (p.width - w) / 2), pt = std::max(0, (p.height - h) / 2);
        const int pr = std::max(0, (p.width - w + 1) / 2), pb = std::max(0, (p.height - h + 1) / 2);
        cv::copyMakeBorder(resized, resized, pt, pb, pl, pr, cv::BORDER_CONSTANT, cv::Scalar::all(0));
        tr.pad_x = pl;
        tr.pad_y = pt;
        w = resized.cols;
        h = resized.rows;
        tr.crop_x = RoundHalfEven((w - p.width) / 2.0);
        tr.crop_y = RoundHalfEven((h - p.height) / 2.0);
        out = resized(cv::Rect(tr.crop_x, tr.crop_y, p.width, p.height)).clone();
        tr.pad_x -= tr.crop_x;
        tr.pad_y -= tr.crop_y;
        tr.crop_x = tr.crop_y = 0;
      } else {
        tr.crop_x = RoundHalfEven((w - p.width) / 2.0);
        tr.crop_y = RoundHalfEven((h - p.height) / 2.0);
        out = Resize(img, cv::Size(w, h), p, cv::Rect(tr.crop_x, tr.crop_y, p.width, p.height));
      }
      break;
    }
    case ResizeMode::kLetterbox: {
      const double r = std::min(static_cast<double>(p.width) / img.cols, static_cast<double>(p.height) / img.rows);
      cv::Scalar fill;
      for (int c = 0; c < p.channels() && c < 4; ++c) fill[c] = p.pad_value[static_cast<size_t>(c)];
      if (p.sampling == Sampling::kWarp) {
        // NanoDet's keep-ratio transform: T(W/2, H/2) * S(r) * T(-w/2, -h/2),
        // one bilinear perspective warp (the same call NanoDet makes).
        tr.scale_x = tr.scale_y = r;
        tr.pad_x = 0.5 * p.width - r * img.cols / 2.0;
        tr.pad_y = 0.5 * p.height - r * img.rows / 2.0;
        cv::Mat m = (cv::Mat_<double>(3, 3) << r, 0, tr.pad_x, 0, r, tr.pad_y, 0, 0, 1);
        cv::warpPerspective(img, out, m, cv::Size(p.width, p.height), cv::INTER_LINEAR, cv::BORDER_CONSTANT, fill);
        break;
      }
      const int w = std::max(1, static_cast<int>(std::lround(img.cols * r)));
      const int h = std::max(1, static_cast<int>(std::lround(img.rows * r)));
      cv::Mat resized = Resize(img, cv::Size(w, h), p);
      tr.scale_x = static_cast<double>(w) / img.cols;
      tr.scale_y = static_cast<double>(h) / img.rows;
      const int px = (p.width - w) / 2, py = (p.height - h) / 2;
      tr.pad_x = px;
      tr.pad_y = py;
      cv::copyMakeBorder(resized, out, py, p.height - h - py, px, p.width - w - px, cv::BORDER_CONSTANT, fill);
      break;
    }
    case ResizeMode::kPadToSquare: {
      // YOLO-style exports: pad right and bottom to the longer side, then
      // resize the square to the input size.
      const int side = std::max(img.cols, img.rows);
      cv::Scalar fill;
      for (int c = 0; c < p.channels() && c < 4; ++c) fill[c] = p.pad_value[static_cast<size_t>(c)];
      cv::Mat square;
      cv::copyMakeBorder(img, square, 0, side - img.rows, 0, side - img.cols, cv::BORDER_CONSTANT, fill);
      out = Resize(square, cv::Size(p.width, p.height), p);
      tr.scale_x = static_cast<double>(p.width) / side;
      tr.scale_y = static_cast<double>(p.height) / side;
      break;
    }
  }
  if (t) *t = tr;
  return out;
}

void PreprocessInto(const cv::Mat& image, const ImagePreprocessing& p, Tensor* batch, int64_t index, InputTransform* t) {
  const int c = p.channels();
  const bool nchw = p.layout == Layout::kNCHW;
  const std::vector<int64_t> want = nchw ? std::vector<int64_t>{c, p.height, p.width} : std::vector<int64_t>{p.height, p.width, c};
  if (batch->dtype() != DType::kFloat32 || batch->dim() != 4 || index < 0 || index >= batch->size(0) ||
      batch->size(1) != want[0] || batch->size(2) != want[1] || batch->size(3) != want[2])
    throw Error(ErrorCode::kInternal, "PreprocessInto: batch " + batch->Describe() + " does not fit row " + std::to_string(index));
  cv::Mat img = PrepareImage(image, p, t);
  float* out = batch->data<float>() + index * c * p.height * p.width;
  float mul[3], add[3];
  for (int k = 0; k < c; ++k) {
    mul[k] = p.scale / p.std[static_cast<size_t>(k)];
    add[k] = -p.mean[static_cast<size_t>(k)] / p.std[static_cast<size_t>(k)];
  }
  const int plane = p.height * p.width;
  for (int y = 0; y < p.height; ++y) {
    const uint8_t* s = img.ptr<uint8_t>(y);
    for (int x = 0; x < p.width; ++x)
      for (int k = 0; k < c; ++k) {
        const float v = s[x * c + k] * mul[k] + add[k];
        if (nchw) out[k * plane + y * p.width + x] = v;
        else out[(y * p.width + x) * c + k] = v;
      }
  }
}

Tensor PreprocessBatch(const std::vector<cv::Mat>& images, const ImagePreprocessing& p, std::vector<InputTransform>* transforms) {
  const int64_t n = static_cast<int64_t>(images.size());
  const int64_t c = p.channels();
  Tensor batch = Tensor::Empty(DType::kFloat32, p.layout == Layout::kNCHW ? std::vector<int64_t>{n, c, p.height, p.width}
                                                                         : std::vector<int64_t>{n, p.height, p.width, c});
  if (transforms) transforms->assign(images.size(), InputTransform());
  for (int64_t i = 0; i < n; ++i)
    PreprocessInto(images[static_cast<size_t>(i)], p, &batch, i, transforms ? &(*transforms)[static_cast<size_t>(i)] : nullptr);
  return batch;
}

}  // namespace sense::vision
