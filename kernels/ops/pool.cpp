#include "kernels/ops/pool.hpp"

#include <fmt/format.h>

#include <iterator>

#include "kernels/assert.hpp"
#include "kernels/error.hpp"
#include "kernels/onednn/dnnl_util.hpp"
#include "kernels/onednn/prepared_primitive.hpp"

namespace hwnas {

namespace {

constexpr std::int64_t kMaxExtent = std::int64_t{1} << 31;
constexpr std::string_view kAlgNames[] = {"max", "avg"};

// oneDNN's logical order is N, C, H, W whatever the memory layout, and pooling requires channels on
// axis 1, so NHWC memory is described as nchw dims with the nhwc tag.
dnnl::memory::desc md_nhwc(const Shape& nhwc) {
  return dnnl::memory::desc({nhwc[0], nhwc[3], nhwc[1], nhwc[2]}, dnnl::memory::data_type::f32,
                            dnnl::memory::format_tag::nhwc);
}

std::int64_t out_extent(std::int64_t in, std::int64_t kernel, std::int64_t stride,
                        std::int64_t pad) {
  return (in + 2 * pad - kernel) / stride + 1;
}

}  // namespace

std::span<const ParamSpec> pool_params() {
  static const ParamSpec kSpecs[] = {
      {.name = "alg",
       .default_value = "avg",
       .choices = {std::begin(kAlgNames), std::end(kAlgNames)},
       .help = "max or average"},
      {.name = "n", .default_value = "1", .min = 1, .max = kMaxExtent, .help = "batch"},
      {.name = "h", .default_value = "56", .min = 1, .max = kMaxExtent, .help = "input height"},
      {.name = "w", .default_value = "56", .min = 1, .max = kMaxExtent, .help = "input width"},
      {.name = "c", .default_value = "64", .min = 1, .max = kMaxExtent, .help = "channels"},
      {.name = "kh", .default_value = "3", .min = 1, .max = kMaxExtent, .help = "kernel height"},
      {.name = "kw", .default_value = "3", .min = 1, .max = kMaxExtent, .help = "kernel width"},
      {.name = "stride",
       .default_value = "1",
       .min = 1,
       .max = kMaxExtent,
       .help = "stride, both axes"},
      {.name = "pad",
       .default_value = "1",
       .min = 0,
       .max = kMaxExtent,
       .help = "padding on every side, at most kernel/2"},
      {.name = "count_include_pad",
       .default_value = "0",
       .min = 0,
       .max = 1,
       .help = "avg: divide by kh*kw (1) or by the input elements in the window (0)"},
  };
  return kSpecs;
}

std::string to_string(const PoolDesc& d) {
  return make_key("pool",
                  {{"alg", std::string(kAlgNames[static_cast<std::size_t>(d.alg)])},
                   {"n", std::to_string(d.n)},
                   {"h", std::to_string(d.h)},
                   {"w", std::to_string(d.w)},
                   {"c", std::to_string(d.c)},
                   {"kh", std::to_string(d.kh)},
                   {"kw", std::to_string(d.kw)},
                   {"stride", std::to_string(d.stride)},
                   {"pad", std::to_string(d.pad)},
                   {"count_include_pad", d.count_include_pad == CountPad::Include ? "1" : "0"}});
}

PoolDesc pool_desc_from(const Params& p) {
  return {.alg = p.word("alg") == "max" ? PoolAlg::Max : PoolAlg::Avg,
          .n = p.integer("n"),
          .h = p.integer("h"),
          .w = p.integer("w"),
          .c = p.integer("c"),
          .kh = p.integer("kh"),
          .kw = p.integer("kw"),
          .stride = p.integer("stride"),
          .pad = p.integer("pad"),
          .count_include_pad =
              p.integer("count_include_pad") != 0 ? CountPad::Include : CountPad::Exclude};
}

PoolDesc parse_pool_desc(std::string_view key) {
  return pool_desc_from(Params::from_key("pool", pool_params(), key));
}

void check(const PoolDesc& d) {
  const auto fail = [&](const std::string& what) {
    throw InvalidArgument(fmt::format("pool: {} [{}]", what, to_string(d)));
  };
  const auto positive = [&](std::string_view name, std::int64_t v) {
    if (v < 1) fail(fmt::format("{}={} must be >= 1", name, v));
  };
  positive("n", d.n);
  positive("h", d.h);
  positive("w", d.w);
  positive("c", d.c);
  positive("kh", d.kh);
  positive("kw", d.kw);
  positive("stride", d.stride);
  if (d.pad < 0) fail(fmt::format("pad={} must be >= 0", d.pad));
  if (d.kh > d.h + 2 * d.pad) {
    fail(fmt::format("kh={} is larger than the padded input h+2*pad={}", d.kh, d.h + 2 * d.pad));
  }
  if (d.kw > d.w + 2 * d.pad) {
    fail(fmt::format("kw={} is larger than the padded input w+2*pad={}", d.kw, d.w + 2 * d.pad));
  }
  // PyTorch's rule; it guarantees every window holds at least one input element, so no average
  // divides by zero and no maximum is -inf.
  if (2 * d.pad > d.kh) fail(fmt::format("pad={} must be at most kh/2={}", d.pad, d.kh / 2));
  if (2 * d.pad > d.kw) fail(fmt::format("pad={} must be at most kw/2={}", d.pad, d.kw / 2));
  if (d.alg == PoolAlg::Max && d.count_include_pad == CountPad::Include) {
    fail("count_include_pad=1 applies only to alg=avg");
  }
}

Shape pool_src_shape(const PoolDesc& d) { return {d.n, d.h, d.w, d.c}; }

Shape pool_dst_shape(const PoolDesc& d) {
  return {d.n, out_extent(d.h, d.kh, d.stride, d.pad), out_extent(d.w, d.kw, d.stride, d.pad), d.c};
}

OpCost cost(const PoolDesc& d) {
  const double src = static_cast<double>(pool_src_shape(d).numel());
  const double dst = static_cast<double>(pool_dst_shape(d).numel());
  return {.flops = dst * static_cast<double>(d.kh * d.kw), .bytes = 4.0 * (src + dst), .params = 0};
}

struct PoolPlan::State {
  PoolDesc desc;
  onednn::PreparedPrimitive primitive;
};

PoolPlan::PoolPlan(std::unique_ptr<State> state) : state_(std::move(state)) {}
PoolPlan::PoolPlan(PoolPlan&&) noexcept = default;
PoolPlan& PoolPlan::operator=(PoolPlan&&) noexcept = default;
PoolPlan::~PoolPlan() = default;

PoolPlan PoolPlan::create(const Engine& engine, const PoolDesc& d) {
  check(d);
  const std::string key = to_string(d);
  const Shape dst_shape = pool_dst_shape(d);
  using dnnl::algorithm;
  using dnnl::memory;
  auto prepared = onednn::prepare(key, [&] {
    const dnnl::engine& eng = engine.impl().engine;
    const memory::desc src_md = md_nhwc(pool_src_shape(d));
    const memory::desc dst_md = md_nhwc(dst_shape);
    const algorithm alg = d.alg == PoolAlg::Max ? algorithm::pooling_max
                          : d.count_include_pad == CountPad::Include
                              ? algorithm::pooling_avg_include_padding
                              : algorithm::pooling_avg_exclude_padding;
    // With floor rounding the last window can stop short of the right/bottom padding, or of the
    // last input rows when the stride does not divide; oneDNN wants the padding that makes its own
    // output formula exact, which is then smaller than pad or negative (the rows no window
    // reaches).
    const std::int64_t pad_bottom = (dst_shape[1] - 1) * d.stride + d.kh - d.h - d.pad;
    const std::int64_t pad_right = (dst_shape[2] - 1) * d.stride + d.kw - d.w - d.pad;
    const auto pd = onednn::make_pooling_pd(
        eng, alg, src_md, dst_md, {d.stride, d.stride}, {d.kh, d.kw},
        /*dilation=*/{0, 0}, {d.pad, d.pad}, {pad_bottom, pad_right}, onednn::make_attr());
    return onednn::PreparedPrimitive::create(
        engine, pd, {.inputs = {{DNNL_ARG_SRC, src_md}}, .dst = {DNNL_ARG_DST, dst_md}});
  });
  return PoolPlan(std::make_unique<State>(State{.desc = d, .primitive = std::move(prepared)}));
}

void PoolPlan::run(ConstTensorView src, TensorView dst) const {
  [[maybe_unused]] const PoolDesc& d = state_->desc;
  HWNAS_ASSERT(src.is_contiguous() && src.shape() == pool_src_shape(d) &&
               src.dtype() == DType::F32);
  HWNAS_ASSERT(dst.is_contiguous() && dst.shape() == pool_dst_shape(d) &&
               dst.dtype() == DType::F32);
  state_->primitive.run({src.data()}, dst.data());
}

const PoolDesc& PoolPlan::desc() const { return state_->desc; }
std::string_view PoolPlan::impl_name() const { return state_->primitive.impl_name(); }

}  // namespace hwnas
