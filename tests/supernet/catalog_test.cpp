// The model catalog (supernet/catalog/*.json, docs/catalog.md) against the published numbers of
// reports/claims/architectures.json: every file parses, validates at its paper's input
// resolution, and arch_cost's parameters and compute are within 2 % of what the authors report.
// A model whose published count cannot be met for a documented reason is an explicit exception
// below, holding the reason and the measured deviation, which must not drift.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "supernet/arch.hpp"
#include "supernet/subnet.hpp"

namespace hwnas {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

const fs::path kCatalogDir = fs::path(HWNAS_SOURCE_DIR) / "supernet" / "catalog";
const fs::path kClaimsFile =
    fs::path(HWNAS_SOURCE_DIR) / "reports" / "claims" / "architectures.json";

// The bar: params and compute within 2 % of the published numbers.
constexpr double kTolerance = 0.02;

// A published number our count cannot meet for a documented reason. `deviation` is our count over
// the published one, minus 1, as measured; the test holds it to +-0.1 percentage points, so a
// change of the model or of the cost model shows up here instead of hiding behind the exception.
struct Exception {
  std::string id;
  std::string quantity;  // "params" or "flops"
  double deviation;
  std::string reason;
};

const std::vector<Exception>& exceptions() {
  static const std::vector<Exception> kExceptions = {
      {"cswin_t", "params", -0.02954,
       "the paper's 23M is not the official CSWin_64_12211_tiny_224 module's count: every "
       "parameter of models/cswin.py (qkv with bias, proj, LePE 3x3 with bias per branch, MLPs, "
       "norms, 7x7 stem, 3x3 merge convs, head) sums to 22.32M, which our file reproduces"},
  };
  return kExceptions;
}

const Exception* find_exception(const std::string& id, const std::string& quantity) {
  for (const Exception& e : exceptions()) {
    if (e.id == id && e.quantity == quantity) return &e;
  }
  return nullptr;
}

std::vector<std::string> catalog_ids() {
  std::vector<std::string> ids;
  for (const fs::directory_entry& entry : fs::directory_iterator(kCatalogDir)) {
    if (entry.path().extension() == ".json") ids.push_back(entry.path().stem().string());
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

const std::map<std::string, Json>& published() {
  static const std::map<std::string, Json> kModels = [] {
    std::ifstream file(kClaimsFile);
    EXPECT_TRUE(file) << "cannot read " << kClaimsFile;
    const Json ledger = Json::parse(file);
    std::map<std::string, Json> models;
    for (const Json& model : ledger.at("models")) models[model.at("id").get<std::string>()] = model;
    return models;
  }();
  return kModels;
}

// Papers report multiply-accumulates under the name FLOPs (the ledger's convention); only a
// flops_kind that says it counted real FLOPs (2 per multiply-add) is compared with our FLOPs.
bool counts_real_flops(std::string kind) {
  std::transform(kind.begin(), kind.end(), kind.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return kind.find("real flops") != std::string::npos;
}

// Checks ours/published - 1 against the 2 % bar, or against the recorded exception.
void expect_close(const std::string& id, const std::string& quantity, double ours,
                  double published_value) {
  const double deviation = ours / published_value - 1;
  const std::string what = id + " " + quantity + ": ours " + std::to_string(ours) + ", published " +
                           std::to_string(published_value) + ", deviation " +
                           std::to_string(100 * deviation) + " %";
  if (const Exception* e = find_exception(id, quantity)) {
    EXPECT_NEAR(deviation, e->deviation, 1e-3)
        << what << " has drifted from the recorded exception (" << e->reason << ")";
    EXPECT_GT(std::abs(deviation), kTolerance) << what << " is now within 2 %: drop its exception";
    return;
  }
  EXPECT_LE(std::abs(deviation), kTolerance) << what;
}

class CatalogTest : public ::testing::TestWithParam<std::string> {};

TEST_P(CatalogTest, ParsesValidatesAndMatchesPublishedCounts) {
  const std::string id = GetParam();
  const Arch arch = load_arch_file((kCatalogDir / (id + ".json")).string());
  EXPECT_EQ(arch.name, id) << "the file's name must be its id";
  const auto it = published().find(id);
  ASSERT_NE(it, published().end()) << id << " has no entry in " << kClaimsFile;
  const Json& model = it->second;
  ASSERT_TRUE(model.at("params_m").is_number() && model.at("flops_g").is_number()) << id;
  const std::int64_t resolution = model.at("input_resolution").get<std::int64_t>();
  validate_arch(arch, resolution);
  const ArchCost cost = arch_cost(arch, resolution);
  expect_close(id, "params", cost.params, model.at("params_m").get<double>() * 1e6);
  const bool real = counts_real_flops(model.at("flops_kind").get<std::string>());
  expect_close(id, "flops", real ? cost.flops : cost.flops / 2,
               model.at("flops_g").get<double>() * 1e9);
  std::cout << "[catalog] " << id << " res=" << resolution << " params=" << cost.params / 1e6
            << "M (published " << model.at("params_m") << ") " << (real ? "gflops=" : "gmacs=")
            << (real ? cost.flops : cost.flops / 2) / 1e9 << " (published " << model.at("flops_g")
            << ")\n";
}

INSTANTIATE_TEST_SUITE_P(Catalog, CatalogTest, ::testing::ValuesIn(catalog_ids()),
                         [](const auto& p) { return p.param; });

TEST(Catalog, EveryFileIsADistinctNetwork) {
  std::map<std::string, std::string> seen;
  for (const std::string& id : catalog_ids()) {
    const std::string hash = arch_hash(load_arch_file((kCatalogDir / (id + ".json")).string()));
    const auto [it, fresh] = seen.emplace(hash, id);
    EXPECT_TRUE(fresh) << id << " and " << it->second << " are the same network (" << hash << ")";
  }
  EXPECT_GE(seen.size(), 10u);
}

TEST(Catalog, EveryExceptionNamesACatalogModel) {
  const std::vector<std::string> ids = catalog_ids();
  for (const Exception& e : exceptions()) {
    EXPECT_NE(std::find(ids.begin(), ids.end(), e.id), ids.end()) << e.id;
    EXPECT_TRUE(e.quantity == "params" || e.quantity == "flops") << e.quantity;
    EXPECT_FALSE(e.reason.empty()) << e.id;
  }
}

}  // namespace
}  // namespace hwnas
