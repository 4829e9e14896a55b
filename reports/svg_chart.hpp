// A small SVG chart writer of our own: scatter, line and stacked-bar charts as inline SVG strings.
//
// Why not a library: the C++ plotting libraries either drive an external program (gnuplot,
// matplotlib through Python) or draw raster images (no per-point tooltips, not text a test can
// read). A report must open offline with no scripts, and a test must find each plotted value again,
// so we write the few SVG elements we need ourselves.
//
//   XyChart chart{.title = "Search", .x = {.label = "latency", .unit = "ms", .scale = Scale::Log},
//                 .y = {.label = "quality", .unit = "NASWOT"}};
//   chart.series.push_back({.name = "all candidates", .points = {{2.1, 530.2, "hash ..."}}});
//   std::string svg = render(chart);
//
// Every marker is a <circle class="pt" data-series=.. data-x=.. data-y=..> with a <title> tooltip;
// its cx/cy map back to its value through axis_map(...).to_value (tests check this). Non-finite
// values, and values <= 0 on a log axis, are not drawn (render counts them in a note). Text is
// XML-escaped. Nothing here throws except InvalidArgument for a chart with no drawable point (a
// report states "no data" instead of drawing an empty chart).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hwnas::reports {

enum class Scale { Linear, Log };

struct Axis {
  std::string label;
  std::string unit;  // shown in brackets after the label: "latency [ms]"
  Scale scale = Scale::Linear;
  std::optional<double> min, max;  // forced bounds (data outside is still shown: the range grows)
};

struct Tick {
  double value = 0;
  std::string label;
};

// "Nice" linear ticks covering [lo, hi]: steps of 1, 2 or 5 x 10^k, about `target` of them; the
// first tick <= lo and the last >= hi. lo == hi gets a span around it.
std::vector<Tick> linear_ticks(double lo, double hi, int target = 6);
// Log ticks for 0 < lo <= hi: every decade (1, 10, 100, ...) spanning [lo, hi]; when the span is
// under two decades, 2 and 5 times each decade are added so the axis has enough labels.
std::vector<Tick> log_ticks(double lo, double hi);
// A tick label: "0.001", "2.5", "1e+06" (%g-like, trailing zeros cut).
std::string tick_label(double value);

// The XML escape of text: & < > " '.
std::string escape_xml(std::string_view text);

// Maps a value to pixels along one axis and back. For Scale::Log, lo and hi must be > 0.
struct AxisMap {
  Scale scale = Scale::Linear;
  double lo = 0, hi = 1;          // value range (the outermost ticks)
  double px_lo = 0, px_hi = 100;  // pixels of lo and hi (px_hi < px_lo for a y axis)
  double to_px(double value) const;
  double to_value(double px) const;
};

// The fixed palette: colour i of the series (wraps around); colours chosen to stay distinct for the
// colour-blind (Okabe-Ito, then darker variants).
std::string_view palette_color(std::size_t i);

enum class SeriesStyle { Markers, Line, LineMarkers };

struct XyPoint {
  double x = 0, y = 0;
  std::string tooltip;  // the <title>: shown on hover
  std::string anchor;   // optional: the point links to "#anchor"
  std::string label;    // optional: text drawn beside the marker
};

struct XySeries {
  std::string name;
  SeriesStyle style = SeriesStyle::Markers;
  std::vector<XyPoint> points;       // a line joins them in this order
  std::optional<std::size_t> color;  // palette index; default = the series' index
  double radius = 3.5;
  double opacity = 0.85;
};

// A line drawn under the data (a roofline, a reference): joins its points, dashed, no markers.
struct XyGuide {
  std::string name;
  std::vector<std::pair<double, double>> points;
  std::string color = "#555555";
};

struct XyChart {
  std::string id;  // the <svg id>
  std::string title;
  Axis x, y;
  std::vector<XySeries> series;
  std::vector<XyGuide> guides;
  bool identity_line = false;  // draw y = x across the plot
  int width = 1000, height = 460;
};

// The axis mappings render(chart) uses (tests use them to map cx/cy back to values).
struct XyLayout {
  AxisMap x, y;
  std::vector<Tick> x_ticks, y_ticks;
  std::size_t skipped = 0;  // points not drawable (non-finite, or <= 0 on a log axis)
};
XyLayout layout(const XyChart& chart);
std::string render(const XyChart& chart);

struct BarStack {
  std::string name;            // legend entry ("mixer", "mlp", ...)
  std::vector<double> values;  // one per category; NaN or 0 = absent
};

struct StackedBarChart {
  std::string id;
  std::string title;
  std::vector<std::string> categories;  // one bar each, left to right
  std::vector<BarStack> stacks;         // bottom to top
  Axis y;                               // linear
  int width = 1000, height = 460;
};
std::string render(const StackedBarChart& chart);

}  // namespace hwnas::reports
