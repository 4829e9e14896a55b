#include "supernet/arch.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <openssl/evp.h>

#include <algorithm>
#include <filesystem>
#include <initializer_list>
#include <iterator>
#include <limits>

#include "kernels/assert.hpp"
#include "kernels/error.hpp"
#include "supernet/json_read.hpp"
#include "supernet/spec_parts.hpp"

namespace hwnas {
namespace {

using detail::Where;
using namespace detail::json;

constexpr std::string_view kNormWords[] = {"ln", "bn", "gn1"};  // NormKind order
using detail::kMlpActs;
using detail::kMlpActWords;
using detail::kMlpKinds;

// ---- typed reads beyond json_read.hpp ----

Activation read_activation(const Json& value, const Where& where) {
  return static_cast<Activation>(read_word(value, where, kActivationNames));
}

// ---- the parts ----

NormSpec parse_norm(const Json& json, const Where& where) {
  require_object(json, where);
  check_keys(json, where, {"norm", "eps", "bias"});
  NormSpec norm;
  norm.kind =
      static_cast<NormKind>(read_word(required(json, "norm", where), where.at("norm"), kNormWords));
  if (const Json* eps = member(json, "eps")) norm.eps = read_number(*eps, where.at("eps"));
  if (const Json* bias = member(json, "bias")) norm.bias = read_bool(*bias, where.at("bias"));
  return norm;
}

std::optional<NormSpec> parse_optional_norm(const Json& object, std::string_view key,
                                            const Where& where) {
  const Json* json = member(object, key);
  if (json == nullptr) return std::nullopt;
  return parse_norm(*json, where.at(key));
}

MixerSpec parse_mixer(const Json& json, const Where& where) {
  require_object(json, where);
  const MixerEntry& entry =
      detail::mixer_entry(read_string(required(json, "mixer", where), where.at("mixer")), where);
  std::vector<std::string> assignments;
  std::vector<std::string_view> names;
  for (const ParamSpec& spec : entry.params) {
    if (!detail::is_shape_param(spec.name)) names.push_back(spec.name);
  }
  for (const auto& item : json.items()) {
    const std::string& key = item.key();
    if (key == "mixer") continue;
    if (detail::is_shape_param(key)) {
      where.at(key).fail(fmt::format("{}: '{}' is set by the network (the stage's map and width)",
                                     entry.name, key));
    }
    if (std::find(names.begin(), names.end(), key) == names.end()) {
      where.fail(fmt::format("unknown key '{}'; the parameters of {} are {}", key, entry.name,
                             fmt::join(names, ", ")));
    }
    assignments.push_back(fmt::format("{}={}", key, param_text(item.value(), where.at(key))));
  }
  return detail::mixer_spec_from(entry, detail::parse_mixer_params(entry, assignments, where));
}

MlpSpec parse_mlp(const Json& json, const Where& where) {
  require_object(json, where);
  check_keys(json, where, {"mlp", "ratio", "act"});
  MlpSpec mlp;
  mlp.kind = kMlpKinds[read_word(required(json, "mlp", where), where.at("mlp"), kMlpKinds)];
  if (const Json* ratio = member(json, "ratio")) mlp.ratio = read_number(*ratio, where.at("ratio"));
  if (const Json* act = member(json, "act")) {
    mlp.act = kMlpActs[read_word(*act, where.at("act"), kMlpActWords)];
  }
  return mlp;
}

UnitOp parse_op(const Json& json, const Where& where) {
  require_object(json, where);
  const int kinds = (member(json, "norm") != nullptr) + (member(json, "mixer") != nullptr) +
                    (member(json, "mlp") != nullptr);
  if (kinds != 1) {
    where.fail(fmt::format("an op has exactly one of the keys 'norm', 'mixer', 'mlp'; got {}",
                           brief(json)));
  }
  if (member(json, "norm") != nullptr) return {.norm = parse_norm(json, where)};
  if (member(json, "mixer") != nullptr) return {.mixer = parse_mixer(json, where)};
  return {.mlp = parse_mlp(json, where)};
}

constexpr std::string_view kScaleWords[] = {"none", "layer_scale"};

bool parse_scale(const Json& object, const Where& where) {
  const Json* scale = member(object, "scale");
  return scale != nullptr && read_word(*scale, where.at("scale"), kScaleWords) == 1;
}

bool parse_res_scale(const Json& object, const Where& where) {
  const Json* res_scale = member(object, "res_scale");
  return res_scale != nullptr && read_bool(*res_scale, where.at("res_scale"));
}

UnitSpec parse_unit(const Json& json, const Where& where) {
  require_object(json, where);
  check_keys(json, where, {"ops", "scale", "res_scale", "residual"});
  UnitSpec unit;
  const Json& ops = require_array(required(json, "ops", where), where.at("ops"));
  for (std::size_t i = 0; i < ops.size(); ++i)
    unit.ops.push_back(parse_op(ops[i], where.at("ops").at(i)));
  unit.layer_scale = parse_scale(json, where);
  unit.res_scale = parse_res_scale(json, where);
  if (const Json* residual = member(json, "residual")) {
    unit.residual = read_bool(*residual, where.at("residual"));
  }
  return unit;
}

constexpr std::string_view kFrames[] = {"metaformer", "metanext"};

// The shorthands of docs/arch.md, expanded to the units the canonical form holds.
BlockSpec parse_frame(const Json& json, const Where& where) {
  const bool metaformer = read_word(json["frame"], where.at("frame"), kFrames) == 0;
  if (metaformer) {
    check_keys(json, where, {"frame", "norm", "mixer", "mlp", "scale", "res_scale"});
  } else {
    check_keys(json, where, {"frame", "norm", "mixer", "mlp", "scale"});
  }
  const std::optional<NormSpec> norm = parse_optional_norm(json, "norm", where);
  const UnitOp mixer{.mixer = parse_mixer(required(json, "mixer", where), where.at("mixer"))};
  const UnitOp mlp{.mlp = parse_mlp(required(json, "mlp", where), where.at("mlp"))};
  UnitSpec unit{.layer_scale = parse_scale(json, where), .res_scale = parse_res_scale(json, where)};
  const std::optional<UnitOp> norm_op =
      norm ? std::optional<UnitOp>(UnitOp{.norm = *norm}) : std::nullopt;
  BlockSpec block;
  if (metaformer) {
    for (const UnitOp& op : {mixer, mlp}) {
      unit.ops.clear();
      if (norm_op) unit.ops.push_back(*norm_op);
      unit.ops.push_back(op);
      block.units.push_back(unit);
    }
  } else {
    unit.ops.push_back(mixer);
    if (norm_op) unit.ops.push_back(*norm_op);
    unit.ops.push_back(mlp);
    block.units.push_back(unit);
  }
  return block;
}

BlockSpec parse_block(const Json& json, const Where& where) {
  require_object(json, where);
  if (member(json, "frame") != nullptr) return parse_frame(json, where);
  if (member(json, "units") == nullptr) where.fail("a block needs 'units' or 'frame'");
  check_keys(json, where, {"units"});
  BlockSpec block;
  const Json& units = require_array(json["units"], where.at("units"));
  for (std::size_t i = 0; i < units.size(); ++i) {
    block.units.push_back(parse_unit(units[i], where.at("units").at(i)));
  }
  return block;
}

DownsampleSpec parse_downsample(const Json& json, const Where& where) {
  require_object(json, where);
  constexpr std::string_view kKinds[] = {"patch_merging", "conv", "se_patch_merging"};
  DownsampleSpec downsample;
  const std::size_t kind =
      read_word(required(json, "downsample", where), where.at("downsample"), kKinds);
  if (kind == 0) {
    check_keys(json, where, {"downsample"});
    return {.kind = DownsampleKind::PatchMerging};
  }
  if (kind == 2) {
    check_keys(json, where, {"downsample", "expand", "se_ratio"});
    downsample.kind = DownsampleKind::SePatchMerging;
    if (const Json* v = member(json, "expand"))
      downsample.expand = read_integer(*v, where.at("expand"));
    if (const Json* v = member(json, "se_ratio"))
      downsample.se_ratio = read_number(*v, where.at("se_ratio"));
    return downsample;
  }
  check_keys(json, where, {"downsample", "kernel", "stride", "pad", "bias", "norm", "norm_place"});
  downsample.kind = DownsampleKind::Conv;
  if (const Json* v = member(json, "kernel"))
    downsample.kernel = read_integer(*v, where.at("kernel"));
  if (const Json* v = member(json, "stride"))
    downsample.stride = read_integer(*v, where.at("stride"));
  if (const Json* v = member(json, "pad")) downsample.pad = read_integer(*v, where.at("pad"));
  if (const Json* v = member(json, "bias")) downsample.bias = read_bool(*v, where.at("bias"));
  downsample.norm = parse_optional_norm(json, "norm", where);
  constexpr std::string_view kPlaces[] = {"pre", "post"};
  if (const Json* v = member(json, "norm_place")) {
    downsample.norm_place = read_word(*v, where.at("norm_place"), kPlaces) == 0
                                ? NormPlacement::Pre
                                : NormPlacement::Post;
  }
  // Without a norm the place means nothing; one canonical form.
  if (!downsample.norm) downsample.norm_place = NormPlacement::Post;
  return downsample;
}

StemSpec parse_stem(const Json& json, const Where& where, detail::StemOut last_out) {
  require_object(json, where);
  check_keys(json, where, {"convs", "act", "norm"});
  StemSpec stem;
  const Json& convs = require_array(required(json, "convs", where), where.at("convs"));
  for (std::size_t i = 0; i < convs.size(); ++i) {
    const Where at = where.at("convs").at(i);
    const Json& item = convs[i];
    require_object(item, at);
    check_keys(item, at, {"out", "kernel", "stride", "pad", "bias", "norm"});
    StemConv conv;
    if (last_out == detail::StemOut::FromWidth && i + 1 == convs.size()) {
      if (member(item, "out") != nullptr) {
        at.at("out").fail(
            "the last conv's out is the stage-0 width a subnet chooses; leave it out");
      }
      conv.out = 0;
    } else {
      conv.out = read_integer(required(item, "out", at), at.at("out"));
    }
    conv.kernel = read_integer(required(item, "kernel", at), at.at("kernel"));
    conv.stride = read_integer(required(item, "stride", at), at.at("stride"));
    if (const Json* v = member(item, "pad")) conv.pad = read_integer(*v, at.at("pad"));
    if (const Json* v = member(item, "bias")) conv.bias = read_bool(*v, at.at("bias"));
    if (const std::optional<NormSpec> norm = parse_optional_norm(item, "norm", at)) {
      if (*norm != NormSpec{.kind = NormKind::BatchNorm}) {
        at.at("norm").fail(
            "a stem conv's norm is its BatchNorm, folded at build time: only {\"norm\": \"bn\"}");
      }
      conv.bn = true;
    }
    stem.convs.push_back(conv);
  }
  if (const Json* act = member(json, "act")) stem.act = read_activation(*act, where.at("act"));
  stem.norm = parse_optional_norm(json, "norm", where);
  return stem;
}

HeadSpec parse_head(const Json& json, const Where& where) {
  require_object(json, where);
  check_keys(json, where,
             {"norm", "norm_place", "hidden", "hidden_act", "hidden_norm", "num_classes"});
  HeadSpec head;
  head.norm = parse_optional_norm(json, "norm", where);
  constexpr std::string_view kPlaces[] = {"before_pool", "after_pool"};
  if (const Json* v = member(json, "norm_place")) {
    head.norm_place = read_word(*v, where.at("norm_place"), kPlaces) == 0
                          ? HeadNormPlace::BeforePool
                          : HeadNormPlace::AfterPool;
  }
  if (const Json* v = member(json, "hidden")) head.hidden = read_integer(*v, where.at("hidden"));
  if (const Json* v = member(json, "hidden_act")) {
    head.hidden_act = read_activation(*v, where.at("hidden_act"));
  }
  head.hidden_norm = parse_optional_norm(json, "hidden_norm", where);
  if (const Json* v = member(json, "num_classes")) {
    head.num_classes = read_integer(*v, where.at("num_classes"));
  }
  // Fields that mean nothing in this head take their defaults: one canonical form.
  if (!head.norm) head.norm_place = HeadNormPlace::BeforePool;
  if (head.hidden == 0) head.hidden_act = HeadSpec{}.hidden_act;
  return head;
}

StageSpec parse_stage(const Json& json, const Where& where) {
  require_object(json, where);
  check_keys(json, where, {"width", "downsample", "blocks", "depth", "pattern"});
  StageSpec stage;
  stage.width = read_integer(required(json, "width", where), where.at("width"));
  if (const Json* v = member(json, "downsample")) {
    stage.downsample = parse_downsample(*v, where.at("downsample"));
  }
  const Json* blocks = member(json, "blocks");
  const Json* depth = member(json, "depth");
  const Json* pattern = member(json, "pattern");
  if (blocks != nullptr) {
    if (depth != nullptr || pattern != nullptr) {
      where.fail("give 'blocks', or 'depth' with 'pattern', not both");
    }
    require_array(*blocks, where.at("blocks"));
    for (std::size_t i = 0; i < blocks->size(); ++i) {
      stage.blocks.push_back(parse_block((*blocks)[i], where.at("blocks").at(i)));
    }
    return stage;
  }
  if (depth == nullptr || pattern == nullptr) {
    where.fail("missing 'blocks' (or 'depth' with 'pattern')");
  }
  const std::int64_t count = read_integer(*depth, where.at("depth"));
  if (count < 1) where.at("depth").fail(fmt::format("depth={} must be >= 1", count));
  require_array(*pattern, where.at("pattern"));
  if (pattern->empty() || static_cast<std::int64_t>(pattern->size()) > count) {
    where.at("pattern").fail(
        fmt::format("has {} blocks; it needs 1 to depth={}", pattern->size(), count));
  }
  std::vector<BlockSpec> cycle;
  for (std::size_t i = 0; i < pattern->size(); ++i) {
    cycle.push_back(parse_block((*pattern)[i], where.at("pattern").at(i)));
  }
  for (std::int64_t i = 0; i < count; ++i) {
    stage.blocks.push_back(cycle[static_cast<std::size_t>(i) % cycle.size()]);
  }
  return stage;
}

// ---- canonical JSON ----

std::string op_json(const UnitOp& op) {
  if (op.norm) return detail::norm_json(*op.norm);
  if (op.mixer) {
    std::string text = fmt::format("{{\"mixer\":{}", detail::json_quote(op.mixer->name));
    for (const auto& [name, value] : op.mixer->params) {
      text += fmt::format(",{}:{}", detail::json_quote(name), detail::json_quote(value));
    }
    return text + "}";
  }
  HWNAS_ASSERT(op.mlp.has_value());
  return fmt::format(R"({{"mlp":{},"ratio":{},"act":{}}})", detail::json_quote(op.mlp->kind),
                     detail::format_real(op.mlp->ratio),
                     detail::json_quote(to_string(op.mlp->act)));
}

std::string block_json(const BlockSpec& block) {
  std::vector<std::string> units;
  for (const UnitSpec& unit : block.units) {
    std::vector<std::string> ops;
    for (const UnitOp& op : unit.ops) ops.push_back(op_json(op));
    units.push_back(fmt::format(
        R"({{"ops":[{}],"scale":{},"res_scale":{},"residual":{}}})", fmt::join(ops, ","),
        detail::json_quote(kScaleWords[unit.layer_scale ? 1 : 0]), unit.res_scale, unit.residual));
  }
  return fmt::format(R"({{"units":[{}]}})", fmt::join(units, ","));
}

std::string stage_json(const StageSpec& stage) {
  std::string text = fmt::format(R"({{"width":{},)", stage.width);
  if (stage.downsample)
    text += R"("downsample":)" + detail::downsample_json(*stage.downsample) + ",";
  std::vector<std::string> blocks;
  for (const BlockSpec& block : stage.blocks) blocks.push_back(block_json(block));
  return text + fmt::format(R"("blocks":[{}]}})", fmt::join(blocks, ","));
}

}  // namespace

std::string_view to_string(NormKind kind) { return kNormWords[static_cast<std::size_t>(kind)]; }

const std::string& MixerSpec::param(std::string_view param_name) const {
  for (const auto& [key, value] : params) {
    if (key == param_name) return value;
  }
  HWNAS_ASSERT(false && "MixerSpec::param: no such parameter");
  static const std::string kEmpty;
  return kEmpty;
}

bool operator==(const Arch& a, const Arch& b) {
  return a.in_chans == b.in_chans && a.stem == b.stem && a.stages == b.stages && a.head == b.head;
}

Arch parse_arch(std::string_view json_text, std::string_view source) {
  const Where root{source, ""};
  const Json json = parse_json(json_text, root);
  require_object(json, root);
  check_keys(json, root, {"name", "in_chans", "stem", "stages", "head"});
  Arch arch;
  if (const Json* name = member(json, "name")) arch.name = read_string(*name, root.at("name"));
  if (const Json* v = member(json, "in_chans"))
    arch.in_chans = read_integer(*v, root.at("in_chans"));
  arch.stem = parse_stem(required(json, "stem", root), root.at("stem"), detail::StemOut::Required);
  const Json& stages = require_array(required(json, "stages", root), root.at("stages"));
  for (std::size_t s = 0; s < stages.size(); ++s) {
    arch.stages.push_back(parse_stage(stages[s], root.at("stages").at(s)));
  }
  if (const Json* head = member(json, "head")) arch.head = parse_head(*head, root.at("head"));
  detail::validate_arch_at(arch, 224, source);
  return arch;
}

Arch load_arch_file(const std::string& path) {
  Arch arch = parse_arch(read_text_file(path), path);
  if (arch.name.empty()) arch.name = std::filesystem::path(path).stem().string();
  return arch;
}

std::string to_json(const Arch& arch) {
  std::vector<std::string> stages;
  for (const StageSpec& stage : arch.stages) stages.push_back(stage_json(stage));
  return fmt::format(R"({{"in_chans":{},"stem":{},"stages":[{}],"head":{}}})", arch.in_chans,
                     detail::stem_json(arch.stem, detail::StemOut::Required),
                     fmt::join(stages, ","), detail::head_json(arch.head));
}

std::string to_pretty_json(const Arch& arch) {
  const auto body = nlohmann::ordered_json::parse(to_json(arch));
  nlohmann::ordered_json out;
  out["name"] = arch.name;
  for (const auto& item : body.items()) out[item.key()] = item.value();
  return out.dump(2);
}

std::string arch_hash(const Arch& arch) {
  const std::string text = to_json(arch);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    throw Error("arch_hash: OpenSSL's EVP_Digest(SHA-256) failed");
  }
  std::string hex;
  for (unsigned int i = 0; i < 8; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

namespace detail {

StemSpec parse_stem_json(std::string_view text, const Where& where, StemOut last_out) {
  return parse_stem(parse_json(text, where), where, last_out);
}
NormSpec parse_norm_json(std::string_view text, const Where& where) {
  return parse_norm(parse_json(text, where), where);
}
DownsampleSpec parse_downsample_json(std::string_view text, const Where& where) {
  return parse_downsample(parse_json(text, where), where);
}
HeadSpec parse_head_json(std::string_view text, const Where& where) {
  return parse_head(parse_json(text, where), where);
}

}  // namespace detail
}  // namespace hwnas
