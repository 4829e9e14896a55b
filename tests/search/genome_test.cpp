#include "search/genome.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <map>
#include <set>
#include <string>

#include "search/random.hpp"
#include "tests/search/search_test_util.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

using testing::default_space;
using testing::expect_invalid;
using testing::tiny_space;

TEST(Random, UniformIndexStaysInRangeAndReachesEveryValue) {
  std::mt19937_64 rng(testing::fresh_seed("uniform_index"));
  std::vector<int> seen(7, 0);
  for (int i = 0; i < 7000; ++i) {
    const std::size_t k = uniform_index(rng, 7);
    ASSERT_LT(k, 7u);
    ++seen[k];
  }
  // Each count is Binomial(7000, 1/7): mean 1000, sd 29; 800 is 6.8 sd away.
  for (const int count : seen) EXPECT_GT(count, 800);
  for (int i = 0; i < 1000; ++i) {
    const double u = uniform_unit(rng);
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
  }
}

TEST(Random, StreamsDependOnSeedGenerationAndPurpose) {
  const std::uint64_t a = make_rng(5, 3, RngPurpose::Offspring)();
  EXPECT_EQ(a, make_rng(5, 3, RngPurpose::Offspring)());
  EXPECT_NE(a, make_rng(6, 3, RngPurpose::Offspring)());
  EXPECT_NE(a, make_rng(5, 4, RngPurpose::Offspring)());
  EXPECT_NE(a, make_rng(5, 3, RngPurpose::Initial)());
}

TEST(Genome, SampleArchCoversEveryChoiceOfTheDefaultSpace) {
  const SearchSpace& space = default_space();
  std::mt19937_64 rng(testing::fresh_seed("sample_arch coverage"));
  // Every option of every stage at some width, every width, depth and MLP ratio.
  std::vector<std::set<std::string>> want_mixers(space.stages.size());
  std::vector<std::set<std::int64_t>> widths(space.stages.size()), depths(space.stages.size());
  std::vector<std::set<double>> ratios(space.stages.size());
  std::vector<std::set<std::string>> mixers(space.stages.size());
  for (std::size_t s = 0; s < space.stages.size(); ++s) {
    for (const std::int64_t width : space.stages[s].widths) {
      for (const MixerSpec& option : mixer_options(space, s, width)) {
        want_mixers[s].insert(
            fmt::format("{}@{}:{}", option.name, width, fmt::join(option.params, ",")));
      }
    }
  }
  const auto start = std::chrono::steady_clock::now();
  constexpr int kDraws = 3000;
  for (int i = 0; i < kDraws; ++i) {
    const Arch arch = sample_arch(space, rng, 224);
    for (std::size_t s = 0; s < space.stages.size(); ++s) {
      const StageSpec& stage = arch.stages[s];
      widths[s].insert(stage.width);
      depths[s].insert(static_cast<std::int64_t>(stage.blocks.size()));
      for (const BlockSpec& block : stage.blocks) {
        ratios[s].insert(block.units[1].ops[1].mlp->ratio);
        const MixerSpec& mixer = *block.units[0].ops[1].mixer;
        mixers[s].insert(
            fmt::format("{}@{}:{}", mixer.name, stage.width, fmt::join(mixer.params, ",")));
      }
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "sample_arch: " << kDraws << " draws in " << seconds << " s\n";
  for (std::size_t s = 0; s < space.stages.size(); ++s) {
    SCOPED_TRACE(fmt::format("stage {}", s));
    const StageChoices& choices = space.stages[s];
    EXPECT_EQ(widths[s], std::set<std::int64_t>(choices.widths.begin(), choices.widths.end()));
    EXPECT_EQ(depths[s], std::set<std::int64_t>(choices.depths.begin(), choices.depths.end()));
    EXPECT_EQ(ratios[s], std::set<double>(choices.mlp_ratios.begin(), choices.mlp_ratios.end()));
    EXPECT_EQ(mixers[s], want_mixers[s]);
  }
}

TEST(Genome, SampledSubnetsAreValidAndRoundTrip) {
  const SearchSpace& space = default_space();
  std::mt19937_64 rng(testing::fresh_seed("genome round trip"));
  for (int i = 0; i < 500; ++i) {
    const Genome genome = sample_genome(space, rng);
    SCOPED_TRACE(to_string(genome));
    const Arch arch = decode(space, genome, 224);
    std::string why;
    ASSERT_TRUE(is_subnet_of(arch, space, &why)) << why;
    EXPECT_EQ(encode(space, arch), genome);
    EXPECT_EQ(decode(space, encode(space, arch), 224), arch);
    if (i < 20) validate_arch(arch, 224);
  }
}

TEST(Genome, TinySpaceRoundTripAtBothStems) {
  const SearchSpace& space = tiny_space();
  std::mt19937_64 rng(testing::fresh_seed("tiny genome"));
  std::set<std::size_t> stems;
  for (int i = 0; i < 200; ++i) {
    const Genome genome = sample_genome(space, rng);
    stems.insert(genome.stem);
    const Arch arch = decode(space, genome, 32);
    validate_arch(arch, 32);
    validate_arch(arch, 48);
    EXPECT_EQ(encode(space, arch), genome);
  }
  EXPECT_EQ(stems.size(), 2u);
}

TEST(Genome, SameSeedSameSample) {
  std::mt19937_64 a(42), b(42);
  EXPECT_EQ(sample_genome(default_space(), a), sample_genome(default_space(), b));
}

TEST(Genome, Errors) {
  const SearchSpace& space = default_space();
  std::mt19937_64 rng(testing::fresh_seed("genome errors"));
  const Genome genome = sample_genome(space, rng);
  expect_invalid([&] { decode(space, genome, 256); },
                 "genome: resolution 256 is not one of space 'default''s resolutions {224}");
  Genome bad = genome;
  bad.stages[2].blocks[0].mixer = 30;
  expect_invalid([&] { decode(space, bad, 224); },
                 "genome: stages[2].blocks[0].mixer=30 out of range [0, 21)");
  bad = genome;
  bad.stages[1].width = 4;
  expect_invalid([&] { decode(space, bad, 224); }, "genome: stages[1].width=4 out of range [0, 4)");
  bad = genome;
  bad.stem = 1;
  expect_invalid([&] { decode(space, bad, 224); }, "genome: stem=1 out of range [0, 1)");
  bad = genome;
  bad.stages[3].blocks.push_back({});
  expect_invalid([&] { decode(space, bad, 224); }, "genome: stages[3] has ");
  bad = genome;
  bad.stages.pop_back();
  expect_invalid([&] { decode(space, bad, 224); }, "genome: 3 stages, the space has 4");

  Arch arch = decode(space, genome, 224);
  arch.stages[2].width = 400;
  expect_invalid([&] { encode(space, arch); },
                 "encode: stages[2]: width 400 not in {192, 256, 320, 384}");
}

}  // namespace
}  // namespace hwnas
