// Workloads of the core ops: random inputs, a prepared plan, allocated outputs.
//
// layer_norm, softmax and eltwise also take backend=auto|onednn|hand, as conv2d does: Auto is what a
// model gets (the faster per shape, see each op's .cpp); the others force one implementation so the
// two can be compared on this machine. Their workload key is the words typed, backend included.
#include "bench/workloads/workload_util.hpp"
#include "bench/workloads/workloads.hpp"
#include "kernels/ops/batch_norm.hpp"
#include "kernels/ops/binary.hpp"
#include "kernels/ops/eltwise.hpp"
#include "kernels/ops/global_avg_pool.hpp"
#include "kernels/ops/layer_norm.hpp"
#include "kernels/ops/linear.hpp"
#include "kernels/ops/matmul.hpp"
#include "kernels/ops/permute.hpp"
#include "kernels/ops/pool.hpp"
#include "kernels/ops/softmax.hpp"

namespace hwnas {
namespace {

using Tensors = std::vector<Tensor>;

// Every single-input, single-output plan runs as plan.run(t[0], t[1]).
template <typename Plan>
void run_unary(const Plan& plan, Tensors& t) {
  plan.run(t[0].view(), t[1].view());
}

const ParamSpec kBackendSpec = {.name = "backend",
                                .default_value = "auto",
                                .choices = {"auto", "onednn", "hand"},
                                .help = "implementation: auto = the faster per shape"};

KernelBackend backend_of(const Params& params) {
  const std::string& b = params.word("backend");
  return b == "hand" ? KernelBackend::Hand : b == "onednn" ? KernelBackend::OneDnn : KernelBackend::Auto;
}

// The op's own parameters followed by backend=.
std::vector<ParamSpec> with_backend(std::span<const ParamSpec> specs) {
  std::vector<ParamSpec> out(specs.begin(), specs.end());
  out.push_back(kBackendSpec);
  return out;
}

std::span<const ParamSpec> layer_norm_bench_params() {
  static const std::vector<ParamSpec> kSpecs = with_backend(layer_norm_params());
  return kSpecs;
}

std::span<const ParamSpec> softmax_bench_params() {
  static const std::vector<ParamSpec> kSpecs = with_backend(softmax_params());
  return kSpecs;
}

std::span<const ParamSpec> eltwise_bench_params() {
  static const std::vector<ParamSpec> kSpecs = with_backend(eltwise_params());
  return kSpecs;
}

// OpEntry::check of an op whose workload key is its desc's canonical key.
template <auto desc_from>
std::string desc_key(const Params& params) {
  const auto d = desc_from(params);
  check(d);
  return to_string(d);
}

// OpEntry::check of an op whose workload key is the words typed, backend= included.
template <auto desc_from>
std::string params_key(const Params& params) {
  check(desc_from(params));
  return params.key();
}

}  // namespace

OpEntry linear_entry() {
  return {"linear", "src[m,k] . weights[n,k]^T + bias, fused activation (oneDNN matmul)",
          linear_params(),
          [](const Engine& engine, const Params& params, std::uint64_t seed) {
            const LinearDesc d = linear_desc_from(params);
            std::mt19937_64 rng(seed);
            Tensors t;
            t.push_back(random_tensor({d.m, d.k}, rng));
            t.push_back(Tensor::empty({d.m, d.n}));
            t.push_back(random_tensor(linear_weights_shape(d), rng));
            t.push_back(random_tensor({d.n}, rng));
            LinearPlan plan = LinearPlan::create(engine, d, t[2].view(), t[3].view());
            return package(d, std::move(t), std::move(plan), run_unary<LinearPlan>);
          },
          desc_key<linear_desc_from>};
}

OpEntry matmul_entry() {
  return {"matmul", "batched matmul for attention: [b,m,k] x [b,k,n] (or [b,n,k]^T), fused scale",
          matmul_params(),
          [](const Engine& engine, const Params& params, std::uint64_t seed) {
            const MatmulDesc d = matmul_desc_from(params);
            std::mt19937_64 rng(seed);
            Tensors t;
            t.push_back(random_tensor(matmul_src_shape(d), rng));
            t.push_back(random_tensor(matmul_weights_shape(d), rng));
            t.push_back(Tensor::empty(matmul_dst_shape(d)));
            MatmulPlan plan = MatmulPlan::create(engine, d);
            return package(d, std::move(t), std::move(plan), [](const MatmulPlan& p, Tensors& x) {
              p.run(x[0].view(), x[1].view(), x[2].view());
            });
          },
          desc_key<matmul_desc_from>};
}

OpEntry layer_norm_entry() {
  return {"layer_norm", "layer norm over the channels of [rows, c] (hand AVX-512 / oneDNN)",
          layer_norm_bench_params(),
          [](const Engine& engine, const Params& params, std::uint64_t seed) {
            const LayerNormDesc d = layer_norm_desc_from(params);
            std::mt19937_64 rng(seed);
            Tensors t;
            t.push_back(random_tensor({d.rows, d.c}, rng));
            t.push_back(Tensor::empty({d.rows, d.c}));
            t.push_back(random_tensor({d.c}, rng));
            t.push_back(random_tensor({d.c}, rng));
            const bool scale = d.affine != LayerNormAffine::None;
            const bool shift = d.affine == LayerNormAffine::ScaleShift;
            LayerNormPlan plan = LayerNormPlan::create(engine, d, scale ? t[2].cview() : ConstTensorView{},
                                                       shift ? t[3].cview() : ConstTensorView{},
                                                       {.backend = backend_of(params)});
            Workload w = package(d, std::move(t), std::move(plan), run_unary<LayerNormPlan>);
            w.key = params.key();
            return w;
          },
          params_key<layer_norm_desc_from>};
}

OpEntry batch_norm_entry() {
  return {"batch_norm", "inference batch norm on NHWC (oneDNN, global statistics)",
          batch_norm_params(),
          [](const Engine& engine, const Params& params, std::uint64_t seed) {
            const BatchNormDesc d = batch_norm_desc_from(params);
            std::mt19937_64 rng(seed);
            Tensors t;
            t.push_back(random_tensor({d.n, d.h, d.w, d.c}, rng));
            t.push_back(Tensor::empty({d.n, d.h, d.w, d.c}));
            t.push_back(random_tensor({d.c}, rng));
            t.push_back(positive_tensor({d.c}, rng));
            t.push_back(random_tensor({d.c}, rng));
            t.push_back(random_tensor({d.c}, rng));
            BatchNormPlan plan = BatchNormPlan::create(
                engine, d, {.mean = t[2].view(), .var = t[3].view(), .gamma = t[4].view(), .beta = t[5].view()});
            return package(d, std::move(t), std::move(plan), run_unary<BatchNormPlan>);
          },
          desc_key<batch_norm_desc_from>};
}

OpEntry softmax_entry() {
  return {"softmax", "softmax over the last axis of [rows, n] (hand AVX-512 / oneDNN)",
          softmax_bench_params(),
          [](const Engine& engine, const Params& params, std::uint64_t seed) {
            const SoftmaxDesc d = softmax_desc_from(params);
            std::mt19937_64 rng(seed);
            Tensors t;
            t.push_back(random_tensor({d.rows, d.n}, rng));
            t.push_back(Tensor::empty({d.rows, d.n}));
            SoftmaxPlan plan = SoftmaxPlan::create(engine, d, {.backend = backend_of(params)});
            Workload w = package(d, std::move(t), std::move(plan), run_unary<SoftmaxPlan>);
            w.key = params.key();
            return w;
          },
          params_key<softmax_desc_from>};
}

OpEntry eltwise_entry() {
  return {"eltwise", "pointwise activation: relu, gelu_erf, gelu_tanh, silu, star_relu, hardswish",
          eltwise_bench_params(),
          [](const Engine& engine, const Params& params, std::uint64_t seed) {
            const EltwiseDesc d = eltwise_desc_from(params);
            std::mt19937_64 rng(seed);
            Tensors t;
            t.push_back(random_tensor({d.numel}, rng));
            t.push_back(Tensor::empty({d.numel}));
            EltwisePlan plan = EltwisePlan::create(engine, d, {}, {.backend = backend_of(params)});
            Workload w = package(d, std::move(t), std::move(plan), run_unary<EltwisePlan>);
            w.key = params.key();
            return w;
          },
          params_key<eltwise_desc_from>};
}

OpEntry binary_entry() {
  return {"binary", "add / mul of NHWC tensors, src1 broadcast over the axes it lacks (oneDNN)",
          binary_params(),
          [](const Engine& engine, const Params& params, std::uint64_t seed) {
            const BinaryDesc d = binary_desc_from(params);
            std::mt19937_64 rng(seed);
            Tensors t;
            t.push_back(random_tensor(binary_src0_shape(d), rng));
            t.push_back(random_tensor(binary_src1_shape(d), rng));
            t.push_back(Tensor::empty(binary_src0_shape(d)));
            BinaryPlan plan = BinaryPlan::create(engine, d);
            return package(d, std::move(t), std::move(plan), [](const BinaryPlan& p, Tensors& x) {
              p.run(x[0].view(), x[1].view(), x[2].view());
            });
          },
          desc_key<binary_desc_from>};
}

OpEntry pool_entry() {
  return {"pool", "avg / max pooling on NHWC, count_include_pad either way (oneDNN)", pool_params(),
          [](const Engine& engine, const Params& params, std::uint64_t seed) {
            const PoolDesc d = pool_desc_from(params);
            check(d);
            std::mt19937_64 rng(seed);
            Tensors t;
            t.push_back(random_tensor(pool_src_shape(d), rng));
            t.push_back(Tensor::empty(pool_dst_shape(d)));
            PoolPlan plan = PoolPlan::create(engine, d);
            return package(d, std::move(t), std::move(plan), run_unary<PoolPlan>);
          },
          desc_key<pool_desc_from>};
}

OpEntry global_avg_pool_entry() {
  return {"global_avg_pool", "mean over H x W of NHWC [n,h,w,c] -> [n,c] (oneDNN)",
          global_avg_pool_params(),
          [](const Engine& engine, const Params& params, std::uint64_t seed) {
            const GlobalAvgPoolDesc d = global_avg_pool_desc_from(params);
            std::mt19937_64 rng(seed);
            Tensors t;
            t.push_back(random_tensor({d.n, d.h, d.w, d.c}, rng));
            t.push_back(Tensor::empty({d.n, d.c}));
            GlobalAvgPoolPlan plan = GlobalAvgPoolPlan::create(engine, d);
            return package(d, std::move(t), std::move(plan), run_unary<GlobalAvgPoolPlan>);
          },
          desc_key<global_avg_pool_desc_from>};
}

OpEntry permute_entry() {
  return {"permute",
          "materialise a permuted view contiguously (attention head split/merge; oneDNN reorder)",
          permute_params(),
          [](const Engine& engine, const Params& params, std::uint64_t seed) {
            const PermuteDesc d = permute_desc_from(params);
            check(d);
            std::mt19937_64 rng(seed);
            Tensors t;
            t.push_back(random_tensor(d.shape, rng));
            t.push_back(Tensor::empty(permute_dst_shape(d)));
            PermutePlan plan = PermutePlan::create(engine, d);
            return package(d, std::move(t), std::move(plan), run_unary<PermutePlan>);
          },
          desc_key<permute_desc_from>};
}

}  // namespace hwnas
