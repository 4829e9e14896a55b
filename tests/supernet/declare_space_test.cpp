// declare_space: a store holding every weight of a search space, from which any subnet builds and
// computes what it computes from its own weights.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <set>

#include "kernels/error.hpp"
#include "supernet/search_space.hpp"
#include "supernet/subnet.hpp"
#include "tests/supernet/subnet_reference.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

using testing::fresh_seed;

// Two stems (patchify; two k3 s2 convs), two resolutions, windows that pad at 48 (12x12 map,
// window 5), heads from head_dim, a conv downsample, kernels and MLP ratios of several sizes.
constexpr const char* kSpace = R"({
  "name": "tiny",
  "resolutions": [32, 48],
  "stems": [
    {"convs": [{"kernel": 4, "stride": 4}], "norm": {"norm": "ln"}},
    {"convs": [{"out": 8, "kernel": 3, "stride": 2, "pad": 1}, {"kernel": 3, "stride": 2, "pad": 1}],
     "act": "gelu_erf", "norm": {"norm": "ln"}}
  ],
  "norm": {"norm": "ln", "eps": 1e-6},
  "mlp": {"mlp": "mlp", "act": "gelu_erf"},
  "layer_scale": true,
  "stages": [
    {"depths": [1, 2], "widths": [16, 24], "mlp_ratios": [2, 3],
     "mixers": [
       {"mixer": "dwconv", "k": [3, 5]},
       {"mixer": "window_attention", "window": 5, "shift": [0, 2], "head_dim": [8]},
       {"mixer": "gnconv", "order": [2, 3]}
     ]},
    {"depths": [1, 2], "widths": [32, 40], "mlp_ratios": [2, 4],
     "downsample": {"downsample": "conv", "kernel": 2, "norm": {"norm": "ln"}, "norm_place": "post"},
     "mixers": [
       {"mixer": "pool_mixer"},
       {"mixer": "mhsa", "head_dim": [8]},
       {"mixer": "neighborhood_attention", "kernel": [3], "head_dim": [8]}
     ]}
  ],
  "head": {"norm": {"norm": "ln"}, "num_classes": 10}
})";

template <typename T>
const T& pick(const std::vector<T>& choices, std::mt19937_64& rng) {
  return choices[std::uniform_int_distribution<std::size_t>(0, choices.size() - 1)(rng)];
}

// A subnet of the space drawn uniformly per choice.
Arch sample(const SearchSpace& space, std::mt19937_64& rng) {
  Arch arch{.name = "sampled", .in_chans = space.in_chans, .head = space.head};
  arch.stem = pick(space.stems, rng);
  for (std::size_t s = 0; s < space.stages.size(); ++s) {
    const StageChoices& choices = space.stages[s];
    StageSpec stage{.width = pick(choices.widths, rng), .downsample = choices.downsample};
    const std::vector<MixerSpec> options = mixer_options(space, s, stage.width);
    const std::int64_t depth = pick(choices.depths, rng);
    for (std::int64_t b = 0; b < depth; ++b) {
      stage.blocks.push_back(make_block(space, pick(options, rng), pick(choices.mlp_ratios, rng)));
    }
    arch.stages.push_back(std::move(stage));
  }
  arch.stem.convs.back().out = arch.stages[0].width;
  return arch;
}

// The subnet built from the space's store equals the one built from a store holding exactly its
// gathered weights (bitwise), which matches the float64 reference (tolerance as subnet_test.cpp).
void expect_builds_from(const WeightStore& space_store, const Arch& arch, std::int64_t resolution,
                        std::uint64_t seed) {
  const std::string what = fmt::format("{} at {}: {}", arch.name, resolution, to_json(arch));
  WeightStore exact;
  const auto specs = arch_weight_specs(arch, resolution);
  for (const auto& [name, spec] : specs) exact.declare(name, spec);
  for (const auto& [name, spec] : specs) {
    copy(space_store.gather(name, spec).cview(), exact.mutable_tensor(name));
  }
  const SubnetConfig config{.batch = 1, .resolution = resolution};
  const Subnet from_space = Subnet::build(testing::test_engine(), arch, space_store, config);
  const Subnet from_exact = Subnet::build(testing::test_engine(), arch, exact, config);
  std::mt19937_64 rng(seed);
  const Tensor images = testing::random_tensor(from_space.input_shape(), rng);
  Tensor a = Tensor::empty(from_space.output_shape()), b = Tensor::empty(from_space.output_shape());
  testing::poison(a.view());
  from_space.forward(images.cview(), a.view());
  from_exact.forward(images.cview(), b.view());
  EXPECT_EQ(std::memcmp(a.f32(), b.f32(), a.nbytes()), 0) << what;
  const std::vector<double> ref = testing::subnet_ref::Reference(exact).logits(arch, images);
  double scale = 0;
  for (const double v : ref) scale = std::max(scale, std::abs(v));
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    ASSERT_LE(std::abs(a.f32()[i] - ref[static_cast<std::size_t>(i)]), 1e-3 * scale)
        << what << " logit " << i;
  }
}

TEST(DeclareSpace, LargestAndSampledSubnetsBuildFromIt) {
  const SearchSpace space = parse_search_space(kSpace, "tiny.json");
  WeightStore store;
  declare_space(store, space);
  const std::uint64_t seed = fresh_seed("declare_space");
  store.initialize(seed);
  std::mt19937_64 rng(seed);
  std::vector<Arch> subnets = {largest_arch(space)};
  for (int i = 0; i < 4; ++i) subnets.push_back(sample(space, rng));
  std::set<std::string> used;
  for (const Arch& arch : subnets) {
    std::string why;
    ASSERT_TRUE(is_subnet_of(arch, space, &why)) << why;
    for (const std::int64_t resolution : space.resolutions) {
      expect_builds_from(store, arch, resolution, seed);
      for (const auto& [name, spec] : arch_weight_specs(arch, resolution)) used.insert(name);
    }
  }
  // The largest subnet takes every norm, MLP and downsample weight at full size.
  const Arch largest = largest_arch(space);
  for (const auto& [name, spec] : arch_weight_specs(largest, 48)) {
    if (name.find(".mixer.") != std::string::npos) continue;
    EXPECT_EQ(store.spec(name).shape, spec.shape) << name;
  }
  std::cout << "[ space ] tiny: " << store.names().size() << " weights, " << store.numel()
            << " floats; " << used.size() << " used by the " << subnets.size() << " subnets\n";
}

// The SE patch merging sliced from the largest choice: conv1 [4*24, 24] holds [4*16, 16], the
// squeeze-excite's rd follows hid (24 at hid 96, 16 at hid 64: the leading rows and columns).
TEST(DeclareSpace, SePatchMergingSubnetsBuildFromIt) {
  std::string text = kSpace;
  const std::string conv_down =
      R"({"downsample": "conv", "kernel": 2, "norm": {"norm": "ln"}, "norm_place": "post"})";
  text.replace(text.find(conv_down), conv_down.size(), R"({"downsample": "se_patch_merging"})");
  const SearchSpace space = parse_search_space(text, "se.json");
  WeightStore store;
  declare_space(store, space);
  EXPECT_EQ(store.spec("stages.1.downsample.conv1.weight").shape, (Shape{96, 24, 1, 1}));
  EXPECT_EQ(store.spec("stages.1.downsample.se.fc1.weight").shape, (Shape{24, 96}));
  EXPECT_EQ(store.spec("stages.1.downsample.conv3.weight").shape, (Shape{40, 96, 1, 1}));
  const std::uint64_t seed = fresh_seed("declare_space se_patch_merging");
  store.initialize(seed);
  std::mt19937_64 rng(seed);
  std::vector<Arch> subnets = {largest_arch(space)};
  for (int i = 0; i < 2; ++i) subnets.push_back(sample(space, rng));
  subnets[1].stages[0].width = 16;  // a smaller hid than the store's
  subnets[1].stem.convs.back().out = 16;
  subnets[1].stages[0].blocks = {make_block(space, mixer_options(space, 0, 16)[0], 2)};
  for (const Arch& arch : subnets) {
    std::string why;
    ASSERT_TRUE(is_subnet_of(arch, space, &why)) << why;
    expect_builds_from(store, arch, 32, seed);
  }
}

TEST(DeclareSpace, ErrorsNameTheSpace) {
  SearchSpace space = parse_search_space(kSpace, "tiny.json");
  space.stages[1].mlp_ratios.clear();
  WeightStore store;
  try {
    declare_space(store, space);
    ADD_FAILURE() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "tiny: stages[1]: depths, widths and mlp_ratios must be non-empty"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace hwnas
