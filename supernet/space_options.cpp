// The concrete choices of a SearchSpace: mixer options, membership, the largest subnet and the
// exact count; search_space.cpp reads and writes the JSON.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/error.hpp"
#include "supernet/big_count.hpp"
#include "supernet/search_space.hpp"
#include "supernet/spec_parts.hpp"

namespace hwnas {
namespace {

using detail::Where;

// ---- concrete mixer options ----

// The distinct map sizes of each stage over every stem and resolution of the space.
std::vector<std::vector<std::int64_t>> stage_map_sizes(const SearchSpace& space,
                                                       const Where& root) {
  std::vector<std::set<std::int64_t>> sizes(space.stages.size());
  for (std::size_t i = 0; i < space.stems.size(); ++i) {
    for (const std::int64_t resolution : space.resolutions) {
      std::int64_t size =
          detail::stem_output_size(space.stems[i], resolution, root.at("stems").at(i));
      for (std::size_t s = 0; s < space.stages.size(); ++s) {
        const Where at = root.at("stages").at(s);
        if (s > 0) {
          if (!space.stages[s].downsample) {
            at.fail("missing 'downsample' (every stage after the first has one)");
          }
          size = detail::downsample_output_size(*space.stages[s].downsample, size, resolution,
                                                at.at("downsample"));
        }
        sizes[s].insert(size);
      }
    }
  }
  std::vector<std::vector<std::int64_t>> result;
  for (const auto& set : sizes) result.emplace_back(set.begin(), set.end());
  return result;
}

// One combination of a choice's values at one width; `why` is empty when it is valid at every
// map size of its stage, else the first reason it is not.
struct Candidate {
  std::size_t choice = 0;
  std::int64_t head_dim = 0;  // 0: heads as listed
  MixerSpec spec;
  std::string why;
};

// The registry's check throws; here an invalid combination is an expected outcome (dropped), so
// the message becomes a value.
std::string why_invalid(const MixerEntry& entry, const std::vector<std::string>& assignments,
                        const std::vector<std::int64_t>& sizes, std::int64_t width,
                        MixerSpec& spec) {
  try {
    for (const std::int64_t size : sizes) {
      std::vector<std::string> at_size = assignments;
      at_size.push_back(fmt::format("h={}", size));
      at_size.push_back(fmt::format("w={}", size));
      at_size.push_back(fmt::format("c={}", width));
      const Params params = Params::parse(entry.name, entry.params, at_size);
      spec = detail::mixer_spec_from(entry, params);
      entry.check(params);
    }
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return {};
}

std::vector<Candidate> candidates(const SearchSpace& space, std::size_t stage, std::int64_t width,
                                  const std::vector<std::int64_t>& sizes) {
  std::vector<Candidate> result;
  const std::vector<MixerChoice>& choices = space.stages[stage].mixers;
  for (std::size_t c = 0; c < choices.size(); ++c) {
    const MixerChoice& choice = choices[c];
    const MixerEntry& entry = detail::mixer_entry(choice.name, {});
    std::vector<std::int64_t> head_dims = choice.head_dims;
    if (head_dims.empty()) head_dims.push_back(0);
    for (const std::int64_t head_dim : head_dims) {
      std::vector<std::string> fixed;
      if (head_dim > 0) {
        if (width % head_dim != 0) {
          result.push_back(
              {.choice = c,
               .head_dim = head_dim,
               .spec = {.name = choice.name, .params = {}},
               .why = fmt::format("head_dim={} does not divide width={}", head_dim, width)});
          continue;
        }
        fixed.push_back(fmt::format("heads={}", width / head_dim));
      }
      // Every combination of the listed values, the first parameter varying slowest.
      std::vector<std::size_t> index(choice.params.size(), 0);
      while (true) {
        std::vector<std::string> assignments = fixed;
        for (std::size_t p = 0; p < index.size(); ++p) {
          assignments.push_back(
              fmt::format("{}={}", choice.params[p].first, choice.params[p].second[index[p]]));
        }
        Candidate candidate{.choice = c, .head_dim = head_dim, .spec = {}, .why = {}};
        candidate.why = why_invalid(entry, assignments, sizes, width, candidate.spec);
        if (candidate.spec.name.empty()) candidate.spec.name = choice.name;
        result.push_back(std::move(candidate));
        std::size_t p = index.size();
        while (p > 0 && ++index[p - 1] == choice.params[p - 1].second.size()) index[--p] = 0;
        if (p == 0) break;
      }
    }
  }
  return result;
}

std::vector<MixerSpec> valid_options(const std::vector<Candidate>& all) {
  std::vector<MixerSpec> options;
  for (const Candidate& candidate : all) {
    if (!candidate.why.empty()) continue;
    if (std::find(options.begin(), options.end(), candidate.spec) == options.end()) {
      options.push_back(candidate.spec);
    }
  }
  return options;
}

}  // namespace

namespace detail {

void check_space_options(const SearchSpace& space, const Where& root) {
  const std::vector<std::vector<std::int64_t>> sizes = stage_map_sizes(space, root);
  for (std::size_t s = 0; s < space.stages.size(); ++s) {
    const StageChoices& stage = space.stages[s];
    const Where at = root.at("stages").at(s);
    std::set<std::tuple<std::size_t, std::string, std::string>> used;
    std::map<std::tuple<std::size_t, std::string, std::string>, std::string> why_not;
    for (const std::int64_t width : stage.widths) {
      const std::vector<Candidate> all = candidates(space, s, width, sizes[s]);
      if (valid_options(all).empty()) {
        at.at("widths").fail(fmt::format("no mixer option is valid at width {}: {}", width,
                                         all.empty() ? "" : all.front().why));
      }
      for (const Candidate& candidate : all) {
        std::vector<std::tuple<std::size_t, std::string, std::string>> keys;
        // A candidate refused before its Params were read has no values to credit.
        if (!candidate.spec.params.empty()) {
          for (const auto& [name, values] : stage.mixers[candidate.choice].params) {
            keys.emplace_back(candidate.choice, name, candidate.spec.param(name));
          }
        }
        if (candidate.head_dim > 0) {
          keys.emplace_back(candidate.choice, "head_dim", std::to_string(candidate.head_dim));
        }
        for (const auto& key : keys) {
          if (candidate.why.empty()) used.insert(key);
          why_not.emplace(key, fmt::format("at width {}: {}", width, candidate.why));
        }
      }
    }
    for (std::size_t c = 0; c < stage.mixers.size(); ++c) {
      const MixerChoice& choice = stage.mixers[c];
      auto check = [&](const std::string& name, const std::string& value, const Where& where) {
        const auto key = std::make_tuple(c, name, value);
        if (used.count(key) > 0) return;
        const auto reason = why_not.find(key);
        where.fail(fmt::format("{} {}={} is valid at no width of the stage ({}){}{}", choice.name,
                               name, value, fmt::join(stage.widths, ", "),
                               reason == why_not.end() ? "" : "; ",
                               reason == why_not.end() ? "" : reason->second));
      };
      const Where choice_at = at.at("mixers").at(c);
      for (const auto& [name, values] : choice.params) {
        for (const std::string& value : values) check(name, value, choice_at.at(name));
      }
      for (const std::int64_t head_dim : choice.head_dims) {
        check("head_dim", std::to_string(head_dim), choice_at.at("head_dim"));
      }
    }
  }
}

}  // namespace detail

namespace {

// The first mismatch of a block's mixer with the stage's choices, for is_subnet_of.
std::string explain_mixer(const StageChoices& stage, std::size_t s, std::int64_t width,
                          const MixerSpec& mixer) {
  const auto choice = std::find_if(stage.mixers.begin(), stage.mixers.end(),
                                   [&](const MixerChoice& c) { return c.name == mixer.name; });
  if (choice == stage.mixers.end()) {
    std::vector<std::string_view> names;
    for (const MixerChoice& c : stage.mixers) names.push_back(c.name);
    return fmt::format("mixer {} is not allowed in stage {} (allowed: {})", mixer.name, s,
                       fmt::join(names, ", "));
  }
  const MixerEntry& entry = detail::mixer_entry(mixer.name, {});
  for (const auto& [name, value] : mixer.params) {
    if (name == "heads" && !choice->head_dims.empty()) {
      const bool derived = std::any_of(
          choice->head_dims.begin(), choice->head_dims.end(),
          [&](std::int64_t head_dim) { return fmt::format("{}", width / head_dim) == value; });
      if (!derived) {
        return fmt::format("{} heads={} is not width/head_dim for width={} and head_dim in {{{}}}",
                           mixer.name, value, width, fmt::join(choice->head_dims, ", "));
      }
      continue;
    }
    const auto listed = std::find_if(choice->params.begin(), choice->params.end(),
                                     [&](const auto& p) { return p.first == name; });
    if (listed != choice->params.end()) {
      if (std::find(listed->second.begin(), listed->second.end(), value) == listed->second.end()) {
        return fmt::format("{} {}={} not in {{{}}}", mixer.name, name, value,
                           fmt::join(listed->second, ", "));
      }
      continue;
    }
    const auto spec = std::find_if(entry.params.begin(), entry.params.end(),
                                   [&](const ParamSpec& p) { return p.name == name; });
    const std::string fallback =
        spec == entry.params.end()
            ? std::string()
            : detail::canonical_param_value(entry, name, spec->default_value, {});
    if (value != fallback) {
      return fmt::format("{} {}={}: the space fixes it at its default {}", mixer.name, name, value,
                         fallback);
    }
  }
  return fmt::format("{} is not an option of stage {} at width {}", detail::describe(mixer), s,
                     width);
}

std::string subnet_mismatch(const Arch& arch, const SearchSpace& space) {
  if (arch.in_chans != space.in_chans) {
    return fmt::format("in_chans={} but the space has in_chans={}", arch.in_chans, space.in_chans);
  }
  if (arch.stages.size() != space.stages.size()) {
    return fmt::format("the arch has {} stages, the space {}", arch.stages.size(),
                       space.stages.size());
  }
  const bool stem_found = std::any_of(space.stems.begin(), space.stems.end(), [&](StemSpec stem) {
    stem.convs.back().out = arch.stages[0].width;
    return stem == arch.stem;
  });
  if (!stem_found) {
    return fmt::format("stem: {} is none of the space's {} stems",
                       detail::stem_json(arch.stem, detail::StemOut::Required), space.stems.size());
  }
  for (std::size_t s = 0; s < arch.stages.size(); ++s) {
    const StageSpec& stage = arch.stages[s];
    const StageChoices& choices = space.stages[s];
    const std::string at = fmt::format("stages[{}]", s);
    const auto depth = static_cast<std::int64_t>(stage.blocks.size());
    if (std::find(choices.widths.begin(), choices.widths.end(), stage.width) ==
        choices.widths.end()) {
      return fmt::format("{}: width {} not in {{{}}}", at, stage.width,
                         fmt::join(choices.widths, ", "));
    }
    if (std::find(choices.depths.begin(), choices.depths.end(), depth) == choices.depths.end()) {
      return fmt::format("{}: depth {} not in {{{}}}", at, depth, fmt::join(choices.depths, ", "));
    }
    if (stage.downsample != choices.downsample) {
      return fmt::format(
          "{}.downsample: differs from the space's {}", at,
          choices.downsample ? detail::downsample_json(*choices.downsample) : "(none)");
    }
    const std::vector<MixerSpec> options = mixer_options(space, s, stage.width);
    for (std::size_t b = 0; b < stage.blocks.size(); ++b) {
      const std::string block_at = fmt::format("{}.blocks[{}]", at, b);
      const MixerSpec* mixer = nullptr;
      const MlpSpec* mlp = nullptr;
      for (const UnitSpec& unit : stage.blocks[b].units) {
        for (const UnitOp& op : unit.ops) {
          if (op.mixer && mixer == nullptr) mixer = &*op.mixer;
          if (op.mlp && mlp == nullptr) mlp = &*op.mlp;
        }
      }
      if (mixer == nullptr || mlp == nullptr ||
          stage.blocks[b] != make_block(space, *mixer, mlp->ratio)) {
        return fmt::format(
            "{}: not the space's block ({} frame, norm {}, mlp {} with {}, layer "
            "scale {})",
            block_at, space.frame, to_string(space.norm.kind), space.mlp_kind,
            to_string(space.mlp_act), space.layer_scale ? "on" : "off");
      }
      if (std::find(choices.mlp_ratios.begin(), choices.mlp_ratios.end(), mlp->ratio) ==
          choices.mlp_ratios.end()) {
        return fmt::format("{}: mlp ratio {} not in {{{}}}", block_at,
                           detail::format_real(mlp->ratio), fmt::join(choices.mlp_ratios, ", "));
      }
      if (std::find(options.begin(), options.end(), *mixer) == options.end()) {
        return fmt::format("{}: {}", block_at, explain_mixer(choices, s, stage.width, *mixer));
      }
    }
  }
  if (arch.head != space.head) {
    return fmt::format("head: {} differs from the space's {}", detail::head_json(arch.head),
                       detail::head_json(space.head));
  }
  return {};
}

}  // namespace

bool is_subnet_of(const Arch& arch, const SearchSpace& space, std::string* why) {
  std::string reason = subnet_mismatch(arch, space);
  const bool ok = reason.empty();
  if (why != nullptr) *why = std::move(reason);
  return ok;
}

std::vector<MixerSpec> mixer_options(const SearchSpace& space, std::size_t stage,
                                     std::int64_t width) {
  if (stage >= space.stages.size()) {
    throw InvalidArgument(fmt::format("mixer_options: stage {} of a space with {} stages", stage,
                                      space.stages.size()));
  }
  const Where root{};
  return valid_options(candidates(space, stage, width, stage_map_sizes(space, root)[stage]));
}

BlockSpec make_block(const SearchSpace& space, const MixerSpec& mixer, double mlp_ratio) {
  const UnitOp norm{.norm = space.norm};
  const UnitOp mix{.mixer = mixer};
  const UnitOp mlp{.mlp =
                       MlpSpec{.kind = space.mlp_kind, .ratio = mlp_ratio, .act = space.mlp_act}};
  if (space.frame == "metanext") {
    return {.units = {{.ops = {mix, norm, mlp}, .layer_scale = space.layer_scale}}};
  }
  return {.units = {{.ops = {norm, mix}, .layer_scale = space.layer_scale},
                    {.ops = {norm, mlp}, .layer_scale = space.layer_scale}}};
}

Arch largest_arch(const SearchSpace& space) {
  Arch arch{.name = space.name.empty() ? "largest" : space.name + "_largest",
            .in_chans = space.in_chans,
            .stem = space.stems.front(),
            .stages = {},
            .head = space.head};
  for (std::size_t s = 0; s < space.stages.size(); ++s) {
    const StageChoices& choices = space.stages[s];
    const std::int64_t width = *std::max_element(choices.widths.begin(), choices.widths.end());
    const std::int64_t depth = *std::max_element(choices.depths.begin(), choices.depths.end());
    const double ratio = *std::max_element(choices.mlp_ratios.begin(), choices.mlp_ratios.end());
    const std::vector<MixerSpec> options = mixer_options(space, s, width);
    if (options.empty()) {
      throw InvalidArgument(
          fmt::format("largest_arch: stage {} has no mixer option at width {}", s, width));
    }
    StageSpec stage{.width = width, .downsample = choices.downsample, .blocks = {}};
    stage.blocks.assign(static_cast<std::size_t>(depth), make_block(space, options.front(), ratio));
    arch.stages.push_back(std::move(stage));
  }
  arch.stem.convs.back().out = arch.stages.front().width;
  return arch;
}

std::string space_size(const SearchSpace& space) {
  detail::BigCount total(space.stems.size());
  for (std::size_t s = 0; s < space.stages.size(); ++s) {
    const StageChoices& stage = space.stages[s];
    const std::int64_t deepest = *std::max_element(stage.depths.begin(), stage.depths.end());
    detail::BigCount stage_total(0);
    for (const std::int64_t width : stage.widths) {
      // Each block picks a mixer and an MLP ratio independently: blocks^depth per depth.
      const std::uint64_t per_block =
          mixer_options(space, s, width).size() * stage.mlp_ratios.size();
      detail::BigCount power(1);
      for (std::int64_t depth = 1; depth <= deepest; ++depth) {
        power = power * detail::BigCount(per_block);
        if (std::find(stage.depths.begin(), stage.depths.end(), depth) != stage.depths.end()) {
          stage_total += power;
        }
      }
    }
    total = total * stage_total;
  }
  return total.decimal();
}

double space_size_log10(const SearchSpace& space) {
  const std::string digits = space_size(space);
  const std::size_t lead = std::min<std::size_t>(digits.size(), 17);
  return std::log10(std::stod(digits.substr(0, lead))) + static_cast<double>(digits.size() - lead);
}

}  // namespace hwnas
