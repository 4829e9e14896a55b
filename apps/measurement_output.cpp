#include "apps/measurement_output.hpp"

#include <fmt/format.h>

#include "bench/log.hpp"

namespace hwnas::cli {

std::string op_repro_command(const std::string& key, int threads) {
  std::string words = key;
  for (char& c : words) {
    if (c == ':' || c == ',') c = ' ';
  }
  return fmt::format("hwnas bench-op {} --threads {}", words, threads);
}

MeasurementRow op_measurement_row(const Workload& workload, const Measurement& m,
                                  std::int64_t run_id, int threads) {
  nlohmann::json params = nlohmann::json::object();
  for (const auto& [name, value] : workload.params) params[name] = value;
  MeasurementRow row{.run_id = run_id,
                     .kind = MeasurementKind::Op,
                     .key = workload.key,
                     .params_json = params.dump(),
                     .threads = threads,
                     .impl = workload.impl,
                     .flops = workload.cost.flops,
                     .bytes = workload.cost.bytes,
                     .repro = op_repro_command(workload.key, threads)};
  set_statistics(row, m);
  return row;
}

bool has_flag(std::string_view flags, std::string_view flag) {
  return fmt::format(",{},", flags).find(fmt::format(",{},", flag)) != std::string::npos;
}

void warn_if_contended(std::string_view tag, std::string_view what, const Measurement& m) {
  if (!m.contended) return;
  log::warn(
      tag,
      "{}: other processes had the CPUs {:.0f} % of the time it was timed (after {} "
      "re-measure(s)); its {:.4f} ms is stored flagged 'contended', which the search's and the "
      "lookup table's caches time again rather than trust",
      what, 100 * m.contention, m.remeasures, m.stats.median.count());
}

std::string measurement_flags(const Measurement& m) {
  std::string flags;
  if (!m.converged) flags += "not_converged,";
  if (m.high_cv) flags += "high_cv,";
  if (m.contended) flags += "contended,";
  if (m.remeasures > 0) flags += "remeasured,";
  if (!flags.empty()) flags.pop_back();
  return flags;
}

void set_statistics(MeasurementRow& row, const Measurement& m) {
  const SampleStats& s = m.stats;
  row.min_ms = s.min.count();
  row.p10_ms = s.p10.count();
  row.median_ms = s.median.count();
  row.p90_ms = s.p90.count();
  row.p99_ms = s.p99.count();
  row.mean_ms = s.mean.count();
  row.stddev_ms = s.stddev.count();
  row.mad_ms = s.mad.count();
  row.cv = s.cv;
  row.ci_low_ms = s.median_ci.low.count();
  row.ci_high_ms = s.median_ci.high.count();
  row.n = s.n;
  row.inner_repeats = m.repeats;
  row.samples_ms = m.samples_ms;
  row.flags = measurement_flags(m);
}

nlohmann::json statistics_json(const Measurement& m) {
  const SampleStats& s = m.stats;
  return {{"median_ms", s.median.count()},
          {"p10_ms", s.p10.count()},
          {"p90_ms", s.p90.count()},
          {"p99_ms", s.p99.count()},
          {"min_ms", s.min.count()},
          {"mean_ms", s.mean.count()},
          {"stddev_ms", s.stddev.count()},
          {"mad_ms", s.mad.count()},
          {"cv", s.cv},
          {"ci_low_ms", s.median_ci.low.count()},
          {"ci_high_ms", s.median_ci.high.count()},
          {"samples", s.n},
          {"repeats", m.repeats},
          {"converged", m.converged},
          {"high_cv", m.high_cv},
          {"contention", m.contention},  // NaN (unknown) prints as null
          {"contended", m.contended}};
}

}  // namespace hwnas::cli
