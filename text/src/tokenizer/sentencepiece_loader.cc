#include "sentencepiece_loader.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "sense/inference/error.h"

#ifndef SENSE_SPM_MODULE_BUILD_PATH
#define SENSE_SPM_MODULE_BUILD_PATH ""
#endif
#ifndef SENSE_SPM_MODULE_INSTALL_PATH
#define SENSE_SPM_MODULE_INSTALL_PATH ""
#endif
#ifndef SENSE_SPM_MODULE_RELATIVE_PATH
#define SENSE_SPM_MODULE_RELATIVE_PATH "../lib/sense/libsense_sentencepiece.so"
#endif

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SENSE_NO_DEEPBIND 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define SENSE_NO_DEEPBIND 1
#endif
#endif

namespace sense::text::internal {
namespace {

// Where to look, in order: $SENSE_SENTENCEPIECE_MODULE, the build tree, next
// to the running program (<bin>/../lib/sense), the install prefix, the
// program's RUNPATH.
std::vector<std::string> Candidates() {
  std::vector<std::string> paths;
  if (const char* env = std::getenv("SENSE_SENTENCEPIECE_MODULE"); env != nullptr && *env != '\0') {
    paths.emplace_back(env);
    return paths;  // an explicit choice is the only one
  }
  if (*SENSE_SPM_MODULE_BUILD_PATH) paths.emplace_back(SENSE_SPM_MODULE_BUILD_PATH);
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) paths.push_back((exe.parent_path() / SENSE_SPM_MODULE_RELATIVE_PATH).lexically_normal().string());
  if (*SENSE_SPM_MODULE_INSTALL_PATH) paths.emplace_back(SENSE_SPM_MODULE_INSTALL_PATH);
  // Last, the bare name: dlopen then searches the program's RUNPATH, which
  // find_package(sense) points at <prefix>/lib/sense for programs linking
  // sense::text, wherever the package was installed.
  paths.emplace_back("libsense_sentencepiece.so");
  return paths;
}

#ifdef SENSE_NO_DEEPBIND
// Sanitizer runtimes refuse RTLD_DEEPBIND in their dlopen interceptor
// (google/sanitizers#611): an uninstrumented library opened that way would
// bind malloc and free to libc's behind the sanitizer's back. This module is
// built with the sanitizer too, and its runtime comes first among the
// module's dependencies, so in its deep-bound scope malloc and free are the
// sanitizer's. So glibc's own dlopen, looked up in libc.so.6 itself (a plain
// dlopen call, or RTLD_NEXT from the static sense_text, reaches the
// interceptor), opens it with RTLD_DEEPBIND, and SameAllocator() checks that
// the module's malloc and free are the process's before the module is used.
void* DlopenDeepBind(const char* path, int flags) {
  using DlopenFn = void* (*)(const char*, int);
  static const DlopenFn real = [] {
    void* libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    return libc ? reinterpret_cast<DlopenFn>(dlsym(libc, "dlopen")) : nullptr;
  }();
  if (real == nullptr) return nullptr;
  return real(path, flags | RTLD_DEEPBIND);
}

bool SameAllocator(void* handle) {
  for (const char* name : {"malloc", "free", "_Znwm", "_ZdlPv"})
    if (dlsym(handle, name) != dlsym(RTLD_DEFAULT, name)) return false;
  return true;
}
#endif

struct Loaded {
  const SpmModuleApi* api = nullptr;
  std::string error;
};

Loaded Load() {
  Loaded result;
  const int flags = RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND;
  std::string tried;
  for (const std::string& path : Candidates()) {
    if (!tried.empty()) tried += "; ";
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      tried += path + " (not found)";
      continue;
    }
#ifdef SENSE_NO_DEEPBIND
    void* handle = DlopenDeepBind(path.c_str(), flags);
#else
    void* handle = dlopen(path.c_str(), flags);
#endif
    if (handle == nullptr) {
      const char* why = dlerror();
      tried += path + " (" + (why ? why : "dlopen failed") + ")";
      continue;
    }
#ifdef SENSE_NO_DEEPBIND
    if (!SameAllocator(handle)) {
      result.error = "SentencePiece is unavailable in this sanitizer build: " + path +
                     " was not built with the sanitizer (its malloc is not the process's)";
      return result;  // the handle stays open: unloading SentencePiece is not safe
    }
#endif
    auto entry = reinterpret_cast<const SpmModuleApi* (*)()>(dlsym(handle, "sense_sentencepiece_module_api"));
    const SpmModuleApi* api = entry != nullptr ? entry() : nullptr;
    if (api == nullptr || api->abi != kSpmModuleAbi) {
      tried += path + " (ABI " + std::to_string(api ? api->abi : -1) + ", expected " + std::to_string(kSpmModuleAbi) + ")";
      continue;  // the handle stays open: unloading SentencePiece is not safe
    }
    result.api = api;
    return result;
  }
  result.error = "cannot load the SentencePiece module libsense_sentencepiece.so; tried: " + tried +
                 ". Set SENSE_SENTENCEPIECE_MODULE to its path";
  return result;
}

}  // namespace

const SpmModuleApi& SentencePieceModule() {
  static const Loaded loaded = Load();
  if (loaded.api == nullptr) throw Error(ErrorCode::kUnsupported, loaded.error);
  return *loaded.api;
}

}  // namespace sense::text::internal
