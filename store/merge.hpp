// Folding one store into another (`hwnas merge`): the shards of a sweep or search, each run on its
// own machine into its own file (DESIGN.md "Scale beyond one machine"), become one store.
//
//   Store out = Store::open("all.db");
//   for (const std::string& shard : shards) MergeStats added = merge_store(out, shard);
//
// Rows are matched by what names them in every file, never by id (ids differ between files):
// devices by device_key, archs by hash, runs by uid; a run's measurements by (key, created_at,
// threads, batch, dtype), layer times by their measurement and idx, search generations, candidates
// and front rows by their keys within the run, quality scores by (arch hash, method, config), claim
// results and predictor points by claim id and arch hash within the run. What dst already holds is
// kept; only what it lacks is added, so merging a file twice adds nothing, and a run continued
// after a merge brings only its new rows. A run dst holds as anything but finished
// takes src's status, end and drift when src's copy is finished.
#pragma once

#include <cstdint>
#include <string>

#include "store/store.hpp"

namespace hwnas {

struct MergeStats {  // rows added to dst, per table
  std::int64_t devices = 0, archs = 0, runs = 0, measurements = 0, layer_times = 0, generations = 0,
               candidates = 0, front_rows = 0, quality_scores = 0, claim_results = 0,
               predictor_points = 0;
  friend bool operator==(const MergeStats&, const MergeStats&) = default;
};

// Adds the store at src_path to dst in one transaction (all or nothing); src is opened read-only
// and never written. Throws InvalidArgument when src_path is dst's own file; IoError when src
// cannot be opened as a store of this schema (missing, not an hwnas database, a newer or older
// schema: the errors of Store::open), and when an arch hash is stored in both with different
// canonical JSON (naming the hash).
MergeStats merge_store(Store& dst, const std::string& src_path);

}  // namespace hwnas
