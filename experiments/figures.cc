#include "experiments/figures.h"

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core/file_util.h"

namespace replearn {
namespace {

// Plot commands for one panel: the measured quantity and, when present, the fitted curve.
std::string Panel(const std::string& dir, const std::string& curves_path,
                  const std::string& quantity, const std::string& layer, bool theory,
                  const std::string& ylabel, bool log_y) {
  std::string s = absl::StrCat(log_y ? "set logscale y\n" : "unset logscale y\n", "set ylabel '",
                               ylabel, "'\n", "plot ", GnuplotRows(curves_path, quantity, layer),
                               " using 1:4 with lines lw 2 lc rgb '#1f77b4' title 'measured'");
  if (theory) {
    absl::StrAppend(&s, ", ", GnuplotRows(JoinPath(dir, "theory_curves.csv"), quantity, layer),
                    " using 1:4 with lines lw 2 dt 2 lc rgb '#d62728' title 'theory fit'");
  }
  return s + "\n";
}

}  // namespace

std::string GnuplotQuote(const std::string& s) {
  return absl::StrCat("'", absl::StrReplaceAll(s, {{"'", "''"}}), "'");
}

std::string GnuplotRows(const std::string& file, const std::string& quantity,
                        const std::string& layer) {
  return GnuplotQuote(
      absl::StrCat("< awk -F, '$3 == \"", quantity, "\" && $2 == \"", layer, "\"' \"", file, "\""));
}

bool GnuplotAvailable() { return std::system("command -v gnuplot >/dev/null 2>&1") == 0; }

absl::Status RunGnuplot(const std::string& script, const std::vector<std::string>& outputs) {
  FILE* pipe = popen("gnuplot 2>&1", "w");
  if (pipe == nullptr) return absl::InternalError("cannot start gnuplot");
  std::fwrite(script.data(), 1, script.size(), pipe);
  const int rc = pclose(pipe);
  if (rc != 0) {
    for (const std::string& out : outputs) std::remove((out + ".tmp").c_str());
    return absl::InternalError(absl::StrCat("gnuplot failed (exit ", WEXITSTATUS(rc), ")"));
  }
  for (const std::string& out : outputs) {
    if (std::rename((out + ".tmp").c_str(), out.c_str()) != 0) {
      return absl::InternalError(absl::StrCat("cannot rename ", out, ".tmp to ", out));
    }
  }
  return absl::OkStatus();
}

absl::Status RenderFigures(const std::string& dir, const std::string& curves_path,
                           int tracked_layer, const std::string& title) {
  const std::string theory = JoinPath(dir, "theory_curves.csv");
  const std::string fit = JoinPath(dir, "fit.csv");
  const bool have_theory = FileExists(theory);
  std::vector<std::string> outputs;
  std::string script = "set datafile separator ','\n";
  const std::string layer = absl::StrCat(tracked_layer);
  for (const char* ext : {"png", "svg"}) {
    const std::string out = JoinPath(dir, absl::StrCat("curves.", ext));
    outputs.push_back(out);
    absl::StrAppend(
        &script,
        std::string(ext) == "png" ? "set terminal pngcairo noenhanced size 1200,900 font ',10'\n"
                                  : "set terminal svg noenhanced size 1200,900 font 'sans,10'\n",
        "set output ", GnuplotQuote(out + ".tmp"), "\n", "set multiplot layout 2,2 title ",
        GnuplotQuote(absl::StrCat(title, ": measured", have_theory ? " vs fitted theory" : "",
                                  " (layer ", tracked_layer, ")")),
        "\n", "set xlabel 'step'\nset key top right\nset grid\n",
        Panel(dir, curves_path, "h", layer, have_theory, absl::StrCat("h (layer ", layer, ")"),
              false),
        Panel(dir, curves_path, "y", "", have_theory, "y", false),
        Panel(dir, curves_path, "w", "", have_theory, "w", false),
        Panel(dir, curves_path, "loss", "", have_theory, "loss", true), "unset multiplot\n",
        "unset logscale y\nset output\n");
  }
  // A depth profile needs at least two fitted layers (header + 2 rows).
  const auto fit_text = ReadFile(fit);
  if (fit_text.ok() && std::count(fit_text->begin(), fit_text->end(), '\n') >= 3) {
    // fit.csv columns: layer,eta_h,eta_y,eta_ybar,sse,normalised_loss,...
    for (const char* ext : {"png", "svg"}) {
      const std::string out = JoinPath(dir, absl::StrCat("depth.", ext));
      outputs.push_back(out);
      absl::StrAppend(
          &script,
          std::string(ext) == "png" ? "set terminal pngcairo noenhanced size 1200,400 font ',10'\n"
                                    : "set terminal svg noenhanced size 1200,400 font 'sans,10'\n",
          "set output ", GnuplotQuote(out + ".tmp"), "\n", "set multiplot layout 1,3 title ",
          GnuplotQuote(absl::StrCat(title, ": theory fit per layer")), "\n",
          "set xlabel 'hidden layer'\nset grid\nunset key\nset logscale y\n",
          "set ylabel 'normalised fit loss'\n", "plot ", GnuplotQuote(fit),
          " using 1:6 every ::1 with linespoints pt 7 lw 2\n", "set ylabel 'eta_h'\n", "plot ",
          GnuplotQuote(fit), " using 1:2 every ::1 with linespoints pt 7 lw 2\n",
          "set ylabel 'eta_y'\n", "plot ", GnuplotQuote(fit),
          " using 1:3 every ::1 with linespoints pt 7 lw 2\n",
          "unset multiplot\nunset logscale y\nset output\n");
    }
  }
  return RunGnuplot(script, outputs);
}

}  // namespace replearn
