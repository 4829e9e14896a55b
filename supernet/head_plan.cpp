// The classifier head of the walk (net_graph.hpp; docs/arch.md "Head"): the norm before the global
// average pool (Swin, NAT, PoolFormer) or after it (ConvNeXt, HorNet), an optional hidden layer
// fc1 -> act -> hidden_norm (MetaFormer's MlpHead, FasterNet's 1x1 conv to 1280), then the
// classifier Linear. The hidden activation is fused into fc1 (LinearPlan takes any activation but
// StarReLU, which has no weights here).
#include <fmt/format.h>

#include "kernels/error.hpp"
#include "kernels/ops/global_avg_pool.hpp"
#include "kernels/ops/linear.hpp"
#include "supernet/net_graph.hpp"

namespace hwnas::net {
namespace {

void add_linear(GraphBuilder& builder, const std::string& name, std::int64_t out, Activation act) {
  const Nhwc s = nhwc_of(builder.shape(builder.current()));
  const LinearDesc d{.m = s.n, .k = s.c, .n = out, .act = act};
  check(d);
  NetOp op{.name = name,
           .kind = "head",
           .key = to_string(d),
           .cost = cost(d),
           .in = builder.current(),
           .observed = keeps_sign(act) ? Observed::Output : Observed::None};
  op.weights = {
      {.store_name = name + ".weight",
       .spec = {.name = "weight", .shape = linear_weights_shape(d), .kind = WeightKind::Matrix}},
      {.store_name = name + ".bias",
       .spec = {.name = "bias", .shape = {out}, .kind = WeightKind::Bias}}};
  op.create = [d](const Engine& engine, const MixerWeights& w) {
    const std::string key = to_string(d);
    return make_step(LinearPlan::create(engine, d, w.get("weight", key), w.get("bias", key)));
  };
  builder.add(std::move(op), {s.n, out});
}

}  // namespace

void add_head(GraphBuilder& builder, const HeadSpec& head) {
  if (head.num_classes < 1) {
    throw InvalidArgument(fmt::format("num_classes={} must be >= 1", head.num_classes));
  }
  if (head.hidden < 0) throw InvalidArgument(fmt::format("hidden={} must be >= 0", head.hidden));
  if (head.hidden > 0 && head.hidden_act == Activation::StarRelu) {
    throw InvalidArgument(
        "hidden_act=star_relu is not supported (its scale and bias have no weight names)");
  }
  const bool before = head.norm && head.norm_place == HeadNormPlace::BeforePool;
  if (before) with_path("norm", [&] { add_norm(builder, "head.norm", "head.norm.", *head.norm); });
  const Nhwc s = nhwc_of(builder.shape(builder.current()));
  const GlobalAvgPoolDesc pool{.n = s.n, .h = s.h, .w = s.w, .c = s.c};
  check(pool);
  NetOp op{.name = "head.pool",
           .kind = "head",
           .key = to_string(pool),
           .cost = cost(pool),
           .in = builder.current()};
  op.create = [pool](const Engine& engine, const MixerWeights&) {
    return make_step(GlobalAvgPoolPlan::create(engine, pool));
  };
  builder.add(std::move(op), {s.n, s.c});
  if (head.norm && !before) {
    with_path("norm", [&] { add_norm(builder, "head.norm", "head.norm.", *head.norm); });
  }
  if (head.hidden > 0) {
    add_linear(builder, "head.fc1", head.hidden, head.hidden_act);
    if (head.hidden_norm) {
      with_path("hidden_norm", [&] {
        add_norm(builder, "head.hidden_norm", "head.hidden_norm.", *head.hidden_norm);
      });
    }
  }
  add_linear(builder, "head.fc", head.num_classes, Activation::None);
}

}  // namespace hwnas::net
