#include "experiments/paper/structure_util.h"

#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "core/csv.h"
#include "experiments/figures.h"
#include "experiments/loader.h"

namespace replearn {
namespace {

std::string Quote(const std::string& s) {
  return absl::StrCat("'", absl::StrReplaceAll(s, {{"'", "''"}}), "'");
}

std::string JsonQuote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

std::string JsonNumber(double v) { return std::isfinite(v) ? FormatDouble(v) : "null"; }

}  // namespace

absl::StatusOr<Experiment> LoadSpecWithOverrides(const std::string& path,
                                                 const std::vector<std::string>& sets) {
  auto spec = LoadExperiment(path);
  if (!spec.ok()) return spec.status();
  if (const absl::Status s = ApplyOverrides(*spec, sets); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", s.message()));
  }
  return spec;
}

Eigen::VectorXd UpperTriangle(const Eigen::MatrixXd& m) {
  const Eigen::Index n = m.rows();
  Eigen::VectorXd out(n * (n - 1) / 2);
  Eigen::Index k = 0;
  for (Eigen::Index i = 0; i < n; ++i) {
    for (Eigen::Index j = i + 1; j < n; ++j) out(k++) = m(i, j);
  }
  return out;
}

double Pearson(const Eigen::VectorXd& a, const Eigen::VectorXd& b) {
  if (a.size() != b.size() || a.size() == 0) return NAN;
  const Eigen::VectorXd ca = a.array() - a.mean();
  const Eigen::VectorXd cb = b.array() - b.mean();
  const double denom = std::sqrt(ca.squaredNorm() * cb.squaredNorm());
  return denom > 0 ? ca.dot(cb) / denom : NAN;
}

absl::Status RenderHeatmaps(const std::vector<HeatmapPanel>& panels, int rows, int cols,
                            const std::string& title, const std::string& out_stem) {
  std::vector<std::string> outputs;
  std::string script = "set datafile separator ','\n";
  for (const char* ext : {"png", "svg"}) {
    const std::string out = absl::StrCat(out_stem, ".", ext);
    outputs.push_back(out);
    const int width = 380 * cols, height = 340 * rows + 50;
    absl::StrAppend(&script,
                    std::string(ext) == "png"
                        ? absl::StrFormat("set terminal pngcairo noenhanced size %d,%d font ',9'\n",
                                          width, height)
                        : absl::StrFormat("set terminal svg noenhanced size %d,%d font 'sans,9'\n",
                                          width, height),
                    "set output ", Quote(out + ".tmp"), "\n", "set multiplot layout ", rows, ",",
                    cols, " title ", Quote(title), "\n",
                    "unset key\nset size ratio -1\nset palette rgb 33,13,10\n",
                    "set autoscale xfix\nset autoscale yfix\nset yrange [*:*] reverse\n");
    for (const HeatmapPanel& p : panels) {
      std::string tics = "set xtics auto\nset ytics auto\n";
      if (!p.tics.empty()) {
        std::vector<std::string> items;
        for (const auto& [label, pos] : p.tics)
          items.push_back(absl::StrCat(Quote(label), " ", pos));
        const std::string list = absl::StrCat("(", absl::StrJoin(items, ", "), ")");
        tics = absl::StrCat("set xtics ", list, " rotate by 45 right\nset ytics ", list, "\n");
      }
      absl::StrAppend(&script, tics, "set title ", Quote(p.title), "\n",
                      std::isfinite(p.cb_max)
                          ? absl::StrCat("set cbrange [0:", FormatDouble(p.cb_max), "]\n")
                          : "set cbrange [*:*]\n",
                      "plot ", Quote(p.csv), " matrix with image");
      if (p.values) {
        absl::StrAppend(&script, ", '' matrix using 1:2:(sprintf('%.3g', $3)) with labels");
      }
      script += "\n";
    }
    absl::StrAppend(&script, "unset multiplot\nset output\n");
  }
  return RunGnuplot(script, outputs);
}

JsonObject& JsonObject::Number(const std::string& key, double value) {
  fields_.emplace_back(key, JsonNumber(value));
  nested_.push_back(false);
  return *this;
}

JsonObject& JsonObject::Integer(const std::string& key, int64_t value) {
  fields_.emplace_back(key, absl::StrCat(value));
  nested_.push_back(false);
  return *this;
}

JsonObject& JsonObject::Bool(const std::string& key, bool value) {
  fields_.emplace_back(key, value ? "true" : "false");
  nested_.push_back(false);
  return *this;
}

JsonObject& JsonObject::String(const std::string& key, const std::string& value) {
  fields_.emplace_back(key, JsonQuote(value));
  nested_.push_back(false);
  return *this;
}

JsonObject& JsonObject::Numbers(const std::string& key, const std::vector<double>& values) {
  std::vector<std::string> items;
  for (double v : values) items.push_back(JsonNumber(v));
  fields_.emplace_back(key, absl::StrCat("[", absl::StrJoin(items, ", "), "]"));
  nested_.push_back(false);
  return *this;
}

JsonObject& JsonObject::Object(const std::string& key, const JsonObject& value) {
  fields_.emplace_back(key, absl::StrCat(children_.size()));
  nested_.push_back(true);
  children_.push_back(value);
  return *this;
}

std::string JsonObject::ToString(int indent) const {
  if (fields_.empty()) return "{}";
  const std::string pad(indent + 2, ' ');
  std::string out = "{\n";
  for (size_t i = 0; i < fields_.size(); ++i) {
    const auto& [key, value] = fields_[i];
    absl::StrAppend(&out, pad, JsonQuote(key), ": ",
                    nested_[i] ? children_[std::stoul(value)].ToString(indent + 2) : value,
                    i + 1 < fields_.size() ? ",\n" : "\n");
  }
  return absl::StrCat(out, std::string(indent, ' '), "}");
}

}  // namespace replearn
