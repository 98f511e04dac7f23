// Figures of a run folder, rendered with gnuplot from the CSV files (PNG and SVG beside
// them). gnuplot reads the tidy files directly, so a figure never disagrees with its data.
//
//   curves.{png,svg}  h at the tracked layer, y, w and the loss against step; the fitted
//                     theory (theory_curves.csv) drawn over the measurements when present
//   depth.{png,svg}   from fit.csv: normalised fit loss, eta_h and eta_y against layer
//                     (only when at least two layers were fitted)
#ifndef REPLEARN_EXPERIMENTS_FIGURES_H_
#define REPLEARN_EXPERIMENTS_FIGURES_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace replearn {

// `s` as a gnuplot single-quoted string literal.
std::string GnuplotQuote(const std::string& s);

// A gnuplot data source (quoted) holding only the rows of (quantity, layer) of a tidy
// step,layer,quantity,value CSV file; `layer` is "" for quantities without a layer.
// (Filtering inside `using` would leave undefined points between rows, which breaks lines.)
std::string GnuplotRows(const std::string& file, const std::string& quantity,
                        const std::string& layer);

// True when a gnuplot executable is on PATH.
bool GnuplotAvailable();

// Runs a gnuplot script; `outputs` are the files it writes (as "<name>.tmp"), renamed into
// place only when gnuplot succeeds, so no half-drawn figure is left behind.
absl::Status RunGnuplot(const std::string& script, const std::vector<std::string>& outputs);

// Renders curves.{png,svg} from `curves_path` (with dir/theory_curves.csv over it when
// present) and depth.{png,svg} when dir/fit.csv exists, into `dir`.
absl::Status RenderFigures(const std::string& dir, const std::string& curves_path,
                           int tracked_layer, const std::string& title);

}  // namespace replearn

#endif  // REPLEARN_EXPERIMENTS_FIGURES_H_
