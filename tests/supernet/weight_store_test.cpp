// WeightStore: weights declared at several choices grow to the largest, every choice's slice is a
// view of (or gathered from) the one stored tensor, and save/load round-trips.
#include "supernet/weight_store.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "kernels/error.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

TEST(WeightStoreSmoke, DeclareViewGatherSaveLoad) {
  WeightStore store;
  const auto qkv = [](std::int64_t c) {
    return with_segments({"qkv.weight", {3 * c, c}, WeightKind::Matrix}, 0, {c, c, c});
  };
  store.declare("a.qkv.weight", qkv(4));
  store.declare("a.qkv.weight", qkv(6));
  const WeightSpec conv5{"dw.weight", {6, 1, 5, 5}, WeightKind::Matrix};
  const WeightSpec conv3{"dw.weight", {4, 1, 3, 3}, WeightKind::Matrix};
  store.declare("a.dw.weight", conv3);
  store.declare("a.dw.weight", conv5);
  EXPECT_EQ(store.spec("a.qkv.weight").shape, Shape({18, 6}));
  store.initialize(7);
  const ConstTensorView whole = store.tensor("a.dw.weight");
  const ConstTensorView v = store.view("a.dw.weight", conv3);
  EXPECT_EQ(v.f32()[0], whole.f32()[0 * 25 + 1 * 5 + 1]);
  const Tensor g = store.gather("a.qkv.weight", qkv(4));
  const ConstTensorView q = store.tensor("a.qkv.weight");
  EXPECT_EQ(g.f32()[4 * 4 + 1], q.f32()[6 * 6 + 1]);
  EXPECT_FALSE(store.is_view("a.qkv.weight", qkv(4)));
  EXPECT_TRUE(store.is_view("a.qkv.weight", qkv(6)));
  const std::string path = ::testing::TempDir() + "/ws_smoke.safetensors";
  store.save(path);
  WeightStore other;
  other.declare("a.qkv.weight", qkv(6));
  other.declare("a.dw.weight", conv5);
  other.load(path);
  EXPECT_EQ(other.tensor("a.qkv.weight").f32()[17], q.f32()[17]);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace hwnas
