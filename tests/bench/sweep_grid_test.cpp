// Sweep grids: expansion order, shapes, vars, ladders, batch, duplicates, every error path, the
// shipped grids, workload_key against make_workload, and sharding.
#include "bench/sweep_grid.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <ranges>
#include <set>
#include <string>
#include <vector>

#include "bench/op_registry.hpp"
#include "kernels/error.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

std::vector<std::string> keys_of(const std::vector<SweepPoint>& points) {
  std::vector<std::string> keys;
  for (const SweepPoint& p : points) keys.push_back(p.key);
  return keys;
}

// "1,2,...,count"
std::string numbers(int count) {
  return fmt::format("{}", fmt::join(std::views::iota(1, count + 1), ","));
}

// Expects expand_grid to throw InvalidArgument whose message contains every one of `parts`.
void expect_error(const std::string& grid, const std::vector<std::string>& parts) {
  try {
    expand_grid(grid, "g.json");
    ADD_FAILURE() << "no error for " << grid;
  } catch (const InvalidArgument& e) {
    const std::string what = e.what();
    std::cout << "  expected error: " << what << "\n";
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    EXPECT_TRUE(what.starts_with("g.json: ")) << what;
    for (const std::string& part : parts)
      EXPECT_NE(what.find(part), std::string::npos) << what << " lacks " << part;
  }
}

TEST(SweepGrid, ShapesCrossParamsAndBatchInFileOrder) {
  const auto points = expand_grid(R"({"name": "t", "batch": [1, 2],
    "shapes": {"a": {"h": 8, "w": 8, "c": 32}, "b": {"h": 5, "w": 7, "c": 64}},
    "blocks": [{"op": "window_attention", "params": {"heads": [1, 2], "window": 4}, "shapes": ["a", "b"]},
               {"op": "linear", "params": {"m": 3, "k": [4, 5], "n": 6}}]})",
                                  "t.json");
  // Per block: shapes, then heads (the block's order), then batch turning fastest; linear's n is a
  // width, not the batch, so the batch list does not apply to it.
  ASSERT_EQ(points.size(), 2u * 2 * 2 + 2);
  const auto wa = [](int n, int h, int w, int c, int heads) {
    return workload_key("window_attention",
                        std::vector<std::string>{"n=" + std::to_string(n), "h=" + std::to_string(h),
                                                 "w=" + std::to_string(w), "c=" + std::to_string(c),
                                                 "heads=" + std::to_string(heads), "window=4"});
  };
  EXPECT_EQ(points[0].key, wa(1, 8, 8, 32, 1));
  EXPECT_EQ(points[1].key, wa(2, 8, 8, 32, 1));
  EXPECT_EQ(points[2].key, wa(1, 8, 8, 32, 2));
  EXPECT_EQ(points[4].key, wa(1, 5, 7, 64, 1));
  EXPECT_EQ(points[7].key, wa(2, 5, 7, 64, 2));
  EXPECT_EQ(points[1].batch, 2);
  EXPECT_EQ(points[0].op, "window_attention");
  EXPECT_EQ(points[0].where, "block 0 (window_attention) shape a");
  EXPECT_EQ(points[8].key, "linear:m=3,k=4,n=6,bias=1,act=none");
  EXPECT_EQ(points[9].key, "linear:m=3,k=5,n=6,bias=1,act=none");
  EXPECT_EQ(points[9].batch, 1);
  EXPECT_EQ(points[9].where, "block 1 (linear)");
  EXPECT_EQ(points[9].assignments, (std::vector<std::string>{"m=3", "k=5", "n=6"}));
}

TEST(SweepGrid, VarsOfAShapeFillDollarValues) {
  const auto points = expand_grid(R"({"shapes": {
      "s1": {"h": 8, "w": 8, "c": 64, "vars": {"heads": 2, "sr": 4}},
      "s2": {"h": 4, "w": 4, "c": 128, "vars": {"heads": 4, "sr": 1}}},
    "blocks": [{"op": "mhsa", "params": {"heads": "$heads", "sr_ratio": ["$sr"]}, "shapes": ["s1", "s2"]}]})",
                                  "t.json");
  ASSERT_EQ(points.size(), 2u);
  EXPECT_NE(points[0].key.find("heads=2"), std::string::npos) << points[0].key;
  EXPECT_NE(points[0].key.find("sr_ratio=4"), std::string::npos) << points[0].key;
  EXPECT_NE(points[1].key.find("heads=4"), std::string::npos) << points[1].key;
  EXPECT_NE(points[1].key.find("c=128"), std::string::npos) << points[1].key;
}

TEST(SweepGrid, LadderGivesTheStageMapOfEachResolution) {
  const auto points = expand_grid(R"({"blocks": [
      {"op": "dwconv", "params": {"k": 3}, "ladder": {"res": [64, 96, 128], "stage": 1, "c": 16}},
      {"op": "dwconv", "params": {"k": 3}, "ladder": {"res": [64, 128], "stage": 3, "c": 32}},
      {"op": "dwconv", "params": {"k": 3}, "ladder": {"res": [64], "stage": 2, "c": 8, "patch": 2}}]})",
                                  "t.json");
  ASSERT_EQ(points.size(), 6u);
  const std::pair<int, int> sides[] = {{16, 16}, {24, 16}, {32, 16}, {4, 32}, {8, 32}, {16, 8}};
  for (std::size_t i = 0; i < points.size(); ++i) {
    const std::string hw =
        "h=" + std::to_string(sides[i].first) + ",w=" + std::to_string(sides[i].first);
    EXPECT_NE(points[i].key.find(hw), std::string::npos) << points[i].key;
    EXPECT_NE(points[i].key.find(",c=" + std::to_string(sides[i].second)), std::string::npos)
        << points[i].key;
  }
  EXPECT_EQ(points[1].where, "block 0 (dwconv) ladder res=96 (24x24)");
}

TEST(SweepGrid, DuplicateKeysKeepTheFirstOccurrence) {
  // The second block spells the first's point with the default written out and in another order:
  // the canonical key makes them one point.
  const auto points = expand_grid(R"({"blocks": [
      {"op": "linear", "params": {"m": [3, 4], "k": 8, "n": 8}},
      {"op": "linear", "params": {"act": "none", "n": 8, "k": 8, "m": [5, 3]}},
      {"op": "linear", "params": {"m": [4, 4], "k": 8, "n": 8}}]})",
                                  "t.json");
  EXPECT_EQ(keys_of(points), (std::vector<std::string>{"linear:m=3,k=8,n=8,bias=1,act=none",
                                                       "linear:m=4,k=8,n=8,bias=1,act=none",
                                                       "linear:m=5,k=8,n=8,bias=1,act=none"}));
  EXPECT_EQ(points[0].where, "block 0 (linear)");
  EXPECT_EQ(points[2].where, "block 1 (linear)");
}

TEST(SweepGrid, EveryErrorNamesTheSourceTheBlockTheOpAndTheValue) {
  const std::string shapes = R"("shapes": {"s": {"h": 8, "w": 8, "c": 96, "vars": {"heads": 3}}})";
  const auto block = [&](const std::string& b) {
    return "{" + shapes + R"(, "blocks": [)" + b + "]}";
  };
  expect_error("{", {"not valid JSON"});
  expect_error("[1]", {"a grid is a JSON object"});
  expect_error(R"({"blocks": []})", {"/blocks", "missing or empty"});
  expect_error(R"({"name": "x"})", {"/blocks", "missing or empty"});
  expect_error(R"({"blocks": [{"op": "linear"}], "shape": {}})",
               {"/shape", "unknown field 'shape'"});
  expect_error(R"({"blocks": [{"op": "linear"}], "name": 3})", {"/name", "must be a string"});
  expect_error(R"({"blocks": [{"op": "linear"}], "batch": [0]})",
               {"/batch", "0 is not an integer >= 1"});
  expect_error(R"({"blocks": [{"op": "linear"}], "shapes": {"s": 3}})",
               {"/shapes/s", "3 is not an object"});
  expect_error(R"({"blocks": [{"op": "linear"}], "shapes": {"s": {"h": [1]}}})",
               {"/shapes/s/h", "[1] is not a number"});
  expect_error(block(R"({"params": {}})"), {"/blocks/0", "missing field 'op'"});
  expect_error(block(R"({"op": "linear", "parms": {}})"),
               {"/blocks/0/parms", "unknown field 'parms'"});
  expect_error(block(R"({"op": "linear"}, {"op": "nope"})"),
               {"block 1 (nope)", "unknown op 'nope'"});
  expect_error(block(R"({"op": "linear", "params": {"q": 1}})"),
               {"block 0 (linear)", "unknown key 'q'"});
  expect_error(block(R"({"op": "linear", "params": {"m": [1, -1]}})"),
               {"block 0 (linear)", "m=-1 is out of range"});
  expect_error(block(R"({"op": "linear", "params": {"m": []}})"),
               {"block 0 (linear)/params/m", "empty list"});
  expect_error(block(R"({"op": "linear", "params": {"m": true}})"),
               {"block 0 (linear)/params/m", "true is not a number"});
  expect_error(block(R"({"op": "linear", "params": 3})"),
               {"block 0 (linear)/params", "3 is not an object"});
  expect_error(block(R"({"op": "linear", "params": {"act": "gelu"}})"),
               {"block 0 (linear)", "act=gelu is not one of"});
  // The op's own check: 96 channels do not split into 5 heads.
  expect_error(block(R"({"op": "window_attention", "params": {"heads": [3, 5]}, "shapes": ["s"]})"),
               {"block 0 (window_attention) shape s", "heads=5"});
  expect_error(block(R"({"op": "window_attention", "params": {"heads": "$hds"}, "shapes": ["s"]})"),
               {"block 0 (window_attention) shape s/params/heads",
                "$hds is not defined by shape s (vars: heads)"});
  expect_error(block(R"({"op": "linear", "params": {"m": "$m"}})"),
               {"block 0 (linear)/params/m", "$m is not defined"});
  expect_error(block(R"({"op": "dwconv", "shapes": ["s", "t"]})"),
               {"block 0 (dwconv)/shapes", "shape 't' is not defined in /shapes (defined: s)"});
  expect_error(block(R"({"op": "dwconv", "shapes": [1]})"),
               {"block 0 (dwconv)/shapes", "1 is not a shape name"});
  expect_error(block(R"({"op": "dwconv", "params": {"c": 8}, "shapes": ["s"]})"),
               {"block 0 (dwconv) shape s/params/c",
                "'c' is set by both the block's params and its shape s"});
  expect_error(block(R"({"op": "linear", "shapes": ["s"]})"),
               {"block 0 (linear) shape s", "unknown key 'h'"});
  expect_error(block(R"({"op": "dwconv", "shapes": ["s"], "ladder": {}})"),
               {"block 0 (dwconv)", "not both"});
  expect_error(block(R"({"op": "dwconv", "ladder": {"res": [64], "c": 8}})"),
               {"block 0 (dwconv)/ladder", "missing field 'stage'"});
  expect_error(block(R"({"op": "dwconv", "ladder": {"res": [64, 100], "stage": 2, "c": 8}})"),
               {"block 0 (dwconv)/ladder/res", "res=100 is not a multiple of stage 2's stride 8"});
  expect_error(block(R"({"op": "dwconv", "ladder": {"res": [64], "stage": 0, "c": 8}})"),
               {"block 0 (dwconv)/ladder/stage", "0 is not an integer >= 1"});
  expect_error(block(R"({"op": "dwconv", "ladder": {"res": [64], "stage": 1, "c": 8, "side": 2}})"),
               {"block 0 (dwconv)/ladder/side", "unknown field 'side'"});
  expect_error(
      block(
          R"({"op": "mhsa", "params": {"heads": 1}, "ladder": {"res": [64], "stage": 1, "c": 8}}, )"
          R"({"op": "mhsa", "params": {"heads": 3}, "ladder": {"res": [64], "stage": 1, "c": 8}})"),
      {"block 1 (mhsa) ladder res=64 (16x16)", "heads=3"});
}

TEST(SweepGrid, TooManyPointsIsAnError) {
  const std::string ms = numbers(400), ks = numbers(260);
  expect_error(
      R"({"blocks": [{"op": "linear", "params": {"m": [)" + ms + R"(], "k": [)" + ks + "]}}]}",
      {"block 0 (linear)", "more than 100000 points"});
}

TEST(SweepGrid, LoadGridOfAMissingFileIsAnIoError) {
  EXPECT_THROW(load_grid("/nonexistent/grid.json"), IoError);
}

TEST(SweepGrid, ShippedGridsExpand) {
  const std::filesystem::path dir = std::filesystem::path(HWNAS_SOURCE_DIR) / "bench" / "grids";
  for (const char* name : {"mixers.json", "smoke.json"}) {
    const auto points = load_grid((dir / name).string());
    EXPECT_FALSE(points.empty()) << name;
    std::cout << "  " << name << ": " << points.size() << " points\n";
  }
}

// workload_key must be the key make_workload gives: a sweep stores points under the first and
// times the second. Every mixer and layer of the suites, prepared for real at its shape.
TEST(SweepGrid, WorkloadKeyIsTheKeyOfTheWorkload) {
  const Engine engine = testing::test_engine();
  // Stage 3 has every mixer (DiNAT stops there, RandFormer starts there) and a downsampling; the
  // stems follow the stages in layer_suite().
  std::vector<SuiteEntry> entries;
  for (auto suite : {mixer_suite(), layer_suite()}) {
    for (const SuiteEntry& e : suite) {
      if (e.note.starts_with("stage 3") || e.note.starts_with("stem")) entries.push_back(e);
    }
  }
  ASSERT_GT(entries.size(), 20u);
  // The core ops at small shapes: their keys are the desc's, or the words typed with backend=.
  entries.push_back({"linear", {"m=5", "k=8", "n=3", "act=gelu_erf"}, "linear"});
  entries.push_back({"matmul", {"b=2", "m=3", "k=4", "n=5", "trans_b=1"}, "matmul"});
  entries.push_back({"layer_norm", {"rows=5", "c=8", "backend=hand"}, "layer_norm"});
  entries.push_back({"softmax", {"rows=5", "n=8"}, "softmax"});
  entries.push_back({"eltwise", {"numel=50", "act=silu", "backend=onednn"}, "eltwise"});
  entries.push_back({"pool",
                     {"alg=avg", "n=1", "h=5", "w=5", "c=8", "kh=3", "kw=3", "stride=1", "pad=1"},
                     "pool"});
  entries.push_back({"permute", {"shape=2x3x4", "order=2x0x1"}, "permute"});
  for (const SuiteEntry& e : entries) {
    EXPECT_EQ(workload_key(e.op, e.assignments), make_workload(engine, e.op, e.assignments, 1).key)
        << e.note;
  }
  // A conv2d with backend= keeps the words typed, and an MLP timed with separate residual ops says
  // so.
  const std::vector<std::string> conv = {"ic=8", "oc=8",     "h=6",
                                         "w=6",  "groups=1", "backend=onednn"};
  EXPECT_EQ(workload_key("conv2d", conv), make_workload(engine, "conv2d", conv, 1).key);
  const std::vector<std::string> mlp = {"h=4", "w=4", "c=8", "residual=layer_scale",
                                        "residual_impl=separate"};
  EXPECT_EQ(workload_key("mlp", mlp), make_workload(engine, "mlp", mlp, 1).key);
  EXPECT_THROW(workload_key("conv2d", std::vector<std::string>{"h=3", "w=3", "kh=7", "kw=7",
                                                               "pad_h=0", "pad_w=0"}),
               InvalidArgument);
}

std::vector<SweepPoint> linear_points(int count) {
  return expand_grid(R"({"blocks": [{"op": "linear", "params": {"m": [)" + numbers(count) +
                         R"(], "k": 4, "n": 4}}]})",
                     "t.json");
}

TEST(SweepGrid, ShardsAreDisjointCoverTheGridAndIgnoreOrder) {
  const std::vector<SweepPoint> points = linear_points(200);
  std::vector<SweepPoint> shuffled = points;
  std::mt19937_64 rng(testing::fresh_seed("shuffle"));
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  for (const int n : {1, 2, 3, 7}) {
    std::multiset<std::string> all;
    for (int i = 0; i < n; ++i) {
      const auto shard = shard_points(points, {.index = i, .count = n});
      // Same members from a reordered grid; within a shard, the grid's order.
      std::vector<std::string> a = keys_of(shard),
                               b = keys_of(shard_points(shuffled, {.index = i, .count = n}));
      std::vector<std::string> sorted_a = a;
      std::sort(sorted_a.begin(), sorted_a.end());
      std::sort(b.begin(), b.end());
      EXPECT_EQ(sorted_a, b) << i << "/" << n;
      EXPECT_TRUE(
          std::is_sorted(shard.begin(), shard.end(), [&](const SweepPoint& x, const SweepPoint& y) {
            return std::find_if(points.begin(), points.end(),
                                [&](auto& p) { return p.key == x.key; }) <
                   std::find_if(
                       points.begin(), points.end(), [&](auto& p) { return p.key == y.key; });
          }));
      if (n > 1) {
        EXPECT_GT(shard.size(), 200u / n / 3) << "a very uneven split " << i << "/" << n;
      }
      all.insert(a.begin(), a.end());
    }
    const auto keys = keys_of(points);
    EXPECT_EQ(all, std::multiset<std::string>(keys.begin(), keys.end())) << "N=" << n;
  }
}

TEST(SweepGrid, DigestChangesWithThePointList) {
  const auto points = linear_points(5);
  EXPECT_EQ(points_digest(points), points_digest(linear_points(5)));
  EXPECT_EQ(points_digest(points).size(), 16u);
  EXPECT_NE(points_digest(points), points_digest(linear_points(6)));
  EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cULL);  // the published FNV-1a 64 test vector
}

TEST(SweepGrid, ParseShard) {
  EXPECT_EQ(parse_shard("0/1"), (Shard{.index = 0, .count = 1}));
  EXPECT_EQ(parse_shard("3/8"), (Shard{.index = 3, .count = 8}));
  EXPECT_EQ(to_string(Shard{.index = 3, .count = 8}), "3/8");
  const std::pair<const char*, const char*> bad[] = {{"2/2", "i=2 must be in [0, N-1 = 1]"},
                                                     {"0/0", "N=0 must be >= 1"},
                                                     {"-1/2", "i=-1"},
                                                     {"1", "must be i/N"},
                                                     {"a/2", "integers"},
                                                     {"1/2x", "integers"},
                                                     {"/2", "integers"},
                                                     {"1/", "integers"},
                                                     {"", "must be i/N"}};
  for (const auto& [text, part] : bad) {
    try {
      parse_shard(text);
      ADD_FAILURE() << "no error for --shard " << text;
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(std::string("--shard ") + text), std::string::npos)
          << e.what();
    }
  }
  EXPECT_THROW(shard_points({}, {.index = 1, .count = 1}), InvalidArgument);
}

}  // namespace
}  // namespace hwnas
