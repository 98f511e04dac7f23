#include "metrics/curve_log.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "core/csv.h"
#include "core/file_util.h"

namespace replearn {
namespace {

bool Matches(const CurveLog::Row& row, const char* quantity, int layer) {
  return row.layer == layer && std::strcmp(row.quantity, quantity) == 0;
}

}  // namespace

double CurveLog::Last(const char* quantity, int layer) const {
  for (auto it = rows_.rbegin(); it != rows_.rend(); ++it) {
    if (Matches(*it, quantity, layer)) return it->value;
  }
  return std::numeric_limits<double>::quiet_NaN();
}

double CurveLog::First(const char* quantity, int layer) const {
  for (const Row& row : rows_) {
    if (Matches(row, quantity, layer)) return row.value;
  }
  return std::numeric_limits<double>::quiet_NaN();
}

std::string CurveLog::ToCsv() const {
  std::string out = "step,layer,quantity,value\n";
  out.reserve(out.size() + rows_.size() * 28);
  for (const Row& row : rows_) {
    absl::StrAppend(&out, row.step, ",", row.layer >= 0 ? absl::StrCat(row.layer) : "", ",",
                    row.quantity, ",", FormatDouble(row.value), "\n");
  }
  return out;
}

absl::Status CurveLog::WriteCsv(const std::string& path) const {
  return WriteFileAtomically(path, ToCsv());
}

}  // namespace replearn
