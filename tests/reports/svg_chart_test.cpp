#include "reports/svg_chart.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <regex>
#include <string>
#include <vector>

namespace hwnas::reports {
namespace {

std::vector<double> values(const std::vector<Tick>& ticks) {
  std::vector<double> v;
  for (const Tick& t : ticks) v.push_back(t.value);
  return v;
}

TEST(SvgChart, LinearTicksAreNiceAndCoverTheRange) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> scale(-6, 6), unit(-1, 1);
  for (int trial = 0; trial < 200; ++trial) {
    const double magnitude = std::pow(10.0, scale(rng));
    double lo = unit(rng) * magnitude, hi = unit(rng) * magnitude;
    if (lo > hi) std::swap(lo, hi);
    const std::vector<Tick> ticks = linear_ticks(lo, hi);
    ASSERT_GE(ticks.size(), 2u) << lo << " " << hi;
    EXPECT_LE(ticks.front().value, lo * (1 + 1e-12) + 1e-300) << lo << " " << hi;
    EXPECT_GE(ticks.back().value, hi - std::abs(hi) * 1e-12) << lo << " " << hi;
    EXPECT_LE(ticks.size(), 13u) << lo << " " << hi;
    const double step = ticks[1].value - ticks[0].value;
    const double mantissa = step / std::pow(10.0, std::floor(std::log10(step) + 1e-9));
    EXPECT_TRUE(std::abs(mantissa - 1) < 1e-6 || std::abs(mantissa - 2) < 1e-6 ||
                std::abs(mantissa - 5) < 1e-6)
        << "step " << step << " for [" << lo << ", " << hi << "]";
  }
  EXPECT_EQ(values(linear_ticks(0, 10, 5)), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(values(linear_ticks(0.13, 0.87, 4)), (std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1.0}));
  // One value still gives an axis around it.
  EXPECT_GE(linear_ticks(3, 3).size(), 2u);
  for (const Tick& t : linear_ticks(-0.3, 0.3)) EXPECT_NE(t.label, "-0");
}

TEST(SvgChart, LogTicksSpanDecades) {
  EXPECT_EQ(values(log_ticks(0.03, 250)), (std::vector<double>{0.01, 0.1, 1, 10, 100, 1000}));
  EXPECT_EQ(log_ticks(0.03, 250).front().label, "0.01");
  EXPECT_EQ(log_ticks(0.03, 250).back().label, "1000");
  // Under two decades: 2 and 5 added, so the axis has labels between the decades.
  EXPECT_EQ(values(log_ticks(1.5, 40)), (std::vector<double>{1, 2, 5, 10, 20, 50}));
  // Exactly a decade boundary is not widened.
  EXPECT_EQ(log_ticks(10, 1000).front().value, 10);
  EXPECT_EQ(log_ticks(10, 1000).back().value, 1000);
  EXPECT_EQ(log_ticks(1e5, 1e9).size(), 5u);
  EXPECT_EQ(values(log_ticks(1e6, 1e6)), (std::vector<double>{1e6, 2e6}));
  // Under half a decade: linear steps, still placed on the log scale.
  EXPECT_EQ(values(log_ticks(11, 12.5)), (std::vector<double>{11, 11.5, 12, 12.5}));
  EXPECT_EQ(values(log_ticks(0.0031, 0.0042)), (std::vector<double>{0.003, 0.0035, 0.004, 0.0045}));
  EXPECT_EQ(tick_label(1e9), "1e+09");
  EXPECT_EQ(tick_label(0.25), "0.25");
}

TEST(SvgChart, EscapesText) {
  EXPECT_EQ(escape_xml(R"(a<b & "c" > 'd')"), "a&lt;b &amp; &quot;c&quot; &gt; &#39;d&#39;");
  XyChart chart{.id = "c", .title = "<script>alert(1)</script>"};
  chart.series.push_back({.name = "s&t", .points = {{1, 2, "x<y"}}});
  const std::string svg = render(chart);
  EXPECT_EQ(svg.find("<script>"), std::string::npos);
  EXPECT_NE(svg.find("&lt;script&gt;"), std::string::npos);
  EXPECT_NE(svg.find("<title>x&lt;y</title>"), std::string::npos);
  EXPECT_NE(svg.find("data-series=\"s&amp;t\""), std::string::npos);
}

// Every circle's cx/cy maps back to its value through the layout, on linear and log axes.
void check_round_trip(Scale xs, Scale ys) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> u(0.01, 5000);
  XyChart chart{
      .id = "rt", .x = {.label = "x", .unit = "ms", .scale = xs}, .y = {.label = "y", .scale = ys}};
  chart.series.push_back({.name = "a"});
  chart.series.push_back({.name = "b", .style = SeriesStyle::LineMarkers});
  for (int i = 0; i < 40; ++i) chart.series[i % 2].points.push_back({u(rng), u(rng), "p"});
  const std::string svg = render(chart);
  const XyLayout l = layout(chart);
  const std::regex circle(R"re(data-x="([^"]+)" data-y="([^"]+)" cx="([^"]+)" cy="([^"]+)")re");
  int found = 0;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), circle); it != std::sregex_iterator();
       ++it) {
    const double x = std::stod((*it)[1]), y = std::stod((*it)[2]);
    const double cx = std::stod((*it)[3]), cy = std::stod((*it)[4]);
    // cx/cy are written to 0.01 px: the value comes back within that part of the axis.
    const double x_back = l.x.to_value(cx), y_back = l.y.to_value(cy);
    const double x_tol =
        xs == Scale::Log ? x * 1e-4 * std::log(l.x.hi / l.x.lo) : 1e-4 * (l.x.hi - l.x.lo);
    const double y_tol =
        ys == Scale::Log ? y * 1e-4 * std::log(l.y.hi / l.y.lo) : 1e-4 * (l.y.hi - l.y.lo);
    EXPECT_NEAR(x_back, x, x_tol);
    EXPECT_NEAR(y_back, y, y_tol);
    EXPECT_GE(cx, l.x.px_lo);
    EXPECT_LE(cx, l.x.px_hi);
    EXPECT_LE(cy, l.y.px_lo);
    EXPECT_GE(cy, l.y.px_hi);
    ++found;
  }
  EXPECT_EQ(found, 40);
}

TEST(SvgChart, PointsMapBackToTheirValues) {
  check_round_trip(Scale::Linear, Scale::Linear);
  check_round_trip(Scale::Log, Scale::Linear);
  check_round_trip(Scale::Log, Scale::Log);
}

TEST(SvgChart, SkipsUndrawablePointsAndSaysSo) {
  XyChart chart{.x = {.scale = Scale::Log}};
  chart.series.push_back({.name = "s", .points = {{-1, 2, ""}, {NAN, 1, ""}, {3, 4, ""}}});
  const std::string svg = render(chart);
  EXPECT_EQ(layout(chart).skipped, 2u);
  EXPECT_NE(svg.find("2 point(s) not drawable"), std::string::npos);
}

TEST(SvgChart, IdentityLineAndLegend) {
  XyChart chart{.id = "p", .identity_line = true};
  chart.series.push_back({.name = "pairs", .points = {{1, 2, ""}, {3, 2.5, ""}}});
  const std::string svg = render(chart);
  EXPECT_NE(svg.find("class=\"identity\""), std::string::npos);
  EXPECT_NE(svg.find(">y = x</text>"), std::string::npos);
  EXPECT_NE(svg.find(">pairs</text>"), std::string::npos);
  // y = x visible: both axes cover the union of the ranges.
  const XyLayout l = layout(chart);
  EXPECT_EQ(l.x.lo, l.y.lo);
  EXPECT_EQ(l.x.hi, l.y.hi);
}

TEST(SvgChart, StackedBarsCarryTheirValues) {
  StackedBarChart chart{.id = "bars",
                        .title = "layers",
                        .categories = {"a", "b"},
                        .stacks = {{"mixer", {1.5, 0.25}}, {"mlp", {2.0, NAN}}},
                        .y = {.label = "time", .unit = "ms"}};
  const std::string svg = render(chart);
  const std::regex rect(
      R"re(<rect class="bar" data-category="([^"]+)" data-stack="([^"]+)" data-value="([^"]+)")re");
  std::vector<std::string> seen;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), rect); it != std::sregex_iterator();
       ++it)
    seen.push_back((*it)[1].str() + "/" + (*it)[2].str() + "=" + (*it)[3].str());
  EXPECT_EQ(seen, (std::vector<std::string>{"a/mixer=1.5", "a/mlp=2", "b/mixer=0.25"}));
}

}  // namespace
}  // namespace hwnas::reports
