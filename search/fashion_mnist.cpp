#include "search/fashion_mnist.hpp"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "kernels/error.hpp"

namespace hwnas {
namespace {

constexpr std::uint32_t kMaxSide = 65536;

// gzread reads a raw file unchanged (zlib's transparent mode), so one reader serves both forms.
class GzReader {
 public:
  explicit GzReader(const std::string& path) : path_(path) {
    if (!std::filesystem::exists(path)) {
      throw IoError(fmt::format(
          "{}: no such file; the proxy data set is Debian's dataset-fashion-mnist: run "
          "scripts/setup (it installs it), or set HWNAS_FASHION_MNIST_DIR to a folder holding the "
          "IDX files",
          path));
    }
    file_ = gzopen(path.c_str(), "rb");
    if (file_ == nullptr) {
      throw IoError(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
    }
    gzbuffer(file_, 1 << 17);
  }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;
  ~GzReader() { gzclose(file_); }

  // Reads up to n bytes; returns how many (fewer only at the end of the data). A broken gzip
  // stream is an IoError.
  std::size_t read(void* dst, std::size_t n) {
    std::size_t done = 0;
    while (done < n) {
      const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(n - done, 1u << 30));
      const int got = gzread(file_, static_cast<char*>(dst) + done, chunk);
      if (got < 0) fail();
      if (got == 0) {
        check_clean_end();
        break;
      }
      done += static_cast<std::size_t>(got);
    }
    return done;
  }

  // Reads exactly n bytes of `what`, or throws naming how much is missing.
  void read_exact(void* dst, std::size_t n, std::string_view what) {
    const std::size_t got = read(dst, n);
    if (got != n) {
      throw IoError(
          fmt::format("{}: truncated: {} needs {} bytes, the file has {}", path_, what, n, got));
    }
  }

  // Reads and drops n bytes.
  std::size_t skip(std::size_t n) {
    std::vector<char> scratch(std::min<std::size_t>(n, 1 << 20));
    std::size_t done = 0;
    while (done < n) {
      const std::size_t want = std::min(n - done, scratch.size());
      const std::size_t got = read(scratch.data(), want);
      done += got;
      if (got < want) break;
    }
    return done;
  }

 private:
  [[noreturn]] void fail() {
    int code = Z_OK;
    const char* msg = gzerror(file_, &code);
    if (code == Z_ERRNO) msg = std::strerror(errno);
    std::string_view text = msg == nullptr ? "unknown" : msg;
    // zlib puts the path in front of its message; ours is already there.
    if (text.starts_with(path_ + ": ")) text.remove_prefix(path_.size() + 2);
    throw IoError(
        fmt::format("{}: corrupt or truncated gzip data: {} (zlib error {})", path_, text, code));
  }
  // gzread returns 0 both at a clean end and at a gzip stream cut short (then gzerror says
  // Z_BUF_ERROR "unexpected end of file").
  void check_clean_end() {
    int code = Z_OK;
    gzerror(file_, &code);
    if (code != Z_OK) fail();
  }

  std::string path_;
  gzFile file_ = nullptr;
};

std::uint32_t big_endian(const std::array<unsigned char, 4>& b) {
  return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) |
         std::uint32_t{b[3]};
}

// The header's magic and dimensions; the caller reads the data that follows.
std::vector<std::uint32_t> read_header(GzReader& in, const std::string& path, IdxKind kind) {
  std::array<unsigned char, 4> word{};
  in.read_exact(word.data(), 4, "the IDX magic number");
  const std::uint32_t magic = big_endian(word);
  const std::uint32_t want = kind == IdxKind::Images ? kIdxImagesMagic : kIdxLabelsMagic;
  if (magic != want) {
    throw IoError(fmt::format(
        "{}: bad magic 0x{:08x}, an IDX {} file starts with 0x{:08x} (unsigned bytes, rank {})",
        path, magic, kind == IdxKind::Images ? "image" : "label", want, want & 0xffu));
  }
  std::vector<std::uint32_t> dims(want & 0xffu);
  for (std::size_t i = 0; i < dims.size(); ++i) {
    in.read_exact(word.data(), 4, fmt::format("dimension {} of the header", i));
    dims[i] = big_endian(word);
  }
  if (dims[0] == 0) throw IoError(fmt::format("{}: wrong dims: the header counts 0 items", path));
  for (std::size_t i = 1; i < dims.size(); ++i) {
    if (dims[i] == 0 || dims[i] > kMaxSide) {
      throw IoError(fmt::format("{}: wrong dims: dimension {} is {}, must be in [1, {}]", path, i,
                                dims[i], kMaxSide));
    }
  }
  return dims;
}

void check_range(const std::string& path, std::size_t count, std::size_t offset, std::size_t n) {
  if (count == 0) throw InvalidArgument(fmt::format("{}: count=0 must be >= 1", path));
  if (offset > n || count > n - offset) {
    throw InvalidArgument(fmt::format("{}: items {}..{} (offset={}, count={}) pass the {} it holds",
                                      path, offset, offset + count - 1, offset, count, n));
  }
}

// Reads items [offset, offset + count) of `item_bytes` each, then the rest of the file, so that a
// file longer or shorter than its header, or a corrupt stream anywhere in it, is an error.
std::vector<std::uint8_t> read_items(GzReader& in, const std::string& path, std::size_t n,
                                     std::size_t item_bytes, std::size_t count,
                                     std::size_t offset) {
  if (n > (std::size_t{1} << 40) / item_bytes) {
    throw IoError(
        fmt::format("{}: wrong dims: {} items of {} bytes exceed 1 TiB", path, n, item_bytes));
  }
  const std::size_t before = in.skip(offset * item_bytes);
  std::vector<std::uint8_t> data(count * item_bytes);
  const std::size_t got = before == offset * item_bytes ? in.read(data.data(), data.size()) : 0;
  const std::size_t rest = (n - offset - count) * item_bytes;
  const std::size_t after = got == data.size() ? in.skip(rest) : 0;
  const std::size_t total = before + got + after;
  if (total < n * item_bytes) {
    throw IoError(
        fmt::format("{}: truncated: the header says {} items of {} bytes ({} bytes of "
                    "data), the file has {}",
                    path, n, item_bytes, n * item_bytes, total));
  }
  unsigned char extra = 0;
  if (in.read(&extra, 1) != 0) {
    throw IoError(
        fmt::format("{}: longer than its header says ({} items of {} bytes): data "
                    "follows the last item",
                    path, n, item_bytes));
  }
  return data;
}

}  // namespace

ImageSet load_idx_images(const std::string& path, std::size_t count, std::size_t offset) {
  GzReader in(path);
  const std::vector<std::uint32_t> dims = read_header(in, path, IdxKind::Images);
  check_range(path, count, offset, dims[0]);
  ImageSet set{.count = count, .rows = dims[1], .cols = dims[2]};
  set.pixels = read_items(in, path, dims[0], set.rows * set.cols, count, offset);
  return set;
}

std::vector<std::uint8_t> load_idx_labels(const std::string& path, std::size_t count,
                                          std::size_t offset) {
  GzReader in(path);
  const std::vector<std::uint32_t> dims = read_header(in, path, IdxKind::Labels);
  check_range(path, count, offset, dims[0]);
  std::vector<std::uint8_t> labels = read_items(in, path, dims[0], 1, count, offset);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] > 9) {
      throw IoError(
          fmt::format("{}: label {} of item {} is not a class 0..9", path, labels[i], offset + i));
    }
  }
  return labels;
}

std::string default_fashion_mnist_dir() {
  const char* env = std::getenv("HWNAS_FASHION_MNIST_DIR");
  if (env != nullptr && *env != '\0') return env;
  return "/usr/share/datasets/fashion-mnist";
}

std::string fashion_mnist_path(std::string_view split, IdxKind kind, std::string dir) {
  if (dir.empty()) dir = default_fashion_mnist_dir();
  std::string_view stem;
  if (split == "train") {
    stem = "train";
  } else if (split == "test") {
    stem = "t10k";
  } else {
    throw InvalidArgument(
        fmt::format("fashion-mnist: split '{}' must be 'train' or 'test'", split));
  }
  const std::string raw = fmt::format(
      "{}/{}-{}", dir, stem, kind == IdxKind::Images ? "images-idx3-ubyte" : "labels-idx1-ubyte");
  const std::string gz = raw + ".gz";
  if (!std::filesystem::exists(gz) && std::filesystem::exists(raw)) return raw;
  return gz;
}

Tensor make_proxy_batch(const ImageSet& images, std::int64_t resolution, std::int64_t in_chans) {
  if (resolution < 1 || in_chans < 1) {
    throw InvalidArgument(fmt::format(
        "make_proxy_batch: resolution={} and in_chans={} must be >= 1", resolution, in_chans));
  }
  if (images.count == 0 || images.rows == 0 || images.cols == 0 ||
      images.pixels.size() != images.count * images.rows * images.cols) {
    throw InvalidArgument(fmt::format(
        "make_proxy_batch: an image set of {} x {} x {} must be non-empty and hold {} pixels "
        "(has {})",
        images.count, images.rows, images.cols, images.count * images.rows * images.cols,
        images.pixels.size()));
  }
  // PyTorch's upsample_bilinear2d (align_corners=false): source = (dst + 0.5) * in / out - 0.5,
  // clamped at 0; the right/lower neighbour clamped to the last pixel.
  struct Tap {
    std::size_t i0, i1;
    double l1;
  };
  const auto taps = [resolution](std::size_t in) {
    std::vector<Tap> t(static_cast<std::size_t>(resolution));
    const double scale = static_cast<double>(in) / static_cast<double>(resolution);
    for (std::size_t o = 0; o < t.size(); ++o) {
      const double src = std::max((static_cast<double>(o) + 0.5) * scale - 0.5, 0.0);
      const auto i0 = std::min(static_cast<std::size_t>(src), in - 1);
      t[o] = {.i0 = i0, .i1 = std::min(i0 + 1, in - 1), .l1 = src - static_cast<double>(i0)};
    }
    return t;
  };
  const std::vector<Tap> ty = taps(images.rows), tx = taps(images.cols);
  const auto r = static_cast<std::size_t>(resolution);
  const auto c = static_cast<std::size_t>(in_chans);
  Tensor out =
      Tensor::empty({static_cast<std::int64_t>(images.count), resolution, resolution, in_chans});
  float* dst = out.f32();
  for (std::size_t n = 0; n < images.count; ++n) {
    const std::uint8_t* img = images.pixels.data() + n * images.rows * images.cols;
    const auto px = [&](std::size_t y, std::size_t x) {
      return static_cast<double>(img[y * images.cols + x]);
    };
    for (std::size_t y = 0; y < r; ++y) {
      const Tap& a = ty[y];
      for (std::size_t x = 0; x < r; ++x) {
        const Tap& b = tx[x];
        const double top = (1 - b.l1) * px(a.i0, b.i0) + b.l1 * px(a.i0, b.i1);
        const double bottom = (1 - b.l1) * px(a.i1, b.i0) + b.l1 * px(a.i1, b.i1);
        const double v = ((1 - a.l1) * top + a.l1 * bottom) / 255.0;
        const auto value = static_cast<float>((v - kFashionMnistMean) / kFashionMnistStd);
        float* p = dst + ((n * r + y) * r + x) * c;
        std::fill(p, p + c, value);
      }
    }
  }
  return out;
}

}  // namespace hwnas
