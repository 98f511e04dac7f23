// The CSV boundary of theory/: reading recorded curves, writing fits and theory curves.
//
// curves.csv (tidy; written by the probes, or exported from elsewhere, e.g. PyTorch):
//   step,layer,quantity,value
//   0,3,h,0.00123          h of hidden layer 3 (0-based) at step 0
//   0,,y,1.2e-09           y, w, ybar, loss: the layer cell is empty
//   0,,w,-2.4e-05
//   0,,ybar,0.31           ||ybar - ybar*||^2
//   0,,loss,0.215          1/2 MSE
// Rows may come in any order. Every series (h of each layer, y, w, and ybar / loss if present
// at all) must have exactly one row for every step that appears anywhere in the file; h, y
// and w are required. Errors name the file and the line.
//
// fit.csv: one row per fitted layer, header exactly
//   layer,eta_h,eta_y,eta_ybar,sse,normalised_loss,r2_h,r2_y,r2_w,h_final_predicted,h_final_measured
// (fit.h defines the columns; h_final_measured is the last recorded h; NaN prints as "nan").
//
// theory_curves.csv: the curves.csv format with the fitted curves: h for every fitted layer,
// and y, w, loss from the fit of the *plot layer* only (y, w and loss do not depend on the
// layer in the data, but each layer's fit predicts its own).
//
// All numbers are written with FormatDouble ("%.10g", core/csv.h); steps as integers. Files
// are written with WriteFileAtomically.
#ifndef REPLEARN_THEORY_CURVES_IO_H_
#define REPLEARN_THEORY_CURVES_IO_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "theory/fit.h"

namespace replearn {

// The content of one curves.csv, sorted by step.
struct RecordedCurves {
  std::vector<double> t;               // the steps, increasing
  std::vector<int> layers;             // hidden layers with h rows, increasing
  std::vector<std::vector<double>> h;  // h[k] belongs to layers[k]
  std::vector<double> y, w;
  std::vector<double> ybar;  // empty when the file has no ybar rows
  std::vector<double> loss;  // empty when the file has no loss rows
};

// Parses curves.csv text; `source` (the file name) prefixes errors, which give the line:
// InvalidArgumentError for a missing column, bad step / layer / quantity / value, duplicate
// rows, a step missing from one series, or a missing required quantity.
absl::StatusOr<RecordedCurves> ParseCurvesCsv(absl::string_view text, absl::string_view source);
// ReadFile + ParseCurvesCsv; NotFoundError naming the path when it cannot be read.
absl::StatusOr<RecordedCurves> ReadCurvesCsv(const std::string& path);

std::string FormatCurvesCsv(const RecordedCurves& curves);
absl::Status WriteCurvesCsv(const std::string& path, const RecordedCurves& curves);

// One Curves per recorded layer (same order as recorded.layers) for Fit / FitLayers, with
// the dataset's dx2 and dy2 (curves.csv does not hold them). ybar0_err2 is ybar at the first
// step when recorded, NaN otherwise (Fit then derives it from the loss).
std::vector<Curves> ToLayerCurves(const RecordedCurves& recorded, double dx2, double dy2);

// fit.csv for fits[k] of layers[k] measured as curves[k]. InvalidArgumentError if the three
// spans differ in length.
absl::StatusOr<std::string> FormatFitCsv(absl::Span<const int> layers,
                                         absl::Span<const Curves> curves,
                                         absl::Span<const FitResult> fits);
absl::Status WriteFitCsv(const std::string& path, absl::Span<const int> layers,
                         absl::Span<const Curves> curves, absl::Span<const FitResult> fits);

// The fitted curves as RecordedCurves (for theory_curves.csv): h of every layer, y / w / loss
// of `plot_layer`'s fit; plot_layer = -1 picks layers[layers.size() / 2]. InvalidArgumentError
// if plot_layer is not among `layers`, the spans differ in length or are empty, or the fits'
// time axes differ.
absl::StatusOr<RecordedCurves> TheoryCurves(absl::Span<const int> layers,
                                            absl::Span<const FitResult> fits, int plot_layer);
absl::Status WriteTheoryCurvesCsv(const std::string& path, absl::Span<const int> layers,
                                  absl::Span<const FitResult> fits, int plot_layer);

}  // namespace replearn

#endif  // REPLEARN_THEORY_CURVES_IO_H_
