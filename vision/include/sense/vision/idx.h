// sense/vision/idx.h — reading IDX files (MNIST, Fashion-MNIST), raw or gzip.
//
// Thread safety: free functions, safe from several threads.
#ifndef SENSE_VISION_IDX_H_
#define SENSE_VISION_IDX_H_

#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "sense/inference/error.h"

namespace sense::vision {

// An idx3-ubyte image file as 8-bit gray images (rows x cols each).
// Throws Error(kFile) / Error(kInput) naming the file and the bad field. The
// file is read only as far as its header declares: a file holding more data
// (a small gzip that inflates past it) is refused without inflating the
// rest, and headers declaring over 2 GiB are refused before reading.
std::vector<cv::Mat> ReadIdxImages(const std::string& path);
// An idx1-ubyte label file.
std::vector<int> ReadIdxLabels(const std::string& path);

}  // namespace sense::vision

#endif  // SENSE_VISION_IDX_H_
