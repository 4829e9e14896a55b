#include "kernels/ops/binary.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <iterator>

#include "kernels/assert.hpp"
#include "kernels/error.hpp"
#include "kernels/onednn/dnnl_util.hpp"
#include "kernels/onednn/prepared_primitive.hpp"

namespace hwnas {

namespace {

constexpr std::int64_t kMaxExtent = std::int64_t{1} << 31;
constexpr std::string_view kAlgNames[] = {"add", "mul"};

bool keeps(const BinaryDesc& d, char axis) { return d.src1.find(axis) != std::string::npos; }

// oneDNN's logical order is N, C, H, W whatever the memory layout; channels must be its axis 1 for
// the per-channel broadcast to reach the optimised kernels, so NHWC memory is described as nchw
// dims with the nhwc tag.
dnnl::memory::desc md_nhwc(const Shape& nhwc) {
  return dnnl::memory::desc({nhwc[0], nhwc[3], nhwc[1], nhwc[2]}, dnnl::memory::data_type::f32,
                            dnnl::memory::format_tag::nhwc);
}

}  // namespace

std::span<const ParamSpec> binary_params() {
  static const ParamSpec kSpecs[] = {
      {.name = "alg",
       .default_value = "add",
       .choices = {std::begin(kAlgNames), std::end(kAlgNames)},
       .help = "dst = src0 + src1 or src0 * src1"},
      {.name = "n", .default_value = "1", .min = 1, .max = kMaxExtent, .help = "batch"},
      {.name = "h", .default_value = "56", .min = 1, .max = kMaxExtent, .help = "height"},
      {.name = "w", .default_value = "56", .min = 1, .max = kMaxExtent, .help = "width"},
      {.name = "c", .default_value = "96", .min = 1, .max = kMaxExtent, .help = "channels"},
      {.name = "src1",
       .default_value = "nhwc",
       .choices = {std::begin(kBinarySrc1Axes), std::end(kBinarySrc1Axes)},
       .help = "axes src1 shares with src0, the others broadcast (c = per channel, 1 = scalar)"},
  };
  return kSpecs;
}

std::string to_string(const BinaryDesc& d) {
  return make_key("binary", {{"alg", std::string(kAlgNames[static_cast<std::size_t>(d.alg)])},
                             {"n", std::to_string(d.n)},
                             {"h", std::to_string(d.h)},
                             {"w", std::to_string(d.w)},
                             {"c", std::to_string(d.c)},
                             {"src1", d.src1}});
}

BinaryDesc binary_desc_from(const Params& p) {
  return {.alg = p.word("alg") == "mul" ? BinaryAlg::Mul : BinaryAlg::Add,
          .n = p.integer("n"),
          .h = p.integer("h"),
          .w = p.integer("w"),
          .c = p.integer("c"),
          .src1 = p.word("src1")};
}

BinaryDesc parse_binary_desc(std::string_view key) {
  return binary_desc_from(Params::from_key("binary", binary_params(), key));
}

void check(const BinaryDesc& d) {
  const auto positive = [&](std::string_view name, std::int64_t v) {
    if (v < 1) {
      throw InvalidArgument(fmt::format("binary: {}={} must be >= 1 [{}]", name, v, to_string(d)));
    }
  };
  positive("n", d.n);
  positive("h", d.h);
  positive("w", d.w);
  positive("c", d.c);
  if (std::find(std::begin(kBinarySrc1Axes), std::end(kBinarySrc1Axes), d.src1) ==
      std::end(kBinarySrc1Axes)) {
    throw InvalidArgument(fmt::format(
        "binary: src1={} must be one of {} (the axes src1 shares with src0, in nhwc order) [{}]",
        d.src1, fmt::join(kBinarySrc1Axes, ", "), to_string(d)));
  }
}

Shape binary_src0_shape(const BinaryDesc& d) { return {d.n, d.h, d.w, d.c}; }

Shape binary_src1_shape(const BinaryDesc& d) {
  return {keeps(d, 'n') ? d.n : 1, keeps(d, 'h') ? d.h : 1, keeps(d, 'w') ? d.w : 1,
          keeps(d, 'c') ? d.c : 1};
}

OpCost cost(const BinaryDesc& d) {
  const double dst = static_cast<double>(binary_src0_shape(d).numel());
  const double src1 = static_cast<double>(binary_src1_shape(d).numel());
  return {.flops = dst, .bytes = 4.0 * (2.0 * dst + src1), .params = 0};
}

struct BinaryPlan::State {
  BinaryDesc desc;
  onednn::PreparedPrimitive primitive;
};

BinaryPlan::BinaryPlan(std::unique_ptr<State> state) : state_(std::move(state)) {}
BinaryPlan::BinaryPlan(BinaryPlan&&) noexcept = default;
BinaryPlan& BinaryPlan::operator=(BinaryPlan&&) noexcept = default;
BinaryPlan::~BinaryPlan() = default;

BinaryPlan BinaryPlan::create(const Engine& engine, const BinaryDesc& d) {
  check(d);
  const std::string key = to_string(d);
  using dnnl::memory;
  auto prepared = onednn::prepare(key, [&] {
    const dnnl::engine& eng = engine.impl().engine;
    const memory::desc src0_md = md_nhwc(binary_src0_shape(d));
    const memory::desc src1_md = md_nhwc(binary_src1_shape(d));
    const auto algorithm =
        d.alg == BinaryAlg::Add ? dnnl::algorithm::binary_add : dnnl::algorithm::binary_mul;
    const auto pd =
        onednn::make_binary_pd(eng, algorithm, src0_md, src1_md, src0_md, onednn::make_attr());
    return onednn::PreparedPrimitive::create(
        engine, pd,
        {.inputs = {{DNNL_ARG_SRC_0, src0_md}, {DNNL_ARG_SRC_1, src1_md}},
         .dst = {DNNL_ARG_DST, src0_md}});
  });
  return BinaryPlan(std::make_unique<State>(State{.desc = d, .primitive = std::move(prepared)}));
}

void BinaryPlan::run(ConstTensorView src0, ConstTensorView src1, TensorView dst) const {
  [[maybe_unused]] const BinaryDesc& d = state_->desc;
  [[maybe_unused]] const std::int64_t numel0 = d.n * d.h * d.w * d.c;
  HWNAS_ASSERT(src0.is_contiguous() && src0.numel() == numel0 &&
               src0.shape()[src0.rank() - 1] == d.c && src0.dtype() == DType::F32);
  HWNAS_ASSERT(src1.is_contiguous() && src1.numel() == binary_src1_shape(d).numel() &&
               src1.dtype() == DType::F32);
  HWNAS_ASSERT(dst.is_contiguous() && dst.numel() == numel0 && dst.shape()[dst.rank() - 1] == d.c &&
               dst.dtype() == DType::F32);
  state_->primitive.run({src0.data(), src1.data()}, dst.data());
}

const BinaryDesc& BinaryPlan::desc() const { return state_->desc; }
std::string_view BinaryPlan::impl_name() const { return state_->primitive.impl_name(); }

}  // namespace hwnas
