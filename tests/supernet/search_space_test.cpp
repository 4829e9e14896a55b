#include "supernet/search_space.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "kernels/error.hpp"
#include "supernet/big_count.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

using Json = nlohmann::json;

// Small enough to count by hand (TinySpaceSizeByHand), at 32 and 48 input.
constexpr const char* kTinySpace = R"({
  "name": "tiny",
  "resolutions": [32, 48],
  "stems": [
    {"convs": [{"kernel": 4, "stride": 4}], "norm": {"norm": "ln"}},
    {"convs": [{"out": 4, "kernel": 3, "stride": 2, "pad": 1}, {"kernel": 3, "stride": 2, "pad": 1}],
     "act": "gelu_erf"}
  ],
  "norm": {"norm": "ln", "eps": 1e-6},
  "mlp": {"mlp": "mlp", "act": "gelu_erf"},
  "layer_scale": true,
  "stages": [
    {"depths": [1, 2], "widths": [8, 10], "mlp_ratios": [2, 4],
     "mixers": [
       {"mixer": "dwconv", "k": [3, 5]},
       {"mixer": "window_attention", "shift": [0, 1], "window": 2, "head_dim": [8]},
       {"mixer": "gnconv", "order": [2, "3"]}
     ]},
    {"depths": [1], "widths": [16], "mlp_ratios": [3],
     "downsample": {"downsample": "patch_merging"},
     "mixers": [{"mixer": "pool_mixer", "pool": [3, 5]}]}
  ],
  "head": {"norm": {"norm": "ln"}, "num_classes": 10}
})";

void expect_invalid(const std::function<void()>& body, const std::string& needle) {
  try {
    body();
    ADD_FAILURE() << "expected InvalidArgument containing '" << needle << "'";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << "message: " << e.what() << "\nexpected to contain: " << needle;
  }
}

void expect_space_error(const Json& json, const std::string& needle) {
  expect_invalid([&] { parse_search_space(json.dump(), "s.json"); }, needle);
}

Json tiny_json() { return Json::parse(kTinySpace); }
SearchSpace tiny_space() { return parse_search_space(kTinySpace, "tiny.json"); }

SearchSpace default_space() {
  return load_search_space_file(std::string(HWNAS_SOURCE_DIR) + "/supernet/spaces/default.json");
}

template <typename T>
const T& pick(const std::vector<T>& values, std::mt19937_64& rng) {
  return values[std::uniform_int_distribution<std::size_t>(0, values.size() - 1)(rng)];
}

// A uniformly drawn subnet: width and depth per stage, mixer and MLP ratio per block.
Arch sample_arch(const SearchSpace& space, std::mt19937_64& rng) {
  Arch arch{.name = "sample",
            .in_chans = space.in_chans,
            .stem = pick(space.stems, rng),
            .stages = {},
            .head = space.head};
  for (std::size_t s = 0; s < space.stages.size(); ++s) {
    const StageChoices& choices = space.stages[s];
    StageSpec stage{
        .width = pick(choices.widths, rng), .downsample = choices.downsample, .blocks = {}};
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

// A subnet of the tiny space: width 8 with [dwconv k=3, window_attention shift=1], width 16.
Arch tiny_subnet(const SearchSpace& space) {
  Arch arch = largest_arch(space);
  arch.stem.convs.back().out = 8;
  arch.stages[0].width = 8;
  const std::vector<MixerSpec> options = mixer_options(space, 0, 8);
  arch.stages[0].blocks = {make_block(space, options[0], 2), make_block(space, options[3], 4)};
  return arch;
}

TEST(BigCount, ExactDecimalBeyond64Bits) {
  using detail::BigCount;
  EXPECT_EQ(BigCount(0).decimal(), "0");
  EXPECT_EQ(BigCount(1'000'000'000).decimal(), "1000000000");
  BigCount value(18'446'744'073'709'551'615ull);  // 2^64 - 1
  value += BigCount(1);
  EXPECT_EQ(value.decimal(), "18446744073709551616");
  EXPECT_EQ((value * value).decimal(), "340282366920938463463374607431768211456");  // 2^128
  EXPECT_EQ((value * BigCount(0)).decimal(), "0");
  BigCount nines(999'999'999);
  nines += BigCount(999'999'999'999'999'999ull);
  EXPECT_EQ(nines.decimal(), "1000000000999999998");
}

TEST(SearchSpace, TinySpaceSizeByHand) {
  const SearchSpace space = tiny_space();
  // Width 8: dwconv k=3,5; window_attention shift=0,1 (heads = 8/8); gnconv order=2,3 -> 6.
  // Width 10: head_dim 8 does not divide 10, gnconv order=3 needs c % 4 == 0 -> dwconv x2, gnconv
  // order=2 -> 3.
  ASSERT_EQ(mixer_options(space, 0, 8).size(), 6u);
  ASSERT_EQ(mixer_options(space, 0, 10).size(), 3u);
  // Stage 0, two MLP ratios per block: (6*2) + (6*2)^2 + (3*2) + (3*2)^2 = 198.
  // Stage 1: pool 3 or 5 with one ratio, depth 1 -> 2. Two stems: 2 * 198 * 2 = 792.
  EXPECT_EQ(space_size(space), "792");
  EXPECT_NEAR(space_size_log10(space), std::log10(792.0), 1e-12);
}

TEST(SearchSpace, MixerOptionsInChoiceThenValueOrder) {
  const SearchSpace space = tiny_space();
  auto label = [](const MixerSpec& option) {
    if (option.name == "dwconv") return "dwconv:" + option.param("k");
    if (option.name == "gnconv") return "gnconv:" + option.param("order");
    return option.name + ":" + option.param("shift") + "," + option.param("heads");
  };
  std::vector<std::string> got;
  for (const MixerSpec& option : mixer_options(space, 0, 8)) got.push_back(label(option));
  const std::vector<std::string> expected = {
      "dwconv:3", "dwconv:5", "window_attention:0,1", "window_attention:1,1",
      "gnconv:2", "gnconv:3"};
  EXPECT_EQ(got, expected);
  expect_invalid([&] { mixer_options(space, 2, 8); }, "mixer_options: stage 2 of a space with 2");
}

TEST(SearchSpace, ShiftMustStayBelowTheWindow) {
  Json json = tiny_json();
  json["stages"][0]["mixers"][1] = {
      {"mixer", "window_attention"}, {"window", {2, 3}}, {"shift", {0, 2}}, {"head_dim", 8}};
  const SearchSpace space = parse_search_space(json.dump(), "s.json");
  std::vector<std::string> windows;
  for (const MixerSpec& option : mixer_options(space, 0, 8)) {
    if (option.name == "window_attention") {
      windows.push_back(option.param("window") + "/" + option.param("shift"));
    }
  }
  EXPECT_EQ(windows, (std::vector<std::string>{"2/0", "3/0", "3/2"}));  // 2/2 dropped
}

TEST(SearchSpace, RoundTripAndCanonicalOrder) {
  const SearchSpace space = tiny_space();
  const std::string text = to_json(space);
  EXPECT_EQ(text.find(' '), std::string::npos);
  const SearchSpace again = parse_search_space(text, "canonical.json");
  EXPECT_EQ(again, space);
  EXPECT_EQ(to_json(again), text);
  // Parameters in the mixer's order whatever the file's order; values as canonical text.
  EXPECT_NE(text.find(R"({"mixer":"window_attention","window":["2"],"shift":["0","1"],)"
                      R"("head_dim":[8]})"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"({"mixer":"gnconv","order":["2","3"]})"), std::string::npos);
  EXPECT_NE(text.find(R"("stems":[{"convs":[{"kernel":4,"stride":4,"pad":0,"bias":true}],)"),
            std::string::npos)
      << text;
}

TEST(SearchSpace, SePatchMergingIsPartOfTheSpace) {
  Json json = tiny_json();
  json["stages"][1]["downsample"] = {{"downsample", "se_patch_merging"}, {"se_ratio", 0.5}};
  const SearchSpace space = parse_search_space(json.dump(), "se.json");
  const std::string text = to_json(space);
  EXPECT_NE(
      text.find(R"("downsample":{"downsample":"se_patch_merging","expand":4,"se_ratio":0.5})"),
      std::string::npos)
      << text;
  EXPECT_EQ(parse_search_space(text, "canonical.json"), space);
  Arch arch = largest_arch(space);
  std::string why;
  EXPECT_TRUE(is_subnet_of(arch, space, &why)) << why;
  for (const std::int64_t resolution : space.resolutions) validate_arch(arch, resolution);
  arch.stages[1].downsample->se_ratio = 0.25;
  EXPECT_FALSE(is_subnet_of(arch, space, &why));
  EXPECT_NE(why.find("stages[1].downsample: differs from the space's "
                     R"({"downsample":"se_patch_merging","expand":4,"se_ratio":0.5})"),
            std::string::npos)
      << why;
  json["stages"][1]["downsample"]["expand"] = -1;
  expect_space_error(json, "s.json: stages[1].downsample.expand: expand=-1 must be >= 1");
}

TEST(SearchSpace, MakeBlockFollowsTheFrame) {
  SearchSpace space = tiny_space();
  const MixerSpec mixer = mixer_options(space, 0, 8).front();
  const BlockSpec block = make_block(space, mixer, 2);
  ASSERT_EQ(block.units.size(), 2u);
  EXPECT_EQ(block.units[0].ops[0].norm, space.norm);
  EXPECT_EQ(block.units[0].ops[1].mixer, mixer);
  EXPECT_EQ(block.units[1].ops[1].mlp, (MlpSpec{.kind = "mlp", .ratio = 2}));
  EXPECT_TRUE(block.units[1].layer_scale);
  space.frame = "metanext";
  const BlockSpec next = make_block(space, mixer, 2);
  ASSERT_EQ(next.units.size(), 1u);
  ASSERT_EQ(next.units[0].ops.size(), 3u);
  EXPECT_EQ(next.units[0].ops[0].mixer, mixer);
}

TEST(SearchSpace, LargestArch) {
  const SearchSpace space = tiny_space();
  const Arch arch = largest_arch(space);
  ASSERT_EQ(arch.stages.size(), 2u);
  EXPECT_EQ(arch.stages[0].width, 10);
  EXPECT_EQ(arch.stages[0].blocks.size(), 2u);
  EXPECT_EQ(arch.stem.convs.back().out, 10);
  EXPECT_EQ(arch.stages[0].blocks[0].units[1].ops[1].mlp->ratio, 4);
  EXPECT_EQ(arch.stages[0].blocks[0].units[0].ops[1].mixer->param("k"), "3");
  for (const std::int64_t resolution : space.resolutions) validate_arch(arch, resolution);
  std::string why;
  EXPECT_TRUE(is_subnet_of(arch, space, &why)) << why;
}

TEST(SearchSpace, IsSubnetOfNamesTheFirstMismatch) {
  const SearchSpace space = tiny_space();
  const Arch subnet = tiny_subnet(space);
  std::string why = "unchanged?";
  EXPECT_TRUE(is_subnet_of(subnet, space, &why)) << why;
  EXPECT_EQ(why, "");
  EXPECT_TRUE(is_subnet_of(parse_arch(to_json(subnet), "subnet.json"), space));

  auto expect_reason = [&](const Arch& arch, const std::string& needle) {
    std::string reason;
    EXPECT_FALSE(is_subnet_of(arch, space, &reason)) << needle;
    EXPECT_NE(reason.find(needle), std::string::npos) << "reason: " << reason;
    EXPECT_FALSE(is_subnet_of(arch, space));
  };
  Arch arch = subnet;
  arch.in_chans = 1;
  expect_reason(arch, "in_chans=1 but the space has in_chans=3");
  arch = subnet;
  arch.stages.pop_back();
  expect_reason(arch, "the arch has 1 stages, the space 2");
  arch = subnet;
  arch.stem.convs[0].kernel = 5;
  expect_reason(arch, "stem: {\"convs\":[{\"out\":8,\"kernel\":5,");
  arch = subnet;
  arch.stages[1].width = 24;
  expect_reason(arch, "stages[1]: width 24 not in {16}");
  arch = subnet;
  arch.stages[1].blocks.push_back(arch.stages[1].blocks[0]);
  expect_reason(arch, "stages[1]: depth 2 not in {1}");
  arch = subnet;
  arch.stages[1].downsample = DownsampleSpec{};
  expect_reason(
      arch, "stages[1].downsample: differs from the space's {\"downsample\":\"patch_merging\"}");
  arch = subnet;
  arch.stages[0].blocks[1].units[0].layer_scale = false;
  expect_reason(arch,
                "stages[0].blocks[1]: not the space's block (metaformer frame, norm ln, mlp mlp "
                "with gelu_erf, layer scale on)");
  arch = subnet;
  arch.stages[0].blocks[1].units[1].ops[1].mlp->ratio = 3;
  expect_reason(arch, "stages[0].blocks[1]: mlp ratio 3 not in {2, 4}");
  arch = subnet;
  arch.stages[1].blocks[0].units[0].ops[1].mixer = mixer_options(space, 0, 8)[0];
  expect_reason(arch,
                "stages[1].blocks[0]: mixer dwconv is not allowed in stage 1 (allowed: "
                "pool_mixer)");
  arch = subnet;
  arch.stages[0].blocks[0].units[0].ops[1].mixer->params[0].second = "7";
  expect_reason(arch, "stages[0].blocks[0]: dwconv k=7 not in {3, 5}");
  arch = subnet;
  arch.stages[0].blocks[0].units[0].ops[1].mixer->params[1].second = "2";  // dilation
  expect_reason(arch,
                "stages[0].blocks[0]: dwconv dilation=2: the space fixes it at its default 1");
  arch = subnet;
  arch.stages[0].blocks[1].units[0].ops[1].mixer->params[0].second = "2";  // heads
  expect_reason(arch,
                "stages[0].blocks[1]: window_attention heads=2 is not width/head_dim for "
                "width=8 and head_dim in {8}");
  // Every value listed, but the combination is invalid at this width: gnconv order 3 at 10.
  arch = subnet;
  arch.stages[0].width = 10;
  arch.stem.convs.back().out = 10;
  arch.stages[0].blocks = {make_block(space, mixer_options(space, 0, 8)[5], 2)};
  expect_reason(arch,
                "stages[0].blocks[0]: gnconv:order=3,kernel=7 is not an option of stage 0 at "
                "width 10");
  arch = subnet;
  arch.head.num_classes = 11;
  expect_reason(arch, "head: {");
}

TEST(SearchSpace, DefaultSpaceLoadsWithItsDocumentedSize) {
  const SearchSpace space = default_space();
  EXPECT_EQ(space.name, "default");
  ASSERT_EQ(space.stages.size(), 4u);
  // docs/arch.md, "The default space": keep the two in step.
  EXPECT_EQ(space_size(space), "3020216146575026509765210857799680");
  EXPECT_NEAR(space_size_log10(space), 33.48, 0.005);
  EXPECT_EQ(parse_search_space(to_json(space), "canonical.json"), space);
  // head_dim 32 leaves attention out at widths 48 and 80; CSWin runs one branch on the 7x7 map.
  EXPECT_EQ(mixer_options(space, 0, 48).size(), 10u);
  EXPECT_EQ(mixer_options(space, 0, 64).size(), 14u);
  EXPECT_EQ(mixer_options(space, 2, 320).size(), 21u);
  EXPECT_EQ(mixer_options(space, 3, 640).size(), 19u);
  for (const MixerSpec& option : mixer_options(space, 3, 768)) {
    if (option.name == "cswin_attention") {
      EXPECT_EQ(option.param("branches"), "1");
    }
    if (option.name == "mhsa") {
      EXPECT_EQ(option.param("heads"), "24");
    }
  }
}

TEST(SearchSpace, SampledSubnetsOfTheDefaultSpaceAreValid) {
  const SearchSpace space = default_space();
  std::mt19937_64 rng(testing::fresh_seed("default space samples"));
  const Arch largest = largest_arch(space);
  validate_arch(largest, 224);
  EXPECT_TRUE(is_subnet_of(largest, space));
  for (int i = 0; i < 50; ++i) {
    const Arch arch = sample_arch(space, rng);
    SCOPED_TRACE(to_json(arch));
    validate_arch(arch, 224);
    std::string why;
    EXPECT_TRUE(is_subnet_of(arch, space, &why)) << why;
    const Arch again = parse_arch(to_json(arch), "sample.json");
    EXPECT_EQ(again, arch);
    EXPECT_EQ(arch_hash(again), arch_hash(arch));
  }
}

TEST(SearchSpace, Errors) {
  expect_invalid([] { parse_search_space("{", "s.json"); }, "s.json: malformed JSON");
  Json json = tiny_json();
  json["depth"] = 1;
  expect_space_error(json, "s.json: unknown key 'depth'; keys are name, resolutions");
  json = tiny_json();
  json["stages"][0]["width"] = 8;
  expect_space_error(json, "s.json: stages[0]: unknown key 'width'");
  json = tiny_json();
  json["stages"][0]["mixers"][0]["mixer"] = "foo";
  expect_space_error(json, "s.json: stages[0].mixers[0].mixer: unknown mixer 'foo'; mixers: mhsa");
  json = tiny_json();
  json["stages"][0]["mixers"][0]["kernel"] = {3};
  expect_space_error(json,
                     "s.json: stages[0].mixers[0]: unknown key 'kernel'; the parameters of "
                     "dwconv are k, dilation, bias, backend, head_dim");
  json = tiny_json();
  json["stages"][0]["mixers"][0]["k"] = {3, "3"};
  expect_space_error(json, "s.json: stages[0].mixers[0].k[1]: \"3\" is listed twice");
  json = tiny_json();
  json["stages"][0]["mixers"][0]["k"] = {3, 0};
  expect_space_error(json, "s.json: stages[0].mixers[0].k[1]: dwconv: k=0 is out of range");
  json = tiny_json();
  json["stages"][0]["mixers"][0]["k"] = Json::array();
  expect_space_error(json, "s.json: stages[0].mixers[0].k: lists no values");
  json = tiny_json();
  json["stages"][0]["mixers"][1]["heads"] = {1};
  expect_space_error(json, "s.json: stages[0].mixers[1]: give 'heads' or 'head_dim', not both");
  json = tiny_json();
  json["stages"][0]["mixers"][0]["head_dim"] = {8};
  expect_space_error(json, "s.json: stages[0].mixers[0].head_dim: dwconv has no heads parameter");
  json = tiny_json();
  json["stages"][0]["mixers"][0]["c"] = {8};
  expect_space_error(json, "stages[0].mixers[0].c: dwconv: 'c' is set by the network");
  json = tiny_json();
  json["stages"][0]["mixers"][1]["shift"] = {0, 2};
  expect_space_error(json,
                     "s.json: stages[0].mixers[1].shift: window_attention shift=2 is valid "
                     "at no width of the stage (8, 10); at width 8: window_attention: "
                     "shift=2 must be in [0, window=2)");
  json = tiny_json();
  json["stages"][0]["mixers"][1]["head_dim"] = {8, 3};
  expect_space_error(json,
                     "s.json: stages[0].mixers[1].head_dim: window_attention head_dim=3 is "
                     "valid at no width of the stage (8, 10); at width 8: head_dim=3 does "
                     "not divide width=8");
  json = tiny_json();
  json["stages"][0]["mixers"] = {{{"mixer", "window_attention"}, {"head_dim", 8}}};
  expect_space_error(json,
                     "s.json: stages[0].widths: no mixer option is valid at width 10: "
                     "head_dim=8 does not divide width=10");
  json = tiny_json();
  json["stages"][0]["downsample"] = {{"downsample", "patch_merging"}};
  expect_space_error(json, "s.json: stages[0].downsample: stage 0 takes the stem's output");
  json = tiny_json();
  json["stages"][1].erase("downsample");
  expect_space_error(json, "s.json: stages[1]: missing 'downsample'");
  json = tiny_json();
  json["stems"][0]["convs"][0]["out"] = 8;
  expect_space_error(json,
                     "s.json: stems[0].convs[0].out: the last conv's out is the stage-0 width");
  json = tiny_json();
  json["stems"][1] = json["stems"][0];
  expect_space_error(json, "s.json: stems[1]: this stem is listed twice");
  json = tiny_json();
  json["stages"][0]["mlp_ratios"] = {2, 0.01};
  expect_space_error(json,
                     "s.json: stages[0].mlp_ratios[1]: ratio=0.01 gives hidden = "
                     "round(width*ratio) < 1 at width=8");
  json["stages"][0]["mlp_ratios"] = {2, -1};
  expect_space_error(json, "s.json: stages[0].mlp_ratios[1]: expected a number > 0, got -1");
  json = tiny_json();
  json["stages"][0]["widths"] = Json::array();
  expect_space_error(json, "s.json: stages[0].widths: lists no values");
  json = tiny_json();
  json["stages"][0]["depths"] = {1, 0};
  expect_space_error(json, "s.json: stages[0].depths[1]: 0 must be >= 1");
  json = tiny_json();
  json["stems"] = Json::array();
  expect_space_error(json, "s.json: stems: expected a non-empty array");
  json = tiny_json();
  json["resolutions"] = {32, 3};
  expect_space_error(json,
                     "s.json: stems[0].convs[0]: kernel=4 is larger than the padded map "
                     "3+2*0=3 at input resolution 3");
  json = tiny_json();
  json["mlp"]["act"] = "silu";
  expect_space_error(json, "s.json: mlp.act: 'silu' is not one of gelu_erf, relu, hardswish");
  json = tiny_json();
  json["frame"] = "convnext";
  expect_space_error(json, "s.json: frame: 'convnext' is not one of metaformer, metanext");
}

}  // namespace
}  // namespace hwnas
