#include "architectures/weights_io.h"

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "architectures/test_util.h"
#include "core/npy.h"
#include "gtest/gtest.h"

namespace replearn {
namespace {

TEST(SaveWeights, WritesEveryParameterAsFloat32InParameterOrder) {
  auto net = test::CreateOrDie("mlp { depth: 2 width: 4 nonlinearity: TANH }",
                               test::Context(/*input_dim=*/3, /*output_dim=*/2, /*seed=*/7));
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/w.npz";
  ASSERT_TRUE(SaveWeights(*net, path).ok());
  const auto npz = ReadNpz(path);
  ASSERT_TRUE(npz.ok()) << npz.status();
  const std::vector<Parameter> params = net->parameters();
  ASSERT_EQ(npz->size(), params.size());
  for (const Parameter& p : params) {
    const auto it = npz->find(p.name);
    ASSERT_NE(it, npz->end()) << p.name;
    EXPECT_EQ(it->second.dtype, "f4") << p.name;
    EXPECT_EQ(it->second.shape, p.shape) << p.name;
    ASSERT_EQ(it->second.bytes.size(), p.size() * sizeof(float)) << p.name;
    EXPECT_EQ(std::memcmp(it->second.bytes.data(), p.data, it->second.bytes.size()), 0) << p.name;
  }
}

}  // namespace
}  // namespace replearn
