#include "kernels/ops/matmul.hpp"

#include <fmt/format.h>

#include <cmath>
#include <utility>
#include <vector>

#include "kernels/assert.hpp"
#include "kernels/error.hpp"
#include "kernels/onednn/dnnl_util.hpp"
#include "kernels/onednn/prepared_primitive.hpp"

namespace hwnas {

namespace {

constexpr std::int64_t kMaxExtent = std::int64_t{1} << 31;
constexpr int kMinRank = 3;  // [batch..., rows, cols]

std::string batch_dims(const Shape& shape) {
  std::vector<std::int64_t> dims(shape.dims().begin(), shape.dims().end() - 2);
  return Shape(dims).to_string();
}

// Checks one operand's layout against the [rows, cols] matrices the desc implies.
void check_operand(const std::string& key, std::string_view operand, const ViewLayout& layout,
                   std::int64_t b, std::string_view rows_name, std::int64_t rows,
                   std::string_view cols_name, std::int64_t cols) {
  const int rank = layout.shape.rank();
  if (layout.dtype != DType::F32) {
    throw InvalidArgument(fmt::format("matmul: {} dtype={} is unsupported, expected f32 [{}]",
                                      operand, to_string(layout.dtype), key));
  }
  if (layout.strides.rank() != rank) {
    throw InvalidArgument(fmt::format("matmul: {} layout {} has {} strides for rank {} [{}]",
                                      operand, layout.to_string(), layout.strides.rank(), rank,
                                      key));
  }
  if (rank < kMinRank) {
    throw InvalidArgument(fmt::format("matmul: {} layout {} has rank {}, expected >= {} [{}]",
                                      operand, layout.to_string(), rank, kMinRank, key));
  }
  for (int axis = 0; axis < rank; ++axis) {
    if (layout.shape[axis] < 1) {
      throw InvalidArgument(fmt::format("matmul: {} shape {} has extent {} < 1 on axis {} [{}]",
                                        operand, layout.shape.to_string(), layout.shape[axis], axis,
                                        key));
    }
  }
  const std::int64_t batch = layout.shape.numel() / (rows * cols);
  if (layout.shape[rank - 2] != rows || layout.shape[rank - 1] != cols || batch != b ||
      batch * rows * cols != layout.shape.numel()) {
    throw InvalidArgument(fmt::format(
        "matmul: {} shape {} must be [batch axes multiplying to b={}, {}={}, {}={}] [{}]", operand,
        layout.shape.to_string(), b, rows_name, rows, cols_name, cols, key));
  }
  for (int axis = 0; axis < rank; ++axis) {
    if (layout.strides[axis] < 0) {
      throw InvalidArgument(fmt::format("matmul: {} layout {} has stride {} < 0 on axis {} [{}]",
                                        operand, layout.to_string(), layout.strides[axis], axis,
                                        key));
    }
  }
}

// The [rows, cols] operand seen with its last two axes swapped.
ViewLayout swap_last_two(ViewLayout layout) {
  const int rank = layout.shape.rank();
  std::swap(layout.shape[rank - 2], layout.shape[rank - 1]);
  std::swap(layout.strides[rank - 2], layout.strides[rank - 1]);
  return layout;
}

}  // namespace

std::span<const ParamSpec> matmul_params() {
  static const ParamSpec kSpecs[] = {
      {.name = "b",
       .default_value = "192",
       .min = 1,
       .max = kMaxExtent,
       .help = "batch (batch x heads x windows)"},
      {.name = "m",
       .default_value = "49",
       .min = 1,
       .max = kMaxExtent,
       .help = "rows of src (queries)"},
      {.name = "k",
       .default_value = "32",
       .min = 1,
       .max = kMaxExtent,
       .help = "reduction length (head dim)"},
      {.name = "n",
       .default_value = "49",
       .min = 1,
       .max = kMaxExtent,
       .help = "columns of dst (keys)"},
      {.name = "trans_b",
       .default_value = "1",
       .min = 0,
       .max = 1,
       .help = "1: weights are [b, n, k] and used transposed (Q.K^T)"},
      {.name = "scale",
       .default_value = "1",
       .min = -1'000'000,
       .max = 1'000'000,
       .help = "factor applied to the product before act (attention: 1/sqrt(k))",
       .kind = ParamSpec::Kind::Real},
      {.name = "act",
       .default_value = "none",
       .choices = {"none", "relu", "gelu_erf", "gelu_tanh", "silu", "hardswish", "sigmoid"},
       .help = "fused activation"},
  };
  return kSpecs;
}

std::string to_string(const MatmulDesc& d) {
  // fmt writes a float in the shortest form that reads back as the same float.
  return make_key("matmul", {{"b", std::to_string(d.b)},
                             {"m", std::to_string(d.m)},
                             {"k", std::to_string(d.k)},
                             {"n", std::to_string(d.n)},
                             {"trans_b", d.trans_b == Transpose::Yes ? "1" : "0"},
                             {"scale", fmt::format("{}", d.scale)},
                             {"act", std::string(to_string(d.act))}});
}

MatmulDesc matmul_desc_from(const Params& p) {
  return {.b = p.integer("b"),
          .m = p.integer("m"),
          .k = p.integer("k"),
          .n = p.integer("n"),
          .trans_b = p.integer("trans_b") != 0 ? Transpose::Yes : Transpose::No,
          .scale = static_cast<float>(p.real("scale")),
          .act = parse_activation(p.word("act"))};
}

MatmulDesc parse_matmul_desc(std::string_view key) {
  const MatmulDesc desc = matmul_desc_from(Params::from_key("matmul", matmul_params(), key));
  check(desc);  // the rules that span fields, which the ParamSpec ranges cannot express
  return desc;
}

void check(const MatmulDesc& d) {
  const auto positive = [&](std::string_view name, std::int64_t v) {
    if (v < 1)
      throw InvalidArgument(fmt::format("matmul: {}={} must be >= 1 [{}]", name, v, to_string(d)));
  };
  positive("b", d.b);
  positive("m", d.m);
  positive("k", d.k);
  positive("n", d.n);
  if (!std::isfinite(d.scale)) {
    throw InvalidArgument(
        fmt::format("matmul: scale={} must be finite [{}]", d.scale, to_string(d)));
  }
  if (d.act == Activation::StarRelu) {
    throw InvalidArgument(
        fmt::format("matmul: act=star_relu cannot be fused; use an eltwise op [{}]", to_string(d)));
  }
}

OpCost cost(const MatmulDesc& d) {
  const double b = static_cast<double>(d.b), m = static_cast<double>(d.m),
               k = static_cast<double>(d.k), n = static_cast<double>(d.n);
  return {.flops = 2.0 * b * m * k * n, .bytes = 4.0 * b * (m * k + k * n + m * n), .params = 0};
}

Shape matmul_src_shape(const MatmulDesc& d) { return {d.b, d.m, d.k}; }
Shape matmul_weights_shape(const MatmulDesc& d) {
  return d.trans_b == Transpose::Yes ? Shape{d.b, d.n, d.k} : Shape{d.b, d.k, d.n};
}
Shape matmul_dst_shape(const MatmulDesc& d) { return {d.b, d.m, d.n}; }

struct MatmulPlan::State {
  MatmulDesc desc;
  MatmulLayout layout;
  onednn::PreparedPrimitive primitive;
};

MatmulPlan::MatmulPlan(std::unique_ptr<State> state) : state_(std::move(state)) {}
MatmulPlan::MatmulPlan(MatmulPlan&&) noexcept = default;
MatmulPlan& MatmulPlan::operator=(MatmulPlan&&) noexcept = default;
MatmulPlan::~MatmulPlan() = default;

MatmulPlan MatmulPlan::create(const Engine& engine, const MatmulDesc& d,
                              const MatmulLayout& layout) {
  check(d);
  const std::string key = to_string(d);
  MatmulLayout l = layout;
  if (!l.src.given()) l.src = ViewLayout::dense(matmul_src_shape(d));
  if (!l.weights.given()) l.weights = ViewLayout::dense(matmul_weights_shape(d));
  if (!l.dst.given()) l.dst = ViewLayout::dense(matmul_dst_shape(d));
  const bool trans_b = d.trans_b == Transpose::Yes;
  check_operand(key, "src", l.src, d.b, "m", d.m, "k", d.k);
  check_operand(key, "weights", l.weights, d.b, trans_b ? "n" : "k", trans_b ? d.n : d.k,
                trans_b ? "k" : "n", trans_b ? d.k : d.n);
  check_operand(key, "dst", l.dst, d.b, "m", d.m, "n", d.n);
  // oneDNN broadcasts batch axes of extent 1, so equal batch counts are not enough: the axes must
  // match one to one, or each operand would be indexed by a different batch decomposition.
  for (const ViewLayout* other : {&l.weights, &l.dst}) {
    if (batch_dims(other->shape) != batch_dims(l.src.shape)) {
      throw InvalidArgument(fmt::format("matmul: batch axes of {} and {} must be equal [{}]",
                                        l.src.shape.to_string(), other->shape.to_string(), key));
    }
  }
  if (!is_non_overlapping(l.dst.shape, l.dst.strides)) {
    throw InvalidArgument(
        fmt::format("matmul: dst layout {} overlaps itself [{}]", l.dst.to_string(), key));
  }

  using dnnl::memory;
  auto prepared = onednn::prepare(key, [&] {
    const dnnl::engine& eng = engine.impl().engine;
    const memory::desc src_md = onednn::md_of(l.src.shape, l.src.strides);
    // oneDNN multiplies by a [k, n] operand; a [n, k] one is the same memory with its last two
    // strides swapped, a layout the primitive reads directly (no separate transpose pass).
    const ViewLayout kn = trans_b ? swap_last_two(l.weights) : l.weights;
    const memory::desc weights_md = onednn::md_of(kn.shape, kn.strides);
    const memory::desc dst_md = onednn::md_of(l.dst.shape, l.dst.strides);
    dnnl::primitive_attr attr = onednn::make_attr();
    dnnl::post_ops ops;
    // scale as an eltwise_linear post-op rather than oneDNN's scales attribute: 2.6 (output scales)
    // and 3.x (per-argument runtime scales) differ there, and the post-op folds into the same
    // kernel epilogue on both.
    if (d.scale != 1.f) {
      onednn::append_eltwise(
          ops, {.algorithm = dnnl::algorithm::eltwise_linear, .alpha = d.scale, .beta = 0.f});
    }
    if (d.act != Activation::None) onednn::append_eltwise(ops, onednn::eltwise_alg(d.act));
    attr.set_post_ops(ops);
    const auto pd = onednn::make_matmul_pd(eng, src_md, weights_md, memory::desc(), dst_md, attr);
    return onednn::PreparedPrimitive::create(
        engine, pd,
        {.inputs = {{DNNL_ARG_SRC, src_md}, {DNNL_ARG_WEIGHTS, weights_md}},
         .dst = {DNNL_ARG_DST, dst_md}});
  });
  return MatmulPlan(
      std::make_unique<State>(State{.desc = d, .layout = l, .primitive = std::move(prepared)}));
}

void MatmulPlan::run(ConstTensorView src, ConstTensorView weights, TensorView dst) const {
  const State& s = *state_;
  HWNAS_ASSERT(s.layout.src.matches(src));
  HWNAS_ASSERT(s.layout.weights.matches(weights));
  HWNAS_ASSERT(s.layout.dst.matches(dst));
  s.primitive.run({src.data(), weights.data()}, dst.data());
}

const MatmulDesc& MatmulPlan::desc() const { return state_->desc; }
const MatmulLayout& MatmulPlan::layout() const { return state_->layout; }
std::string_view MatmulPlan::impl_name() const { return state_->primitive.impl_name(); }

}  // namespace hwnas
