#include "search/variation.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include "search/random.hpp"
#include "tests/search/search_test_util.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

using testing::default_space;
using testing::expect_invalid;
using testing::tiny_space;

void expect_subnet(const SearchSpace& space, const Genome& genome, std::int64_t resolution,
                   bool validate) {
  const Arch arch = decode(space, genome, resolution);
  std::string why;
  ASSERT_TRUE(is_subnet_of(arch, space, &why)) << why << "\n" << to_string(genome);
  if (validate) validate_arch(arch, resolution);
}

// Evolves a pool by chained mutation and crossover, checking every child: the operators are
// applied to their own offspring, so a child the first draw would not produce is also covered.
TEST(Variation, ThousandsOfChildrenAreSubnetsOfTheDefaultSpace) {
  const SearchSpace& space = default_space();
  std::mt19937_64 rng(testing::fresh_seed("variation validity"));
  std::vector<Genome> pool;
  for (int i = 0; i < 16; ++i) pool.push_back(sample_genome(space, rng));
  const auto start = std::chrono::steady_clock::now();
  constexpr int kChildren = 3000;
  for (int i = 0; i < kChildren; ++i) {
    const Genome& a = pool[uniform_index(rng, pool.size())];
    const Genome& b = pool[uniform_index(rng, pool.size())];
    // Half the children with a heavy mutation rate, which changes widths under many blocks.
    const double p = i % 2 == 0 ? 0.15 : 0.8;
    Genome child =
        i % 3 == 0 ? mutate(space, a, p, rng) : mutate(space, crossover(space, a, b, rng), p, rng);
    expect_subnet(space, child, 224, i % 100 == 0);
    if (::testing::Test::HasFatalFailure()) return;
    pool[uniform_index(rng, pool.size())] = std::move(child);
  }
  for (int i = 0; i < 500; ++i) {
    expect_subnet(space, crossover(space, pool[i % 16], pool[(i * 7 + 3) % 16], rng), 224, false);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "variation: " << kChildren + 500 << " children checked in " << seconds << " s\n";
}

// The search records a crossover of a parent with itself as a mutation of it (search_loop.cpp):
// that is only true if such a crossover gives the parent back.
TEST(Variation, CrossoverOfAGenomeWithItselfIsThatGenome) {
  const SearchSpace& space = default_space();
  std::mt19937_64 rng(testing::fresh_seed("variation self crossover"));
  for (int i = 0; i < 200; ++i) {
    const Genome g = sample_genome(space, rng);
    EXPECT_EQ(to_string(crossover(space, g, g, rng)), to_string(g));
  }
}

TEST(Variation, TinySpaceChildrenRunAtEveryResolution) {
  const SearchSpace& space = tiny_space();
  std::mt19937_64 rng(testing::fresh_seed("tiny variation"));
  Genome a = sample_genome(space, rng), b = sample_genome(space, rng);
  for (int i = 0; i < 300; ++i) {
    Genome child = mutate(space, crossover(space, a, b, rng), 0.5, rng);
    expect_subnet(space, child, 32, true);
    expect_subnet(space, child, 48, true);
    (i % 2 == 0 ? a : b) = std::move(child);
  }
}

TEST(Variation, MutationWithZeroProbabilityCopiesAndWithOneResamples) {
  const SearchSpace& space = default_space();
  std::mt19937_64 rng(testing::fresh_seed("mutation rates"));
  const Genome parent = sample_genome(space, rng);
  EXPECT_EQ(mutate(space, parent, 0.0, rng), parent);
  int changed = 0;
  for (int i = 0; i < 20; ++i) changed += mutate(space, parent, 1.0, rng) == parent ? 0 : 1;
  EXPECT_EQ(changed, 20);
  expect_invalid([&] { mutate(space, parent, 1.5, rng); },
                 "mutate: probability p=1.5 must be in [0, 1]");
}

// A width change keeps a block's mixer where the new width has it (window attention at 64 and 96
// channels: 2 and 3 heads) and resamples it where it does not (no attention at 48).
TEST(Variation, WidthChangeRepairsOnlyMixersTheNewWidthLacks) {
  const SearchSpace& space = default_space();
  const std::vector<MixerSpec>& at64 = stage_options(space, 0, 1);
  const auto window = static_cast<std::size_t>(
      std::find_if(at64.begin(), at64.end(),
                   [](const MixerSpec& m) { return m.name == "window_attention"; }) -
      at64.begin());
  ASSERT_LT(window, at64.size());
  std::mt19937_64 rng(testing::fresh_seed("width repair"));
  Genome parent = sample_genome(space, rng);
  parent.stages[0].width = 1;  // 64
  parent.stages[0].depth = 2;  // 3 blocks
  parent.stages[0].blocks.assign(3, BlockGene{.mixer = window, .mlp_ratio = 0});
  bool saw_96 = false, saw_48 = false;
  for (int i = 0; i < 400 && !(saw_96 && saw_48); ++i) {
    const Genome child = mutate(space, parent, 0.5, rng);
    const Arch arch = decode(space, child, 224);
    const StageSpec& stage = arch.stages[0];
    const std::string& first = stage.blocks[0].units[0].ops[1].mixer->name;
    if (stage.width == 96 && child.stages[0].blocks[0].mixer == window) {
      // Unmutated block: the same option at the new width, with width/32 heads.
      EXPECT_EQ(stage.blocks[0].units[0].ops[1].mixer->param("heads"), "3");
      saw_96 = true;
    }
    if (stage.width == 48) {
      EXPECT_NE(first, "window_attention");
      saw_48 = true;
    }
  }
  EXPECT_TRUE(saw_96);
  EXPECT_TRUE(saw_48);
}

TEST(Variation, CrossoverTakesWholeStagesAndSharedBlocksFromEitherParent) {
  const SearchSpace& space = default_space();
  std::mt19937_64 rng(testing::fresh_seed("crossover structure"));
  int mixed = 0;
  for (int i = 0; i < 300; ++i) {
    Genome a = sample_genome(space, rng), b = sample_genome(space, rng);
    b.stages[2].width = a.stages[2].width;  // so stage 2 can mix blocks
    const Genome child = crossover(space, a, b, rng);
    EXPECT_TRUE(child.stem == a.stem || child.stem == b.stem);
    for (std::size_t s = 0; s < space.stages.size(); ++s) {
      const StageGene& got = child.stages[s];
      const bool like_a = got.depth == a.stages[s].depth && got.width == a.stages[s].width;
      const bool like_b = got.depth == b.stages[s].depth && got.width == b.stages[s].width;
      ASSERT_TRUE(like_a || like_b) << "stage " << s;
      const StageGene& base = like_a ? a.stages[s] : b.stages[s];
      const StageGene& other = like_a ? b.stages[s] : a.stages[s];
      for (std::size_t k = 0; k < got.blocks.size(); ++k) {
        const bool shared = other.width == got.width && k < other.blocks.size();
        if (shared) {
          EXPECT_TRUE(got.blocks[k] == base.blocks[k] || got.blocks[k] == other.blocks[k]);
          mixed += got.blocks[k] == base.blocks[k] ? 0 : 1;
        } else if (!(like_a && like_b)) {
          EXPECT_EQ(got.blocks[k], base.blocks[k]);
        }
      }
    }
    EXPECT_EQ(crossover(space, a, a, rng), a);
  }
  EXPECT_GT(mixed, 0);
}

}  // namespace
}  // namespace hwnas
