#include "core/folder_lock.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/file_util.h"
#include "core/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace replearn {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

std::string Dir(const std::string& name) { return JoinPath(std::getenv("TEST_TMPDIR"), name); }

TEST(FolderLock, SecondLockFailsNamingTheHolderUntilTheFirstIsReleased) {
  const std::string dir = Dir("a");
  {
    auto first = LockFolder(dir);
    ASSERT_TRUE(first.ok()) << first.status();
    EXPECT_TRUE(first->held());
    EXPECT_THAT(LockFolder(dir),
                StatusIs(absl::StatusCode::kFailedPrecondition,
                         AllOf(HasSubstr(dir + " is in use by another replearn process"),
                               HasSubstr(absl::StrCat("(pid ", ::getpid(), ")")))));
  }
  EXPECT_THAT(LockFolder(dir), IsOk());  // released with the first
}

TEST(FolderLock, ALockOfAKilledProcessDoesNotBlock) {
  const std::string dir = Dir("b");
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto lock = LockFolder(dir);
    const char c = lock.ok() ? 'y' : 'n';
    (void)!::write(ready[1], &c, 1);
    ::pause();  // holds the lock until killed
    ::_exit(0);
  }
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ASSERT_EQ(c, 'y');
  EXPECT_THAT(LockFolder(dir), StatusIs(absl::StatusCode::kFailedPrecondition,
                                        HasSubstr(absl::StrCat("(pid ", child, ")"))));
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  EXPECT_TRUE(FileExists(JoinPath(dir, kLockFileName)));  // the stale file stays ...
  EXPECT_THAT(LockFolder(dir), IsOk());                   // ... and does not block
}

TEST(FolderLock, MovedLockStaysHeld) {
  const std::string dir = Dir("c");
  auto lock = LockFolder(dir);
  ASSERT_TRUE(lock.ok());
  FolderLock moved = *std::move(lock);
  EXPECT_TRUE(moved.held());
  EXPECT_FALSE(LockFolder(dir).ok());
}

}  // namespace
}  // namespace replearn
