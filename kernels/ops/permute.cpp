#include "kernels/ops/permute.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <array>

#include "kernels/assert.hpp"
#include "kernels/error.hpp"
#include "kernels/onednn/dnnl_util.hpp"
#include "kernels/onednn/prepared_primitive.hpp"

namespace hwnas {

namespace {
constexpr std::int64_t kMaxExtent = std::int64_t{1} << 31;
}

std::span<const ParamSpec> permute_params() {
  static const ParamSpec kSpecs[] = {
      {.name = "shape",
       .default_value = "1x3136x3x32",
       .min = 1,
       .max = kMaxExtent,
       .help = "src extents joined by 'x' (rank 1..6)",
       .kind = ParamSpec::Kind::IntegerList},
      {.name = "order",
       .default_value = "0x2x1x3",
       .min = 0,
       .max = Shape::kMaxRank - 1,
       .help = "dst axis i is src axis order[i], joined by 'x'",
       .kind = ParamSpec::Kind::IntegerList},
  };
  return kSpecs;
}

std::string to_string(const PermuteDesc& d) {
  return make_key("permute", {{"shape", fmt::format("{}", fmt::join(d.shape.dims(), "x"))},
                              {"order", fmt::format("{}", fmt::join(d.order, "x"))}});
}

PermuteDesc permute_desc_from(const Params& p) {
  const std::vector<std::int64_t> dims = p.integers("shape");
  if (dims.size() > static_cast<std::size_t>(Shape::kMaxRank)) {
    throw InvalidArgument(fmt::format("permute: shape={} has rank {}, at most {} [{}]",
                                      p.word("shape"), dims.size(), Shape::kMaxRank, p.key()));
  }
  const std::vector<std::int64_t> order = p.integers("order");
  return {.shape = Shape(dims), .order = std::vector<int>(order.begin(), order.end())};
}

PermuteDesc parse_permute_desc(std::string_view key) {
  const PermuteDesc desc = permute_desc_from(Params::from_key("permute", permute_params(), key));
  check(desc);  // the rules that span fields, which the ParamSpec ranges cannot express
  return desc;
}

void check(const PermuteDesc& d) {
  const int rank = d.shape.rank();
  if (rank < 1)
    throw InvalidArgument(fmt::format("permute: shape must have rank >= 1 [{}]", to_string(d)));
  for (int axis = 0; axis < rank; ++axis) {
    if (d.shape[axis] < 1) {
      throw InvalidArgument(fmt::format("permute: shape={} has extent {} < 1 on axis {} [{}]",
                                        d.shape.to_string(), d.shape[axis], axis, to_string(d)));
    }
  }
  std::array<bool, Shape::kMaxRank> seen{};
  bool valid = static_cast<int>(d.order.size()) == rank;
  for (const int axis : d.order) {
    if (!valid) break;
    valid = axis >= 0 && axis < rank && !seen[static_cast<std::size_t>(axis)];
    if (valid) seen[static_cast<std::size_t>(axis)] = true;
  }
  if (!valid) {
    throw InvalidArgument(
        fmt::format("permute: order={} is not a permutation of 0..{} (shape={}) [{}]",
                    fmt::join(d.order, "x"), rank - 1, d.shape.to_string(), to_string(d)));
  }
}

OpCost cost(const PermuteDesc& d) {
  return {.flops = 0, .bytes = 2.0 * 4.0 * static_cast<double>(d.shape.numel()), .params = 0};
}

Shape permute_dst_shape(const PermuteDesc& d) {
  Shape shape = d.shape;
  for (int i = 0; i < d.shape.rank(); ++i) shape[i] = d.shape[d.order[static_cast<std::size_t>(i)]];
  return shape;
}

struct PermutePlan::State {
  PermuteDesc desc;
  ViewLayout src_layout;
  onednn::PreparedPrimitive primitive;
};

PermutePlan::PermutePlan(std::unique_ptr<State> state) : state_(std::move(state)) {}
PermutePlan::PermutePlan(PermutePlan&&) noexcept = default;
PermutePlan& PermutePlan::operator=(PermutePlan&&) noexcept = default;
PermutePlan::~PermutePlan() = default;

PermutePlan PermutePlan::create(const Engine& engine, const PermuteDesc& d, const ViewLayout& src) {
  check(d);
  const std::string key = to_string(d);
  const ViewLayout layout = src.given() ? src : ViewLayout::dense(d.shape);
  if (layout.dtype != DType::F32) {
    throw InvalidArgument(fmt::format("permute: src dtype={} is unsupported, expected f32 [{}]",
                                      to_string(layout.dtype), key));
  }
  if (!(layout.shape == d.shape) || layout.strides.rank() != d.shape.rank()) {
    throw InvalidArgument(fmt::format("permute: src layout {} must have shape={} [{}]",
                                      layout.to_string(), d.shape.to_string(), key));
  }
  for (int axis = 0; axis < d.shape.rank(); ++axis) {
    if (layout.strides[axis] < 0) {
      throw InvalidArgument(fmt::format("permute: src layout {} has stride {} < 0 on axis {} [{}]",
                                        layout.to_string(), layout.strides[axis], axis, key));
    }
  }

  using dnnl::memory;
  auto prepared = onednn::prepare(key, [&] {
    const dnnl::engine& eng = engine.impl().engine;
    // A reorder copies between two descriptors of the same dims; seeing src through the permuted
    // strides makes it a plain strided-to-dense copy, which oneDNN's jit reorder does for any
    // strides.
    const Shape dst_shape = permute_dst_shape(d);
    Strides src_strides = dst_shape;
    for (int i = 0; i < d.shape.rank(); ++i)
      src_strides[i] = layout.strides[d.order[static_cast<std::size_t>(i)]];
    const memory::desc src_md = onednn::md_of(dst_shape, src_strides);
    const memory::desc dst_md = onednn::md_dense(dst_shape);
    // The reorder primitive_desc constructor is the same in oneDNN 2.6 and 3.x.
    const dnnl::reorder::primitive_desc pd(eng, src_md, eng, dst_md, onednn::make_attr());
    return onednn::PreparedPrimitive::create(
        engine, pd, {.inputs = {{DNNL_ARG_FROM, src_md}}, .dst = {DNNL_ARG_TO, dst_md}});
  });
  return PermutePlan(std::make_unique<State>(
      State{.desc = d, .src_layout = layout, .primitive = std::move(prepared)}));
}

void PermutePlan::run(ConstTensorView src, TensorView dst) const {
  const State& s = *state_;
  HWNAS_ASSERT(s.src_layout.matches(src));
  HWNAS_ASSERT(dst.dtype() == DType::F32 && dst.is_contiguous() &&
               dst.numel() == s.desc.shape.numel());
  s.primitive.run({src.data()}, dst.data());
}

const PermuteDesc& PermutePlan::desc() const { return state_->desc; }
std::string_view PermutePlan::impl_name() const { return state_->primitive.impl_name(); }

}  // namespace hwnas
