// A quality evaluator backed by the store's quality_scores: an architecture is scored once per
// (method, config) in a database, across searches, so a second search re-scores nothing. Internal to
// apps/.
#pragma once

#include <string>

#include "search/evaluator.hpp"
#include "store/store.hpp"

namespace hwnas::cli {

class CachedQuality final : public QualityEvaluator {
 public:
  // `config` names everything the score depends on besides the arch (resolution, batch, images,
  // weights seed): scores of another config are never reused. Keeps references to inner and store.
  CachedQuality(QualityEvaluator& inner, Store& store, std::string config);

  std::string_view source() const override { return inner_->source(); }
  QualityEstimate evaluate(const Arch& arch) override;

 private:
  QualityEvaluator* inner_;
  Store* store_;
  std::string config_;
};

}  // namespace hwnas::cli
