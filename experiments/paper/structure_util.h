// What the representation-structure experiments (xor, mnist_structure, context; docs/theory.md
// section 7) share: their options, running several specs at once, statistics over distance
// matrices, gnuplot heat maps, and a small JSON writer for their summary.json.
#ifndef REPLEARN_EXPERIMENTS_STRUCTURE_UTIL_H_
#define REPLEARN_EXPERIMENTS_STRUCTURE_UTIL_H_

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "Eigen/Core"
#include "absl/status/statusor.h"
#include "proto/experiment.pb.h"
#include "experiments/run.h"

namespace replearn {

struct StructureOptions {
  std::string out_dir;            // required
  std::string specs;              // spec folder or file; "" = the packaged default
  std::vector<std::string> sets;  // --set overrides applied to every run
  bool smoke = false;             // reduced size (seconds), for tests
  int threads = 0;                // runs trained at once; 0 = all cores
  int seeds = 0;                  // mnist_structure: networks averaged; 0 = its default
  bool progress = true;
  bool figures = true;
};

// An experiment's outcome: the headline numbers (also in summary.json) in print order.
struct StructureResult {
  std::vector<std::pair<std::string, double>> key_figures;
  double wall_seconds = 0;
};

// Loads a spec file and applies the overrides; errors name the file.
absl::StatusOr<Experiment> LoadSpecWithOverrides(const std::string& path,
                                                 const std::vector<std::string>& sets);

// The entries above the diagonal, row by row: (0,1), (0,2), .., (1,2), ...
Eigen::VectorXd UpperTriangle(const Eigen::MatrixXd& m);
// Pearson's r of two equally long vectors; NaN when either is constant or they are empty.
double Pearson(const Eigen::VectorXd& a, const Eigen::VectorXd& b);

// One heat map of a headerless matrix CSV (distance_matrix.h), row 0 at the top.
struct HeatmapPanel {
  std::string csv;
  std::string title;
  std::vector<std::pair<std::string, double>> tics;  // label, position; empty = numbers
  double cb_max = NAN;                               // colour range [0, cb_max]; NaN = auto
  bool values = false;                               // print each cell's value (small ones)
};
// Draws the panels in a rows x cols grid into <out_stem>.png and .svg.
absl::Status RenderHeatmaps(const std::vector<HeatmapPanel>& panels, int rows, int cols,
                            const std::string& title, const std::string& out_stem);

// A JSON object built field by field, in insertion order. Non-finite numbers become null.
class JsonObject {
 public:
  JsonObject& Number(const std::string& key, double value);
  JsonObject& Integer(const std::string& key, int64_t value);
  JsonObject& Bool(const std::string& key, bool value);
  JsonObject& String(const std::string& key, const std::string& value);
  JsonObject& Numbers(const std::string& key, const std::vector<double>& values);
  JsonObject& Object(const std::string& key, const JsonObject& value);
  // Pretty-printed with two spaces per level, `indent` spaces before the closing brace.
  std::string ToString(int indent = 0) const;

 private:
  std::vector<std::pair<std::string, std::string>> fields_;  // key, rendered value
  std::vector<bool> nested_;                                 // value is an object
  std::vector<JsonObject> children_;                         // nested objects, in order
};

}  // namespace replearn

#endif  // REPLEARN_EXPERIMENTS_STRUCTURE_UTIL_H_
