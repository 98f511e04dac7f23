#include "core/csv.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/file_util.h"
#include "core/status_macros.h"
#include "glog/logging.h"

namespace replearn {
namespace {

bool NeedsQuotes(absl::string_view cell) {
  return cell.find_first_of(",\"\r\n") != absl::string_view::npos;
}

}  // namespace

std::string FormatDouble(double v) { return absl::StrFormat("%.10g", v); }

CsvWriter::CsvWriter(std::vector<std::string> header) : num_columns_(header.size()) {
  AppendCells(header);
}

void CsvWriter::AddRow(absl::Span<const std::string> cells) {
  CHECK_EQ(cells.size(), num_columns_) << "CSV row width differs from its header";
  AppendCells(cells);
  ++num_rows_;
}

void CsvWriter::AppendCells(absl::Span<const std::string> cells) {
  for (size_t i = 0; i < cells.size(); ++i) {
    if (i > 0) contents_.push_back(',');
    if (NeedsQuotes(cells[i])) {
      contents_.push_back('"');
      for (char c : cells[i]) {
        if (c == '"') contents_.push_back('"');
        contents_.push_back(c);
      }
      contents_.push_back('"');
    } else {
      contents_.append(cells[i]);
    }
  }
  contents_.push_back('\n');
}

int CsvTable::Column(absl::string_view name) const {
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return static_cast<int>(i);
  }
  return -1;
}

absl::StatusOr<CsvTable> ParseCsv(absl::string_view text, absl::string_view source) {
  CsvTable table;
  std::vector<std::string> row;
  std::string cell;
  bool in_quotes = false;
  bool row_has_content = false;
  int line = 1;
  int row_line = 1;
  auto finish_row = [&]() -> absl::Status {
    row.push_back(std::move(cell));
    cell.clear();
    if (table.header.empty()) {
      table.header = std::move(row);
    } else if (row.size() != table.header.size()) {
      return absl::InvalidArgumentError(absl::StrCat(source, ":", row_line, ": row has ",
                                                     row.size(), " cells; the header has ",
                                                     table.header.size()));
    } else {
      table.rows.push_back(std::move(row));
    }
    row.clear();
    row_has_content = false;
    return absl::OkStatus();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          cell.push_back('"');
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        if (c == '\n') ++line;
        cell.push_back(c);
      }
      continue;
    }
    switch (c) {
      case '"':
        in_quotes = true;
        row_has_content = true;
        break;
      case ',':
        row.push_back(std::move(cell));
        cell.clear();
        row_has_content = true;
        break;
      case '\r':
        break;
      case '\n':
        if (row_has_content || !cell.empty()) RETURN_IF_ERROR(finish_row());
        ++line;
        row_line = line;
        break;
      default:
        cell.push_back(c);
        row_has_content = true;
    }
  }
  if (in_quotes) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ":", row_line, ": unterminated quoted cell"));
  }
  if (row_has_content || !cell.empty()) RETURN_IF_ERROR(finish_row());
  if (table.header.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": empty CSV (no header line)"));
  }
  return table;
}

absl::StatusOr<CsvTable> ReadCsvFile(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string text, ReadFile(path));
  return ParseCsv(text, path);
}

}  // namespace replearn
