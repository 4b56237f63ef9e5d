#include "sense/vision/mat_tensor.h"

#include <memory>
#include <string>

namespace sense::vision {

Tensor TensorFromMat(const cv::Mat& mat, bool drop_channel_dim) {
  if (mat.empty()) throw Error(ErrorCode::kInput, "cannot view an empty cv::Mat as a tensor");
  if (mat.dims != 2) throw Error(ErrorCode::kInput, "expected a 2-D cv::Mat, found " + std::to_string(mat.dims) + " dimensions");
  if (!mat.isContinuous())
    throw Error(ErrorCode::kInput, "cv::Mat is not continuous (a ROI or strided view); clone() it first");
  DType dtype;
  switch (mat.depth()) {
    case CV_8U: dtype = DType::kUInt8; break;
    case CV_32S: dtype = DType::kInt32; break;
    case CV_32F: dtype = DType::kFloat32; break;
    case CV_64F: dtype = DType::kFloat64; break;
    default:
      throw Error(ErrorCode::kInput, "cv::Mat depth " + std::to_string(mat.depth()) +
                                         " is not supported; expected CV_8U, CV_32S, CV_32F or CV_64F");
  }
  auto keep = std::make_shared<cv::Mat>(mat);  // shares the Mat's refcounted buffer
  std::vector<int64_t> shape = {mat.rows, mat.cols};
  if (!(drop_channel_dim && mat.channels() == 1)) shape.push_back(mat.channels());
  return Tensor::View(keep->data, dtype, std::move(shape), keep);
}

}  // namespace sense::vision
