// Test helper: runs a script with Debian's /usr/bin/python3 (which has numpy and torch once
// tools/setup.sh ran) so tests can check interoperability with numpy. A missing interpreter
// or module is an error, never a skip: setup installs them.
#ifndef REPLEARN_CORE_RUN_PYTHON_H_
#define REPLEARN_CORE_RUN_PYTHON_H_

#include <string>

#include "absl/status/statusor.h"

namespace replearn {

// Writes `script` to a file under $TEST_TMPDIR (else /tmp), runs it with /usr/bin/python3
// and returns its stdout and stderr. FailedPrecondition when /usr/bin/python3 is missing;
// Internal (with the output) when the script exits non-zero.
absl::StatusOr<std::string> RunPython(const std::string& script);

}  // namespace replearn

#endif  // REPLEARN_CORE_RUN_PYTHON_H_
