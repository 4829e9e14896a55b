#include "kernels/ops/softmax.hpp"

#include <fmt/format.h>

#include <unordered_map>

#include "kernels/assert.hpp"
#include "kernels/error.hpp"
#include "kernels/onednn/dnnl_util.hpp"

namespace hwnas {

namespace {
constexpr std::int64_t kMaxExtent = std::int64_t{1} << 31;
}

std::span<const ParamSpec> softmax_params() {
  static const ParamSpec kSpecs[] = {
      {.name = "rows",
       .default_value = "9408",
       .min = 1,
       .max = kMaxExtent,
       .help = "independent rows (batch x heads x queries)"},
      {.name = "n",
       .default_value = "49",
       .min = 1,
       .max = kMaxExtent,
       .help = "softmax (last) axis"},
  };
  return kSpecs;
}

std::string to_string(const SoftmaxDesc& d) {
  return make_key("softmax", {{"rows", std::to_string(d.rows)}, {"n", std::to_string(d.n)}});
}

SoftmaxDesc softmax_desc_from(const Params& p) {
  return {.rows = p.integer("rows"), .n = p.integer("n")};
}

SoftmaxDesc parse_softmax_desc(std::string_view key) {
  return softmax_desc_from(Params::from_key("softmax", softmax_params(), key));
}

void check(const SoftmaxDesc& d) {
  const auto positive = [&](std::string_view name, std::int64_t v) {
    if (v < 1) {
      throw InvalidArgument(fmt::format("softmax: {}={} must be >= 1 [{}]", name, v, to_string(d)));
    }
  };
  positive("rows", d.rows);
  positive("n", d.n);
}

OpCost cost(const SoftmaxDesc& d) {
  const double elements = static_cast<double>(d.rows) * static_cast<double>(d.n);
  return {.flops = 5.0 * elements, .bytes = 4.0 * 2.0 * elements, .params = 0};
}

struct SoftmaxPlan::State {
  SoftmaxDesc desc;
  Engine engine;
  dnnl::softmax_forward primitive;
  dnnl::memory src, dst;
  std::unordered_map<int, dnnl::memory> args;  // built once; see LayerNormPlan::State
  std::string impl;
};

SoftmaxPlan::SoftmaxPlan(std::unique_ptr<State> state) : state_(std::move(state)) {}
SoftmaxPlan::SoftmaxPlan(SoftmaxPlan&&) noexcept = default;
SoftmaxPlan& SoftmaxPlan::operator=(SoftmaxPlan&&) noexcept = default;
SoftmaxPlan::~SoftmaxPlan() = default;

SoftmaxPlan SoftmaxPlan::create(const Engine& engine, const SoftmaxDesc& d) {
  check(d);
  const std::string key = to_string(d);
  using dnnl::memory;
  auto state = std::make_unique<State>(State{.desc = d, .engine = engine});
  try {
    const dnnl::engine& eng = engine.impl().engine;
    const memory::desc data_md = onednn::md_dense({d.rows, d.n});
    const auto pd = onednn::make_softmax_pd(eng, data_md, data_md, /*axis=*/1, onednn::make_attr());
    state->src = memory(data_md, eng, DNNL_MEMORY_NONE);
    state->dst = memory(data_md, eng, DNNL_MEMORY_NONE);
    state->args = {{DNNL_ARG_SRC, state->src},
                   {DNNL_ARG_DST, state->dst},
                   {DNNL_ARG_SCRATCHPAD, onednn::make_scratchpad(eng, pd.scratchpad_desc())}};
    state->primitive = dnnl::softmax_forward(pd);
    state->impl = onednn::impl_name_of(pd);
  } catch (const dnnl::error& e) {
    onednn::rethrow_unsupported(e, key);
  }
  return SoftmaxPlan(std::move(state));
}

void SoftmaxPlan::run(ConstTensorView src, TensorView dst) const {
  [[maybe_unused]] const SoftmaxDesc& d = state_->desc;
  HWNAS_ASSERT(src.is_contiguous() && src.numel() == d.rows * d.n &&
               src.shape()[src.rank() - 1] == d.n && src.dtype() == DType::F32);
  HWNAS_ASSERT(dst.is_contiguous() && dst.numel() == d.rows * d.n &&
               dst.shape()[dst.rank() - 1] == d.n && dst.dtype() == DType::F32);
  State& s = *state_;
  // oneDNN takes void*; src is only read.
  s.src.set_data_handle(const_cast<std::byte*>(src.data()));
  s.dst.set_data_handle(dst.data());
  s.engine.impl().execute(s.primitive, s.args);
}

const SoftmaxDesc& SoftmaxPlan::desc() const { return state_->desc; }
std::string_view SoftmaxPlan::impl_name() const { return state_->impl; }

}  // namespace hwnas
