#include "datasets/idx.h"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "core/file_util.h"
#include "core/status_macros.h"

namespace replearn {
namespace {

// A bound on what one file may inflate to, so a corrupt or hostile .gz fails with a message
// instead of exhausting memory. MNIST's largest file inflates to 47 MB.
constexpr uint64_t kMaxInflatedBytes = uint64_t{1} << 32;

constexpr uint64_t kImagesHeaderBytes = 16;  // magic, n, rows, cols
constexpr uint64_t kLabelsHeaderBytes = 8;   // magic, n

bool IsGzip(absl::string_view data) {
  return data.size() >= 2 && static_cast<uint8_t>(data[0]) == 0x1f &&
         static_cast<uint8_t>(data[1]) == 0x8b;
}

std::string Hex32(uint32_t v) { return absl::StrFormat("0x%08X", v); }

uint32_t BigEndian32(absl::string_view data, size_t offset) {
  const auto* p = reinterpret_cast<const uint8_t*>(data.data()) + offset;
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

absl::StatusOr<std::string> Gunzip(const std::string& path, absl::string_view in) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {  // 16 +: expect a gzip header
    return absl::InternalError(absl::StrCat(path, ": zlib inflateInit2 failed"));
  }
  std::string out(
      std::min<uint64_t>(std::max<uint64_t>(uint64_t{in.size()} * 4, 1 << 16), kMaxInflatedBytes),
      '\0');
  size_t in_pos = 0;
  size_t out_pos = 0;
  absl::Status status;
  while (true) {
    if (out_pos == out.size()) {
      if (out.size() >= kMaxInflatedBytes) {
        status = absl::InvalidArgumentError(
            absl::StrCat(path, ": bad gzip: inflates to more than ", kMaxInflatedBytes,
                         " bytes; expected an IDX file (MNIST's largest is 47040016 bytes)"));
        break;
      }
      out.resize(std::min<uint64_t>(uint64_t{out.size()} * 2, kMaxInflatedBytes));
    }
    const size_t in_chunk = std::min<size_t>(in.size() - in_pos, UINT_MAX);
    const size_t out_chunk = std::min<size_t>(out.size() - out_pos, UINT_MAX);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + in_pos));
    zs.avail_in = static_cast<uInt>(in_chunk);
    zs.next_out = reinterpret_cast<Bytef*>(&out[out_pos]);
    zs.avail_out = static_cast<uInt>(out_chunk);
    const int ret = inflate(&zs, Z_NO_FLUSH);
    in_pos += in_chunk - zs.avail_in;
    out_pos += out_chunk - zs.avail_out;
    if (ret == Z_STREAM_END) {
      if (in_pos == in.size()) break;
      // Concatenated gzip members (cat a.gz b.gz) decompress to the concatenation.
      if (!IsGzip(in.substr(in_pos))) {
        status = absl::InvalidArgumentError(
            absl::StrCat(path, ": bad gzip: ", in.size() - in_pos,
                         " bytes after the end of the compressed data are not gzip data"));
        break;
      }
      inflateReset(&zs);
      continue;
    }
    if (ret == Z_OK) continue;
    if (ret == Z_BUF_ERROR && out_pos == out.size()) continue;  // out of room: grow
    if (ret == Z_BUF_ERROR && in_pos == in.size()) {
      status = absl::InvalidArgumentError(absl::StrCat(
          path, ": bad gzip: the compressed data ends early after ", in.size(), " bytes (inflated ",
          out_pos, " bytes); expected a complete gzip stream: truncated"));
      break;
    }
    status = absl::InvalidArgumentError(
        absl::StrCat(path, ": bad gzip: ", zs.msg != nullptr ? zs.msg : zError(ret),
                     " at compressed byte ", in_pos, "; expected gzip data"));
    break;
  }
  inflateEnd(&zs);
  RETURN_IF_ERROR(status);
  out.resize(out_pos);
  return out;
}

// The file's bytes, gunzipped when it holds gzip data. `where` is the path as messages
// name it: with " (gunzipped)" appended when it was compressed.
absl::StatusOr<std::string> ReadMaybeGzipped(const std::string& path, std::string* where) {
  ASSIGN_OR_RETURN(std::string raw, ReadFile(path));
  *where = path;
  if (IsGzip(raw)) {
    *where = absl::StrCat(path, " (gunzipped)");
    return Gunzip(path, raw);
  }
  if (absl::EndsWith(path, ".gz")) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": bad gzip: starts with ",
        raw.size() >= 2 ? absl::StrFormat("0x%02X 0x%02X", static_cast<uint8_t>(raw[0]),
                                          static_cast<uint8_t>(raw[1]))
                        : absl::StrCat(raw.size(), " bytes in all"),
        "; expected the gzip signature 0x1F 0x8B"));
  }
  return raw;
}

absl::Status CheckMagic(const std::string& where, absl::string_view data, uint32_t expected,
                        absl::string_view what, uint64_t header_bytes) {
  const auto truncated = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": ", data.size(), " bytes; expected at least the ", header_bytes,
                     "-byte header of IDX ", what, ": truncated file"));
  };
  // The magic number first: a file of the wrong kind is more likely than a cut header.
  if (data.size() < 4) return truncated();
  const uint32_t magic = BigEndian32(data, 0);
  if (magic != expected) {
    std::string hint;
    if (magic == kIdxImagesMagic) hint = " (that of an IDX image file)";
    if (magic == kIdxLabelsMagic) hint = " (that of an IDX label file)";
    if ((magic >> 16) == 0x1F8B) hint = " (gzip data inside gzip data?)";
    return absl::InvalidArgumentError(absl::StrCat(where, ": magic number = ", Hex32(magic), hint,
                                                   "; expected ", Hex32(expected), " for IDX ",
                                                   what));
  }
  if (data.size() < header_bytes) return truncated();
  return absl::OkStatus();
}

// Checks that data holds exactly header + body bytes.
absl::Status CheckLength(const std::string& where, absl::string_view data, uint64_t header,
                         const std::vector<uint64_t>& dims, absl::string_view what) {
  uint64_t body = 1;
  bool overflow = false;
  for (const uint64_t d : dims) {
    if (d != 0 && body > (std::numeric_limits<uint64_t>::max() - header) / d) overflow = true;
    body *= d;
  }
  std::string formula = absl::StrCat(header);
  for (size_t i = 0; i < dims.size(); ++i) {
    absl::StrAppend(&formula, i == 0 ? " + " : " x ", dims[i]);
  }
  const std::string expected = overflow ? absl::StrCat(formula, " bytes (more than 2^64)")
                                        : absl::StrCat(formula, " = ", header + body, " bytes");
  if (overflow || data.size() < header + body) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", data.size(), " bytes; expected ",
                                                   expected, " (header and ", what,
                                                   "): truncated file"));
  }
  if (data.size() > header + body) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": ", data.size(), " bytes; expected ", expected, " (header and ", what,
                     "): ", data.size() - header - body, " unexpected bytes after the end"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<IdxImages> ReadIdxImages(const std::string& path) {
  std::string where;
  ASSIGN_OR_RETURN(const std::string data, ReadMaybeGzipped(path, &where));
  RETURN_IF_ERROR(
      CheckMagic(where, data, kIdxImagesMagic, "uint8 images [n, rows, cols]", kImagesHeaderBytes));
  const uint64_t n = BigEndian32(data, 4);
  const uint64_t rows = BigEndian32(data, 8);
  const uint64_t cols = BigEndian32(data, 12);
  if (rows == 0 || cols == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": rows = ", rows, ", cols = ", cols, "; expected both >= 1"));
  }
  RETURN_IF_ERROR(CheckLength(where, data, kImagesHeaderBytes, {n, rows, cols},
                              absl::StrCat(n, " images of ", rows, " x ", cols, " bytes")));
  constexpr uint64_t kIntMax = std::numeric_limits<int>::max();
  if (n > kIntMax || rows * cols > kIntMax) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": n = ", n, ", rows x cols = ", rows * cols, "; expected both <= ", kIntMax));
  }
  IdxImages images;
  images.count = static_cast<int>(n);
  images.rows = static_cast<int>(rows);
  images.cols = static_cast<int>(cols);
  images.pixels.assign(data.begin() + kImagesHeaderBytes, data.end());
  return images;
}

absl::StatusOr<std::vector<uint8_t>> ReadIdxLabels(const std::string& path) {
  std::string where;
  ASSIGN_OR_RETURN(const std::string data, ReadMaybeGzipped(path, &where));
  RETURN_IF_ERROR(CheckMagic(where, data, kIdxLabelsMagic, "uint8 labels [n]", kLabelsHeaderBytes));
  const uint64_t n = BigEndian32(data, 4);
  RETURN_IF_ERROR(
      CheckLength(where, data, kLabelsHeaderBytes, {n}, absl::StrCat(n, " one-byte labels")));
  return std::vector<uint8_t>(data.begin() + kLabelsHeaderBytes, data.end());
}

absl::StatusOr<IdxLabelledImages> ReadIdxLabelledImages(const std::string& images_path,
                                                        const std::string& labels_path) {
  IdxLabelledImages out;
  ASSIGN_OR_RETURN(out.images, ReadIdxImages(images_path));
  ASSIGN_OR_RETURN(out.labels, ReadIdxLabels(labels_path));
  if (out.labels.size() != static_cast<size_t>(out.images.count)) {
    return absl::InvalidArgumentError(
        absl::StrCat(labels_path, ": ", out.labels.size(), " labels; expected one per image of ",
                     images_path, ", which holds ", out.images.count));
  }
  return out;
}

absl::StatusOr<std::string> FindIdxFile(const std::string& dir, const std::string& name) {
  const std::string plain = JoinPath(dir, name);
  if (FileExists(plain)) return plain;
  const std::string gz = absl::StrCat(plain, ".gz");
  if (FileExists(gz)) return gz;
  return absl::NotFoundError(
      absl::StrCat("no IDX file ", name, " in ", dir, ": tried ", plain, " and ", gz));
}

}  // namespace replearn
