#include "datasets/idx.h"

#include <cstdint>
#include <string>
#include <vector>

#include "core/file_util.h"
#include "datasets/test_files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace replearn {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

// Three 2 x 4 images; pixel (r, c) of image i is 100 * i + 10 * r + c (fits in a byte).
constexpr int kCount = 3, kRows = 2, kCols = 4;
std::vector<uint8_t> Pixels() {
  std::vector<uint8_t> p;
  for (int i = 0; i < kCount; ++i)
    for (int r = 0; r < kRows; ++r)
      for (int c = 0; c < kCols; ++c) p.push_back(static_cast<uint8_t>(100 * i + 10 * r + c));
  return p;
}

void ExpectThePixels(const IdxImages& images) {
  EXPECT_EQ(images.count, kCount);
  EXPECT_EQ(images.rows, kRows);
  EXPECT_EQ(images.cols, kCols);
  EXPECT_EQ(images.pixels_per_image(), kRows * kCols);
  ASSERT_EQ(images.pixels.size(), static_cast<size_t>(kCount * kRows * kCols));
  // Spot checks against the layout formula, independently of Pixels().
  EXPECT_EQ(images.pixels[0], 0);
  EXPECT_EQ(images.pixels[1 * 8 + 1 * 4 + 3], 113);  // image 1, row 1, col 3
  EXPECT_EQ(images.pixels[2 * 8 + 0 * 4 + 2], 202);  // image 2, row 0, col 2
  EXPECT_THAT(images.pixels, ElementsAreArray(Pixels()));
}

TEST(Idx, ReadsPlainImagesAndLabels) {
  const std::string dir = FreshTestDir("idx_plain");
  WriteIdxSplit(dir, "train", kRows, kCols, Pixels(), {7, 0, 9}, /*gzip=*/false);
  const auto data = ReadIdxLabelledImages(JoinPath(dir, "train-images-idx3-ubyte"),
                                          JoinPath(dir, "train-labels-idx1-ubyte"));
  ASSERT_TRUE(data.ok()) << data.status();
  ExpectThePixels(data->images);
  EXPECT_THAT(data->labels, ElementsAre(7, 0, 9));
}

TEST(Idx, ReadsGzipFilesLikePlainOnes) {
  const std::string dir = FreshTestDir("idx_gzip");
  WriteIdxSplit(dir, "t10k", kRows, kCols, Pixels(), {1, 2, 3}, /*gzip=*/true);
  const auto data = ReadIdxLabelledImages(JoinPath(dir, "t10k-images-idx3-ubyte.gz"),
                                          JoinPath(dir, "t10k-labels-idx1-ubyte.gz"));
  ASSERT_TRUE(data.ok()) << data.status();
  ExpectThePixels(data->images);
  EXPECT_THAT(data->labels, ElementsAre(1, 2, 3));
}

TEST(Idx, RecognisesGzipByItsSignatureWhateverTheName) {
  const std::string dir = FreshTestDir("idx_gzip_noext");
  const std::string path = JoinPath(dir, "images");
  WriteTestFile(path, GzipBytes(IdxImagesBytes(kCount, kRows, kCols, Pixels())));
  const auto images = ReadIdxImages(path);
  ASSERT_TRUE(images.ok()) << images.status();
  ExpectThePixels(*images);
}

TEST(Idx, ReadsConcatenatedGzipMembers) {
  const std::string dir = FreshTestDir("idx_gzip_members");
  const std::string bytes = IdxLabelsBytes({4, 5, 6, 7});
  const std::string path = JoinPath(dir, "labels.gz");
  WriteTestFile(path, GzipBytes(bytes.substr(0, 5)) + GzipBytes(bytes.substr(5)));
  const auto labels = ReadIdxLabels(path);
  ASSERT_TRUE(labels.ok()) << labels.status();
  EXPECT_THAT(*labels, ElementsAre(4, 5, 6, 7));
}

TEST(Idx, MissingFileIsNotFoundNamingThePath) {
  const std::string path = JoinPath(FreshTestDir("idx_missing"), "nope-idx3-ubyte");
  const auto images = ReadIdxImages(path);
  EXPECT_EQ(images.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(images.status().ToString(), HasSubstr(path));
}

TEST(Idx, WrongMagicPrintsExpectedAndFoundInHex) {
  const std::string dir = FreshTestDir("idx_magic");
  const std::string labels_path = JoinPath(dir, "labels");
  WriteTestFile(labels_path, IdxLabelsBytes({1, 2}));
  const auto images = ReadIdxImages(labels_path);
  EXPECT_EQ(images.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(images.status().ToString(), HasSubstr(labels_path));
  EXPECT_THAT(images.status().ToString(), HasSubstr("magic number = 0x00000801"));
  EXPECT_THAT(images.status().ToString(), HasSubstr("expected 0x00000803"));

  const std::string images_path = JoinPath(dir, "images");
  WriteTestFile(images_path, IdxImagesBytes(kCount, kRows, kCols, Pixels()));
  const auto labels = ReadIdxLabels(images_path);
  EXPECT_EQ(labels.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(labels.status().ToString(), HasSubstr("magic number = 0x00000803"));
  EXPECT_THAT(labels.status().ToString(), HasSubstr("expected 0x00000801"));
}

TEST(Idx, TruncatedBodyReportsExpectedAndFoundBytes) {
  const std::string path = JoinPath(FreshTestDir("idx_truncated"), "images");
  std::string bytes = IdxImagesBytes(kCount, kRows, kCols, Pixels());
  ASSERT_EQ(bytes.size(), 16u + 24u);
  WriteTestFile(path, bytes.substr(0, 35));
  const auto images = ReadIdxImages(path);
  EXPECT_EQ(images.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(images.status().ToString(), HasSubstr(path));
  EXPECT_THAT(images.status().ToString(), HasSubstr("35 bytes"));
  EXPECT_THAT(images.status().ToString(), HasSubstr("expected 16 + 3 x 2 x 4 = 40 bytes"));
  EXPECT_THAT(images.status().ToString(), HasSubstr("truncated"));
}

TEST(Idx, TruncatedHeaderIsAnErrorNotACrash) {
  const std::string dir = FreshTestDir("idx_short_header");
  for (const size_t length : {0, 3, 7, 15}) {
    const std::string path = JoinPath(dir, "images");
    WriteTestFile(path, IdxImagesBytes(kCount, kRows, kCols, Pixels()).substr(0, length));
    const auto images = ReadIdxImages(path);
    EXPECT_EQ(images.status().code(), absl::StatusCode::kInvalidArgument) << length;
    EXPECT_THAT(images.status().ToString(), HasSubstr("expected at least the 16-byte header"));
  }
  const std::string path = JoinPath(dir, "labels");
  WriteTestFile(path, IdxLabelsBytes({1}).substr(0, 6));
  EXPECT_THAT(ReadIdxLabels(path).status().ToString(),
              HasSubstr("6 bytes; expected at least the 8-byte header"));
}

TEST(Idx, HugeHeaderDimensionsOnATinyFileAreReportedAsTruncated) {
  const std::string path = JoinPath(FreshTestDir("idx_huge"), "images");
  WriteTestFile(path, IdxImagesBytes(0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, {1, 2, 3}));
  const auto images = ReadIdxImages(path);
  EXPECT_EQ(images.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(images.status().ToString(), HasSubstr("more than 2^64"));
  EXPECT_THAT(images.status().ToString(), HasSubstr("19 bytes"));
}

TEST(Idx, TrailingBytesAreAnError) {
  const std::string path = JoinPath(FreshTestDir("idx_trailing"), "labels");
  WriteTestFile(path, IdxLabelsBytes({1, 2, 3}) + "xy");
  const auto labels = ReadIdxLabels(path);
  EXPECT_EQ(labels.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(labels.status().ToString(), HasSubstr("13 bytes; expected 8 + 3 = 11 bytes"));
  EXPECT_THAT(labels.status().ToString(), HasSubstr("2 unexpected bytes after the end"));
}

TEST(Idx, ZeroRowsOrColumnsAreAnError) {
  const std::string path = JoinPath(FreshTestDir("idx_zero"), "images");
  WriteTestFile(path, IdxImagesBytes(2, 0, 5, {}));
  EXPECT_THAT(ReadIdxImages(path).status().ToString(),
              HasSubstr("rows = 0, cols = 5; expected both >= 1"));
}

TEST(Idx, LabelCountMustMatchImageCount) {
  const std::string dir = FreshTestDir("idx_counts");
  const std::string images = JoinPath(dir, "images");
  const std::string labels = JoinPath(dir, "labels");
  WriteTestFile(images, IdxImagesBytes(kCount, kRows, kCols, Pixels()));
  WriteTestFile(labels, IdxLabelsBytes({1, 2}));
  const auto data = ReadIdxLabelledImages(images, labels);
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(data.status().ToString(), HasSubstr(labels));
  EXPECT_THAT(data.status().ToString(), HasSubstr("2 labels; expected one per image"));
  EXPECT_THAT(data.status().ToString(), HasSubstr("which holds 3"));
}

TEST(Idx, GzNameWithoutGzipDataIsBadGzip) {
  const std::string path = JoinPath(FreshTestDir("idx_not_gzip"), "labels.gz");
  WriteTestFile(path, IdxLabelsBytes({1, 2}));
  const auto labels = ReadIdxLabels(path);
  EXPECT_EQ(labels.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(labels.status().ToString(), HasSubstr(path));
  EXPECT_THAT(labels.status().ToString(), HasSubstr("bad gzip: starts with 0x00 0x00"));
  EXPECT_THAT(labels.status().ToString(), HasSubstr("expected the gzip signature 0x1F 0x8B"));
}

TEST(Idx, TruncatedGzipIsBadGzip) {
  const std::string path = JoinPath(FreshTestDir("idx_gzip_cut"), "images.gz");
  const std::string gz = GzipBytes(IdxImagesBytes(kCount, kRows, kCols, Pixels()));
  WriteTestFile(path, gz.substr(0, gz.size() - 10));
  const auto images = ReadIdxImages(path);
  EXPECT_EQ(images.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(images.status().ToString(), HasSubstr(path));
  EXPECT_THAT(images.status().ToString(), HasSubstr("bad gzip: the compressed data ends early"));
}

TEST(Idx, CorruptGzipChecksumIsBadGzip) {
  const std::string path = JoinPath(FreshTestDir("idx_gzip_crc"), "images.gz");
  std::string gz = GzipBytes(IdxImagesBytes(kCount, kRows, kCols, Pixels()));
  gz[gz.size() - 8] ^= 0x5A;  // first byte of the CRC-32 trailer
  WriteTestFile(path, gz);
  const auto images = ReadIdxImages(path);
  EXPECT_EQ(images.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(images.status().ToString(), HasSubstr("bad gzip: incorrect data check"));
}

TEST(Idx, GarbageAfterGzipDataIsBadGzip) {
  const std::string path = JoinPath(FreshTestDir("idx_gzip_tail"), "labels.gz");
  WriteTestFile(path, GzipBytes(IdxLabelsBytes({1})) + "junk");
  EXPECT_THAT(ReadIdxLabels(path).status().ToString(),
              HasSubstr("bad gzip: 4 bytes after the end of the compressed data"));
}

TEST(Idx, GunzippedContentErrorsSayTheyWereGunzipped) {
  const std::string path = JoinPath(FreshTestDir("idx_gz_magic"), "images.gz");
  WriteTestFile(path, GzipBytes(IdxLabelsBytes({1, 2})));
  EXPECT_THAT(ReadIdxImages(path).status().ToString(),
              HasSubstr("images.gz (gunzipped): magic number = 0x00000801"));
}

TEST(Idx, CutAndFlippedFilesGiveErrorsNotCrashes) {
  const std::string dir = FreshTestDir("idx_corrupt");
  const std::string plain = IdxImagesBytes(kCount, kRows, kCols, Pixels());
  const std::string labels = IdxLabelsBytes({1, 2, 3, 4, 5});
  const std::string sources[] = {plain, GzipBytes(plain), labels, GzipBytes(labels)};
  uint64_t state = 12345;  // a fixed LCG stream: the same corruptions every run
  const auto next = [&state](uint64_t n) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return (state >> 33) % n;
  };
  for (int trial = 0; trial < 400; ++trial) {
    std::string bytes = sources[trial % 4];
    if (trial % 3 == 0) {
      bytes.resize(next(bytes.size()));
    } else {
      for (int flips = 1 + static_cast<int>(next(3)); flips > 0; --flips) {
        bytes[next(bytes.size())] ^= static_cast<char>(1 + next(255));
      }
    }
    const std::string path = JoinPath(dir, trial % 2 == 0 ? "file" : "file.gz");
    WriteTestFile(path, bytes);
    const auto images = ReadIdxImages(path);
    if (images.ok()) {
      EXPECT_EQ(images->pixels.size(),
                static_cast<size_t>(images->count) * images->rows * images->cols);
    } else {
      EXPECT_EQ(images.status().code(), absl::StatusCode::kInvalidArgument) << images.status();
    }
    const auto read_labels = ReadIdxLabels(path);
    if (!read_labels.ok()) {
      EXPECT_EQ(read_labels.status().code(), absl::StatusCode::kInvalidArgument)
          << read_labels.status();
    }
  }
}

TEST(Idx, FindIdxFilePrefersPlainThenGzipElseNamesBoth) {
  const std::string dir = FreshTestDir("idx_find");
  WriteTestFile(JoinPath(dir, "a.gz"), "x");
  WriteTestFile(JoinPath(dir, "b"), "x");
  WriteTestFile(JoinPath(dir, "b.gz"), "x");
  EXPECT_EQ(FindIdxFile(dir, "a").value(), JoinPath(dir, "a.gz"));
  EXPECT_EQ(FindIdxFile(dir, "b").value(), JoinPath(dir, "b"));
  const auto missing = FindIdxFile(dir, "c");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().ToString(), HasSubstr(JoinPath(dir, "c")));
  EXPECT_THAT(missing.status().ToString(), HasSubstr(JoinPath(dir, "c.gz")));
}

}  // namespace
}  // namespace replearn
