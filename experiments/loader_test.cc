#include "experiments/loader.h"

#include <cstdlib>
#include <string>

#include "core/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace replearn {
namespace {

using ::testing::HasSubstr;

constexpr char kSpec[] = R"pb(
  name: "t"
  architecture { mlp { depth: 3 width: 8 } }
  dataset { two_point { dx2: 1 dy2: 0.5 } }
  training { learning_rate: 0.01 steps: 5 }
  probe { two_point {} }
)pb";

Experiment Spec() {
  auto spec = ParseExperiment(kSpec, "spec");
  EXPECT_TRUE(spec.ok()) << spec.status();
  return *spec;
}

TEST(ParseExperiment, SyntaxErrorNamesFileLineAndColumn) {
  const auto spec = ParseExperiment("name: \"x\"\ntraining { learning_rate: }\n", "my.pbtxt");
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(spec.status().message(), HasSubstr("my.pbtxt:2:"));
}

TEST(ParseExperiment, UnknownFieldNamesFieldAndLine) {
  const auto spec = ParseExperiment("training {\n  learnin_rate: 0.1\n}\n", "s.pbtxt");
  EXPECT_THAT(spec.status().message(), HasSubstr("s.pbtxt:2:"));
  EXPECT_THAT(spec.status().message(), HasSubstr("learnin_rate"));
}

TEST(ParseExperiment, UnknownArchitectureListsRegisteredOnes) {
  const auto spec = ParseExperiment("architecture { transformer { } }\n", "a.pbtxt");
  EXPECT_THAT(spec.status().message(), HasSubstr("a.pbtxt:1:"));
  EXPECT_THAT(spec.status().message(), HasSubstr("transformer"));
  EXPECT_THAT(spec.status().message(), HasSubstr("registered architectures: ["));
}

TEST(LoadExperiment, MissingFileIsNotFoundNamingPath) {
  const auto spec = LoadExperiment("/no/such/spec.pbtxt");
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(spec.status().message(), HasSubstr("/no/such/spec.pbtxt"));
}

TEST(LoadExperiment, ReadsAFile) {
  const std::string path = JoinPath(std::getenv("TEST_TMPDIR"), "spec.pbtxt");
  ASSERT_TRUE(WriteFileAtomically(path, kSpec).ok());
  const auto spec = LoadExperiment(path);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->architecture().mlp().width(), 8);
}

TEST(ApplyOverride, SetsScalarsOfEveryKind) {
  Experiment spec = Spec();
  ASSERT_TRUE(ApplyOverride(spec, "training.steps=100").ok());
  ASSERT_TRUE(ApplyOverride(spec, "training.seed=3").ok());
  ASSERT_TRUE(ApplyOverride(spec, "training.learning_rate=0.01").ok());
  ASSERT_TRUE(ApplyOverride(spec, "architecture.mlp.width=64").ok());
  ASSERT_TRUE(ApplyOverride(spec, "architecture.mlp.nonlinearity=tanh").ok());
  ASSERT_TRUE(ApplyOverride(spec, "name=\"other\"").ok());
  ASSERT_TRUE(ApplyOverride(spec, "probe.two_point.layers=[0, 2]").ok());
  ASSERT_TRUE(ApplyOverride(spec, "probe.0.two_point.every=4").ok());
  ASSERT_TRUE(ApplyOverride(spec, "output.figures=false").ok());
  EXPECT_EQ(spec.training().steps(), 100);
  EXPECT_EQ(spec.training().seed(), 3u);
  EXPECT_DOUBLE_EQ(spec.training().learning_rate(), 0.01);
  EXPECT_EQ(spec.architecture().mlp().width(), 64);
  EXPECT_EQ(spec.architecture().mlp().nonlinearity(), TANH);
  EXPECT_EQ(spec.name(), "other");
  ASSERT_EQ(spec.probe(0).two_point().layers_size(), 2);
  EXPECT_EQ(spec.probe(0).two_point().layers(1), 2);
  EXPECT_EQ(spec.probe(0).two_point().every(), 4);
  EXPECT_FALSE(spec.output().figures());
}

TEST(ApplyOverride, UnknownPathNamesSegmentAndAlternatives) {
  Experiment spec = Spec();
  const absl::Status s = ApplyOverride(spec, "training.learnin_rate=0.1");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("training.learnin_rate"));
  EXPECT_THAT(s.message(), HasSubstr("learning_rate"));
  EXPECT_THAT(ApplyOverride(spec, "architecture.transformer.depth=3").message(),
              HasSubstr("registered architectures"));
}

TEST(ApplyOverride, RejectsBadValuesAndShapes) {
  Experiment spec = Spec();
  EXPECT_THAT(ApplyOverride(spec, "training.steps=ten").message(), HasSubstr("\"ten\""));
  EXPECT_THAT(ApplyOverride(spec, "architecture.mlp.nonlinearity=sigmoid").message(),
              HasSubstr("LEAKY_RELU"));
  EXPECT_THAT(ApplyOverride(spec, "training=3").message(), HasSubstr("is a message"));
  EXPECT_THAT(ApplyOverride(spec, "training.steps.x=3").message(), HasSubstr("is a value"));
  EXPECT_THAT(ApplyOverride(spec, "probe.3.two_point.every=1").message(),
              HasSubstr("out of range"));
  EXPECT_THAT(ApplyOverride(spec, "steps").message(), HasSubstr("path=value"));
  EXPECT_EQ(spec.training().steps(), 5);  // untouched by the failed overrides
}

TEST(ApplyOverride, SetsFieldsUnderTheArmTheSpecUses) {
  Experiment spec = Spec();
  spec.mutable_dataset()->mutable_two_point();
  ASSERT_TRUE(ApplyOverride(spec, "dataset.two_point.dy2=0").ok());
  EXPECT_DOUBLE_EQ(spec.dataset().two_point().dy2(), 0.0);
}

TEST(ApplyOverrides, ReportsAllFailuresAtOnce) {
  Experiment spec = Spec();
  const absl::Status s = ApplyOverrides(spec, {"training.nope=1", "training.steps=x"});
  EXPECT_THAT(s.message(), HasSubstr("nope"));
  EXPECT_THAT(s.message(), HasSubstr("\"x\""));
}

TEST(ApplyOverride, RejectsEmptyListItemsAndKeepsEmptyLists) {
  Experiment spec = *ParseExperiment("probe { two_point { layers: [1, 2] } }", "s");
  EXPECT_THAT(std::string(ApplyOverride(spec, "probe.two_point.layers=[0,,1]").message()),
              HasSubstr("empty item 1 in \"[0,,1]\""));
  EXPECT_THAT(std::string(ApplyOverride(spec, "probe.two_point.layers=[0,1,]").message()),
              HasSubstr("empty item 2"));
  ASSERT_TRUE(ApplyOverride(spec, "probe.two_point.layers=[]").ok());
  EXPECT_EQ(spec.probe(0).two_point().layers_size(), 0);
}

TEST(Utf8, SpecTextAndOverridesMustBeValidUtf8) {
  const auto parsed = ParseExperiment("name: \"bad\\377\"", "x.pbtxt");
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(parsed.status().message()),
              HasSubstr("x.pbtxt: name is not valid UTF-8 (byte 3)"));
  Experiment spec;
  EXPECT_THAT(std::string(ApplyOverrides(spec, {"name=caf\xC3"}).message()),
              HasSubstr("--set: name is not valid UTF-8 (byte 3)"));
  EXPECT_TRUE(ApplyOverrides(spec, {"name=caf\xC3\xA9"}).ok());
  EXPECT_TRUE(ParseExperiment("name: \"r\\303\\251seau\"", "ok").ok());
}

TEST(ExperimentToText, RoundTrips) {
  const Experiment spec = Spec();
  const auto again = ParseExperiment(ExperimentToText(spec), "round");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->SerializeAsString(), spec.SerializeAsString());
}

}  // namespace
}  // namespace replearn
