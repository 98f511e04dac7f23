#include "core/utf8.h"

#include <string>

#include "gtest/gtest.h"

namespace replearn {
namespace {

TEST(Utf8, AcceptsWellFormedText) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii, \"quotes\" and \\ and \n"));
  EXPECT_TRUE(IsValidUtf8("r\xC3\xA9seau \xE2\x88\x9A \xF0\x9F\x98\x80"));  // é √ 😀
  EXPECT_TRUE(IsValidUtf8("\xF4\x8F\xBF\xBF"));                             // U+10FFFF
  EXPECT_TRUE(IsValidUtf8(std::string("a\0b", 3)));
}

TEST(Utf8, RejectsMalformedSequencesAtTheirFirstByte) {
  size_t at = 99;
  EXPECT_FALSE(IsValidUtf8("ab\xFF", &at));
  EXPECT_EQ(at, 2u);
  EXPECT_FALSE(IsValidUtf8("\xC3", &at));  // truncated
  EXPECT_EQ(at, 0u);
  EXPECT_FALSE(IsValidUtf8("x\xC0\xAF", &at));  // overlong '/'
  EXPECT_EQ(at, 1u);
  EXPECT_FALSE(IsValidUtf8("\xE0\x80\xAF"));      // overlong 3-byte
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate U+D800
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\x80"));              // lone continuation byte
  EXPECT_FALSE(IsValidUtf8("\xE2\x88", &at));     // truncated 3-byte
  EXPECT_EQ(at, 0u);
  EXPECT_FALSE(IsValidUtf8("\xE2\x28\xA1"));  // bad continuation
}

}  // namespace
}  // namespace replearn
