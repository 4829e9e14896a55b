#include "apps/quality_cache.hpp"

#include "apps/arch_measurement.hpp"

namespace hwnas::cli {

CachedQuality::CachedQuality(QualityEvaluator& inner, Store& store, std::string config)
    : inner_(&inner), store_(&store), config_(std::move(config)) {}

QualityEstimate CachedQuality::evaluate(const Arch& arch) {
  const std::string hash = arch_hash(arch);
  const std::string method(inner_->source());
  if (const std::optional<QualityRow> row = store_->quality(hash, method, config_)) {
    return {.value = row->value, .source = method, .cache_hit = true};
  }
  QualityEstimate estimate = inner_->evaluate(arch);
  store_->upsert_arch(arch_row(arch, hash));
  store_->upsert_quality({.arch_hash = hash, .method = method, .config = config_, .value = estimate.value});
  return estimate;
}

}  // namespace hwnas::cli
