#include "supernet/subnet.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <iostream>
#include <set>

#include "kernels/error.hpp"
#include "supernet/net_graph.hpp"
#include "tests/supernet/subnet_reference.hpp"
#include "tests/supernet/test_archs.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

using testing::fresh_seed;
namespace archs = testing::archs;

// Whole-network tolerance: |got - ref| <= kLogitTolerance * max_j |ref_j| for every logit. Each
// op's own worst-case bound is 1e-5 .. 3e-4 of its output magnitude (the registry tolerances:
// window attention 2e-4, neighborhood attention 3e-4, the MLPs 3e-4, dot products 2 gamma(K));
// every norm renormalises what it receives, so errors add from op to op rather than multiply, and
// 10..20 such ops give ~3e-3 with every error aligned. Observed: <= 3.2e-7 (printed per arch).
// Bugs are far above 1e-3: dropping the layer scale of the residual pass moved the logits by
// 4e-2..1e-1 of their scale, swapping two patch-merging segments by 7e-2.
constexpr double kLogitTolerance = 1e-3;

struct Case {
  std::string name;
  std::function<Arch()> make;
  std::int64_t resolution;
};

std::vector<Case> cases() {
  return {{"swin_like", archs::swin_like, 32},
          {"convnext_like", archs::convnext_like, 32},
          {"poolformer_like", archs::poolformer_like, 35},
          {"hybrid_bn", archs::hybrid_bn, 48},
          {"nat_like", archs::nat_like, 40},
          {"se_merging_like", archs::se_merging_like, 45}};
}

class SubnetTest : public ::testing::TestWithParam<Case> {};

// Random weights and images; the logits of forward against the float64 reference, every logit
// written (NaN poison), and a second forward bitwise identical to the first.
TEST_P(SubnetTest, MatchesFloat64Reference) {
  const Case& c = GetParam();
  const Arch arch = c.make();
  const std::uint64_t seed = fresh_seed(c.name);
  const WeightStore store = make_weight_store(arch, c.resolution, seed);
  const SubnetConfig config{.batch = 2, .resolution = c.resolution};
  const Subnet net = Subnet::build(testing::test_engine(), arch, store, config);
  ASSERT_EQ(net.input_shape(), (Shape{2, c.resolution, c.resolution, 3}));
  ASSERT_EQ(net.output_shape(), (Shape{2, arch.head.num_classes}));
  std::mt19937_64 rng(seed);
  const Tensor images = testing::random_tensor(net.input_shape(), rng);
  Tensor logits = Tensor::empty(net.output_shape()), again = Tensor::empty(net.output_shape());
  testing::poison(logits.view());
  testing::poison(again.view());
  net.forward(images.cview(), logits.view());
  net.forward(images.cview(), again.view());
  EXPECT_EQ(std::memcmp(logits.f32(), again.f32(), logits.nbytes()), 0) << c.name;

  const std::vector<double> ref = testing::subnet_ref::Reference(store).logits(arch, images);
  ASSERT_EQ(ref.size(), static_cast<std::size_t>(logits.numel()));
  double scale = 0, worst = 0;
  for (const double v : ref) scale = std::max(scale, std::abs(v));
  ASSERT_GT(scale, 0) << c.name;
  int failures = 0;
  for (std::int64_t i = 0; i < logits.numel(); ++i) {
    const double got = logits.f32()[i], want = ref[static_cast<std::size_t>(i)];
    const double err = std::abs(got - want);
    worst = std::max(worst, std::isnan(err) ? INFINITY : err / scale);
    if (!(err <= kLogitTolerance * scale) && failures++ < 10) {
      ADD_FAILURE() << c.name << " logit " << i << " (n=" << i / arch.head.num_classes
                    << ", class=" << i % arch.head.num_classes << "): got " << got << " ref "
                    << want << " tol " << kLogitTolerance * scale;
    }
  }
  std::cout << "[ subnet ] " << c.name << " layers=" << net.layers().size()
            << " max|logit|=" << scale << " max_err/max|logit|=" << worst
            << " tolerance=" << kLogitTolerance << "\n";
}

// arch_cost counts every parameter the arch declares (BatchNorm running statistics are buffers),
// and the Subnet reports the same layers.
TEST_P(SubnetTest, CostCountsEveryWeight) {
  const Case& c = GetParam();
  const Arch arch = c.make();
  double numel = 0;
  std::set<std::string> names;
  for (const auto& [name, spec] : arch_weight_specs(arch, c.resolution)) {
    EXPECT_TRUE(names.insert(name).second) << "duplicate weight " << name;
    const bool running = name.ends_with("running_mean") || name.ends_with("running_var");
    if (!running) numel += static_cast<double>(spec.shape.numel());
  }
  const ArchCost cost = arch_cost(arch, c.resolution, 2);
  EXPECT_EQ(cost.params, numel) << c.name;
  EXPECT_GT(cost.flops, 0);
  const WeightStore store = make_weight_store(arch, c.resolution, 1);
  const Subnet net =
      Subnet::build(testing::test_engine(), arch, store, {.batch = 2, .resolution = c.resolution});
  EXPECT_EQ(net.params(), cost.params);
  EXPECT_EQ(net.flops(), cost.flops);
  ASSERT_EQ(net.layers().size(), cost.layers.size());
  std::set<std::string> layer_names;
  const std::set<std::string> kinds = {"stem", "downsample", "norm", "mixer",
                                       "mlp",  "residual",   "head"};
  for (std::size_t i = 0; i < cost.layers.size(); ++i) {
    const LayerInfo& layer = net.layers()[i];
    EXPECT_EQ(layer.name, cost.layers[i].name);
    EXPECT_EQ(layer.key, cost.layers[i].key);
    EXPECT_TRUE(layer_names.insert(layer.name).second) << "duplicate layer " << layer.name;
    EXPECT_TRUE(kinds.contains(layer.kind)) << layer.name << " kind=" << layer.kind;
    EXPECT_FALSE(layer.key.empty()) << layer.name;
  }
}

// run_layer reruns each op on the buffers of the last forward; a forward afterwards computes the
// same logits again (nothing it reads survives from run_layer).
TEST_P(SubnetTest, RunLayerThenForwardIsUnchanged) {
  const Case& c = GetParam();
  const Arch arch = c.make();
  const WeightStore store = make_weight_store(arch, c.resolution, 3);
  const Subnet net =
      Subnet::build(testing::test_engine(), arch, store, {.batch = 1, .resolution = c.resolution});
  std::mt19937_64 rng(fresh_seed(c.name + " run_layer"));
  const Tensor images = testing::random_tensor(net.input_shape(), rng);
  Tensor first = Tensor::empty(net.output_shape()), second = Tensor::empty(net.output_shape());
  net.forward(images.cview(), first.view());
  for (std::size_t i = 0; i < net.layers().size(); ++i) net.run_layer(i);
  net.forward(images.cview(), second.view());
  EXPECT_EQ(std::memcmp(first.f32(), second.f32(), first.nbytes()), 0);
}

INSTANTIATE_TEST_SUITE_P(Archs, SubnetTest, ::testing::ValuesIn(cases()),
                         [](const auto& p) { return p.param.name; });

void set_param(UnitOp& op, const std::string& name, const std::string& value) {
  for (auto& [key, v] : op.mixer->params) {
    if (key == name) v = value;
  }
}

// A subnet built from a store wider than it (the supernet's case: leading channels, the centre of
// a larger kernel, a smaller MLP ratio, the leading heads' bias table) computes what the same
// subnet computes from a store holding exactly the gathered slices, bitwise (the plans copy
// their weights, strided or not), and that matches the float64 reference.
TEST(SubnetSlices, LargerStoreGivesTheGatheredWeights) {
  // Every width 12 wider, plus (Swin, ConvNeXt) more heads, a larger MLP ratio, larger kernels.
  const auto widen = [](Arch a) {
    for (StageSpec& stage : a.stages) stage.width += 12;
    a.stem.convs.back().out += 12;
    if (a.head.hidden > 0) a.head.hidden += 12;
    a.head.num_classes += 2;
    return a;
  };
  Arch swin_wide = widen(archs::swin_like());
  for (UnitSpec& unit : swin_wide.stages[1].blocks[0].units) {
    if (unit.ops[1].mixer) set_param(unit.ops[1], "heads", "11");
    if (unit.ops[1].mlp) unit.ops[1].mlp->ratio = 3;
  }
  Arch convnext_wide = widen(archs::convnext_like());
  set_param(convnext_wide.stages[0].blocks[1].units[0].ops[0], "k", "7");
  set_param(convnext_wide.stages[1].blocks[0].units[0].ops[0], "band_kernel", "9");
  std::vector<std::pair<Case, Arch>> pairs;
  for (const Case& c : cases()) {
    const Arch wide = c.name == "swin_like"       ? swin_wide
                      : c.name == "convnext_like" ? convnext_wide
                                                  : widen(c.make());
    pairs.emplace_back(c, archs::canonical(wide));
  }
  for (const auto& [c, wide] : pairs) {
    const Arch arch = c.make();
    const std::uint64_t seed = fresh_seed(arch.name + " slices");
    WeightStore big;
    for (const Arch* a : {&wide, &arch}) {
      for (const auto& [name, spec] : arch_weight_specs(*a, c.resolution)) big.declare(name, spec);
    }
    big.initialize(seed);
    WeightStore exact;
    const auto specs = arch_weight_specs(arch, c.resolution);
    for (const auto& [name, spec] : specs) exact.declare(name, spec);
    exact.initialize(seed + 1);
    for (const auto& [name, spec] : specs) {
      copy(big.gather(name, spec).cview(), exact.mutable_tensor(name));
    }
    const SubnetConfig config{.batch = 2, .resolution = c.resolution};
    const Subnet from_big = Subnet::build(testing::test_engine(), arch, big, config);
    const Subnet from_exact = Subnet::build(testing::test_engine(), arch, exact, config);
    std::mt19937_64 rng(seed);
    const Tensor images = testing::random_tensor(from_big.input_shape(), rng);
    Tensor a = Tensor::empty(from_big.output_shape()), b = Tensor::empty(from_big.output_shape());
    testing::poison(a.view());
    from_big.forward(images.cview(), a.view());
    from_exact.forward(images.cview(), b.view());
    EXPECT_EQ(std::memcmp(a.f32(), b.f32(), a.nbytes()), 0) << arch.name;
    const std::vector<double> ref = testing::subnet_ref::Reference(exact).logits(arch, images);
    double scale = 0;
    for (const double v : ref) scale = std::max(scale, std::abs(v));
    for (std::int64_t i = 0; i < a.numel(); ++i) {
      ASSERT_LE(std::abs(a.f32()[i] - ref[static_cast<std::size_t>(i)]), kLogitTolerance * scale)
          << arch.name << " logit " << i;
    }
  }
}

// torchvision's counts (sum of p.numel() over model.parameters()).
TEST(ArchCost, TorchvisionParameterCounts) {
  const ArchCost swin = arch_cost(archs::swin_t(), 224);
  EXPECT_EQ(swin.params, 28288354);
  const ArchCost convnext = arch_cost(archs::convnext_t(), 224);
  EXPECT_EQ(convnext.params, 28589128);
  // FLOPs (multiply-add = 2): ~4.5 GMACs each as their papers count them (matmuls and convs).
  EXPECT_NEAR(swin.flops / 2e9, 4.5, 0.3);
  EXPECT_NEAR(convnext.flops / 2e9, 4.5, 0.3);
  std::cout << "[ cost ] swin_t params=" << swin.params << " GFLOPs=" << swin.flops / 1e9
            << " layers=" << swin.layers.size() << "; convnext_t params=" << convnext.params
            << " GFLOPs=" << convnext.flops / 1e9 << " layers=" << convnext.layers.size() << "\n";
}

// Activations cycle through three buffers, each no larger than the largest map (Swin-T at batch 8:
// 8 x 56 x 56 x 96 floats), whatever the depth.
TEST(SubnetBuffers, ThreeMapsOfTheLargestStage) {
  for (const Arch& arch : {archs::swin_t(), archs::convnext_t()}) {
    const net::NetGraph graph = net::describe_arch(arch, 224, 8);
    const net::BufferPlan plan = net::assign_buffers(graph);
    EXPECT_EQ(plan.capacity.size(), 3u) << arch.name;
    for (const std::int64_t n : plan.capacity) EXPECT_LE(n, 8 * 56 * 56 * 96) << arch.name;
    // No op writes a buffer it reads, except the ops that may run in place.
    for (const net::NetOp& op : graph.ops) {
      const int out = plan.buffer_of[static_cast<std::size_t>(op.out)];
      for (const int v : {op.in, op.residual}) {
        if (v < 0 || out < 0 || op.in_place) continue;
        EXPECT_NE(plan.buffer_of[static_cast<std::size_t>(v)], out) << arch.name << " " << op.name;
      }
    }
  }
}

void expect_error(const std::function<void()>& f, const std::vector<std::string>& fragments) {
  try {
    f();
    ADD_FAILURE() << "expected an Error containing '" << fragments.front() << "'";
  } catch (const Error& e) {
    std::cout << "[ error ] " << e.what() << "\n";
    for (const std::string& fragment : fragments) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  }
}

TEST(SubnetErrors, StoreMissingAWeight) {
  const Arch arch = archs::swin_like();
  WeightStore store;
  for (const auto& [name, spec] : arch_weight_specs(arch, 32)) {
    if (name != "stages.1.blocks.0.1.mlp.fc2.weight") store.declare(name, spec);
  }
  store.initialize(1);
  expect_error(
      [&] { Subnet::build(testing::test_engine(), arch, store, {.batch = 1, .resolution = 32}); },
      {"stages.1.blocks.0.1.mlp",
       "weight 'stages.1.blocks.0.1.mlp.fc2.weight' is not in "
       "the store"});
}

TEST(SubnetErrors, StoreTooSmallForTheArch) {
  Arch small = archs::convnext_like();
  const WeightStore store = make_weight_store(small, 32, 1);
  Arch wide = small;
  wide.stages[1].width = 32;  // the store holds stage 1 at 24 channels
  expect_error(
      [&] { Subnet::build(testing::test_engine(), wide, store, {.batch = 1, .resolution = 32}); },
      {"stages.1.downsample", "stages.1.downsample.proj.weight"});
}

TEST(SubnetErrors, ArchErrorsNameTheirPath) {
  Arch arch = archs::swin_like();
  arch.stages[1].blocks[0].units[0].ops[1].mixer->params = {{"heads", "5"}, {"window", "3"}};
  expect_error([&] { arch_cost(arch, 32); },
               {"stages[1].blocks[0].units[0].ops[1]", "heads=5 must divide c=32"});
  Arch wrong_width = archs::swin_like();
  wrong_width.stem.convs[0].out = 12;
  expect_error([&] { arch_weight_specs(wrong_width, 32); },
               {"stages[0]: width=16 but the stem before it gives c=12"});
  Arch two_norms = archs::swin_like();
  two_norms.stages[0].blocks[0].units[0].ops.push_back({.norm = archs::ln()});
  expect_error([&] { arch_cost(two_norms, 32); },
               {"stages.0.blocks.0.0.norm",
                "weight 'stages.0.blocks.0.0.norm.weight' is already "
                "taken"});
  Arch tiny = archs::swin_like();
  expect_error([&] { arch_cost(tiny, 3); },
               {"stem", "patch_embed: h=3 and w=3 must be >= patch=4"});
  Arch bad_head = archs::hybrid_bn();
  bad_head.head.hidden_act = Activation::StarRelu;
  expect_error([&] { arch_cost(bad_head, 48); }, {"head: hidden_act=star_relu is not supported"});
  Arch bad_rs = archs::poolformer_like();
  bad_rs.stages[1].blocks[1].units[0].res_scale = true;
  expect_error([&] { arch_cost(bad_rs, 35); },
               {"stages[1].blocks[1].units[0]", "res_scale=true needs residual=true"});
}

}  // namespace
}  // namespace hwnas
