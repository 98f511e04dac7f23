// Figures with gnuplot, each written as <stem>.png and <stem>.svg.
//
// Every figure goes through RenderFigure, which never involves a shell: gnuplot is started
// with posix_spawn (argv {"gnuplot", "-d"}; -d skips ~/.gnuplot), reads the script on stdin
// and writes the image to stdout, which is a temporary file opened by this process. So no
// file name appears in a script: the data are inline datablocks of numbers written here,
// and any text a caller puts into a script (titles, labels) goes through GnuplotString.
// A figure is renamed into place only when gnuplot exited 0 and the file is complete (PNG:
// ends with the IEND chunk; SVG: ends with </svg>), so no half-drawn figure is left behind.
//
// Run folders (RenderFigures):
//   curves.{png,svg}  h at the tracked layer, y, w and the loss against step; the fitted
//                     theory (theory_curves.csv) drawn over the measurements when present
//   depth.{png,svg}   from fit.csv: normalised fit loss, eta_h and eta_y against layer
//                     (only when at least two layers were fitted)
#ifndef REPLEARN_EXPERIMENTS_FIGURES_H_
#define REPLEARN_EXPERIMENTS_FIGURES_H_

#include <cmath>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "Eigen/Core"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace replearn {

// `text` as a gnuplot single-quoted string literal, safe for any bytes: control characters
// (a newline would end the command) become spaces, bytes that are not part of valid UTF-8
// become '?', and ' is doubled (the only escape inside single quotes, where backquotes, @,
// $ and \ are literal). E.g. "it's\n" -> 'it''s '.
std::string GnuplotString(absl::string_view text);

// Numbers handed to gnuplot inline, as
//   $name << EOD
//   1 0.5
//   ...
//   EOD
// one line per row, columns separated by spaces (the script's `using 1:2` counts them);
// NaN and infinities are written as NaN, which gnuplot skips (a break in a line).
struct Datablock {
  std::string name;  // [A-Za-z_][A-Za-z0-9_]*; the script refers to it as $name
  std::vector<std::vector<double>> rows;
};

struct Figure {
  std::string stem;  // output path without extension; any bytes (never seen by gnuplot)
  int width = 800;   // pixels (PNG) and SVG user units
  int height = 600;
  int font_size = 10;  // points
  std::vector<Datablock> data;
  // gnuplot commands after the terminal setup (pngcairo / svg, noenhanced, the size and
  // font above), run once for each format. Text inside must come from GnuplotString.
  std::string script;
};

// Draws `figure` into <stem>.png and <stem>.svg. Errors name the stem and carry gnuplot's
// message; on an error neither file is replaced. The temporary files are
// <stem>.<ext>.tmp.<pid>.<n>, next to the outputs.
absl::Status RenderFigure(const Figure& figure);

// True when a gnuplot executable is on PATH (tools/setup.sh installs gnuplot-nox).
bool GnuplotAvailable();

// A tidy step,layer,quantity,value CSV file (curves.csv, theory_curves.csv) as series of
// (step, value) rows, ready for a Datablock. Empty or unparsable values become NaN.
struct TidyCurves {
  // The rows of `quantity` at `layer` ("" for quantities without one), in file order;
  // empty when there are none.
  std::vector<std::vector<double>> Rows(absl::string_view quantity, absl::string_view layer) const;
  std::map<std::pair<std::string, std::string>, std::vector<std::vector<double>>> series;
};
absl::StatusOr<TidyCurves> ReadTidyCurves(const std::string& path);

// Renders curves.{png,svg} from `curves_path` (with dir/theory_curves.csv over it when
// present) and depth.{png,svg} when dir/fit.csv has at least two layers, into `dir`.
absl::Status RenderFigures(const std::string& dir, const std::string& curves_path,
                           int tracked_layer, const std::string& title);

// One heat map of a matrix, row 0 at the top.
struct HeatmapPanel {
  Eigen::MatrixXd matrix;
  std::string title;
  std::vector<std::pair<std::string, double>> tics;  // label, position; empty = numbers
  double cb_max = NAN;                               // colour range [0, cb_max]; NaN = auto
  bool values = false;                               // print each cell's value (small ones)
};

// Draws the panels in a rows x cols grid into <out_stem>.png and .svg.
absl::Status RenderHeatmaps(const std::vector<HeatmapPanel>& panels, int rows, int cols,
                            const std::string& title, const std::string& out_stem);

}  // namespace replearn

#endif  // REPLEARN_EXPERIMENTS_FIGURES_H_
