// architecture.init_npz and output.save_weights: saving a run's weights and starting a run
// from them reproduces it bit for bit; bad init files are rejected before training, naming
// the key and the expected and found shapes.
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/file_util.h"
#include "core/npy.h"
#include "core/run_python.h"
#include "experiments/loader.h"
#include "experiments/run.h"
#include "experiments/trial.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace replearn {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string TmpPath(const std::string& name) { return JoinPath(std::getenv("TEST_TMPDIR"), name); }

std::string Message(const absl::Status& s) { return std::string(s.message()); }

// depth 3, width 16: parameters W0 [16, 1], b0 [16], W1, W2 [16, 16], b1, b2 [16],
// W3 [1, 16], b3 [1].
Experiment SmallSpec() {
  auto spec = ParseExperiment(
      R"pb(
        name: "weights"
        architecture { mlp { depth: 3 width: 16 nonlinearity: LEAKY_RELU gain: 1.0 } }
        dataset { two_point { dx2: 1 dy2: 0.5 } }
        training { learning_rate: 0.05 steps: 30 seed: 1 threads: 1 }
        probe { two_point {} }
        theory { enabled: false }
        output { figures: false save_weights: true }
      )pb",
      "small");
  EXPECT_TRUE(spec.ok()) << spec.status();
  return *spec;
}

// Runs `spec` into $TEST_TMPDIR/<name> and returns the folder.
std::string RunInto(const Experiment& spec, const std::string& name) {
  const std::string dir = TmpPath(name);
  const auto summary = RunExperiment(spec, RunOptions{dir, false});
  EXPECT_TRUE(summary.ok()) << summary.status();
  return dir;
}

// The first run of SmallSpec, shared by the tests (its weights_init.npz is their template).
const std::string& FirstRun() {
  static const std::string* dir = new std::string(RunInto(SmallSpec(), "first"));
  return *dir;
}

TEST(SaveWeights, WritesInitialAndFinalParametersAsFloat32) {
  const auto init = ReadNpz(JoinPath(FirstRun(), "weights_init.npz"));
  const auto final = ReadNpz(JoinPath(FirstRun(), "weights_final.npz"));
  ASSERT_TRUE(init.ok()) << init.status();
  ASSERT_TRUE(final.ok()) << final.status();
  const std::vector<std::pair<std::string, std::vector<int64_t>>> expected = {
      {"W0", {16, 1}},  {"b0", {16}}, {"W1", {16, 16}}, {"b1", {16}},
      {"W2", {16, 16}}, {"b2", {16}}, {"W3", {1, 16}},  {"b3", {1}}};
  ASSERT_EQ(init->size(), expected.size());
  ASSERT_EQ(final->size(), expected.size());
  // The network BuildTrial makes from the same spec holds exactly the saved initial values.
  auto trial = BuildTrial(SmallSpec());
  ASSERT_TRUE(trial.ok()) << trial.status();
  const std::vector<Parameter> params = trial->net->parameters();
  for (size_t i = 0; i < expected.size(); ++i) {
    const auto& [name, shape] = expected[i];
    const NpyArray& a = init->at(name);
    EXPECT_EQ(a.dtype, "f4") << name;
    EXPECT_EQ(a.shape, shape) << name;
    EXPECT_EQ(final->at(name).shape, shape) << name;
    EXPECT_EQ(params[i].name, name);
    EXPECT_EQ(a.ToFloats(), std::vector<float>(params[i].data, params[i].data + params[i].size()))
        << name;
  }
  // Xavier init: biases start at zero; training moves every tensor.
  EXPECT_EQ(init->at("b1").ToDoubles(), std::vector<double>(16, 0.0));
  for (const auto& [name, shape] : expected) {
    EXPECT_NE(init->at(name).bytes, final->at(name).bytes) << name;
  }
}

TEST(InitNpz, RoundTripReproducesTheRunBitForBit) {
  Experiment spec = SmallSpec();
  spec.mutable_architecture()->set_init_npz(JoinPath(FirstRun(), "weights_init.npz"));
  // A different seed would give different Xavier weights: the file must override them.
  spec.mutable_training()->set_seed(99);
  const std::string dir = RunInto(spec, "round_trip");
  const std::string curves = *ReadFile(JoinPath(FirstRun(), "curves.csv"));
  EXPECT_GT(curves.size(), 1000u);
  EXPECT_EQ(*ReadFile(JoinPath(dir, "curves.csv")), curves);
  EXPECT_EQ(*ReadFile(JoinPath(dir, "weights_init.npz")),
            *ReadFile(JoinPath(FirstRun(), "weights_init.npz")));
  EXPECT_EQ(*ReadFile(JoinPath(dir, "weights_final.npz")),
            *ReadFile(JoinPath(FirstRun(), "weights_final.npz")));
  // The resolved spec records the init file, so rerunning spec.pbtxt reproduces the run too.
  EXPECT_THAT(*ReadFile(JoinPath(dir, "spec.pbtxt")), HasSubstr("init_npz: \""));

  // Without the file, seed 99 is a different run.
  Experiment other = SmallSpec();
  other.mutable_training()->set_seed(99);
  EXPECT_NE(*ReadFile(JoinPath(RunInto(other, "seed99"), "curves.csv")), curves);
}

// Rewrites the first run's initial weights with numpy (as a user or PyTorch script would)
// and returns the new file.
std::string NumpyVariant(const std::string& name, const std::string& edit) {
  const std::string path = TmpPath(name + ".npz");
  const auto out = RunPython(absl::StrCat(
      "import numpy as np\n", "w = dict(np.load('", JoinPath(FirstRun(), "weights_init.npz"),
      "'))\n", edit, "\nnp.savez(open('", path, "', 'wb'), **w)\nprint('ok')\n"));
  EXPECT_TRUE(out.ok()) << out.status();
  return path;
}

absl::Status BuildWithInit(const std::string& path) {
  Experiment spec = SmallSpec();
  spec.mutable_architecture()->set_init_npz(path);
  return BuildTrial(spec).status();
}

TEST(InitNpz, Float64IsRoundedToTheSameRun) {
  const std::string path =
      NumpyVariant("f8", "w = {k: v.astype(np.float64) for k, v in w.items()}");
  ASSERT_EQ(ReadNpz(path)->at("W1").dtype, "f8");
  Experiment spec = SmallSpec();
  spec.mutable_architecture()->set_init_npz(path);
  EXPECT_EQ(*ReadFile(JoinPath(RunInto(spec, "from_f8"), "curves.csv")),
            *ReadFile(JoinPath(FirstRun(), "curves.csv")));
}

TEST(InitNpz, RejectsMissingKeyNamingItsShape) {
  const std::string path = NumpyVariant("missing", "del w['b2']");
  const absl::Status s = BuildWithInit(path);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(s), HasSubstr(absl::StrCat("architecture.init_npz = ", path,
                                                 ": missing key b2; expected shape [16]")));
}

TEST(InitNpz, RejectsExtraKeyNamingItsShape) {
  const std::string path = NumpyVariant("extra", "w['W4'] = np.zeros((1, 1), np.float32)");
  const absl::Status s = BuildWithInit(path);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(s), HasSubstr(absl::StrCat(
                              "architecture.init_npz = ", path,
                              ": unexpected key W4 (shape [1, 1]); the network's parameters are "
                              "W0, b0, W1, b1, W2, b2, W3, b3")));
}

TEST(InitNpz, RejectsWrongShapeNamingExpectedAndFound) {
  const std::string path = NumpyVariant("shape", "w['W1'] = w['W1'][:, :15]");
  const absl::Status s = BuildWithInit(path);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(s),
              HasSubstr(absl::StrCat("architecture.init_npz = ", path,
                                     ": key W1 has shape [16, 15]; expected [16, 16]")));
}

TEST(InitNpz, RejectsTransposedWeightNamingExpectedAndFound) {
  const std::string path = NumpyVariant("transposed", "w['W0'] = w['W0'].T.copy()");
  EXPECT_THAT(Message(BuildWithInit(path)),
              HasSubstr("key W0 has shape [1, 16]; expected [16, 1]"));
}

TEST(InitNpz, RejectsIntegerDtypeNamingKeyAndShapes) {
  const std::string path = NumpyVariant("int64", "w['W2'] = np.ones((16, 16), np.int64)");
  const absl::Status s = BuildWithInit(path);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(s), HasSubstr(absl::StrCat("architecture.init_npz = ", path,
                                                 ": key W2: dtype '<i8' (shape [16, 16]) is not "
                                                 "supported")));
  EXPECT_THAT(Message(s), HasSubstr("(W2 must be float32 or float64 of shape [16, 16])"));
}

TEST(InitNpz, ReportsEveryProblemAtOnceWithTheRestOfTheSpec) {
  const std::string path = NumpyVariant("all",
                                        "del w['b2']\n"
                                        "w['extra'] = np.zeros(3)\n"
                                        "w['W1'] = w['W1'][:15]\n"
                                        "w['W3'] = np.ones((1, 16), np.int32)\n");
  Experiment spec = SmallSpec();
  spec.mutable_architecture()->set_init_npz(path);
  spec.mutable_training()->set_learning_rate(-1);
  const absl::Status s = BuildTrial(spec).status();
  EXPECT_THAT(Message(s), HasSubstr("training.learning_rate = -1"));
  EXPECT_THAT(Message(s), HasSubstr("missing key b2; expected shape [16]"));
  EXPECT_THAT(Message(s), HasSubstr("unexpected key extra (shape [3])"));
  EXPECT_THAT(Message(s), HasSubstr("key W1 has shape [15, 16]; expected [16, 16]"));
  EXPECT_THAT(Message(s), HasSubstr("key W3: dtype '<i4' (shape [1, 16]) is not supported"));
}

TEST(InitNpz, RejectsMissingAndCorruptFilesNamingThem) {
  const std::string missing = TmpPath("no_such_init.npz");
  EXPECT_THAT(Message(BuildWithInit(missing)),
              HasSubstr(absl::StrCat("architecture.init_npz = ", missing, ": cannot open")));
  const std::string corrupt = TmpPath("corrupt.npz");
  const std::string bytes = *ReadFile(JoinPath(FirstRun(), "weights_init.npz"));
  ASSERT_TRUE(WriteFileAtomically(corrupt, bytes.substr(0, bytes.size() / 2)).ok());
  const absl::Status s = BuildWithInit(corrupt);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(s),
              HasSubstr(absl::StrCat("architecture.init_npz = ", corrupt, ": not a zip archive")));
}

TEST(ResolveInitNpz, TriesTheWorkingDirectoryThenTheSpecFolder) {
  const std::string root = TmpPath("resolve");
  ASSERT_TRUE(MakeDirs(JoinPath(root, "specs")).ok());
  ASSERT_TRUE(MakeDirs(JoinPath(root, "work")).ok());
  ASSERT_TRUE(WriteFileAtomically(JoinPath(root, "specs/w.npz"), "x").ok());
  ASSERT_TRUE(WriteFileAtomically(JoinPath(root, "work/both.npz"), "x").ok());
  ASSERT_TRUE(WriteFileAtomically(JoinPath(root, "specs/both.npz"), "x").ok());
  const std::string spec_path = JoinPath(root, "specs/s.pbtxt");
  auto resolved = [&](const std::string& init) {
    Experiment spec;
    spec.mutable_architecture()->set_init_npz(init);
    ResolveInitNpz(JoinPath(root, "work"), spec_path, spec);
    return spec.architecture().init_npz();
  };
  EXPECT_EQ(resolved("w.npz"), JoinPath(root, "specs/w.npz"));
  EXPECT_EQ(resolved("both.npz"), JoinPath(root, "work/both.npz"));
  EXPECT_EQ(resolved("nowhere.npz"), "nowhere.npz");
  EXPECT_EQ(resolved("/abs/w.npz"), "/abs/w.npz");
  EXPECT_EQ(resolved(""), "");
  EXPECT_THAT(resolved("w.npz"), Not(HasSubstr("work")));
  // A relative spec folder gives an absolute path.
  Experiment spec;
  spec.mutable_architecture()->set_init_npz("w.npz");
  char cwd[4096];
  ASSERT_NE(::getcwd(cwd, sizeof(cwd)), nullptr);
  ASSERT_EQ(::chdir(root.c_str()), 0);
  ResolveInitNpz("", "specs/s.pbtxt", spec);
  ASSERT_EQ(::chdir(cwd), 0);
  EXPECT_EQ(spec.architecture().init_npz(), JoinPath(root, "specs/w.npz"));
}

}  // namespace
}  // namespace replearn
