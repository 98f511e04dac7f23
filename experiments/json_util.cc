#include "experiments/json_util.h"

#include <cmath>
#include <cstdint>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/csv.h"
#include "core/file_util.h"
#include "core/status_macros.h"

namespace replearn {

Json JsonNumber(double v) {
  if (!std::isfinite(v)) return nullptr;
  double rounded = v;
  if (!absl::SimpleAtod(FormatDouble(v), &rounded)) rounded = v;
  // Below 2^53 every integer is exact, so the cast loses nothing.
  if (std::abs(rounded) < 9007199254740992.0 && rounded == std::trunc(rounded)) {
    return static_cast<int64_t>(rounded);
  }
  return rounded;
}

Json JsonNumbers(const std::vector<double>& values) {
  Json array = Json::array();
  for (double v : values) array.push_back(JsonNumber(v));
  return array;
}

absl::StatusOr<std::string> JsonText(const Json& json) {
  // With error_handler_t::replace, dump does not throw on invalid UTF-8; the catch keeps any
  // other exception of the library out of our callers.
  try {
    return json.dump(2, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace) + "\n";
  } catch (const Json::exception& e) {
    return absl::InternalError(absl::StrCat("JSON: ", e.what()));
  }
}

absl::Status WriteJsonFile(const std::string& path, const Json& json) {
  ASSIGN_OR_RETURN(const std::string text, JsonText(json));
  return WriteFileAtomically(path, text);
}

}  // namespace replearn
