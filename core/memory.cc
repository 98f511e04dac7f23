#include "core/memory.h"

#include <unistd.h>

#include <fstream>
#include <string>

#include "absl/strings/str_format.h"

namespace replearn {

uint64_t AvailableMemoryBytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  uint64_t kib = 0;
  std::string unit;
  while (meminfo >> key >> kib >> unit) {
    if (key == "MemAvailable:") return kib * 1024;
  }
  const long pages = ::sysconf(_SC_AVPHYS_PAGES);
  const long page = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * page : UINT64_MAX;
}

std::string HumanBytes(uint64_t bytes) {
  constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return absl::StrFormat("%d bytes", bytes);
  double v = bytes / 1024.0;
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  return absl::StrFormat("%.3g %s", v, kUnits[u]);
}

OutOfMemory::OutOfMemory(uint64_t requested, uint64_t available)
    : message_(absl::StrFormat("needs %d bytes (%s), more than the %d bytes (%s) available",
                               requested, HumanBytes(requested), available,
                               HumanBytes(available))) {}

void CheckAllocation(uint64_t bytes) {
  constexpr uint64_t kUnchecked = 64ull << 20;  // below this, reading /proc costs more
  if (bytes < kUnchecked) return;
  const uint64_t available = AvailableMemoryBytes();
  if (bytes > available) throw OutOfMemory(bytes, available);
}

}  // namespace replearn
