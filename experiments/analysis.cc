#include "experiments/analysis.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/csv.h"
#include "core/file_util.h"
#include "core/status_macros.h"
#include "theory/curves_io.h"

namespace replearn {
namespace {

// The 1-based line of the row (step, layer, quantity) in a tidy CSV file, for error
// messages; "?" when it cannot be found.
std::string LineOf(const std::string& path, double step, int layer, const std::string& quantity) {
  const auto text = ReadFile(path);
  if (!text.ok()) return "?";
  const std::string prefix =
      absl::StrCat(static_cast<int64_t>(step), ",", layer, ",", quantity, ",");
  int line = 1;
  for (absl::string_view row : absl::StrSplit(*text, '\n')) {
    if (absl::StartsWith(row, prefix)) return absl::StrCat(line);
    ++line;
  }
  return "?";
}

}  // namespace

absl::StatusOr<Analysis> AnalyseCurves(const AnalysisOptions& options) {
  if (!(options.dx2 > 0) || !std::isfinite(options.dx2)) {
    return absl::InvalidArgumentError(absl::StrCat("dx2 = ", options.dx2, "; must be > 0"));
  }
  if (!(options.dy2 >= 0) || !std::isfinite(options.dy2)) {
    return absl::InvalidArgumentError(absl::StrCat("dy2 = ", options.dy2, "; must be >= 0"));
  }
  ASSIGN_OR_RETURN(const RecordedCurves recorded, ReadCurvesCsv(options.curves_path));
  if (recorded.t.size() < 3) {
    return absl::InvalidArgumentError(absl::StrCat(options.curves_path, ": ", recorded.t.size(),
                                                   " steps recorded; a fit needs at least 3"));
  }
  const std::vector<Curves> all = ToLayerCurves(recorded, options.dx2, options.dy2);

  Analysis analysis;
  std::vector<Curves> selected;
  const std::vector<int>& wanted = options.layers.empty() ? recorded.layers : options.layers;
  for (int layer : wanted) {
    const auto it = std::find(recorded.layers.begin(), recorded.layers.end(), layer);
    if (it == recorded.layers.end()) {
      return absl::InvalidArgumentError(absl::StrCat("layer ", layer, " has no h rows in ",
                                                     options.curves_path, "; recorded layers: [",
                                                     absl::StrJoin(recorded.layers, ", "), "]"));
    }
    const Curves& c = all[it - recorded.layers.begin()];
    for (size_t i = 0; i < c.h.size(); ++i) {
      if (!(c.h[i] > 0)) {
        return absl::InvalidArgumentError(
            absl::StrCat(options.curves_path, ":", LineOf(options.curves_path, c.t[i], layer, "h"),
                         ": value of h (layer ", layer, ", step ", c.t[i], ") = ", c.h[i],
                         "; the theory needs h > 0 (distinct representations)"));
      }
    }
    analysis.layers.push_back(layer);
    selected.push_back(c);
  }
  if (analysis.layers.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.curves_path, ": no layer with h rows to fit"));
  }
  analysis.tracked_layer = options.tracked_layer;
  if (analysis.tracked_layer < 0 || std::find(analysis.layers.begin(), analysis.layers.end(),
                                              analysis.tracked_layer) == analysis.layers.end()) {
    analysis.tracked_layer = analysis.layers[analysis.layers.size() / 2];
  }

  FitOptions fit_options;
  std::vector<absl::StatusOr<FitResult>> fits = FitLayers(selected, fit_options, options.threads);
  for (size_t k = 0; k < fits.size(); ++k) {
    if (!fits[k].ok()) {
      return absl::Status(fits[k].status().code(), absl::StrCat("fit of layer ", analysis.layers[k],
                                                                ": ", fits[k].status().message()));
    }
    analysis.fits.push_back(*std::move(fits[k]));
  }
  const size_t tracked_index =
      std::find(analysis.layers.begin(), analysis.layers.end(), analysis.tracked_layer) -
      analysis.layers.begin();
  analysis.tracked_index = tracked_index;
  for (const Curves& c : selected) analysis.h_final_measured.push_back(c.h.back());

  RETURN_IF_ERROR(MakeDirs(options.out_dir));
  RETURN_IF_ERROR(
      WriteFitCsv(JoinPath(options.out_dir, "fit.csv"), analysis.layers, selected, analysis.fits));
  RETURN_IF_ERROR(WriteTheoryCurvesCsv(JoinPath(options.out_dir, "theory_curves.csv"),
                                       analysis.layers, analysis.fits, analysis.tracked_layer));

  if (options.alternatives) {
    CsvWriter csv(
        {"variant", "layer", "eta_h", "eta_y", "sse", "normalised_loss", "r2_h", "r2_y", "r2_w"});
    auto add = [&csv](Variant v, int layer, const FitResult& f) {
      csv.AddRow({std::string(VariantName(v)), absl::StrCat(layer), FormatDouble(f.eta_h),
                  FormatDouble(f.eta_y), FormatDouble(f.sse), FormatDouble(f.normalised_loss),
                  FormatDouble(f.r2_h), FormatDouble(f.r2_y), FormatDouble(f.r2_w)});
    };
    add(Variant::kTrue, analysis.tracked_layer, analysis.tracked());
    for (Variant v : kAllVariants) {
      if (v == Variant::kTrue) continue;
      FitOptions alt = fit_options;
      alt.variant = v;
      const auto fit = Fit(selected[tracked_index], alt);
      if (!fit.ok()) {
        return absl::Status(
            fit.status().code(),
            absl::StrCat("fit of the ", VariantName(v), " dynamics: ", fit.status().message()));
      }
      add(v, analysis.tracked_layer, *fit);
      analysis.alternative_losses.emplace_back(std::string(VariantName(v)), fit->normalised_loss);
    }
    RETURN_IF_ERROR(
        WriteFileAtomically(JoinPath(options.out_dir, "alternatives.csv"), csv.contents()));
  }
  return analysis;
}

}  // namespace replearn
