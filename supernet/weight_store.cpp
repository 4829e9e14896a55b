#include "supernet/weight_store.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <optional>
#include <random>

#include "kernels/error.hpp"
#include "supernet/safetensors.hpp"

namespace hwnas {

namespace {

constexpr std::string_view kWhere = "weight store";

bool is_grid(SliceRule rule) {
  return rule == SliceRule::LeadingGrid || rule == SliceRule::CentreGrid;
}

// FNV-1a, 64 bit: a weight's stream depends on its name only, not on the declaration order.
std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t h = 14695981039346656037ull;
  for (const char ch : text) {
    h ^= static_cast<unsigned char>(ch);
    h *= 1099511628211ull;
  }
  return h;
}

// The spec with every dimension's slicing written out, as entries store it.
WeightSpec normalized(const WeightSpec& spec) {
  WeightSpec out{.name = spec.name, .shape = spec.shape, .kind = spec.kind};
  for (int d = 0; d < spec.shape.rank(); ++d) out.slicing.push_back(dim_slicing(spec, d));
  return out;
}

std::string describe(const DimSlicing& s, std::int64_t extent) {
  if (is_grid(s.rule)) {
    return fmt::format("{} {}x{}", to_string(s.rule), extent / s.grid_cols, s.grid_cols);
  }
  return fmt::format("{} segments {{{}}}", to_string(s.rule), fmt::join(s.segments, ","));
}

// Per dimension of `wanted`, the stored index of each of its indices. Throws when wanted is not a
// slice of the stored spec.
std::vector<std::vector<std::int64_t>> index_maps(std::string_view name, const WeightSpec& stored,
                                                  const WeightSpec& wanted_spec) {
  check_slicing(wanted_spec, fmt::format("{}: '{}'", kWhere, name));
  const WeightSpec wanted = normalized(wanted_spec);
  const auto fail = [&](const std::string& why) {
    throw InvalidArgument(fmt::format("{}: '{}' stored at {} has no slice {}: {}", kWhere, name,
                                      stored.shape.to_string(), wanted.shape.to_string(), why));
  };
  if (wanted.shape.rank() != stored.shape.rank()) {
    fail(fmt::format("rank {} vs {}", wanted.shape.rank(), stored.shape.rank()));
  }
  std::vector<std::vector<std::int64_t>> maps;
  for (int d = 0; d < stored.shape.rank(); ++d) {
    const DimSlicing& s = stored.slicing[static_cast<std::size_t>(d)];
    const DimSlicing& w = wanted.slicing[static_cast<std::size_t>(d)];
    if (s.rule != w.rule || s.segments.size() != w.segments.size()) {
      fail(fmt::format("dim {} is {} in the store, {} here", d, describe(s, stored.shape[d]),
                       describe(w, wanted.shape[d])));
    }
    std::vector<std::int64_t> map;
    map.reserve(static_cast<std::size_t>(wanted.shape[d]));
    if (is_grid(s.rule)) {
      const std::int64_t rows = stored.shape[d] / s.grid_cols, cols = s.grid_cols;
      const std::int64_t want_rows = wanted.shape[d] / w.grid_cols, want_cols = w.grid_cols;
      if (want_rows > rows || want_cols > cols) {
        fail(fmt::format("dim {}: grid {}x{} does not fit in {}x{}", d, want_rows, want_cols, rows,
                         cols));
      }
      const bool centre = s.rule == SliceRule::CentreGrid;
      const std::int64_t r0 = centre ? (rows - want_rows) / 2 : 0;
      const std::int64_t c0 = centre ? (cols - want_cols) / 2 : 0;
      for (std::int64_t r = 0; r < want_rows; ++r) {
        for (std::int64_t c = 0; c < want_cols; ++c) map.push_back((r0 + r) * cols + c0 + c);
      }
    } else {
      std::int64_t stored_start = 0;
      for (std::size_t i = 0; i < s.segments.size(); ++i) {
        const std::int64_t big = s.segments[i], small = w.segments[i];
        if (small > big) {
          fail(fmt::format("dim {} segment {} is {} > {}", d, i, small, big));
        }
        const std::int64_t start =
            stored_start + (s.rule == SliceRule::Centre ? (big - small) / 2 : 0);
        for (std::int64_t j = 0; j < small; ++j) map.push_back(start + j);
        stored_start += big;
      }
    }
    maps.push_back(std::move(map));
  }
  return maps;
}

// Element offsets in the stored tensor of every index of each wanted dimension.
std::vector<std::vector<std::int64_t>> element_offsets(std::vector<std::vector<std::int64_t>> maps,
                                                       const Shape& stored_shape) {
  const Strides strides = contiguous_strides(stored_shape);
  for (std::size_t d = 0; d < maps.size(); ++d) {
    for (std::int64_t& i : maps[d]) i *= strides[static_cast<int>(d)];
  }
  return maps;
}

// Calls f(wanted_flat_index, stored_offset) for every element of the slice, row-major.
template <typename F>
void for_each_element(const std::vector<std::vector<std::int64_t>>& offsets, F f) {
  for (const auto& o : offsets) {
    if (o.empty()) return;
  }
  if (offsets.empty()) {
    f(0, 0);
    return;
  }
  const int outer = static_cast<int>(offsets.size()) - 1;
  const std::vector<std::int64_t>& inner = offsets.back();
  std::vector<std::size_t> idx(offsets.size(), 0);
  std::int64_t flat = 0;
  while (true) {
    std::int64_t base = 0;
    for (int d = 0; d < outer; ++d) base += offsets[d][idx[d]];
    for (const std::int64_t o : inner) f(flat++, base + o);
    int d = outer - 1;
    while (d >= 0 && ++idx[d] == offsets[d].size()) idx[d--] = 0;
    if (d < 0) return;
  }
}

// Where a slice lies when it is one strided view: its first element and its strides.
struct ViewLayout {
  std::int64_t offset = 0;
  Strides strides;
};

// The layout when every dimension's stored indices step evenly; empty otherwise.
std::optional<ViewLayout> view_layout(std::string_view name, const WeightSpec& stored,
                                      const WeightSpec& wanted) {
  const auto maps = index_maps(name, stored, wanted);
  const Strides strides = contiguous_strides(stored.shape);
  ViewLayout out{.offset = 0, .strides = wanted.shape};
  for (int d = 0; d < wanted.shape.rank(); ++d) {
    const std::vector<std::int64_t>& m = maps[static_cast<std::size_t>(d)];
    const std::int64_t step = m.size() > 1 ? m[1] - m[0] : 1;
    for (std::size_t j = 1; j < m.size(); ++j) {
      if (m[j] - m[j - 1] != step) return std::nullopt;
    }
    if (!m.empty()) out.offset += m[0] * strides[d];
    out.strides[d] = step * strides[d];
  }
  if (wanted.shape.numel() == 0) out.offset = 0;
  return out;
}

}  // namespace

void WeightStore::declare(const std::string& name, const WeightSpec& spec_in) {
  check_slicing(spec_in, fmt::format("{}: '{}'", kWhere, name));
  const WeightSpec spec = normalized(spec_in);
  const auto it = entries_.find(name);
  if (it == entries_.end()) {
    entries_.emplace(name, Entry{.spec = spec, .tensor = Tensor::zeros(spec.shape)});
    return;
  }
  Entry& e = it->second;
  const auto fail = [&](const std::string& why) {
    throw InvalidArgument(
        fmt::format("{}: '{}' is declared at {} and at {}, which cannot be one "
                    "weight: {}",
                    kWhere, name, e.spec.shape.to_string(), spec.shape.to_string(), why));
  };
  if (spec.shape.rank() != e.spec.shape.rank()) {
    fail(fmt::format("rank {} vs {}", e.spec.shape.rank(), spec.shape.rank()));
  }
  if (spec.kind != e.spec.kind) fail("another kind of weight");
  WeightSpec grown = e.spec;
  for (int d = 0; d < spec.shape.rank(); ++d) {
    DimSlicing& g = grown.slicing[static_cast<std::size_t>(d)];
    const DimSlicing& s = spec.slicing[static_cast<std::size_t>(d)];
    if (g.rule != s.rule || g.segments.size() != s.segments.size()) {
      fail(fmt::format("dim {} is {}, then {}", d, describe(g, e.spec.shape[d]),
                       describe(s, spec.shape[d])));
    }
    if (is_grid(g.rule)) {
      const std::int64_t rows =
          std::max(e.spec.shape[d] / g.grid_cols, spec.shape[d] / s.grid_cols);
      g.grid_cols = std::max(g.grid_cols, s.grid_cols);
      g.segments = {rows * g.grid_cols};
    } else {
      for (std::size_t i = 0; i < g.segments.size(); ++i) {
        g.segments[i] = std::max(g.segments[i], s.segments[i]);
      }
    }
    std::int64_t extent = 0;
    for (const std::int64_t size : g.segments) extent += size;
    grown.shape[d] = extent;
  }
  if (!(grown.shape == e.spec.shape)) e.tensor = Tensor::zeros(grown.shape);
  e.spec = std::move(grown);
}

void WeightStore::initialize(std::uint64_t seed) {
  for (auto& [name, e] : entries_) {
    std::mt19937_64 rng(seed ^ fnv1a(name));
    fill_random_weight(e.spec.kind, e.tensor.view(), rng);
  }
}

bool WeightStore::has(std::string_view name) const { return entries_.find(name) != entries_.end(); }

std::vector<std::string> WeightStore::names() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& [name, e] : entries_) out.push_back(name);
  return out;
}

namespace {

template <typename Map>
auto& find_entry(Map& entries, std::string_view name) {
  const auto it = entries.find(name);
  if (it == entries.end()) {
    throw InvalidArgument(fmt::format("{}: no weight '{}' is declared", kWhere, name));
  }
  return it->second;
}

}  // namespace

const WeightSpec& WeightStore::spec(std::string_view name) const {
  return find_entry(entries_, name).spec;
}

ConstTensorView WeightStore::tensor(std::string_view name) const {
  return find_entry(entries_, name).tensor.view();
}

TensorView WeightStore::mutable_tensor(std::string_view name) {
  return find_entry(entries_, name).tensor.view();
}

std::int64_t WeightStore::numel() const {
  std::int64_t n = 0;
  for (const auto& [name, e] : entries_) n += e.tensor.numel();
  return n;
}

namespace {

ViewLayout view_layout_or_throw(std::string_view name, const WeightSpec& stored,
                                const WeightSpec& wanted) {
  std::optional<ViewLayout> layout = view_layout(name, stored, wanted);
  if (!layout) {
    throw InvalidArgument(fmt::format(
        "{}: '{}' at {} is not one strided view of the stored {} (segments or a grid cut it "
        "into pieces); gather it",
        kWhere, name, wanted.shape.to_string(), stored.shape.to_string()));
  }
  return *layout;
}

}  // namespace

ConstTensorView WeightStore::view(std::string_view name, const WeightSpec& wanted) const {
  const Entry& e = find_entry(entries_, name);
  const ViewLayout l = view_layout_or_throw(name, e.spec, wanted);
  return ConstTensorView(reinterpret_cast<const std::byte*>(e.tensor.f32() + l.offset),
                         wanted.shape, l.strides, DType::F32);
}

TensorView WeightStore::mutable_view(std::string_view name, const WeightSpec& wanted) {
  Entry& e = find_entry(entries_, name);
  const ViewLayout l = view_layout_or_throw(name, e.spec, wanted);
  return TensorView(reinterpret_cast<std::byte*>(e.tensor.f32() + l.offset), wanted.shape,
                    l.strides, DType::F32);
}

bool WeightStore::is_view(std::string_view name, const WeightSpec& wanted) const {
  const Entry& e = find_entry(entries_, name);
  return view_layout(name, e.spec, wanted).has_value();
}

Tensor WeightStore::gather(std::string_view name, const WeightSpec& wanted) const {
  const Entry& e = find_entry(entries_, name);
  const auto offsets = element_offsets(index_maps(name, e.spec, wanted), e.spec.shape);
  Tensor out = Tensor::empty(wanted.shape);
  const float* src = e.tensor.f32();
  float* dst = out.f32();
  for_each_element(offsets, [&](std::int64_t i, std::int64_t o) { dst[i] = src[o]; });
  return out;
}

void WeightStore::scatter(std::string_view name, const WeightSpec& wanted, ConstTensorView values) {
  Entry& e = find_entry(entries_, name);
  const auto offsets = element_offsets(index_maps(name, e.spec, wanted), e.spec.shape);
  if (values.dtype() != DType::F32 || !(values.shape() == wanted.shape)) {
    throw InvalidArgument(fmt::format(
        "{}: scatter into '{}' needs f32 values of shape {}, got {} {}", kWhere, name,
        wanted.shape.to_string(), to_string(values.dtype()), values.shape().to_string()));
  }
  // A contiguous copy: values may be strided, or even a view of this very weight.
  const Tensor copy = Tensor::copy_of(values);
  const float* src = copy.f32();
  float* dst = e.tensor.f32();
  for_each_element(offsets, [&](std::int64_t i, std::int64_t o) { dst[o] = src[i]; });
}

void WeightStore::save(const std::string& path) const {
  std::map<std::string, ConstTensorView, std::less<>> views;
  for (const auto& [name, e] : entries_) views.emplace(name, e.tensor.view());
  // transformers' loader expects this key in files it reads.
  write_safetensors(path, views, {{"format", "pt"}});
}

void WeightStore::load(const std::string& path, bool allow_missing) {
  const SafetensorsFile file = read_safetensors(path);
  // Everything is checked before anything is copied, so a refused file leaves the store as it was.
  for (const auto& [name, t] : file.tensors) {
    const auto it = entries_.find(name);
    if (it == entries_.end()) {
      throw InvalidArgument(
          fmt::format("{}: tensor '{}' is not a weight of this network (no "
                      "such name is declared)",
                      path, name));
    }
    if (!(t.shape() == it->second.spec.shape)) {
      throw InvalidArgument(fmt::format("{}: tensor '{}' has shape {}, the network holds it at {}",
                                        path, name, t.shape().to_string(),
                                        it->second.spec.shape.to_string()));
    }
  }
  if (!allow_missing) {
    std::vector<std::string> missing;
    for (const auto& [name, e] : entries_) {
      if (file.tensors.find(name) == file.tensors.end()) missing.push_back(name);
    }
    if (!missing.empty()) {
      constexpr std::size_t kShown = 5;
      const std::size_t shown = std::min(missing.size(), kShown);
      throw InvalidArgument(fmt::format(
          "{}: lacks {} weight(s) of this network: {}{}", path, missing.size(),
          fmt::join(missing.begin(), missing.begin() + static_cast<std::ptrdiff_t>(shown), ", "),
          missing.size() > shown ? ", ..." : ""));
    }
  }
  for (const auto& [name, t] : file.tensors) {
    Tensor& dst = entries_.find(name)->second.tensor;
    std::copy(t.f32(), t.f32() + t.numel(), dst.f32());
  }
}

}  // namespace hwnas
