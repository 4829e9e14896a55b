#include "kernels/onednn/dnnl_util.hpp"

#include <fmt/format.h>

#include "kernels/error.hpp"

namespace hwnas::onednn {

Dims dims_of(const Shape& shape) { return Dims(shape.dims().begin(), shape.dims().end()); }

memory::desc md_of(const Shape& shape, const Strides& strides) {
  return memory::desc(dims_of(shape), memory::data_type::f32, dims_of(strides));
}

memory::desc md_of(const ConstTensorView& view) { return md_of(view.shape(), view.strides()); }

memory::desc md_dense(const Shape& shape) { return md_of(shape, contiguous_strides(shape)); }

memory::desc md_any(const Shape& shape) {
  return memory::desc(dims_of(shape), memory::data_type::f32, memory::format_tag::any);
}

bool is_fusable(Activation act) { return act != Activation::StarRelu; }

EltwiseAlg eltwise_alg(Activation act) {
  using dnnl::algorithm;
  switch (act) {
    case Activation::None: return {algorithm::eltwise_linear, 1.f, 0.f};
    case Activation::Relu: return {algorithm::eltwise_relu, 0.f, 0.f};
    case Activation::GeluErf: return {algorithm::eltwise_gelu_erf, 0.f, 0.f};
    case Activation::GeluTanh: return {algorithm::eltwise_gelu_tanh, 0.f, 0.f};
    case Activation::Silu: return {algorithm::eltwise_swish, 1.f, 0.f};
    case Activation::Hardswish:
      // 3.x generalised hardswish to x * max(0, min(1, alpha*x + beta)); 2.6 ignores alpha/beta.
      return {algorithm::eltwise_hardswish, 1.f / 6.f, 0.5f};
    case Activation::Sigmoid: return {algorithm::eltwise_logistic, 0.f, 0.f};
    case Activation::StarRelu: break;
  }
  throw Unsupported(fmt::format("onednn: activation {} has no single oneDNN eltwise", to_string(act)));
}

dnnl::primitive_attr make_attr(Activation post_op) {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  attr.set_fpmath_mode(dnnl::fpmath_mode::strict);
  if (post_op != Activation::None) {
    dnnl::post_ops ops;
    append_eltwise(ops, eltwise_alg(post_op));
    attr.set_post_ops(ops);
  }
  return attr;
}

void append_eltwise(dnnl::post_ops& ops, const EltwiseAlg& alg) {
#if DNNL_VERSION_MAJOR >= 3
  ops.append_eltwise(alg.algorithm, alg.alpha, alg.beta);
#else
  ops.append_eltwise(1.f, alg.algorithm, alg.alpha, alg.beta);
#endif
}

memory make_scratchpad(const dnnl::engine& engine, const memory::desc& desc) {
  return memory(desc, engine);
}

std::string impl_name_of(const dnnl::primitive_desc_base& pd) {
  return fmt::format("onednn:{}", pd.impl_info_str());
}

void rethrow_unsupported(const dnnl::error& e, std::string_view key) {
  throw Unsupported(fmt::format("oneDNN cannot run {}: {} (status {})", key, e.what(),
                                static_cast<int>(e.status)));
}

memory reorder_into(const Engine& engine, const memory::desc& src_desc, const void* src,
                    const memory::desc& dst_desc) {
  const dnnl::engine& eng = engine.impl().engine;
  memory src_mem(src_desc, eng, const_cast<void*>(src));  // oneDNN takes void*; it only reads src
  memory dst_mem(dst_desc, eng);
  dnnl::reorder prim(src_mem, dst_mem);
  engine.impl().execute(prim, {{DNNL_ARG_FROM, src_mem}, {DNNL_ARG_TO, dst_mem}});
  return dst_mem;
}

#if DNNL_VERSION_MAJOR >= 3

dnnl::matmul::primitive_desc make_matmul_pd(const dnnl::engine& engine, const memory::desc& src,
                                            const memory::desc& weights, const memory::desc& bias,
                                            const memory::desc& dst, const dnnl::primitive_attr& attr) {
  return {engine, src, weights, bias, dst, attr};
}

dnnl::convolution_forward::primitive_desc make_conv_pd(
    const dnnl::engine& engine, dnnl::algorithm algorithm, const memory::desc& src,
    const memory::desc& weights, const memory::desc& bias, const memory::desc& dst, const Dims& strides,
    const Dims& dilates, const Dims& pad_l, const Dims& pad_r, const dnnl::primitive_attr& attr) {
  return {engine, dnnl::prop_kind::forward_inference, algorithm, src, weights, bias, dst,
          strides, dilates, pad_l, pad_r, attr};
}

dnnl::eltwise_forward::primitive_desc make_eltwise_pd(const dnnl::engine& engine, dnnl::algorithm algorithm,
                                                      const memory::desc& src, const memory::desc& dst,
                                                      float alpha, float beta,
                                                      const dnnl::primitive_attr& attr) {
  return {engine, dnnl::prop_kind::forward_inference, algorithm, src, dst, alpha, beta, attr};
}

dnnl::binary::primitive_desc make_binary_pd(const dnnl::engine& engine, dnnl::algorithm algorithm,
                                            const memory::desc& src0, const memory::desc& src1,
                                            const memory::desc& dst, const dnnl::primitive_attr& attr) {
  return {engine, algorithm, src0, src1, dst, attr};
}

dnnl::layer_normalization_forward::primitive_desc make_layer_norm_pd(
    const dnnl::engine& engine, const memory::desc& src, const memory::desc& dst, float epsilon,
    dnnl::normalization_flags flags, const dnnl::primitive_attr& attr) {
  return {engine, dnnl::prop_kind::forward_inference, src, dst, epsilon, flags, attr};
}

dnnl::batch_normalization_forward::primitive_desc make_batch_norm_pd(
    const dnnl::engine& engine, const memory::desc& src, const memory::desc& dst, float epsilon,
    dnnl::normalization_flags flags, const dnnl::primitive_attr& attr) {
  return {engine, dnnl::prop_kind::forward_inference, src, dst, epsilon, flags, attr};
}

dnnl::softmax_forward::primitive_desc make_softmax_pd(const dnnl::engine& engine, const memory::desc& src,
                                                      const memory::desc& dst, int axis,
                                                      const dnnl::primitive_attr& attr) {
  return {engine, dnnl::prop_kind::forward_inference, dnnl::algorithm::softmax_accurate, src, dst, axis, attr};
}

PoolingPd make_pooling_pd(const dnnl::engine& engine, dnnl::algorithm algorithm, const memory::desc& src,
                          const memory::desc& dst, const Dims& strides, const Dims& kernel,
                          const Dims& dilation, const Dims& pad_l, const Dims& pad_r,
                          const dnnl::primitive_attr& attr) {
  return {engine, dnnl::prop_kind::forward_inference, algorithm, src, dst, strides, kernel, dilation,
          pad_l, pad_r, attr};
}

#else  // oneDNN 2.x

dnnl::matmul::primitive_desc make_matmul_pd(const dnnl::engine& engine, const memory::desc& src,
                                            const memory::desc& weights, const memory::desc& bias,
                                            const memory::desc& dst, const dnnl::primitive_attr& attr) {
  return {dnnl::matmul::desc(src, weights, bias, dst), attr, engine};
}

dnnl::convolution_forward::primitive_desc make_conv_pd(
    const dnnl::engine& engine, dnnl::algorithm algorithm, const memory::desc& src,
    const memory::desc& weights, const memory::desc& bias, const memory::desc& dst, const Dims& strides,
    const Dims& dilates, const Dims& pad_l, const Dims& pad_r, const dnnl::primitive_attr& attr) {
  dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference, algorithm, src, weights, bias,
                                       dst, strides, dilates, pad_l, pad_r);
  return {desc, attr, engine};
}

dnnl::eltwise_forward::primitive_desc make_eltwise_pd(const dnnl::engine& engine, dnnl::algorithm algorithm,
                                                      const memory::desc& src, const memory::desc& dst,
                                                      float alpha, float beta,
                                                      const dnnl::primitive_attr& attr) {
  // 2.x eltwise writes dst in src's layout; dst is implied.
  static_cast<void>(dst);
  return {dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_inference, algorithm, src, alpha, beta),
          attr, engine};
}

dnnl::binary::primitive_desc make_binary_pd(const dnnl::engine& engine, dnnl::algorithm algorithm,
                                            const memory::desc& src0, const memory::desc& src1,
                                            const memory::desc& dst, const dnnl::primitive_attr& attr) {
  return {dnnl::binary::desc(algorithm, src0, src1, dst), attr, engine};
}

dnnl::layer_normalization_forward::primitive_desc make_layer_norm_pd(
    const dnnl::engine& engine, const memory::desc& src, const memory::desc& dst, float epsilon,
    dnnl::normalization_flags flags, const dnnl::primitive_attr& attr) {
  static_cast<void>(dst);
  return {dnnl::layer_normalization_forward::desc(dnnl::prop_kind::forward_inference, src, epsilon, flags),
          attr, engine};
}

dnnl::batch_normalization_forward::primitive_desc make_batch_norm_pd(
    const dnnl::engine& engine, const memory::desc& src, const memory::desc& dst, float epsilon,
    dnnl::normalization_flags flags, const dnnl::primitive_attr& attr) {
  static_cast<void>(dst);
  return {dnnl::batch_normalization_forward::desc(dnnl::prop_kind::forward_inference, src, epsilon, flags),
          attr, engine};
}

dnnl::softmax_forward::primitive_desc make_softmax_pd(const dnnl::engine& engine, const memory::desc& src,
                                                      const memory::desc& dst, int axis,
                                                      const dnnl::primitive_attr& attr) {
  static_cast<void>(dst);
  return {dnnl::softmax_forward::desc(dnnl::prop_kind::forward_inference, src, axis), attr, engine};
}

PoolingPd make_pooling_pd(const dnnl::engine& engine, dnnl::algorithm algorithm, const memory::desc& src,
                          const memory::desc& dst, const Dims& strides, const Dims& kernel,
                          const Dims& dilation, const Dims& pad_l, const Dims& pad_r,
                          const dnnl::primitive_attr& attr) {
  return {dnnl::pooling_v2_forward::desc(dnnl::prop_kind::forward_inference, algorithm, src, dst, strides,
                                         kernel, dilation, pad_l, pad_r),
          attr, engine};
}

#endif

}  // namespace hwnas::onednn
