#include "core/npy.h"

#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "core/file_util.h"
#include "core/run_python.h"
#include "core/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace replearn {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string TmpPath(const std::string &name) {
  const char *dir = std::getenv("TEST_TMPDIR");
  return JoinPath(dir != nullptr ? dir : "/tmp", name);
}

// The test arrays, defined by formulas that numpy evaluates with the same IEEE operations.
NpzMembers Expected() {
  std::vector<float> a(12), d(7), f(1000);
  std::vector<double> e(12);
  for (int i = 0; i < 12; ++i) a[i] = static_cast<float>(i * 0.1 - 0.5);
  for (int i = 0; i < 7; ++i) d[i] = static_cast<float>(i / 7.0);
  for (int i = 0; i < 12; ++i) e[i] = i / 3.0 - 1.0;
  for (int i = 0; i < 1000; ++i) f[i] = static_cast<float>((i % 10) * 0.5);
  const double b = 1.0 / 3.0;
  return {{"a", NpyArray::Float32({3, 4}, a)},    {"b", NpyArray::Float64({}, {&b, 1})},
          {"c", NpyArray::Float64({0, 5}, {})},   {"d", NpyArray::Float32({7}, d)},
          {"e", NpyArray::Float64({2, 3, 2}, e)}, {"f", NpyArray::Float32({1000}, f)}};
}

constexpr char kPythonArrays[] = R"py(
import sys, zipfile
import numpy as np
arrays = {
    'a': (np.arange(12) * 0.1 - 0.5).astype(np.float32).reshape(3, 4),
    'b': np.array(1.0 / 3.0),
    'c': np.zeros((0, 5)),
    'd': (np.arange(7) / 7.0).astype(np.float32),
    'e': np.arange(12).reshape(2, 3, 2) / 3.0 - 1.0,
    'f': ((np.arange(1000) % 10) * 0.5).astype(np.float32),
}
)py";

// Python's repr of a shape tuple.
std::string PyShape(const std::vector<int64_t> &shape) {
  if (shape.size() == 1) return absl::StrCat("(", shape[0], ",)");
  return absl::StrCat("(", absl::StrJoin(shape, ", "), ")");
}

void ExpectSameArray(const NpyArray &got, const NpyArray &want, const std::string &what) {
  EXPECT_EQ(got.dtype, want.dtype) << what;
  EXPECT_EQ(got.shape, want.shape) << what;
  ASSERT_EQ(got.size(), want.size()) << what;
  for (int64_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got.value(i), want.value(i)) << what << " element " << i;
  }
  EXPECT_EQ(got.bytes, want.bytes) << what;
}

TEST(NpyArray, AccessorsConvertExactly) {
  const NpyArray f4 = NpyArray::Float32({2}, std::vector<float>{0.1f, -2.5f});
  EXPECT_EQ(f4.itemsize(), 4);
  EXPECT_EQ(f4.size(), 2);
  EXPECT_EQ(f4.value(0), static_cast<double>(0.1f));
  EXPECT_EQ(f4.ToDoubles(), (std::vector<double>{0.1f, -2.5}));
  const NpyArray f8 = NpyArray::Float64({1, 2}, std::vector<double>{0.1, 1e300});
  EXPECT_EQ(f8.itemsize(), 8);
  EXPECT_EQ(f8.value(1), 1e300);
  EXPECT_EQ(f8.ToFloats(), (std::vector<float>{0.1f, std::numeric_limits<float>::infinity()}));
  EXPECT_EQ(NpyArray::Float64({}, std::vector<double>{7.0}).size(), 1);
  EXPECT_EQ(NpyArray::Float64({3, 0}, {}).size(), 0);
  EXPECT_EQ(ShapeString({500, 20}), "[500, 20]");
  EXPECT_EQ(ShapeString({}), "[]");
}

TEST(Npy, NumpyWrittenFilesLoadWithTheirValues) {
  const std::string dir = TmpPath("from_numpy");
  ASSERT_TRUE(MakeDirs(dir).ok());
  const auto out = RunPython(absl::StrCat(kPythonArrays, "d = '", dir, "'\n", R"py(
for k, v in arrays.items():
    np.save(f'{d}/{k}.npy', v)
np.savez(f'{d}/stored.npz', **arrays)
np.savez_compressed(f'{d}/compressed.npz', **arrays)
for name in ('stored', 'compressed'):
    with zipfile.ZipFile(f'{d}/{name}.npz') as z:
        print(name, sorted({i.compress_type for i in z.infolist()}))
# Python's zipfile writes ZIP64 central-directory fields and end records only past 4 GiB;
# lowering its limit makes it write them for this small file.
zipfile.ZIP64_LIMIT = 0
np.savez_compressed(f'{d}/zip64.npz', **arrays)
data = open(f'{d}/zip64.npz', 'rb').read()
print('zip64', b'PK\x06\x06' in data, b'PK\x06\x07' in data, np.load(f'{d}/zip64.npz')['e'].shape)
)py"));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "stored [0]\ncompressed [8]\nzip64 True True (2, 3, 2)\n");

  const NpzMembers want = Expected();
  for (const auto &[name, array] : want) {
    const auto got = ReadNpy(JoinPath(dir, name + ".npy"));
    ASSERT_TRUE(got.ok()) << got.status();
    ExpectSameArray(*got, array, name + ".npy");
  }
  for (const std::string file : {"stored.npz", "compressed.npz", "zip64.npz"}) {
    const auto got = ReadNpz(JoinPath(dir, file));
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->size(), want.size()) << file;
    for (const auto &[name, array] : want) {
      ASSERT_EQ(got->count(name), 1u) << file << " lacks " << name;
      ExpectSameArray(got->at(name), array, absl::StrCat(file, " ", name));
    }
  }
}

TEST(Npy, WritesTheSameBytesAsNpSave) {
  const std::string dir = TmpPath("np_save");
  ASSERT_TRUE(MakeDirs(dir).ok());
  const auto out = RunPython(absl::StrCat(kPythonArrays, "d = '", dir, "'\n", R"py(
for k, v in arrays.items():
    np.save(f'{d}/{k}.npy', v)
)py"));
  ASSERT_TRUE(out.ok()) << out.status();
  for (const auto &[name, array] : Expected()) {
    const auto ours = SerializeNpy(array);
    ASSERT_TRUE(ours.ok()) << ours.status();
    EXPECT_EQ(*ours, *ReadFile(JoinPath(dir, name + ".npy"))) << name;
    EXPECT_EQ(ours->find('\n') + 1, ours->size() - array.bytes.size()) << name;
    EXPECT_EQ((ours->size() - array.bytes.size()) % 64, 0u) << name;
  }
}

TEST(Npy, OurFilesLoadInNumpyWithTheirValues) {
  const std::string dir = TmpPath("to_numpy");
  ASSERT_TRUE(MakeDirs(dir).ok());
  const NpzMembers arrays = Expected();
  struct Variant {
    std::string file;
    NpzWriteOptions options;
    int method;
  };
  const std::vector<Variant> variants = {{"stored.npz", {false, false}, 0},
                                         {"compressed.npz", {true, false}, 8},
                                         {"zip64_stored.npz", {false, true}, 0},
                                         {"zip64_compressed.npz", {true, true}, 8}};
  for (const Variant &v : variants) {
    ASSERT_TRUE(WriteNpz(JoinPath(dir, v.file), arrays, v.options).ok()) << v.file;
  }
  ASSERT_TRUE(WriteNpy(JoinPath(dir, "a.npy"), arrays[0].second).ok());
  const auto out = RunPython(absl::StrCat("d = '", dir, "'\n", R"py(
import zipfile
import numpy as np
a = np.load(f'{d}/a.npy')
print('a.npy', a.dtype.str, a.shape, a.tobytes().hex())
for f in ('stored', 'compressed', 'zip64_stored', 'zip64_compressed'):
    with zipfile.ZipFile(f'{d}/{f}.npz') as z:
        print(f, z.testzip(), sorted({i.compress_type for i in z.infolist()}))
    with np.load(f'{d}/{f}.npz') as npz:
        for k in npz.files:
            v = npz[k]
            print(k, v.dtype.str, v.shape, v.tobytes().hex())
)py"));
  ASSERT_TRUE(out.ok()) << out.status();
  std::string want =
      absl::StrCat("a.npy <f4 (3, 4) ", absl::BytesToHexString(arrays[0].second.bytes), "\n");
  for (const Variant &v : variants) {
    absl::StrAppend(&want, v.file.substr(0, v.file.size() - 4), " None [", v.method, "]\n");
    for (const auto &[name, array] : arrays) {
      absl::StrAppend(&want, name, " <", array.dtype, " ", PyShape(array.shape), " ",
                      absl::BytesToHexString(array.bytes), "\n");
    }
  }
  EXPECT_EQ(*out, want);
}

TEST(Npz, RoundTripsStoredCompressedAndForcedZip64) {
  const NpzMembers arrays = Expected();
  for (const bool compress : {false, true}) {
    for (const bool zip64 : {false, true}) {
      const auto bytes = SerializeNpz(arrays, {compress, zip64});
      ASSERT_TRUE(bytes.ok()) << bytes.status();
      // ZIP64 end record ("PK\6\6") and locator ("PK\6\7") exactly when forced.
      EXPECT_EQ(bytes->find("PK\x06\x06") != std::string::npos, zip64);
      EXPECT_EQ(bytes->find("PK\x06\x07") != std::string::npos, zip64);
      const auto got = ParseNpz(*bytes, "mem.npz");
      ASSERT_TRUE(got.ok()) << got.status();
      ASSERT_EQ(got->size(), arrays.size());
      for (const auto &[name, array] : arrays) ExpectSameArray(got->at(name), array, name);
    }
  }
  // The repetitive member "f" (4000 bytes of data) shrinks under deflate.
  EXPECT_LT(SerializeNpz(arrays, {true, false})->size() + 3000,
            SerializeNpz(arrays, {false, false})->size());
  // Fixed timestamps: equal inputs give equal archives.
  EXPECT_EQ(*SerializeNpz(arrays, {true, false}), *SerializeNpz(arrays, {true, false}));
}

// A zip bomb: 64 MiB of zeros deflate to ~64 KiB. With limits, the declared size is refused
// before anything is inflated (the cap is far below what the member would need).
TEST(Npz, LimitsRefuseLargeMembersBeforeInflating) {
  const std::vector<float> zeros(16 << 20, 0.0f);
  const auto bytes = SerializeNpz(
      {{"W0", NpyArray::Float32({16 << 20}, zeros)}, {"b0", NpyArray::Float32({2}, {1, 2})}},
      {true, false});
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_LT(bytes->size(), 1u << 20);
  NpzReadLimits limits;
  limits.max_bytes = {{"W0", 4096}, {"b0", 4096}};
  EXPECT_THAT(ParseNpzMembers(*bytes, "bomb.npz", &limits),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("bomb.npz: member W0.npy"),
                             HasSubstr("declares 67108992 bytes (not read); at most 4096"))));
  limits.max_bytes = {{"b0", 4096}};  // W0 is not a parameter of this network
  limits.other_max_bytes = 1024;
  EXPECT_THAT(ParseNpzMembers(*bytes, "bomb.npz", &limits),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("at most 1024 are read for a member the network does not have")));
  limits.max_bytes = {{"W0", 1 << 27}, {"b0", 4096}};
  const auto members = ParseNpzMembers(*bytes, "bomb.npz", &limits);
  ASSERT_TRUE(members.ok()) << members.status();
  EXPECT_EQ(members->size(), 2u);
}

TEST(Npz, WriteIsAtomicAndReadNamesMissingFile) {
  const std::string path = TmpPath("atomic.npz");
  ASSERT_TRUE(WriteNpz(path, Expected()).ok());
  const auto got = ReadNpz(path);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->size(), 6u);
  const auto missing = ReadNpz(TmpPath("no_such.npz"));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("no_such.npz"));
}

TEST(Npz, RejectsBadMembersOnWrite) {
  const NpyArray ok = NpyArray::Float32({1}, std::vector<float>{1});
  EXPECT_THAT(std::string(SerializeNpz({{"", ok}}).status().message()), HasSubstr("non-empty"));
  EXPECT_THAT(std::string(SerializeNpz({{"W0", ok}, {"W0", ok}}).status().message()),
              HasSubstr("\"W0\" appears twice"));
  NpyArray bad = ok;
  bad.dtype = "i8";
  EXPECT_THAT(std::string(SerializeNpz({{"W0", bad}}).status().message()),
              HasSubstr("npz member W0: NpyArray.dtype = \"i8\""));
  bad = ok;
  bad.bytes.pop_back();
  EXPECT_THAT(std::string(SerializeNpy(bad).status().message()),
              HasSubstr("NpyArray.bytes has 3 bytes"));
  const absl::Status s = WriteNpz(TmpPath("bad.npz"), {{"W0", bad}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), StartsWith(TmpPath("bad.npz")));
  EXPECT_FALSE(FileExists(TmpPath("bad.npz")));
}

// A hand-written .npy with the given version and header dict.
std::string NpyWithHeader(int major, const std::string &dict, const std::string &data) {
  std::string out("\x93NUMPY", 6);
  out.push_back(static_cast<char>(major));
  out.push_back(0);
  const std::string header = dict + "\n";
  if (major == 1) {
    out.push_back(static_cast<char>(header.size() & 0xff));
    out.push_back(static_cast<char>(header.size() >> 8));
  } else {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((header.size() >> (8 * i)) & 0xff));
  }
  return out + header + data;
}

TEST(Npy, ReadsVersions2And3AndPython2Headers) {
  const std::string two_floats = *SerializeNpy(NpyArray::Float32({2}, std::vector<float>{1, 2}));
  const std::string data = two_floats.substr(two_floats.size() - 8);
  for (int major : {2, 3}) {
    const auto a = ParseNpy(
        NpyWithHeader(major, "{\"shape\": (2,), \"fortran_order\": False, \"descr\": \"<f4\"}",
                      data),
        "v.npy");
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_EQ(a->ToFloats(), (std::vector<float>{1, 2}));
  }
  const auto py2 = ParseNpy(
      NpyWithHeader(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1L, 2L), }", data),
      "py2.npy");
  ASSERT_TRUE(py2.ok()) << py2.status();
  EXPECT_EQ(py2->shape, (std::vector<int64_t>{1, 2}));
}

TEST(Npy, RejectsEachMalformedInputNamingTheFile) {
  const std::string good = *SerializeNpy(NpyArray::Float32({2, 2}, std::vector<float>{1, 2, 3, 4}));
  const std::string data = good.substr(good.size() - 16);
  auto header = [&](const std::string &descr, const std::string &fortran) {
    return NpyWithHeader(
        1,
        absl::StrCat("{'descr': '", descr, "', 'fortran_order': ", fortran, ", 'shape': (2, 2), }"),
        data);
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"abc", "truncated .npy: 3 bytes"},
      {"PK\x03\x04zzzzzzzz", "not a .npy file: bad magic \"PK\\x03\\x04zz\""},
      {good.substr(0, 30), "truncated header: the preamble announces 118 header bytes, 20 are"},
      {good.substr(0, good.size() - 3), "truncated data: shape [2, 2] of '<f4' needs 16 bytes, 13"},
      {good + "x", "1 unexpected bytes after the data"},
      {std::string("\x93NUMPY\x04\x00\x10\x00zzzz", 14), "unsupported .npy format version 4.0"},
      {header(">f4", "False"), "dtype '>f4' (shape [2, 2]) is big-endian"},
      {header("<i8", "False"), "dtype '<i8' (shape [2, 2]) is not supported"},
      {header("<f2", "False"), "dtype '<f2' (shape [2, 2]) is not supported"},
      {header("<f4", "True"), "(shape [2, 2]) is in Fortran order"},
      {NpyWithHeader(1, "{'descr': '<f4', 'fortran_order': False}", data), "lacks one of the keys"},
      {NpyWithHeader(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), 'x': 1}", data),
       "unknown key 'x'"},
      {NpyWithHeader(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -2)}", data),
       "header dict is malformed"},
      {NpyWithHeader(1, "{'descr': [('x', '<f4')], 'fortran_order': False, 'shape': (2,)}", data),
       "dtype is structured"},
      {NpyWithHeader(1,
                     "{'descr': '<f4', 'fortran_order': False, 'shape': "
                     "(99999999999, 99999999999)}",
                     data),
       "is too large"},
  };
  const std::string path = TmpPath("bad.npy");
  for (const auto &[bytes, message] : cases) {
    ASSERT_TRUE(WriteFileAtomically(path, bytes).ok());
    const auto got = ReadNpy(path);
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << message;
    EXPECT_THAT(std::string(got.status().message()), StartsWith(path + ": ")) << message;
    EXPECT_THAT(std::string(got.status().message()), HasSubstr(message));
  }
}

TEST(Npz, RejectsEachMalformedArchiveNamingTheFileAndMember) {
  const NpzMembers arrays = {{"W0", NpyArray::Float32({2}, std::vector<float>{1, 2})}};
  const std::string stored = *SerializeNpz(arrays);
  const std::string compressed = *SerializeNpz(arrays, {true, false});
  const size_t data_pos = stored.find("\x93NUMPY");
  std::string crc = stored;
  crc[crc.size() - 100] ^= 1;  // inside the float data, before the central directory
  ASSERT_LT(crc.size() - 100, stored.find("PK\x01\x02"));
  ASSERT_GT(crc.size() - 100, data_pos);
  std::string deflate = compressed;
  deflate[compressed.find("W0.npy") + 6] ^= 0xff;  // the first byte of the deflate stream
  std::string bad_local = stored;
  bad_local[0] = 'X';
  const std::string renamed = absl::StrReplaceAll(stored, {{"W0.npy", "W0.txt"}});
  std::string multi_disk = stored;
  multi_disk[multi_disk.size() - 18] = 1;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "fewer than the 22 of an empty archive"},
      {"this is not a zip file at all, just text", "no end-of-central-directory record"},
      {stored.substr(0, stored.size() / 2), "no end-of-central-directory record"},
      {stored.substr(0, stored.size() - 1), "no end-of-central-directory record"},
      {stored.substr(200), "does not fit before the end records"},
      {crc, "member W0.npy: CRC-32 mismatch"},
      {deflate, "member W0.npy: "},
      {bad_local, "member W0.npy: bad local header signature"},
      {renamed, "member W0.txt: is not a .npy array"},
      {multi_disk, "multi-disk"},
  };
  const std::string path = TmpPath("bad.npz");
  for (const auto &[bytes, message] : cases) {
    ASSERT_TRUE(WriteFileAtomically(path, bytes).ok());
    const auto got = ReadNpz(path);
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << message;
    EXPECT_THAT(std::string(got.status().message()), StartsWith(path + ": ")) << message;
    EXPECT_THAT(std::string(got.status().message()), HasSubstr(message));
  }
}

TEST(Npz, ReportsEveryBadMemberAtOnce) {
  const std::string path = TmpPath("bad_members.npz");
  const auto out = RunPython(absl::StrCat("path = '", path, "'\n", R"py(
import io, zipfile
import numpy as np
def npy(a):
    b = io.BytesIO()
    np.save(b, a)
    return b.getvalue()
with zipfile.ZipFile(path, 'w') as z:
    z.writestr('good.npy', npy(np.ones(3, np.float32)))
    z.writestr('W0.npy', b'hello')
    z.writestr('W1.npy', npy(np.ones((4, 2), np.int64)))
print('ok')
)py"));
  ASSERT_TRUE(out.ok()) << out.status();
  const auto got = ReadNpz(path);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(got.status().message()),
              HasSubstr(absl::StrCat(path, ": member W0.npy: truncated .npy: 5 bytes")));
  EXPECT_THAT(std::string(got.status().message()),
              HasSubstr(absl::StrCat(path,
                                     ": member W1.npy: dtype '<i8' (shape [4, 2]) is not "
                                     "supported")));
  const auto raw = ReadNpzMembers(path);
  ASSERT_TRUE(raw.ok()) << raw.status();
  EXPECT_EQ(raw->at("W0"), "hello");
  EXPECT_TRUE(ParseNpy(raw->at("good"), "good").ok());
}

// Every truncation and every single-byte corruption of small archives is either rejected with an
// InvalidArgumentError naming the source or (for bytes no reader checks, such as timestamps) still
// yields the original arrays: never a crash or a wrong array.
TEST(Npz, EveryTruncationAndByteFlipIsRejectedOrHarmless) {
  const NpzMembers arrays = {
      {"W0", NpyArray::Float32({2, 3}, std::vector<float>{1, 2, 3, 4, 5, 6})},
      {"b0", NpyArray::Float64({2}, std::vector<double>{-1, 0.5})}};
  for (const bool compress : {false, true}) {
    for (const bool zip64 : {false, true}) {
      const std::string bytes = *SerializeNpz(arrays, {compress, zip64});
      for (size_t cut = 0; cut < bytes.size(); ++cut) {
        const auto got = ParseNpz(bytes.substr(0, cut), "cut.npz");
        ASSERT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << cut;
        ASSERT_THAT(std::string(got.status().message()), StartsWith("cut.npz: ")) << cut;
      }
      int rejected = 0;
      for (size_t pos = 0; pos < bytes.size(); ++pos) {
        for (const unsigned char mask : {0x01, 0x80, 0xff}) {
          std::string flipped = bytes;
          flipped[pos] = static_cast<char>(flipped[pos] ^ mask);
          const auto got = ParseNpz(flipped, "flip.npz");
          if (got.ok()) {
            ASSERT_EQ(got->size(), 2u) << pos;
            ExpectSameArray(got->at("W0"), arrays[0].second, absl::StrCat("flip at ", pos));
            ExpectSameArray(got->at("b0"), arrays[1].second, absl::StrCat("flip at ", pos));
          } else {
            ++rejected;
            ASSERT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << pos;
            ASSERT_THAT(std::string(got.status().message()), StartsWith("flip.npz: ")) << pos;
          }
        }
      }
      EXPECT_GT(rejected, static_cast<int>(bytes.size()));
    }
  }
}

}  // namespace
}  // namespace replearn
