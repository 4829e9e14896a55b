#include "search/fashion_mnist.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "kernels/error.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<unsigned char>;

// Runs body, which must throw E whose message contains needle; returns the message.
template <typename E>
std::string expect_error(const std::function<void()>& body, const std::string& needle) {
  try {
    body();
    ADD_FAILURE() << "expected an error containing '" << needle << "'";
  } catch (const E& e) {
    std::cout << "[ error ] " << e.what() << "\n";
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << "message: " << e.what() << "\nexpected to contain: " << needle;
    return e.what();
  }
  return {};
}

fs::path temp_dir() {
  const fs::path dir = fs::temp_directory_path() /
                       ("hwnas_fmnist_" + std::to_string(testing::fresh_seed("temp dir")));
  fs::create_directories(dir);
  return dir;
}

void write_file(const fs::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

Bytes read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

void put32(Bytes& b, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<unsigned char>(v >> s));
}

Bytes idx_images(std::uint32_t n, std::uint32_t rows, std::uint32_t cols, std::size_t data_bytes,
                 std::uint32_t magic = kIdxImagesMagic) {
  Bytes b;
  put32(b, magic);
  put32(b, n);
  put32(b, rows);
  put32(b, cols);
  for (std::size_t i = 0; i < data_bytes; ++i) b.push_back(static_cast<unsigned char>(i * 37 + 11));
  return b;
}

Bytes idx_labels(const Bytes& labels) {
  Bytes b;
  put32(b, kIdxLabelsMagic);
  put32(b, static_cast<std::uint32_t>(labels.size()));
  b.insert(b.end(), labels.begin(), labels.end());
  return b;
}

std::uint32_t crc32(const Bytes& data) {
  std::uint32_t crc = 0xffffffffu;
  for (const unsigned char byte : data) {
    crc ^= byte;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

// A gzip member of stored (uncompressed) deflate blocks (RFC 1951 3.2.4, RFC 1952).
Bytes gzip_stored(const Bytes& data, std::uint32_t crc_xor = 0) {
  Bytes g = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255};
  std::size_t at = 0;
  do {
    const std::size_t len = std::min<std::size_t>(data.size() - at, 65535);
    const bool last = at + len == data.size();
    g.push_back(last ? 1 : 0);
    g.push_back(static_cast<unsigned char>(len));
    g.push_back(static_cast<unsigned char>(len >> 8));
    g.push_back(static_cast<unsigned char>(~len));
    g.push_back(static_cast<unsigned char>(~len >> 8));
    g.insert(g.end(), data.begin() + static_cast<std::ptrdiff_t>(at),
             data.begin() + static_cast<std::ptrdiff_t>(at + len));
    at += len;
  } while (at < data.size());
  const std::uint32_t crc = crc32(data) ^ crc_xor;
  const auto size = static_cast<std::uint32_t>(data.size());
  for (int s = 0; s < 32; s += 8) g.push_back(static_cast<unsigned char>(crc >> s));
  for (int s = 0; s < 32; s += 8) g.push_back(static_cast<unsigned char>(size >> s));
  return g;
}

// The installed data set (scripts/setup installs it; a missing file fails with its hint).
TEST(FashionMnist, RealFilesLoad) {
  const ImageSet train = load_idx_images(fashion_mnist_path("train", IdxKind::Images), 4, 0);
  EXPECT_EQ(train.count, 4u);
  EXPECT_EQ(train.rows, 28u);
  EXPECT_EQ(train.cols, 28u);
  ASSERT_EQ(train.pixels.size(), 4u * 28 * 28);
  EXPECT_GT(*std::max_element(train.pixels.begin(), train.pixels.end()), 200);
  // Upstream's first training item is an ankle boot (9), then a T-shirt (0).
  const std::vector<std::uint8_t> labels =
      load_idx_labels(fashion_mnist_path("train", IdxKind::Labels), 2, 0);
  EXPECT_EQ(labels, (std::vector<std::uint8_t>{9, 0}));
  const ImageSet last = load_idx_images(fashion_mnist_path("test", IdxKind::Images), 1, 9999);
  EXPECT_EQ(last.count, 1u);
  const ImageSet second = load_idx_images(fashion_mnist_path("train", IdxKind::Images), 1, 1);
  EXPECT_TRUE(
      std::equal(second.pixels.begin(), second.pixels.end(), train.pixels.begin() + 28 * 28));
  expect_error<InvalidArgument>(
      [] { load_idx_labels(fashion_mnist_path("test", IdxKind::Labels), 2, 9999); },
      "pass the 10000 it holds");
}

TEST(FashionMnist, MissingFileNamesTheSetupScript) {
  expect_error<IoError>([] { load_idx_images("/nonexistent/train-images-idx3-ubyte.gz", 1, 0); },
                        "/nonexistent/train-images-idx3-ubyte.gz: no such file");
  expect_error<IoError>([] { load_idx_labels("/nonexistent/l.gz", 1, 0); }, "run scripts/setup");
}

TEST(FashionMnist, DirFromEnvironmentAndRawFallback) {
  const fs::path dir = temp_dir();
  ASSERT_EQ(0, setenv("HWNAS_FASHION_MNIST_DIR", dir.c_str(), 1));
  EXPECT_EQ(default_fashion_mnist_dir(), dir.string());
  EXPECT_EQ(fashion_mnist_path("test", IdxKind::Labels),
            (dir / "t10k-labels-idx1-ubyte.gz").string());
  write_file(dir / "t10k-labels-idx1-ubyte", idx_labels({3, 1}));
  EXPECT_EQ(fashion_mnist_path("test", IdxKind::Labels), (dir / "t10k-labels-idx1-ubyte").string());
  EXPECT_EQ(load_idx_labels(fashion_mnist_path("test", IdxKind::Labels), 1, 1),
            std::vector<std::uint8_t>{1});
  ASSERT_EQ(0, unsetenv("HWNAS_FASHION_MNIST_DIR"));
  EXPECT_EQ(default_fashion_mnist_dir(), "/usr/share/datasets/fashion-mnist");
  expect_error<InvalidArgument>([] { fashion_mnist_path("val", IdxKind::Images); },
                                "split 'val' must be 'train' or 'test'");
  fs::remove_all(dir);
}

TEST(FashionMnist, GzipAndRawReadTheSame) {
  const fs::path dir = temp_dir();
  // 70000 bytes of data: two stored deflate blocks.
  const Bytes raw = idx_images(7, 100, 100, 70000);
  write_file(dir / "raw", raw);
  write_file(dir / "gz", gzip_stored(raw));
  const ImageSet a = load_idx_images((dir / "raw").string(), 3, 2);
  const ImageSet b = load_idx_images((dir / "gz").string(), 3, 2);
  EXPECT_EQ(a.pixels, b.pixels);
  ASSERT_EQ(a.pixels.size(), 30000u);
  EXPECT_EQ(a.pixels[0], raw[16 + 20000]);
  fs::remove_all(dir);
}

struct Corrupt {
  std::string name;
  Bytes bytes;
  IdxKind kind;
  std::string needle;
  std::size_t count = 1;  // items loaded (a label is checked when loaded)
};

TEST(FashionMnist, CorruptFilesNameTheFileAndTheFault) {
  const fs::path dir = temp_dir();
  const Bytes real = read_file(fashion_mnist_path("test", IdxKind::Labels));
  ASSERT_GT(real.size(), 1000u);
  Bytes half(real.begin(), real.begin() + static_cast<std::ptrdiff_t>(real.size() / 2));
  Bytes flipped = real;
  for (std::size_t i = 200; i < 260; ++i) flipped[i] ^= 0x5a;
  Bytes header_cut = idx_images(1, 2, 2, 0);
  header_cut.resize(10);
  const std::vector<Corrupt> cases = {
      {"magic", idx_images(1, 2, 2, 4, 0x00000802), IdxKind::Images, "bad magic 0x00000802"},
      {"labels_as_images", idx_labels({1, 2}), IdxKind::Images, "bad magic 0x00000801"},
      {"images_as_labels", idx_images(1, 2, 2, 4), IdxKind::Labels, "bad magic 0x00000803"},
      {"rows0", idx_images(1, 0, 2, 0), IdxKind::Images, "wrong dims: dimension 1 is 0"},
      {"cols_huge", idx_images(1, 2, 70000, 0), IdxKind::Images,
       "wrong dims: dimension 2 is 70000, must be in [1, 65536]"},
      {"count0", idx_images(0, 2, 2, 0), IdxKind::Images, "wrong dims: the header counts 0"},
      {"header_cut", header_cut, IdxKind::Images,
       "truncated: dimension 1 of the header needs 4 bytes, the file has 2"},
      {"short", idx_images(3, 2, 2, 11), IdxKind::Images,
       "truncated: the header says 3 items of 4 bytes (12 bytes of data), the file has 11"},
      {"long", idx_images(3, 2, 2, 13), IdxKind::Images, "longer than its header says"},
      {"label12", idx_labels({1, 12, 3}), IdxKind::Labels, "label 12 of item 1 is not a class", 3},
      {"gz_truncated", half, IdxKind::Labels, "corrupt or truncated gzip data"},
      {"gz_corrupt", flipped, IdxKind::Labels, "corrupt or truncated gzip data"},
      {"gz_crc", gzip_stored(idx_images(2, 3, 3, 18), 1), IdxKind::Images,
       "corrupt or truncated gzip data"},
      {"gz_short", gzip_stored(idx_images(3, 2, 2, 11)), IdxKind::Images,
       "truncated: the header says 3 items"},
  };
  for (const Corrupt& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string path = (dir / c.name).string();
    write_file(path, c.bytes);
    const std::string what = expect_error<IoError>(
        [&] {
          if (c.kind == IdxKind::Images) {
            load_idx_images(path, c.count, 0);
          } else {
            load_idx_labels(path, c.count, 0);
          }
        },
        c.needle);
    EXPECT_EQ(what.rfind(path + ": ", 0), 0u) << what;
  }
  const std::string ok = (dir / "ok").string();
  write_file(ok, idx_images(3, 2, 2, 12));
  expect_error<InvalidArgument>([&] { load_idx_images(ok, 0, 0); }, "count=0 must be >= 1");
  expect_error<InvalidArgument>([&] { load_idx_images(ok, 2, 2); },
                                "items 2..3 (offset=2, count=2) pass the 3 it holds");
  fs::remove_all(dir);
}

// PyTorch's upsample_bilinear2d, align_corners=false, written out per output pixel in float64.
double bilinear_ref(const ImageSet& s, std::size_t n, std::int64_t res, std::int64_t oy,
                    std::int64_t ox) {
  const auto coord = [res](std::int64_t o, std::size_t in, std::size_t* i0, std::size_t* i1) {
    double src = (static_cast<double>(in) / static_cast<double>(res)) * (o + 0.5) - 0.5;
    if (src < 0) src = 0;
    *i0 = static_cast<std::size_t>(std::floor(src));
    *i1 = *i0 + 1 < in ? *i0 + 1 : in - 1;
    return src - static_cast<double>(*i0);
  };
  std::size_t y0, y1, x0, x1;
  const double ly = coord(oy, s.rows, &y0, &y1), lx = coord(ox, s.cols, &x0, &x1);
  const auto p = [&](std::size_t y, std::size_t x) {
    return static_cast<double>(s.pixels[(n * s.rows + y) * s.cols + x]) / 255.0;
  };
  const double v = (1 - ly) * ((1 - lx) * p(y0, x0) + lx * p(y0, x1)) +
                   ly * ((1 - lx) * p(y1, x0) + lx * p(y1, x1));
  return (v - 0.2860) / 0.3530;
}

TEST(FashionMnist, ProxyBatchMatchesFloat64Bilinear) {
  std::mt19937_64 rng(testing::fresh_seed("proxy batch"));
  struct Size {
    std::size_t rows, cols;
    std::int64_t res, chans;
  };
  for (const Size z : {Size{5, 7, 9, 3}, Size{5, 7, 3, 1}, Size{28, 28, 13, 2}, Size{28, 28, 45, 3},
                       Size{1, 3, 4, 1}, Size{6, 6, 1, 3}}) {
    ImageSet s{.count = 2, .rows = z.rows, .cols = z.cols};
    s.pixels.resize(2 * z.rows * z.cols);
    for (auto& p : s.pixels) p = static_cast<std::uint8_t>(rng() & 0xff);
    const Tensor t = make_proxy_batch(s, z.res, z.chans);
    ASSERT_EQ(t.shape(), (Shape{2, z.res, z.res, z.chans}));
    int failures = 0;
    for (std::size_t n = 0; n < 2; ++n) {
      for (std::int64_t y = 0; y < z.res; ++y) {
        for (std::int64_t x = 0; x < z.res; ++x) {
          const double ref = bilinear_ref(s, n, z.res, y, x);
          for (std::int64_t c = 0; c < z.chans && failures < 10; ++c) {
            const float got =
                t.f32()[((static_cast<std::int64_t>(n) * z.res + y) * z.res + x) * z.chans + c];
            // One f32 rounding of a value |v| <= 2.03: 2^-24 relative, with margin.
            if (std::abs(got - ref) > 1e-6 * std::max(std::abs(ref), 1.0)) {
              ++failures;
              ADD_FAILURE() << z.rows << "x" << z.cols << "->" << z.res << " at (" << n << "," << y
                            << "," << x << "," << c << "): got " << got << " ref " << ref;
            }
          }
        }
      }
    }
  }
}

TEST(FashionMnist, ProxyBatchErrors) {
  ImageSet s{.count = 1, .rows = 2, .cols = 2, .pixels = {1, 2, 3, 4}};
  expect_error<InvalidArgument>([&] { make_proxy_batch(s, 0, 3); },
                                "resolution=0 and in_chans=3 must be >= 1");
  expect_error<InvalidArgument>([&] { make_proxy_batch(s, 4, 0); }, "in_chans=0");
  s.pixels.pop_back();
  expect_error<InvalidArgument>([&] { make_proxy_batch(s, 4, 1); }, "hold 4 pixels (has 3)");
}

}  // namespace
}  // namespace hwnas
