// conv2d: 2-D convolution, dense, grouped or depthwise, with an optional bias and a fused activation.
//
//   dst[b, oy, ox, o] = act(bias[o] + sum_{i, ky, kx} src[b, oy*stride_h + ky*dilation_h - pad_h,
//                                                         ox*stride_w + kx*dilation_w - pad_w,
//                                                         g*ic/groups + i] * weights[o, i, ky, kx])
//   where g = o / (oc/groups), i in [0, ic/groups), and taps that fall into the padding read 0.
//
// Semantics are PyTorch's nn.Conv2d: padding is symmetric (pad_h rows above and below), dilation 1
// means a dense kernel (oneDNN counts dilation from 0; the conversion happens inside), and the output
// size is (h + 2*pad_h - dilation_h*(kh - 1) - 1) / stride_h + 1, rounded down.
//
// Layouts: src is [n, h, w, ic] and dst [n, oh, ow, oc], both NHWC and contiguous. Weights are
// PyTorch's OIHW [oc, ic/groups, kh, kw] so checkpoints load unchanged; any strides are accepted (a
// supernet passes the centre of a larger kernel as a view). They are reordered at create time into the
// layout the chosen implementation prefers. Bias is [oc] when bias=1, else empty.
//
// Implementations, tried in this order of preference (Conv2dOptions::backend):
//   hand:dwconv_nhwc_avx512  depthwise only (groups == ic == oc), act none/relu, AVX-512 CPUs;
//                            kernels/cpu/dwconv_nhwc_avx512.hpp
//   onednn:<impl>            everything else; oneDNN's convolution_forward
// ConvBackend::Auto picks by a measured rule (conv2d_auto_backend); Hand / OneDnn force one and throw
// Unsupported when it cannot run the desc.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "kernels/activation.hpp"
#include "kernels/engine.hpp"
#include "kernels/op_cost.hpp"
#include "kernels/bias.hpp"
#include "kernels/params.hpp"
#include "kernels/tensor.hpp"

namespace hwnas {

struct Conv2dDesc {
  std::int64_t n = 1, h = 1, w = 1, ic = 1, oc = 1;
  std::int64_t kh = 1, kw = 1;
  std::int64_t stride_h = 1, stride_w = 1;
  std::int64_t pad_h = 0, pad_w = 0;            // symmetric: the same on both sides
  std::int64_t dilation_h = 1, dilation_w = 1;  // 1 = no dilation (PyTorch's convention)
  std::int64_t groups = 1;
  Bias bias = Bias::Add;
  Activation act = Activation::None;  // any except StarRelu
  friend bool operator==(const Conv2dDesc&, const Conv2dDesc&) = default;
};

std::span<const ParamSpec> conv2d_params();
// "conv2d:n=1,h=56,w=56,ic=96,oc=96,kh=7,kw=7,stride_h=1,stride_w=1,pad_h=3,pad_w=3,dilation_h=1,
//  dilation_w=1,groups=96,bias=1,act=none"
std::string to_string(const Conv2dDesc& desc);
Conv2dDesc conv2d_desc_from(const Params& params);
Conv2dDesc parse_conv2d_desc(std::string_view key);  // throws InvalidArgument
// Throws InvalidArgument naming the field, its value, the rule and the key: sizes < 1, pad < 0,
// groups not dividing ic or oc, a kernel larger than the padded input, act=star_relu.
void check(const Conv2dDesc& desc);
// 2 * n*oh*ow*oc * (ic/groups)*kh*kw FLOPs; bytes = src + weights + bias + dst, f32, each once.
OpCost cost(const Conv2dDesc& desc);

std::int64_t conv2d_out_h(const Conv2dDesc& desc);  // may be < 1 for a desc that fails check()
std::int64_t conv2d_out_w(const Conv2dDesc& desc);
Shape conv2d_src_shape(const Conv2dDesc& desc);      // [n, h, w, ic]
Shape conv2d_dst_shape(const Conv2dDesc& desc);      // [n, oh, ow, oc]
Shape conv2d_weights_shape(const Conv2dDesc& desc);  // [oc, ic/groups, kh, kw]
// groups == ic == oc: one filter per channel, no channel multiplier.
bool is_plain_depthwise(const Conv2dDesc& desc);

enum class ConvBackend { Auto, OneDnn, Hand };
std::string_view to_string(ConvBackend backend);  // "auto", "onednn", "hand"

// oneDNN's algorithm choice. Auto lets oneDNN pick (it may choose Winograd, whose error exceeds the
// dot-product bound); tests pin Direct (STYLE.md §5).
enum class ConvAlgorithm { Auto, Direct };

struct Conv2dOptions {
  ConvBackend backend = ConvBackend::Auto;
  ConvAlgorithm onednn_algorithm = ConvAlgorithm::Auto;
};

// The backend Auto runs for `desc` on this machine: the measured, deterministic rule documented in
// conv2d.cpp, applied only among implementations whose why_not() is empty.
ConvBackend conv2d_auto_backend(const Conv2dDesc& desc);

class Conv2dPlan {
 public:
  // Checks desc, weights ([oc, ic/groups, kh, kw], f32, any strides) and bias ([oc] when bias=1),
  // picks an implementation, creates the primitive, reorders the weights and allocates every scratch
  // buffer. Throws InvalidArgument for a bad desc or tensor, Unsupported when the forced (or every)
  // backend refuses, with each reason.
  static Conv2dPlan create(const Engine& engine, const Conv2dDesc& desc, ConstTensorView weights,
                           ConstTensorView bias = {}, const Conv2dOptions& options = {});

  // Compute only: src [n, h, w, ic] and dst [n, oh, ow, oc], contiguous f32 (asserted in debug
  // builds). Not safe to call concurrently on one plan (it owns its scratch memory).
  void run(ConstTensorView src, TensorView dst) const;

  const Conv2dDesc& desc() const;
  ConvBackend backend() const;  // OneDnn or Hand, never Auto
  // "hand:dwconv_nhwc_avx512" or oneDNN's, e.g. "onednn:jit_dw:avx512_core".
  std::string_view impl_name() const;

  Conv2dPlan(Conv2dPlan&&) noexcept;
  Conv2dPlan& operator=(Conv2dPlan&&) noexcept;
  ~Conv2dPlan();

 private:
  struct State;
  explicit Conv2dPlan(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace hwnas
