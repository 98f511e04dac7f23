// The free-form summary.json files of the experiments, built with nlohmann::json.
//
//   Json summary;
//   summary["experiment"] = "xor";
//   summary["rich_same_over_different"] = JsonNumber(0.0478410436312);  // 0.04784104363
//   RETURN_IF_ERROR(WriteJsonFile(JoinPath(out, "summary.json"), summary));
//
// Keys keep their insertion order. Numbers carry 10 significant digits, as the CSV files
// (FormatDouble), and NaN and infinities are null. Text is written as valid UTF-8:
// invalid bytes become U+FFFD, so no string can make the file unreadable.
#ifndef REPLEARN_EXPERIMENTS_JSON_UTIL_H_
#define REPLEARN_EXPERIMENTS_JSON_UTIL_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace replearn {

using Json = nlohmann::ordered_json;

// `v` rounded to 10 significant digits; integral values as integers (2, not 2.0); null when
// not finite.
Json JsonNumber(double v);
// An array of JsonNumber.
Json JsonNumbers(const std::vector<double>& values);

// The text of `json`: two spaces per level, a newline at the end.
absl::StatusOr<std::string> JsonText(const Json& json);
// JsonText written with WriteFileAtomically.
absl::Status WriteJsonFile(const std::string& path, const Json& json);

}  // namespace replearn

#endif  // REPLEARN_EXPERIMENTS_JSON_UTIL_H_
