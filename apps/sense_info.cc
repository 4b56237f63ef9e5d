// sense-info: what a model bundle is (task, labels, inputs, outputs,
// preprocessing, provenance, size, backend), with --system what math stack
// sense runs on, and with --check whether metadata is valid (the C++ loader's
// rules: scripts/pack_model.py validates through it).
#include <fstream>
#include <iomanip>
#include <iostream>
#include <iterator>
#include <sstream>

#include "common/app.h"
#include "sense/inference/model.h"
#include "sense/inference/system_info.h"
#include "sense/text/text_inputs.h"

namespace {

using sense::ModelMetadata;
using json = nlohmann::json;

std::string Shape(const sense::TensorSpec& s) {
  std::ostringstream o;
  o << s.name << ": " << sense::DTypeName(s.dtype) << "[";
  for (size_t i = 0; i < s.shape.size(); ++i) o << (i ? ", " : "") << (s.shape[i] < 0 ? std::string("?") : std::to_string(s.shape[i]));
  o << "]";
  return o.str();
}

std::string Floats(const std::vector<float>& v) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < v.size(); ++i) o << (i ? ", " : "") << v[i];
  o << "]";
  return o.str();
}

std::string Bytes(double n) {
  const char* units[] = {"B", "KB", "MB", "GB"};
  int u = 0;
  while (n >= 1024 && u < 3) { n /= 1024; ++u; }
  std::ostringstream o;
  o << std::fixed << std::setprecision(u ? 1 : 0) << n << " " << units[u];
  return o.str();
}

void Row(const std::string& key, const std::string& value) {
  std::cout << "  " << std::left << std::setw(13) << key << value << "\n";
}

void PrintHuman(const sense::Model& model) {
  const ModelMetadata& m = model.metadata();
  std::cout << model.path() << "\n";
  Row("name", m.name + (m.version.empty() ? "" : " " + m.version));
  Row("task", sense::TaskName(m.task));
  if (!m.description.empty()) Row("description", m.description);
  Row("backend", model.backend() + " on " + model.device().ToString() + ", " + std::to_string(model.num_threads()) + " thread(s)");
  Row("graph", model.optimization());
  Row("file", Bytes(static_cast<double>(model.file_size())) + ", metadata " +
                  (model.metadata_source() == "embedded" ? "embedded" : "from " + model.metadata_source()));
  if (m.weights_dtype != "float32") Row("weights", "stored as " + m.weights_dtype + ", converted to float32 at load");
  if (!m.labels.empty()) {
    std::string l;
    for (size_t i = 0; i < m.labels.size() && i < 20; ++i) l += (i ? ", " : "") + m.labels[i];
    if (m.labels.size() > 20) l += ", ... (" + std::to_string(m.labels.size() - 20) + " more)";
    Row("labels (" + std::to_string(m.labels.size()) + ")", l);
  }
  for (size_t i = 0; i < m.inputs.size(); ++i) Row(i ? "" : "inputs", Shape(m.inputs[i]));
  for (size_t i = 0; i < m.outputs.size(); ++i) Row(i ? "" : "outputs", Shape(m.outputs[i]));
  if (m.image) {
    const auto& p = *m.image;
    const char* color[] = {"RGB", "BGR", "gray"};
    const char* resize[] = {"stretch", "center crop", "letterbox", "pad to square"};
    const char* interp[] = {"nearest", "bilinear", "bicubic", "area"};
    std::ostringstream o;
    o << p.width << "x" << p.height << " " << color[static_cast<int>(p.color)] << " "
      << (p.layout == sense::Layout::kNCHW ? "NCHW" : "NHWC") << "; resize: " << resize[static_cast<int>(p.resize)];
    if (p.resize == sense::ResizeMode::kCenterCrop) o << " (shorter side " << p.resize_shorter << ")";
    if (p.resize == sense::ResizeMode::kLetterbox && p.sampling == sense::Sampling::kWarp) o << " (one warp, NanoDet's)";
    if (p.resize == sense::ResizeMode::kLetterbox || p.resize == sense::ResizeMode::kPadToSquare)
      o << " (pad " << Floats(p.pad_value) << ")";
    o << ", " << interp[static_cast<int>(p.interpolation)] << (p.antialias ? " antialiased" : "");
    Row("image", o.str());
    Row("normalise", "x * " + std::to_string(p.scale) + ", mean " + Floats(p.mean) + ", std " + Floats(p.std));
  }
  if (m.text) {
    const auto& t = *m.text;
    Row("tokenizer", std::string(t.tokenizer.type == sense::TokenizerType::kSentencePiece ? "SentencePiece" : "WordPiece") +
                         " (asset " + t.tokenizer.asset + ")" + (t.tokenizer.lowercase ? ", lower-cased" : ""));
    Row("sequence", "max " + std::to_string(t.max_length) + " tokens");
  }
  const char* act[] = {"softmax", "sigmoid", "none"};
  std::ostringstream out;
  const char* type[] = {"logits", "probabilities", "embeddings", "detections", "token logits"};
  out << m.output.name << " (" << type[static_cast<int>(m.output.type)] << ")";
  if (m.output.type == sense::OutputType::kProbabilities) out << ", used as given";
  else out << " -> " << act[static_cast<int>(m.output.activation)];
  if (m.output.temperature != 1.0f) out << " (temperature " << m.output.temperature << ")";
  Row("output", out.str());
  if (m.detection) {  // detection (issue 13)
    const auto& d = *m.detection;
    const char* fmt[] = {"xyxy", "cxcywh", "xywh"};
    std::ostringstream o;
    o << d.layout << ", boxes " << fmt[static_cast<int>(d.box_format)] << (d.normalized ? " normalized" : " in pixels");
    if (d.gfl) {
      o << "; strides";
      for (int s : d.gfl->strides) o << " " << s;
      o << ", reg_max " << d.gfl->reg_max << ", centre offset " << d.gfl->centre_offset;
    }
    if (d.num_keypoints) o << "; " << d.num_keypoints << " keypoints";
    Row("detection", o.str());
    std::ostringstream r;
    if (!d.boxes_output.empty()) r << "boxes " << d.boxes_output << ", ";
    if (!d.scores_output.empty()) r << "scores " << d.scores_output << ", ";
    if (!d.labels_output.empty()) r << "labels " << d.labels_output << (d.label_offset ? " (offset " + std::to_string(d.label_offset) + ")" : "") << ", ";
    if (!d.count_output.empty()) r << "count " << d.count_output << ", ";
    if (!d.keypoints_output.empty()) r << "keypoints " << d.keypoints_output << ", ";
    for (const auto& p : d.predictions_outputs) r << "predictions " << p << ", ";
    if (d.gfl) r << "scores " << d.gfl->scores_output << ", distributions " << d.gfl->distributions_output << ", ";
    std::string roles = r.str();
    if (!roles.empty()) Row("reads", roles.substr(0, roles.size() - 2));
    std::ostringstream df;
    df << "score >= " << d.score_threshold << ", " << (d.nms_applied ? "NMS in the model" : (d.class_agnostic_nms ? "class-agnostic NMS " : "NMS ")) ;
    if (!d.nms_applied) df << "IoU " << d.iou_threshold;
    df << ", at most " << d.max_detections << (d.multi_label ? ", every class above the threshold per box" : "");
    Row("defaults", df.str());
  }
  if (m.explain) Row("explain", m.explain->method + (m.explain->features_method.empty() ? "" : " (" + m.explain->features_method + " -> " + m.explain->head_method + ")"));
  if (m.ood) {  // out-of-domain detector
    const auto& o = *m.ood;
    std::string sig;
    for (const auto& g : o.signals) sig += std::string(sig.empty() ? "" : " + ") + sense::OodSignalName(g.kind);
    std::ostringstream v;
    v << sig << (o.signals.size() > 1 ? " (largest standardised signal)" : " (standardised)")
      << "; flagged above " << o.threshold << ", which accepts " << o.tpr * 100 << " % of held-in data";
    Row("ood", v.str());
    Row("", "domain: " + o.domain);
    if (o.Uses(sense::OodSignalKind::kMahalanobis))
      Row("", "features: output '" + o.features_output + "' (" + std::to_string(o.feature_dim) + "), statistics in asset " +
                  o.statistics_asset);
    Row("", "fitted on: " + o.fitted_on);
    Row("", "threshold on: " + o.threshold_on);
    if (!o.command.empty()) Row("", "command: " + o.command);
  }
  for (const auto& a : model.AssetNames()) Row("asset", a + " (" + Bytes(static_cast<double>(model.Asset(a).size())) + ")");
  const auto& pv = m.provenance;
  if (!pv.training_data.empty()) Row("trained on", pv.training_data);
  if (!pv.script.empty()) Row("script", pv.script);
  if (!pv.command.empty()) Row("command", pv.command);
  if (!pv.created.empty()) Row("created", pv.created);
  if (!pv.framework.empty()) Row("framework", pv.framework);
  if (!pv.license.empty()) Row("licence", pv.license);
  bool first = true;
  for (const auto& kv : pv.metrics) {
    std::ostringstream v;
    v << kv.first << " = " << kv.second;
    Row(first ? "metrics" : "", v.str());
    first = false;
  }
  if (!pv.notes.empty()) Row("notes", pv.notes);
}

json ModelJson(const sense::Model& model) {
  json assets = json::object();
  for (const auto& a : model.AssetNames()) assets[a] = {{"bytes", model.Asset(a).size()}};
  return {{"path", model.path()},
          {"size_bytes", model.file_size()},
          {"backend", model.backend()},
          {"device", model.device().ToString()},
          {"threads", model.num_threads()},
          {"optimization", model.optimization()},
          {"metadata_source", model.metadata_source()},
          {"assets", assets},
          {"metadata", json::parse(model.metadata().json)}};
}

int PrintSystem(bool as_json, int gemm_n) {
  const sense::SystemInfo s = sense::GetSystemInfo();
  const double g1 = gemm_n > 0 ? sense::MeasureGemmGflops(gemm_n, 1) : 0;
  const double gn = gemm_n > 0 ? sense::MeasureGemmGflops(gemm_n, s.available_cores) : 0;
  if (as_json) {
    json j = {{"sense_version", s.sense_version}, {"torch_version", s.torch_version},
              {"opencv_version", s.opencv_version}, {"blas_library", s.blas_library},
              {"blas_vendor", s.blas_vendor}, {"blas_is_fast", s.blas_is_fast},
              {"cpu_capability", s.cpu_capability}, {"parallel_backend", s.parallel_backend},
              {"available_cores", s.available_cores}, {"torch_threads_at_start", s.torch_threads},
              {"torch_interop_threads", s.torch_interop_threads}, {"cuda_available", s.cuda_available},
              {"cuda_devices", s.cuda_devices}};
    if (gemm_n > 0) j["gemm"] = {{"n", gemm_n}, {"gflops_1_thread", g1}, {"gflops_all_cores", gn}};
    sense::app::PrintJsonLine(j);
  } else {
    std::cout << "sense " << s.sense_version << " (LibTorch " << s.torch_version << ", OpenCV " << s.opencv_version << ")\n";
    Row("BLAS", s.blas_vendor);
    Row("", s.blas_library.empty() ? "(no BLAS library mapped)" : s.blas_library);
    Row("CPU kernels", s.cpu_capability);
    Row("parallelism", s.parallel_backend + "; " + std::to_string(s.available_cores) + " core(s) available; LibTorch starts with " +
                           std::to_string(s.torch_threads) + " intra-op thread(s), sense models default to " +
                           std::to_string(s.available_cores));
    Row("CUDA", s.cuda_available ? std::to_string(s.cuda_devices) + " device(s)" : "not available in this build/machine");
    if (gemm_n > 0) {
      std::ostringstream o;
      o << std::fixed << std::setprecision(1) << g1 << " GFLOP/s on 1 thread, " << gn << " on " << s.available_cores
        << " (float32 " << gemm_n << "^3 matrix product)";
      Row("GEMM", o.str());
    }
    if (!s.blas_is_fast)
      std::cout << "warning: a slow BLAS is in use; linear layers and LSTMs run ~15x slower. Install libopenblas0-openmp.\n";
  }
  return 0;
}

bool EndsWithJson(const std::string& path) {
  return path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0;
}

// --check: parses metadata exactly as Model::Load does (ParseMetadata), from
// a sense.json file, "-" (stdin), or a bundle (embedded or sidecar
// metadata), without loading the model. Throws the sense::Error.
sense::ModelMetadata CheckMetadata(const std::string& path, const std::string& metadata_path) {
  if (path == "-") {
    const std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    return sense::ParseMetadata(text, "stdin");
  }
  if (!EndsWithJson(path)) return sense::ReadBundleMetadata(path, metadata_path);
  std::ifstream f(path, std::ios::binary);
  if (!f) throw sense::Error(sense::ErrorCode::kFile, path + ": cannot be opened for reading");
  const std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return sense::ParseMetadata(text, path);
}

// A file that failed: its message on stderr, and with --json its error
// object (plus `extra` fields) as the file's line.
void ReportError(const std::string& app, const std::string& path, const sense::Error& e, bool as_json,
                 const json& extra = json::object()) {
  sense::app::PrintError(app, "", e.what());
  if (!as_json) return;
  json j = sense::app::ErrorJson(sense::ErrorCodeName(e.code()), e.what());
  j["path"] = path;
  j.update(extra);
  sense::app::PrintJsonLine(j);
}

int RunCheck(const std::string& app, const std::vector<std::string>& files, const std::string& metadata_path,
             bool as_json) {
  int failed = 0;
  for (const auto& path : files) {
    try {
      const sense::ModelMetadata m = CheckMetadata(path, metadata_path);
      if (as_json) sense::app::PrintJsonLine({{"path", path}, {"valid", true}, {"task", sense::TaskName(m.task)}, {"name", m.name}});
      else std::cout << path << ": valid sense metadata (" << sense::TaskName(m.task) << " \"" << m.name << "\")\n";
    } catch (const sense::Error& e) {
      ++failed;
      ReportError(app, path, e, as_json, {{"valid", false}});
    }
  }
  return failed ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string app = "sense-info";
  return sense::app::Guarded(app, [&]() -> int {
    namespace po = sense::app::po;
    std::vector<std::string> models;
    std::string device, metadata_path;
    int gemm_n = 0, threads = 0;
    po::options_description opts("Options");
    opts.add_options()
      ("model", po::value(&models), "model bundle(s) (.pt, or .onnx with a sidecar .json)")
      ("json", "print one JSON object per model (JSON Lines)")
      ("system", "show the BLAS, threads, CPU kernels and CUDA that sense runs on")
      ("gemm", po::value(&gemm_n)->default_value(0), "with --system: time an N^3 float32 matrix product (e.g. 1024)")
      ("check", "only validate the metadata of each FILE (a sense.json, \"-\" for stdin, or a bundle) with the\n"
                "loader's rules, without loading the model; exit 1 if any is invalid")
      ("device", po::value(&device)->default_value("cpu"), "device to load on: cpu, cuda, cuda:N")
      ("threads", po::value(&threads)->default_value(0), "threads to load the model with (0: all cores)")
      ("metadata", po::value(&metadata_path), "sidecar sense.json to use instead of the embedded one");
    po::variables_map vm;
    int rc = 0;
    if (!sense::app::ParseCommandLine(argc, argv, app,
                                      "sense-info [options] MODEL...\n       sense-info --system [--gemm 1024]\n       sense-info --check FILE...\n\n"
                                      "Shows what a sense model bundle is: task, labels, inputs and outputs, preprocessing,\n"
                                      "provenance and metrics, size and backend.",
                                      opts, "model", &vm, &rc))
      return rc;
    if (!sense::app::CheckThreadsOption(app, &threads, &rc)) return rc;
    const bool as_json = vm.count("json") > 0;
    if (vm.count("system")) {
      PrintSystem(as_json, gemm_n);
      if (models.empty()) return 0;
    }
    if (models.empty()) {
      std::cerr << app << ": no " << (vm.count("check") ? "file" : "model") << " given\nTry '" << app << " --help'.\n";
      return 2;
    }
    if (vm.count("check")) return RunCheck(app, models, metadata_path, as_json);
    int failed = 0;
    for (const auto& path : models) {
      try {
        sense::ModelOptions mo;
        mo.path = path;
        mo.device = device;
        mo.metadata_path = metadata_path;
        mo.num_threads = threads;
        // A text bundle is checked at load on rows of its own tokenizer's ids
        // (as TextClassifier loads it), so the "graph" row shows what a task
        // would run. When that cannot be set up (not a bundle, a tokenizer
        // that cannot be read first), Model::Load runs with zero inputs and
        // reports what is wrong with the file itself.
        try {
          mo = sense::text::WithTextSampleInputs(mo);
        } catch (const sense::Error&) {
        }
        auto model = sense::Model::Load(mo);
        if (as_json) sense::app::PrintJsonLine(ModelJson(*model));
        else PrintHuman(*model);
      } catch (const sense::Error& e) {
        ++failed;
        ReportError(app, path, e, as_json);
      }
    }
    return failed ? 1 : 0;
  });
}
