#include "core/npy.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/file_util.h"
#include "core/status_macros.h"
#include "glog/logging.h"

namespace replearn {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "core/npy.cc copies little-endian file data straight into memory");

constexpr absl::string_view kNpyMagic("\x93NUMPY", 6);
constexpr int64_t kArrayAlign = 64;           // numpy's ARRAY_ALIGN
constexpr int64_t kGrowthAxisMaxDigits = 21;  // numpy's GROWTH_AXIS_MAX_DIGITS

absl::Status Malformed(absl::string_view source, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": ", problem));
}

// Printable rendering of a few raw bytes for "found ..." messages.
std::string Escaped(absl::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes.substr(0, 8)) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppend(&out, absl::StrFormat("\\x%02x", c));
    }
  }
  return out;
}

uint16_t U16(absl::string_view b, size_t pos) {
  uint16_t v;
  std::memcpy(&v, b.data() + pos, sizeof(v));
  return v;
}
uint32_t U32(absl::string_view b, size_t pos) {
  uint32_t v;
  std::memcpy(&v, b.data() + pos, sizeof(v));
  return v;
}
uint64_t U64(absl::string_view b, size_t pos) {
  uint64_t v;
  std::memcpy(&v, b.data() + pos, sizeof(v));
  return v;
}
void Put16(std::string &out, uint16_t v) { out.append(reinterpret_cast<const char *>(&v), 2); }
void Put32(std::string &out, uint32_t v) { out.append(reinterpret_cast<const char *>(&v), 4); }
void Put64(std::string &out, uint64_t v) { out.append(reinterpret_cast<const char *>(&v), 8); }

// ---------------------------------------------------------------------------------------
// .npy header: a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
// parsed with a small recursive-descent parser over the literals numpy writes.

struct PyValue {
  enum Kind { kString, kInt, kBool, kNone, kSequence };
  Kind kind = kNone;
  std::string str;
  int64_t num = 0;
  bool truth = false;
  std::vector<PyValue> items;
};

class HeaderParser {
 public:
  explicit HeaderParser(absl::string_view text) : text_(text) {}

  // The dict's entries in file order.
  absl::StatusOr<std::vector<std::pair<std::string, PyValue>>> ParseDict() {
    std::vector<std::pair<std::string, PyValue>> entries;
    SkipSpace();
    if (!Consume('{')) return Error("expected '{'");
    for (;;) {
      SkipSpace();
      if (Consume('}')) break;
      ASSIGN_OR_RETURN(PyValue key, ParseValue());
      if (key.kind != PyValue::kString) return Error("dict keys must be strings");
      SkipSpace();
      if (!Consume(':')) return Error("expected ':'");
      ASSIGN_OR_RETURN(PyValue value, ParseValue());
      entries.emplace_back(key.str, std::move(value));
      SkipSpace();
      if (Consume('}')) break;
      if (!Consume(',')) return Error("expected ',' or '}'");
    }
    SkipSpace();
    if (pos_ != text_.size()) return Error("unexpected text after the dict");
    return entries;
  }

 private:
  absl::StatusOr<PyValue> ParseValue(int depth = 0) {
    if (depth > 32) return Error("nested too deeply");
    SkipSpace();
    if (pos_ >= text_.size()) return Error("unexpected end");
    PyValue v;
    const char c = text_[pos_];
    if (c == '\'' || c == '"') {
      v.kind = PyValue::kString;
      ++pos_;
      for (;;) {
        if (pos_ >= text_.size()) return Error("unterminated string");
        char d = text_[pos_++];
        if (d == c) break;
        if (d == '\\') {
          if (pos_ >= text_.size()) return Error("unterminated string");
          d = text_[pos_++];
        }
        v.str.push_back(d);
      }
      return v;
    }
    if (c == '(' || c == '[') {
      v.kind = PyValue::kSequence;
      const char close = c == '(' ? ')' : ']';
      ++pos_;
      for (;;) {
        SkipSpace();
        if (Consume(close)) break;
        ASSIGN_OR_RETURN(PyValue item, ParseValue(depth + 1));
        v.items.push_back(std::move(item));
        SkipSpace();
        if (Consume(close)) break;
        if (!Consume(','))
          return Error(absl::StrCat("expected ',' or '", std::string(1, close), "'"));
      }
      return v;
    }
    if (c >= '0' && c <= '9') {
      v.kind = PyValue::kInt;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
        const int digit = text_[pos_++] - '0';
        if (v.num > (std::numeric_limits<int64_t>::max() - digit) / 10) {
          return Error("integer too large");
        }
        v.num = v.num * 10 + digit;
      }
      Consume('L');  // Python 2 longs in files written by old numpy
      return v;
    }
    struct Keyword {
      absl::string_view word;
      PyValue::Kind kind;
      bool truth;
    };
    static constexpr Keyword kKeywords[] = {{"True", PyValue::kBool, true},
                                            {"False", PyValue::kBool, false},
                                            {"None", PyValue::kNone, false}};
    for (const Keyword &k : kKeywords) {
      if (text_.substr(pos_, k.word.size()) == k.word) {
        pos_ += k.word.size();
        v.kind = k.kind;
        v.truth = k.truth;
        return v;
      }
    }
    return Error("expected a string, integer, tuple, list, True, False or None");
  }

  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\t' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool Consume(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("header dict is malformed at character ", pos_, ": ", what));
  }

  absl::string_view text_;
  size_t pos_ = 0;
};

// numpy's header text for an array (before padding), as format._write_array_header builds it.
std::string HeaderDict(const NpyArray &array) {
  std::string shape = "(";
  for (size_t i = 0; i < array.shape.size(); ++i) {
    absl::StrAppend(&shape, i > 0 ? ", " : "", array.shape[i]);
  }
  absl::StrAppend(&shape, array.shape.size() == 1 ? ",)" : ")");
  std::string header = absl::StrCat("{'descr': '<", array.dtype,
                                    "', 'fortran_order': False, 'shape': ", shape, ", }");
  if (!array.shape.empty()) {
    const int64_t digits = absl::StrCat(array.shape[0]).size();
    header.append(std::max<int64_t>(0, kGrowthAxisMaxDigits - digits), ' ');
  }
  return header;
}

// ---------------------------------------------------------------------------------------
// zlib helpers. zlib counts in 32-bit uInt, so buffers go through in chunks.

constexpr size_t kZlibChunk = size_t{1} << 30;

uint32_t Crc32(absl::string_view data) {
  uLong crc = crc32(0L, Z_NULL, 0);
  for (size_t pos = 0; pos < data.size(); pos += kZlibChunk) {
    const size_t n = std::min(kZlibChunk, data.size() - pos);
    crc = crc32(crc, reinterpret_cast<const Bytef *>(data.data() + pos), static_cast<uInt>(n));
  }
  return static_cast<uint32_t>(crc);
}

// Raw deflate (no zlib header), level 6: what Python's zipfile (and so savez_compressed) uses.
absl::StatusOr<std::string> Deflate(absl::string_view in) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    return absl::InternalError("zlib deflateInit2 failed");
  }
  std::string out(deflateBound(&zs, in.size()) + 64, '\0');
  size_t in_pos = 0;
  for (;;) {
    if (zs.avail_in == 0 && in_pos < in.size()) {
      const size_t n = std::min(kZlibChunk, in.size() - in_pos);
      zs.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(in.data() + in_pos));
      zs.avail_in = static_cast<uInt>(n);
      in_pos += n;
    }
    if (zs.avail_out == 0) {
      const size_t used = zs.total_out;
      if (used == out.size()) out.resize(2 * out.size());
      zs.next_out = reinterpret_cast<Bytef *>(out.data() + used);
      zs.avail_out = static_cast<uInt>(std::min(kZlibChunk, out.size() - used));
    }
    const int ret = deflate(&zs, in_pos == in.size() ? Z_FINISH : Z_NO_FLUSH);
    if (ret == Z_STREAM_END) break;
    if (ret != Z_OK && ret != Z_BUF_ERROR) {
      deflateEnd(&zs);
      return absl::InternalError(absl::StrCat("zlib deflate failed with code ", ret));
    }
  }
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// Inflates raw deflate data that must produce exactly `size` bytes.
absl::StatusOr<std::string> Inflate(absl::string_view in, uint64_t size, absl::string_view where) {
  z_stream zs{};
  if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) {
    return absl::InternalError("zlib inflateInit2 failed");
  }
  std::string out(size, '\0');
  unsigned char overflow[1];
  bool in_overflow = false;
  size_t in_pos = 0;
  absl::Status status;
  for (;;) {
    if (zs.avail_in == 0 && in_pos < in.size()) {
      const size_t n = std::min(kZlibChunk, in.size() - in_pos);
      zs.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(in.data() + in_pos));
      zs.avail_in = static_cast<uInt>(n);
      in_pos += n;
    }
    if (zs.avail_out == 0) {
      const uint64_t used = zs.total_out;
      if (used < size) {
        zs.next_out = reinterpret_cast<Bytef *>(out.data() + used);
        zs.avail_out = static_cast<uInt>(std::min<uint64_t>(kZlibChunk, size - used));
      } else if (!in_overflow) {
        // One spare byte detects data that inflates to more than the directory says.
        zs.next_out = overflow;
        zs.avail_out = 1;
        in_overflow = true;
      } else {
        break;
      }
    }
    const int ret = inflate(&zs, Z_NO_FLUSH);
    if (ret == Z_STREAM_END) break;
    if (ret == Z_OK) continue;
    if (ret == Z_BUF_ERROR && zs.avail_in == 0 && in_pos == in.size()) {
      status = Malformed(where, absl::StrCat("deflate data ends before the end of its stream "
                                             "(truncated member; ",
                                             in.size(), " compressed bytes)"));
    } else {
      status = Malformed(where, absl::StrCat("corrupt deflate data (",
                                             zs.msg != nullptr ? zs.msg : "zlib error", ")"));
    }
    break;
  }
  const uint64_t produced = zs.total_out;
  const uint64_t unused = zs.avail_in + (in.size() - in_pos);
  inflateEnd(&zs);
  RETURN_IF_ERROR(status);
  if (produced != size) {
    return Malformed(where,
                     absl::StrCat("deflate data inflates to ", produced > size ? "more than " : "",
                                  produced, " bytes; the zip directory records ", size));
  }
  if (unused != 0) {
    return Malformed(where, absl::StrCat(unused, " bytes after the end of the deflate stream"));
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// ZIP structures (APPNOTE.TXT 6.3): local file header, central directory header, ZIP64 extra field
// (id 0x0001), ZIP64 end of central directory record and locator, end of central directory record.

constexpr uint32_t kLocalSig = 0x04034b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kZip64EndSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr size_t kLocalSize = 30;
constexpr size_t kCentralSize = 46;
constexpr size_t kEndSize = 22;
constexpr size_t kZip64EndSize = 56;
constexpr size_t kZip64LocatorSize = 20;
constexpr uint32_t kMax32 = 0xffffffff;
constexpr uint16_t kMax16 = 0xffff;
constexpr uint16_t kDosDate1980 = (0 << 9) | (1 << 5) | 1;  // 1980-01-01
constexpr uint16_t kMadeByUnix = 3 << 8;
constexpr uint32_t kRegularFile644 = 0100644u << 16;

struct CentralEntry {
  std::string name;
  uint16_t flags = 0;
  uint16_t method = 0;
  uint32_t crc = 0;
  uint64_t compressed_size = 0;
  uint64_t size = 0;
  uint64_t local_offset = 0;
};

// Reads the ZIP64 extra field: the 64-bit values replace those of the fixed header that are
// 0xffffffff, in the order size, compressed size, offset (APPNOTE 4.5.3).
absl::Status ApplyZip64Extra(absl::string_view extra, uint32_t size32, uint32_t csize32,
                             uint32_t offset32, CentralEntry &e, absl::string_view where) {
  size_t pos = 0;
  while (pos + 4 <= extra.size()) {
    const uint16_t id = U16(extra, pos);
    const uint16_t len = U16(extra, pos + 2);
    if (pos + 4 + len > extra.size()) {
      return Malformed(where, absl::StrCat("extra field 0x", absl::Hex(id), " of ", len,
                                           " bytes runs past the end of the extra data"));
    }
    if (id == 0x0001) {
      absl::string_view block = extra.substr(pos + 4, len);
      size_t at = 0;
      const std::pair<uint32_t, uint64_t *> fields[] = {
          {size32, &e.size}, {csize32, &e.compressed_size}, {offset32, &e.local_offset}};
      for (const auto &[value32, target] : fields) {
        if (value32 != kMax32) continue;
        if (at + 8 > block.size()) {
          return Malformed(where, absl::StrCat("ZIP64 extra field of ", len,
                                               " bytes lacks a 64-bit value the header defers "
                                               "to it"));
        }
        *target = U64(block, at);
        at += 8;
      }
      return absl::OkStatus();
    }
    pos += 4 + len;
  }
  return absl::OkStatus();
}

struct ArchiveDirectory {
  uint64_t entries = 0;
  uint64_t cd_offset = 0;
  uint64_t cd_size = 0;
  uint64_t cd_limit = 0;  // where the central directory must end (start of the end records)
};

absl::StatusOr<ArchiveDirectory> FindDirectory(absl::string_view b, absl::string_view source) {
  if (b.size() < kEndSize) {
    return Malformed(source, absl::StrCat("not a zip archive (.npz) or truncated: ", b.size(),
                                          " bytes, fewer than the 22 of an empty archive"));
  }
  // The end record is the last thing in the file, followed only by a comment (< 64 KiB).
  size_t end = std::string::npos;
  const size_t lowest = b.size() - kEndSize > 65535 ? b.size() - kEndSize - 65535 : 0;
  for (size_t pos = b.size() - kEndSize + 1; pos-- > lowest;) {
    if (U32(b, pos) == kEndSig && pos + kEndSize + U16(b, pos + 20) <= b.size()) {
      end = pos;
      break;
    }
  }
  if (end == std::string::npos) {
    return Malformed(source,
                     "not a zip archive (.npz) or truncated: no end-of-central-directory "
                     "record at its end");
  }
  ArchiveDirectory dir;
  const uint16_t disk = U16(b, end + 4), cd_disk = U16(b, end + 6);
  const uint16_t entries16 = U16(b, end + 10);
  const uint32_t cd_size32 = U32(b, end + 12), cd_offset32 = U32(b, end + 16);
  dir.entries = entries16;
  dir.cd_size = cd_size32;
  dir.cd_offset = cd_offset32;
  dir.cd_limit = end;
  const bool has_locator =
      end >= kZip64LocatorSize && U32(b, end - kZip64LocatorSize) == kZip64LocatorSig;
  if (has_locator) {
    const size_t loc = end - kZip64LocatorSize;
    const uint64_t record = U64(b, loc + 8);
    if (record > loc || loc - record < kZip64EndSize) {
      return Malformed(source, absl::StrCat("ZIP64 locator points to offset ", record,
                                            ", which leaves no room for the 56-byte ZIP64 end "
                                            "record before the locator at ",
                                            loc));
    }
    if (U32(b, record) != kZip64EndSig) {
      return Malformed(source,
                       absl::StrCat("no ZIP64 end-of-central-directory record at offset ", record,
                                    " (found \"", Escaped(b.substr(record, 4)), "\")"));
    }
    if (U32(b, record + 16) != 0 || U32(b, record + 20) != 0 || U32(b, loc + 4) != 0) {
      return Malformed(source, "multi-disk (split) archives are not supported");
    }
    dir.entries = U64(b, record + 32);
    dir.cd_size = U64(b, record + 40);
    dir.cd_offset = U64(b, record + 48);
    dir.cd_limit = record;
  } else {
    if (disk != 0 || cd_disk != 0) {
      return Malformed(source, "multi-disk (split) archives are not supported");
    }
    if (entries16 == kMax16 || cd_size32 == kMax32 || cd_offset32 == kMax32) {
      return Malformed(source,
                       "the end record defers to ZIP64 values (0xffff/0xffffffff) but there "
                       "is no ZIP64 end-of-central-directory locator before it");
    }
  }
  if (dir.cd_offset > dir.cd_limit || dir.cd_size > dir.cd_limit - dir.cd_offset) {
    return Malformed(source, absl::StrCat("truncated or corrupt archive: the central directory (",
                                          dir.cd_size, " bytes at offset ", dir.cd_offset,
                                          ") does not fit before the end records at offset ",
                                          dir.cd_limit, " (file size ", b.size(), ")"));
  }
  // Each entry takes at least 46 bytes; a larger count is corrupt (and must not allocate).
  if (dir.entries > dir.cd_size / kCentralSize) {
    return Malformed(source, absl::StrCat("the end record counts ", dir.entries,
                                          " members but the central directory has only ",
                                          dir.cd_size, " bytes"));
  }
  return dir;
}

absl::StatusOr<std::vector<CentralEntry>> ReadCentralDirectory(absl::string_view b,
                                                               const ArchiveDirectory &dir,
                                                               absl::string_view source) {
  std::vector<CentralEntry> entries;
  entries.reserve(dir.entries);
  size_t pos = dir.cd_offset;
  const size_t limit = dir.cd_offset + dir.cd_size;
  for (uint64_t k = 0; k < dir.entries; ++k) {
    const std::string where = absl::StrCat(source, ": central directory entry ", k);
    if (pos + kCentralSize > limit) {
      return Malformed(
          where, absl::StrCat("runs past the end of the central directory at offset ", limit));
    }
    if (U32(b, pos) != kCentralSig) {
      return Malformed(where, absl::StrCat("bad signature \"", Escaped(b.substr(pos, 4)),
                                           "\" at offset ", pos, "; expected PK\\x01\\x02"));
    }
    CentralEntry e;
    e.flags = U16(b, pos + 8);
    e.method = U16(b, pos + 10);
    e.crc = U32(b, pos + 16);
    const uint32_t csize32 = U32(b, pos + 20), size32 = U32(b, pos + 24);
    const size_t name_len = U16(b, pos + 28), extra_len = U16(b, pos + 30),
                 comment_len = U16(b, pos + 32);
    const uint32_t offset32 = U32(b, pos + 42);
    const size_t next = pos + kCentralSize + name_len + extra_len + comment_len;
    if (next > limit) {
      return Malformed(where,
                       "name, extra field and comment run past the end of the central "
                       "directory");
    }
    e.name = std::string(b.substr(pos + kCentralSize, name_len));
    e.compressed_size = csize32;
    e.size = size32;
    e.local_offset = offset32;
    const std::string member_where = absl::StrCat(source, ": member ", e.name);
    RETURN_IF_ERROR(ApplyZip64Extra(b.substr(pos + kCentralSize + name_len, extra_len), size32,
                                    csize32, offset32, e, member_where));
    entries.push_back(std::move(e));
    pos = next;
  }
  return entries;
}

// The stored or inflated bytes of one member, CRC-checked.
absl::StatusOr<std::string> ExtractMember(absl::string_view b, const CentralEntry &e,
                                          uint64_t data_limit, absl::string_view where) {
  if (e.flags & 0x1) return Malformed(where, "is encrypted; encrypted archives are not supported");
  if (e.method != 0 && e.method != 8) {
    return Malformed(where, absl::StrCat("compression method ", e.method,
                                         " is not supported; expected 0 (stored, np.savez) or "
                                         "8 (deflate, np.savez_compressed)"));
  }
  if (e.local_offset > data_limit || data_limit - e.local_offset < kLocalSize) {
    return Malformed(where, absl::StrCat("local header offset ", e.local_offset,
                                         " is past the member data area (", data_limit,
                                         " bytes); truncated or corrupt archive"));
  }
  const size_t local = e.local_offset;
  if (U32(b, local) != kLocalSig) {
    return Malformed(where,
                     absl::StrCat("bad local header signature \"", Escaped(b.substr(local, 4)),
                                  "\" at offset ", local, "; expected PK\\x03\\x04"));
  }
  const uint64_t data_start =
      uint64_t{local} + kLocalSize + U16(b, local + 26) + U16(b, local + 28);
  if (data_start > data_limit || e.compressed_size > data_limit - data_start) {
    return Malformed(
        where,
        absl::StrCat("truncated archive: ", e.compressed_size, " bytes of data at offset ",
                     data_start, " run past the end of the member data (", data_limit, " bytes)"));
  }
  const absl::string_view local_name = b.substr(local + kLocalSize, U16(b, local + 26));
  if (local_name != e.name) {
    return Malformed(where, absl::StrCat("the local header names \"", local_name,
                                         "\"; the central directory and local header disagree"));
  }
  const absl::string_view raw = b.substr(data_start, e.compressed_size);
  std::string data;
  if (e.method == 0) {
    if (e.compressed_size != e.size) {
      return Malformed(where, absl::StrCat("stored member records ", e.compressed_size,
                                           " stored bytes but size ", e.size));
    }
    data = std::string(raw);
  } else {
    // Deflate expands at most ~1032:1; a larger claim is corruption, not a reason to allocate.
    if (e.size > 1100 * e.compressed_size + 1024) {
      return Malformed(where, absl::StrCat("records ", e.size, " bytes from ", e.compressed_size,
                                           " compressed bytes, more than deflate can produce"));
    }
    ASSIGN_OR_RETURN(data, Inflate(raw, e.size, where));
  }
  const uint32_t crc = Crc32(data);
  if (crc != e.crc) {
    return Malformed(where, absl::StrFormat("CRC-32 mismatch: the directory records 0x%08x, the "
                                            "data has 0x%08x (corrupt archive)",
                                            e.crc, crc));
  }
  return data;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// NpyArray

int64_t NpyArray::size() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

int NpyArray::itemsize() const { return dtype == "f4" ? 4 : dtype == "f8" ? 8 : 0; }

double NpyArray::value(int64_t i) const {
  if (dtype == "f4") {
    float v;
    std::memcpy(&v, bytes.data() + 4 * i, 4);
    return v;
  }
  double v;
  std::memcpy(&v, bytes.data() + 8 * i, 8);
  return v;
}

std::vector<float> NpyArray::ToFloats() const {
  std::vector<float> out(size());
  if (dtype == "f4") {
    std::memcpy(out.data(), bytes.data(), 4 * out.size());
  } else {
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(value(i));
  }
  return out;
}

std::vector<double> NpyArray::ToDoubles() const {
  std::vector<double> out(size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = value(i);
  return out;
}

namespace {

template <typename T>
NpyArray MakeArray(const char *dtype, std::vector<int64_t> shape, absl::Span<const T> values) {
  NpyArray a;
  a.dtype = dtype;
  a.shape = std::move(shape);
  CHECK_EQ(a.size(), static_cast<int64_t>(values.size())) << "shape " << ShapeString(a.shape);
  a.bytes.assign(reinterpret_cast<const char *>(values.data()), sizeof(T) * values.size());
  return a;
}

}  // namespace

NpyArray NpyArray::Float32(std::vector<int64_t> shape, absl::Span<const float> values) {
  return MakeArray("f4", std::move(shape), values);
}

NpyArray NpyArray::Float64(std::vector<int64_t> shape, absl::Span<const double> values) {
  return MakeArray("f8", std::move(shape), values);
}

std::string ShapeString(absl::Span<const int64_t> shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

// ---------------------------------------------------------------------------------------
// .npy

absl::StatusOr<NpyArray> ParseNpy(absl::string_view b, absl::string_view source) {
  if (b.size() < 10) {
    return Malformed(source, absl::StrCat("truncated .npy: ", b.size(),
                                          " bytes, fewer than the 10-byte preamble"));
  }
  if (b.substr(0, 6) != kNpyMagic) {
    return Malformed(source, absl::StrCat("not a .npy file: bad magic \"", Escaped(b.substr(0, 6)),
                                          "\"; expected \"\\x93NUMPY\""));
  }
  const int major = static_cast<unsigned char>(b[6]), minor = static_cast<unsigned char>(b[7]);
  size_t header_start;
  uint64_t header_len;
  if (major == 1 && minor == 0) {
    header_start = 10;
    header_len = U16(b, 8);
  } else if ((major == 2 || major == 3) && minor == 0) {
    if (b.size() < 12) {
      return Malformed(
          source, absl::StrCat("truncated .npy: ", b.size(),
                               " bytes, fewer than the 12-byte version ", major, ".0 preamble"));
    }
    header_start = 12;
    header_len = U32(b, 8);
  } else {
    return Malformed(source, absl::StrCat("unsupported .npy format version ", major, ".", minor,
                                          "; expected 1.0, 2.0 or 3.0"));
  }
  if (header_len > b.size() - header_start) {
    return Malformed(source,
                     absl::StrCat("truncated header: the preamble announces ", header_len,
                                  " header bytes, ", b.size() - header_start, " are present"));
  }
  const size_t data_start = header_start + header_len;
  auto parsed = HeaderParser(b.substr(header_start, header_len)).ParseDict();
  if (!parsed.ok()) return Malformed(source, parsed.status().message());

  const PyValue *descr = nullptr;
  const PyValue *fortran = nullptr;
  const PyValue *shape = nullptr;
  for (const auto &[key, value] : *parsed) {
    const PyValue **slot = key == "descr"           ? &descr
                           : key == "fortran_order" ? &fortran
                           : key == "shape"         ? &shape
                                                    : nullptr;
    if (slot == nullptr) {
      return Malformed(source, absl::StrCat("header has unknown key '", key,
                                            "'; expected exactly descr, fortran_order, shape"));
    }
    *slot = &value;
  }
  if (descr == nullptr || fortran == nullptr || shape == nullptr) {
    return Malformed(source, "header lacks one of the keys descr, fortran_order, shape");
  }
  NpyArray array;
  if (shape->kind != PyValue::kSequence) {
    return Malformed(source, "header 'shape' is not a tuple of integers");
  }
  int64_t count = 1;
  for (const PyValue &d : shape->items) {
    if (d.kind != PyValue::kInt)
      return Malformed(source, "header 'shape' is not a tuple of integers");
    array.shape.push_back(d.num);
    if (__builtin_mul_overflow(count, d.num, &count) || count > (int64_t{1} << 60)) {
      return Malformed(source,
                       absl::StrCat("shape ", ShapeString(array.shape), "... is too large"));
    }
  }
  const std::string shape_text = ShapeString(array.shape);
  if (descr->kind != PyValue::kString) {
    return Malformed(source, absl::StrCat("dtype is structured (shape ", shape_text,
                                          "); only float32 '<f4' and float64 '<f8' are "
                                          "supported"));
  }
  const std::string &d = descr->str;
  if (d == "<f4" || d == "=f4") {
    array.dtype = "f4";
  } else if (d == "<f8" || d == "=f8") {
    array.dtype = "f8";
  } else if (d == ">f4" || d == ">f8") {
    return Malformed(source, absl::StrCat("dtype '", d, "' (shape ", shape_text,
                                          ") is big-endian; only little-endian is supported "
                                          "(convert with arr.astype('<",
                                          d.substr(1), "'))"));
  } else {
    return Malformed(source, absl::StrCat("dtype '", d, "' (shape ", shape_text,
                                          ") is not supported; expected float32 '<f4' or "
                                          "float64 '<f8' (convert with arr.astype(np.float32))"));
  }
  if (fortran->kind != PyValue::kBool) {
    return Malformed(source, "header 'fortran_order' is not True or False");
  }
  if (fortran->truth) {
    return Malformed(source, absl::StrCat("array (shape ", shape_text,
                                          ") is in Fortran order; only C order is supported "
                                          "(save np.ascontiguousarray(arr))"));
  }
  const uint64_t need = static_cast<uint64_t>(count) * array.itemsize();
  const uint64_t have = b.size() - data_start;
  if (have < need) {
    return Malformed(source, absl::StrCat("truncated data: shape ", shape_text, " of '", d,
                                          "' needs ", need, " bytes, ", have, " are present"));
  }
  if (have > need) {
    return Malformed(source, absl::StrCat(have - need, " unexpected bytes after the data of shape ",
                                          shape_text, " of '", d, "' (", need, " bytes)"));
  }
  array.bytes = std::string(b.substr(data_start));
  return array;
}

absl::StatusOr<std::string> SerializeNpy(const NpyArray &array) {
  if (array.itemsize() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("NpyArray.dtype = \"", array.dtype, "\"; expected \"f4\" or \"f8\""));
  }
  for (int64_t d : array.shape) {
    if (d < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("NpyArray.shape = ", ShapeString(array.shape), "; extents must be >= 0"));
    }
  }
  if (static_cast<uint64_t>(array.size()) * array.itemsize() != array.bytes.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "NpyArray.bytes has ", array.bytes.size(), " bytes; shape ", ShapeString(array.shape),
        " of f", array.itemsize(), " needs ", array.size() * array.itemsize()));
  }
  const std::string header = HeaderDict(array);
  const int64_t hlen = header.size() + 1;  // + '\n'
  int64_t prefix = 10;
  int64_t pad = kArrayAlign - (prefix + hlen) % kArrayAlign;
  const bool v2 = hlen + pad > 65535;
  if (v2) {
    prefix = 12;
    pad = kArrayAlign - (prefix + hlen) % kArrayAlign;
  }
  std::string out;
  out.reserve(prefix + hlen + pad + array.bytes.size());
  out.append(kNpyMagic.data(), kNpyMagic.size());
  out.push_back(v2 ? 2 : 1);
  out.push_back(0);
  if (v2) {
    Put32(out, static_cast<uint32_t>(hlen + pad));
  } else {
    Put16(out, static_cast<uint16_t>(hlen + pad));
  }
  out.append(header);
  out.append(pad, ' ');
  out.push_back('\n');
  out.append(array.bytes);
  return out;
}

absl::StatusOr<NpyArray> ReadNpy(const std::string &path) {
  ASSIGN_OR_RETURN(const std::string bytes, ReadFile(path));
  return ParseNpy(bytes, path);
}

absl::Status WriteNpy(const std::string &path, const NpyArray &array) {
  auto bytes = SerializeNpy(array);
  if (!bytes.ok()) return Malformed(path, bytes.status().message());
  return WriteFileAtomically(path, *bytes);
}

// ---------------------------------------------------------------------------------------
// .npz

absl::StatusOr<std::map<std::string, std::string>> ParseNpzMembers(absl::string_view b,
                                                                   absl::string_view source,
                                                                   const NpzReadLimits *limits) {
  ASSIGN_OR_RETURN(const ArchiveDirectory dir, FindDirectory(b, source));
  ASSIGN_OR_RETURN(const std::vector<CentralEntry> entries, ReadCentralDirectory(b, dir, source));
  if (limits != nullptr) {
    for (const CentralEntry &e : entries) {
      const bool npy = e.name.size() > 4 && e.name.substr(e.name.size() - 4) == ".npy";
      const std::string key = npy ? e.name.substr(0, e.name.size() - 4) : e.name;
      const auto it = limits->max_bytes.find(key);
      const bool known = it != limits->max_bytes.end();
      const uint64_t cap = known ? it->second : limits->other_max_bytes;
      if (e.size > cap) {
        return Malformed(absl::StrCat(source, ": member ", e.name),
                         absl::StrCat("declares ", e.size, " bytes (not read); at most ", cap,
                                      known ? absl::StrCat(" are expected for ", key)
                                            : " are read for a member the network does not have"));
      }
    }
  }
  std::map<std::string, std::string> members;
  for (const CentralEntry &e : entries) {
    const std::string where = absl::StrCat(source, ": member ", e.name);
    if (e.name.size() <= 4 || e.name.substr(e.name.size() - 4) != ".npy") {
      return Malformed(where, "is not a .npy array; an .npz holds only <name>.npy members");
    }
    const std::string key = e.name.substr(0, e.name.size() - 4);
    if (members.count(key) > 0) return Malformed(where, "appears twice in the archive");
    ASSIGN_OR_RETURN(std::string data, ExtractMember(b, e, dir.cd_offset, where));
    members.emplace(key, std::move(data));
  }
  return members;
}

absl::StatusOr<std::map<std::string, std::string>> ReadNpzMembers(const std::string &path) {
  ASSIGN_OR_RETURN(const std::string bytes, ReadFile(path));
  return ParseNpzMembers(bytes, path);
}

absl::StatusOr<std::map<std::string, NpyArray>> ParseNpz(absl::string_view bytes,
                                                         absl::string_view source) {
  ASSIGN_OR_RETURN(const auto members, ParseNpzMembers(bytes, source));
  std::map<std::string, NpyArray> arrays;
  std::vector<std::string> problems;
  for (const auto &[name, npy] : members) {
    auto array = ParseNpy(npy, absl::StrCat(source, ": member ", name, ".npy"));
    if (array.ok()) {
      arrays.emplace(name, *std::move(array));
    } else {
      problems.emplace_back(array.status().message());
    }
  }
  if (!problems.empty()) return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
  return arrays;
}

absl::StatusOr<std::map<std::string, NpyArray>> ReadNpz(const std::string &path) {
  ASSIGN_OR_RETURN(const std::string bytes, ReadFile(path));
  return ParseNpz(bytes, path);
}

absl::StatusOr<std::string> SerializeNpz(const NpzMembers &members,
                                         const NpzWriteOptions &options) {
  std::string out, central;
  std::set<std::string> seen;
  for (const auto &[key, array] : members) {
    const std::string name = key + ".npy";
    if (key.empty() || name.size() > kMax16) {
      return absl::InvalidArgumentError(
          absl::StrCat("npz member name \"", key, "\"; must be non-empty and at most 65531 bytes"));
    }
    if (!seen.insert(key).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("npz member name \"", key, "\" appears twice; names must be distinct"));
    }
    auto npy = SerializeNpy(array);
    if (!npy.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("npz member ", key, ": ", npy.status().message()));
    }
    const uint32_t crc = Crc32(*npy);
    std::string deflated;
    if (options.compress) {
      ASSIGN_OR_RETURN(deflated, Deflate(*npy));
    }
    const absl::string_view data = options.compress ? deflated : *npy;
    const uint64_t size = npy->size(), csize = data.size(), offset = out.size();
    const bool zip64_sizes = options.force_zip64 || size >= kMax32 || csize >= kMax32;
    const bool zip64_offset = options.force_zip64 || offset >= kMax32;
    const uint16_t version = zip64_sizes || zip64_offset ? 45 : 20;
    const uint16_t method = options.compress ? 8 : 0;
    const bool utf8 = std::any_of(name.begin(), name.end(),
                                  [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
    const uint16_t flags = utf8 ? 1 << 11 : 0;

    Put32(out, kLocalSig);
    Put16(out, version);
    Put16(out, flags);
    Put16(out, method);
    Put16(out, 0);  // time 00:00
    Put16(out, kDosDate1980);
    Put32(out, crc);
    Put32(out, zip64_sizes ? kMax32 : static_cast<uint32_t>(csize));
    Put32(out, zip64_sizes ? kMax32 : static_cast<uint32_t>(size));
    Put16(out, static_cast<uint16_t>(name.size()));
    Put16(out, zip64_sizes ? 20 : 0);
    out.append(name);
    if (zip64_sizes) {
      Put16(out, 0x0001);
      Put16(out, 16);
      Put64(out, size);
      Put64(out, csize);
    }
    out.append(data.data(), data.size());

    std::string extra;
    if (zip64_sizes) {
      Put64(extra, size);
      Put64(extra, csize);
    }
    if (zip64_offset) Put64(extra, offset);
    Put32(central, kCentralSig);
    Put16(central, kMadeByUnix | version);
    Put16(central, version);
    Put16(central, flags);
    Put16(central, method);
    Put16(central, 0);
    Put16(central, kDosDate1980);
    Put32(central, crc);
    Put32(central, zip64_sizes ? kMax32 : static_cast<uint32_t>(csize));
    Put32(central, zip64_sizes ? kMax32 : static_cast<uint32_t>(size));
    Put16(central, static_cast<uint16_t>(name.size()));
    Put16(central, extra.empty() ? 0 : static_cast<uint16_t>(4 + extra.size()));
    Put16(central, 0);  // comment
    Put16(central, 0);  // disk
    Put16(central, 0);  // internal attributes
    Put32(central, kRegularFile644);
    Put32(central, zip64_offset ? kMax32 : static_cast<uint32_t>(offset));
    central.append(name);
    if (!extra.empty()) {
      Put16(central, 0x0001);
      Put16(central, static_cast<uint16_t>(extra.size()));
      central.append(extra);
    }
  }
  const uint64_t count = members.size(), cd_offset = out.size(), cd_size = central.size();
  out.append(central);
  const bool zip64_end =
      options.force_zip64 || count >= kMax16 || cd_offset >= kMax32 || cd_size >= kMax32;
  if (zip64_end) {
    const uint64_t record = out.size();
    Put32(out, kZip64EndSig);
    Put64(out, kZip64EndSize - 12);  // size of the rest of the record
    Put16(out, kMadeByUnix | 45);
    Put16(out, 45);
    Put32(out, 0);  // this disk
    Put32(out, 0);  // disk of the central directory
    Put64(out, count);
    Put64(out, count);
    Put64(out, cd_size);
    Put64(out, cd_offset);
    Put32(out, kZip64LocatorSig);
    Put32(out, 0);
    Put64(out, record);
    Put32(out, 1);  // total disks
  }
  Put32(out, kEndSig);
  Put16(out, 0);
  Put16(out, 0);
  const uint16_t count16 = zip64_end ? kMax16 : static_cast<uint16_t>(count);
  Put16(out, count16);
  Put16(out, count16);
  Put32(out, zip64_end ? kMax32 : static_cast<uint32_t>(cd_size));
  Put32(out, zip64_end ? kMax32 : static_cast<uint32_t>(cd_offset));
  Put16(out, 0);  // comment
  return out;
}

absl::Status WriteNpz(const std::string &path, const NpzMembers &members,
                      const NpzWriteOptions &options) {
  auto bytes = SerializeNpz(members, options);
  if (!bytes.ok()) return Malformed(path, bytes.status().message());
  return WriteFileAtomically(path, *bytes);
}

}  // namespace replearn
