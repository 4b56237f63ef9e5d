// The README's "use sense from C++" example, built against an installed sense.
#include <sense/inference/model.h>

#include <algorithm>
#include <iostream>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: consumer MODEL.pt IMAGE\n";
    return 2;
  }
  try {
    sense::ModelOptions options;
    options.path = argv[1];
    auto model = sense::Model::Load(options);
    const sense::ModelMetadata& meta = model->metadata();
    const sense::ImagePreprocessing& pre = *meta.image;

    // Preprocess by the bundle's metadata (stretch resize, for brevity).
    cv::Mat bgr = cv::imread(argv[2], cv::IMREAD_COLOR), rgb, small, x;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    cv::resize(rgb, small, cv::Size(pre.width, pre.height), 0, 0, cv::INTER_AREA);
    small.convertTo(x, CV_32FC3, pre.scale);
    sense::Tensor input = sense::Tensor::Zeros(sense::DType::kFloat32, {1, 3, pre.height, pre.width});
    float* p = input.data<float>();
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < pre.height; ++y)
        for (int i = 0; i < pre.width; ++i)
          p[(c * pre.height + y) * pre.width + i] = (x.at<cv::Vec3f>(y, i)[c] - pre.mean[c]) / pre.std[c];

    sense::Tensor logits = model->Run({{meta.inputs[0].name, input}}).at(meta.output.name);
    const float* l = logits.data<float>();
    const int best = static_cast<int>(std::max_element(l, l + logits.size(-1)) - l);
    std::cout << meta.labels[best] << " " << l[best] << "\n";
  } catch (const sense::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
