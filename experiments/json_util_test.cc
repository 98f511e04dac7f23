#include "experiments/json_util.h"

#include <cmath>
#include <cstdlib>
#include <string>

#include "core/file_util.h"
#include "gtest/gtest.h"

namespace replearn {
namespace {

TEST(JsonNumber, KeepsTenSignificantDigitsAndWritesNullForNonFinite) {
  EXPECT_EQ(JsonNumber(0.04784104363123).dump(), "0.04784104363");
  EXPECT_EQ(JsonNumber(3.5985103794e-13).dump(), "3.598510379e-13");
  EXPECT_EQ(JsonNumber(2.0).dump(), "2");
  EXPECT_EQ(JsonNumber(-17).dump(), "-17");
  EXPECT_EQ(JsonNumber(NAN).dump(), "null");
  EXPECT_EQ(JsonNumber(-INFINITY).dump(), "null");
  EXPECT_EQ(JsonNumbers({1, NAN, 0.5}).dump(), "[1,null,0.5]");
}

TEST(JsonText, KeepsKeyOrderAndNestsWithTwoSpaces) {
  Json inner;
  inner["x"] = JsonNumber(0.5);
  Json outer;
  outer["name"] = "a\"b\\c\n";
  outer["ok"] = true;
  outer["n"] = 3;
  outer["inner"] = inner;
  const auto text = JsonText(outer);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text,
            "{\n  \"name\": \"a\\\"b\\\\c\\n\",\n  \"ok\": true,\n  \"n\": 3,\n"
            "  \"inner\": {\n    \"x\": 0.5\n  }\n}\n");
}

TEST(JsonText, ReplacesInvalidUtf8InsteadOfThrowing) {
  Json json;
  json["row\xff"] = "caf\xc3\xa9 \xc3 \xed\xa0\x80";
  const auto text = JsonText(json);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text,
            "{\n  \"row\xef\xbf\xbd\": \"caf\xc3\xa9 \xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd"
            "\xef\xbf\xbd\"\n}\n");
}

TEST(WriteJsonFile, WritesTheText) {
  const std::string path = JoinPath(std::getenv("TEST_TMPDIR"), "s.json");
  Json json;
  json["a"] = JsonNumber(1.5);
  ASSERT_TRUE(WriteJsonFile(path, json).ok());
  EXPECT_EQ(*ReadFile(path), "{\n  \"a\": 1.5\n}\n");
}

}  // namespace
}  // namespace replearn
