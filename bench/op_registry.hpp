// Every op that `hwnas bench-op` and hwnas_micro can time, by name, with its parameters.
//
// An entry turns validated Params into a Workload: random inputs (seeded), a prepared plan and
// allocated outputs, so timing a workload times the plan's run() alone (STYLE.md §5).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kernels/engine.hpp"
#include "kernels/op_cost.hpp"
#include "kernels/params.hpp"

namespace hwnas {

struct Workload {
  std::string key;                 // canonical key of the op config
  std::vector<std::pair<std::string, std::string>> params;  // every parameter, (name, text)
  OpCost cost;
  std::string impl;                // implementation that runs, e.g. "onednn:brg:avx512_core"
  double working_set_bytes = 0;    // bytes touched by one run: picks the roofline's memory level
  std::function<void()> run;       // one execution of the plan; owns nothing
  std::shared_ptr<void> resources; // the plan and tensors run() uses
};

struct OpEntry {
  std::string name;
  std::string summary;
  std::span<const ParamSpec> params;
  std::function<Workload(const Engine&, const Params&, std::uint64_t seed)> make;
  // Runs every check make() runs before it allocates (the op's own rules: heads dividing c, an odd
  // kernel, ...) and returns the key make()'s Workload carries. Cheap: no tensors, no plan, so a
  // sweep can validate a whole grid up front. Throws InvalidArgument as make() would.
  std::function<std::string(const Params&)> check;
};

std::span<const OpEntry> op_registry();
// Throws InvalidArgument naming the op and listing the known names.
const OpEntry& find_op(std::string_view name);

// Builds a workload from "name" and "key=value" assignments (the CLI's words).
Workload make_workload(const Engine& engine, std::string_view op, std::span<const std::string> assignments,
                       std::uint64_t seed);

// The key make_workload(engine, op, assignments, seed) would give, after the same validation,
// without allocating tensors or preparing a plan. Throws InvalidArgument as make_workload does.
std::string workload_key(std::string_view op, std::span<const std::string> assignments);

// One op config of a suite: the op name and its key=value assignments.
struct SuiteEntry {
  std::string op;
  std::vector<std::string> assignments;
  std::string note;  // where the shape comes from, e.g. "stage 1 MLP fc1 (56x56x96 -> 384)"
};

// The core ops at the shapes of a 224x224 four-stage backbone (stage 1: 56x56x96 ... stage 4:
// 7x7x768, Swin-T/ConvNeXt-T widths, MLP ratio 4, 7x7 windows / kernels). Used by
// `hwnas bench-op --suite backbone`, hwnas_micro and bench/RESULTS.md.
std::vector<SuiteEntry> backbone_suite();

// The token mixers (kernels/mixers/) at the same four stage shapes, each with the settings its
// paper's tiny model uses there. `hwnas bench-op --suite mixers`, hwnas_micro and bench/RESULTS.md.
std::vector<SuiteEntry> mixer_suite();

// The layers around the mixers (kernels/layers/: MLPs, stems, downsampling) at the same four stage
// shapes: MLPs per stage, patch_embed / conv_stem from the 224x224x3 image, patch_merging /
// conv_downsample between stages. `hwnas bench-op --suite layers`, hwnas_micro.
std::vector<SuiteEntry> layer_suite();

}  // namespace hwnas
