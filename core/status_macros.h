// Status propagation macros used across replearn.
//
//   RETURN_IF_ERROR(DoThing());                 // returns the Status if not ok
//   ASSIGN_OR_RETURN(Dataset d, MakeDataset()); // declares d, or returns the error
//
// Only main() turns a Status into an exit code.
#ifndef REPLEARN_CORE_STATUS_MACROS_H_
#define REPLEARN_CORE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define REPLEARN_CONCAT_INNER_(a, b) a##b
#define REPLEARN_CONCAT_(a, b) REPLEARN_CONCAT_INNER_(a, b)

#define RETURN_IF_ERROR(expr)                            \
  do {                                                   \
    const ::absl::Status replearn_status_ = (expr);      \
    if (!replearn_status_.ok()) return replearn_status_; \
  } while (0)

#define ASSIGN_OR_RETURN(lhs, expr) \
  REPLEARN_ASSIGN_OR_RETURN_IMPL_(REPLEARN_CONCAT_(replearn_sor_, __LINE__), lhs, expr)

#define REPLEARN_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                    \
  if (!statusor.ok()) return std::move(statusor).status();   \
  lhs = std::move(statusor).value()

#endif  // REPLEARN_CORE_STATUS_MACROS_H_
