#include "core/run_python.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "core/file_util.h"

namespace replearn {

absl::StatusOr<std::string> RunPython(const std::string& script) {
  constexpr char kPython[] = "/usr/bin/python3";
  if (::access(kPython, X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(kPython,
                     " not found; this test needs Debian's python3 with numpy (run "
                     "tools/setup.sh)"));
  }
  static std::atomic<int> count{0};
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string path = JoinPath(tmp != nullptr ? tmp : "/tmp",
                                    absl::StrCat("script_", getpid(), "_", count++, ".py"));
  if (const absl::Status s = WriteFileAtomically(path, script); !s.ok()) return s;
  FILE* pipe = ::popen(absl::StrCat(kPython, " ", path, " 2>&1").c_str(), "r");
  if (pipe == nullptr) return absl::InternalError(absl::StrCat("popen ", kPython, " failed"));
  std::string out;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.append(buffer, n);
  const int rc = ::pclose(pipe);
  if (rc != 0) {
    return absl::InternalError(absl::StrCat(kPython, " ", path, " failed (wait status ", rc,
                                            "); is numpy installed (tools/setup.sh)? Output:\n",
                                            out));
  }
  return out;
}

}  // namespace replearn
