// WeightStore: weights declared at several choices grow to the largest; every choice's weight is a
// slice of the one stored tensor (checked against slices computed by hand here, for every slicing
// rule), views alias it so writes are shared, and save/load round-trips or names what is wrong.
#include "supernet/weight_store.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/error.hpp"
#include "kernels/layers/layer.hpp"
#include "kernels/mixers/mixer_registry.hpp"
#include "supernet/safetensors.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

namespace fs = std::filesystem;

// Specs as the mixers annotate them (kernels/mixers/*.cpp weight_specs).
WeightSpec qkv(std::int64_t c) {
  return with_segments({"qkv.weight", {3 * c, c}, WeightKind::Matrix}, 0, {c, c, c});
}
WeightSpec dwconv(std::int64_t c, std::int64_t k) {
  return {"dwconv.weight", {c, 1, k, k}, WeightKind::Matrix};
}
WeightSpec linear(std::int64_t out, std::int64_t in) {
  return {"fc.weight", {out, in}, WeightKind::Matrix};
}
// Swin's table for a wh x ww window.
WeightSpec swin_table(std::int64_t wh, std::int64_t ww, std::int64_t heads) {
  const std::int64_t rows = 2 * wh - 1, cols = 2 * ww - 1;
  return with_grid({"relative_position_bias_table", {rows * cols, heads}, WeightKind::Table}, 0,
                   SliceRule::CentreGrid, rows, cols);
}
// NAT's rpb for kernel k.
WeightSpec na_rpb(std::int64_t heads, std::int64_t k) {
  return with_rule(
      with_rule({"rpb", {heads, 2 * k - 1, 2 * k - 1}, WeightKind::Table}, 1, SliceRule::Centre), 2,
      SliceRule::Centre);
}
// focal modulation's f for c channels and L levels.
WeightSpec focal_f(std::int64_t c, std::int64_t levels) {
  return with_segments({"f.weight", {2 * c + levels + 1, c}, WeightKind::Matrix}, 0,
                       {c, c, levels + 1});
}

// Element (i0, i1, ...) of a contiguous tensor.
float at(ConstTensorView t, std::initializer_list<std::int64_t> index) {
  std::int64_t offset = 0;
  int d = 0;
  for (const std::int64_t i : index) offset += i * t.strides()[d++];
  return t.f32()[offset];
}

// Every element of `got` (contiguous or a view, shape `shape`) equals expected(flat index).
void expect_elements(ConstTensorView got, const std::function<float(std::int64_t)>& expected,
                     const std::string& what) {
  const Tensor g = Tensor::copy_of(got);
  int failures = 0;
  for (std::int64_t i = 0; i < g.numel() && failures < 10; ++i) {
    if (g.f32()[i] != expected(i)) {
      ADD_FAILURE() << what << " at flat index " << i << ": got " << g.f32()[i] << ", want "
                    << expected(i);
      ++failures;
    }
  }
}

template <typename F>
void expect_invalid(F f, const std::vector<std::string>& needles) {
  try {
    f();
    FAIL() << "no throw, expected: " << needles.front();
  } catch (const InvalidArgument& e) {
    for (const std::string& n : needles) {
      EXPECT_NE(std::string(e.what()).find(n), std::string::npos)
          << e.what() << "\n  missing: " << n;
    }
  }
}

TEST(WeightStore, DeclareGrowsPerSegmentAndPerGridAxis) {
  WeightStore store;
  store.declare("q", qkv(5));
  store.declare("q", qkv(7));
  store.declare("q", qkv(3));
  EXPECT_EQ(store.spec("q").shape, Shape({21, 7}));
  EXPECT_EQ(dim_slicing(store.spec("q"), 0).segments, std::vector<std::int64_t>({7, 7, 7}));

  // Segment sizes per choice: the widest c and the most levels need not come from one choice.
  store.declare("f", focal_f(9, 2));
  store.declare("f", focal_f(5, 4));
  EXPECT_EQ(store.spec("f").shape, Shape({9 + 9 + 5, 9}));

  // Rows and columns of a grid grow separately: windows 5x2 and 2x7 give a 9 x 13 table.
  store.declare("t", swin_table(5, 2, 3));
  store.declare("t", swin_table(2, 7, 4));
  EXPECT_EQ(store.spec("t").shape, Shape({9 * 13, 4}));
  EXPECT_EQ(dim_slicing(store.spec("t"), 0).grid_cols, 13);

  store.declare("k", dwconv(6, 3));
  store.declare("k", dwconv(4, 7));
  EXPECT_EQ(store.spec("k").shape, Shape({6, 1, 7, 7}));
  EXPECT_EQ(store.numel(), 21 * 7 + 23 * 9 + 117 * 4 + 6 * 49);
  EXPECT_EQ(store.names(), (std::vector<std::string>{"f", "k", "q", "t"}));
  EXPECT_TRUE(store.has("q"));
  EXPECT_FALSE(store.has("qq"));
}

TEST(WeightStore, DeclareRefusesSpecsThatCannotBeOneWeight) {
  WeightStore store;
  store.declare("w", linear(4, 6));
  expect_invalid([&] { store.declare("w", dwconv(4, 3)); },
                 {"'w' is declared at [4,6] and at [4,1,3,3]", "rank 2 vs 4"});
  expect_invalid(
      [&] {
        store.declare("w", {"fc.bias", {4, 6}, WeightKind::Bias});
      },
      {"'w'", "another kind of weight"});
  store.declare("q", qkv(4));
  expect_invalid(
      [&] {
        store.declare("q", with_segments(linear(12, 4), 0, {6, 6}));
      },
      {"'q' is declared at [12,4] and at [12,4]",
       "dim 0 is leading segments {4,4,4}, then "
       "leading segments {6,6}"});
  store.declare("t", swin_table(3, 3, 2));
  expect_invalid(
      [&] {
        store.declare("t", {"table", {25, 2}, WeightKind::Table});
      },
      {"'t'", "dim 0 is centre_grid 5x5, then leading segments {25}"});
  expect_invalid(
      [&] {
        store.declare("bad", with_segments(linear(5, 3), 0, {2, 2}));
      },
      {"weight store: 'bad'", "summing to 4, not its extent 5"});
}

TEST(WeightStore, InitializeDependsOnSeedAndNameOnly) {
  const auto make = [](bool reversed, std::uint64_t seed) {
    WeightStore s;
    std::vector<std::pair<std::string, WeightSpec>> specs = {
        {"a.weight", linear(9, 17)},
        {"a.bias", {"fc.bias", {9}, WeightKind::Bias}},
        {"n.weight", {"norm.weight", {9}, WeightKind::NormScale}},
        {"t", swin_table(3, 2, 2)}};
    if (reversed) std::reverse(specs.begin(), specs.end());
    for (const auto& [name, spec] : specs) s.declare(name, spec);
    s.initialize(seed);
    return s;
  };
  const WeightStore a = make(false, 11), b = make(true, 11), c = make(false, 12);
  bool differs = false;
  for (const std::string& name : a.names()) {
    const ConstTensorView x = a.tensor(name), y = b.tensor(name), z = c.tensor(name);
    for (std::int64_t i = 0; i < x.numel(); ++i) {
      EXPECT_EQ(x.f32()[i], y.f32()[i]) << name << " " << i;
      differs = differs || x.f32()[i] != z.f32()[i];
    }
  }
  EXPECT_TRUE(differs) << "another seed gives other weights";
  // Drawn by kind, as make_random_weights: +-1/sqrt(fan_in) for a matrix, [0.5, 1.5] for a scale.
  const ConstTensorView w = a.tensor("a.weight"), n = a.tensor("n.weight");
  for (std::int64_t i = 0; i < w.numel(); ++i) EXPECT_LE(std::abs(w.f32()[i]), 1 / std::sqrt(17.f));
  for (std::int64_t i = 0; i < n.numel(); ++i) {
    EXPECT_GE(n.f32()[i], 0.5f);
    EXPECT_LE(n.f32()[i], 1.5f);
  }
  // Two names draw different streams.
  EXPECT_NE(a.tensor("a.bias").f32()[0], a.tensor("n.weight").f32()[0] - 1.f);
}

class Sliced : public ::testing::Test {
 protected:
  void SetUp() override { rng_.seed(testing::fresh_seed("weight store slices")); }
  std::mt19937_64 rng_;
};

TEST_F(Sliced, LeadingChannelsAreAViewEqualToTheCornerOfTheStoredTensor) {
  WeightStore store;
  store.declare("w", linear(5, 7));
  store.declare("w", linear(9, 11));
  store.initialize(rng_());
  const ConstTensorView whole = store.tensor("w");
  ASSERT_TRUE(store.is_view("w", linear(5, 7)));
  const ConstTensorView v = store.view("w", linear(5, 7));
  EXPECT_EQ(v.shape(), Shape({5, 7}));
  EXPECT_EQ(v.f32(), whole.f32()) << "leading: offset 0";
  expect_elements(
      v,
      [&](std::int64_t i) {
        return at(whole, {i / 7, i % 7});
      },
      "view");
  expect_elements(
      store.gather("w", linear(5, 7)).view(),
      [&](std::int64_t i) {
        return at(whole, {i / 7, i % 7});
      },
      "gather");
}

TEST_F(Sliced, SmallerConvKernelsAreTheCentreOfTheLargest) {
  WeightStore store;
  store.declare("k", dwconv(6, 7));
  store.initialize(rng_());
  const ConstTensorView whole = store.tensor("k");
  // k = 3 of 7: offset 2; k = 4 of 7 (an odd difference): offset 1, as (K - k) / 2 rounds down.
  for (const auto& [c, k, offset] :
       {std::tuple{5, 3, 2}, std::tuple{6, 4, 1}, std::tuple{1, 1, 3}}) {
    ASSERT_TRUE(store.is_view("k", dwconv(c, k)));
    const auto expected = [&, k = k, offset = offset](std::int64_t i) {
      const std::int64_t x = i % k, y = (i / k) % k, ch = i / (k * k);
      return at(whole, {ch, 0, y + offset, x + offset});
    };
    expect_elements(store.view("k", dwconv(c, k)), expected, fmt::format("view k={}", k));
    expect_elements(store.gather("k", dwconv(c, k)).view(), expected,
                    fmt::format("gather k={}", k));
  }
}

TEST_F(Sliced, QkvTakesTheLeadingChannelsOfEachSegment) {
  WeightStore store;
  store.declare("q", qkv(7));
  store.initialize(rng_());
  const ConstTensorView whole = store.tensor("q");
  EXPECT_FALSE(store.is_view("q", qkv(3)));
  EXPECT_TRUE(store.is_view("q", qkv(7)));
  const Tensor g = store.gather("q", qkv(3));
  ASSERT_EQ(g.shape(), Shape({9, 3}));
  // Row r of part p (q, k, v) is stored row p * 7 + r.
  expect_elements(
      g.view(),
      [&](std::int64_t i) {
        const std::int64_t row = i / 3, col = i % 3;
        return at(whole, {(row / 3) * 7 + row % 3, col});
      },
      "qkv c=3 of 7");
  expect_invalid([&] { store.view("q", qkv(3)); },
                 {"'q' at [9,3] is not one strided view of the stored [21,7]", "gather it"});
}

TEST_F(Sliced, AdjacentSegmentsStayOneView) {
  // Fewer focal levels at the full width: only the last segment shrinks, the rows stay adjacent.
  WeightStore store;
  store.declare("f", focal_f(6, 3));
  store.initialize(rng_());
  const ConstTensorView whole = store.tensor("f");
  ASSERT_TRUE(store.is_view("f", focal_f(6, 1)));
  expect_elements(
      store.view("f", focal_f(6, 1)),
      [&](std::int64_t i) {
        return at(whole, {i / 6, i % 6});
      },
      "focal L=1 of 3");
  EXPECT_FALSE(store.is_view("f", focal_f(4, 3)));
  // Narrower: q rows 0..3, ctx rows 6..9, gates rows 12..15, columns 0..3.
  expect_elements(
      store.gather("f", focal_f(4, 3)).view(),
      [&](std::int64_t i) {
        const std::int64_t row = i / 4, col = i % 4;
        const std::int64_t stored = row < 8 ? (row / 4) * 6 + row % 4 : 12 + row - 8;
        return at(whole, {stored, col});
      },
      "focal c=4");
}

TEST_F(Sliced, SwinTablesOfNonSquareWindowsAreTheCentreOfTheGrid) {
  WeightStore store;
  store.declare("t", swin_table(7, 5, 4));  // 13 x 9 grid
  store.initialize(rng_());
  const ConstTensorView whole = store.tensor("t");
  // A 3 x 4 window (5 x 7 grid) at 3 heads: rows 4.., cols 1.. of the 13 x 9 grid.
  const WeightSpec small = swin_table(3, 4, 3);
  EXPECT_FALSE(store.is_view("t", small));
  const auto expected = [&](std::int64_t i) {
    const std::int64_t head = i % 3, cell = i / 3, r = cell / 7, c = cell % 7;
    return at(whole, {(r + 4) * 9 + c + 1, head});
  };
  expect_elements(store.gather("t", small).view(), expected, "table 3x4 of 7x5");
  // The relative offset (dy, dx) keeps its bias: (0, 0) is the centre of both grids.
  EXPECT_EQ(at(store.gather("t", small).view(), {2 * 7 + 3, 1}), at(whole, {6 * 9 + 4, 1}));
  // Same columns, fewer rows: the centre rows are contiguous, so a view.
  const WeightSpec same_cols = swin_table(2, 5, 4);
  ASSERT_TRUE(store.is_view("t", same_cols));
  expect_elements(
      store.view("t", same_cols),
      [&](std::int64_t i) {
        return at(whole, {5 * 9 + i / 4, i % 4});
      },
      "table 2x5 of 7x5");
}

TEST_F(Sliced, NatRpbIsTheCentreOfTheLargestKernelsTable) {
  WeightStore store;
  store.declare("r", na_rpb(4, 7));  // [4, 13, 13]
  store.initialize(rng_());
  const ConstTensorView whole = store.tensor("r");
  ASSERT_TRUE(store.is_view("r", na_rpb(2, 3)));  // [2, 5, 5] at offset (0, 4, 4)
  const auto expected = [&](std::int64_t i) {
    return at(whole, {i / 25, (i / 5) % 5 + 4, i % 5 + 4});
  };
  expect_elements(store.view("r", na_rpb(2, 3)), expected, "rpb view");
  expect_elements(store.gather("r", na_rpb(2, 3)).view(), expected, "rpb gather");
}

TEST_F(Sliced, LeadingGridsAndEmptySegments) {
  // EfficientViT's biases: a wh x ww grid indexed by |dy| * ww + |dx|: the top-left corner.
  const auto cga = [](std::int64_t heads, std::int64_t wh, std::int64_t ww) {
    return with_grid({"attention_biases", {heads, wh * ww}, WeightKind::Table}, 1,
                     SliceRule::LeadingGrid, wh, ww);
  };
  // gnConv's dwconv channels at orders 2 and 3 (c = 8): parts aligned at the end.
  const auto gn = [](std::vector<std::int64_t> parts) {
    std::int64_t sum = 0;
    for (const std::int64_t p : parts) sum += p;
    return with_segments({"dwconv.bias", {sum}, WeightKind::Bias}, 0, std::move(parts));
  };
  WeightStore store;
  store.declare("b", cga(3, 7, 5));
  store.declare("g", gn({0, 4, 8}));
  store.declare("g", gn({2, 4, 8}));
  store.initialize(rng_());
  const ConstTensorView b = store.tensor("b"), g = store.tensor("g");
  expect_elements(
      store.gather("b", cga(2, 3, 4)).view(),
      [&](std::int64_t i) {
        return at(b, {i / 12, (i % 12) / 4 * 5 + i % 4});
      },
      "cga biases 3x4 of 7x5");
  // Order 2 of 3: the 4- and 8-channel parts, skipping the 2-channel part: one view from 2.
  ASSERT_TRUE(store.is_view("g", gn({0, 4, 8})));
  expect_elements(
      store.view("g", gn({0, 4, 8})), [&](std::int64_t i) { return g.f32()[2 + i]; },
      "gnconv order 2");
  expect_elements(
      store.gather("g", gn({0, 2, 4})).view(),
      [&](std::int64_t i) { return g.f32()[i < 2 ? 2 + i : 6 + i - 2]; }, "gnconv order 2 at c=4");
}

TEST_F(Sliced, TwoChoicesSharingASliceSeeTheSameValuesAndWritesThroughEither) {
  WeightStore store;
  store.declare("k", dwconv(8, 7));
  store.declare("q", qkv(6));
  store.initialize(rng_());
  // k=5 at 8 channels and k=3 at 4 channels share the centre 3x3 of the first 4 channels.
  const TensorView big = store.mutable_view("k", dwconv(8, 5));
  const ConstTensorView small = store.view("k", dwconv(4, 3));
  expect_elements(
      small,
      [&](std::int64_t i) {
        return at(big, {i / 9, 0, (i / 3) % 3 + 1, i % 3 + 1});
      },
      "shared slice");
  // A write through one view is seen by the other, by gather and by the whole tensor.
  big.f32()[big.strides()[0] * 2 + big.strides()[2] * 2 + big.strides()[3] * 3] = 1234.5f;
  EXPECT_EQ(at(small, {2, 0, 1, 2}), 1234.5f);
  EXPECT_EQ(at(store.gather("k", dwconv(4, 3)).view(), {2, 0, 1, 2}), 1234.5f);
  EXPECT_EQ(at(store.tensor("k"), {2, 0, 3, 4}), 1234.5f);

  // Scatter writes a segmented slice; gather reads it back and nothing else moved.
  const Tensor before = Tensor::copy_of(store.tensor("q"));
  const Tensor values = testing::random_tensor({12, 4}, rng_, 2.f, 3.f);
  store.scatter("q", qkv(4), values.view());
  expect_elements(
      store.gather("q", qkv(4)).view(), [&](std::int64_t i) { return values.f32()[i]; },
      "scatter then gather");
  const ConstTensorView after = store.tensor("q");
  std::int64_t changed = 0;
  for (std::int64_t i = 0; i < after.numel(); ++i) changed += after.f32()[i] != before.f32()[i];
  EXPECT_EQ(changed, 12 * 4);
  // The wider choice sees the write in the leading rows of its q, k and v.
  EXPECT_EQ(at(store.gather("q", qkv(5)).view(), {5 + 3, 2}), at(values.view(), {4 + 3, 2}));
  // Strided values scatter too.
  const Tensor wide = testing::random_tensor({12, 9}, rng_);
  store.scatter("q", qkv(4), wide.view().slice(1, 2, 6));
  EXPECT_EQ(at(store.tensor("q"), {6 + 1, 3}), at(wide.view(), {4 + 1, 5}));
}

TEST_F(Sliced, RefusesWhatIsNotASliceNamingTheWeight) {
  WeightStore store;
  store.declare("q", qkv(6));
  store.declare("k", dwconv(4, 5));
  expect_invalid([&] { store.gather("nope", qkv(2)); }, {"no weight 'nope' is declared"});
  expect_invalid([&] { store.view("q", qkv(7)); },
                 {"'q' stored at [18,6] has no slice [21,7]", "dim 0 segment 0 is 7 > 6"});
  expect_invalid([&] { store.gather("k", linear(4, 5)); }, {"'k'", "rank 2 vs 4"});
  expect_invalid([&] { store.gather("q", linear(6, 3)); },
                 {"'q'",
                  "dim 0 is leading segments {6,6,6} in the store, leading segments {6} "
                  "here"});
  expect_invalid([&] { store.gather("k", dwconv(4, 7)); }, {"'k'", "dim 2 segment 0 is 7 > 5"});
  const Tensor wrong = Tensor::zeros({5, 2});
  expect_invalid([&] { store.scatter("q", qkv(2), wrong.view()); },
                 {"scatter into 'q' needs f32 values of shape [6,2], got f32 [5,2]"});
}

// Every registered mixer and layer at a narrow and a wide choice: one store holds both, and each
// choice's slice can be taken (as a view where it is one).
TEST(WeightStoreRegistry, EveryMixerAndLayerHoldsTwoWidthsInOneStore) {
  const auto both = [](const std::string& op, const std::vector<WeightSpec>& narrow,
                       const std::vector<WeightSpec>& wide) {
    WeightStore store;
    for (const auto* specs : {&narrow, &wide}) {
      for (const WeightSpec& s : *specs) store.declare(s.name, s);
    }
    store.initialize(3);
    for (const auto* specs : {&narrow, &wide}) {
      for (const WeightSpec& s : *specs) {
        const Tensor g = store.gather(s.name, s);
        if (store.is_view(s.name, s)) {
          expect_elements(
              store.view(s.name, s), [&](std::int64_t i) { return g.f32()[i]; }, op + " " + s.name);
        }
      }
    }
  };
  const std::vector<std::string> narrow = {"h=13", "w=15", "c=48"}, wide = {"h=13", "w=15", "c=96"};
  for (const MixerEntry& e : mixer_registry()) {
    both(e.name, e.weights(Params::parse(e.name, e.params, narrow)),
         e.weights(Params::parse(e.name, e.params, wide)));
  }
  const std::vector<std::string> narrow_layer = {"c=24"}, wide_layer = {"c=48"};
  for (const LayerEntry& e : layer_registry()) {
    both(e.name, e.weights(Params::parse(e.name, e.params, narrow_layer)),
         e.weights(Params::parse(e.name, e.params, wide_layer)));
  }
}

class StoreFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("hwnas_weight_store_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name = "w.safetensors") const {
    return (dir_ / name).string();
  }
  static WeightStore declared() {
    WeightStore s;
    s.declare("stages.0.blocks.0.0.mixer.window_attention.qkv.weight", qkv(6));
    s.declare("stages.0.blocks.0.0.mixer.window_attention.relative_position_bias_table",
              swin_table(3, 5, 2));
    s.declare("stem.convs.0.weight", {"w", {6, 3, 5, 5}, WeightKind::Matrix});
    return s;
  }
  fs::path dir_;
};

TEST_F(StoreFiles, SaveLoadRoundTrip) {
  WeightStore a = declared();
  a.initialize(testing::fresh_seed("weight store save/load"));
  a.save(path());
  WeightStore b = declared();
  b.load(path());
  for (const std::string& name : a.names()) {
    const ConstTensorView x = a.tensor(name), y = b.tensor(name);
    ASSERT_EQ(x.shape(), y.shape()) << name;
    for (std::int64_t i = 0; i < x.numel(); ++i) EXPECT_EQ(x.f32()[i], y.f32()[i]) << name << i;
  }
  EXPECT_EQ(read_safetensors(path()).metadata.at("format"), "pt");
}

TEST_F(StoreFiles, LoadNamesTheTensorThatDoesNotFitAndChangesNothing) {
  WeightStore a = declared();
  a.initialize(5);
  a.save(path());
  const std::string qkv_name = "stages.0.blocks.0.0.mixer.window_attention.qkv.weight";

  // A store lacking one of the file's tensors: unknown name.
  WeightStore fewer;
  fewer.declare(qkv_name, qkv(6));
  fewer.declare("stem.convs.0.weight", {"w", {6, 3, 5, 5}, WeightKind::Matrix});
  expect_invalid([&] { fewer.load(path()); },
                 {path(),
                  "tensor 'stages.0.blocks.0.0.mixer.window_attention."
                  "relative_position_bias_table' is not a weight of this network"});

  // The file holds qkv at c=6, the store at c=8: both shapes named.
  WeightStore wider = declared();
  wider.declare(qkv_name, qkv(8));
  wider.initialize(9);
  const Tensor before = Tensor::copy_of(wider.tensor("stem.convs.0.weight"));
  expect_invalid([&] { wider.load(path()); },
                 {path(), "tensor '" + qkv_name +
                              "' has shape [18,6], the network holds it at "
                              "[24,8]"});
  EXPECT_EQ(wider.tensor("stem.convs.0.weight").f32()[7], before.f32()[7])
      << "a refused file changes nothing";

  // A store with one more weight: missing, unless allowed.
  WeightStore more = declared();
  more.declare("head.fc.weight", linear(10, 6));
  more.initialize(1);
  const float head0 = more.tensor("head.fc.weight").f32()[0];
  expect_invalid([&] { more.load(path()); }, {path(), "lacks 1 weight(s)", "head.fc.weight"});
  more.load(path(), /*allow_missing=*/true);
  EXPECT_EQ(more.tensor("head.fc.weight").f32()[0], head0);
  EXPECT_EQ(more.tensor(qkv_name).f32()[3], a.tensor(qkv_name).f32()[3]);

  // A damaged file: the reader's error, naming the file.
  fs::resize_file(path(), fs::file_size(path()) - 4);
  WeightStore c = declared();
  expect_invalid([&] { c.load(path()); }, {path(), "run past the end of the data"});
}

}  // namespace
}  // namespace hwnas
