// How much memory the machine can still give, and the error for a request beyond it.
#ifndef REPLEARN_CORE_MEMORY_H_
#define REPLEARN_CORE_MEMORY_H_

#include <cstdint>
#include <new>
#include <string>

namespace replearn {

// MemAvailable of /proc/meminfo in bytes (what can be allocated without swapping), or
// free physical pages x page size when that file cannot be read.
uint64_t AvailableMemoryBytes();

// "1.5 GiB", "300 MiB", "12 KiB", "512 bytes".
std::string HumanBytes(uint64_t bytes);

// Thrown by allocations that would exceed AvailableMemoryBytes() (Linux overcommits, so a
// too-large request would otherwise succeed and the process die when it touches the pages).
// Code that builds networks catches std::bad_alloc and turns what() into a Status.
class OutOfMemory : public std::bad_alloc {
 public:
  OutOfMemory(uint64_t requested, uint64_t available);
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

// Throws OutOfMemory when `bytes` is more than is available. Cheap for small requests (they
// are not checked).
void CheckAllocation(uint64_t bytes);

}  // namespace replearn

#endif  // REPLEARN_CORE_MEMORY_H_
