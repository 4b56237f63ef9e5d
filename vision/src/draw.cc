#include "sense/vision/draw.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include <opencv2/imgproc.hpp>

#include "sense/inference/error.h"

namespace sense::vision {

namespace {

// Tableau 20 (BGR): distinct hues, each in a dark and a light shade.
const cv::Scalar kPalette[20] = {
    {180, 119, 31},  {14, 127, 255},  {44, 160, 44},   {40, 39, 214},   {189, 103, 148},
    {75, 86, 140},   {194, 119, 227}, {127, 127, 127}, {34, 189, 188},  {207, 190, 23},
    {232, 199, 174}, {120, 187, 255}, {138, 223, 152}, {150, 152, 255}, {213, 176, 197},
    {148, 156, 196}, {210, 182, 247}, {199, 199, 199}, {141, 219, 219}, {229, 218, 158}};

void CheckImage(const cv::Mat& image, const Detections& d, const char* fn) {
  if (image.empty()) throw Error(ErrorCode::kInput, std::string(fn) + ": the image is empty");
  if (image.depth() != CV_8U || (image.channels() != 1 && image.channels() != 3 && image.channels() != 4))
    throw Error(ErrorCode::kInput, std::string(fn) + ": expected an 8-bit gray, BGR or BGRA image, found depth " +
                                       std::to_string(image.depth()) + " with " + std::to_string(image.channels()) +
                                       " channels");
  if ((d.image_width || d.image_height) && (image.cols != d.image_width || image.rows != d.image_height))
    throw Error(ErrorCode::kInput, std::string(fn) + ": the detections were made on a " + std::to_string(d.image_width) +
                                       " x " + std::to_string(d.image_height) + " image, this one is " +
                                       std::to_string(image.cols) + " x " + std::to_string(image.rows));
}

}  // namespace

cv::Scalar ClassColor(int class_index) { return kPalette[class_index < 0 ? 0 : class_index % 20]; }

cv::Mat DrawDetections(const cv::Mat& image, const Detections& detections, const DrawOptions& options) {
  CheckImage(image, detections, "DrawDetections");
  if (options.line_width < 0) throw Error(ErrorCode::kOption, "DrawOptions::line_width must be >= 0, found " + std::to_string(options.line_width));
  if (!(options.text_scale >= 0)) throw Error(ErrorCode::kOption, "DrawOptions::text_scale must be >= 0");
  cv::Mat out;
  if (image.channels() == 1) cv::cvtColor(image, out, cv::COLOR_GRAY2BGR);
  else if (image.channels() == 4) cv::cvtColor(image, out, cv::COLOR_BGRA2BGR);
  else out = image.clone();
  const int shorter = std::min(out.cols, out.rows);
  const int lw = options.line_width > 0 ? options.line_width : std::max(2, static_cast<int>(std::lround(shorter / 250.0)));
  const double scale = options.text_scale > 0 ? options.text_scale : std::max(0.4, shorter / 900.0);
  const int text_thickness = std::max(1, static_cast<int>(std::lround(scale * 1.6)));
  const cv::Scalar dark(20, 20, 20);
  // Boxes lowest score first, so the best ends up on top; then the labels,
  // placed best first where they hide no label already placed: above the
  // box, else inside its top edge, else below it (else above, overlapping).
  std::vector<const Detection*> order;
  for (const auto& d : detections.detections) order.push_back(&d);
  std::stable_sort(order.begin(), order.end(), [](const Detection* a, const Detection* b) { return a->score < b->score; });
  auto corners = [](const Detection* d) {
    const cv::Point p1(static_cast<int>(std::floor(d->box.x1)), static_cast<int>(std::floor(d->box.y1)));
    const cv::Point p2(std::max(p1.x, static_cast<int>(std::ceil(d->box.x2)) - 1),
                       std::max(p1.y, static_cast<int>(std::ceil(d->box.y2)) - 1));
    return std::make_pair(p1, p2);
  };
  for (const Detection* d : order) {
    const cv::Scalar colour = ClassColor(d->class_index);
    const auto [p1, p2] = corners(d);
    // Dark outline on both sides of the coloured line: visible on any background.
    cv::rectangle(out, p1, p2, dark, lw + 2, cv::LINE_AA);
    cv::rectangle(out, p1, p2, colour, lw, cv::LINE_AA);
    for (const auto& k : d->keypoints) {
      if (!options.keypoints) break;
      cv::circle(out, k, lw + 2, dark, cv::FILLED, cv::LINE_AA);
      cv::circle(out, k, lw + 1, colour, cv::FILLED, cv::LINE_AA);
    }
  }
  if (!options.labels) return out;
  struct Label {
    cv::Rect rect;
    std::string text;
    cv::Scalar colour;
    int baseline_y;
  };
  std::vector<Label> placed;
  const int pad = std::max(2, lw);
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const Detection* d = *it;
    const auto [p1, p2] = corners(d);
    std::string text = d->label.empty() ? "class " + std::to_string(d->class_index) : d->label;
    if (options.scores) {
      char buf[16];
      std::snprintf(buf, sizeof(buf), " %.2f", d->score);
      text += buf;
    }
    int baseline = 0;
    const cv::Size ts = cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, scale, text_thickness, &baseline);
    const int bh = ts.height + baseline + 2 * pad, bw = ts.width + 2 * pad;
    const int x = std::clamp(p1.x - lw / 2, 0, std::max(0, out.cols - bw));
    auto at = [&](int y) { return cv::Rect(x, std::clamp(y, 0, std::max(0, out.rows - bh)), bw, bh); };
    std::vector<cv::Rect> candidates;
    if (p1.y - lw / 2 - bh >= 0) candidates.push_back(at(p1.y - lw / 2 - bh));  // above, when there is room
    candidates.push_back(at(p1.y + lw));                                         // inside the top edge
    if (p2.y + lw / 2 + 1 + bh <= out.rows) candidates.push_back(at(p2.y + lw / 2 + 1));  // below
    cv::Rect chosen = candidates.front();
    for (const cv::Rect& c : candidates) {
      const bool free = std::none_of(placed.begin(), placed.end(), [&](const Label& l) { return (l.rect & c).area() > 0; });
      if (free) {
        chosen = c;
        break;
      }
    }
    placed.push_back({chosen, text, ClassColor(d->class_index), chosen.y + pad + ts.height});
  }
  // Drawn lowest score first, so where labels must overlap the best is on top.
  for (auto it = placed.rbegin(); it != placed.rend(); ++it) {
    cv::rectangle(out, it->rect, it->colour, cv::FILLED);
    cv::rectangle(out, it->rect, dark, 1);
    // Black or white text, whichever contrasts more with the fill (ITU-R BT.601 luma).
    const double luma = 0.114 * it->colour[0] + 0.587 * it->colour[1] + 0.299 * it->colour[2];
    const cv::Scalar ink = luma > 140 ? cv::Scalar(0, 0, 0) : cv::Scalar(255, 255, 255);
    cv::putText(out, it->text, cv::Point(it->rect.x + pad, it->baseline_y), cv::FONT_HERSHEY_SIMPLEX, scale, ink,
                text_thickness, cv::LINE_AA);
  }
  return out;
}

cv::Rect CropRect(const Box& box, const cv::Size& size, float padding) {
  const float pw = padding * box.width(), ph = padding * box.height();
  int x1 = static_cast<int>(std::floor(box.x1 - pw)), y1 = static_cast<int>(std::floor(box.y1 - ph));
  int x2 = static_cast<int>(std::ceil(box.x2 + pw)), y2 = static_cast<int>(std::ceil(box.y2 + ph));
  x1 = std::clamp(x1, 0, size.width - 1);
  y1 = std::clamp(y1, 0, size.height - 1);
  x2 = std::clamp(x2, x1 + 1, size.width);
  y2 = std::clamp(y2, y1 + 1, size.height);
  return cv::Rect(x1, y1, x2 - x1, y2 - y1);
}

std::vector<cv::Mat> CropDetections(const cv::Mat& image, const Detections& detections, const CropOptions& options) {
  CheckImage(image, detections, "CropDetections");
  if (!(options.padding >= 0 && std::isfinite(options.padding)))
    throw Error(ErrorCode::kOption, "CropOptions::padding must be a finite fraction >= 0");
  std::vector<cv::Mat> out;
  out.reserve(detections.detections.size());
  for (const auto& d : detections.detections) out.push_back(image(CropRect(d.box, image.size(), options.padding)).clone());
  return out;
}

}  // namespace sense::vision
