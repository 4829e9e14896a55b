#include "reports/svg_chart.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace hwnas::reports {
namespace {

// Plot margins in pixels: room for tick labels and the axis titles on the left and bottom, the
// title on top, and the legend on the right.
constexpr double kLeft = 78, kTop = 40, kBottom = 58, kLegendWidth = 230;
constexpr double kLogEpsilon = 1e-9;  // relative slack when comparing ticks to data bounds

bool drawable(double v, Scale scale) {
  return std::isfinite(v) && (scale == Scale::Linear || v > 0);
}

std::string axis_title(const Axis& axis) {
  return axis.unit.empty() ? axis.label : fmt::format("{} [{}]", axis.label, axis.unit);
}

// The value range of one axis (data + forced bounds), widened to its outermost ticks.
std::vector<Tick> ticks_for(const Axis& axis, double lo, double hi) {
  if (axis.min) lo = std::min(lo, *axis.min);
  if (axis.max) hi = std::max(hi, *axis.max);
  return axis.scale == Scale::Log ? log_ticks(lo, hi) : linear_ticks(lo, hi);
}

std::string number(double v) { return fmt::format("{:.2f}", v); }

// A legend in the right margin: a swatch and the name of each entry, one per line.
struct LegendEntry {
  std::string name;
  std::string color;
  bool dashed = false;
  bool bar = false;
};

std::string legend(const std::vector<LegendEntry>& entries, double x, double y) {
  std::string out = "<g class=\"legend\">";
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const double row = y + 18.0 * static_cast<double>(i);
    const LegendEntry& e = entries[i];
    if (e.bar) {
      out += fmt::format(R"(<rect x="{}" y="{}" width="14" height="10" fill="{}"/>)", number(x),
                         number(row - 9), e.color);
    } else {
      out +=
          fmt::format(R"(<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="2"{}/>)",
                      number(x), number(row - 4), number(x + 16), number(row - 4), e.color,
                      e.dashed ? R"( stroke-dasharray="5,3")" : "");
    }
    // Long names are cut so the legend stays in its margin; the full name is the tooltip.
    std::string shown = e.name.size() > 30 ? e.name.substr(0, 28) + "..." : e.name;
    out += fmt::format(R"(<text x="{}" y="{}"><title>{}</title>{}</text>)", number(x + 22),
                       number(row), escape_xml(e.name), escape_xml(shown));
  }
  return out + "</g>";
}

std::string svg_open(const std::string& id, int width, int height, const std::string& title) {
  std::string out = fmt::format(
      R"(<svg xmlns="http://www.w3.org/2000/svg" class="chart"{} width="{}" height="{}" viewBox="0 0 {} {}" role="img">)",
      id.empty() ? "" : fmt::format(R"( id="{}")", escape_xml(id)), width, height, width, height);
  out += fmt::format(R"(<text class="title" x="{}" y="22">{}</text>)", number(kLeft),
                     escape_xml(title));
  return out;
}

// Gridlines, tick marks and labels of both axes, and the axis titles.
std::string axes(const XyLayout& l, const Axis& x_axis, const Axis& y_axis) {
  std::string out = "<g class=\"axes\">";
  const double x0 = l.x.px_lo, x1 = l.x.px_hi, y0 = l.y.px_lo, y1 = l.y.px_hi;
  for (const Tick& t : l.x_ticks) {
    const double px = l.x.to_px(t.value);
    out += fmt::format(R"(<line class="grid" x1="{0}" y1="{1}" x2="{0}" y2="{2}"/>)", number(px),
                       number(y0), number(y1));
    out += fmt::format(R"(<text class="tick" x="{}" y="{}" text-anchor="middle">{}</text>)",
                       number(px), number(y0 + 16), escape_xml(t.label));
  }
  for (const Tick& t : l.y_ticks) {
    const double py = l.y.to_px(t.value);
    out += fmt::format(R"(<line class="grid" x1="{0}" y1="{1}" x2="{2}" y2="{1}"/>)", number(x0),
                       number(py), number(x1));
    out += fmt::format(R"(<text class="tick" x="{}" y="{}" text-anchor="end">{}</text>)",
                       number(x0 - 6), number(py + 4), escape_xml(t.label));
  }
  out += fmt::format(R"(<rect class="frame" x="{}" y="{}" width="{}" height="{}" fill="none"/>)",
                     number(x0), number(y1), number(x1 - x0), number(y0 - y1));
  out += fmt::format(R"(<text class="axis-title" x="{}" y="{}" text-anchor="middle">{}</text>)",
                     number((x0 + x1) / 2), number(y0 + 40), escape_xml(axis_title(x_axis)));
  out += fmt::format(
      R"~(<text class="axis-title" transform="translate({},{}) rotate(-90)" text-anchor="middle">{}</text>)~",
      number(20), number((y0 + y1) / 2), escape_xml(axis_title(y_axis)));
  return out + "</g>";
}

}  // namespace

std::vector<Tick> linear_ticks(double lo, double hi, int target) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
  if (lo > hi) std::swap(lo, hi);
  if (lo == hi) {
    const double pad = lo == 0 ? 1 : std::abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const double raw = (hi - lo) / std::max(target, 2);
  const int exponent = static_cast<int>(std::floor(std::log10(raw)));
  const double magnitude = std::pow(10.0, std::abs(exponent));
  double mantissa = 1;
  for (const double m : {1.0, 2.0, 5.0, 10.0}) {
    mantissa = m;
    if ((exponent >= 0 ? m * magnitude : m / magnitude) >= raw) break;
  }
  // Tick i is i * mantissa scaled by the power of ten, computed from integers each time: 3 * 0.2
  // would give 0.6000000000000001, 6 / 10 gives 0.6.
  const auto tick = [&](double i) {
    return exponent >= 0 ? i * mantissa * magnitude : i * mantissa / magnitude;
  };
  const double step = tick(1);
  const double first = std::floor(lo / step + kLogEpsilon);
  const double last = std::ceil(hi / step - kLogEpsilon);
  std::vector<Tick> ticks;
  for (double i = first; i <= last; ++i) {
    double v = tick(i);
    if (v == 0) v = 0;  // no "-0"
    ticks.push_back({v, tick_label(v)});
  }
  return ticks;
}

std::vector<Tick> log_ticks(double lo, double hi) {
  if (!(lo > 0) || !std::isfinite(lo)) lo = 1;
  if (!(hi > 0) || !std::isfinite(hi)) hi = lo;
  if (lo > hi) std::swap(lo, hi);
  const double decades = std::log10(hi / lo);
  // Under half a decade, decade ticks would leave one or two labels: linear ones read better (they
  // are still placed on the log scale).
  if (decades < 0.5 && lo != hi) {
    std::vector<Tick> ticks = linear_ticks(lo, hi, 4);
    if (ticks.front().value > 0) return ticks;
  }
  // The axis runs between the nearest 1, 2, 5 x 10^k around the data (not whole decades, which
  // would waste most of a plot whose data spans 1.2 decades); ticks at each decade inside, and at 2
  // and 5 times each decade when the data spans under two decades.
  const std::array<double, 3> steps = {1, 2, 5};
  const int first = static_cast<int>(std::floor(std::log10(lo) + kLogEpsilon));
  const int last = static_cast<int>(std::ceil(std::log10(hi) - kLogEpsilon));
  const bool fine = decades < 2;
  std::vector<Tick> ticks;
  for (int e = first; e <= std::max(last, first + 1); ++e) {
    const double decade = std::pow(10.0, e);
    for (const double m : steps) {
      const double v = e < 0 ? m / std::pow(10.0, -e) : m * decade;
      if (m != 1 && !fine) continue;
      ticks.push_back({v, tick_label(v)});
    }
  }
  // Keep the ticks between the last one <= lo and the first one >= hi.
  std::size_t begin = 0, end = ticks.size();
  while (begin + 1 < ticks.size() && ticks[begin + 1].value <= lo * (1 + kLogEpsilon)) ++begin;
  for (std::size_t i = begin + 1; i < ticks.size(); ++i) {
    if (ticks[i].value >= hi * (1 - kLogEpsilon)) {
      end = i + 1;
      break;
    }
  }
  std::vector<Tick> out(ticks.begin() + static_cast<std::ptrdiff_t>(begin),
                        ticks.begin() + static_cast<std::ptrdiff_t>(end));
  if (out.size() < 2) out.push_back({out.back().value * 10, tick_label(out.back().value * 10)});
  return out;
}

std::string tick_label(double value) {
  if (value == 0) return "0";
  const double a = std::abs(value);
  if (a >= 1e6 || a < 1e-4) return fmt::format("{:.3g}", value);
  std::string text = fmt::format("{:.6f}", value);
  text.erase(text.find_last_not_of('0') + 1);
  if (text.back() == '.') text.pop_back();
  return text;
}

std::string escape_xml(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

double AxisMap::to_px(double value) const {
  const double t = scale == Scale::Log
                       ? (std::log10(value) - std::log10(lo)) / (std::log10(hi) - std::log10(lo))
                       : (value - lo) / (hi - lo);
  return px_lo + t * (px_hi - px_lo);
}

double AxisMap::to_value(double px) const {
  const double t = (px - px_lo) / (px_hi - px_lo);
  return scale == Scale::Log
             ? std::pow(10.0, std::log10(lo) + t * (std::log10(hi) - std::log10(lo)))
             : lo + t * (hi - lo);
}

std::string_view palette_color(std::size_t i) {
  static constexpr std::array<std::string_view, 12> kPalette = {
      "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9",
      "#000000", "#F0E442", "#7F3C8D", "#11A579", "#3969AC", "#E73F74"};
  return kPalette[i % kPalette.size()];
}

XyLayout layout(const XyChart& chart) {
  XyLayout l;
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo, y_lo = x_lo, y_hi = -x_lo;
  const auto take = [&](double x, double y) {
    if (!drawable(x, chart.x.scale) || !drawable(y, chart.y.scale)) return false;
    x_lo = std::min(x_lo, x), x_hi = std::max(x_hi, x);
    y_lo = std::min(y_lo, y), y_hi = std::max(y_hi, y);
    return true;
  };
  for (const XySeries& s : chart.series) {
    for (const XyPoint& p : s.points) {
      if (!take(p.x, p.y)) ++l.skipped;
    }
  }
  // Guides (rooflines) do not widen the axes: they are drawn clipped to the data's range.
  if (!std::isfinite(x_lo)) x_lo = x_hi = y_lo = y_hi = 1;
  if (chart.identity_line) {  // y = x must be visible: both axes cover the union of the ranges
    x_lo = y_lo = std::min(x_lo, y_lo);
    x_hi = y_hi = std::max(x_hi, y_hi);
  }
  l.x_ticks = ticks_for(chart.x, x_lo, x_hi);
  l.y_ticks = ticks_for(chart.y, y_lo, y_hi);
  const double right = chart.width - kLegendWidth;
  l.x = {.scale = chart.x.scale,
         .lo = l.x_ticks.front().value,
         .hi = l.x_ticks.back().value,
         .px_lo = kLeft,
         .px_hi = right};
  l.y = {.scale = chart.y.scale,
         .lo = l.y_ticks.front().value,
         .hi = l.y_ticks.back().value,
         .px_lo = chart.height - kBottom,
         .px_hi = kTop};
  return l;
}

std::string render(const XyChart& chart) {
  const XyLayout l = layout(chart);
  std::string out = svg_open(chart.id, chart.width, chart.height, chart.title);
  out += axes(l, chart.x, chart.y);
  const std::string clip_id = fmt::format("clip-{}", chart.id.empty() ? "xy" : chart.id);
  out += fmt::format(R"(<clipPath id="{}"><rect x="{}" y="{}" width="{}" height="{}"/></clipPath>)",
                     escape_xml(clip_id), number(l.x.px_lo), number(l.y.px_hi),
                     number(l.x.px_hi - l.x.px_lo), number(l.y.px_lo - l.y.px_hi));
  out += fmt::format(R"~(<g clip-path="url(#{})">)~", escape_xml(clip_id));
  std::vector<LegendEntry> entries;
  if (chart.identity_line) {
    const double lo = std::max(l.x.lo, l.y.lo), hi = std::min(l.x.hi, l.y.hi);
    out += fmt::format(
        R"(<line class="identity" x1="{}" y1="{}" x2="{}" y2="{}" stroke="#777" stroke-dasharray="6,4"/>)",
        number(l.x.to_px(lo)), number(l.y.to_px(lo)), number(l.x.to_px(hi)), number(l.y.to_px(hi)));
    entries.push_back({.name = "y = x", .color = "#777", .dashed = true});
  }
  for (const XyGuide& g : chart.guides) {
    std::string path;
    for (const auto& [x, y] : g.points) {
      if (!drawable(x, chart.x.scale) || !drawable(y, chart.y.scale)) continue;
      path += fmt::format("{}{},{}", path.empty() ? "M" : " L", number(l.x.to_px(x)),
                          number(l.y.to_px(y)));
    }
    out += fmt::format(
        R"(<path class="guide" d="{}" fill="none" stroke="{}" stroke-width="1.5" stroke-dasharray="6,3"><title>{}</title></path>)",
        path, g.color, escape_xml(g.name));
    entries.push_back({.name = g.name, .color = g.color, .dashed = true});
  }
  for (std::size_t si = 0; si < chart.series.size(); ++si) {
    const XySeries& s = chart.series[si];
    const std::string color(palette_color(s.color.value_or(si)));
    const std::string series_attr = escape_xml(s.name);
    out += fmt::format(R"(<g class="series" data-series="{}">)", series_attr);
    if (s.style != SeriesStyle::Markers) {
      std::string path;
      for (const XyPoint& p : s.points) {
        if (!drawable(p.x, chart.x.scale) || !drawable(p.y, chart.y.scale)) continue;
        path += fmt::format("{}{},{}", path.empty() ? "M" : " L", number(l.x.to_px(p.x)),
                            number(l.y.to_px(p.y)));
      }
      out += fmt::format(
          R"(<path class="line" data-series="{}" d="{}" fill="none" stroke="{}" stroke-width="2"/>)",
          series_attr, path, color);
    }
    if (s.style != SeriesStyle::Line) {
      for (const XyPoint& p : s.points) {
        if (!drawable(p.x, chart.x.scale) || !drawable(p.y, chart.y.scale)) continue;
        std::string circle = fmt::format(
            R"(<circle class="pt" data-series="{}" data-x="{}" data-y="{}" cx="{}" cy="{}" r="{}" fill="{}" fill-opacity="{}" stroke="#fff" stroke-width="0.6"><title>{}</title></circle>)",
            series_attr, p.x, p.y, number(l.x.to_px(p.x)), number(l.y.to_px(p.y)), s.radius, color,
            s.opacity, escape_xml(p.tooltip));
        if (!p.label.empty()) {
          circle += fmt::format(R"(<text class="point-label" x="{}" y="{}">{}</text>)",
                                number(l.x.to_px(p.x) + s.radius + 3), number(l.y.to_px(p.y) - 3),
                                escape_xml(p.label));
        }
        if (!p.anchor.empty()) {
          circle = fmt::format(R"(<a href="#{}">{}</a>)", escape_xml(p.anchor), circle);
        }
        out += circle;
      }
    }
    out += "</g>";
    entries.push_back({.name = s.name, .color = color});
  }
  out += "</g>";
  out += legend(entries, chart.width - kLegendWidth + 16, kTop + 10);
  if (l.skipped > 0) {
    out += fmt::format(
        R"~(<text class="note" x="{}" y="{}">{} point(s) not drawable (not finite, or &lt;= 0 on a log axis)</text>)~",
        number(kLeft), number(chart.height - 4.0), l.skipped);
  }
  return out + "</svg>";
}

std::string render(const StackedBarChart& chart) {
  std::string out = svg_open(chart.id, chart.width, chart.height, chart.title);
  const std::size_t n = chart.categories.size();
  double top = 0;
  for (std::size_t c = 0; c < n; ++c) {
    double sum = 0;
    for (const BarStack& s : chart.stacks) {
      if (c < s.values.size() && std::isfinite(s.values[c]) && s.values[c] > 0) sum += s.values[c];
    }
    top = std::max(top, sum);
  }
  std::vector<Tick> ticks = linear_ticks(0, top > 0 ? top : 1);
  XyLayout l;
  l.y = {.scale = Scale::Linear,
         .lo = ticks.front().value,
         .hi = ticks.back().value,
         .px_lo = chart.height - kBottom - 30,  // room for two-line category labels
         .px_hi = kTop};
  l.x = {.scale = Scale::Linear,
         .lo = 0,
         .hi = static_cast<double>(std::max<std::size_t>(n, 1)),
         .px_lo = kLeft,
         .px_hi = chart.width - kLegendWidth};
  l.y_ticks = std::move(ticks);
  out += axes(l, Axis{}, chart.y);
  const double slot = (l.x.px_hi - l.x.px_lo) / static_cast<double>(std::max<std::size_t>(n, 1));
  const double bar = std::min(slot * 0.7, 90.0);
  for (std::size_t c = 0; c < n; ++c) {
    const double x = l.x.px_lo + slot * (static_cast<double>(c) + 0.5) - bar / 2;
    double base = 0;
    for (std::size_t si = 0; si < chart.stacks.size(); ++si) {
      const BarStack& s = chart.stacks[si];
      if (c >= s.values.size() || !std::isfinite(s.values[c]) || s.values[c] <= 0) continue;
      const double v = s.values[c];
      const double y_top = l.y.to_px(base + v), y_bottom = l.y.to_px(base);
      out += fmt::format(
          R"(<rect class="bar" data-category="{}" data-stack="{}" data-value="{}" x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {} {} {}</title></rect>)",
          escape_xml(chart.categories[c]), escape_xml(s.name), v, number(x), number(y_top),
          number(bar), number(y_bottom - y_top), palette_color(si), escape_xml(chart.categories[c]),
          escape_xml(s.name), tick_label(v), escape_xml(chart.y.unit));
      base += v;
    }
    // The category under its bar; long names on two lines.
    const std::string& name = chart.categories[c];
    const std::string first = name.size() > 18 ? name.substr(0, 18) : name;
    const std::string rest = name.size() > 18 ? name.substr(18, 16) : "";
    out += fmt::format(R"(<text class="tick" x="{}" y="{}" text-anchor="middle">{}</text>)",
                       number(x + bar / 2), number(l.y.px_lo + 16), escape_xml(first));
    if (!rest.empty()) {
      out += fmt::format(R"(<text class="tick" x="{}" y="{}" text-anchor="middle">{}</text>)",
                         number(x + bar / 2), number(l.y.px_lo + 30), escape_xml(rest));
    }
  }
  std::vector<LegendEntry> entries;
  for (std::size_t si = 0; si < chart.stacks.size(); ++si) {
    entries.push_back(
        {.name = chart.stacks[si].name, .color = std::string(palette_color(si)), .bar = true});
  }
  out += legend(entries, chart.width - kLegendWidth + 16, kTop + 10);
  return out + "</svg>";
}

}  // namespace hwnas::reports
