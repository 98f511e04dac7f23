// Minimal RFC 4180 CSV: a writer that builds the whole file in memory (written out with
// WriteFileAtomically, so a file is never half-written) and a reader for the project's
// own tidy files (curves.csv, fit.csv, and the same format exported from elsewhere).
// Numbers are written with FormatDouble: "%.10g", enough for every f32 value to
// round-trip and compact for the long tidy files.
#ifndef REPLEARN_CORE_CSV_H_
#define REPLEARN_CORE_CSV_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace replearn {

std::string FormatDouble(double v);

class CsvWriter {
 public:
  explicit CsvWriter(std::vector<std::string> header);
  // Appends one row; CHECK-fails if the cell count differs from the header's.
  void AddRow(absl::Span<const std::string> cells);
  const std::string& contents() const { return contents_; }
  size_t num_rows() const { return num_rows_; }

 private:
  void AppendCells(absl::Span<const std::string> cells);
  size_t num_columns_;
  size_t num_rows_ = 0;
  std::string contents_;
};

struct CsvTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  // Index of a header column, or -1.
  int Column(absl::string_view name) const;
};

// Parses CSV text; `source` (a file name) prefixes error messages, which give the line.
// Every row must have as many cells as the header.
absl::StatusOr<CsvTable> ParseCsv(absl::string_view text, absl::string_view source);
absl::StatusOr<CsvTable> ReadCsvFile(const std::string& path);

}  // namespace replearn

#endif  // REPLEARN_CORE_CSV_H_
