// Internal: reading whole files with sense errors.
#ifndef SENSE_TEXT_SRC_FILE_UTIL_H_
#define SENSE_TEXT_SRC_FILE_UTIL_H_

#include <string>

namespace sense::text::internal {

// Reads a whole file. Throws Error(kFile) naming the path when it is missing,
// a directory, unreadable or empty.
std::string ReadFileBytes(const std::string& path, const char* what);

}  // namespace sense::text::internal

#endif  // SENSE_TEXT_SRC_FILE_UTIL_H_
