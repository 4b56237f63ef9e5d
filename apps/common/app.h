// apps/common/app.h — what every sense app shares: option boilerplate,
// gathering inputs (files, folders, globs, stdin), progress on stderr, JSON
// Lines output and exit status. Not installed; apps only.
#ifndef SENSE_APPS_COMMON_APP_H_
#define SENSE_APPS_COMMON_APP_H_

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace sense::app {

namespace po = boost::program_options;

// Parses argv against `options` (+ --help, --version added here) with
// `positional` collecting the remaining arguments. Prints usage for --help and
// the version for --version and returns that exit code (0) in *exit_code;
// on a parse error prints it with a hint and sets *exit_code = 2.
// Returns true when the app should go on.
bool ParseCommandLine(int argc, char** argv, const std::string& app_name,
                      const std::string& usage, po::options_description& options,
                      const std::string& positional_name, po::variables_map* vm,
                      int* exit_code);

// Default model path: $SENSE_MODELS_DIR/<file>, else the installed share
// folder, else <source>/models/<file>, whichever exists first.
std::string DefaultModelPath(const std::string& file);

// One input to process. `error` is set when gathering it already failed
// (a path that does not exist, a glob with no match); such items keep their
// place in the output order.
struct InputItem {
  std::string source;  // path, "stdin:N", "arg:N", "file:N"
  std::string text;    // text apps: the line; image apps: the path
  std::string error;
};

// Image inputs: each argument is a file, a folder (walked recursively, image
// extensions only, sorted), or a glob. "-" or no arguments with stdin not a
// terminal read one path per line from stdin.
std::vector<InputItem> GatherPaths(const std::vector<std::string>& args,
                                   const std::vector<std::string>& extensions);

// Text inputs: each argument is one text; each --file is read one text per
// line; with no arguments and no files (or "-"), stdin is read one text per
// line. Lines keep their order; empty lines are kept (the task reports them).
std::vector<InputItem> GatherTexts(const std::vector<std::string>& args,
                                   const std::vector<std::string>& files);

// A progress bar on stderr, drawn only when stderr is a terminal and there
// are at least `min_items` items. Thread-compatible (one thread ticks).
class Progress {
 public:
  Progress(std::size_t total, std::string label, std::size_t min_items = 20);
  ~Progress();
  void Tick(std::size_t n = 1);
  void Finish();

 private:
  void Draw();
  std::size_t total_, done_ = 0;
  std::string label_;
  bool enabled_;
  double start_;
  double last_draw_ = 0;
};

// Writes one JSON object as a line on stdout and flushes.
void PrintJsonLine(const nlohmann::json& j);

// Prints "sense-<app>: <source>: <message>" on stderr.
void PrintError(const std::string& app_name, const std::string& source, const std::string& message);

// JSON form of an error for --json output: {"error": {"code": ..., "message": ...}}.
nlohmann::json ErrorJson(const std::string& code, const std::string& message);

// Runs `body` and turns a sense::Error or std::exception escaping it into a
// message on stderr and exit status 1. Apps wrap main's work in it. It also
// tunes malloc for repeated large model buffers (heap, not mmap). When body
// is done it flushes the standard streams and ends the process with
// std::_Exit, skipping static destructors (LibTorch's take about 0.1 s);
// set SENSE_CLEAN_EXIT=1 to return normally (leak checkers).
int Guarded(const std::string& app_name, const std::function<int()>& body);

// Number of threads: 0 means all cores this process may use.
int ResolveThreads(int requested);

// --threads, checked once at start-up. Negative: prints a usage error naming
// --threads, sets *exit_code = 2 and returns false. Above the cores this
// process may use (AvailableCores()): prints "<app>: --threads 1000 is more
// than the 2 usable cores; using 2" once on stderr and lowers *threads to
// that count. 0 (all cores) and counts in range are left as they are.
//   if (!sense::app::CheckThreadsOption(app, &threads, &rc)) return rc;
bool CheckThreadsOption(const std::string& app_name, int* threads, int* exit_code);

}  // namespace sense::app

#endif  // SENSE_APPS_COMMON_APP_H_
