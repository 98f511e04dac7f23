// An exclusive lock on a folder while one process writes it (a run or a sweep folder).
//
// The lock is flock(2) on "<dir>/.lock", a file that holds the holder's pid. The kernel drops
// the lock when the holder exits or is killed, so a stale file from a killed process never
// blocks: the next LockFolder takes it over. A second process (or a second LockFolder in the
// same process) gets FailedPrecondition naming the folder and the holder's pid.
#ifndef REPLEARN_CORE_FOLDER_LOCK_H_
#define REPLEARN_CORE_FOLDER_LOCK_H_

#include <string>

#include "absl/status/statusor.h"

namespace replearn {

class FolderLock {
 public:
  FolderLock() = default;
  FolderLock(FolderLock&& other) noexcept;
  FolderLock& operator=(FolderLock&& other) noexcept;
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;
  ~FolderLock();  // releases the lock (the file stays; it holds no state)

  bool held() const { return fd_ >= 0; }

 private:
  friend absl::StatusOr<FolderLock> LockFolder(const std::string& dir);
  int fd_ = -1;
};

// The name of the lock file inside a locked folder.
inline constexpr char kLockFileName[] = ".lock";

// Creates `dir` if needed and locks it without waiting.
absl::StatusOr<FolderLock> LockFolder(const std::string& dir);

}  // namespace replearn

#endif  // REPLEARN_CORE_FOLDER_LOCK_H_
