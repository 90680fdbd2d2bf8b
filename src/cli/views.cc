// Page pieces shared by the commands (views.h).
#include "src/cli/views.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "src/cli/render.h"

namespace tokmeter::cli {
namespace json = boost::json;

namespace {

std::string SourceText(const std::string& source) {
  if (source == "latest-event") return "the latest event";
  if (source == "as-of") return "--as-of";
  if (source == "clock") return "the clock, --now";
  if (source == "clock-no-events") return "the clock: no events";
  return source;
}

std::string Short(const std::string& rfc3339) {
  // 2026-11-23T10:00:05+00:00 → 2026-11-23 10:00:05 +00:00
  if (rfc3339.size() < 19) return rfc3339;
  std::string s = rfc3339.substr(0, 10) + " " + rfc3339.substr(11, 8);
  if (rfc3339.size() > 19) s += " " + rfc3339.substr(19);
  return s;
}

}  // namespace

double EpochMs(const std::string& rfc3339) {
  absl::Time t;
  std::string err;
  if (rfc3339.empty() || !absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &err)) return 0;
  return double(absl::ToUnixMillis(t));
}

std::string PeriodLabel(const json::object& doc) {
  const auto& p = Obj(doc, "period");
  const json::value& since = Get(p, "since");
  const json::value& until = Get(p, "until");
  if (Bool(doc, "no_data") && !since.is_string() && !until.is_string()) return "no data";
  std::string tz = Str(doc, "tz");
  absl::TimeZone zone;
  if (!absl::LoadTimeZone(tz, &zone)) zone = absl::UTCTimeZone();
  auto day = [&](const json::value& v, bool exclusive_end) {
    absl::Time t;
    std::string err;
    if (!v.is_string() ||
        !absl::ParseTime(absl::RFC3339_full, std::string(v.get_string()), &t, &err))
      return std::string();
    if (exclusive_end) t -= absl::Nanoseconds(1);
    return absl::FormatTime("%Y-%m-%d", t, zone);
  };
  std::string a = day(since, false), b = day(until, true);
  if (a.empty()) {
    const auto& tot = Obj(doc, "totals");
    a = Get(tot, "first").is_string() ? day(Get(tot, "first"), false) : "";
  }
  if (b.empty()) {
    const auto& tot = Obj(doc, "totals");
    b = Get(tot, "last").is_string() ? day(Get(tot, "last"), false) : "";
  }
  if (a.empty() && b.empty()) return "no data";
  if (a.empty()) return "until " + b;
  if (b.empty() || a == b) return a;
  return a + " – " + b;
}

void Header(const json::object& doc, const std::string& title, Page& p) {
  p.title = title;
  std::string asof = absl::StrCat("As of ", Short(Str(doc, "as_of")), " (",
                                  SourceText(Str(doc, "as_of_source")), ")");
  if (Get(doc, "latest_event").is_string() && Str(doc, "as_of_source") != "latest-event")
    absl::StrAppend(&asof, "; latest event ", Short(Str(doc, "latest_event")));
  p.meta.push_back(asof);
  const auto& per = Obj(doc, "period");
  std::string since = Get(per, "since").is_string() ? Short(Str(per, "since")) : "start of data";
  std::string until = Get(per, "until").is_string() ? Short(Str(per, "until")) : "end of data";
  p.meta.push_back(absl::StrCat("Period ", PeriodLabel(doc), ": ", since, " → ", until, " (",
                                Str(doc, "tz"), ")"));
  const auto& inputs = Arr(doc, "inputs");
  p.meta.push_back(absl::StrCat(inputs.size(), " input file(s), ",
                                Num(Get(Obj(doc, "totals"), "events")),
                                " record(s) in the period"));
}

bool NoData(const json::object& doc, Page& p) {
  if (!Bool(doc, "no_data")) return false;
  std::string text = "No usage data found";
  const auto& per = Obj(doc, "period");
  if (Get(per, "since").is_string() || Get(per, "until").is_string())
    absl::StrAppend(&text, " between ",
                    Get(per, "since").is_string() ? Str(per, "since") : "the start", " and ",
                    Get(per, "until").is_string() ? Str(per, "until") : "the end");
  absl::StrAppend(&text, ".");
  p.Text(text, Style::kBold);
  return true;
}

void DataNotes(const json::object& doc, Page& p) {
  std::vector<std::pair<std::string, Style>> notes;
  for (const auto& in : Arr(doc, "inputs")) {
    if (!in.is_object()) continue;
    const auto& o = in.get_object();
    if (Bool(o, "empty")) {
      notes.emplace_back(
          absl::StrCat("input ", Str(o, "path"), ": empty (no usage records; not instrumented?)"),
          Style::kWarning);
    } else if (Int(o, "records") == 0) {
      notes.emplace_back(absl::StrCat("input ", Str(o, "path"), ": no usage records (format ",
                                      Str(o, "format"), ")"),
                         Style::kWarning);
    }
    if (Int(o, "skipped_lines") > 0) {
      std::string lines;
      for (const auto& l : Arr(o, "first_bad_lines"))
        absl::StrAppend(&lines, lines.empty() ? "" : ", ", Num(l));
      notes.emplace_back(absl::StrCat("input ", Str(o, "path"), ": ", Int(o, "skipped_lines"),
                                      " malformed line(s) skipped",
                                      lines.empty() ? "" : " (first: " + lines + ")"),
                         Style::kWarning);
    }
    if (Int(o, "dropped_records") > 0)
      notes.emplace_back(absl::StrCat("input ", Str(o, "path"), ": ", Int(o, "dropped_records"),
                                      " record(s) lost by the writer (drops)"),
                         Style::kWarning);
  }
  std::string unpriced;
  for (const auto& m : Arr(doc, "unpriced_models"))
    absl::StrAppend(&unpriced, unpriced.empty() ? "" : ", ", Num(m));
  if (!unpriced.empty())
    notes.emplace_back(absl::StrCat("unpriced models (no cost counted, not $0): ", unpriced),
                       Style::kNone);
  if (notes.empty()) return;
  p.Heading("Data quality");
  p.List(std::move(notes));
}

std::vector<Finding> Findings(const json::array& findings) {
  std::vector<Finding> out;
  for (const auto& fv : findings) {
    if (!fv.is_object()) continue;
    const auto& f = fv.get_object();
    Finding x;
    x.kind = Str(f, "kind");
    x.severity = Str(f, "severity");
    x.subject = Str(f, "subject");
    x.style = SeverityStyle(x.severity);
    x.head = absl::StrCat("[", x.severity, "] ", x.kind, " — ", x.subject);
    x.text = Str(f, "recommendation");
    x.lines.emplace_back("Rule", Str(f, "rule"));
    std::string ev;
    for (const auto& kv : Obj(f, "evidence")) {
      const json::value& v = kv.value();
      std::string s = v.is_double() && std::fabs(v.get_double()) < 10 &&
                              v.get_double() != std::floor(v.get_double())
                          ? absl::StrFormat("%.3g", v.get_double())
                          : Num(v);
      absl::StrAppend(&ev, ev.empty() ? "" : ", ", std::string(kv.key()), "=", s);
    }
    x.lines.emplace_back("Evidence", ev);
    out.push_back(std::move(x));
  }
  return out;
}

Table TotalsTable(const json::object& t) {
  Table tab;
  tab.cols = {{"Input", true, false, 0, "input_tokens"},
              {"Output", true, false, 0, "output_tokens"},
              {"Cache read", true, false, 0, "cache_read_tokens"},
              {"Cache write", true, false, 3, "cache_write_tokens"},
              {"Total", true, false, 0, "total_tokens"},
              {"Requests", true, false, 2, "requests"},
              {"Cost", true, false, 0, "cost_usd"},
              {"Cache hit rate", true, false, 1, "cache_hit_rate"},
              {"Prompt cache share", true, false, 4, "prompt_cache_share"},
              {"In/out ratio", true, false, 5, "input_output_ratio"}};
  tab.Add({NumCell(Get(t, "input_tokens")), NumCell(Get(t, "output_tokens")),
           NumCell(Get(t, "cache_read_tokens")), NumCell(Get(t, "cache_write_tokens")),
           NumCell(Get(t, "total_tokens")), NumCell(Get(t, "requests")),
           UsdCell(Get(t, "cost_usd")), PercentCell(Get(t, "cache_hit_rate")),
           PercentCell(Get(t, "prompt_cache_share")),
           Cell(absl::StrFormat("%.1f:1", Dbl(t, "input_output_ratio")),
                Raw(Get(t, "input_output_ratio")))});
  return tab;
}

std::string ModelMix(const json::object& row) {
  std::string s;
  for (const auto& m : Arr(row, "models")) {
    if (!m.is_object()) continue;
    const auto& mo = m.get_object();
    absl::StrAppend(&s, s.empty() ? "" : ", ", Str(mo, "model"), " ",
                    absl::StrFormat("%.0f%%", Dbl(mo, "share") * 100));
  }
  return s;
}

Table RowsTable(const json::object& doc, const json::array& rows, const char* key,
                const std::string& key_title) {
  Table t;
  t.cols = {{key_title, false, true, 0, key},
            {"Models", false, true, 6, "models"},
            {"Input", true, false, 0, "input_tokens"},
            {"Output", true, false, 0, "output_tokens"},
            {"Cache read", true, false, 3, "cache_read_tokens"},
            {"Cache write", true, false, 4, "cache_write_tokens"},
            {"Total", true, false, 0, "total_tokens"},
            {"Requests", true, false, 2, "requests"},
            {"Tool calls", true, false, 5, "tool_calls"},
            {"429s", true, false, 7, "rate_limited"},
            {"Cost", true, false, 1, "cost_usd"}};
  auto cells = [](const json::object& r, Cell first, Cell models, bool with_tools) {
    return std::vector<Cell>{first,
                             models,
                             NumCell(Get(r, "input_tokens")),
                             NumCell(Get(r, "output_tokens")),
                             NumCell(Get(r, "cache_read_tokens")),
                             NumCell(Get(r, "cache_write_tokens")),
                             NumCell(Get(r, "total_tokens")),
                             NumCell(Get(r, "requests")),
                             with_tools ? NumCell(Get(r, "tool_calls")) : Cell(""),
                             with_tools ? NumCell(Get(r, "rate_limited")) : Cell(""),
                             UsdCell(Get(r, "cost_usd"))};
  };
  for (const auto& rv : rows) {
    if (!rv.is_object()) continue;
    const auto& r = rv.get_object();
    const auto& models = Arr(r, "models");
    std::string mix;
    for (const auto& m : models)
      absl::StrAppend(&mix, mix.empty() ? "" : ", ", Str(m.get_object(), "model"));
    Cell models_cell(models.size() > 1 ? absl::StrCat(models.size(), " models") : mix, mix);
    t.Add(cells(r, Cell(Str(r, key)), models_cell, true));
    // A breakdown only where there is something to break down.
    if (models.size() > 1)
      for (const auto& mv : models) {
        const auto& m = mv.get_object();
        t.AddSub(cells(m, Cell(Str(m, "model")), Cell(""), false));
      }
  }
  t.AddTotal(cells(Obj(doc, "totals"), Cell("Total"), Cell(""), true));
  return t;
}

}  // namespace tokmeter::cli
