// `hwnas search` as a user runs it: the real binary in a child process, on a tiny two-stage space
// at resolution 32 with the quick timing policy and 4 proxy images, so a candidate costs a few
// milliseconds and a whole search well under a second.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "store/sqlite.hpp"
#include "store/store.hpp"
#include "tests/apps/cli_test_util.hpp"

namespace hwnas {
namespace {

namespace fs = std::filesystem;
using testing::CliResult;
using testing::kTinySpace;
using testing::run_hwnas_in;
using testing::ScratchDir;
using testing::spawn_hwnas;

// Latencies differ between two runs (timing noise), so every test that compares two searches
// ranks by objectives that do not depend on timing: the NASWOT score and the parameter count. The
// latency is still measured and stored for every candidate.
constexpr std::string_view kTimingFree = "--objectives quality,params";

// A search long enough to be killed between two generations: 8 x 80 candidates (many repeat, and
// a repeat costs nothing), a few seconds.
constexpr std::string_view kLong = "--population 8 --generations 80";
constexpr int kLongGenerations = 80;

class SearchCli : public ::testing::Test {
 protected:
  void SetUp() override {
    space_ = file("tiny.json");
    std::ofstream(space_) << kTinySpace;
  }
  std::string file(const std::string& name) const { return (dir_.path() / name).string(); }
  // The settings every test shares; `db` is a file name in the scratch directory.
  std::string search_args(std::string_view extra, const std::string& db) const {
    return fmt::format(
        "search --space {} --res 32 --policy quick --proxy-batch 4 --threads 1 {} --db {}", space_,
        extra, file(db));
  }
  CliResult hwnas(const std::string& args) {
    return run_hwnas_in(args + " --log-level warn", dir_.path());
  }
  CliResult search(std::string_view extra, const std::string& db) {
    return hwnas(search_args(extra, db));
  }
  static std::int64_t count(const std::string& db, const std::string& sql) {
    return sqlite::Database::open(db, {.mode = sqlite::OpenMode::ReadOnly}).query_int64(sql);
  }
  static std::int64_t only_run(const Store& store) {
    const std::vector<RunRow> runs = store.runs();
    EXPECT_EQ(runs.size(), 1u);
    return runs.empty() ? 0 : runs.back().id;
  }
  // Starts `hwnas <search_args(extra, db)>` in a child and returns once the store holds a
  // completed generation of its run (`run_id`), or after 60 s (`run_id` 0).
  pid_t spawn_until_a_generation(std::string_view extra, const std::string& db,
                                 std::int64_t& run_id) {
    std::vector<std::string> args;
    std::istringstream words(search_args(extra, db) + " --log-level warn");
    for (std::string word; words >> word;) args.push_back(word);
    const pid_t pid = spawn_hwnas(std::move(args));
    EXPECT_GE(pid, 0);
    run_id = 0;
    for (int attempt = 0; attempt < 6000 && run_id == 0; ++attempt) {
      usleep(10'000);
      if (!fs::exists(file(db))) continue;
      try {
        const Store reader = Store::open(file(db), {.mode = sqlite::OpenMode::ReadOnly});
        for (const RunRow& run : reader.runs()) {
          if (!reader.generations(run.id).empty()) run_id = run.id;
        }
      } catch (const IoError&) {  // the writer may still be creating the schema
      }
    }
    return pid;
  }

  ScratchDir dir_;
  std::string space_;
};

std::vector<std::string> front_hashes(const Store& store, std::int64_t run_id) {
  std::vector<std::string> hashes;
  for (const FrontRow& row : store.front(run_id)) hashes.push_back(row.arch_hash);
  return hashes;
}

// Per generation, the evaluated candidates' hashes in order.
std::vector<std::vector<std::string>> candidate_hashes(const Store& store, std::int64_t run_id) {
  std::vector<std::vector<std::string>> out;
  for (const CandidateRow& row : store.candidates(run_id)) {
    if (static_cast<std::size_t>(row.generation) >= out.size()) out.resize(row.generation + 1);
    out[row.generation].push_back(row.arch_hash);
  }
  return out;
}

TEST_F(SearchCli, StoresEveryGenerationTheFrontAndAFinishedRunAndPrintsTheFrontAsJson) {
  const CliResult r = search("--population 4 --generations 2 --json", "s.db");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Store store = Store::open(file("s.db"));
  const std::int64_t run_id = only_run(store);
  const RunRow run = *store.run(run_id);
  EXPECT_EQ(run.kind, "search");
  EXPECT_EQ(run.status, RunStatus::Finished);
  EXPECT_TRUE(run.drift.has_value());
  const auto config = nlohmann::json::parse(run.config_json);
  EXPECT_EQ(config["seed"], 1);
  EXPECT_EQ(config["population"], 4);
  EXPECT_EQ(config["space_json"]["name"], "tiny");

  const std::vector<GenerationRow> generations = store.generations(run_id);
  ASSERT_EQ(generations.size(), 3u) << "generation 0 and 2 offspring generations";
  for (std::size_t g = 0; g < generations.size(); ++g) {
    const GenerationRow& row = generations[g];
    EXPECT_EQ(row.generation, static_cast<std::int64_t>(g));
    EXPECT_EQ(row.population.size(), 4u);
    EXPECT_EQ(row.evaluations, 4);
    EXPECT_EQ(row.objectives, (std::vector<std::string>{"neg_quality", "latency_ms"}));
    EXPECT_EQ(row.reference.size(), 2u);
    EXPECT_GE(row.hypervolume, 0);
    for (const std::string& hash : row.population) {
      EXPECT_TRUE(store.arch(hash).has_value()) << "population member " << hash << " not in archs";
    }
    const std::vector<CandidateRow> candidates = store.candidates(run_id, row.generation);
    EXPECT_EQ(candidates.size(), 4u) << "generation " << g;
    for (const CandidateRow& c : candidates) {
      EXPECT_EQ(c.latency_source, "measured");
      EXPECT_GT(c.latency_ms, 0);
      EXPECT_EQ(c.quality_source, "naswot");
      EXPECT_GT(c.params, 0);
      EXPECT_GT(c.flops, 0);
      EXPECT_EQ(c.origin, g == 0 ? "initial" : "offspring");
    }
  }
  const std::vector<FrontRow> front = store.front(run_id);
  ASSERT_FALSE(front.empty());

  const auto json = nlohmann::json::parse(r.out);
  ASSERT_TRUE(json.is_array());
  ASSERT_EQ(json.size(), front.size()) << "the printed front is the stored one";
  for (std::size_t i = 0; i < json.size(); ++i) {
    const nlohmann::json& c = json[i];
    EXPECT_EQ(c.at("arch_hash"), front[i].arch_hash);
    EXPECT_TRUE(c.at("arch").is_object());
    EXPECT_EQ(c.at("arch").dump(),
              nlohmann::json::parse(store.arch(front[i].arch_hash)->canonical_json).dump());
    EXPECT_GT(c.at("latency_ms").get<double>(), 0);
    EXPECT_EQ(c.at("latency_source"), "measured");
    EXPECT_TRUE(c.at("quality").is_number());
    EXPECT_EQ(c.at("quality_source"), "naswot");
    EXPECT_GT(c.at("params").get<double>(), 0);
    EXPECT_GT(c.at("flops").get<double>(), 0);
    EXPECT_EQ(c.at("run_id"), run_id);
  }

  // Not a terminal: one plain line per generation, no carriage returns.
  EXPECT_EQ(r.err.find('\r'), std::string::npos);
  const CliResult runs = hwnas("runs --db " + file("s.db"));
  ASSERT_EQ(runs.exit_code, 0) << runs.err;
  EXPECT_NE(runs.out.find("search"), std::string::npos) << runs.out;
  EXPECT_NE(runs.out.find("finished"), std::string::npos) << runs.out;
}

TEST_F(SearchCli, PrintsTheFrontAsATableWithoutJson) {
  const CliResult r = search("--population 3 --generations 1", "s.db");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Pareto front of run 1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("NASWOT proxy, not accuracy"), std::string::npos) << r.out;
  const Store store = Store::open(file("s.db"));
  for (const std::string& hash : front_hashes(store, 1)) {
    EXPECT_NE(r.out.find(hash), std::string::npos) << hash << " missing from\n" << r.out;
  }
}

// The evaluators' store caches: the same search again on the same database times nothing and
// scores nothing, and reports every evaluation as a cache hit - except measurements the first run
// took while other processes had the CPUs (flag "contended"), which it times again, exactly those.
TEST_F(SearchCli, ASecondIdenticalSearchMeasuresNothing) {
  // Ranked by timing-free objectives, so re-timing a contended measurement cannot change which
  // candidates the second search draws: every count below is exact on a busy machine too.
  const std::string args = fmt::format("{} --population 4 --generations 2", kTimingFree);
  ASSERT_EQ(search(args, "c.db").exit_code, 0);
  const std::string db = file("c.db");
  const std::int64_t arch_rows = count(db, "SELECT count(*) FROM measurements WHERE kind = 'arch'");
  const std::int64_t contended = count(
      db, "SELECT count(*) FROM measurements WHERE instr(',' || flags || ',', ',contended,') > 0");
  const std::int64_t scores = count(db, "SELECT count(*) FROM quality_scores");
  EXPECT_GT(arch_rows, 0);
  EXPECT_EQ(scores, arch_rows) << "one score and one measurement per distinct architecture";

  const CliResult again = search(args, "c.db");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(count(db, "SELECT count(*) FROM measurements"), arch_rows + contended)
      << "nothing else timed";
  EXPECT_EQ(count(db, "SELECT count(*) FROM quality_scores"), scores);
  const Store store = Store::open(db);
  ASSERT_EQ(store.runs().size(), 2u);
  const std::int64_t second = store.runs().back().id;
  EXPECT_EQ(std::ssize(store.measurements_for_run(second)), contended);
  const std::vector<GenerationRow> generations = store.generations(second);
  ASSERT_EQ(generations.size(), 3u);
  // Every evaluation is a cache hit but those of the archs re-timed (0 on a quiet machine).
  std::int64_t misses = 0;
  for (const GenerationRow& g : generations) misses += g.evaluations - g.cache_hits;
  EXPECT_EQ(misses, contended);
  EXPECT_EQ(front_hashes(store, second), front_hashes(store, store.runs().front().id));
}

TEST_F(SearchCli, TheSameSeedOnTwoFreshStoresIsTheSameSearch) {
  const std::string args = fmt::format("{} --population 6 --generations 3 --seed 5", kTimingFree);
  ASSERT_EQ(search(args, "a.db").exit_code, 0);
  ASSERT_EQ(search(args, "b.db").exit_code, 0);
  const Store a = Store::open(file("a.db")), b = Store::open(file("b.db"));
  const std::int64_t ra = only_run(a), rb = only_run(b);
  const auto ca = candidate_hashes(a, ra);
  EXPECT_EQ(ca.size(), 4u);
  EXPECT_EQ(ca, candidate_hashes(b, rb));
  EXPECT_EQ(front_hashes(a, ra), front_hashes(b, rb));
  EXPECT_FALSE(front_hashes(a, ra).empty());
  for (std::size_t g = 0; g < 4; ++g) {
    EXPECT_EQ(a.generations(ra)[g].population, b.generations(rb)[g].population) << g;
  }
  // Another seed is another search.
  ASSERT_EQ(search(fmt::format("{} --population 6 --generations 3 --seed 6", kTimingFree), "c.db")
                .exit_code,
            0);
  const Store c = Store::open(file("c.db"));
  EXPECT_NE(candidate_hashes(c, only_run(c)), ca);
}

// SIGKILL at some point after the first committed generation, then --resume: the run finishes as
// the uninterrupted search with the same seed does, every generation is stored once, and nothing
// the killed process stored is lost or measured again.
TEST_F(SearchCli, AKilledSearchResumesToTheUninterruptedFront) {
  const std::string args = fmt::format("{} {}", kTimingFree, kLong);
  std::int64_t run_id = 0;
  const pid_t pid = spawn_until_a_generation(args, "k.db", run_id);
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_NE(run_id, 0) << "no generation was committed within 60 s";
  ASSERT_TRUE(WIFSIGNALED(status)) << "the search finished before it could be killed";
  const std::string db = file("k.db");
  std::vector<std::int64_t> before;  // the Arch measurements committed before the kill
  for (const MeasurementRow& row : Store::open(db).measurements_for_run(run_id)) {
    before.push_back(row.id);  // (this open also marks the killed run unfinished)
  }
  ASSERT_FALSE(before.empty());
  {
    const Store store = Store::open(db, {.mode = sqlite::OpenMode::ReadOnly});
    EXPECT_EQ(store.run(run_id)->status, RunStatus::Unfinished);
    EXPECT_LT(store.generations(run_id).size(), static_cast<std::size_t>(kLongGenerations + 1));
  }

  const CliResult resumed = hwnas(fmt::format("search --resume {} --db {}", run_id, db));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  const Store store = Store::open(db);
  EXPECT_EQ(store.runs().size(), 1u) << "the resumed run is the same run";
  EXPECT_EQ(store.run(run_id)->status, RunStatus::Finished);
  const std::vector<GenerationRow> generations = store.generations(run_id);
  ASSERT_EQ(generations.size(), static_cast<std::size_t>(kLongGenerations + 1));
  for (std::size_t g = 0; g < generations.size(); ++g) {
    EXPECT_EQ(generations[g].generation, static_cast<std::int64_t>(g));
  }
  const std::vector<MeasurementRow> after = store.measurements_for_run(run_id);
  std::set<std::int64_t> ids;
  std::set<std::string> measured;
  for (const MeasurementRow& row : after) {
    ids.insert(row.id);
    EXPECT_TRUE(measured.insert(row.arch_hash).second) << row.arch_hash << " measured twice";
  }
  for (const std::int64_t id : before) EXPECT_TRUE(ids.contains(id)) << "measurement " << id;
  EXPECT_EQ(count(db, "SELECT count(DISTINCT config) FROM quality_scores"), 1)
      << "the resumed search scores under the key its run began with";
  EXPECT_EQ(count(db, "SELECT count(*) FROM quality_scores"),
            static_cast<std::int64_t>(measured.size()));

  ASSERT_EQ(search(args, "ref.db").exit_code, 0);
  const Store reference = Store::open(file("ref.db"));
  const std::int64_t ref_run = only_run(reference);
  EXPECT_EQ(front_hashes(store, run_id), front_hashes(reference, ref_run));
  EXPECT_EQ(candidate_hashes(store, run_id), candidate_hashes(reference, ref_run));
}

// SIGTERM (as Ctrl-C's SIGINT) stops the search at the next candidate: exit 1 naming the run to
// resume, and the run reads 'unfinished' at once, without waiting for a read-write open.
TEST_F(SearchCli, ATerminatedSearchMarksItsRunUnfinished) {
  std::int64_t run_id = 0;
  const pid_t pid = spawn_until_a_generation(kLong, "t.db", run_id);
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_NE(run_id, 0);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by the signal instead of stopping at a candidate";
  EXPECT_EQ(WEXITSTATUS(status), 1);
  const Store reader = Store::open(file("t.db"), {.mode = sqlite::OpenMode::ReadOnly});
  EXPECT_EQ(reader.run(run_id)->status, RunStatus::Unfinished);
  EXPECT_LT(reader.generations(run_id).size(), static_cast<std::size_t>(kLongGenerations + 1));
}

TEST_F(SearchCli, ResumeRefusesSettingsAnotherKindAFinishedRunAndAMissingStore) {
  ASSERT_EQ(search("--population 3 --generations 1", "r.db").exit_code, 0);
  ASSERT_EQ(hwnas("bench-op linear m=4 k=4 n=4 --policy quick --threads 1 --db " + file("r.db"))
                .exit_code,
            0);
  const std::string db = file("r.db");
  std::int64_t search_run = 0, op_run = 0;
  std::size_t run_count = 0;
  {
    const Store store = Store::open(db);
    for (const RunRow& run : store.runs()) {
      if (run.kind == "search") search_run = run.id;
      if (run.kind == "bench-op") op_run = run.id;
      ++run_count;
    }
  }
  ASSERT_GT(search_run, 0);
  ASSERT_GT(op_run, 0);
  const std::string s = std::to_string(search_run), op = std::to_string(op_run);
  const std::pair<std::string, std::string> cases[] = {
      {"--resume " + s + " --population 5 --seed 2 --db " + db,
       "--resume " + s + " continues the run with its own settings; drop --population, --seed"},
      {"--resume " + s + " --space " + space_ + " --db " + db, "drop --space"},
      {"--resume " + s + " --threads 2 --db " + db, "--threads 2 differs from the run's 1"},
      {"--resume " + op + " --db " + db,
       "--resume " + op + ": run " + op + " is a 'bench-op' run, not a search"},
      {"--resume 99 --db " + db, "--resume 99: no run 99 in " + db},
      {"--resume " + s + " --db " + db, "cannot resume run " + s + ": run " + s + " is finished"},
      {"--resume " + s + " --db " + file("none.db"), "--resume " + s + ": no database at"},
  };
  for (const auto& [args, expected] : cases) {
    const CliResult r = hwnas("search " + args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.err;
    EXPECT_NE(r.err.find(expected), std::string::npos) << args << "\n" << r.err;
  }
  EXPECT_FALSE(fs::exists(file("none.db"))) << "a resume never creates a store";
  const Store store = Store::open(db);
  EXPECT_EQ(store.runs().size(), run_count) << "a refused resume begins no run";
  EXPECT_EQ(store.run(search_run)->status, RunStatus::Finished);
}

// With the lookup table, candidates rank by predicted latency (measured where a prediction is
// too close to the budget), and the front is all measured: no front that measurement contradicts.
TEST_F(SearchCli, LutSearchMeasuresItsFront) {
  const CliResult r =
      search("--latency lut --latency-budget 0.05ms --population 6 --generations 2 --json", "l.db");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Store store = Store::open(file("l.db"));
  const std::int64_t run_id = only_run(store);
  std::map<std::string, int> sources;
  for (const CandidateRow& c : store.candidates(run_id)) {
    ++sources[c.latency_source];
    EXPECT_TRUE(std::isfinite(c.predicted_ms)) << "every candidate keeps its prediction";
  }
  EXPECT_GT(sources["lut"], 0);
  EXPECT_EQ(sources["lut"] + sources["measured"], 18);
  for (const GenerationRow& g : store.generations(run_id)) {
    EXPECT_EQ(g.pred_n, g.measured_checks) << "generation " << g.generation;
    if (g.measured_checks > 0) {
      EXPECT_TRUE(std::isfinite(g.pred_mape)) << "generation " << g.generation;
    }
  }
  const std::vector<FrontRow> front = store.front(run_id);
  ASSERT_FALSE(front.empty());
  for (const FrontRow& row : front) EXPECT_EQ(row.latency_source, "measured") << row.arch_hash;
  const auto json = nlohmann::json::parse(r.out);
  ASSERT_EQ(json.size(), front.size());
  for (const nlohmann::json& c : json) {
    EXPECT_EQ(c.at("latency_source"), "measured");
    EXPECT_TRUE(c.at("predicted_ms").is_number()) << c.dump();
  }
}

// A resumed lut search rebuilds its population from the store and measures its final front: the
// archs it gets back from the store must be storable again.
TEST_F(SearchCli, AKilledLutSearchResumesAndMeasuresItsFront) {
  const std::string args = fmt::format("--latency lut --latency-budget 0.05ms {}", kLong);
  std::int64_t run_id = 0;
  const pid_t pid = spawn_until_a_generation(args, "lk.db", run_id);
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_NE(run_id, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the search finished before it could be killed";
  const std::string db = file("lk.db");
  const CliResult resumed = hwnas(fmt::format("search --resume {} --db {}", run_id, db));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  const Store store = Store::open(db);
  EXPECT_EQ(store.run(run_id)->status, RunStatus::Finished);
  EXPECT_EQ(store.generations(run_id).size(), static_cast<std::size_t>(kLongGenerations + 1));
  const std::vector<FrontRow> front = store.front(run_id);
  ASSERT_FALSE(front.empty());
  for (const FrontRow& row : front) EXPECT_EQ(row.latency_source, "measured") << row.arch_hash;
  std::set<std::string> measured;
  for (const MeasurementRow& row : store.measurements_for_run(run_id)) {
    if (row.kind == MeasurementKind::Arch) {
      EXPECT_TRUE(measured.insert(row.arch_hash).second) << row.arch_hash << " measured twice";
    }
  }
}

// Every bad value is one line on stderr, exit 2, naming the flag or file and the value, and
// writes no store.
TEST_F(SearchCli, BadInputIsExitTwoNamesTheValueAndWritesNothing) {
  const std::string missing = file("none.json");
  const std::string malformed = file("malformed.json");
  std::ofstream(malformed) << R"({"name": "x", "resolutions": [32], "stages": [)";
  const std::string typo = file("typo.json");
  {
    auto space = nlohmann::json::parse(kTinySpace);
    space["stages"][0]["depth"] = space["stages"][0]["depths"];
    space["stages"][0].erase("depths");
    std::ofstream(typo) << space.dump();
  }
  const std::pair<std::string, std::string> cases[] = {
      {"--latency foo", "--latency foo is not one of measured, lut"},
      {"--objectives quality,foo", "'foo' is not one of quality, latency, params, flops"},
      {"--objectives quality,quality", "'quality' is listed twice"},
      {"--latency-budget 20xs", "--latency-budget '20xs'"},
      {"--params-budget -3M", "--params-budget '-3M' must be a finite value > 0"},
      {"--res 100", "--res 100 is not a resolution of"},
      {"--population 1", "population=1 must be >= 2"},
      {"--proxy-batch 1", "--proxy-batch 1 must be >= 2"},
      {"--policy slow", "--policy slow is not one of default, quick"},
      {"--batch 0", "--batch 0 must be >= 1"},
  };
  for (const auto& [extra, expected] : cases) {
    // The flag under test replaces the default one search_args gives.
    std::string args = search_args("", "bad.db");
    const std::string flag = extra.substr(0, extra.find(' '));
    if (const auto at = args.find(flag + " "); at != std::string::npos) {
      args.erase(at, args.find(' ', at + flag.size() + 1) - at + 1);
    }
    const CliResult r = hwnas(args + " " + extra);
    EXPECT_EQ(r.exit_code, 2) << extra << "\n" << r.err;
    EXPECT_NE(r.err.find(expected), std::string::npos) << extra << "\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_FALSE(fs::exists(file("bad.db"))) << extra << " created a store";
  }
  const std::pair<std::string, std::string> spaces[] = {
      {missing, "--space " + missing + ": cannot read"},
      {malformed, "malformed.json: malformed JSON"},
      {typo, "unknown key 'depth'"},
  };
  for (const auto& [space, expected] : spaces) {
    const CliResult r =
        hwnas(fmt::format("search --space {} --res 32 --db {}", space, file("bad.db")));
    EXPECT_EQ(r.exit_code, 2) << space << "\n" << r.err;
    EXPECT_NE(r.err.find(expected), std::string::npos) << space << "\n" << r.err;
    EXPECT_FALSE(fs::exists(file("bad.db"))) << space << " created a store";
  }
}

}  // namespace
}  // namespace hwnas
