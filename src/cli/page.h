// src/cli/page.h — what a command shows, once, and its four renderings.
//
// A command turns its JSON document into a Page (headings, text, tables,
// findings, charts, collapsible details); the Page is then written as a
// terminal table (width-aware, coloured), Markdown, CSV (the page's primary
// table) or one self-contained HTML page with ECharts charts. So every format
// carries the same content, and every format a command advertises works.
#ifndef TOKMETER_CLI_PAGE_H_
#define TOKMETER_CLI_PAGE_H_

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "boost/json.hpp"

namespace tokmeter::cli {

enum class Format { kTable, kJson, kMarkdown, kHtml, kCsv };

// How a piece of text is emphasised (colour on a terminal, a CSS class in
// HTML, bold in Markdown where it matters).
enum class Style { kNone, kBold, kDim, kCritical, kWarning, kInfo, kGood, kBad, kActive };
// "critical" → kCritical, "warning" → kWarning, "info" → kInfo; quota levels
// minimal → kGood, balanced → kWarning, aggressive → kBad, emergency → kCritical.
Style SeverityStyle(const std::string& severity);
Style LevelStyle(const std::string& level);
const char* StyleClass(Style s);  // CSS class name ("" for kNone)

struct Cell {
  std::string text;                // as shown
  std::optional<std::string> csv;  // as CSV writes it (raw number); unset = text
  Style style = Style::kNone;
  Cell() = default;
  Cell(std::string t) : text(std::move(t)) {}  // NOLINT
  Cell(const char* t) : text(t) {}             // NOLINT
  Cell(std::string t, std::string c, Style s = Style::kNone)
      : text(std::move(t)), csv(std::move(c)), style(s) {}
};
// A number cell: "4,637,898" shown, "4637898" in CSV.
Cell NumCell(const boost::json::value& v);
Cell UsdCell(const boost::json::value& v);
Cell PercentCell(const boost::json::value& v);

struct Column {
  std::string name;
  bool right = false;  // right-aligned (numbers)
  // Text that may be truncated with "…" when the terminal is too narrow.
  bool shrink = false;
  // Columns are hidden in decreasing `drop` order when shrinking text is not
  // enough (0 = never hidden).
  int drop = 0;
  std::string csv_name;  // header in CSV ("" = name)
};

struct Table {
  std::vector<Column> cols;
  struct Row {
    std::vector<Cell> cells;
    bool sub = false;            // a breakdown row (indented; not in CSV)
    bool total = false;          // a totals row (bold; not in CSV)
    Style style = Style::kNone;  // the whole row (e.g. the active block)
  };
  std::vector<Row> rows;
  void Add(std::vector<Cell> cells, Style style = Style::kNone) {
    rows.push_back(Row{std::move(cells), false, false, style});
  }
  void AddSub(std::vector<Cell> cells) { rows.push_back(Row{std::move(cells), true, false}); }
  void AddTotal(std::vector<Cell> cells) { rows.push_back(Row{std::move(cells), false, true}); }
};

// A chart, drawn in HTML only. Points are (x, y): x is Unix milliseconds on
// a time axis, else the index into `categories`.
struct Chart {
  std::string title;
  std::string kind = "bar";  // bar | line
  bool time_axis = false;
  std::vector<std::string> categories;
  std::string y_name = "tokens";
  bool stack = false;
  // A horizontal line (e.g. p95, a token limit); negative = none.
  double mark_y = -1;
  std::string mark_label;
  struct Series {
    std::string name;
    std::vector<std::pair<double, double>> points;
  };
  std::vector<Series> series;
};

struct Finding {
  std::string head;  // "[warning] no_cache — workflow x"
  Style style = Style::kNone;
  std::string severity;  // for HTML / Markdown
  std::string kind, subject;
  std::vector<std::pair<std::string, std::string>> lines;  // (label, text): rule, evidence, …
  std::string text;                                        // the recommendation
};

struct Block {
  enum Kind {
    kHeading,
    kText,
    kLink,  // text: label, url: the link
    kTable,
    kFindings,
    kChart,
    kDetailsBegin,
    kDetailsEnd,
    kList
  };
  Kind kind = kText;
  int level = 2;     // headings
  std::string text;  // heading, paragraph, details summary
  Style style = Style::kNone;
  Table table;
  bool primary = false;   // the table CSV writes
  bool csv_only = false;  // a table only CSV shows (the page says it otherwise)
  std::string url;
  std::vector<Finding> findings;
  std::string empty_text;  // findings: shown when there are none
  Chart chart;
  std::vector<std::pair<std::string, Style>> items;  // list items
};

struct Page {
  std::string title;
  std::vector<std::string> meta;  // lines under the title (as of, period, inputs)
  std::vector<Block> blocks;

  void Heading(std::string text, int level = 2);
  void Text(std::string text, Style style = Style::kNone);
  void Link(std::string label, std::string url);
  // `primary`: the table CSV writes; `csv_only`: shown in CSV only.
  void AddTable(Table t, bool primary = false, bool csv_only = false);
  void Findings(std::vector<Finding> f, std::string empty_text = "No findings.");
  void AddChart(Chart c);
  void DetailsBegin(std::string summary);
  void DetailsEnd();
  void List(std::vector<std::pair<std::string, Style>> items);
};

struct RenderOptions {
  int width = 0;       // terminal columns; 0 = unlimited
  bool color = false;  // ANSI colours (terminal only)
};

void WriteTerminal(std::ostream& os, const Page& p, const RenderOptions& o);
void WriteMarkdown(std::ostream& os, const Page& p);
// The primary table (else the first) as RFC 4180 CSV, raw numbers.
void WriteCsv(std::ostream& os, const Page& p);
// One self-contained page: inline CSS, the ECharts library and the charts'
// data inline (no network), tables that scroll at phone width.
void WriteHtml(std::ostream& os, const Page& p);

// Display width of UTF-8 text in terminal columns (East Asian wide = 2).
int DisplayWidth(const std::string& s);
// `s` cut to `width` columns, "…" marking the cut.
std::string Truncate(const std::string& s, int width);
// Words of `s` wrapped at `width` columns (0 = no wrapping).
std::vector<std::string> Wrap(const std::string& s, int width);

}  // namespace tokmeter::cli

#endif  // TOKMETER_CLI_PAGE_H_
