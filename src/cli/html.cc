// The report as one self-contained HTML page with inline SVG charts
// (render.h WriteHtml): no scripts, no external resources.
#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "src/cli/render.h"

namespace tokmeter::cli {
namespace json = boost::json;
namespace {

double Dbl(const json::object& o, const char* k) {
  const json::value& v = Get(o, k);
  return v.is_number() ? v.to_number<double>() : 0;
}

constexpr const char* kPalette[] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2",
                                    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};

// Vertical bars: one per point, x from `xs` in [0, 1], labels under the
// first and last bar.
std::string TimeBars(const std::vector<std::pair<std::string, double>>& points,
                     const std::vector<double>& xs, const std::string& title, double mark_p95) {
  const int w = 1080, h = 240, left = 70, right = 20, top = 30, bottom = 40;
  const int pw = w - left - right, ph = h - top - bottom;
  double maxv = 1;
  for (const auto& [l, v] : points) maxv = std::max(maxv, v);
  std::string s = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"100%%\" "
      "role=\"img\" "
      "aria-label=\"%s\">\n<text x=\"%d\" y=\"18\" class=\"t\">%s</text>\n",
      w, h, HtmlEscape(title), left, HtmlEscape(title));
  for (int i = 0; i <= 4; ++i) {
    double v = maxv * i / 4;
    int y = top + ph - int(ph * i / 4.0);
    absl::StrAppend(
        &s, absl::StrFormat("<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"g\"/>"
                            "<text x=\"%d\" y=\"%d\" class=\"a\" text-anchor=\"end\">%s</text>\n",
                            left, y, left + pw, y, left - 6, y + 4, Compact(v)));
  }
  const size_t n = points.size();
  double bw = n ? std::max(2.0, std::min(40.0, double(pw) / double(n) * 0.8)) : 0;
  for (size_t i = 0; i < n; ++i) {
    double x = left + xs[i] * (pw - bw);
    double bh = ph * points[i].second / maxv;
    absl::StrAppend(
        &s,
        absl::StrFormat("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                        "fill=\"%s\"><title>%s: %s</title></rect>\n",
                        x, top + ph - bh, bw, std::max(bh, 0.5),
                        points[i].second >= mark_p95 * 5 && mark_p95 > 0 ? "#e15759" : "#4e79a7",
                        HtmlEscape(points[i].first), Thousands(int64_t(points[i].second))));
  }
  if (mark_p95 > 0) {
    double y = top + ph - ph * std::min(mark_p95, maxv) / maxv;
    absl::StrAppend(
        &s,
        absl::StrFormat("<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" class=\"p\"/>"
                        "<text x=\"%d\" y=\"%.1f\" class=\"a\" text-anchor=\"end\">p95</text>\n",
                        left, y, left + pw, y, left + pw, y - 4));
  }
  if (n) {
    absl::StrAppend(&s, absl::StrFormat("<text x=\"%d\" y=\"%d\" class=\"a\">%s</text>\n", left,
                                        h - 12, HtmlEscape(points.front().first)));
    absl::StrAppend(
        &s, absl::StrFormat("<text x=\"%d\" y=\"%d\" class=\"a\" text-anchor=\"end\">%s</text>\n",
                            left + pw, h - 12, HtmlEscape(points.back().first)));
  }
  s += "</svg>\n";
  return s;
}

// Horizontal bars, one per (label, value), largest first.
std::string HBars(std::vector<std::pair<std::string, double>> items, const std::string& title) {
  std::sort(items.begin(), items.end(),
            [](const auto& a, const auto& b) { return a.second > b.second; });
  if (items.size() > 12) items.resize(12);
  const int w = 520, row = 26, top = 30, label = 170;
  const int h = top + row * int(std::max<size_t>(items.size(), 1)) + 10;
  double maxv = 1, sum = 0;
  for (const auto& [l, v] : items) maxv = std::max(maxv, v), sum += v;
  std::string s = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"100%%\" "
      "role=\"img\" "
      "aria-label=\"%s\">\n<text x=\"0\" y=\"18\" class=\"t\">%s</text>\n",
      w, h, HtmlEscape(title), HtmlEscape(title));
  for (size_t i = 0; i < items.size(); ++i) {
    int y = top + int(i) * row;
    double bw = (w - label - 90) * items[i].second / maxv;
    std::string name =
        items[i].first.size() > 26 ? items[i].first.substr(0, 25) + "…" : items[i].first;
    absl::StrAppend(
        &s,
        absl::StrFormat("<text x=\"%d\" y=\"%d\" class=\"a\" text-anchor=\"end\">%s</text>"
                        "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
                        "fill=\"%s\"><title>%s: %s</title></rect>"
                        "<text x=\"%.1f\" y=\"%d\" class=\"a\">%s (%.0f%%)</text>\n",
                        label - 6, y + 16, HtmlEscape(name), label, y + 4, std::max(bw, 1.0),
                        row - 8, kPalette[i % 10], HtmlEscape(items[i].first),
                        Thousands(int64_t(items[i].second)), label + std::max(bw, 1.0) + 4, y + 16,
                        Compact(items[i].second), sum > 0 ? 100 * items[i].second / sum : 0));
  }
  s += "</svg>\n";
  return s;
}

std::string Cell(const std::string& s, bool num = false) {
  return absl::StrCat(num ? "<td class=\"n\">" : "<td>", HtmlEscape(s), "</td>");
}

}  // namespace

void WriteHtml(std::ostream& os, const json::object& doc) {
  const std::string title = Str(doc, "title");
  os << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>"
     << HtmlEscape(title)
     << "</title>\n<style>\n"
        "body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px "
        "auto;max-width:1120px;color:#222;padding:0 16px}\n"
        "h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px "
        "solid #ddd;padding-bottom:4px}\n"
        ".meta{color:#666}table{border-collapse:collapse;margin:8px 0;width:100%}th,td{padding:4px "
        "8px;border-bottom:1px solid #eee;text-align:left}\n"
        "th{background:#f6f6f6}td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
        ".cards{display:flex;gap:12px;flex-wrap:wrap}.card{border:1px solid "
        "#ddd;border-radius:6px;padding:8px 14px;min-width:140px}\n"
        ".card b{display:block;font-size:20px}.grid{display:grid;grid-template-columns:1fr "
        "1fr;gap:16px}\n"
        "svg .t{font-weight:600;font-size:14px}svg .a{font-size:11px;fill:#555}svg "
        ".g{stroke:#eee}svg .p{stroke:#e15759;stroke-dasharray:4 3}\n"
        ".sev-critical{color:#b00020;font-weight:600}.sev-warning{color:#b36b00;font-weight:600}."
        "sev-info{color:#555}\n"
        "li{margin-bottom:8px}details{margin:6px 0}summary{cursor:pointer;font-weight:600}\n"
        "</style></head><body>\n";
  os << "<h1>" << HtmlEscape(title) << "</h1>\n";
  const auto& p = Obj(doc, "period");
  os << "<p class=\"meta\">Period " << HtmlEscape(Str(p, "since")) << " → "
     << HtmlEscape(Str(p, "until")) << " (" << HtmlEscape(Str(doc, "tz")) << ") · "
     << Arr(doc, "inputs").size() << " input(s) · generated "
     << HtmlEscape(Str(doc, "generated_at"));
  if (Get(doc, "previous_url").is_string())
    os << " · <a href=\"" << HtmlEscape(Str(doc, "previous_url")) << "\">previous report</a>";
  os << "</p>\n";
  const auto& tot = Obj(doc, "totals");
  if (Get(doc, "no_data").is_bool() && Get(doc, "no_data").get_bool()) {
    os << "<p><b>No usage data found.</b></p>\n";
  } else {
    os << "<div class=\"cards\">";
    auto card = [&](const std::string& k, const std::string& v) {
      os << "<div class=\"card\">" << HtmlEscape(k) << "<b>" << HtmlEscape(v) << "</b></div>";
    };
    card("Total tokens", Compact(Dbl(tot, "total_tokens")));
    card("Cost", Usd(Get(tot, "cost_usd")));
    card("Requests", Num(Get(tot, "requests")));
    card("Cache hit rate", Percent(Get(tot, "cache_hit_rate")));
    card("Prompt cache share", Percent(Get(tot, "prompt_cache_share")));
    const auto& w = Obj(doc, "windows_5m");
    card("p95 tokens / 5 min", Compact(Dbl(w, "p95")));
    card("max tokens / 5 min", Compact(Dbl(w, "max")));
    os << "</div>\n";

    // Charts.
    const auto& series = Arr(w, "series");
    std::vector<std::pair<std::string, double>> pts;
    std::vector<double> xs;
    std::vector<std::string> starts;
    for (const auto& s : series) starts.push_back(Str(s.get_object(), "start"));
    // x positions by time: windows are 5-minute aligned, parse minutes.
    std::vector<double> mins;
    for (const auto& st : starts) {
      int Y, M, D, h, m;
      if (std::sscanf(st.c_str(), "%d-%d-%dT%d:%d", &Y, &M, &D, &h, &m) == 5) {
        // Days since an arbitrary epoch are enough for relative positions.
        int a = (14 - M) / 12, y = Y + 4800 - a, mm = M + 12 * a - 3;
        long jdn = D + (153 * mm + 2) / 5 + 365L * y + y / 4 - y / 100 + y / 400 - 32045;
        mins.push_back(double(jdn) * 1440 + h * 60 + m);
      } else {
        mins.push_back(double(mins.size()) * 5);
      }
    }
    double lo = mins.empty() ? 0 : mins.front(), hi = mins.empty() ? 1 : mins.back();
    for (size_t i = 0; i < series.size(); ++i) {
      pts.emplace_back(starts[i], Dbl(series[i].get_object(), "total_tokens"));
      xs.push_back(hi > lo ? (mins[i] - lo) / (hi - lo) : 0.5);
    }
    os << "<h2>Tokens per 5 minutes</h2>\n"
       << TimeBars(pts, xs, "Tokens per 5-minute window (UTC)", Dbl(w, "p95"));
    std::vector<std::pair<std::string, double>> days;
    std::vector<double> dx;
    const auto& da = Arr(doc, "days");
    for (size_t i = 0; i < da.size(); ++i) {
      days.emplace_back(Str(da[i].get_object(), "date"), Dbl(da[i].get_object(), "total_tokens"));
      dx.push_back(da.size() > 1 ? double(i) / double(da.size() - 1) : 0.5);
    }
    os << "<h2>Tokens per day</h2>\n"
       << TimeBars(days, dx, "Tokens per day (" + Str(doc, "tz") + ")", 0);
    std::vector<std::pair<std::string, double>> groups;
    std::map<std::string, double> models;
    for (const auto& gv : Arr(doc, "groups")) {
      const auto& g = gv.get_object();
      groups.emplace_back(Str(g, "name"), Dbl(g, "total_tokens"));
      for (const auto& mv : Arr(g, "models"))
        models[Str(mv.get_object(), "model")] += Dbl(mv.get_object(), "total_tokens");
    }
    os << "<div class=\"grid\"><div>" << HBars(groups, "Tokens by " + Str(doc, "group_by"))
       << "</div><div>" << HBars({models.begin(), models.end()}, "Tokens by model")
       << "</div></div>\n";

    os << "<h2>Overview</h2>\n<table><tr><th>" << HtmlEscape(Str(doc, "group_by"))
       << "</th><th>Total tokens</th><th>Cost</th><th>Cache hit "
          "rate</th><th>Runs</th><th>Requests/run</th>"
          "<th>Mean duration/request</th><th>In/out ratio</th></tr>\n";
    for (const auto& gv : Arr(doc, "groups")) {
      const auto& g = gv.get_object();
      double ms = Dbl(g, "mean_request_ms");
      os << "<tr>" << Cell(Str(g, "name")) << Cell(Num(Get(g, "total_tokens")), true)
         << Cell(Usd(Get(g, "cost_usd")), true) << Cell(Percent(Get(g, "cache_hit_rate")), true)
         << Cell(Num(Get(g, "runs")), true)
         << Cell(absl::StrFormat("%.1f", Dbl(g, "requests_per_run")), true)
         << Cell(Get(g, "mean_request_ms").is_number() ? absl::StrFormat("%.0f ms", ms) : "–", true)
         << Cell(absl::StrFormat("%.1f:1", Dbl(g, "input_output_ratio")), true) << "</tr>\n";
    }
    os << "</table>\n";

    const auto& tr = Obj(doc, "trend");
    os << "<h2>Trend vs previous period</h2>\n";
    if (!Get(tr, "source").is_string()) {
      os << "<p>No previous period in the data and no previous report.</p>\n";
    } else {
      os << "<table><tr><th></th><th>Now</th><th>Previous</th><th>Change</th></tr>\n<tr>"
         << Cell("Total tokens") << Cell(Num(Get(tr, "total_tokens")), true)
         << Cell(Num(Get(tr, "previous_total_tokens")), true)
         << Cell(Get(tr, "total_tokens_change").is_number()
                     ? absl::StrFormat("%+.1f%%", Dbl(tr, "total_tokens_change") * 100)
                     : "–",
                 true)
         << "</tr>\n<tr>" << Cell("Cache hit rate")
         << Cell(Percent(Get(tr, "cache_hit_rate")), true)
         << Cell(Percent(Get(tr, "previous_cache_hit_rate")), true) << Cell("")
         << "</tr></table>\n";
    }
  }

  os << "<h2>Top optimization opportunities</h2>\n<ol>\n";
  int n = 0;
  const int64_t top =
      Get(doc, "top_opportunities").is_number() ? int64_t(Dbl(doc, "top_opportunities")) : 5;
  for (const auto& fv : Arr(doc, "findings")) {
    const auto& f = fv.get_object();
    if (Str(f, "kind") == "data_gap" || n >= top) continue;
    ++n;
    std::string ev;
    for (const auto& kv : Obj(f, "evidence"))
      absl::StrAppend(&ev, ev.empty() ? "" : ", ", std::string(kv.key()), "=", Num(kv.value()));
    os << "<li><span class=\"sev-" << HtmlEscape(Str(f, "severity")) << "\">"
       << HtmlEscape(Str(f, "kind")) << "</span> — " << HtmlEscape(Str(f, "subject")) << "<br>"
       << HtmlEscape(Str(f, "recommendation")) << "<br><small>Rule: " << HtmlEscape(Str(f, "rule"))
       << " · Evidence: " << HtmlEscape(ev) << "</small></li>\n";
  }
  os << "</ol>\n";
  if (n == 0) os << "<p>No findings.</p>\n";

  os << "<h2>Inputs</h2>\n<table><tr><th>Path</th><th>Format</th><th>Records</th><th>Skipped "
        "lines</th>"
        "<th>Dropped</th></tr>\n";
  for (const auto& iv : Arr(doc, "inputs")) {
    const auto& i = iv.get_object();
    os << "<tr>" << Cell(Str(i, "path")) << Cell(Str(i, "format"))
       << Cell(Num(Get(i, "records")), true) << Cell(Num(Get(i, "skipped_lines")), true)
       << Cell(Num(Get(i, "dropped_records")), true) << "</tr>\n";
  }
  os << "</table>\n";
  std::string unpriced;
  for (const auto& m : Arr(doc, "unpriced_models"))
    absl::StrAppend(&unpriced, unpriced.empty() ? "" : ", ", Num(m));
  if (!unpriced.empty())
    os << "<p>Unpriced models (no cost counted): " << HtmlEscape(unpriced) << "</p>\n";
  os << "</body></html>\n";
}

}  // namespace tokmeter::cli
