#include "experiments/flags_util.h"

#include <cstdlib>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "core/file_util.h"
#include "core/thread_pool.h"
#include "experiments/loader.h"

namespace replearn {
namespace {

bool DefinedInExperiments(absl::string_view file) {
  return absl::StrContains(file, "experiments/");
}

}  // namespace

std::vector<std::string> ParseExperimentFlags(int argc, char** argv, const std::string& usage,
                                              std::vector<std::string>* sets) {
  absl::FlagsUsageConfig config;
  config.contains_help_flags = DefinedInExperiments;
  config.contains_helpshort_flags = DefinedInExperiments;
  absl::SetFlagsUsageConfig(config);
  absl::SetProgramUsageMessage(usage);

  std::vector<char*> args(argv, argv + argc);
  if (sets != nullptr) {
    std::vector<char*> kept = {argv[0]};
    for (int i = 1; i < argc; ++i) {
      absl::string_view arg = argv[i];
      if (arg == "--") {
        kept.insert(kept.end(), argv + i, argv + argc);
        break;
      }
      absl::string_view name = arg;
      if (!absl::ConsumePrefix(&name, "--")) absl::ConsumePrefix(&name, "-");
      if (name.size() == arg.size() || !absl::ConsumePrefix(&name, "set")) {
        kept.push_back(argv[i]);
      } else if (absl::ConsumePrefix(&name, "=")) {
        sets->emplace_back(name);
      } else if (name.empty() && i + 1 < argc) {
        sets->emplace_back(argv[++i]);
      } else {
        kept.push_back(argv[i]);  // e.g. --settings: absl reports it
      }
    }
    args = std::move(kept);
  }
  const std::vector<char*> positional =
      absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
  return std::vector<std::string>(positional.begin() + 1, positional.end());
}

std::string UserPath(const std::string& path) {
  const char* wd = std::getenv("BUILD_WORKING_DIRECTORY");
  if (path.empty() || path[0] == '/' || wd == nullptr || *wd == '\0') return path;
  return JoinPath(wd, path);
}

absl::Status CheckThreads(int threads) {
  return ParseThreads(absl::StrCat(threads)).status();  // the one --threads rule
}

absl::StatusOr<Experiment> LoadSpecWithOverrides(const std::string& path,
                                                 const std::vector<std::string>& sets) {
  auto spec = LoadExperiment(path);
  if (!spec.ok()) return spec.status();
  if (const absl::Status s = ApplyOverrides(*spec, sets); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", s.message()));
  }
  return spec;
}

}  // namespace replearn
