// Internal to kernels/: oneDNN glue shared by every op built on it.
//
// hwnas builds against oneDNN 2.6 (Debian) or 3.x (PyPI's GNU-OpenMP build). Their C++ APIs differ in
// how a primitive descriptor is constructed (2.x: op desc + attr + engine; 3.x: engine first, no op
// desc) and in post-op signatures; the make_*_pd functions below are the only place that knows.
#pragma once

#include <dnnl.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/activation.hpp"
#include "kernels/engine.hpp"
#include "kernels/onednn/engine_impl.hpp"
#include "kernels/tensor.hpp"

namespace hwnas::onednn {

using dnnl::memory;
using Dims = memory::dims;

// A memory descriptor for a view: its shape and element strides, f32.
memory::desc md_of(const Shape& shape, const Strides& strides);
memory::desc md_of(const ConstTensorView& view);
// A plain row-major descriptor.
memory::desc md_dense(const Shape& shape);
// "any": let the primitive choose the layout (used for weights, which are reordered at create time).
memory::desc md_any(const Shape& shape);
Dims dims_of(const Shape& shape);

// Maps a fusable activation to oneDNN's (algorithm, alpha, beta). StarRelu is not a single oneDNN
// eltwise; callers handle it.
struct EltwiseAlg {
  dnnl::algorithm algorithm;
  float alpha = 0;
  float beta = 0;
};
EltwiseAlg eltwise_alg(Activation act);
bool is_fusable(Activation act);

// Attributes every hwnas primitive uses: user-managed scratchpad (allocated once in create), strict
// f32 math (so tests hold their tolerances whatever ONEDNN_DEFAULT_FPMATH_MODE says), and the given
// activation as an eltwise post-op (None = no post-op).
dnnl::primitive_attr make_attr(Activation post_op = Activation::None);

// Appends dst = alg(dst; alpha, beta) to a post-op chain (2.x's signature has a leading scale).
void append_eltwise(dnnl::post_ops& ops, const EltwiseAlg& alg);

// Memory for a primitive's scratchpad, sized from its primitive descriptor. Owned by the plan.
memory make_scratchpad(const dnnl::engine& engine, const memory::desc& desc);

// The implementation name oneDNN picked, prefixed: "onednn:brg:avx512_core".
std::string impl_name_of(const dnnl::primitive_desc_base& pd);

// Converts a dnnl::error into Unsupported naming the op key (dnnl's own message names no values).
[[noreturn]] void rethrow_unsupported(const dnnl::error& e, std::string_view key);

// Reorders `src` (any strided f32 view) into a new memory of layout `dst_desc`.
memory reorder_into(const Engine& engine, const memory::desc& src_desc, const void* src,
                    const memory::desc& dst_desc);

// Primitive descriptors, one constructor per primitive kind, whatever the oneDNN version.
dnnl::matmul::primitive_desc make_matmul_pd(const dnnl::engine& engine, const memory::desc& src,
                                            const memory::desc& weights, const memory::desc& bias,
                                            const memory::desc& dst, const dnnl::primitive_attr& attr);
dnnl::convolution_forward::primitive_desc make_conv_pd(
    const dnnl::engine& engine, dnnl::algorithm algorithm, const memory::desc& src,
    const memory::desc& weights, const memory::desc& bias, const memory::desc& dst, const Dims& strides,
    const Dims& dilates, const Dims& pad_l, const Dims& pad_r, const dnnl::primitive_attr& attr);
dnnl::eltwise_forward::primitive_desc make_eltwise_pd(const dnnl::engine& engine, dnnl::algorithm algorithm,
                                                      const memory::desc& src, const memory::desc& dst,
                                                      float alpha, float beta,
                                                      const dnnl::primitive_attr& attr);
dnnl::binary::primitive_desc make_binary_pd(const dnnl::engine& engine, dnnl::algorithm algorithm,
                                            const memory::desc& src0, const memory::desc& src1,
                                            const memory::desc& dst, const dnnl::primitive_attr& attr);
dnnl::layer_normalization_forward::primitive_desc make_layer_norm_pd(
    const dnnl::engine& engine, const memory::desc& src, const memory::desc& dst, float epsilon,
    dnnl::normalization_flags flags, const dnnl::primitive_attr& attr);
dnnl::batch_normalization_forward::primitive_desc make_batch_norm_pd(
    const dnnl::engine& engine, const memory::desc& src, const memory::desc& dst, float epsilon,
    dnnl::normalization_flags flags, const dnnl::primitive_attr& attr);
dnnl::softmax_forward::primitive_desc make_softmax_pd(const dnnl::engine& engine, const memory::desc& src,
                                                      const memory::desc& dst, int axis,
                                                      const dnnl::primitive_attr& attr);
// algorithm: pooling_max, pooling_avg_include_padding or pooling_avg_exclude_padding.
using PoolingPd =
#if DNNL_VERSION_MAJOR >= 3
    dnnl::pooling_forward::primitive_desc;
#else
    dnnl::pooling_v2_forward::primitive_desc;
#endif
PoolingPd make_pooling_pd(const dnnl::engine& engine, dnnl::algorithm algorithm, const memory::desc& src,
                          const memory::desc& dst, const Dims& strides, const Dims& kernel,
                          const Dims& dilation, const Dims& pad_l, const Dims& pad_r,
                          const dnnl::primitive_attr& attr);

// Scale and shift memory descriptors for normalization: 3.x takes separate scale and shift; 2.6
// accepts them separately too with use_scale | use_shift.
inline dnnl::normalization_flags scale_shift_flags() {
  return dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
}

}  // namespace hwnas::onednn
