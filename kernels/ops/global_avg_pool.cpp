#include "kernels/ops/global_avg_pool.hpp"

#include <fmt/format.h>

#include "kernels/assert.hpp"
#include "kernels/error.hpp"
#include "kernels/onednn/dnnl_util.hpp"
#include "kernels/onednn/prepared_primitive.hpp"

namespace hwnas {

namespace {

constexpr std::int64_t kMaxExtent = std::int64_t{1} << 31;

// NHWC memory as oneDNN's logical N, C, H, W (see pool.cpp).
dnnl::memory::desc md_nhwc(std::int64_t n, std::int64_t h, std::int64_t w, std::int64_t c) {
  return dnnl::memory::desc({n, c, h, w}, dnnl::memory::data_type::f32,
                            dnnl::memory::format_tag::nhwc);
}

}  // namespace

std::span<const ParamSpec> global_avg_pool_params() {
  static const ParamSpec kSpecs[] = {
      {.name = "n", .default_value = "1", .min = 1, .max = kMaxExtent, .help = "batch"},
      {.name = "h", .default_value = "7", .min = 1, .max = kMaxExtent, .help = "input height"},
      {.name = "w", .default_value = "7", .min = 1, .max = kMaxExtent, .help = "input width"},
      {.name = "c", .default_value = "768", .min = 1, .max = kMaxExtent, .help = "channels"},
  };
  return kSpecs;
}

std::string to_string(const GlobalAvgPoolDesc& d) {
  return make_key("global_avg_pool", {{"n", std::to_string(d.n)},
                                      {"h", std::to_string(d.h)},
                                      {"w", std::to_string(d.w)},
                                      {"c", std::to_string(d.c)}});
}

GlobalAvgPoolDesc global_avg_pool_desc_from(const Params& p) {
  return {.n = p.integer("n"), .h = p.integer("h"), .w = p.integer("w"), .c = p.integer("c")};
}

GlobalAvgPoolDesc parse_global_avg_pool_desc(std::string_view key) {
  return global_avg_pool_desc_from(
      Params::from_key("global_avg_pool", global_avg_pool_params(), key));
}

void check(const GlobalAvgPoolDesc& d) {
  const auto positive = [&](std::string_view name, std::int64_t v) {
    if (v < 1) {
      throw InvalidArgument(
          fmt::format("global_avg_pool: {}={} must be >= 1 [{}]", name, v, to_string(d)));
    }
  };
  positive("n", d.n);
  positive("h", d.h);
  positive("w", d.w);
  positive("c", d.c);
}

OpCost cost(const GlobalAvgPoolDesc& d) {
  const double src = static_cast<double>(d.n * d.h * d.w * d.c);
  const double dst = static_cast<double>(d.n * d.c);
  return {.flops = src + dst, .bytes = 4.0 * (src + dst), .params = 0};
}

struct GlobalAvgPoolPlan::State {
  GlobalAvgPoolDesc desc;
  onednn::PreparedPrimitive primitive;
};

GlobalAvgPoolPlan::GlobalAvgPoolPlan(std::unique_ptr<State> state) : state_(std::move(state)) {}
GlobalAvgPoolPlan::GlobalAvgPoolPlan(GlobalAvgPoolPlan&&) noexcept = default;
GlobalAvgPoolPlan& GlobalAvgPoolPlan::operator=(GlobalAvgPoolPlan&&) noexcept = default;
GlobalAvgPoolPlan::~GlobalAvgPoolPlan() = default;

GlobalAvgPoolPlan GlobalAvgPoolPlan::create(const Engine& engine, const GlobalAvgPoolDesc& d) {
  check(d);
  const std::string key = to_string(d);
  using dnnl::memory;
  auto prepared = onednn::prepare(key, [&] {
    const dnnl::engine& eng = engine.impl().engine;
    const memory::desc src_md = md_nhwc(d.n, d.h, d.w, d.c);
    const memory::desc dst_md = md_nhwc(d.n, 1, 1, d.c);
    // No padding, so include/exclude padding agree; exclude is the one that never multiplies by a
    // padded count.
    const auto pd =
        onednn::make_pooling_pd(eng, dnnl::algorithm::pooling_avg_exclude_padding, src_md, dst_md,
                                /*strides=*/{1, 1}, /*kernel=*/{d.h, d.w}, /*dilation=*/{0, 0},
                                /*pad_l=*/{0, 0}, /*pad_r=*/{0, 0}, onednn::make_attr());
    return onednn::PreparedPrimitive::create(
        engine, pd, {.inputs = {{DNNL_ARG_SRC, src_md}}, .dst = {DNNL_ARG_DST, dst_md}});
  });
  return GlobalAvgPoolPlan(
      std::make_unique<State>(State{.desc = d, .primitive = std::move(prepared)}));
}

void GlobalAvgPoolPlan::run(ConstTensorView src, TensorView dst) const {
  [[maybe_unused]] const GlobalAvgPoolDesc& d = state_->desc;
  HWNAS_ASSERT(src.is_contiguous() && src.shape() == (Shape{d.n, d.h, d.w, d.c}) &&
               src.dtype() == DType::F32);
  HWNAS_ASSERT(dst.is_contiguous() && dst.numel() == d.n * d.c &&
               dst.shape()[dst.rank() - 1] == d.c && dst.dtype() == DType::F32);
  state_->primitive.run({src.data()}, dst.data());
}

const GlobalAvgPoolDesc& GlobalAvgPoolPlan::desc() const { return state_->desc; }
std::string_view GlobalAvgPoolPlan::impl_name() const { return state_->primitive.impl_name(); }

}  // namespace hwnas
