#include "core/memory.h"

#include <string>

#include "gtest/gtest.h"

namespace replearn {
namespace {

TEST(Memory, AvailableIsPositiveAndBelowTheAddressSpace) {
  const uint64_t available = AvailableMemoryBytes();
  EXPECT_GT(available, 0u);
  EXPECT_LT(available, 1ull << 56);
}

TEST(Memory, HumanBytes) {
  EXPECT_EQ(HumanBytes(512), "512 bytes");
  EXPECT_EQ(HumanBytes(1536), "1.5 KiB");
  EXPECT_EQ(HumanBytes(3ull << 30), "3 GiB");
}

TEST(Memory, CheckAllocationThrowsNamingTheBytes) {
  EXPECT_NO_THROW(CheckAllocation(1 << 20));
  const uint64_t huge = 1ull << 60;
  try {
    CheckAllocation(huge);
    FAIL() << "no exception for 2^60 bytes";
  } catch (const std::bad_alloc& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("needs 1152921504606846976 bytes (1 EiB)"), std::string::npos) << what;
    EXPECT_NE(what.find("available"), std::string::npos) << what;
  }
}

}  // namespace
}  // namespace replearn
