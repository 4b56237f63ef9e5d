// The README's "use sense from C++" example, built against an installed sense.
#include <sense/vision/image_classifier.h>
#include <sense/vision/image_io.h>

#include <iostream>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: consumer MODEL.pt IMAGE...\n";
    return 2;
  }
  sense::vision::ImageClassifierOptions options;
  options.model.path = argv[1];       // a bundle: labels and preprocessing travel inside
  options.classifier.max_results = 3;
  std::unique_ptr<sense::vision::ImageClassifier> classifier;
  try {
    classifier = sense::vision::ImageClassifier::Create(options);
  } catch (const sense::Error& e) {  // one error type, with a code and a precise message
    std::cerr << "cannot load model: " << e.what() << "\n";
    return 1;
  }
  int failed = 0;
  for (int i = 2; i < argc; ++i) {
    try {
      const cv::Mat image = sense::vision::DecodeImage(argv[i]);
      const sense::Classifications result = classifier->Classify(image);
      std::cout << argv[i] << ":";
      for (const sense::Category& c : result.categories) std::cout << " " << c.label << " " << c.score;
      std::cout << "\n";
    } catch (const sense::Error& e) {
      std::cerr << e.what() << "\n";
      ++failed;
    }
  }
  return failed ? 1 : 0;
}
