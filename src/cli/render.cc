// JSON, Markdown and terminal renderers of a command's document (render.h).
#include "src/cli/render.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tokmeter::cli {
namespace json = boost::json;

// ------------------------------------------------------------------- JSON --

namespace {

void Indent(std::ostream& os, int n) {
  for (int i = 0; i < n; ++i) os << "  ";
}

void Pretty(std::ostream& os, const json::value& v, int depth) {
  switch (v.kind()) {
    case json::kind::object: {
      const auto& o = v.get_object();
      if (o.empty()) {
        os << "{}";
        return;
      }
      os << "{\n";
      bool first = true;
      for (const auto& kv : o) {
        if (!first) os << ",\n";
        first = false;
        Indent(os, depth + 1);
        os << json::serialize(json::string(kv.key())) << ": ";
        Pretty(os, kv.value(), depth + 1);
      }
      os << "\n";
      Indent(os, depth);
      os << "}";
      return;
    }
    case json::kind::array: {
      const auto& a = v.get_array();
      if (a.empty()) {
        os << "[]";
        return;
      }
      os << "[\n";
      for (size_t i = 0; i < a.size(); ++i) {
        if (i) os << ",\n";
        Indent(os, depth + 1);
        Pretty(os, a[i], depth + 1);
      }
      os << "\n";
      Indent(os, depth);
      os << "]";
      return;
    }
    case json::kind::double_: {
      double d = v.get_double();
      if (!std::isfinite(d)) {
        os << "null";
      } else if (d == std::floor(d) && std::fabs(d) < 1e15) {
        os << static_cast<int64_t>(d);
      } else {
        os << absl::StrFormat("%.10g", d);
      }
      return;
    }
    default:
      os << json::serialize(v);
  }
}

}  // namespace

void WriteJson(std::ostream& os, const json::value& v) {
  Pretty(os, v, 0);
  os << "\n";
}

// ---------------------------------------------------------------- helpers --

std::string Thousands(int64_t v) {
  std::string s = absl::StrCat(v < 0 ? -v : v);
  std::string out;
  int n = 0;
  for (auto it = s.rbegin(); it != s.rend(); ++it) {
    if (n && n % 3 == 0) out.push_back(',');
    out.push_back(*it);
    ++n;
  }
  if (v < 0) out.push_back('-');
  return std::string(out.rbegin(), out.rend());
}

std::string Compact(double v) {
  double a = std::fabs(v);
  if (a >= 1e9) return absl::StrFormat("%.2fG", v / 1e9);
  if (a >= 1e6) return absl::StrFormat("%.2fM", v / 1e6);
  if (a >= 1e4) return absl::StrFormat("%.1fK", v / 1e3);
  return absl::StrFormat("%.0f", v);
}

std::string Percent(const json::value& v) {
  if (!v.is_number()) return "–";
  return absl::StrFormat("%.1f%%", v.to_number<double>() * 100);
}

std::string Usd(const json::value& v) {
  if (!v.is_number()) return "unpriced";
  double d = v.to_number<double>();
  return d < 0.01 && d > 0 ? absl::StrFormat("$%.4f", d) : absl::StrFormat("$%.2f", d);
}

std::string Num(const json::value& v) {
  if (v.is_int64()) return Thousands(v.get_int64());
  if (v.is_uint64()) return Thousands(static_cast<int64_t>(v.get_uint64()));
  if (v.is_double()) {
    double d = v.get_double();
    if (std::fabs(d) >= 1000 || d == std::floor(d))
      return Thousands(static_cast<int64_t>(std::llround(d)));
    return absl::StrFormat("%.4g", d);
  }
  if (v.is_null()) return "–";
  if (v.is_string()) return std::string(v.get_string());
  return json::serialize(v);
}

std::string HtmlEscape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '&':
        o += "&amp;";
        break;
      case '"':
        o += "&quot;";
        break;
      default:
        o.push_back(c);
    }
  }
  return o;
}

const json::value& Get(const json::object& o, const char* k) {
  static const json::value kNull = nullptr;
  auto it = o.find(k);
  return it == o.end() ? kNull : it->value();
}
std::string Str(const json::object& o, const char* k) {
  const json::value& v = Get(o, k);
  return v.is_string() ? std::string(v.get_string()) : Num(v);
}
int64_t Int(const json::object& o, const char* k) {
  const json::value& v = Get(o, k);
  if (v.is_int64()) return v.get_int64();
  if (!v.is_number()) return 0;
  const double d = v.to_number<double>();  // a defined conversion for any double
  return std::isfinite(d) && std::fabs(d) < 9e18 ? static_cast<int64_t>(d) : 0;
}
const json::array& Arr(const json::object& o, const char* k) {
  static const json::array kEmpty;
  const json::value& v = Get(o, k);
  return v.is_array() ? v.get_array() : kEmpty;
}
const json::object& Obj(const json::object& o, const char* k) {
  static const json::object kEmpty;
  const json::value& v = Get(o, k);
  return v.is_object() ? v.get_object() : kEmpty;
}

namespace {

struct Table {
  std::vector<std::string> head;
  std::vector<bool> right;  // right-align column
  std::vector<std::vector<std::string>> rows;
};

// Display width: count UTF-8 code points.
size_t Width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xc0) != 0x80) ++n;
  return n;
}

void Print(std::ostream& os, const Table& t, bool md) {
  const size_t n = t.head.size();
  if (md) {
    os << "|";
    for (const auto& h : t.head) os << " " << h << " |";
    os << "\n|";
    for (size_t i = 0; i < n; ++i) os << (i < t.right.size() && t.right[i] ? " ---: |" : " --- |");
    os << "\n";
    for (const auto& r : t.rows) {
      os << "|";
      for (size_t i = 0; i < n; ++i) {
        std::string cell = i < r.size() ? r[i] : "";
        for (size_t p = cell.find('|'); p != std::string::npos; p = cell.find('|', p + 2))
          cell.replace(p, 1, "\\|");
        os << " " << cell << " |";
      }
      os << "\n";
    }
    os << "\n";
    return;
  }
  std::vector<size_t> w(n, 0);
  for (size_t i = 0; i < n; ++i) w[i] = Width(t.head[i]);
  for (const auto& r : t.rows)
    for (size_t i = 0; i < n && i < r.size(); ++i) w[i] = std::max(w[i], Width(r[i]));
  auto line = [&](const std::vector<std::string>& r) {
    for (size_t i = 0; i < n; ++i) {
      std::string c = i < r.size() ? r[i] : "";
      std::string pad(w[i] - Width(c), ' ');
      bool right = i < t.right.size() && t.right[i];
      os << (i ? "  " : "") << (right ? pad + c : (i + 1 < n ? c + pad : c));
    }
    os << "\n";
  };
  line(t.head);
  std::vector<std::string> sep;
  for (size_t i = 0; i < n; ++i) sep.push_back(std::string(w[i], '-'));
  line(sep);
  for (const auto& r : t.rows) line(r);
  os << "\n";
}

void Heading(std::ostream& os, const std::string& text, int level, bool md) {
  if (md) {
    os << std::string(level, '#') << " " << text << "\n\n";
  } else {
    os << text << "\n";
    os << std::string(Width(text), level == 1 ? '=' : '-') << "\n";
  }
}

std::string Models(const json::object& row) {
  std::string s;
  for (const auto& m : Arr(row, "models")) {
    if (!m.is_object()) continue;
    const auto& mo = m.get_object();
    absl::StrAppend(&s, s.empty() ? "" : ", ", Str(mo, "model"), " ",
                    absl::StrFormat("%.0f%%", Get(mo, "share").to_number<double>() * 100));
  }
  return s;
}

std::string Ms(const json::value& v) {
  if (!v.is_number()) return "–";
  double ms = v.to_number<double>();
  return ms >= 1000 ? absl::StrFormat("%.1f s", ms / 1000) : absl::StrFormat("%.0f ms", ms);
}

std::string Evidence(const json::object& f) {
  std::string s;
  for (const auto& kv : Obj(f, "evidence")) {
    std::string v;
    const json::value& x = kv.value();
    if (x.is_double() && std::fabs(x.get_double()) < 10 &&
        x.get_double() != std::floor(x.get_double())) {
      v = absl::StrFormat("%.3g", x.get_double());
    } else {
      v = Num(x);
    }
    absl::StrAppend(&s, s.empty() ? "" : ", ", std::string(kv.key()), "=", v);
  }
  return s;
}

// Data quality notes every command prints: empty inputs, bad lines, drops,
// unpriced models.
void DataNotes(std::ostream& os, const json::object& doc, bool md) {
  std::vector<std::string> notes;
  for (const auto& in : Arr(doc, "inputs")) {
    if (!in.is_object()) continue;
    const auto& o = in.get_object();
    if (Get(o, "empty").is_bool() && Get(o, "empty").get_bool()) {
      notes.push_back(
          absl::StrCat("input ", Str(o, "path"), ": empty (no usage records; not instrumented?)"));
    } else if (Int(o, "records") == 0) {
      notes.push_back(absl::StrCat("input ", Str(o, "path"), ": no usage records (format ",
                                   Str(o, "format"), ")"));
    }
    if (Int(o, "skipped_lines") > 0) {
      std::string lines;
      for (const auto& l : Arr(o, "first_bad_lines"))
        absl::StrAppend(&lines, lines.empty() ? "" : ", ", Num(l));
      notes.push_back(absl::StrCat("input ", Str(o, "path"), ": ", Int(o, "skipped_lines"),
                                   " malformed line(s) skipped",
                                   lines.empty() ? "" : " (first: " + lines + ")"));
    }
    if (Int(o, "dropped_records") > 0)
      notes.push_back(absl::StrCat("input ", Str(o, "path"), ": ", Int(o, "dropped_records"),
                                   " record(s) lost by the writer (drops)"));
  }
  std::string unpriced;
  for (const auto& m : Arr(doc, "unpriced_models"))
    absl::StrAppend(&unpriced, unpriced.empty() ? "" : ", ", Num(m));
  if (!unpriced.empty())
    notes.push_back(absl::StrCat("unpriced models (no cost counted, not $0): ", unpriced));
  if (notes.empty()) return;
  if (md) {
    Heading(os, "Data quality", 2, true);
    for (const auto& n : notes) os << "- " << n << "\n";
    os << "\n";
  } else {
    os << "Notes:\n";
    for (const auto& n : notes) os << "  " << n << "\n";
    os << "\n";
  }
}

void NoData(std::ostream& os, const json::object& doc, bool md) {
  os << "No usage data found";
  const auto& p = Obj(doc, "period");
  if (Get(p, "since").is_string() || Get(p, "until").is_string())
    os << " between " << Str(p, "since") << " and " << Str(p, "until");
  os << ".\n\n";
  std::string empty;
  for (const auto& e : Arr(doc, "empty_inputs"))
    absl::StrAppend(&empty, empty.empty() ? "" : ", ", Num(e));
  if (!empty.empty()) os << "Inputs without usage records: " << empty << "\n\n";
}

Table TotalsTable(const json::object& t) {
  Table tab;
  tab.head = {"Input",    "Output", "Cache read",     "Cache write",        "Total",
              "Requests", "Cost",   "Cache hit rate", "Prompt cache share", "In/out ratio"};
  tab.right.assign(tab.head.size(), true);
  tab.rows.push_back({Num(Get(t, "input_tokens")), Num(Get(t, "output_tokens")),
                      Num(Get(t, "cache_read_tokens")), Num(Get(t, "cache_write_tokens")),
                      Num(Get(t, "total_tokens")), Num(Get(t, "requests")), Usd(Get(t, "cost_usd")),
                      Percent(Get(t, "cache_hit_rate")), Percent(Get(t, "prompt_cache_share")),
                      absl::StrFormat("%.1f:1", Get(t, "input_output_ratio").to_number<double>())});
  return tab;
}

void FindingsList(std::ostream& os, const json::array& findings, size_t limit, bool md) {
  size_t n = 0;
  for (const auto& fv : findings) {
    if (n >= limit) break;
    const auto& f = fv.get_object();
    ++n;
    if (md) {
      os << n << ". **" << Str(f, "kind") << "** (" << Str(f, "severity") << ") — "
         << Str(f, "subject") << "  \n   " << Str(f, "recommendation") << "  \n   _Rule:_ "
         << Str(f, "rule") << "  \n   _Evidence:_ " << Evidence(f) << "\n";
    } else {
      os << absl::StrFormat("%2d. [%s] %s — %s\n", n, Str(f, "severity"), Str(f, "kind"),
                            Str(f, "subject"))
         << "    " << Str(f, "recommendation") << "\n    rule: " << Str(f, "rule")
         << "\n    evidence: " << Evidence(f) << "\n";
    }
  }
  if (n == 0) os << (md ? "_No findings._\n" : "No findings.\n");
  os << "\n";
}

// ---------------------------------------------------------------- commands --

void Report(std::ostream& os, const json::object& doc, bool md) {
  Heading(os, Str(doc, "title"), 1, md);
  const auto& p = Obj(doc, "period");
  os << "Period: " << Str(p, "since") << " → " << Str(p, "until") << " (" << Str(doc, "tz") << ")";
  os << " · " << Arr(doc, "inputs").size() << " input(s), "
     << Num(Get(Obj(doc, "totals"), "events")) << " record(s)\n";
  if (Get(doc, "previous_url").is_string()) {
    os << (md ? "\nPrevious report: [" + Str(doc, "previous_url") + "](" +
                    Str(doc, "previous_url") + ")\n"
              : "Previous report: " + Str(doc, "previous_url") + "\n");
  }
  os << "\n";
  if (Get(doc, "no_data").is_bool() && Get(doc, "no_data").get_bool()) {
    NoData(os, doc, md);
    DataNotes(os, doc, md);
    return;
  }
  const std::string by = Str(doc, "group_by");
  Heading(os, "Overview", 2, md);
  Table t;
  std::string by_cap = by;
  if (!by_cap.empty()) by_cap[0] = char(std::toupper(static_cast<unsigned char>(by_cap[0])));
  t.head = {by_cap,         "Total tokens",          "Cost",     "Cache hit rate", "Runs",
            "Requests/run", "Mean duration/request", "Model mix"};
  t.right = {false, true, true, true, true, true, true, false};
  for (const auto& gv : Arr(doc, "groups")) {
    const auto& g = gv.get_object();
    t.rows.push_back({Str(g, "name"), Num(Get(g, "total_tokens")), Usd(Get(g, "cost_usd")),
                      Percent(Get(g, "cache_hit_rate")), Num(Get(g, "runs")),
                      absl::StrFormat("%.1f", Get(g, "requests_per_run").to_number<double>()),
                      Ms(Get(g, "mean_request_ms")), Models(g)});
  }
  const auto& tot = Obj(doc, "totals");
  t.rows.push_back({md ? "**All**" : "All", Num(Get(tot, "total_tokens")),
                    Usd(Get(tot, "cost_usd")), Percent(Get(tot, "cache_hit_rate")), "", "",
                    Ms(Get(tot, "mean_request_ms")), ""});
  Print(os, t, md);
  Print(os, TotalsTable(tot), md);
  const auto& w = Obj(doc, "windows_5m");
  os << "Tokens per 5 minutes (" << Num(Get(w, "count")) << " active windows): p50 "
     << Compact(Get(w, "p50").to_number<double>()) << " · p95 "
     << Compact(Get(w, "p95").to_number<double>()) << " · max "
     << Compact(Get(w, "max").to_number<double>()) << "\n\n";

  Heading(os, "Trend vs previous period", 2, md);
  const auto& tr = Obj(doc, "trend");
  if (!Get(tr, "source").is_string()) {
    os << "No previous period in the data and no --previous report.\n\n";
  } else {
    os << "Source: " << Str(tr, "source") << "\n\n";
    Table tt;
    tt.head = {"", "Now", "Previous", "Change"};
    tt.right = {false, true, true, true};
    tt.rows.push_back(
        {"Total tokens", Num(Get(tr, "total_tokens")), Num(Get(tr, "previous_total_tokens")),
         Get(tr, "total_tokens_change").is_number()
             ? absl::StrFormat("%+.1f%%", Get(tr, "total_tokens_change").to_number<double>() * 100)
             : "–"});
    tt.rows.push_back({"Cost", Usd(Get(tr, "cost_usd")), Usd(Get(tr, "previous_cost_usd")), ""});
    tt.rows.push_back({"Cache hit rate", Percent(Get(tr, "cache_hit_rate")),
                       Percent(Get(tr, "previous_cache_hit_rate")), ""});
    Print(os, tt, md);
    Table tg;
    tg.head = {by_cap, "Now", "Previous", "Change"};
    tg.right = {false, true, true, true};
    for (const auto& gv : Arr(tr, "groups")) {
      const auto& g = gv.get_object();
      tg.rows.push_back(
          {Str(g, "name"), Num(Get(g, "total_tokens")), Num(Get(g, "previous_total_tokens")),
           Get(g, "change").is_number()
               ? absl::StrFormat("%+.1f%%", Get(g, "change").to_number<double>() * 100)
               : "new"});
    }
    if (!tg.rows.empty()) Print(os, tg, md);
  }

  Heading(os, "Top optimization opportunities", 2, md);
  json::array opportunities;
  for (const auto& f : Arr(doc, "findings"))
    if (Str(f.get_object(), "kind") != "data_gap") opportunities.push_back(f);
  FindingsList(os, opportunities, size_t(std::max<int64_t>(Int(doc, "top_opportunities"), 0)), md);

  Heading(os, absl::StrCat("Details per ", by), 2, md);
  for (const auto& gv : Arr(doc, "groups")) {
    const auto& g = gv.get_object();
    std::string name = Str(g, "name");
    std::string summary =
        absl::StrCat(by, " ", name, " — ", Compact(double(Int(g, "total_tokens"))), " tokens, ",
                     Usd(Get(g, "cost_usd")));
    if (md) {
      os << "<details><summary>" << HtmlEscape(summary) << "</summary>\n\n";
    } else {
      os << summary << "\n";
    }
    Print(os, TotalsTable(g), md);
    Table mt;
    mt.head = {"Model", "Tokens", "Share", "Requests", "Cost", "Cache hit rate"};
    mt.right = {false, true, true, true, true, true};
    for (const auto& mv : Arr(g, "models")) {
      const auto& m = mv.get_object();
      mt.rows.push_back({Str(m, "model"), Num(Get(m, "total_tokens")), Percent(Get(m, "share")),
                         Num(Get(m, "requests")), Usd(Get(m, "cost_usd")),
                         Percent(Get(m, "cache_hit_rate"))});
    }
    Print(os, mt, md);
    json::array mine;
    const std::string subject = absl::StrCat(by, " ", name);
    for (const auto& f : Arr(doc, "findings"))
      if (Str(f.get_object(), "subject") == subject) mine.push_back(f);
    if (!mine.empty()) FindingsList(os, mine, mine.size(), md);
    if (md) os << "</details>\n\n";
  }
  DataNotes(os, doc, md);
  if (md) os << "_Generated by tokmeter at " << Str(doc, "generated_at") << "._\n";
}

void Detect(std::ostream& os, const json::object& doc, bool md) {
  Heading(os, "Findings", 1, md);
  if (Get(doc, "no_data").get_bool()) NoData(os, doc, md);
  const auto& f = Arr(doc, "findings");
  FindingsList(os, f, f.size(), md);
  DataNotes(os, doc, md);
}

void Rows(std::ostream& os, const json::object& doc, bool md, const char* key,
          const std::string& title) {
  Heading(os, title, 1, md);
  if (Get(doc, "no_data").get_bool()) {
    NoData(os, doc, md);
    DataNotes(os, doc, md);
    return;
  }
  Table t;
  std::string k = key;
  k[0] = char(std::toupper(static_cast<unsigned char>(k[0])));
  t.head = {k,       "Input",    "Output",     "Cache read", "Cache write",
            "Total", "Requests", "Tool calls", "429s",       "Cost"};
  t.right = {false, true, true, true, true, true, true, true, true, true};
  for (const auto& rv : Arr(doc, "rows")) {
    const auto& r = rv.get_object();
    t.rows.push_back({Str(r, key), Num(Get(r, "input_tokens")), Num(Get(r, "output_tokens")),
                      Num(Get(r, "cache_read_tokens")), Num(Get(r, "cache_write_tokens")),
                      Num(Get(r, "total_tokens")), Num(Get(r, "requests")),
                      Num(Get(r, "tool_calls")), Num(Get(r, "rate_limited")),
                      Usd(Get(r, "cost_usd"))});
    const auto& models = Arr(r, "models");
    if (models.size() > 1 || std::string(key) != "key") {
      for (const auto& mv : models) {
        const auto& m = mv.get_object();
        t.rows.push_back({"  └ " + Str(m, "model"), Num(Get(m, "input_tokens")),
                          Num(Get(m, "output_tokens")), Num(Get(m, "cache_read_tokens")),
                          Num(Get(m, "cache_write_tokens")), Num(Get(m, "total_tokens")),
                          Num(Get(m, "requests")), "", "", Usd(Get(m, "cost_usd"))});
      }
    }
  }
  const auto& tot = Obj(doc, "totals");
  t.rows.push_back({md ? "**Total**" : "Total", Num(Get(tot, "input_tokens")),
                    Num(Get(tot, "output_tokens")), Num(Get(tot, "cache_read_tokens")),
                    Num(Get(tot, "cache_write_tokens")), Num(Get(tot, "total_tokens")),
                    Num(Get(tot, "requests")), Num(Get(tot, "tool_calls")),
                    Num(Get(tot, "rate_limited")), Usd(Get(tot, "cost_usd"))});
  Print(os, t, md);
  DataNotes(os, doc, md);
}

void Spikes(std::ostream& os, const json::object& doc, bool md) {
  Heading(os, absl::StrCat("Tokens per ", Str(doc, "window"), " window"), 1, md);
  if (Get(doc, "no_data").get_bool()) {
    NoData(os, doc, md);
    DataNotes(os, doc, md);
    return;
  }
  const auto& d = Obj(doc, "distribution");
  os << Num(Get(d, "windows")) << " active windows: p50 "
     << Compact(Get(d, "p50").to_number<double>()) << " · p95 "
     << Compact(Get(d, "p95").to_number<double>()) << " · max "
     << Compact(Get(d, "max").to_number<double>()) << "\n\n";
  Table t;
  t.head = {"Window start (UTC)", "Tokens",   "× median", "Requests", "429s",
            "Top sessions",       "Top jobs", "Top tools"};
  t.right = {false, true, true, true, true, false, false, false};
  auto tops = [](const json::array& a) {
    std::string s;
    for (const auto& x : a)
      absl::StrAppend(&s, s.empty() ? "" : ", ", Str(x.get_object(), "key"), " ",
                      x.get_object().contains("tool_calls")
                          ? absl::StrCat(Int(x.get_object(), "tool_calls"), " calls")
                          : Compact(double(Int(x.get_object(), "total_tokens"))));
    return s.empty() ? std::string("–") : s;
  };
  for (const auto& sv : Arr(doc, "spikes")) {
    const auto& s = sv.get_object();
    t.rows.push_back({Str(s, "start"), Num(Get(s, "total_tokens")),
                      absl::StrFormat("%.1f", Get(s, "median_multiple").to_number<double>()),
                      Num(Get(s, "requests")), Num(Get(s, "rate_limited")),
                      tops(Arr(s, "top_sessions")), tops(Arr(s, "top_jobs")),
                      tops(Arr(s, "top_tools"))});
  }
  if (t.rows.empty()) {
    os << "No spikes.\n\n";
  } else {
    Print(os, t, md);
  }
  DataNotes(os, doc, md);
}

void Quota(std::ostream& os, const json::object& doc, bool md) {
  const auto& q = Obj(doc, "quota");
  Heading(
      os,
      absl::StrCat("Quota: ", Compact(double(Int(q, "limit"))), " tokens per ", Str(q, "period")),
      1, md);
  Table t;
  t.head = {"", "Value"};
  t.right = {false, true};
  auto pct = [&](const char* k) { return Percent(Get(q, k)); };
  t.rows = {
      {"Period", Str(q, "period_start") + " → " + Str(q, "period_end")},
      {"As of", Str(q, "as_of")},
      {"Consumed", Num(Get(q, "consumed")) + " (" + pct("share_used") + ")"},
      {"Left", pct("share_left")},
      {"Daily average", Num(Get(q, "daily_average"))},
      {"Month-end forecast", Num(Get(q, "forecast")) + " (" + pct("forecast_share") + ")" +
                                 (Get(q, "will_exceed").get_bool() ? " — will exceed" : "")},
      {"Runs in the last 7 days", Num(Get(q, "runs_7d"))},
      {"Mean tokens per run (7 d)", Num(Get(q, "mean_tokens_per_run_7d"))},
      {"Runs left at this rate", Num(Get(q, "runs_left"))},
      {"Cache hit rate (7 d / previous 7 d)",
       pct("cache_hit_rate_7d") + " / " + pct("cache_hit_rate_prev_7d")},
      {"Prompt cache share (7 d / previous 7 d)",
       pct("prompt_cache_share_7d") + " / " + pct("prompt_cache_share_prev_7d")},
      {"Optimization level", Str(q, "level")},
  };
  Print(os, t, md);
  const auto& alerts = Arr(q, "alerts");
  if (alerts.empty()) {
    os << "No alerts (thresholds 50/80/100 %).\n\n";
  } else {
    for (const auto& a : alerts)
      os << (md ? "- **ALERT** " : "ALERT: ") << Str(a.get_object(), "message") << "\n";
    os << "\n";
  }
  DataNotes(os, doc, md);
}

}  // namespace

void WriteText(std::ostream& os, const json::object& doc, bool md) {
  const std::string cmd = Str(doc, "command");
  if (cmd == "report") return Report(os, doc, md);
  if (cmd == "detect") return Detect(os, doc, md);
  if (cmd == "spikes") return Spikes(os, doc, md);
  if (cmd == "quota") return Quota(os, doc, md);
  if (cmd == "top")
    return Rows(os, doc, md, "key",
                absl::StrCat("Top ", Str(doc, "by"), "s by tokens (", Str(doc, "window"), ")"));
  if (cmd == "daily") return Rows(os, doc, md, "date", "Daily usage");
  if (cmd == "monthly") return Rows(os, doc, md, "month", "Monthly usage");
  if (cmd == "session") return Rows(os, doc, md, "session", "Usage per session");
  WriteJson(os, doc);
}

}  // namespace tokmeter::cli
