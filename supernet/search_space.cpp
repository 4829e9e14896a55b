#include "supernet/search_space.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <map>

#include "kernels/error.hpp"
#include "supernet/json_read.hpp"
#include "supernet/spec_parts.hpp"

namespace hwnas {
namespace {

using detail::Where;
using namespace detail::json;

// ---- typed reads beyond json_read.hpp ----

// A non-empty list without repeats (a repeat would count one architecture twice); a single value
// stands for a list of one.
template <typename T, typename Read>
std::vector<T> read_choices(const Json& value, const Where& where, Read read) {
  std::vector<T> values;
  if (!value.is_array()) return {read(value, where)};
  if (value.empty()) where.fail("lists no values");
  for (std::size_t i = 0; i < value.size(); ++i) {
    T item = read(value[i], where.at(i));
    if (std::find(values.begin(), values.end(), item) != values.end()) {
      where.at(i).fail(fmt::format("{} is listed twice", brief(value[i])));
    }
    values.push_back(std::move(item));
  }
  return values;
}

std::vector<std::int64_t> read_positive_integers(const Json& value, const Where& where) {
  return read_choices<std::int64_t>(value, where, [](const Json& item, const Where& at) {
    const std::int64_t number = read_integer(item, at);
    if (number < 1) at.fail(fmt::format("{} must be >= 1", number));
    return number;
  });
}

// ---- parsing ----

MixerChoice parse_mixer_choice(const Json& json, const Where& where) {
  require_object(json, where);
  MixerChoice choice;
  choice.name = read_string(required(json, "mixer", where), where.at("mixer"));
  const MixerEntry& entry = detail::mixer_entry(choice.name, where.at("mixer"));
  std::vector<std::string_view> names;
  bool has_heads = false;
  for (const ParamSpec& spec : entry.params) {
    if (!detail::is_shape_param(spec.name)) names.push_back(spec.name);
    has_heads = has_heads || spec.name == "heads";
  }
  std::map<std::string, std::vector<std::string>, std::less<>> listed;
  for (const auto& item : json.items()) {
    const std::string& key = item.key();
    const Where at = where.at(key);
    if (key == "mixer") continue;
    if (key == "head_dim") {
      if (!has_heads) at.fail(fmt::format("{} has no heads parameter to derive", entry.name));
      choice.head_dims = read_positive_integers(item.value(), at);
      continue;
    }
    if (detail::is_shape_param(key)) {
      at.fail(fmt::format("{}: '{}' is set by the network (the stage's map and width)", entry.name,
                          key));
    }
    if (std::find(names.begin(), names.end(), key) == names.end()) {
      where.fail(fmt::format("unknown key '{}'; the parameters of {} are {}, head_dim", key,
                             entry.name, fmt::join(names, ", ")));
    }
    listed[key] = read_choices<std::string>(item.value(), at, [&](const Json& v, const Where& w) {
      return detail::canonical_param_value(entry, key, param_text(v, w), w);
    });
  }
  if (!choice.head_dims.empty() && listed.count("heads") > 0) {
    where.fail("give 'heads' or 'head_dim', not both");
  }
  for (const std::string_view name : names) {  // spec order: one canonical form
    const auto it = listed.find(name);
    if (it != listed.end()) choice.params.emplace_back(it->first, it->second);
  }
  return choice;
}

StageChoices parse_stage(const Json& json, const Where& where) {
  require_object(json, where);
  check_keys(json, where, {"depths", "widths", "mlp_ratios", "mixers", "downsample"});
  StageChoices stage;
  stage.depths = read_positive_integers(required(json, "depths", where), where.at("depths"));
  stage.widths = read_positive_integers(required(json, "widths", where), where.at("widths"));
  stage.mlp_ratios =
      read_choices<double>(required(json, "mlp_ratios", where), where.at("mlp_ratios"),
                           [](const Json& item, const Where& at) {
                             if (!item.is_number() || !(item.get<double>() > 0)) {
                               at.fail(fmt::format("expected a number > 0, got {}", brief(item)));
                             }
                             return item.get<double>();
                           });
  const Json& mixers = required(json, "mixers", where);
  if (!mixers.is_array() || mixers.empty()) {
    where.at("mixers").fail(fmt::format("expected a non-empty array, got {}", brief(mixers)));
  }
  for (std::size_t i = 0; i < mixers.size(); ++i) {
    stage.mixers.push_back(parse_mixer_choice(mixers[i], where.at("mixers").at(i)));
  }
  if (const Json* downsample = member(json, "downsample")) {
    stage.downsample = detail::parse_downsample_json(downsample->dump(), where.at("downsample"));
  }
  return stage;
}

void check_space(const SearchSpace& space, const Where& root) {
  if (space.in_chans < 1) {
    root.at("in_chans").fail(fmt::format("in_chans={} must be >= 1", space.in_chans));
  }
  for (std::size_t i = 0; i < space.stems.size(); ++i) {
    detail::check_stem(space.stems[i], root.at("stems").at(i), detail::StemOut::FromWidth);
  }
  detail::check_norm(space.norm, root.at("norm"));
  for (std::size_t s = 0; s < space.stages.size(); ++s) {
    const StageChoices& stage = space.stages[s];
    const Where at = root.at("stages").at(s);
    if (s == 0 && stage.downsample) {
      at.at("downsample").fail("stage 0 takes the stem's output and has no downsample");
    }
    if (s > 0 && !stage.downsample) {
      at.fail("missing 'downsample' (every stage after the first has one)");
    }
    if (stage.downsample) detail::check_downsample(*stage.downsample, at.at("downsample"));
    const std::int64_t narrowest = *std::min_element(stage.widths.begin(), stage.widths.end());
    for (std::size_t r = 0; r < stage.mlp_ratios.size(); ++r) {
      if (std::lround(narrowest * stage.mlp_ratios[r]) < 1) {
        at.at("mlp_ratios")
            .at(r)
            .fail(fmt::format("ratio={} gives hidden = round(width*ratio) < 1 at width={}",
                              detail::format_real(stage.mlp_ratios[r]), narrowest));
      }
    }
  }
  detail::check_head(space.head, root.at("head"));
  detail::check_space_options(space, root);
}

// ---- canonical JSON ----

template <typename T, typename Format>
std::string json_list(const std::vector<T>& values, Format format) {
  std::vector<std::string> items;
  for (const T& value : values) items.push_back(format(value));
  return fmt::format("[{}]", fmt::join(items, ","));
}

std::string choice_json(const MixerChoice& choice) {
  std::string text = fmt::format("{{\"mixer\":{}", detail::json_quote(choice.name));
  for (const auto& [name, values] : choice.params) {
    text +=
        fmt::format(",{}:{}", detail::json_quote(name),
                    json_list(values, [](const std::string& v) { return detail::json_quote(v); }));
  }
  if (!choice.head_dims.empty()) {
    text += ",\"head_dim\":" +
            json_list(choice.head_dims, [](std::int64_t v) { return std::to_string(v); });
  }
  return text + "}";
}

}  // namespace

SearchSpace parse_search_space(std::string_view json_text, std::string_view source) {
  const Where root{source, ""};
  const Json json = parse_json(json_text, root);
  require_object(json, root);
  check_keys(json, root,
             {"name", "resolutions", "in_chans", "stems", "frame", "norm", "mlp", "layer_scale",
              "stages", "head"});
  SearchSpace space;
  if (const Json* name = member(json, "name")) space.name = read_string(*name, root.at("name"));
  space.resolutions =
      read_positive_integers(required(json, "resolutions", root), root.at("resolutions"));
  if (const Json* v = member(json, "in_chans"))
    space.in_chans = read_integer(*v, root.at("in_chans"));
  const Json& stems = required(json, "stems", root);
  if (!stems.is_array() || stems.empty()) {
    root.at("stems").fail(fmt::format("expected a non-empty array, got {}", brief(stems)));
  }
  for (std::size_t i = 0; i < stems.size(); ++i) {
    StemSpec stem = detail::parse_stem_json(stems[i].dump(), root.at("stems").at(i),
                                            detail::StemOut::FromWidth);
    if (std::find(space.stems.begin(), space.stems.end(), stem) != space.stems.end()) {
      root.at("stems").at(i).fail("this stem is listed twice");
    }
    space.stems.push_back(std::move(stem));
  }
  constexpr std::string_view kFrames[] = {"metaformer", "metanext"};
  if (const Json* v = member(json, "frame"))
    space.frame = kFrames[read_word(*v, root.at("frame"), kFrames)];
  if (const Json* v = member(json, "norm"))
    space.norm = detail::parse_norm_json(v->dump(), root.at("norm"));
  if (const Json* mlp = member(json, "mlp")) {
    const Where at = root.at("mlp");
    require_object(*mlp, at);
    check_keys(*mlp, at, {"mlp", "act"});
    if (const Json* v = member(*mlp, "mlp")) {
      space.mlp_kind = detail::kMlpKinds[read_word(*v, at.at("mlp"), detail::kMlpKinds)];
    }
    if (const Json* v = member(*mlp, "act")) {
      space.mlp_act = detail::kMlpActs[read_word(*v, at.at("act"), detail::kMlpActWords)];
    }
  }
  if (const Json* v = member(json, "layer_scale")) {
    if (!v->is_boolean())
      root.at("layer_scale").fail(fmt::format("expected true or false, got {}", brief(*v)));
    space.layer_scale = v->get<bool>();
  }
  const Json& stages = required(json, "stages", root);
  if (!stages.is_array() || stages.empty()) {
    root.at("stages").fail(fmt::format("expected a non-empty array, got {}", brief(stages)));
  }
  for (std::size_t s = 0; s < stages.size(); ++s) {
    space.stages.push_back(parse_stage(stages[s], root.at("stages").at(s)));
  }
  if (const Json* head = member(json, "head")) {
    space.head = detail::parse_head_json(head->dump(), root.at("head"));
  }
  check_space(space, root);
  for (const std::int64_t resolution : space.resolutions) {
    detail::validate_arch_at(largest_arch(space), resolution,
                             fmt::format("{}: largest subnet at {}", source, resolution));
  }
  return space;
}

SearchSpace load_search_space_file(const std::string& path) {
  SearchSpace space = parse_search_space(read_text_file(path), path);
  if (space.name.empty()) space.name = std::filesystem::path(path).stem().string();
  return space;
}

std::string to_json(const SearchSpace& space) {
  std::vector<std::string> stems;
  for (const StemSpec& stem : space.stems) {
    stems.push_back(detail::stem_json(stem, detail::StemOut::FromWidth));
  }
  std::vector<std::string> stages;
  for (const StageChoices& stage : space.stages) {
    std::vector<std::string> mixers;
    for (const MixerChoice& choice : stage.mixers) mixers.push_back(choice_json(choice));
    std::string text =
        fmt::format(R"({{"depths":{},"widths":{},"mlp_ratios":{},"mixers":[{}])",
                    json_list(stage.depths, [](std::int64_t v) { return std::to_string(v); }),
                    json_list(stage.widths, [](std::int64_t v) { return std::to_string(v); }),
                    json_list(stage.mlp_ratios, [](double v) { return detail::format_real(v); }),
                    fmt::join(mixers, ","));
    if (stage.downsample) text += ",\"downsample\":" + detail::downsample_json(*stage.downsample);
    stages.push_back(text + "}");
  }
  return fmt::format(
      R"({{"name":{},"resolutions":{},"in_chans":{},"stems":[{}],"frame":{},"norm":{},)"
      R"("mlp":{{"mlp":{},"act":{}}},"layer_scale":{},"stages":[{}],"head":{}}})",
      detail::json_quote(space.name),
      json_list(space.resolutions, [](std::int64_t v) { return std::to_string(v); }),
      space.in_chans, fmt::join(stems, ","), detail::json_quote(space.frame),
      detail::norm_json(space.norm), detail::json_quote(space.mlp_kind),
      detail::json_quote(to_string(space.mlp_act)), space.layer_scale, fmt::join(stages, ","),
      detail::head_json(space.head));
}

}  // namespace hwnas
