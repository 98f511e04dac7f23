// NumPy's array files: .npy (one array) and .npz (a zip archive of .npy members), read and written
// so that numpy.load / numpy.save / numpy.savez / numpy.savez_compressed interoperate.
//
// Supported arrays: float32 ("<f4") and float64 ("<f8"), little-endian, C order, any shape (0-d and
// empty included). Anything else is rejected with a message saying how to convert: big-endian
// (">f4"; use arr.astype("<f4")), Fortran order (np.ascontiguousarray), other dtypes
// (arr.astype(np.float32)). The host must be little-endian (static_assert).
//
// .npy: format versions 1.0, 2.0 and 3.0 are read; files are written exactly as numpy 1.24's
// np.save writes them (version 1.0, or 2.0 when the header exceeds 65535 bytes; the header dict
// padded so the data starts at a multiple of 64 bytes), so WriteNpy's bytes equal np.save's for the
// same array.
//
// .npz: members "<name>.npy", stored (method 0) or raw-deflate compressed (method 8, zlib level 6,
// what numpy.savez_compressed uses). Read: the central directory is authoritative; ZIP64 extra
// fields (central and local) and the ZIP64 end-of-central-directory record and locator are
// understood, data descriptors (flag bit 3) are allowed, every member's CRC-32 is checked. Write:
// ZIP64 records are emitted for a member or archive past 4 GiB (or more than 65535 members), or for
// every member when NpzWriteOptions::force_zip64 is set. Timestamps are fixed (1980-01-01 00:00),
// so equal inputs give byte-identical archives.
//
// Errors: every malformed input (bad magic, truncated header or data, unsupported dtype, bad zip
// structure, CRC mismatch, truncated archive) is an InvalidArgumentError that names the file, the
// member where there is one, and what was wrong; an unreadable file is the NotFoundError of
// ReadFile. Writes go through WriteFileAtomically.
#ifndef REPLEARN_CORE_NPY_H_
#define REPLEARN_CORE_NPY_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace replearn {

struct NpyArray {
  std::string dtype;           // "f4" (float32) or "f8" (float64)
  std::vector<int64_t> shape;  // {} = 0-d (one element); a 0 extent = empty
  std::string bytes;           // size() * itemsize() bytes: C order, little-endian

  // Product of the extents (1 for 0-d).
  int64_t size() const;
  // Bytes per element: 4 for "f4", 8 for "f8", 0 otherwise.
  int itemsize() const;
  // Element i (0 <= i < size()) in C order, exactly (every float is a double).
  double value(int64_t i) const;
  // All elements in C order; f8 values are rounded to the nearest float.
  std::vector<float> ToFloats() const;
  std::vector<double> ToDoubles() const;

  // CHECK-fail when values.size() differs from the product of shape.
  static NpyArray Float32(std::vector<int64_t> shape, absl::Span<const float> values);
  static NpyArray Float64(std::vector<int64_t> shape, absl::Span<const double> values);
};

// "[500, 20]", "[]" for 0-d: how shapes appear in error messages.
std::string ShapeString(absl::Span<const int64_t> shape);

// .npy bytes <-> array. `source` names the bytes in errors ("w.npy", "w.npz: member W0.npy").
absl::StatusOr<NpyArray> ParseNpy(absl::string_view bytes, absl::string_view source);
// InvalidArgument when dtype is not "f4"/"f8", an extent is negative, or bytes has the wrong length
// for shape and dtype.
absl::StatusOr<std::string> SerializeNpy(const NpyArray &array);

absl::StatusOr<NpyArray> ReadNpy(const std::string &path);
absl::Status WriteNpy(const std::string &path, const NpyArray &array);

struct NpzWriteOptions {
  bool compress = false;     // deflate like numpy.savez_compressed; false = stored, like savez
  bool force_zip64 = false;  // ZIP64 records even when no size or offset needs them
};

// Members in archive order: name (without ".npy", as numpy's np.load(...).files lists it) and
// array. Names must be non-empty and distinct.
using NpzMembers = std::vector<std::pair<std::string, NpyArray>>;

// The raw .npy bytes of every member of an archive, keyed by member name with the ".npy" suffix
// removed. Every member must be a "<name>.npy" file; directories, encrypted members and compression
// methods other than stored and deflate are rejected.
// With `limits`, every member's declared size is checked before any member is inflated, so
// an archive of huge or unexpected members costs no memory: a size above its cap is an
// InvalidArgument naming the member and both sizes.
struct NpzReadLimits {
  std::map<std::string, uint64_t> max_bytes;  // member name (no ".npy") -> cap
  uint64_t other_max_bytes = 0;               // cap of members not in max_bytes
};
absl::StatusOr<std::map<std::string, std::string>> ParseNpzMembers(
    absl::string_view bytes, absl::string_view source, const NpzReadLimits *limits = nullptr);
absl::StatusOr<std::map<std::string, std::string>> ReadNpzMembers(const std::string &path);

// Every member parsed with ParseNpy; all bad members are reported at once, one per line.
absl::StatusOr<std::map<std::string, NpyArray>> ParseNpz(absl::string_view bytes,
                                                         absl::string_view source);
absl::StatusOr<std::map<std::string, NpyArray>> ReadNpz(const std::string &path);

absl::StatusOr<std::string> SerializeNpz(const NpzMembers &members,
                                         const NpzWriteOptions &options = {});
absl::Status WriteNpz(const std::string &path, const NpzMembers &members,
                      const NpzWriteOptions &options = {});

}  // namespace replearn

#endif  // REPLEARN_CORE_NPY_H_
