// A fixed-size, zero-initialised float array aligned to a cache line (64 bytes), for
// parameters and activations that oneDNN and our vectorised loops read.
#ifndef REPLEARN_ARCHITECTURES_ALIGNED_BUFFER_H_
#define REPLEARN_ARCHITECTURES_ALIGNED_BUFFER_H_

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "core/memory.h"

namespace replearn {

class AlignedBuffer {
 public:
  static constexpr int64_t kAlignment = 64;

  AlignedBuffer() = default;
  explicit AlignedBuffer(int64_t size) { Reset(size); }

  // Replaces the contents with `size` zeros (allocates; not for hot loops). Throws
  // OutOfMemory (a std::bad_alloc) when the machine cannot hold it; BuildTrial turns that
  // into a Status naming the bytes.
  void Reset(int64_t size) {
    const int64_t bytes =
        ((size * static_cast<int64_t>(sizeof(float)) + kAlignment - 1) / kAlignment) * kAlignment;
    if (size < 0 || size > INT64_MAX / static_cast<int64_t>(sizeof(float)) - kAlignment) {
      throw OutOfMemory(UINT64_MAX, AvailableMemoryBytes());
    }
    CheckAllocation(static_cast<uint64_t>(bytes));  // throws OutOfMemory
    data_.reset(bytes == 0 ? nullptr : static_cast<float*>(std::aligned_alloc(kAlignment, bytes)));
    if (bytes != 0 && data_ == nullptr) throw OutOfMemory(bytes, AvailableMemoryBytes());
    if (bytes != 0) std::memset(data_.get(), 0, bytes);
    size_ = size;
  }

  float* data() { return data_.get(); }
  const float* data() const { return data_.get(); }
  int64_t size() const { return size_; }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float[], Free> data_;
  int64_t size_ = 0;
};

}  // namespace replearn

#endif  // REPLEARN_ARCHITECTURES_ALIGNED_BUFFER_H_
