// Files: whole-file reads and atomic writes. A result written with WriteFileAtomically
// is either absent or complete: the bytes go to a temporary file in the same directory,
// are flushed, and the temporary is renamed over the target (rename is atomic on POSIX).
#ifndef REPLEARN_CORE_FILE_UTIL_H_
#define REPLEARN_CORE_FILE_UTIL_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace replearn {

absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents);
// The whole file. NotFound when it cannot be opened; InvalidArgument naming the path for a
// directory, FIFO, socket or device (only regular files are read).
absl::StatusOr<std::string> ReadFile(const std::string& path);
// The same, refusing (InvalidArgument naming both sizes) a file larger than max_bytes before
// reading any of it.
absl::StatusOr<std::string> ReadFile(const std::string& path, uint64_t max_bytes);
// mkdir -p; ok if the directory exists.
absl::Status MakeDirs(const std::string& path);
bool FileExists(const std::string& path);
// Joins a and b with one '/'.
std::string JoinPath(absl::string_view a, absl::string_view b);

}  // namespace replearn

#endif  // REPLEARN_CORE_FILE_UTIL_H_
