// sense-embed: one vector per image or text, as JSON Lines or a NumPy file.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <limits>
#include <sstream>

#include "common/app.h"
#include "embed/any_embedder.h"
#include "sense/vision/image_io.h"

namespace {

using json = nlohmann::json;
using sense::app::UsageError;

// A NumPy .npy file (format 1.0): float32, C order, shape (rows, dim).
void WriteNpy(const std::string& path, const std::vector<float>& data, size_t rows, size_t dim) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                       std::to_string(dim) + "), }";
  const size_t total = 10 + header.size() + 1;
  header += std::string((64 - total % 64) % 64, ' ') + "\n";
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw sense::Error(sense::ErrorCode::kFile, path + ": cannot write");
  out.write("\x93NUMPY\x01\x00", 8);
  const uint16_t len = static_cast<uint16_t>(header.size());
  out.put(static_cast<char>(len & 0xff));
  out.put(static_cast<char>(len >> 8));
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size() * sizeof(float)));
  out.close();
  if (!out) throw sense::Error(sense::ErrorCode::kFile, path + ": write failed");
}

std::string Preview(const std::vector<float>& v) {
  std::ostringstream s;
  s << "[" << std::fixed << std::setprecision(4);
  for (size_t i = 0; i < v.size() && i < 6; ++i) s << (i ? ", " : "") << v[i];
  if (v.size() > 6) s << ", ...";
  s << "] (" << v.size() << "-d)";
  return s.str();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string app = "sense-embed";
  return sense::app::Guarded(app, [&]() -> int {
    namespace po = sense::app::po;
    std::vector<std::string> inputs, files;
    std::string model_path, device, npy;
    int batch = 0, threads = 0;
    double max_mp = 0;
    po::options_description opts("Options");
    opts.add_options()
      ("input", po::value(&inputs), "texts (text model) or image files, folders, globs, IDX files (image model); '-' reads stdin")
      ("file,f", po::value(&files), "text model: read texts from this file, one per line (repeatable)")
      ("model,m", po::value(&model_path)->default_value(sense::app::DefaultModelPath("text-embed.pt")),
       "embedding bundle; its task (image_embedding or text_embedding) decides what the inputs are")
      ("npy", po::value(&npy), "also write the vectors to this NumPy .npy file (float32 [inputs, dim], input order; "
                               "rows of failed inputs are NaN)")
      ("quantize", "int8 scalar quantisation: JSON gets \"int8\" codes and \"scale\" (embedding = codes x scale)")
      ("batch-size,b", po::value(&batch)->default_value(0), "inputs per model call (0: the task's default: 16 images, 32 texts)")
      ("threads", po::value(&threads)->default_value(0), "inference threads (0: all cores)")
      ("device", po::value(&device)->default_value("cpu"), "cpu, cuda or cuda:N")
      ("max-megapixels", po::value(&max_mp)->default_value(100.0), "refuse images larger than this, before decoding; in (0, 1000000]")
      ("json", "print JSON Lines: {\"input\": ..., \"embedding\": [...]} per input, in input order");
    po::variables_map vm;
    std::vector<po::option> ordered;
    int rc = 0;
    if (!sense::app::ParseCommandLine(argc, argv, app,
                                      "sense-embed [options] TEXT... | --model IMAGE_MODEL IMAGE|FOLDER|GLOB...\n\n"
                                      "Turns each input into one vector with an embedding bundle (default: the bundled\n"
                                      "sentence model models/text-embed.pt). Prints one line per input, in input order:\n"
                                      "'INPUT: [v1, v2, ...] (D-d)', or 'INPUT: error CODE: message' (also on stderr; the\n"
                                      "exit status is then 1). --json prints every value.\n"
                                      "Examples:\n"
                                      "  sense-embed --json 'A man plays a guitar.' 'Someone is playing music.'\n"
                                      "  sense-embed --model models/fashion-embed.pt photos/ --npy vectors.npy",
                                      opts, "input", &vm, &rc, &ordered))
      return rc;
    if (!sense::app::CheckThreadsOption(app, &threads, &rc)) return rc;
    if (batch < 0) throw UsageError("--batch-size must be >= 1 (0: the default), found " + std::to_string(batch));
    const bool as_json = vm.count("json") > 0;
    sense::app::AnyEmbedderOptions eo;
    eo.model_path = model_path;
    eo.device = device;
    eo.threads = threads;
    eo.batch_size = batch;
    eo.quantize = vm.count("quantize") > 0;
    eo.max_pixels = sense::app::MaxPixelsOption(max_mp);
    auto embedder = sense::app::AnyEmbedder::Create(eo);
    if (embedder->is_image() && !files.empty())
      throw UsageError("--file reads texts, but " + model_path + " is an image model; pass image paths");

    std::vector<sense::app::InputItem> items;
    if (embedder->is_image()) {
      auto exts = sense::vision::ImageExtensions();
      for (const auto& it : sense::app::GatherPaths(inputs, exts)) {
        if (it.error.empty() && sense::app::IsIdxImageFile(it.text)) {
          for (const auto& ref : sense::app::ExpandIdx({it.text})) items.push_back({ref, ref, ""});
        } else {
          items.push_back(it);
        }
      }
    } else {
      items = sense::app::GatherTexts(sense::app::OrderedTextArgs(ordered, "input", "file"));
    }
    if (items.empty()) {
      std::cerr << app << ": no inputs\nTry '" << app << " --help'.\n";
      return 2;
    }
    const size_t dim = static_cast<size_t>(embedder->identity().dim);
    std::vector<float> matrix;
    if (!npy.empty()) matrix.assign(items.size() * dim, std::numeric_limits<float>::quiet_NaN());
    sense::app::Progress progress(items.size(), "embedding");
    int failed = 0;
    auto label = [&](const sense::app::InputItem& it) { return embedder->is_image() ? it.source : it.text; };
    auto print_error = [&](const sense::app::InputItem& it, const std::string& code, const std::string& message) {
      ++failed;
      if (as_json) {
        json j = sense::app::ErrorJson(code, message);
        j["input"] = label(it);
        sense::app::PrintJsonLine(j);
      } else {
        std::cout << sense::app::EscapeControl(label(it)) << ": error " << code << ": " << sense::app::EscapeControl(message) << "\n";
        std::cout.flush();
        sense::app::PrintError(app, it.source, message);
      }
      progress.Tick();
    };
    std::vector<std::string> work;
    std::vector<size_t> item_of;
    for (size_t i = 0; i < items.size(); ++i)
      if (items[i].error.empty()) {
        work.push_back(items[i].text);
        item_of.push_back(i);
      }
    size_t printed = 0;
    auto flush_before = [&](size_t i) {
      for (; printed < i; ++printed) print_error(items[printed], "file", items[printed].error);
    };
    embedder->Embed(work, [&](size_t k, const cv::Mat&, sense::Outcome<sense::Embedding> o) {
      const size_t i = item_of[k];
      flush_before(i);
      printed = i + 1;
      if (!o.ok()) {
        print_error(items[i], sense::ErrorCodeName(o.error().code()), o.error().what());
        return;
      }
      const sense::Embedding& e = o.value();
      if (!matrix.empty()) std::copy(e.values.begin(), e.values.end(), matrix.begin() + static_cast<std::ptrdiff_t>(i * dim));
      if (as_json) {
        json j = {{"input", label(items[i])}, {"embedding", e.values}};
        if (!e.quantized.empty()) {
          j["int8"] = e.quantized;
          j["scale"] = e.scale;
        }
        if (e.truncated) j["truncated"] = true;
        sense::app::PrintJsonLine(j);
      } else {
        std::cout << sense::app::EscapeControl(label(items[i])) << ": " << Preview(e.values) << (e.truncated ? " (truncated)" : "")
                  << "\n";
      }
      progress.Tick();
    });
    flush_before(items.size());
    std::cout.flush();
    progress.Finish();
    if (!npy.empty()) WriteNpy(npy, matrix, items.size(), dim);
    return failed ? 1 : 0;
  });
}
