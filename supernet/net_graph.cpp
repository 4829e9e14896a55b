#include "supernet/net_graph.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "kernels/error.hpp"

namespace hwnas::net {

GraphBuilder::GraphBuilder(const Shape& input) { graph_.values.push_back(input); }

int GraphBuilder::add(NetOp op, const Shape& out_shape) {
  for (const WeightUse& w : op.weights) {
    if (!store_names_.insert(w.store_name).second) {
      throw InvalidArgument(fmt::format(
          "{}: weight '{}' is already taken by an earlier op (one op of each kind per unit)",
          op.name, w.store_name));
    }
  }
  graph_.values.push_back(out_shape);
  op.out = static_cast<int>(graph_.values.size()) - 1;
  current_ = op.out;
  graph_.ops.push_back(std::move(op));
  return current_;
}

NetGraph GraphBuilder::finish() && { return std::move(graph_); }

void with_path(std::string_view path, const std::function<void()>& f) {
  try {
    f();
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(fmt::format("{}: {}", path, e.what()));
  } catch (const Unsupported& e) {
    throw Unsupported(fmt::format("{}: {}", path, e.what()));
  }
}

bool keeps_sign(Activation act) {
  return act == Activation::Relu || act == Activation::GeluErf || act == Activation::GeluTanh ||
         act == Activation::Silu || act == Activation::Hardswish;
}

Nhwc nhwc_of(const Shape& shape) {
  if (shape.rank() == 2) return {.n = shape[0], .h = 1, .w = 1, .c = shape[1]};
  return {.n = shape[0], .h = shape[1], .w = shape[2], .c = shape[3]};
}

NetGraph describe_arch(const Arch& arch, std::int64_t resolution, std::int64_t batch) {
  if (resolution < 1 || batch < 1) {
    throw InvalidArgument(
        fmt::format("subnet: resolution={} and batch={} must be >= 1", resolution, batch));
  }
  if (arch.stages.empty()) throw InvalidArgument("subnet: an arch needs at least one stage");
  GraphBuilder builder({batch, resolution, resolution, arch.in_chans});
  with_path("stem", [&] { add_stem(builder, arch.stem); });
  for (std::size_t s = 0; s < arch.stages.size(); ++s) {
    const StageSpec& stage = arch.stages[s];
    if (stage.downsample) {
      with_path(fmt::format("stages[{}].downsample", s),
                [&] { add_downsample(builder, s, *stage.downsample, stage.width); });
    }
    const std::int64_t c = nhwc_of(builder.shape(builder.current())).c;
    if (c != stage.width) {
      throw InvalidArgument(fmt::format(
          "stages[{}]: width={} but the {} before it gives c={} (a stage without a downsample "
          "keeps the width)",
          s, stage.width, s == 0 ? "stem" : "stage", c));
    }
    for (std::size_t b = 0; b < stage.blocks.size(); ++b) {
      add_block(builder, s, b, stage.blocks[b]);
    }
  }
  with_path("head", [&] { add_head(builder, arch.head); });
  return std::move(builder).finish();
}

BufferPlan assign_buffers(const NetGraph& g) {
  const int values = static_cast<int>(g.values.size());
  const int logits = g.ops.back().out;
  std::vector<int> last_use(static_cast<std::size_t>(values), -1);
  for (std::size_t i = 0; i < g.ops.size(); ++i) {
    last_use[static_cast<std::size_t>(g.ops[i].in)] = static_cast<int>(i);
    if (g.ops[i].residual >= 0)
      last_use[static_cast<std::size_t>(g.ops[i].residual)] = static_cast<int>(i);
  }
  BufferPlan plan{.buffer_of = std::vector<int>(static_cast<std::size_t>(values), -1)};
  std::vector<int> holder;  // the value each buffer holds last
  const auto internal = [&](int v) { return v != 0 && v != logits; };
  for (std::size_t i = 0; i < g.ops.size(); ++i) {
    const NetOp& op = g.ops[i];
    if (!internal(op.out)) continue;
    const std::int64_t need = g.values[static_cast<std::size_t>(op.out)].numel();
    int chosen = -1;
    if (op.in_place) {
      for (const int v : {op.in, op.residual}) {
        if (chosen < 0 && v >= 0 && internal(v) &&
            last_use[static_cast<std::size_t>(v)] == static_cast<int>(i)) {
          chosen = plan.buffer_of[static_cast<std::size_t>(v)];
        }
      }
    }
    if (chosen < 0) {
      // Best fit among buffers whose value is dead before this op; else the largest, grown.
      for (std::size_t b = 0; b < holder.size(); ++b) {
        if (last_use[static_cast<std::size_t>(holder[b])] >= static_cast<int>(i)) continue;
        const auto fits = [&](std::size_t k) { return plan.capacity[k] >= need; };
        if (chosen < 0) {
          chosen = static_cast<int>(b);
          continue;
        }
        const auto c = static_cast<std::size_t>(chosen);
        const bool better = fits(b) ? (!fits(c) || plan.capacity[b] < plan.capacity[c])
                                    : (!fits(c) && plan.capacity[b] > plan.capacity[c]);
        if (better) chosen = static_cast<int>(b);
      }
    }
    if (chosen < 0) {
      chosen = static_cast<int>(holder.size());
      holder.push_back(op.out);
      plan.capacity.push_back(0);
    }
    const auto b = static_cast<std::size_t>(chosen);
    holder[b] = op.out;
    plan.capacity[b] = std::max(plan.capacity[b], need);
    plan.buffer_of[static_cast<std::size_t>(op.out)] = chosen;
  }
  return plan;
}

}  // namespace hwnas::net
