// apps/common/app.h — what every sense app shares: option boilerplate,
// gathering inputs (files, folders, globs, stdin), progress on stderr, JSON
// Lines output and exit status. Not installed; apps only.
#ifndef SENSE_APPS_COMMON_APP_H_
#define SENSE_APPS_COMMON_APP_H_

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "sense/inference/error.h"
#include "sense/inference/outcome.h"

namespace sense::app {

namespace po = boost::program_options;

// Parses argv against `options` (+ --help, --version added here) with
// `positional` collecting the remaining arguments. Prints usage for --help and
// the version for --version and returns that exit code (0) in *exit_code;
// on a parse error prints it with a hint and sets *exit_code = 2.
// Returns true when the app should go on.
// `ordered`, when given, receives the parsed options in command-line order
// (positional arguments under `positional_name`), for apps whose output
// follows that order (OrderedTextArgs).
bool ParseCommandLine(int argc, char** argv, const std::string& app_name,
                      const std::string& usage, po::options_description& options,
                      const std::string& positional_name, po::variables_map* vm,
                      int* exit_code, std::vector<po::option>* ordered = nullptr);

// A bad command-line value found after parsing (--batch-size 0, an unknown
// --explain-method): Guarded prints "<app>: <message>" and the --help hint
// and exits 2, as for a parse error. Messages name the flag.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

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

// A text argument or a --file argument, in command-line order.
struct TextArg {
  bool is_file = false;  // a --file (one text per line); else one text, or "-" for stdin
  std::string value;
};
// The `text_key` positionals and `file_key` options of `ordered`, in order.
std::vector<TextArg> OrderedTextArgs(const std::vector<po::option>& ordered, const std::string& text_key,
                                     const std::string& file_key);

// Text inputs, in command-line order: each text argument is one text; each
// file is read one text per line; "-" (as a text or a file) reads stdin
// once, in its place; with no arguments at all, stdin is read. Lines keep
// their order; empty lines are kept (the task reports them).
std::vector<InputItem> GatherTexts(const std::vector<TextArg>& args);
// The same with every text before every file (for callers without the order).
std::vector<InputItem> GatherTexts(const std::vector<std::string>& args,
                                   const std::vector<std::string>& files);

// `text` for a terminal or a plain-text line: control characters (C0, DEL,
// C1) become \xNN / \u00NN escapes and bytes that are not UTF-8 become
// \xNN, so input cannot move the cursor, ring the bell or change colours.
// Tabs become \t. Valid UTF-8 text is left as it is.
std::string EscapeControl(const std::string& text);

// Throws sense::Error(kFile) when standard output has failed (a full disk,
// a closed pipe): flushes first. PrintJsonLine and Guarded call it, so an
// app whose output cannot be written stops and exits 1.
void CheckStdout();

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

// Writes one JSON object as a line on stdout and flushes (CheckStdout).
void PrintJsonLine(const nlohmann::json& j);

// Prints "sense-<app>: <source>: <message>" on stderr (EscapeControl'd).
void PrintError(const std::string& app_name, const std::string& source, const std::string& message);

// JSON form of an error for --json output: {"error": {"code": ..., "message": ...}}.
nlohmann::json ErrorJson(const std::string& code, const std::string& message);

// Runs `body` and turns a sense::Error or std::exception escaping it into a
// message on stderr and exit status 1. Apps wrap main's work in it. It also
// tunes malloc for repeated large model buffers (heap, not mmap). When body
// is done it flushes the standard streams and ends the process with
// std::_Exit, skipping static destructors (LibTorch's take about 0.1 s);
// set SENSE_CLEAN_EXIT=1 to return normally (leak checkers). A UsageError
// exits 2; a failed write to stdout (checked at the end, after the flush)
// prints one message and exits 1.
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

// --max-megapixels as a pixel count for DecodeOptions::max_pixels; a value
// outside (0, 1000000] (NaN included) is a UsageError. Checked before the
// conversion: a double beyond int64's range does not convert.
int64_t MaxPixelsOption(double megapixels);

// The batch loop of the text apps: `run` gets the texts of `items` in chunks
// of at most chunk_size, in order (chunks keep memory flat on long inputs and
// let output start early), and `each` is called once per item, in input
// order, with the outcome and the item's error: the one gathering it already
// had (code "input"), else the outcome's, empty when it succeeded; after
// each chunk, CheckStdout().
template <typename R>
void ForEachTextResult(
    const std::vector<InputItem>& items, size_t chunk_size,
    const std::function<std::vector<Outcome<R>>(const std::vector<std::string>&)>& run,
    const std::function<void(const InputItem&, const Outcome<R>&, std::string error, std::string code)>& each) {
  chunk_size = std::max<size_t>(1, chunk_size);
  for (size_t b = 0; b < items.size(); b += chunk_size) {
    const size_t e = std::min(items.size(), b + chunk_size);
    std::vector<std::string> texts;
    for (size_t i = b; i < e; ++i) texts.push_back(items[i].text);
    const std::vector<Outcome<R>> results = run(texts);
    for (size_t i = b; i < e; ++i) {
      const Outcome<R>& outcome = results[i - b];
      std::string error = items[i].error, code = "input";
      if (error.empty() && !outcome.ok()) {
        error = outcome.error().what();
        code = ErrorCodeName(outcome.error().code());
      }
      each(items[i], outcome, std::move(error), std::move(code));
    }
    CheckStdout();
  }
}

}  // namespace sense::app

#endif  // SENSE_APPS_COMMON_APP_H_
