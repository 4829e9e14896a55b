// A store with one of everything a report shows, written through the Store API with random values
// (nothing is measured): a search run (generations, candidates, front; some candidates measured
// with a prediction beside them), a sweep with a resolution ladder, a bench of a catalog model with
// per-layer times, and a roofline.
#pragma once

#include <fmt/format.h>

#include <random>
#include <regex>
#include <string>
#include <vector>

#include "store/store.hpp"
#include "tests/store/store_test_util.hpp"

namespace hwnas::testing {

inline std::string small_arch_json(const std::string& mixer, int width, int depth) {
  std::vector<std::string> blocks(
      static_cast<std::size_t>(depth),
      fmt::format(R"({{"units":[{{"ops":[{{"mixer":"{}","k":"7"}}]}},)"
                  R"({{"ops":[{{"mlp":"mlp","ratio":4,"act":"gelu_erf"}}]}}]}})",
                  mixer));
  return fmt::format(R"({{"name":"t","in_chans":3,"stages":[{{"width":{},"blocks":[{}]}}]}})",
                     width, fmt::join(blocks, ","));
}

// The <section id="..."> ... </section> text of one section.
inline std::string section_html(const std::string& html, const std::string& id) {
  const std::size_t start = html.find(fmt::format("<section id=\"{}\">", id));
  if (start == std::string::npos) return {};
  return html.substr(start, html.find("</section>", start) - start);
}

struct Circle {
  double x = 0, y = 0;
  std::string tooltip;
};

// The points of one chart series, with their data values and tooltips.
inline std::vector<Circle> circles(const std::string& svg, const std::string& series) {
  const std::regex re(fmt::format(
      R"re(<circle class="pt" data-series="{}" data-x="([^"]+)" data-y="([^"]+)"[^>]*><title>([^<]*)</title>)re",
      series));
  std::vector<Circle> out;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), re); it != std::sregex_iterator();
       ++it) {
    out.push_back({std::stod((*it)[1]), std::stod((*it)[2]), (*it)[3]});
  }
  return out;
}

struct SampleStore {
  std::int64_t device = 0, search = 0, sweep = 0, bench = 0, roofline = 0;
  std::vector<std::string> hashes;  // the search's archs
};

// A search run of `generations` x `per_generation` candidates over `archs` stored archs.
inline std::int64_t add_search(Store& store, std::int64_t device, std::mt19937_64& rng,
                               std::vector<std::string>& hashes, int generations,
                               int per_generation, bool finish = true) {
  const std::int64_t run = store.begin_run(
      {.kind = "search",
       .device_id = device,
       .config_json =
           R"({"space":"s.json","space_json":{},"objectives":"quality,latency","latency":"lut","population":4,"generations":2,"batch":1,"res":64,"threads":2,"seed":3})",
       .code_version = "abc123"});
  static int next = 0;
  while (static_cast<int>(hashes.size()) < per_generation + 2) {
    const std::string hash = fmt::format("{:016x}", 0xa000 + next);
    store.upsert_arch({.hash = hash,
                       .canonical_json = small_arch_json(next % 2 ? "dwconv" : "pool_mixer",
                                                         32 + 16 * (next % 3), 1 + next % 3),
                       .name = "searched"});
    hashes.push_back(hash);
    ++next;
  }
  for (int g = 0; g < generations; ++g) {
    std::vector<CandidateRow> candidates;
    for (int i = 0; i < per_generation; ++i) {
      CandidateRow c = random_candidate(
          run, g, i, hashes[static_cast<std::size_t>((g + i) % hashes.size())], rng);
      // Every third is a measured check of the lookup table.
      if (i % 3 == 0) c.latency_source = "measured";
      candidates.push_back(c);
    }
    store.add_generation(random_generation(run, g, {candidates[0].arch_hash}, rng), candidates);
  }
  if (generations > 0) {
    std::vector<FrontRow> front;
    for (int i = 0; i < 3; ++i)
      front.push_back(random_front_row(run, i, hashes[static_cast<std::size_t>(i)], rng));
    store.set_front(run, front);
  }
  if (finish) store.finish_run(run, RunStatus::Finished, RunDrift{.rel = 0.01, .drifted = false});
  return run;
}

inline SampleStore fill_sample_store(Store& store, std::uint64_t seed = 5) {
  std::mt19937_64 rng(seed);
  SampleStore s;
  s.device = store.upsert_device("cpu:test", R"({"cpu_model":"Test CPU","cores":2,"isa":"avx2"})");
  s.roofline = store.begin_run(
      {.kind = "roofline",
       .device_id = s.device,
       .config_json =
           R"({"threads":2,"peak_isa":"avx2","peak_gflops":150.5,"matmul_gflops":120.25,"l2_gbps":300,"l3_gbps":100,"dram_gbps":20.5})"});
  store.finish_run(s.roofline, RunStatus::Finished);

  s.sweep = store.begin_run(
      {.kind = "sweep", .device_id = s.device, .config_json = R"({"grid":"g.json"})"});
  std::vector<MeasurementRow> points;
  for (const int side : {8, 16, 32}) {
    points.push_back(random_measurement(
        s.sweep, fmt::format("window_attention:n=1,h={0},w={0},c=32,heads=2,window=4", side), rng));
    points.push_back(
        random_measurement(s.sweep, fmt::format("dwconv:n=1,h={0},w={0},c=32,k=7", side), rng));
  }
  points.push_back(random_measurement(s.sweep, "linear:m=64,k=32,n=32,bias=1,act=none", rng));
  store.add_measurements(points);
  store.finish_run(s.sweep, RunStatus::Finished);

  s.bench = store.begin_run({.kind = "bench",
                             .device_id = s.device,
                             .config_json = R"({"arch":"poolformer_s12","batch":1,"res":64})"});
  store.upsert_arch({.hash = "00000000000b0001",
                     .canonical_json = small_arch_json("pool_mixer", 64, 2),
                     .name = "poolformer_s12"});
  MeasurementRow m = random_measurement(s.bench, "arch:00000000000b0001,b=1,r=64", rng);
  m.kind = MeasurementKind::Arch;
  m.arch_hash = "00000000000b0001";
  m.batch = 1;
  m.params_json = R"({"name":"poolformer_s12","res":64,"params":11900000})";
  const std::int64_t id = store.add_measurement(m);
  std::vector<LayerTimeRow> layers;
  const std::vector<std::pair<std::string, std::string>> kinds = {
      {"stem", "conv2d:n=1"},
      {"mixer", "pool_mixer:n=1,h=16,w=16,c=64,pool=3"},
      {"mlp", "mlp:n=1"},
      {"head", "linear:m=1"}};
  for (std::size_t i = 0; i < kinds.size(); ++i) {
    layers.push_back({.measurement_id = id,
                      .idx = static_cast<std::int64_t>(i),
                      .name = fmt::format("layer.{}", i),
                      .kind = kinds[i].first,
                      .key = kinds[i].second,
                      .median_ms = 0.5 + static_cast<double>(i),
                      .share = 0.25,
                      .n = 1,
                      .samples_ms = {0.5 + static_cast<double>(i)}});
  }
  store.add_layer_times(layers);
  store.finish_run(s.bench, RunStatus::Finished);

  s.search = add_search(store, s.device, rng, s.hashes, 2, 6);
  return s;
}

}  // namespace hwnas::testing
