// Fashion-MNIST (Xiao et al. 2017) from its IDX files, and the proxy batch the quality evaluator
// forwards (search/naswot.hpp).
//
//   ImageSet set = load_idx_images(fashion_mnist_path("train", IdxKind::Images), 32, 0);
//   Tensor batch = make_proxy_batch(set, 224, 3);   // [32, 224, 224, 3] NHWC f32, normalised
//
// The files are those of Debian's dataset-fashion-mnist (scripts/setup installs it) in
// /usr/share/datasets/fashion-mnist/, gzip-compressed as upstream ships them; a raw (gunzipped)
// file reads the same. Each load checks the whole file: magic, rank and dimensions, that the data
// is exactly as long as the header says, and the gzip stream (truncation, corruption, CRC); every
// error is an IoError naming the file and what is wrong.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/tensor.hpp"

namespace hwnas {

// count grey images, rows x cols, uint8, row-major: pixels[(i * rows + y) * cols + x].
struct ImageSet {
  std::size_t count = 0, rows = 0, cols = 0;
  std::vector<std::uint8_t> pixels;
};

enum class IdxKind { Images, Labels };

// The IDX magic numbers: 0x0000 08 (unsigned byte) then the rank.
inline constexpr std::uint32_t kIdxImagesMagic = 0x00000803;
inline constexpr std::uint32_t kIdxLabelsMagic = 0x00000801;

// Fashion-MNIST's pixel statistics over the 60000 training images (scaled to [0, 1]), the
// normalisation the proxy batch uses.
inline constexpr double kFashionMnistMean = 0.2860;
inline constexpr double kFashionMnistStd = 0.3530;

// Images `offset` .. offset + count - 1 of an IDX image file (gzip or raw). Throws IoError naming
// the file when it is missing (with the scripts/setup hint), unreadable, not an IDX image file
// (magic), of an impossible shape (rank, rows or cols 0 or above 65536, no images), shorter or
// longer than its header says, or a broken gzip stream; InvalidArgument when count is 0 or the
// range passes the file's image count.
ImageSet load_idx_images(const std::string& path, std::size_t count, std::size_t offset);
// Labels likewise (0..9: a larger value is an IoError naming its index).
std::vector<std::uint8_t> load_idx_labels(const std::string& path, std::size_t count,
                                          std::size_t offset);

// $HWNAS_FASHION_MNIST_DIR when set and non-empty, else /usr/share/datasets/fashion-mnist.
std::string default_fashion_mnist_dir();
// The file of a split ("train" or "test", upstream's "t10k") in `dir` (default: the default dir):
// "<dir>/train-images-idx3-ubyte.gz", or the raw name when only that exists. Throws
// InvalidArgument for another split.
std::string fashion_mnist_path(std::string_view split, IdxKind kind, std::string dir = {});

// The images as a network input: each resized to resolution x resolution by bilinear
// interpolation with align_corners=false and no antialiasing (PyTorch's interpolate /
// torchvision's Resize on an upscaled image), scaled to [0, 1], normalised with
// (x - kFashionMnistMean) / kFashionMnistStd, the grey value replicated to in_chans channels.
// Returns [count, resolution, resolution, in_chans] NHWC f32. Throws InvalidArgument for
// resolution or in_chans < 1 or an empty set.
Tensor make_proxy_batch(const ImageSet& images, std::int64_t resolution, std::int64_t in_chans);

}  // namespace hwnas
