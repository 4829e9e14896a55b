#include "apps/measurement_output.hpp"

namespace hwnas::cli {

std::string measurement_flags(const Measurement& m) {
  std::string flags;
  if (!m.converged) flags += "not_converged,";
  if (m.high_cv) flags += "high_cv,";
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
          {"high_cv", m.high_cv}};
}

}  // namespace hwnas::cli
