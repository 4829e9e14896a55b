#include "kernels/ops/softmax.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <optional>
#include <unordered_map>
#include <vector>

#include "kernels/assert.hpp"
#include "kernels/cpu/softmax_rows_avx512.hpp"
#include "kernels/error.hpp"
#include "kernels/onednn/dnnl_util.hpp"
#include "kernels/onednn/prepared_primitive.hpp"

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

namespace {

// Which backend is faster, by shape: a fixed rule, so a desc always gets the same implementation and
// its measurements stay comparable. Measured on the dev machine (2-core AMD EPYC, Zen 5, AVX-512),
// 2 threads, oneDNN 3.2 (jit:avx512_core_bf16), bench/compare.py interleaving backend=onednn and
// backend=hand, 3 rounds, hand/onednn time ratio median [min, max], on a loaded host:
//   rows=9408 n=49   0.37 [0.34, 1.00]   (0.119 vs 0.318 ms)
//   rows=576 n=196   0.42 [0.34, 0.43]
//   rows=3 n=49      0.51 [0.22, 0.53]
// Rows longer than the register path (n > 256, three passes over the row) were not measured and
// stay on oneDNN.
bool hand_is_faster(const SoftmaxDesc& d) { return d.n <= cpu::SoftmaxRowsAvx512::kMaxRegisterRow; }

onednn::PreparedPrimitive create_onednn(const Engine& engine, const SoftmaxDesc& d,
                                        std::string_view key) {
  return onednn::prepare(key, [&] {
    const dnnl::memory::desc data_md = onednn::md_dense({d.rows, d.n});
    const auto pd = onednn::make_softmax_pd(engine.impl().engine, data_md, data_md, /*axis=*/1,
                                            onednn::make_attr());
    return onednn::PreparedPrimitive::create(
        engine, pd, {.inputs = {{DNNL_ARG_SRC, data_md}}, .dst = {DNNL_ARG_DST, data_md}});
  });
}

}  // namespace

KernelBackend softmax_auto_backend(const SoftmaxDesc& d) {
  const bool hand_runs = cpu::SoftmaxRowsAvx512::why_not(d).empty();
  return hand_runs && hand_is_faster(d) ? KernelBackend::Hand : KernelBackend::OneDnn;
}

struct SoftmaxPlan::State {
  SoftmaxDesc desc;
  Engine engine;
  KernelBackend backend = KernelBackend::OneDnn;
  std::optional<onednn::PreparedPrimitive> onednn;  // empty on the hand path
  std::string impl;
};

SoftmaxPlan::SoftmaxPlan(std::unique_ptr<State> state) : state_(std::move(state)) {}
SoftmaxPlan::SoftmaxPlan(SoftmaxPlan&&) noexcept = default;
SoftmaxPlan& SoftmaxPlan::operator=(SoftmaxPlan&&) noexcept = default;
SoftmaxPlan::~SoftmaxPlan() = default;

SoftmaxPlan SoftmaxPlan::create(const Engine& engine, const SoftmaxDesc& d,
                                const SoftmaxOptions& options) {
  check(d);
  const std::string key = to_string(d);
  const KernelBackend backend =
      select_backend("softmax", key, options.backend, softmax_auto_backend(d),
                     {.hand_name = cpu::SoftmaxRowsAvx512::kName,
                      .hand_why_not = cpu::SoftmaxRowsAvx512::why_not(d)});
  auto state = std::make_unique<State>(State{.desc = d, .engine = engine});
  if (backend == KernelBackend::Hand) {
    state->impl = std::string(cpu::SoftmaxRowsAvx512::kName);
  } else {
    state->onednn = create_onednn(engine, d, key);
    state->impl = std::string(state->onednn->impl_name());
  }
  state->backend = backend;
  return SoftmaxPlan(std::move(state));
}

void SoftmaxPlan::run(ConstTensorView src, TensorView dst) const {
  [[maybe_unused]] const SoftmaxDesc& d = state_->desc;
  HWNAS_ASSERT(src.is_contiguous() && src.numel() == d.rows * d.n &&
               src.shape()[src.rank() - 1] == d.n && src.dtype() == DType::F32);
  HWNAS_ASSERT(dst.is_contiguous() && dst.numel() == d.rows * d.n &&
               dst.shape()[dst.rank() - 1] == d.n && dst.dtype() == DType::F32);
  State& s = *state_;
  if (!s.onednn) {
    cpu::SoftmaxRowsAvx512::run(d, src.f32(), dst.f32(), s.engine.threads());
    return;
  }
  s.onednn->run({src.data()}, dst.data());
}

const SoftmaxDesc& SoftmaxPlan::desc() const { return state_->desc; }
KernelBackend SoftmaxPlan::backend() const { return state_->backend; }
std::string_view SoftmaxPlan::impl_name() const { return state_->impl; }

}  // namespace hwnas
