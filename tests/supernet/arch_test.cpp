#include "supernet/arch.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "kernels/error.hpp"

namespace hwnas {
namespace {

using Json = nlohmann::json;

// Two stages at 224: 56x56x16 with Swin's alternating shift (pattern), 28x28x24 with a ConvNeXt
// block (metanext).
constexpr const char* kTiny = R"({
  "name": "tiny",
  "stem": {"convs": [{"out": 16, "kernel": 4, "stride": 4}], "norm": {"norm": "ln"}},
  "stages": [
    {"width": 16, "depth": 2, "pattern": [
      {"frame": "metaformer", "norm": {"norm": "ln"},
       "mixer": {"mixer": "window_attention", "heads": 2, "window": 7, "shift": 0},
       "mlp": {"mlp": "mlp", "ratio": 4}},
      {"frame": "metaformer", "norm": {"norm": "ln"},
       "mixer": {"mixer": "window_attention", "heads": 2, "window": 7, "shift": 3},
       "mlp": {"mlp": "mlp", "ratio": 4}}]},
    {"width": 24, "downsample": {"downsample": "patch_merging"}, "blocks": [
      {"frame": "metanext", "norm": {"norm": "ln", "eps": 1e-6},
       "mixer": {"mixer": "dwconv", "k": 7}, "mlp": {"mlp": "mlp", "ratio": 4},
       "scale": "layer_scale"}]}
  ],
  "head": {"norm": {"norm": "ln"}, "num_classes": 10}
})";

// Every field of the format away from its default at least once.
constexpr const char* kEveryField = R"({
  "name": "every_field",
  "in_chans": 1,
  "stem": {"convs": [{"out": 8, "kernel": 3, "stride": 2, "pad": 1, "bias": false,
                      "norm": {"norm": "bn"}},
                     {"out": 20, "kernel": 3, "stride": 2, "pad": 1}],
           "act": "relu", "norm": {"norm": "ln", "eps": 1e-6, "bias": false}},
  "stages": [
    {"width": 20, "blocks": [
      {"units": [
        {"ops": [{"norm": "gn1"}, {"mixer": "pool_mixer", "pool": 5}], "res_scale": true,
         "scale": "layer_scale"},
        {"ops": [{"norm": "bn", "eps": 0.001},
                 {"mlp": "glu_mlp", "ratio": 2.5, "act": "star_relu"}], "residual": false}]},
      {"frame": "metaformer", "norm": {"norm": "ln"}, "res_scale": true, "scale": "layer_scale",
       "mixer": {"mixer": "inception_dwconv", "branch_ratio": 0.25, "band_kernel": "9"},
       "mlp": {"mlp": "conv_ffn", "ratio": 3, "act": "hardswish"}}]},
    {"width": 36, "downsample": {"downsample": "conv", "kernel": 3, "stride": 2, "pad": 1,
                                 "bias": false, "norm": {"norm": "ln"}, "norm_place": "pre"},
     "depth": 3, "pattern": [
      {"frame": "metanext", "mixer": {"mixer": "linear_attention", "heads": 3,
                                      "feature_map": "relu", "local_kernel": 3},
       "mlp": {"mlp": "mlp", "ratio": 4, "act": "relu"}},
      {"frame": "metanext", "mixer": {"mixer": "partial_conv", "n_div": 3},
       "mlp": {"mlp": "mlp", "ratio": 0.5}}]},
    {"width": 40, "downsample": {"downsample": "patch_merging"}, "blocks": [
      {"frame": "metaformer", "norm": {"norm": "ln"},
       "mixer": {"mixer": "cswin_attention", "heads": 4, "sw": 2, "qkv_bias": 0},
       "mlp": {"mlp": "mlp"}}]}
  ],
  "head": {"norm": {"norm": "ln"}, "norm_place": "after_pool", "hidden": 64,
           "hidden_act": "relu", "hidden_norm": {"norm": "ln"}, "num_classes": 7}
})";

// Runs `body`, which must throw InvalidArgument whose message contains `needle`.
void expect_invalid(const std::function<void()>& body, const std::string& needle) {
  try {
    body();
    ADD_FAILURE() << "expected InvalidArgument containing '" << needle << "'";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << "message: " << e.what() << "\nexpected to contain: " << needle;
  }
}

void expect_parse_error(const Json& json, const std::string& needle) {
  expect_invalid([&] { parse_arch(json.dump(), "f.json"); }, needle);
}

Json tiny() { return Json::parse(kTiny); }

TEST(Arch, ShorthandsExpandToUnits) {
  const Arch arch = parse_arch(kTiny, "tiny.json");
  EXPECT_EQ(arch.name, "tiny");
  ASSERT_EQ(arch.stages.size(), 2u);
  const StageSpec& first = arch.stages[0];
  ASSERT_EQ(first.blocks.size(), 2u);
  EXPECT_FALSE(first.downsample.has_value());
  // metaformer: [norm, mixer], [norm, mlp]
  const BlockSpec& block = first.blocks[1];
  ASSERT_EQ(block.units.size(), 2u);
  ASSERT_EQ(block.units[0].ops.size(), 2u);
  EXPECT_EQ(block.units[0].ops[0].norm, NormSpec{});
  ASSERT_TRUE(block.units[0].ops[1].mixer.has_value());
  EXPECT_EQ(block.units[0].ops[1].mixer->name, "window_attention");
  EXPECT_EQ(block.units[0].ops[1].mixer->param("shift"), "3");
  EXPECT_EQ(block.units[0].ops[1].mixer->param("qkv_bias"), "1");  // the default, filled in
  EXPECT_EQ(block.units[1].ops[1].mlp, MlpSpec{});
  EXPECT_FALSE(block.units[0].layer_scale);
  EXPECT_EQ(first.blocks[0].units[0].ops[1].mixer->param("shift"), "0");
  // metanext: [mixer, norm, mlp] with layer scale
  const BlockSpec& next = arch.stages[1].blocks[0];
  ASSERT_EQ(next.units.size(), 1u);
  ASSERT_EQ(next.units[0].ops.size(), 3u);
  EXPECT_EQ(next.units[0].ops[0].mixer->name, "dwconv");
  EXPECT_EQ(next.units[0].ops[1].norm->eps, 1e-6);
  EXPECT_TRUE(next.units[0].ops[2].mlp.has_value());
  EXPECT_TRUE(next.units[0].layer_scale);
  EXPECT_EQ(arch.stages[1].downsample->kind, DownsampleKind::PatchMerging);
  EXPECT_EQ(arch.head.num_classes, 10);
}

TEST(Arch, MixerParamsAreCanonicalTextInSpecOrder) {
  const Arch arch = parse_arch(kEveryField, "every.json");
  const MixerSpec& inception = *arch.stages[0].blocks[1].units[0].ops[1].mixer;
  // "9" (a string) and 0.25 (a number) both become the registry's text; spec order, no n/h/w/c.
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"square_kernel", "3"}, {"band_kernel", "9"}, {"branch_ratio", "0.25"}};
  EXPECT_EQ(inception.params, expected);
  EXPECT_EQ(arch.stages[1].blocks[2].units[0].ops[0].mixer->param("feature_map"), "relu");
}

TEST(Arch, RoundTripOfEveryField) {
  for (const char* text : {kTiny, kEveryField}) {
    const Arch arch = parse_arch(text, "a.json");
    const std::string canonical = to_json(arch);
    EXPECT_EQ(canonical.find(' '), std::string::npos) << canonical;
    EXPECT_EQ(canonical.find("\"name\""), std::string::npos) << canonical;
    const Arch again = parse_arch(canonical, "canonical.json");
    EXPECT_EQ(again, arch);
    EXPECT_EQ(to_json(again), canonical);
    const Arch pretty = parse_arch(to_pretty_json(arch), "pretty.json");
    EXPECT_EQ(pretty, arch);
    EXPECT_EQ(pretty.name, arch.name);
  }
}

TEST(Arch, CanonicalFormWritesDefaultsInFixedOrder) {
  const Arch arch = parse_arch(kEveryField, "every.json");
  const std::string text = to_json(arch);
  EXPECT_EQ(text.rfind(R"({"in_chans":1,"stem":{"convs":[{"out":8,"kernel":3,"stride":2,"pad":1,)"
                       R"("bias":false,"norm":{"norm":"bn","eps":1e-05,"bias":true}})",
                       0),
            0u)
      << text;
  EXPECT_NE(text.find(R"({"mlp":"glu_mlp","ratio":2.5,"act":"star_relu"})"), std::string::npos);
  EXPECT_NE(text.find(R"({"mixer":"cswin_attention","heads":"4","sw":"2","branches":"2",)"
                      R"("qkv_bias":"0"})"),
            std::string::npos);
  EXPECT_NE(text.find(R"("downsample":{"downsample":"conv","kernel":3,"stride":2,"pad":1,)"
                      R"("bias":false,"norm":{"norm":"ln","eps":1e-05,"bias":true},)"
                      R"("norm_place":"pre"})"),
            std::string::npos);
  EXPECT_NE(text.find(R"("head":{"norm":{"norm":"ln","eps":1e-05,"bias":true},)"
                      R"("norm_place":"after_pool","hidden":64,"hidden_act":"relu",)"
                      R"("hidden_norm":{"norm":"ln","eps":1e-05,"bias":true},"num_classes":7}})"),
            std::string::npos)
      << text;
}

TEST(Arch, HashIsPinnedAndIgnoresTheName) {
  const Arch arch = parse_arch(kTiny, "tiny.json");
  const std::string hash = arch_hash(arch);
  // Pinned: a change of the canonical form changes every key in existing stores. Update it only
  // with a migration of the stored hashes.
  EXPECT_EQ(hash, "3355418595813115");
  EXPECT_EQ(hash.size(), 16u);
  Arch renamed = arch;
  renamed.name = "other";
  EXPECT_EQ(arch_hash(renamed), hash);
  EXPECT_EQ(renamed, arch);
}

TEST(Arch, ShorthandAndExpansionHashTheSame) {
  const Arch shorthand = parse_arch(kTiny, "tiny.json");
  Json expanded = tiny();
  const Json norm = {{"norm", "ln"}};
  const Json mlp = {{"mlp", "mlp"}, {"ratio", 4}, {"act", "gelu_erf"}};
  Json blocks = Json::array();
  for (int shift : {0, 3}) {
    const Json mixer = {
        {"mixer", "window_attention"}, {"heads", "2"}, {"window", 7.0}, {"shift", shift}};
    blocks.push_back(
        {{"units", {{{"ops", {norm, mixer}}}, {{"ops", {norm, mlp}}, {"scale", "none"}}}}});
  }
  expanded["stages"][0].erase("depth");
  expanded["stages"][0].erase("pattern");
  expanded["stages"][0]["blocks"] = blocks;
  const Arch arch = parse_arch(expanded.dump(), "expanded.json");
  EXPECT_EQ(arch, shorthand);
  EXPECT_EQ(arch_hash(arch), arch_hash(shorthand));
}

TEST(Arch, ChangedParamChangesTheHash) {
  const std::string hash = arch_hash(parse_arch(kTiny, "tiny.json"));
  Json changed = tiny();
  changed["stages"][1]["blocks"][0]["mixer"]["k"] = 5;
  EXPECT_NE(arch_hash(parse_arch(changed.dump(), "k5.json")), hash);
  Json eps = tiny();
  eps["head"]["norm"]["eps"] = 1e-6;
  EXPECT_NE(arch_hash(parse_arch(eps.dump(), "eps.json")), hash);
  Json same = tiny();
  same["stages"][1]["blocks"][0]["mixer"]["k"] = "7";  // text or number: the same value
  EXPECT_EQ(arch_hash(parse_arch(same.dump(), "k7.json")), hash);
}

TEST(Arch, StageResolutionsFollowPyTorchConvArithmetic) {
  const Arch arch = parse_arch(kTiny, "tiny.json");
  EXPECT_EQ(stage_resolutions(arch, 224), (std::vector<std::int64_t>{56, 28}));
  EXPECT_EQ(stage_resolutions(arch, 230), (std::vector<std::int64_t>{57, 29}));  // ceil(57/2)
  // Two 3x3/2 convs with pad 1: 225 -> 113 -> 57; conv 3x3/2 p1: 57 -> 29; patch merging -> 15.
  const Arch every = parse_arch(kEveryField, "every.json");
  EXPECT_EQ(stage_resolutions(every, 225), (std::vector<std::int64_t>{57, 29, 15}));
  Json conv2 = tiny();
  conv2["stages"][1]["downsample"] = {{"downsample", "conv"}};  // k=2, s=2: floor(h/2)
  EXPECT_EQ(stage_resolutions(parse_arch(conv2.dump(), "c.json"), 230),
            (std::vector<std::int64_t>{57, 28}));
  expect_invalid([&] { stage_resolutions(parse_arch(conv2.dump(), "c.json"), 7); },
                 "stages[1].downsample: kernel=2 is larger than the padded map 1+2*0=1 at input "
                 "resolution 7");
  expect_invalid([&] { stage_resolutions(arch, 3); },
                 "stem.convs[0]: kernel=4 is larger than the padded map 3+2*0=3");
}

TEST(Arch, ValidateChecksEachMixerAtItsStageShape) {
  Json json = tiny();
  json["stages"][1]["blocks"][0] = {
      {"units", {{{"ops", {{{"norm", "ln"}}, {{"mixer", "window_attention"}, {"heads", 5}}}}}}}};
  expect_parse_error(json,
                     "f.json: stages[1].blocks[0].units[0].ops[1]: window_attention: "
                     "heads=5 must divide c=24");
  // Built in code: the same check, without a file name.
  Arch arch = parse_arch(kTiny, "tiny.json");
  validate_arch(arch, 224);
  validate_arch(arch, 37);  // any map size runs: windows pad
  arch.stages[0].blocks[0].units[0].ops[1].mixer->params[0].second = "3";
  expect_invalid([&] { validate_arch(arch, 224); },
                 "stages[0].blocks[0].units[0].ops[1]: window_attention: heads=3 must divide c=16");
}

TEST(Arch, ValidateNeedsCanonicalMixerParams) {
  Arch arch = parse_arch(kTiny, "tiny.json");
  auto& params = arch.stages[1].blocks[0].units[0].ops[0].mixer->params;
  params.erase(params.begin());  // k left out: valid for the registry, but not canonical
  expect_invalid([&] { validate_arch(arch, 224); },
                 "stages[1].blocks[0].units[0].ops[0]: mixer parameters are not canonical");
  arch = parse_arch(kTiny, "tiny.json");
  arch.stages[1].blocks[0].units[0].ops[0].mixer->params[0].second = "07";
  expect_invalid([&] { validate_arch(arch, 224); }, "got dwconv:k=07,");
}

TEST(Arch, MalformedJson) {
  expect_invalid([] { parse_arch("{\"stem\": ", "bad.json"); }, "bad.json: malformed JSON: ");
  expect_invalid([] { parse_arch("[1, 2]", "list.json"); }, "list.json: expected an object");
}

TEST(Arch, UnknownKeysAtEveryLevel) {
  Json json = tiny();
  json["colour"] = 1;
  expect_parse_error(json, "f.json: unknown key 'colour'; keys are name, in_chans, stem");
  json = tiny();
  json["stages"][1]["blocks"][0] = {
      {"units", {{{"ops", {{{"norm", "ln"}}, {{"mixer", "window_attention"}, {"heads2", 2}}}}}}}};
  expect_parse_error(json,
                     "f.json: stages[1].blocks[0].units[0].ops[1]: unknown key 'heads2'; "
                     "the parameters of window_attention are heads, window,");
  json = tiny();
  json["stages"][0]["pattern"][1]["mlp"]["hidden"] = 3;
  expect_parse_error(json, "f.json: stages[0].pattern[1].mlp: unknown key 'hidden'");
  json = tiny();
  json["stem"]["convs"][0]["dilation"] = 1;
  expect_parse_error(json, "f.json: stem.convs[0]: unknown key 'dilation'");
  json = tiny();
  json["stages"][1]["downsample"]["kernel"] = 2;
  expect_parse_error(json,
                     "f.json: stages[1].downsample: unknown key 'kernel'; keys are downsample");
  json = tiny();
  json["head"]["dropout"] = 0.1;
  expect_parse_error(json, "f.json: head: unknown key 'dropout'");
  json = tiny();
  json["stages"][1]["blocks"][0]["res_scale"] = true;  // metanext has no res_scale
  expect_parse_error(json, "f.json: stages[1].blocks[0]: unknown key 'res_scale'");
  json = tiny();
  json["stages"][0]["pattern"][0]["mixer"]["h"] = 56;
  expect_parse_error(json,
                     "f.json: stages[0].pattern[0].mixer.h: window_attention: 'h' is set by "
                     "the network");
}

TEST(Arch, UnknownMixerListsTheKnownNames) {
  Json json = tiny();
  json["stages"][1]["blocks"][0]["mixer"] = {{"mixer", "foo"}};
  expect_parse_error(json,
                     "f.json: stages[1].blocks[0].mixer: unknown mixer 'foo'; mixers: mhsa, "
                     "window_attention,");
}

TEST(Arch, BadParamValuesNameTheValue) {
  Json json = tiny();
  json["stages"][1]["blocks"][0]["mixer"]["k"] = 0;
  expect_parse_error(json, "f.json: stages[1].blocks[0].mixer: dwconv: k=0 is out of range");
  json["stages"][1]["blocks"][0]["mixer"]["k"] = "7.0";
  expect_parse_error(json, "dwconv: k=7.0 is not an integer");
  json["stages"][1]["blocks"][0]["mixer"]["k"] = 7.5;
  expect_parse_error(json, "dwconv: k=7.5 is not an integer");
  json["stages"][1]["blocks"][0]["mixer"]["k"] = true;
  expect_parse_error(json, "f.json: stages[1].blocks[0].mixer.k: expected a number or a string");
  json["stages"][1]["blocks"][0]["mixer"]["k"] = 7;
  json["stages"][1]["blocks"][0]["mixer"]["backend"] = "gpu";
  expect_parse_error(json, "dwconv: backend=gpu is not one of auto, onednn, hand");
  json["stages"][1]["blocks"][0]["mixer"]["backend"] = "auto";
  json["stages"][1]["blocks"][0]["mixer"]["k"] = 8;  // a range-valid value the mixer refuses
  expect_parse_error(json, "f.json: stages[1].blocks[0].units[0].ops[0]: dwconv:");
}

TEST(Arch, WrongTypesAndMissingFields) {
  Json json = tiny();
  json["stages"][1]["width"] = "24";
  expect_parse_error(json, "f.json: stages[1].width: expected an integer, got \"24\"");
  json = tiny();
  json["stages"][1]["width"] = 24.5;
  expect_parse_error(json, "f.json: stages[1].width: expected an integer, got 24.5");
  json = tiny();
  json.erase("stem");
  expect_parse_error(json, "f.json: missing required key 'stem'");
  json = tiny();
  json["stages"][0]["pattern"][0]["norm"]["bias"] = 1;
  expect_parse_error(json, "f.json: stages[0].pattern[0].norm.bias: expected true or false");
  json = tiny();
  json["stages"][0]["pattern"][0]["norm"]["norm"] = "rms";
  expect_parse_error(json,
                     "f.json: stages[0].pattern[0].norm.norm: 'rms' is not one of ln, bn, gn1");
  json = tiny();
  json["stages"][0]["pattern"][0]["mlp"]["act"] = "silu";
  expect_parse_error(json, "'silu' is not one of gelu_erf, relu, hardswish, star_relu");
  json = tiny();
  json["stages"][0]["pattern"][0]["mlp"]["mlp"] = "moe";
  expect_parse_error(json,
                     "f.json: stages[0].pattern[0].mlp.mlp: 'moe' is not one of mlp, "
                     "conv_ffn, glu_mlp");
  json = tiny();
  json["stages"] = Json::object();
  expect_parse_error(json, "f.json: stages: expected an array");
  json = tiny();
  json["stages"][1]["blocks"][0] = {{"ops", Json::array()}};
  expect_parse_error(json, "f.json: stages[1].blocks[0]: a block needs 'units' or 'frame'");
  json = tiny();
  json["stages"][1]["blocks"][0] = {{"units", {{{"ops", {{{"norm", "ln"}, {"mlp", "mlp"}}}}}}}};
  expect_parse_error(json,
                     "stages[1].blocks[0].units[0].ops[0]: an op has exactly one of the keys");
  json = tiny();
  json["stages"][0]["blocks"] = Json::array();
  expect_parse_error(json, "f.json: stages[0]: give 'blocks', or 'depth' with 'pattern', not both");
  json = tiny();
  json["stages"][0].erase("pattern");
  expect_parse_error(json, "f.json: stages[0]: missing 'blocks' (or 'depth' with 'pattern')");
  json = tiny();
  json["stages"][0]["depth"] = 1;
  expect_parse_error(json, "f.json: stages[0].pattern: has 2 blocks; it needs 1 to depth=1");
  json["stages"][0]["depth"] = 0;
  expect_parse_error(json, "f.json: stages[0].depth: depth=0 must be >= 1");
}

TEST(Arch, StructuralRules) {
  Json json = tiny();
  json["stem"]["convs"][0]["out"] = 12;
  expect_parse_error(json, "f.json: stem.convs[0].out: out=12 must equal stages[0].width=16");
  json = tiny();
  json["stages"][1].erase("downsample");
  expect_parse_error(json, "f.json: stages[1]: missing 'downsample'");
  json = tiny();
  json["stages"][0]["downsample"] = {{"downsample", "patch_merging"}};
  expect_parse_error(json, "f.json: stages[0].downsample: stage 0 takes the stem's output");
  json = tiny();
  json["stages"][1]["width"] = 0;
  expect_parse_error(json, "f.json: stages[1].width: width=0 must be >= 1");
  json = tiny();
  json["stem"]["convs"] = Json::array();
  expect_parse_error(json, "f.json: stem.convs: a stem needs at least one conv");
  json = tiny();
  json["stem"]["convs"][0]["stride"] = 0;
  expect_parse_error(json, "f.json: stem.convs[0].stride: stride=0 must be >= 1");
  json = tiny();
  json["stem"]["convs"][0]["norm"] = {{"norm", "ln"}};
  expect_parse_error(json, "f.json: stem.convs[0].norm: a stem conv's norm is its BatchNorm");
  json = tiny();
  json["stages"] = Json::array();
  expect_parse_error(json, "f.json: stages: an arch needs at least one stage");
  json = tiny();
  json["stages"][1]["blocks"] = Json::array();
  expect_parse_error(json, "f.json: stages[1].blocks: a stage needs at least one block");
  json = tiny();
  json["stages"][1]["blocks"][0] = {{"units", {{{"ops", Json::array()}}}}};
  expect_parse_error(json,
                     "f.json: stages[1].blocks[0].units[0].ops: a unit needs at least one op");
  json = tiny();
  json["stages"][1]["blocks"][0]["mlp"]["ratio"] = 0.01;  // round(24 * 0.01) = 0
  expect_parse_error(json,
                     "f.json: stages[1].blocks[0].units[0].ops[2]: ratio=0.01 must be > 0 "
                     "and give hidden = round(width*ratio) >= 1 at width=24");
  json["stages"][1]["blocks"][0]["mlp"]["ratio"] = -1;
  expect_parse_error(json, "ratio=-1 must be > 0");
  json = tiny();
  json["stages"][1]["blocks"][0]["norm"]["eps"] = 0;
  expect_parse_error(json,
                     "f.json: stages[1].blocks[0].units[0].ops[1].eps: eps=0 must be a "
                     "finite number > 0");
  json = tiny();
  json["head"]["num_classes"] = 0;
  expect_parse_error(json, "f.json: head.num_classes: num_classes=0 must be >= 1");
  json = tiny();
  json["head"]["hidden_norm"] = {{"norm", "ln"}};
  expect_parse_error(json, "f.json: head.hidden_norm: hidden_norm needs hidden > 0");
  json = tiny();
  json["in_chans"] = 0;
  expect_parse_error(json, "f.json: in_chans: in_chans=0 must be >= 1");
  json = tiny();
  json["stages"][1]["downsample"] = {{"downsample", "conv"}, {"pad", -1}};
  expect_parse_error(json, "f.json: stages[1].downsample.pad: pad=-1 must be >= 0");
}

TEST(Arch, MeaninglessFieldsTakeTheirDefaults) {
  Json json = tiny();
  json["stages"][1]["downsample"] = {{"downsample", "conv"}, {"norm_place", "pre"}};
  json["head"] = {{"norm_place", "after_pool"}, {"hidden_act", "relu"}};
  Json plain = tiny();
  plain["stages"][1]["downsample"] = {{"downsample", "conv"}};
  plain["head"] = Json::object();
  EXPECT_EQ(parse_arch(json.dump(), "a.json"), parse_arch(plain.dump(), "b.json"));
}

// EfficientViT's / SHViT's PatchMerging: defaults written out, its own keys only, its checks, and
// the size of its stride-2 depthwise conv (3x3, pad 1: ceil(h / 2)).
TEST(Arch, SePatchMerging) {
  Json json = tiny();
  json["stages"][1]["downsample"] = {{"downsample", "se_patch_merging"}};
  const Arch arch = parse_arch(json.dump(), "se.json");
  ASSERT_TRUE(arch.stages[1].downsample.has_value());
  EXPECT_EQ(arch.stages[1].downsample->kind, DownsampleKind::SePatchMerging);
  EXPECT_NE(to_json(arch).find(
                R"("downsample":{"downsample":"se_patch_merging","expand":4,"se_ratio":0.25})"),
            std::string::npos)
      << to_json(arch);
  const Arch again = parse_arch(to_json(arch), "canonical.json");
  EXPECT_EQ(again, arch);
  EXPECT_EQ(arch_hash(again), arch_hash(arch));
  EXPECT_EQ(parse_arch(to_pretty_json(arch), "pretty.json"), arch);
  EXPECT_NE(arch_hash(arch), arch_hash(parse_arch(kTiny, "tiny.json")));
  Json spelled = json;
  spelled["stages"][1]["downsample"]["expand"] = 4;
  spelled["stages"][1]["downsample"]["se_ratio"] = 0.25;
  EXPECT_EQ(arch_hash(parse_arch(spelled.dump(), "spelled.json")), arch_hash(arch));
  Json other = json;
  other["stages"][1]["downsample"]["se_ratio"] = 0.5;
  EXPECT_NE(arch_hash(parse_arch(other.dump(), "other.json")), arch_hash(arch));
  other["stages"][1]["downsample"]["expand"] = 2;
  EXPECT_EQ(parse_arch(other.dump(), "other.json").stages[1].downsample->expand, 2);

  EXPECT_EQ(stage_resolutions(arch, 224), (std::vector<std::int64_t>{56, 28}));
  EXPECT_EQ(stage_resolutions(arch, 230), (std::vector<std::int64_t>{57, 29}));

  Json bad = json;
  bad["stages"][1]["downsample"]["kernel"] = 3;  // a conv downsample's key
  expect_parse_error(bad, "f.json: stages[1].downsample: unknown key 'kernel'");
  bad = json;
  bad["stages"][1]["downsample"]["expand"] = 0;
  expect_parse_error(bad, "f.json: stages[1].downsample.expand: expand=0 must be >= 1");
  bad["stages"][1]["downsample"]["expand"] = 2.5;
  expect_parse_error(bad, "f.json: stages[1].downsample.expand:");
  bad = json;
  bad["stages"][1]["downsample"]["se_ratio"] = 0;
  expect_parse_error(bad, "f.json: stages[1].downsample.se_ratio: se_ratio=0 must be in (0, 1]");
  bad["stages"][1]["downsample"]["se_ratio"] = 1.5;
  expect_parse_error(bad, "se_ratio=1.5 must be in (0, 1]");
  bad["stages"][1]["downsample"]["se_ratio"] = "0.25";
  expect_parse_error(bad, "f.json: stages[1].downsample.se_ratio: expected a number");
  bad = json;
  bad["stages"][1]["downsample"]["downsample"] = "se_merging";
  expect_parse_error(bad, "se_patch_merging");
}

// timm's make_divisible(se_ratio * hid, 8), which EfficientViT's and SHViT's SqueezeExcite use.
TEST(Arch, SeChannelsRoundLikeTimm) {
  EXPECT_EQ(se_channels(768, 0.25), 192);   // EfficientViT-M5 stage 1 -> 2: 4 * 192
  EXPECT_EQ(se_channels(1344, 0.25), 336);  // SHViT-S4 stage 2 -> 3: 4 * 336
  EXPECT_EQ(se_channels(48, 0.25), 16);     // 12 -> 16: round half up to a multiple of 8
  EXPECT_EQ(se_channels(44, 0.25), 8);      // 11 -> 8
  EXPECT_EQ(se_channels(8, 0.25), 8);       // at least the divisor
}

TEST(Arch, LoadArchFile) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path();
  const std::filesystem::path path =
      dir / ("hwnas_arch_test_" + std::to_string(::getpid()) + "_my_net.json");
  Json json = tiny();
  json.erase("name");
  std::ofstream(path) << json.dump(2);
  const Arch arch = load_arch_file(path.string());
  EXPECT_EQ(arch.name, path.stem().string());  // the file's name when the JSON has none
  EXPECT_EQ(arch, parse_arch(kTiny, "tiny.json"));
  std::filesystem::remove(path);
  try {
    load_arch_file(path.string());
    ADD_FAILURE() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(path.string() + ": cannot read"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace hwnas
