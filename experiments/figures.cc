#include "experiments/figures.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/csv.h"
#include "core/file_util.h"
#include "core/status_macros.h"

namespace replearn {
namespace {

constexpr char kSetupHint[] = "gnuplot not found on PATH; tools/setup.sh installs it (gnuplot-nox)";
constexpr size_t kStderrTail = 800;  // bytes of gnuplot's messages kept in an error

std::string ErrnoText(int error) {
  char buffer[256];
  return strerror_r(error, buffer, sizeof(buffer));  // GNU strerror_r returns the text
}

// A file descriptor closed at the end of its scope.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

absl::Status WriteAll(int fd, absl::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::InternalError(absl::StrCat("cannot write: ", ErrnoText(errno)));
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

std::string ReadAll(int fd) {
  std::string out;
  char buffer[4096];
  off_t offset = 0;
  for (;;) {
    const ssize_t n = ::pread(fd, buffer, sizeof(buffer), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buffer, static_cast<size_t>(n));
    offset += n;
  }
  return out;
}

// Runs gnuplot with `script` as its stdin and `out_fd` as its stdout. The script and
// gnuplot's messages go through anonymous in-memory files rather than pipes, so nothing
// can block or raise SIGPIPE when gnuplot stops reading early.
absl::Status RunGnuplot(absl::string_view script, int out_fd) {
  const Fd in(::memfd_create("gnuplot_script", MFD_CLOEXEC));
  const Fd err(::memfd_create("gnuplot_messages", MFD_CLOEXEC));
  if (in.get() < 0 || err.get() < 0) {
    return absl::InternalError(absl::StrCat("memfd_create: ", ErrnoText(errno)));
  }
  RETURN_IF_ERROR(WriteAll(in.get(), script));
  if (::lseek(in.get(), 0, SEEK_SET) != 0) {
    return absl::InternalError(absl::StrCat("lseek: ", ErrnoText(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in.get(), STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_fd, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err.get(), STDERR_FILENO);
  char arg0[] = "gnuplot";
  char arg1[] = "-d";  // no ~/.gnuplot: the script alone decides the figure
  char* argv[] = {arg0, arg1, nullptr};
  pid_t pid = 0;
  const int spawned = ::posix_spawnp(&pid, "gnuplot", &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned == ENOENT) return absl::NotFoundError(kSetupHint);
  if (spawned != 0) {
    return absl::InternalError(absl::StrCat("cannot start gnuplot: ", ErrnoText(spawned)));
  }
  int wait_status = 0;
  while (::waitpid(pid, &wait_status, 0) < 0) {
    if (errno != EINTR) {
      return absl::InternalError(absl::StrCat("waitpid(gnuplot): ", ErrnoText(errno)));
    }
  }
  if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0) return absl::OkStatus();
  std::string messages(absl::StripAsciiWhitespace(ReadAll(err.get())));
  if (messages.size() > kStderrTail) {
    messages = absl::StrCat("...", messages.substr(messages.size() - kStderrTail));
  }
  const std::string how = WIFEXITED(wait_status)
                              ? absl::StrCat("exited with status ", WEXITSTATUS(wait_status))
                              : absl::StrCat("was killed by signal ", WTERMSIG(wait_status));
  return absl::InternalError(absl::StrCat("gnuplot ", how, ": ", messages));
}

// OK when `path` holds a whole figure: a PNG ending with its IEND chunk, an SVG ending
// with </svg>.
absl::Status CheckComplete(const std::string& path, absl::string_view ext) {
  ASSIGN_OR_RETURN(const std::string bytes, ReadFile(path));
  static constexpr char kPngSignature[] = "\x89PNG\r\n\x1a\n";
  static constexpr char kPngEnd[] = "\0\0\0\0IEND\xae\x42\x60\x82";  // length 0, type, CRC
  const absl::string_view png_signature(kPngSignature, 8), png_end(kPngEnd, 12);
  bool complete = false;
  if (ext == "png") {
    complete = bytes.size() >= 8 + 12 && absl::string_view(bytes).substr(0, 8) == png_signature &&
               absl::EndsWith(bytes, png_end);
  } else {
    complete = absl::EndsWith(absl::StripTrailingAsciiWhitespace(bytes), "</svg>");
  }
  if (complete) return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat("gnuplot wrote an incomplete ", ext, " (", bytes.size(), " bytes) into ", path));
}

bool ValidDatablockName(absl::string_view name) {
  if (name.empty() || absl::ascii_isdigit(name[0])) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '_') return false;
  }
  return true;
}

std::string DatablockText(const std::vector<Datablock>& data) {
  std::string text;
  for (const Datablock& block : data) {
    absl::StrAppend(&text, "$", block.name, " << EOD\n");
    for (const std::vector<double>& row : block.rows) {
      absl::StrAppend(&text,
                      absl::StrJoin(row, " ",
                                    [](std::string* out, double v) {
                                      out->append(std::isfinite(v) ? FormatDouble(v) : "NaN");
                                    }),
                      "\n");
    }
    absl::StrAppend(&text, "EOD\n");
  }
  return text;
}

// Length of the valid UTF-8 sequence at the start of `s`, 0 if there is none.
size_t Utf8SequenceLength(absl::string_view s) {
  const auto byte = [&s](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char lead = byte(0);
  size_t length = 0;
  unsigned char low = 0x80, high = 0xBF;  // range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;   // no overlong forms
    if (lead == 0xED) high = 0x9F;  // no UTF-16 surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;  // <= U+10FFFF
  } else {
    return 0;
  }
  if (s.size() < length || byte(1) < low || byte(1) > high) return 0;
  for (size_t i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
  }
  return length;
}

absl::Status RenderCurves(const std::string& dir, const std::string& curves_path, int tracked_layer,
                          const std::string& title) {
  ASSIGN_OR_RETURN(const TidyCurves measured, ReadTidyCurves(curves_path));
  const std::string theory_path = JoinPath(dir, "theory_curves.csv");
  const bool have_theory = FileExists(theory_path);
  TidyCurves theory;
  if (have_theory) {
    ASSIGN_OR_RETURN(theory, ReadTidyCurves(theory_path));
  }
  const std::string layer = absl::StrCat(tracked_layer);
  Figure figure;
  figure.stem = JoinPath(dir, "curves");
  figure.width = 1200;
  figure.height = 900;
  figure.script = absl::StrCat(
      "set multiplot layout 2,2 title ",
      GnuplotString(absl::StrCat(title, ": measured", have_theory ? " vs fitted theory" : "",
                                 " (layer ", tracked_layer, ")")),
      "\nset xlabel 'step'\nset key top right\nset grid\n");
  struct Panel {
    const char* quantity;
    std::string layer, ylabel;
    bool log_y;
  };
  const Panel panels[] = {{"h", layer, absl::StrCat("h (layer ", layer, ")"), false},
                          {"y", "", "y", false},
                          {"w", "", "w", false},
                          {"loss", "", "loss", true}};
  for (const Panel& p : panels) {
    const std::string q = p.quantity;
    figure.data.push_back({"measured_" + q, measured.Rows(q, p.layer)});
    absl::StrAppend(&figure.script, p.log_y ? "set logscale y\n" : "unset logscale y\n",
                    "set ylabel ", GnuplotString(p.ylabel), "\nplot $measured_", q,
                    " using 1:2 with lines lw 2 lc rgb '#1f77b4' title 'measured'");
    if (have_theory) {
      figure.data.push_back({"theory_" + q, theory.Rows(q, p.layer)});
      absl::StrAppend(&figure.script, ", $theory_", q,
                      " using 1:2 with lines lw 2 dt 2 lc rgb '#d62728' title 'theory fit'");
    }
    figure.script += "\n";
  }
  figure.script += "unset multiplot\n";
  return RenderFigure(figure);
}

// depth.{png,svg}, when fit.csv holds at least two layers.
absl::Status RenderDepth(const std::string& dir, const std::string& title) {
  const auto fit = ReadCsvFile(JoinPath(dir, "fit.csv"));
  if (!fit.ok() || fit->rows.size() < 2) return absl::OkStatus();
  const int columns[] = {fit->Column("layer"), fit->Column("normalised_loss"), fit->Column("eta_h"),
                         fit->Column("eta_y")};
  Figure figure;
  figure.stem = JoinPath(dir, "depth");
  figure.width = 1200;
  figure.height = 400;
  Datablock block{"fit", {}};
  for (const std::vector<std::string>& row : fit->rows) {
    std::vector<double> values;
    for (int c : columns) {
      double v = NAN;
      if (c < 0 || !absl::SimpleAtod(row[c], &v)) v = NAN;
      values.push_back(v);
    }
    block.rows.push_back(std::move(values));
  }
  figure.data.push_back(std::move(block));
  figure.script = absl::StrCat(
      "set multiplot layout 1,3 title ",
      GnuplotString(absl::StrCat(title, ": theory fit per layer")),
      "\nset xlabel 'hidden layer'\nset grid\nunset key\nset logscale y\n",
      "set ylabel 'normalised fit loss'\nplot $fit using 1:2 with linespoints pt 7 lw 2\n",
      "set ylabel 'eta_h'\nplot $fit using 1:3 with linespoints pt 7 lw 2\n",
      "set ylabel 'eta_y'\nplot $fit using 1:4 with linespoints pt 7 lw 2\n", "unset multiplot\n");
  return RenderFigure(figure);
}

std::atomic<int> temporary_count{0};

}  // namespace

std::string GnuplotString(absl::string_view text) {
  std::string out = "'";
  while (!text.empty()) {
    const unsigned char c = static_cast<unsigned char>(text[0]);
    size_t length = 1;
    if (c < 0x20 || c == 0x7F) {
      out.push_back(' ');
    } else if (c == '\'') {
      out.append("''");
    } else if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if ((length = Utf8SequenceLength(text)) == 0) {
      out.push_back('?');
      length = 1;
    } else if (c == 0xC2 && static_cast<unsigned char>(text[1]) < 0xA0) {
      out.push_back(' ');  // C1 control character U+0080..U+009F
    } else {
      out.append(text.data(), length);
    }
    text.remove_prefix(length);
  }
  return out + "'";
}

bool GnuplotAvailable() {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return false;
  for (absl::string_view dir : absl::StrSplit(path, ':')) {
    const std::string candidate = JoinPath(dir.empty() ? "." : dir, "gnuplot");
    struct stat st;
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return true;
    }
  }
  return false;
}

absl::Status RenderFigure(const Figure& figure) {
  if (figure.width <= 0 || figure.height <= 0 || figure.font_size <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("figure ", figure.stem, ": size ", figure.width,
                                                   "x", figure.height, ", font ", figure.font_size,
                                                   "; all must be > 0"));
  }
  for (const Datablock& block : figure.data) {
    if (!ValidDatablockName(block.name)) {
      return absl::InvalidArgumentError(absl::StrCat("figure ", figure.stem, ": datablock name \"",
                                                     block.name,
                                                     "\"; must match [A-Za-z_][A-Za-z0-9_]*"));
    }
  }
  const std::string data = DatablockText(figure.data);
  struct Output {
    const char* ext;
    std::string terminal, path, temporary;
  };
  Output outputs[] = {
      {"png", absl::StrFormat("set terminal pngcairo noenhanced size %d,%d font ',%d'\n",
                              figure.width, figure.height, figure.font_size)},
      {"svg", absl::StrFormat("set terminal svg noenhanced size %d,%d font 'sans,%d'\n",
                              figure.width, figure.height, figure.font_size)}};
  absl::Status status;
  std::vector<std::string> created;
  for (Output& out : outputs) {
    out.path = absl::StrCat(figure.stem, ".", out.ext);
    out.temporary = absl::StrCat(out.path, ".tmp.", ::getpid(), ".", temporary_count++);
    const Fd fd(::open(out.temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.get() < 0) {
      status = absl::InternalError(
          absl::StrCat("cannot create ", out.temporary, ": ", ErrnoText(errno)));
      break;
    }
    created.push_back(out.temporary);
    status = RunGnuplot(absl::StrCat(data, out.terminal, figure.script, "\n"), fd.get());
    if (status.ok()) status = CheckComplete(out.temporary, out.ext);
    if (!status.ok()) break;
  }
  if (status.ok()) {
    for (const Output& out : outputs) {
      if (::rename(out.temporary.c_str(), out.path.c_str()) != 0) {
        status = absl::InternalError(absl::StrCat("cannot rename ", out.temporary, " to ", out.path,
                                                  ": ", ErrnoText(errno)));
        break;
      }
    }
  }
  if (status.ok()) return status;
  for (const std::string& temporary : created) ::unlink(temporary.c_str());
  if (status.code() == absl::StatusCode::kNotFound) return status;  // no gnuplot: say so alone
  return absl::Status(status.code(), absl::StrCat("figure ", figure.stem, ": ", status.message()));
}

std::vector<std::vector<double>> TidyCurves::Rows(absl::string_view quantity,
                                                  absl::string_view layer) const {
  const auto it = series.find({std::string(quantity), std::string(layer)});
  return it == series.end() ? std::vector<std::vector<double>>() : it->second;
}

absl::StatusOr<TidyCurves> ReadTidyCurves(const std::string& path) {
  ASSIGN_OR_RETURN(const CsvTable table, ReadCsvFile(path));
  const int step = table.Column("step"), layer = table.Column("layer"),
            quantity = table.Column("quantity"), value = table.Column("value");
  if (step < 0 || layer < 0 || quantity < 0 || value < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": header lacks step, layer, quantity or value"));
  }
  const auto number = [](const std::string& text) {
    double v = NAN;
    return absl::SimpleAtod(text, &v) ? v : NAN;
  };
  TidyCurves curves;
  for (const std::vector<std::string>& row : table.rows) {
    curves.series[{row[quantity], row[layer]}].push_back({number(row[step]), number(row[value])});
  }
  return curves;
}

absl::Status RenderFigures(const std::string& dir, const std::string& curves_path,
                           int tracked_layer, const std::string& title) {
  RETURN_IF_ERROR(RenderCurves(dir, curves_path, tracked_layer, title));
  return RenderDepth(dir, title);
}

absl::Status RenderHeatmaps(const std::vector<HeatmapPanel>& panels, int rows, int cols,
                            const std::string& title, const std::string& out_stem) {
  Figure figure;
  figure.stem = out_stem;
  figure.width = 380 * cols;
  figure.height = 340 * rows + 50;
  figure.font_size = 9;
  figure.script =
      absl::StrCat("set multiplot layout ", rows, ",", cols, " title ", GnuplotString(title),
                   "\nunset key\nset size ratio -1\nset palette rgb 33,13,10\n"
                   "set autoscale xfix\nset autoscale yfix\nset yrange [*:*] reverse\n");
  for (size_t k = 0; k < panels.size(); ++k) {
    const HeatmapPanel& p = panels[k];
    Datablock block{absl::StrCat("matrix", k), {}};
    for (Eigen::Index i = 0; i < p.matrix.rows(); ++i) {
      std::vector<double> row(p.matrix.cols());
      for (Eigen::Index j = 0; j < p.matrix.cols(); ++j) row[j] = p.matrix(i, j);
      block.rows.push_back(std::move(row));
    }
    figure.data.push_back(std::move(block));
    std::string tics = "set xtics auto\nset ytics auto\n";
    if (!p.tics.empty()) {
      std::vector<std::string> items;
      for (const auto& [label, pos] : p.tics)
        items.push_back(absl::StrCat(GnuplotString(label), " ", pos));
      const std::string list = absl::StrCat("(", absl::StrJoin(items, ", "), ")");
      tics = absl::StrCat("set xtics ", list, " rotate by 45 right\nset ytics ", list, "\n");
    }
    const std::string name = absl::StrCat("$matrix", k);
    absl::StrAppend(&figure.script, tics, "set title ", GnuplotString(p.title), "\n",
                    std::isfinite(p.cb_max)
                        ? absl::StrCat("set cbrange [0:", FormatDouble(p.cb_max), "]\n")
                        : "set cbrange [*:*]\n",
                    "plot ", name, " matrix with image");
    if (p.values) {
      absl::StrAppend(&figure.script, ", ", name,
                      " matrix using 1:2:(sprintf('%.3g', $3)) with labels");
    }
    figure.script += "\n";
  }
  figure.script += "unset multiplot\n";
  return RenderFigure(figure);
}

}  // namespace replearn
