// A hand-written depthwise convolution for NHWC f32 on AVX-512 CPUs ("hand:dwconv_nhwc_avx512").
//
// Contract: groups == ic == oc (no channel multiplier), act none or relu, any kernel size (odd or
// even, kh != kw), any stride, padding and dilation. src [n, h, w, c] and dst [n, oh, ow, c] are
// contiguous. why_not() says, before anything is built, whether it can run a desc on this CPU;
// create() on a desc it refuses is a programmer error (Conv2dPlan::create asks first).
//
// How it works (details in the .cpp): weights are reordered at create time into [kh][kw][c16] with
// channels padded to a multiple of 16; each OpenMP task takes (image, block of output rows, 16
// channels), copies the input rows it needs into a zero-bordered per-thread buffer so that borders
// need no branches, and computes tiles of T output pixels x 16 channels in registers. Square k = 3
// and 5 at stride 1 without dilation, where src pixels are at most 96 floats apart or the image at
// most 7 wide, skip the buffer: they read src in place (masked loads at the borders) and compute
// two output rows per pass. Forward state lives in the object (no globals).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "kernels/engine.hpp"
#include "kernels/ops/conv2d.hpp"
#include "kernels/tensor.hpp"

namespace hwnas::cpu {

// Floats between neighbouring pixels of src and dst; 0 means c (contiguous). A larger stride runs
// the conv on a channel slice of a wider tensor in place (InceptionNeXt's branches): run() is then
// given pointers to the slice's first channel.
struct DwconvPixelStrides {
  std::int64_t src = 0, dst = 0;
};

class DwconvNhwcAvx512 {
 public:
  static constexpr std::string_view kName = "hand:dwconv_nhwc_avx512";

  // Empty when this kernel can run `desc` on this CPU, else the reason ("groups=1 must equal
  // ic=3 and oc=8 (depthwise only)", "cpu lacks avx512f", ...). desc must already pass check().
  static std::string why_not(const Conv2dDesc& desc);

  // Reorders weights ([c, 1, kh, kw], any strides) and bias ([c] or empty) and allocates the
  // per-thread buffers for engine.threads() threads. Asserts why_not(desc) is empty and strides >=
  // c.
  static DwconvNhwcAvx512 create(const Engine& engine, const Conv2dDesc& desc,
                                 ConstTensorView weights, ConstTensorView bias,
                                 DwconvPixelStrides strides = {});

  // Compute only; no allocation, nothing throws. Not safe to call concurrently on one object.
  void run(const float* src, float* dst) const noexcept;

  // The output-pixel tile width and rows per task chosen at create (for tests and benchmarks).
  int tile_width() const;
  int rows_per_task() const;

  DwconvNhwcAvx512(DwconvNhwcAvx512&&) noexcept;
  DwconvNhwcAvx512& operator=(DwconvNhwcAvx512&&) noexcept;
  ~DwconvNhwcAvx512();

 private:
  struct State;
  struct Direct;  // the direct path's kernels; null where the buffer path runs
  DwconvNhwcAvx512(std::unique_ptr<State> state, std::unique_ptr<Direct> direct);
  static DwconvNhwcAvx512 create_direct(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
  std::unique_ptr<Direct> direct_;
};

}  // namespace hwnas::cpu
