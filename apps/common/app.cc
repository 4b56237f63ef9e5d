#include "common/app.h"

#include <glob.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "sense/inference/error.h"
#include "sense/inference/model.h"
#include "sense/inference/system_info.h"

namespace fs = std::filesystem;

namespace sense::app {

bool ParseCommandLine(int argc, char** argv, const std::string& app_name, const std::string& usage,
                      po::options_description& options, const std::string& positional_name, po::variables_map* vm,
                      int* exit_code, std::vector<po::option>* ordered) {
  options.add_options()("help,h", "show this help and exit")("version", "show the version and exit");
  po::positional_options_description pos;
  if (!positional_name.empty()) pos.add(positional_name.c_str(), -1);
  try {
    po::parsed_options parsed = po::command_line_parser(argc, argv).options(options).positional(pos).run();
    po::store(parsed, *vm);
    if (ordered) *ordered = parsed.options;
    if (vm->count("help")) {
      std::cout << "Usage: " << usage << "\n\n" << options << "\n";
      *exit_code = 0;
      return false;
    }
    if (vm->count("version")) {
      std::cout << app_name << " " << SenseVersion() << "\n";
      *exit_code = 0;
      return false;
    }
    po::notify(*vm);
  } catch (const po::error& e) {
    std::cerr << app_name << ": " << e.what() << "\nTry '" << app_name << " --help'.\n";
    *exit_code = 2;
    return false;
  }
  return true;
}

std::string DefaultModelPath(const std::string& file) {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("SENSE_MODELS_DIR")) dirs.emplace_back(env);
  // Next to the executable's install prefix: <prefix>/bin/app -> <prefix>/share/sense/models
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) dirs.push_back((exe.parent_path().parent_path() / "share/sense/models").string());
  dirs.emplace_back(SENSE_INSTALL_MODELS_DIR);
  dirs.emplace_back(SENSE_SOURCE_MODELS_DIR);
  for (const auto& d : dirs) {
    const fs::path p = fs::path(d) / file;
    if (fs::is_regular_file(p)) return p.string();
  }
  return (fs::path(SENSE_SOURCE_MODELS_DIR) / file).string();  // the error will name this path
}

namespace {

bool HasExtension(const fs::path& p, const std::vector<std::string>& exts) {
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), ::tolower);
  return std::find(exts.begin(), exts.end(), e) != exts.end();
}

bool IsGlob(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

void AddPath(const std::string& arg, const std::vector<std::string>& exts, std::vector<InputItem>* out) {
  std::error_code ec;
  if (fs::is_directory(arg, ec)) {
    std::vector<std::string> found;
    for (auto it = fs::recursive_directory_iterator(arg, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_regular_file(ec) && HasExtension(it->path(), exts)) found.push_back(it->path().string());
    }
    std::sort(found.begin(), found.end());
    if (found.empty()) out->push_back({arg, arg, "folder holds no files with a supported extension"});
    for (auto& f : found) out->push_back({f, f, ""});
    return;
  }
  if (!fs::exists(arg, ec) && IsGlob(arg)) {
    glob_t g{};
    const int rc = glob(arg.c_str(), 0, nullptr, &g);
    std::vector<std::string> found;
    if (rc == 0)
      for (size_t i = 0; i < g.gl_pathc; ++i) found.emplace_back(g.gl_pathv[i]);
    globfree(&g);
    if (found.empty()) out->push_back({arg, arg, "no file matches this pattern"});
    for (auto& f : found) {
      if (fs::is_directory(f, ec)) AddPath(f, exts, out);
      else out->push_back({f, f, ""});
    }
    return;
  }
  if (!fs::exists(arg, ec)) {
    out->push_back({arg, arg, "no such file"});
    return;
  }
  out->push_back({arg, arg, ""});
}

}  // namespace

std::vector<InputItem> GatherPaths(const std::vector<std::string>& args, const std::vector<std::string>& exts) {
  std::vector<InputItem> out;
  const bool use_stdin = (args.empty() && !isatty(STDIN_FILENO)) ||
                         std::find(args.begin(), args.end(), "-") != args.end();
  for (const auto& a : args)
    if (a != "-") AddPath(a, exts, &out);
  if (use_stdin) {
    std::string line;
    while (std::getline(std::cin, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) continue;
      AddPath(line, exts, &out);
    }
  }
  return out;
}

std::vector<TextArg> OrderedTextArgs(const std::vector<po::option>& ordered, const std::string& text_key,
                                     const std::string& file_key) {
  std::vector<TextArg> out;
  for (const auto& o : ordered) {
    if (o.string_key != text_key && o.string_key != file_key) continue;
    for (const auto& v : o.value) out.push_back({o.string_key == file_key, v});
  }
  return out;
}

std::vector<InputItem> GatherTexts(const std::vector<TextArg>& args) {
  std::vector<InputItem> out;
  bool stdin_read = false;
  auto read_lines = [&](std::istream& in, const std::string& name) {
    std::string line;
    size_t n = 0;
    while (std::getline(in, line)) {
      ++n;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      out.push_back({name + ":" + std::to_string(n), line, ""});
    }
  };
  auto read_stdin = [&] {
    if (stdin_read) return;  // "-" given twice: stdin has one content
    stdin_read = true;
    read_lines(std::cin, "stdin");
  };
  size_t text_number = 0;
  for (const auto& a : args) {
    if (!a.is_file) {
      ++text_number;
      if (a.value == "-") read_stdin();
      else out.push_back({"arg:" + std::to_string(text_number), a.value, ""});
      continue;
    }
    if (a.value == "-") {
      read_stdin();
      continue;
    }
    std::ifstream in(a.value, std::ios::binary);
    if (!in || fs::is_directory(a.value)) {
      out.push_back({a.value, "", fs::exists(a.value) ? "cannot read this file" : "no such file"});
      continue;
    }
    read_lines(in, a.value);
  }
  if (args.empty()) read_stdin();
  return out;
}

std::vector<InputItem> GatherTexts(const std::vector<std::string>& args, const std::vector<std::string>& files) {
  std::vector<TextArg> all;
  for (const auto& a : args) all.push_back({false, a});
  for (const auto& f : files) all.push_back({true, f});
  return GatherTexts(all);
}

std::string EscapeControl(const std::string& text) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  const auto hex = [&](const char* prefix, unsigned v) {
    out += prefix;
    out += kHex[(v >> 4) & 15];
    out += kHex[v & 15];
  };
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = s[i];
    if (c == '\t') { out += "\\t"; ++i; continue; }
    if (c < 0x20 || c == 0x7f) { hex("\\x", c); ++i; continue; }
    if (c < 0x80) { out += static_cast<char>(c); ++i; continue; }
    // A well-formed UTF-8 sequence (no overlongs, surrogates or values past U+10FFFF)?
    size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    bool ok = len > 0 && i + len <= n;
    for (size_t k = 1; ok && k < len; ++k) ok = (s[i + k] & 0xC0) == 0x80;
    if (ok && len == 3) ok = !(c == 0xE0 && s[i + 1] < 0xA0) && !(c == 0xED && s[i + 1] >= 0xA0);
    if (ok && len == 4) ok = !(c == 0xF0 && s[i + 1] < 0x90) && !(c == 0xF4 && s[i + 1] >= 0x90);
    if (!ok) { hex("\\x", c); ++i; continue; }
    if (len == 2 && c == 0xC2 && s[i + 1] < 0xA0) { hex("\\u00", s[i + 1]); i += 2; continue; }  // C1 controls
    out.append(text, i, len);
    i += len;
  }
  return out;
}

void CheckStdout() {
  errno = 0;
  std::cout.flush();
  int e = errno;
  const bool failed = std::fflush(stdout) != 0 || std::ferror(stdout) || !std::cout;
  if (failed) {
    if (e == 0) e = errno;
    std::clearerr(stdout);
    std::cout.clear();
    throw sense::Error(ErrorCode::kFile, std::string("cannot write to standard output") +
                                             (e ? std::string(": ") + std::strerror(e) : std::string()));
  }
}

static double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

Progress::Progress(std::size_t total, std::string label, std::size_t min_items)
    : total_(total), label_(std::move(label)), enabled_(total >= min_items && isatty(STDERR_FILENO)), start_(Now()) {}

Progress::~Progress() { Finish(); }

void Progress::Tick(std::size_t n) {
  done_ += n;
  if (!enabled_) return;
  const double t = Now();
  if (t - last_draw_ < 0.1 && done_ < total_) return;
  last_draw_ = t;
  Draw();
}

void Progress::Draw() {
  const int width = 30;
  const double frac = total_ ? static_cast<double>(done_) / total_ : 1.0;
  const int filled = static_cast<int>(frac * width);
  const double elapsed = Now() - start_;
  const double rate = elapsed > 0 ? done_ / elapsed : 0;
  std::fprintf(stderr, "\r%s [%s%s] %zu/%zu %5.1f%% %.1f/s", label_.c_str(), std::string(filled, '#').c_str(),
               std::string(width - filled, '.').c_str(), done_, total_, frac * 100, rate);
  std::fflush(stderr);
}

void Progress::Finish() {
  if (!enabled_) return;
  Draw();
  std::fprintf(stderr, "\n");
  enabled_ = false;
}

void PrintJsonLine(const nlohmann::json& j) {
  std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  CheckStdout();
}

void PrintError(const std::string& app_name, const std::string& source, const std::string& message) {
  std::cerr << app_name << ": " << EscapeControl(source.empty() ? "" : source + ": ") << EscapeControl(message) << "\n";
}

nlohmann::json ErrorJson(const std::string& code, const std::string& message) {
  return {{"error", {{"code", code}, {"message", message}}}};
}

int Guarded(const std::string& app_name, const std::function<int()>& body) {
  // Model calls allocate and free the same large activation buffers every
  // time; keeping them on the heap instead of fresh mmaps saves the page
  // faults (about 10% at batch 16). Process-wide, so apps only.
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  int code = 1;
  bool stdout_failed = false;
  try {
    code = body();
    CheckStdout();
  } catch (const UsageError& e) {
    std::cerr << app_name << ": " << EscapeControl(e.what()) << "\nTry '" << app_name << " --help'.\n";
    code = 2;
  } catch (const sense::Error& e) {
    code = 1;
    stdout_failed = e.code() == ErrorCode::kFile && std::string(e.what()).rfind("cannot write to standard output", 0) == 0;
    std::cerr << app_name << ": error (" << ErrorCodeName(e.code()) << "): " << e.what() << "\n";
  } catch (const std::exception& e) {
    code = 1;
    std::cerr << app_name << ": error: " << e.what() << "\n";
  }
  // body's objects (models, open files) are gone by now; what is left are
  // LibTorch's static destructors, which unregister thousands of operators
  // and take about 0.1 s. A command-line run has no use for them.
  if (!stdout_failed) {
    try {
      CheckStdout();  // what body's error path printed
    } catch (const sense::Error& e) {
      std::cerr << app_name << ": error (" << ErrorCodeName(e.code()) << "): " << e.what() << "\n";
      code = 1;
    }
  }
  std::cerr.flush();
  std::fflush(nullptr);
  if (std::getenv("SENSE_CLEAN_EXIT") == nullptr) std::_Exit(code);
  return code;
}

int ResolveThreads(int requested) { return requested > 0 ? requested : AvailableCores(); }

bool CheckThreadsOption(const std::string& app_name, int* threads, int* exit_code) {
  if (*threads < 0) {
    std::cerr << app_name << ": --threads must be 0 (all usable cores) or a positive count, found " << *threads
              << "\nTry '" << app_name << " --help'.\n";
    *exit_code = 2;
    return false;
  }
  const int cores = AvailableCores();
  if (*threads > cores) {
    std::cerr << app_name << ": --threads " << *threads << " is more than the " << cores << " usable core"
              << (cores == 1 ? "" : "s") << "; using " << cores << "\n";
    *threads = cores;
  }
  return true;
}

int64_t MaxPixelsOption(double megapixels) {
  if (!(megapixels > 0 && megapixels <= 1e6)) {
    std::ostringstream v;
    v << megapixels;
    throw UsageError("--max-megapixels must be in (0, 1000000], found " + v.str());
  }
  return std::max<int64_t>(1, std::llround(megapixels * 1e6));
}

}  // namespace sense::app
