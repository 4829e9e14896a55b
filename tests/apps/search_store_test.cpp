// Where hwnas search keeps a search (apps/search_store.hpp) and its quality cache
// (apps/quality_cache.hpp), against a scratch store: what a resumed search gets back is what the
// observer stored. Random archs of a tiny space, random objectives; nothing is timed.
#include "apps/search_store.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "apps/quality_cache.hpp"
#include "search/genome.hpp"
#include "supernet/search_space.hpp"
#include "tests/store/store_test_util.hpp"

namespace hwnas::cli {
namespace {

using hwnas::testing::TempDir;

constexpr std::string_view kTinySpace = R"({
  "name": "tiny", "resolutions": [32],
  "stems": [{"convs": [{"kernel": 4, "stride": 4}], "norm": {"norm": "ln"}}],
  "frame": "metaformer", "norm": {"norm": "ln"}, "mlp": {"mlp": "mlp", "act": "gelu_erf"},
  "stages": [
    {"depths": [1, 2], "widths": [16, 32], "mlp_ratios": [2, 4],
     "mixers": [{"mixer": "dwconv", "k": [3, 5]}, {"mixer": "pool_mixer"}]},
    {"depths": [1, 2], "widths": [32, 48], "mlp_ratios": [2],
     "downsample": {"downsample": "conv", "kernel": 2, "stride": 2, "norm": {"norm": "ln"},
                    "norm_place": "post"},
     "mixers": [{"mixer": "dwconv", "k": [3]}, {"mixer": "mhsa", "head_dim": [16]}]}],
  "head": {"norm": {"norm": "ln"}, "norm_place": "before_pool", "num_classes": 10}})";

class SearchStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_.emplace(Store::open(dir_.file("t.db")));
    const std::int64_t device = store_->upsert_device("test-device", "{}");
    run_ = store_->begin_run({.kind = "search", .device_id = device});
  }
  // A candidate of a distinct random arch with random objectives (never zero).
  Candidate random_candidate() {
    Candidate c;
    for (int draw = 0; draw < 100; ++draw) {
      c.arch = sample_arch(space_, rng_, 32);
      c.hash = arch_hash(c.arch);
      if (used_.insert(c.hash).second) break;
    }
    std::uniform_real_distribution<double> u(0.5, 2.0);
    c.obj = {.latency_ms = u(rng_),
             .latency_source = "lut",
             .predicted_ms = u(rng_),
             .quality = 30 * u(rng_),
             .quality_source = "naswot",
             .params = 1e5 * u(rng_),
             .flops = 1e7 * u(rng_)};
    c.violation = u(rng_) - 0.5;
    c.rank = static_cast<int>(u(rng_) * 2);
    c.crowding = u(rng_);
    return c;
  }
  GenerationReport report(int generation, std::vector<Candidate> evaluated,
                          std::vector<Candidate> population) {
    for (Candidate& c : population) c.in_population = true;
    return {.generation = generation,
            .evaluated = std::move(evaluated),
            .population = std::move(population),
            .hypervolume = 0.25 + generation,
            .reference = {-10.5, 3.25},
            .objectives = {"quality", "latency"},
            .evaluations = 3,
            .cache_hits = 1};
  }

  TempDir dir_;
  std::optional<Store> store_;
  std::int64_t run_ = 0;
  SearchSpace space_ = parse_search_space(kTinySpace, "tiny.json");
  std::mt19937_64 rng_{17};
  std::set<std::string> used_;
};

void expect_same_objectives(const Candidate& got, const Candidate& want) {
  EXPECT_EQ(got.hash, want.hash);
  EXPECT_EQ(arch_hash(got.arch), want.hash);
  EXPECT_EQ(got.obj.latency_ms, want.obj.latency_ms) << want.hash;
  EXPECT_EQ(got.obj.latency_source, want.obj.latency_source);
  EXPECT_EQ(got.obj.predicted_ms, want.obj.predicted_ms);
  EXPECT_EQ(got.obj.quality, want.obj.quality);
  EXPECT_EQ(got.obj.quality_source, want.obj.quality_source);
  EXPECT_EQ(got.obj.params, want.obj.params);
  EXPECT_EQ(got.obj.flops, want.obj.flops);
}

TEST_F(SearchStoreTest, AResumePointIsWhatTheObserverStored) {
  EXPECT_FALSE(load_resume_point(*store_, run_).has_value()) << "no generation yet";
  StoreSearchObserver observer(*store_, run_, {.generations = 3, .population = 3}, 0);
  std::vector<Candidate> first{random_candidate(), random_candidate(), random_candidate()};
  for (Candidate& c : first) c.origin = "init";
  observer.on_generation(report(0, first, first));
  std::vector<Candidate> offspring{random_candidate(), random_candidate(), random_candidate()};
  // The lineage comes back as the search wrote it (stored as the parents' hashes).
  offspring[0].origin = "mutation:" + first[0].hash;
  offspring[1].origin = "crossover:" + first[1].hash + "," + first[2].hash;
  offspring[2].origin = "mutation:" + first[2].hash;
  // A member of generation 0 survives with a newer standing; its objectives stay those of its
  // first evaluation.
  Candidate kept = first[1];
  kept.rank = 0;
  kept.crowding = INFINITY;
  const std::vector<Candidate> population{offspring[2], kept, offspring[0]};
  observer.on_generation(report(1, offspring, population));

  const std::optional<ResumePoint> point = load_resume_point(*store_, run_);
  ASSERT_TRUE(point.has_value());
  EXPECT_EQ(point->completed_generation, 1);
  EXPECT_EQ(point->reference, (std::vector<double>{-10.5, 3.25}));
  EXPECT_EQ(point->hypervolumes, (std::vector<double>{0.25, 1.25}));
  ASSERT_EQ(point->population.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    expect_same_objectives(point->population[i], population[i]);
    // The canonical JSON holds no name; a resumed arch has the one it was stored under, so the
    // latency evaluators can store it again (they refuse an empty name).
    EXPECT_EQ(point->population[i].arch.name, population[i].arch.name);
    EXPECT_FALSE(point->population[i].arch.name.empty());
  }
  ASSERT_EQ(point->evaluated.size(), 6u) << "each arch once";
  std::map<std::string, const Candidate*> evaluated;
  for (const Candidate& c : point->evaluated) evaluated[c.hash] = &c;
  for (const std::vector<Candidate>* generation : {&first, &offspring}) {
    for (const Candidate& c : *generation) {
      ASSERT_TRUE(evaluated.contains(c.hash)) << c.hash;
      expect_same_objectives(*evaluated[c.hash], c);
      EXPECT_EQ(evaluated[c.hash]->origin, c.origin);
      EXPECT_FALSE(evaluated[c.hash]->arch.name.empty());
    }
  }
  const std::vector<GenerationRow> rows = store_->generations(run_);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].objectives, (std::vector<std::string>{"neg_quality", "latency_ms"}));
  EXPECT_EQ(rows[1].cache_hits, 1);
}

TEST_F(SearchStoreTest, APopulationMemberWithoutACandidateRowIsAnIoError) {
  StoreSearchObserver observer(*store_, run_, {.generations = 1, .population = 2}, 0);
  const Candidate evaluated = random_candidate();
  const Candidate stray = random_candidate();
  store_->upsert_arch(arch_row(stray.arch, stray.hash));
  // Generation 0 evaluated one arch but names another as its population.
  observer.on_generation(report(0, {evaluated}, {evaluated, stray}));
  try {
    load_resume_point(*store_, run_);
    FAIL() << "expected an IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("population member " + stray.hash +
                                         " of generation 0 has no candidate row"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(SearchStoreTest, FrontRowsKeepTheFrontsOrderAndObjectives) {
  StoreSearchObserver observer(*store_, run_, {.generations = 0, .population = 2}, 0);
  const std::vector<Candidate> front{random_candidate(), random_candidate()};
  observer.on_generation(report(0, front, front));
  store_->set_front(run_, front_rows(run_, front));
  const std::vector<FrontRow> rows = store_->front(run_);
  ASSERT_EQ(rows.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(rows[i].idx, static_cast<std::int64_t>(i));
    EXPECT_EQ(rows[i].arch_hash, front[i].hash);
    EXPECT_EQ(rows[i].latency_ms, front[i].obj.latency_ms);
    EXPECT_EQ(rows[i].predicted_ms, front[i].obj.predicted_ms);
    EXPECT_EQ(rows[i].quality, front[i].obj.quality);
    EXPECT_EQ(rows[i].params, front[i].obj.params);
  }
}

// Scores a fixed random value per arch and counts the calls.
class CountingQuality final : public QualityEvaluator {
 public:
  std::string_view source() const override { return "naswot"; }
  QualityEstimate evaluate(const Arch& arch) override {
    ++calls;
    return {.value = 10.0 + static_cast<double>(arch_hash(arch)[0]) / 7, .source = "naswot"};
  }
  int calls = 0;
};

TEST_F(SearchStoreTest, QualityIsScoredOncePerArchAndConfig) {
  CountingQuality inner;
  CachedQuality cached(inner, *store_, "res=32,batch=4,seed=1");
  const Candidate a = random_candidate();
  const QualityEstimate first = cached.evaluate(a.arch);
  EXPECT_FALSE(first.cache_hit);
  EXPECT_EQ(inner.calls, 1);
  EXPECT_TRUE(store_->arch(a.hash).has_value()) << "the score's arch is stored with it";

  CountingQuality other_inner;
  CachedQuality again(other_inner, *store_, "res=32,batch=4,seed=1");
  const QualityEstimate second = again.evaluate(a.arch);
  EXPECT_TRUE(second.cache_hit);
  EXPECT_EQ(second.value, first.value);
  EXPECT_EQ(second.source, "naswot");
  EXPECT_EQ(other_inner.calls, 0) << "another search on the same store scores nothing again";

  CachedQuality other_config(other_inner, *store_, "res=32,batch=8,seed=1");
  EXPECT_FALSE(other_config.evaluate(a.arch).cache_hit);
  EXPECT_EQ(other_inner.calls, 1) << "a score of another config is never reused";
}

}  // namespace
}  // namespace hwnas::cli
