// WeightStore: the supernet's shared weights (DESIGN.md, supernet/; docs/arch.md for the names).
//
// Every parameter is held once, at the largest size any choice needs; a subnet's weight is a slice
// of it (weight entanglement, AutoFormer / OFA):
//   - the leading rows/columns of a width or an MLP hidden size (so the first heads),
//   - the centre k x k of the largest conv kernel (OFA's elastic kernel),
//   - the centre of the largest relative-position-bias table,
//   - per segment for weights that concatenate several parts (qkv.weight [3c, c]: the leading c'
//     rows of each of q, k and v), as each WeightSpec's slicing says (kernels/mixers/mixer.hpp).
// Elastic depth needs nothing here: block b of a stage has the same names in every subnet.
//
//   WeightStore store;
//   store.declare("stages.0.blocks.0.0.mlp.fc1.weight", spec_at_one_choice);  // grows to the max
//   store.initialize(seed);                                                   // random, by kind
//   ConstTensorView w = store.view(name, spec_at_subnet_choice);              // aliases the store
//   Tensor t = store.gather(name, spec);   // a contiguous copy, for slices no strided view can hold
//
// Loads and saves safetensors (supernet/safetensors.hpp).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/mixers/mixer.hpp"
#include "kernels/tensor.hpp"

namespace hwnas {

class WeightStore {
 public:
  // Adds `name` at spec.shape, or grows an existing entry so that it also holds spec (per dimension
  // and segment the max of the two; for a grid, rows and columns separately). Throws
  // InvalidArgument when the two cannot be one weight (another rank, kind, slicing rule or number
  // of segments) or spec's slicing does not describe its shape, naming the weight and both shapes.
  // Values of a grown entry are reset to zero: declare everything, then initialize or load.
  void declare(const std::string& name, const WeightSpec& spec);

  // Fills every weight with random values drawn as its WeightKind says (fill_random_weight, at the
  // stored shape), from an mt19937_64 seeded with seed ^ FNV-1a(name): the same seed gives the
  // same weights whatever the declaration order.
  void initialize(std::uint64_t seed);

  bool has(std::string_view name) const;
  std::vector<std::string> names() const;  // sorted
  const WeightSpec& spec(std::string_view name) const;  // the stored (largest) spec
  ConstTensorView tensor(std::string_view name) const;  // the whole stored tensor
  TensorView mutable_tensor(std::string_view name);
  std::int64_t numel() const;  // all stored elements

  // The slice of `name` that `wanted` (a spec at some choice) takes, as a view aliasing the store,
  // when it is one strided view (in every dimension the taken indices are evenly spaced: one
  // segment, or segments whose slices happen to be adjacent, or a grid at full width); writes
  // through a TensorView are seen by every other view of the same store. Throws InvalidArgument
  // naming the weight when it is unknown, when wanted's rank, rules or segment count differ from
  // the stored ones, when wanted does not fit, or when the slice needs a gather.
  ConstTensorView view(std::string_view name, const WeightSpec& wanted) const;
  TensorView mutable_view(std::string_view name, const WeightSpec& wanted);
  bool is_view(std::string_view name, const WeightSpec& wanted) const;
  // The slice as a contiguous copy (any slicing).
  Tensor gather(std::string_view name, const WeightSpec& wanted) const;
  // Writes `values` (f32 of wanted's shape, any strides) into the slice (the inverse of gather).
  void scatter(std::string_view name, const WeightSpec& wanted, ConstTensorView values);

  // safetensors (F32, little-endian). save writes every weight at its stored shape (metadata
  // {"format": "pt"}); load requires every name of the file to be declared with exactly the stored
  // shape and fills it; names the store has and the file lacks are an error unless allow_missing
  // (they keep their values). Errors name the file and the tensor; a refused file changes nothing.
  void save(const std::string& path) const;
  void load(const std::string& path, bool allow_missing = false);

 private:
  struct Entry {
    WeightSpec spec;  // the stored shape and the per-dimension segment maxima
    Tensor tensor;
  };
  std::map<std::string, Entry, std::less<>> entries_;
};

}  // namespace hwnas
