#include "bench/sweep_grid.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <unordered_set>
#include <utility>

#include "bench/op_registry.hpp"
#include "kernels/error.hpp"

namespace hwnas {
namespace {

// ordered_json keeps the file's order of keys: the points come out in the order they are written.
using Json = nlohmann::ordered_json;

// Messages start with the grid's source and say where in it: a JSON path, or a block and its op.
struct Where {
  std::string_view source;
  std::string at;

  [[noreturn]] void fail(std::string_view message) const {
    if (at.empty()) throw InvalidArgument(fmt::format("{}: {}", source, message));
    throw InvalidArgument(fmt::format("{}: {}: {}", source, at, message));
  }
  Where field(std::string_view name) const { return {source, fmt::format("{}/{}", at, name)}; }
};

void check_fields(const Where& where, const Json& object,
                  std::initializer_list<std::string_view> known) {
  if (!object.is_object()) where.fail(fmt::format("{} is not an object", object.dump()));
  for (const auto& item : object.items()) {
    if (std::find(known.begin(), known.end(), item.key()) == known.end()) {
      where.field(item.key())
          .fail(fmt::format("unknown field '{}'; known: {}", item.key(), fmt::join(known, ", ")));
    }
  }
}

std::int64_t positive_integer(const Where& where, const Json& value) {
  if (!value.is_number_integer() || value.get<std::int64_t>() < 1) {
    where.fail(fmt::format("{} is not an integer >= 1", value.dump()));
  }
  return value.get<std::int64_t>();
}

// A value or a list of values, as a list.
std::vector<Json> as_list(const Where& where, const Json& value) {
  if (!value.is_array()) return {value};
  if (value.empty()) where.fail("an empty list gives no points");
  return {value.begin(), value.end()};
}

// A parameter value as the text Params parses: integers and reals as JSON writes them (reals in the
// shortest form that round-trips), words as they are.
std::string value_text(const Where& where, const Json& value) {
  if (value.is_number() || value.is_string())
    return value.is_string() ? value.get<std::string>() : value.dump();
  where.fail(fmt::format("{} is not a number or a word", value.dump()));
}

using Vars = std::vector<std::pair<std::string, std::string>>;
using Assignments = std::vector<std::pair<std::string, std::string>>;

Vars parse_vars(const Where& where, const Json& vars) {
  if (!vars.is_object()) where.fail(fmt::format("{} is not an object", vars.dump()));
  Vars out;
  for (const auto& item : vars.items())
    out.emplace_back(item.key(), value_text(where.field(item.key()), item.value()));
  return out;
}

// One input shape a block is crossed with: a named shape of the grid or a rung of a ladder.
struct Instance {
  std::string label;  // "shape stage1", "ladder res=224 (14x14)"; empty for a block with neither
  Assignments params;
  Vars vars;
};

struct GridShape {
  std::string name;
  Assignments params;
  Vars vars;
};

std::vector<GridShape> parse_shapes(const Where& where, const Json& shapes) {
  if (!shapes.is_object())
    where.fail(fmt::format("{} is not an object of named shapes", shapes.dump()));
  std::vector<GridShape> out;
  for (const auto& item : shapes.items()) {
    const Where at = where.field(item.key());
    if (!item.value().is_object()) at.fail(fmt::format("{} is not an object", item.value().dump()));
    GridShape shape{.name = item.key()};
    for (const auto& p : item.value().items()) {
      if (p.key() == "vars") {
        shape.vars = parse_vars(at.field("vars"), p.value());
      } else {
        shape.params.emplace_back(p.key(), value_text(at.field(p.key()), p.value()));
      }
    }
    out.push_back(std::move(shape));
  }
  return out;
}

// A resolution ladder: the map of one stage of a backbone with a stride-`patch` stem and a 2x
// downsampling before each later stage, at each input resolution.
std::vector<Instance> parse_ladder(const Where& where, const Json& ladder) {
  check_fields(where, ladder, {"res", "stage", "c", "patch", "vars"});
  for (const char* required : {"res", "stage", "c"}) {
    if (!ladder.contains(required)) where.fail(fmt::format("missing field '{}'", required));
  }
  const std::int64_t stage = positive_integer(where.field("stage"), ladder["stage"]);
  const std::int64_t c = positive_integer(where.field("c"), ladder["c"]);
  const std::int64_t patch =
      ladder.contains("patch") ? positive_integer(where.field("patch"), ladder["patch"]) : 4;
  constexpr std::int64_t kMaxStage = 8;
  if (stage > kMaxStage)
    where.field("stage").fail(fmt::format("stage={} must be <= {}", stage, kMaxStage));
  const std::int64_t stride = patch << (stage - 1);
  const Vars vars =
      ladder.contains("vars") ? parse_vars(where.field("vars"), ladder["vars"]) : Vars{};
  std::vector<Instance> out;
  for (const Json& r : as_list(where.field("res"), ladder["res"])) {
    const std::int64_t res = positive_integer(where.field("res"), r);
    if (res % stride != 0) {
      where.field("res").fail(
          fmt::format("res={} is not a multiple of stage {}'s stride {} (patch {} x 2^{})", res,
                      stage, stride, patch, stage - 1));
    }
    const std::string side = std::to_string(res / stride);
    out.push_back({.label = fmt::format("ladder res={} ({}x{})", res, side, side),
                   .params = {{"h", side}, {"w", side}, {"c", std::to_string(c)}},
                   .vars = vars});
  }
  return out;
}

bool has_param(const OpEntry& op, std::string_view name) {
  return std::any_of(op.params.begin(), op.params.end(),
                     [&](const ParamSpec& p) { return p.name == name; });
}

// NHWC ops (mixers, layers, conv2d, ...) take the grid's batch as n; linear's n is a width, which
// is why the test is all four names and not n alone.
bool is_nhwc(const OpEntry& op) {
  return has_param(op, "n") && has_param(op, "h") && has_param(op, "w") && has_param(op, "c");
}

// Adds the block's points to `points`, skipping keys already in `seen`.
void expand_block(std::string_view source, std::size_t index, const Json& block,
                  const std::vector<GridShape>& shapes, const std::vector<std::string>& batch,
                  std::vector<SweepPoint>& points, std::unordered_set<std::string>& seen) {
  const Where json_at{source, fmt::format("/blocks/{}", index)};
  check_fields(json_at, block, {"op", "params", "shapes", "ladder", "note"});
  if (!block.contains("op") || !block["op"].is_string())
    json_at.fail("missing field 'op' (an op name)");
  const std::string op_name = block["op"].get<std::string>();
  // Past this point messages name the block by index and op, which is how a reader finds it.
  const Where at{source, fmt::format("block {} ({})", index, op_name)};
  const OpEntry* op = nullptr;
  try {
    op = &find_op(op_name);
  } catch (const InvalidArgument& e) {  // find_op words it for the CLI; add where the name is
    at.fail(e.what());
  }

  std::vector<Instance> instances;
  if (block.contains("shapes") && block.contains("ladder"))
    at.fail("give 'shapes' or 'ladder', not both");
  if (block.contains("shapes")) {
    for (const Json& name : as_list(at.field("shapes"), block["shapes"])) {
      if (!name.is_string())
        at.field("shapes").fail(fmt::format("{} is not a shape name", name.dump()));
      const auto it = std::find_if(shapes.begin(), shapes.end(),
                                   [&](const GridShape& s) { return s.name == name; });
      if (it == shapes.end()) {
        std::vector<std::string_view> known;
        for (const GridShape& s : shapes) known.push_back(s.name);
        at.field("shapes").fail(fmt::format("shape '{}' is not defined in /shapes (defined: {})",
                                            name.get<std::string>(), fmt::join(known, ", ")));
      }
      instances.push_back({.label = "shape " + it->name, .params = it->params, .vars = it->vars});
    }
  } else if (block.contains("ladder")) {
    instances = parse_ladder(at.field("ladder"), block["ladder"]);
  } else {
    instances.push_back({});
  }
  const Json params = block.contains("params") ? block["params"] : Json::object();
  if (!params.is_object())
    at.field("params").fail(fmt::format("{} is not an object", params.dump()));

  for (const Instance& instance : instances) {
    const Where point_at{
        source, instance.label.empty() ? at.at : fmt::format("{} {}", at.at, instance.label)};
    // Each axis: a parameter and its values, crossed with every other axis.
    std::vector<std::pair<std::string, std::vector<std::string>>> axes;
    for (const auto& item : params.items()) {
      const Where field_at = point_at.field("params").field(item.key());
      const auto clash = std::find_if(instance.params.begin(), instance.params.end(),
                                      [&](const auto& p) { return p.first == item.key(); });
      if (clash != instance.params.end()) {
        field_at.fail(fmt::format("'{}' is set by both the block's params and its {}", item.key(),
                                  instance.label));
      }
      std::vector<std::string> texts;
      for (const Json& v : as_list(field_at, item.value())) {
        std::string text = value_text(field_at, v);
        if (text.starts_with('$')) {
          const auto var = std::find_if(instance.vars.begin(), instance.vars.end(),
                                        [&](const auto& p) { return p.first == text.substr(1); });
          if (var == instance.vars.end()) {
            std::vector<std::string_view> known;
            for (const auto& [name, value] : instance.vars) known.push_back(name);
            field_at.fail(fmt::format("{} is not defined by {} (vars: {})", text,
                                      instance.label.empty() ? "a shape" : instance.label,
                                      fmt::join(known, ", ")));
          }
          text = var->second;
        }
        texts.push_back(std::move(text));
      }
      axes.emplace_back(item.key(), std::move(texts));
    }
    const bool nhwc = is_nhwc(*op);
    const bool sets_n =
        std::any_of(axes.begin(), axes.end(), [](const auto& a) { return a.first == "n"; }) ||
        std::any_of(instance.params.begin(), instance.params.end(),
                    [](const auto& p) { return p.first == "n"; });
    if (nhwc && !sets_n) axes.emplace_back("n", batch);

    // An odometer over the axes, the last one turning fastest.
    std::vector<std::size_t> digit(axes.size(), 0);
    while (true) {
      SweepPoint point{.op = op->name, .where = point_at.at};
      for (const auto& [name, value] : instance.params)
        point.assignments.push_back(name + "=" + value);
      for (std::size_t a = 0; a < axes.size(); ++a) {
        const std::string& value = axes[a].second[digit[a]];
        point.assignments.push_back(axes[a].first + "=" + value);
        if (nhwc && axes[a].first == "n")
          std::from_chars(value.data(), value.data() + value.size(), point.batch);
      }
      try {
        point.key = workload_key(op->name, point.assignments);
      } catch (const InvalidArgument& e) {  // the op words the rule; the grid adds where it is
        point_at.fail(e.what());
      }
      if (seen.insert(point.key).second) {
        points.push_back(std::move(point));
        if (points.size() > kMaxGridPoints) {
          point_at.fail(fmt::format("the grid has more than {} points; split it", kMaxGridPoints));
        }
      }
      std::size_t a = axes.size();
      while (a > 0 && ++digit[a - 1] == axes[a - 1].second.size()) digit[--a] = 0;
      if (a == 0) break;
    }
  }
}

}  // namespace

std::vector<SweepPoint> expand_grid(std::string_view text, std::string_view source) {
  const Where root{source, ""};
  Json grid;
  try {
    grid = Json::parse(text);
  } catch (const Json::parse_error& e) {
    throw InvalidArgument(fmt::format("{}: not valid JSON: {}", source, e.what()));
  }
  if (!grid.is_object()) root.fail("a grid is a JSON object with a list of blocks (docs/sweep.md)");
  check_fields(root, grid, {"name", "description", "batch", "shapes", "blocks"});
  for (const char* word : {"name", "description"}) {
    if (grid.contains(word) && !grid[word].is_string()) root.field(word).fail("must be a string");
  }
  std::vector<std::string> batch = {"1"};
  if (grid.contains("batch")) {
    batch.clear();
    for (const Json& b : as_list(root.field("batch"), grid["batch"])) {
      batch.push_back(std::to_string(positive_integer(root.field("batch"), b)));
    }
  }
  const std::vector<GridShape> shapes = grid.contains("shapes")
                                            ? parse_shapes(root.field("shapes"), grid["shapes"])
                                            : std::vector<GridShape>{};
  if (!grid.contains("blocks") || !grid["blocks"].is_array() || grid["blocks"].empty()) {
    root.field("blocks").fail("missing or empty: a grid needs a list of blocks");
  }
  std::vector<SweepPoint> points;
  std::unordered_set<std::string> seen;
  for (std::size_t i = 0; i < grid["blocks"].size(); ++i) {
    expand_block(source, i, grid["blocks"][i], shapes, batch, points, seen);
  }
  return points;
}

std::vector<SweepPoint> load_grid(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(fmt::format("cannot read grid file {}", path));
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) throw IoError(fmt::format("cannot read grid file {}", path));
  return expand_grid(text.str(), path);
}

std::uint64_t fnv1a64(std::string_view bytes) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;  // the FNV-1a 64-bit offset basis and prime
  for (const char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

std::string points_digest(std::span<const SweepPoint> points) {
  std::string keys;
  for (const SweepPoint& p : points) keys += p.key + "\n";
  return fmt::format("{:016x}", fnv1a64(keys));
}

Shard parse_shard(std::string_view text) {
  const auto bad = [&](std::string_view rule) {
    throw InvalidArgument(fmt::format("--shard {}: {}", text, rule));
  };
  const std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) bad("must be i/N, e.g. 0/4");
  const auto number = [&](std::string_view part) {
    int value = 0;
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
    if (part.empty() || ec != std::errc{} || end != part.data() + part.size())
      bad("must be i/N with integers i and N");
    return value;
  };
  const Shard shard{.index = number(text.substr(0, slash)),
                    .count = number(text.substr(slash + 1))};
  if (shard.count < 1) bad(fmt::format("N={} must be >= 1", shard.count));
  if (shard.index < 0 || shard.index >= shard.count)
    bad(fmt::format("i={} must be in [0, N-1 = {}]", shard.index, shard.count - 1));
  return shard;
}

std::string to_string(const Shard& shard) { return fmt::format("{}/{}", shard.index, shard.count); }

std::vector<SweepPoint> shard_points(std::span<const SweepPoint> points, const Shard& shard) {
  if (shard.count < 1 || shard.index < 0 || shard.index >= shard.count) {
    throw InvalidArgument(fmt::format("shard {}: must be i/N with 0 <= i < N", to_string(shard)));
  }
  std::vector<SweepPoint> out;
  for (const SweepPoint& p : points) {
    if (fnv1a64(p.key) % static_cast<std::uint64_t>(shard.count) ==
        static_cast<std::uint64_t>(shard.index)) {
      out.push_back(p);
    }
  }
  return out;
}

}  // namespace hwnas
