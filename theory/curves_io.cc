#include "theory/curves_io.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/csv.h"
#include "core/file_util.h"
#include "core/status_macros.h"

namespace replearn {
namespace {

constexpr char kStep[] = "step";
constexpr char kLayer[] = "layer";
constexpr char kQuantity[] = "quantity";
constexpr char kValue[] = "value";

// Line (1-based) on which each CSV record starts, header included, following the rules of
// ParseCsv (core/csv.cc): a newline outside quotes ends a record unless it is empty; quoted
// cells may span lines. ParseCsv does not report row lines itself.
std::vector<int> RecordLines(absl::string_view text) {
  std::vector<int> lines;
  bool in_quotes = false;
  bool has_content = false;
  int line = 1;
  int record_line = 1;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          ++i;
        } else {
          in_quotes = false;
        }
      } else if (c == '\n') {
        ++line;
      }
      continue;
    }
    if (c == '\n') {
      if (has_content) lines.push_back(record_line);
      has_content = false;
      ++line;
      record_line = line;
    } else if (c != '\r') {
      if (c == '"') in_quotes = true;
      has_content = true;
    }
  }
  if (has_content) lines.push_back(record_line);
  return lines;
}

// A series is (quantity, layer); layer = -1 for the layer-free quantities.
using SeriesKey = std::pair<std::string, int>;

struct Cell {
  double value;
  int line;
};

std::string SeriesName(const SeriesKey& key) {
  return key.second < 0 ? key.first : absl::StrCat(key.first, " (layer ", key.second, ")");
}

bool IsLayerFree(const std::string& quantity) {
  return quantity == "y" || quantity == "w" || quantity == "ybar" || quantity == "loss";
}

std::string StepString(double t) {
  if (t == std::floor(t) && std::abs(t) < 9e15) return absl::StrCat(static_cast<int64_t>(t));
  return FormatDouble(t);
}

}  // namespace

absl::StatusOr<RecordedCurves> ParseCurvesCsv(absl::string_view text, absl::string_view source) {
  ASSIGN_OR_RETURN(const CsvTable table, ParseCsv(text, source));
  const int c_step = table.Column(kStep);
  const int c_layer = table.Column(kLayer);
  const int c_quantity = table.Column(kQuantity);
  const int c_value = table.Column(kValue);
  if (c_step < 0 || c_layer < 0 || c_quantity < 0 || c_value < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ":1: header = ", absl::StrJoin(table.header, ","),
                     "; expected columns step,layer,quantity,value"));
  }
  const std::vector<int> lines = RecordLines(text);
  auto line_of = [&](size_t row) {
    return row + 1 < lines.size() ? lines[row + 1] : static_cast<int>(row) + 2;
  };

  std::map<SeriesKey, std::map<int64_t, Cell>> series;
  for (size_t r = 0; r < table.rows.size(); ++r) {
    const std::vector<std::string>& row = table.rows[r];
    const int line = line_of(r);
    const std::string where = absl::StrCat(source, ":", line, ": ");
    int64_t step = 0;
    if (!absl::SimpleAtoi(row[c_step], &step) || step < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "step = \"", row[c_step], "\"; expected an integer >= 0"));
    }
    const std::string& quantity = row[c_quantity];
    int layer = -1;
    if (quantity == "h") {
      if (!absl::SimpleAtoi(row[c_layer], &layer) || layer < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, "layer = \"", row[c_layer],
                         "\" for quantity h; expected the 0-based hidden-layer index"));
      }
    } else if (IsLayerFree(quantity)) {
      if (!row[c_layer].empty()) {
        return absl::InvalidArgumentError(absl::StrCat(where, "layer = \"", row[c_layer],
                                                       "\" for quantity ", quantity,
                                                       "; expected an empty cell"));
      }
    } else {
      // Other probes and the training loop write their own quantities (test_loss,
      // train_loss, ...) into the same file; the theory reads only its own. A misspelt
      // theory quantity still fails below as a missing one.
      continue;
    }
    double value = 0.0;
    if (!absl::SimpleAtod(row[c_value], &value) || !std::isfinite(value)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "value = \"", row[c_value], "\"; expected a finite number"));
    }
    const SeriesKey key{quantity, layer};
    auto [it, inserted] = series[key].emplace(step, Cell{value, line});
    if (!inserted) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "second row for step ", step, ", ", SeriesName(key),
                       " (first at line ", it->second.line, "); expected one row per step"));
    }
  }

  for (const char* required : {"y", "w"}) {
    if (series.find({required, -1}) == series.end()) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": no rows for quantity ", required,
                                                     "; expected h (per layer), y and w"));
    }
  }
  RecordedCurves out;
  for (const auto& [key, cells] : series) {
    if (key.first == "h") out.layers.push_back(key.second);
  }
  if (out.layers.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": no rows for quantity h; expected h (per layer), y and w"));
  }

  // Every series must cover every step seen anywhere.
  std::map<int64_t, std::pair<SeriesKey, int>> all_steps;  // step -> a series and line having it
  for (const auto& [key, cells] : series) {
    for (const auto& [step, cell] : cells) all_steps.emplace(step, std::make_pair(key, cell.line));
  }
  for (const auto& [key, cells] : series) {
    if (cells.size() == all_steps.size()) continue;
    for (const auto& [step, witness] : all_steps) {
      if (cells.count(step) == 0) {
        return absl::InvalidArgumentError(absl::StrCat(source, ":", witness.second, ": step ", step,
                                                       " has a row for ", SeriesName(witness.first),
                                                       " but none for ", SeriesName(key),
                                                       "; expected every quantity at every step"));
      }
    }
  }

  for (const auto& [step, witness] : all_steps) out.t.push_back(static_cast<double>(step));
  auto values = [&](const SeriesKey& key) {
    std::vector<double> v;
    auto it = series.find(key);
    if (it == series.end()) return v;
    for (const auto& [step, cell] : it->second) v.push_back(cell.value);
    return v;
  };
  for (int layer : out.layers) out.h.push_back(values({"h", layer}));
  out.y = values({"y", -1});
  out.w = values({"w", -1});
  out.ybar = values({"ybar", -1});
  out.loss = values({"loss", -1});
  return out;
}

absl::StatusOr<RecordedCurves> ReadCurvesCsv(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string text, ReadFile(path));
  return ParseCurvesCsv(text, path);
}

std::string FormatCurvesCsv(const RecordedCurves& curves) {
  CsvWriter csv({kStep, kLayer, kQuantity, kValue});
  for (size_t i = 0; i < curves.t.size(); ++i) {
    const std::string step = StepString(curves.t[i]);
    for (size_t k = 0; k < curves.layers.size(); ++k) {
      if (i < curves.h[k].size()) {
        csv.AddRow({step, absl::StrCat(curves.layers[k]), "h", FormatDouble(curves.h[k][i])});
      }
    }
    const std::pair<const char*, const std::vector<double>*> rest[] = {
        {"y", &curves.y}, {"w", &curves.w}, {"ybar", &curves.ybar}, {"loss", &curves.loss}};
    for (const auto& [name, v] : rest) {
      if (i < v->size()) csv.AddRow({step, "", name, FormatDouble((*v)[i])});
    }
  }
  return csv.contents();
}

absl::Status WriteCurvesCsv(const std::string& path, const RecordedCurves& curves) {
  return WriteFileAtomically(path, FormatCurvesCsv(curves));
}

std::vector<Curves> ToLayerCurves(const RecordedCurves& recorded, double dx2, double dy2) {
  std::vector<Curves> out;
  for (size_t k = 0; k < recorded.layers.size(); ++k) {
    Curves c;
    c.t = recorded.t;
    c.h = recorded.h[k];
    c.y = recorded.y;
    c.w = recorded.w;
    c.loss = recorded.loss;
    c.dx2 = dx2;
    c.dy2 = dy2;
    c.ybar0_err2 =
        recorded.ybar.empty() ? std::numeric_limits<double>::quiet_NaN() : recorded.ybar.front();
    out.push_back(std::move(c));
  }
  return out;
}

absl::StatusOr<std::string> FormatFitCsv(absl::Span<const int> layers,
                                         absl::Span<const Curves> curves,
                                         absl::Span<const FitResult> fits) {
  if (curves.size() != layers.size() || fits.size() != layers.size()) {
    return absl::InvalidArgumentError(absl::StrCat("fit.csv: (layers, curves, fits) sizes = (",
                                                   layers.size(), ", ", curves.size(), ", ",
                                                   fits.size(), "); expected equal"));
  }
  CsvWriter csv({"layer", "eta_h", "eta_y", "eta_ybar", "sse", "normalised_loss", "r2_h", "r2_y",
                 "r2_w", "h_final_predicted", "h_final_measured"});
  for (size_t k = 0; k < layers.size(); ++k) {
    const FitResult& f = fits[k];
    const double h_final =
        curves[k].h.empty() ? std::numeric_limits<double>::quiet_NaN() : curves[k].h.back();
    csv.AddRow({absl::StrCat(layers[k]), FormatDouble(f.eta_h), FormatDouble(f.eta_y),
                FormatDouble(f.eta_ybar), FormatDouble(f.sse), FormatDouble(f.normalised_loss),
                FormatDouble(f.r2_h), FormatDouble(f.r2_y), FormatDouble(f.r2_w),
                FormatDouble(f.h_final_predicted), FormatDouble(h_final)});
  }
  return csv.contents();
}

absl::Status WriteFitCsv(const std::string& path, absl::Span<const int> layers,
                         absl::Span<const Curves> curves, absl::Span<const FitResult> fits) {
  ASSIGN_OR_RETURN(const std::string text, FormatFitCsv(layers, curves, fits));
  return WriteFileAtomically(path, text);
}

absl::StatusOr<RecordedCurves> TheoryCurves(absl::Span<const int> layers,
                                            absl::Span<const FitResult> fits, int plot_layer) {
  if (layers.empty() || fits.size() != layers.size()) {
    return absl::InvalidArgumentError(absl::StrCat("theory curves: (layers, fits) sizes = (",
                                                   layers.size(), ", ", fits.size(),
                                                   "); expected equal and non-zero"));
  }
  if (plot_layer == -1) plot_layer = layers[layers.size() / 2];
  int plot_index = -1;
  for (size_t k = 0; k < layers.size(); ++k) {
    if (layers[k] == plot_layer) plot_index = static_cast<int>(k);
    if (fits[k].t != fits[0].t || fits[k].h.size() != fits[k].t.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("theory curves: fit of layer ", layers[k], " has ", fits[k].t.size(),
                       " samples on a different time axis than layer ", layers[0],
                       "; expected every layer fitted on the same steps"));
    }
  }
  if (plot_index < 0) {
    return absl::InvalidArgumentError(absl::StrCat("theory.plot_layer = ", plot_layer,
                                                   "; expected one of the fitted layers [",
                                                   absl::StrJoin(layers, ", "), "] or -1"));
  }
  RecordedCurves out;
  out.t = fits[0].t;
  out.layers.assign(layers.begin(), layers.end());
  for (const FitResult& f : fits) out.h.push_back(f.h);
  const FitResult& plot = fits[plot_index];
  out.y = plot.y;
  out.w = plot.w;
  out.loss = plot.loss;
  return out;
}

absl::Status WriteTheoryCurvesCsv(const std::string& path, absl::Span<const int> layers,
                                  absl::Span<const FitResult> fits, int plot_layer) {
  ASSIGN_OR_RETURN(const RecordedCurves curves, TheoryCurves(layers, fits, plot_layer));
  return WriteFileAtomically(path, FormatCurvesCsv(curves));
}

}  // namespace replearn
