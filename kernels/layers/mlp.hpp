// The channel MLPs of a MetaFormer block ([n, h, w, c] -> [n, h, w, c]), three variants:
//
//   mlp       timm Mlp:        y = fc2(act(fc1(x)))
//   conv_ffn  PVTv2 ConvFFN /  y = fc2(act(dwconv3x3(fc1(x))))      (PVTv2's Mlp with linear=False:
//             SegFormer Mix-FFN                                     fc1 -> DWConv -> act -> fc2;
//                                                                   depthwise 3x3, pad 1, bias)
//   glu_mlp   timm GluMlp:     a = fc1(x); v, g = a[..., :hid], a[..., hid:];  y = fc2(v * act(g))
//             (timm's x1, x2 = x.chunk(2, -1); x = x1 * act(x2): the FIRST half is the value, the
//             SECOND the gate)
//
// hidden = round(c * ratio) (std::lround, >= 1 required); glu_mlp's fc1 has 2 * hidden outputs and
// its fc2 hidden inputs (timm counts GluMlp's hidden_features as fc1's width, i.e. 2 * our hidden).
// act: gelu_erf (nn.GELU()), relu, hardswish, or star_relu (MetaFormer: scale * relu(x)^2 + bias
// with a learnable scalar scale and bias).
//
// Residual (the block frame x + ls * mlp(norm(x)), fused into fc2's output pass, linear.hpp):
//   none         y as above
//   add          residual + y
//   layer_scale  residual + gamma (.) y, gamma [c] (timm LayerScale)
// The generic run(src, dst) uses src as the residual (x + ls * mlp(x)); a block calls
// run(src, residual, dst) with src = norm(x) and residual = x.
//
// Weights (timm / PVTv2 names; Linear [out, in], Conv2d OIHW):
//   fc1.weight [hidden or 2*hidden, c], fc1.bias
//   dwconv.dwconv.weight [hidden, 1, 3, 3], dwconv.dwconv.bias [hidden]   (conv_ffn)
//   act.scale [1], act.bias [1]                                          (act=star_relu)
//   fc2.weight [c, hidden], fc2.bias [c]
//   ls.gamma [c]   (residual=layer_scale; timm's Block names it ls2.gamma, MetaFormer's
//                   layer_scale2.scale: the block maps its own prefix)
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kernels/activation.hpp"
#include "kernels/layers/layer.hpp"
#include "kernels/ops/linear.hpp"

namespace hwnas {

enum class MlpKind { Mlp, ConvFfn, GluMlp };
std::string_view to_string(MlpKind kind);  // "mlp", "conv_ffn", "glu_mlp": the op names

struct MlpDesc {
  MlpKind kind = MlpKind::Mlp;
  std::int64_t n = 1, h = 56, w = 56, c = 96;
  double ratio = 4.0;
  Activation act = Activation::GeluErf;  // gelu_erf, relu, hardswish, star_relu
  Residual residual = Residual::None;
  friend bool operator==(const MlpDesc&, const MlpDesc&) = default;
};

// n, h, w, c, ratio, act, residual (the same list for all three kinds).
std::span<const ParamSpec> mlp_params();
// "mlp:n=1,h=56,w=56,c=96,ratio=4,act=gelu_erf,residual=none"
std::string to_string(const MlpDesc& desc);
MlpDesc mlp_desc_from(MlpKind kind, const Params& params);  // calls check
// Throws InvalidArgument naming the field, value, rule and key: sizes < 1, ratio not finite or
// giving hidden < 1, an activation outside the four.
void check(const MlpDesc& desc);
std::int64_t mlp_hidden(const MlpDesc& desc);  // round(c * ratio)
// FLOPs: 2*T*c*fc1_out + 2*T*hidden*c (+ 18*T*hidden dwconv, + T*hidden GLU product, + T*c per
// residual add / gamma multiply), T = n*h*w; activations not counted. bytes: src + dst (+ a
// residual read when residual != none, except that the generic run reads src twice: counted once)
// + weights. params: every weight of weight_specs.
OpCost cost(const MlpDesc& desc);
std::vector<WeightSpec> weight_specs(const MlpDesc& desc);
Shape src_shape(const MlpDesc& desc);  // [n, h, w, c]
Shape dst_shape(const MlpDesc& desc);  // [n, h, w, c]

// How the residual is applied: in fc2's output pass (oneDNN post-ops), or as the separate binary
// ops a framework would run (fc2, then dst *= gamma, then dst += residual): the comparison that
// shows the fusion pays.
// Measured (bench/compare.py, 5 interleaved rounds, 2 threads, ratio-4 GELU MLP with
// residual=layer_scale): fused/separate time 0.957 at 56x56x96, 0.986 at 28x28x192, 0.985 at
// 14x14x384, 0.99 (noisy, [0.54, 1.8]) at 7x7x768: the two binary passes over [T, c] cost 1-4 % of
// the MLP, which the post-ops save; never slower beyond noise.
enum class ResidualFusion { PostOp, Separate };

struct MlpOptions {
  ResidualFusion fusion = ResidualFusion::PostOp;
};

class MlpPlan final : public LayerPlan {
 public:
  // Checks desc and weights (check_weights first), copies them, creates the linear / conv /
  // eltwise plans and the hidden buffers. Throws InvalidArgument or Unsupported.
  static MlpPlan create(const Engine& engine, const MlpDesc& desc, const MixerWeights& weights,
                        const MlpOptions& options = {});
  // residual = src (ignored when residual=none).
  void run(ConstTensorView src, TensorView dst) const override;
  // residual [n, h, w, c] contiguous; it must not alias dst.
  void run(ConstTensorView src, ConstTensorView residual, TensorView dst) const;

  // Receives the rectified hidden units ([n, h, w, hidden]) during a run, for activation-pattern
  // proxies (NASWOT): a view whose elements are > 0 exactly where the unit's pre-activation is
  // > 0. That is act(fc1(x)) for gelu_erf, relu and hardswish (each is > 0 iff its input is, so
  // the fused activation's output keeps the code), fc1(x) itself before the StarReLU pass for
  // star_relu (scale * relu^2 + bias does not keep the sign), the dwconv's output for conv_ffn
  // (its activation follows the dwconv), and the gate half act(g) / g for glu_mlp (the gate is
  // the rectified unit; the value half is linear). The view aliases the plan's scratch: valid only
  // inside the call.
  using HiddenObserver = std::function<void(ConstTensorView hidden)>;
  // run(src, residual, dst) that also calls `observe` once with the hidden units; residual may be
  // empty for residual=none. Same result as run; the run without an observer does no extra work.
  void run_observed(ConstTensorView src, ConstTensorView residual, TensorView dst,
                    const HiddenObserver& observe) const;
  std::string_view impl_name() const override;

  MlpPlan(MlpPlan&&) noexcept;
  MlpPlan& operator=(MlpPlan&&) noexcept;
  ~MlpPlan() override;

 private:
  struct State;
  explicit MlpPlan(std::unique_ptr<State> state);
  void run_impl(ConstTensorView src, ConstTensorView residual, TensorView dst,
                const HiddenObserver* observe) const;
  std::unique_ptr<State> state_;
};

LayerEntry mlp_layer_entry();
LayerEntry conv_ffn_layer_entry();
LayerEntry glu_mlp_layer_entry();

}  // namespace hwnas
