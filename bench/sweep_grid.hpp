// Sweep grids: a JSON file of op configurations crossed with input shapes, expanded into the list
// of points `hwnas sweep` times (the format is documented in docs/sweep.md).
//
// A point is an op of the bench-op registry with key=value assignments; its identity is the
// canonical key the op gives those assignments (workload_key), so two blocks that spell the same
// configuration differently name one point, and a point's key is the key of its stored row.
//
// Sharding splits a grid by a hash of each key, not by position, so every process of a Slurm job
// array or an MPI launch computes its share alone, the shares never overlap, their union is the
// grid, and editing the order of a grid file moves no point to another shard.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hwnas {

struct SweepPoint {
  std::string op;                        // an op of op_registry()
  std::vector<std::string> assignments;  // "name=value", as the grid gives them; others default
  std::string key;                       // canonical key: the point's identity
  std::int64_t batch = 1;                // n of an NHWC op (one with n, h, w, c), else 1
  std::string where;                     // where the grid defines it: "block 3 (mhsa) shape stage1"
};

// A grid larger than this is almost certainly a cross product written by mistake.
inline constexpr std::size_t kMaxGridPoints = 100'000;

// Expands and validates every point without preparing any (parameters, ranges and each op's own
// check, e.g. heads dividing c). `source` names the grid in messages (its path). Duplicate keys
// keep their first occurrence; the order is the file's (blocks in order; within a block, shapes or
// ladder rungs, then parameter values in the order written, the last parameter varying fastest,
// then batch). Throws InvalidArgument, one line naming the source, the JSON path or block index,
// the op and the bad value: malformed JSON, an unknown or missing field, an unknown op or
// parameter, a value out of range, a shape an op's check refuses, an undefined "$var", an empty
// grid, more than kMaxGridPoints points.
std::vector<SweepPoint> expand_grid(std::string_view text, std::string_view source);

// Reads the file and expands it. Throws IoError when it cannot be read, InvalidArgument as above.
std::vector<SweepPoint> load_grid(const std::string& path);

// FNV-1a, 64 bits: stable across builds, platforms and runs (std::hash is none of these).
std::uint64_t fnv1a64(std::string_view bytes);

// 16 hex digits identifying the point list: FNV-1a of the keys in order, one per line. A resumed
// sweep compares it with the digest stored in its run to know the grid has not changed.
std::string points_digest(std::span<const SweepPoint> points);

// Shard index of count: the points whose fnv1a64(key) % count == index.
struct Shard {
  int index = 0;
  int count = 1;
  friend bool operator==(const Shard&, const Shard&) = default;
};

// Parses "i/N" with 0 <= i < N and N >= 1. Throws InvalidArgument naming the text and the rule.
Shard parse_shard(std::string_view text);
std::string to_string(const Shard& shard);  // "i/N"

// The points of one shard, in their original order. Throws InvalidArgument for a shard that
// parse_shard would refuse.
std::vector<SweepPoint> shard_points(std::span<const SweepPoint> points, const Shard& shard);

}  // namespace hwnas
