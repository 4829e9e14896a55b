// hwnas report as a user runs it: the real binary on a store written through the Store API, its
// errors, and the HTML rendered by headless Chromium (Debian's chromium; scripts/setup installs
// it).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "store/sqlite.hpp"
#include "tests/apps/cli_test_util.hpp"
#include "tests/reports/report_fixture.hpp"

namespace hwnas {
namespace {

namespace fs = std::filesystem;
using testing::CliResult;
using testing::run_hwnas_in;
using testing::ScratchDir;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class ReportCli : public ::testing::Test {
 protected:
  void SetUp() override {
    Store store = Store::open(file("r.db"));
    sample_ = testing::fill_sample_store(store);
  }
  std::string file(const std::string& name) const { return (dir_.path() / name).string(); }
  CliResult hwnas(const std::string& args) const { return run_hwnas_in(args, dir_.path()); }

  ScratchDir dir_;
  testing::SampleStore sample_;
};

TEST_F(ReportCli, WritesEachFormatFromItsExtension) {
  for (const std::string out : {"r.html", "r.md", "r.csv"}) {
    const CliResult r = hwnas(fmt::format("report --db r.db -o {}", out));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find(fmt::format("wrote {} (search {})", out, sample_.search)),
              std::string::npos)
        << r.err;
  }
  EXPECT_EQ(slurp(file("r.html")).rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(slurp(file("r.md")).rfind("# hwnas report", 0), 0u);
  EXPECT_EQ(slurp(file("r.csv")).rfind("section,table,row,column,value\n", 0), 0u);
  // --format wins over the extension; no temporary is left beside the output.
  const CliResult r = hwnas(fmt::format("report --db r.db --run {} --run {} -o x.txt --format md",
                                        sample_.search, sample_.sweep));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(slurp(file("x.txt")).rfind("# hwnas report", 0), 0u);
  for (const auto& entry : fs::directory_iterator(dir_.path())) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp."), std::string::npos) << entry.path();
  }
}

TEST_F(ReportCli, BadInputIsExitTwoWithOneClearLine) {
  { Store store = Store::open(file("newer.db")); }
  sqlite::Database::open(file("newer.db")).exec("PRAGMA user_version = 99");
  fs::create_directories(file("adir"));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"report --db r.db --run 77 -o r.html", "no run 77 in r.db; hwnas runs lists them"},
      {"report --db missing.db -o r.html", "report: no database at missing.db (see --db)"},
      {"report --db newer.db -o r.html", "database schema version 99 is newer"},
      {"report --db r.db -o nodir/r.html",
       "report: cannot write -o nodir/r.html: no directory nodir"},
      {"report --db r.db -o adir --format html", "report: cannot write -o adir: it is a directory"},
      {"report --db r.db -o r.pdf", "cannot tell the format of -o r.pdf"},
      {"report --db r.db -o r.html --format pdf", "--format pdf is not one of html, md, csv"},
  };
  for (const auto& [args, message] : cases) {
    const CliResult r = hwnas(args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << args << "\n" << r.err;
  }
  EXPECT_FALSE(fs::exists(file("missing.db"))) << "a report never creates a database";
  EXPECT_FALSE(fs::exists(file("r.html")));
}

// The PNG's width and height (IHDR), and whether its pixels hold more than one colour: the IDAT
// stream inflated with zlib, filter bytes skipped (RGB or RGBA, 8 bits, as Chromium writes).
struct PngInfo {
  std::uint32_t width = 0, height = 0;
  std::size_t colours = 0;  // distinct pixel values seen, capped
};

std::uint32_t be32(const std::string& s, std::size_t at) {
  return static_cast<std::uint32_t>(static_cast<unsigned char>(s[at])) << 24 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 1])) << 16 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 2])) << 8 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 3]));
}

PngInfo read_png(const std::string& png) {
  PngInfo info;
  if (png.size() < 33 || png.compare(1, 3, "PNG") != 0) return info;
  info.width = be32(png, 16);
  info.height = be32(png, 20);
  const int colour_type = static_cast<unsigned char>(png[25]);
  const std::size_t channels = colour_type == 6 ? 4 : 3;
  std::string idat;
  for (std::size_t at = 8; at + 8 <= png.size();) {
    const std::uint32_t length = be32(png, at);
    const std::string type = png.substr(at + 4, 4);
    if (type == "IDAT") idat += png.substr(at + 8, length);
    at += 12 + length;
  }
  const std::size_t stride = 1 + channels * info.width;
  std::string raw(stride * info.height, '\0');
  uLongf raw_size = raw.size();
  if (uncompress(reinterpret_cast<Bytef*>(raw.data()), &raw_size,
                 reinterpret_cast<const Bytef*>(idat.data()), idat.size()) != Z_OK) {
    return info;
  }
  // Filtered bytes differ from pixel values, but a blank page filters to rows of zeros (or of one
  // repeated value): more than a few distinct byte patterns means something was drawn.
  std::set<std::string> seen;
  for (std::size_t row = 0; row < info.height && seen.size() < 64; row += 7) {
    for (std::size_t x = 0; x < info.width && seen.size() < 64; x += 5) {
      seen.insert(raw.substr(row * stride + 1 + x * channels, channels));
    }
  }
  info.colours = seen.size();
  return info;
}

TEST_F(ReportCli, ChromiumRendersTheReportWithoutErrors) {
  const char* chromium = "/usr/bin/chromium";
  ASSERT_TRUE(fs::exists(chromium))
      << "headless Chromium is needed to check the report as a person sees it: scripts/setup "
         "installs Debian's chromium (apt-get install chromium)";
  ASSERT_EQ(hwnas("report --db r.db -o r.html").exit_code, 0);
  const std::string log = file("chromium.log"), png = file("r.png");
  // No network features, no GPU; the page is a local file. timeout keeps a hung browser from
  // hanging the suite.
  const std::string command = fmt::format(
      "cd {} && timeout 60 {} --headless --no-sandbox --disable-gpu --disable-extensions "
      "--no-first-run --disable-background-networking --disable-sync --enable-logging=stderr "
      "--v=0 --screenshot={} --window-size=1280,2000 file://{} >{} 2>&1",
      dir_.path().string(), chromium, png, file("r.html"), log);
  ASSERT_EQ(std::system(command.c_str()), 0) << slurp(log);
  const PngInfo info = read_png(slurp(png));
  EXPECT_EQ(info.width, 1280u);
  EXPECT_EQ(info.height, 2000u);
  EXPECT_GT(info.colours, 8u) << "the screenshot is blank";
  // Console messages and script errors are logged as "CONSOLE(...)" / "Uncaught".
  std::istringstream lines(slurp(log));
  for (std::string line; std::getline(lines, line);) {
    EXPECT_EQ(line.find("Uncaught"), std::string::npos) << line;
    EXPECT_EQ(line.find(":CONSOLE("), std::string::npos) << line;
  }
  // A blank page, for contrast: the same check must fail on it.
  std::ofstream(file("blank.html")) << "<!DOCTYPE html><html><body></body></html>";
  const std::string blank = fmt::format(
      "cd {} && timeout 60 {} --headless --no-sandbox --disable-gpu --disable-extensions "
      "--no-first-run --disable-background-networking --disable-sync --screenshot={} "
      "--window-size=320,200 file://{} >/dev/null 2>&1",
      dir_.path().string(), chromium, file("blank.png"), file("blank.html"));
  ASSERT_EQ(std::system(blank.c_str()), 0);
  EXPECT_LE(read_png(slurp(file("blank.png"))).colours, 2u);
}

}  // namespace
}  // namespace hwnas
