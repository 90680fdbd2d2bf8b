// Terminal, Markdown and CSV renderings of a Page (page.h). Colours come from
// {fmt} (fmt/color.h); display widths from utf8proc's Unicode tables.
#include "src/cli/page.h"

#include <utf8proc.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fmt/color.h"
#include "fmt/format.h"
#include "src/cli/render.h"

namespace tokmeter::cli {
namespace json = boost::json;

Style SeverityStyle(const std::string& severity) {
  if (severity == "critical") return Style::kCritical;
  if (severity == "warning") return Style::kWarning;
  if (severity == "info") return Style::kInfo;
  return Style::kNone;
}

Style LevelStyle(const std::string& level) {
  if (level == "minimal") return Style::kGood;
  if (level == "balanced") return Style::kWarning;
  if (level == "aggressive") return Style::kBad;
  if (level == "emergency") return Style::kCritical;
  return Style::kNone;
}

const char* StyleClass(Style s) {
  switch (s) {
    case Style::kNone:
      return "";
    case Style::kBold:
      return "b";
    case Style::kDim:
      return "dim";
    case Style::kCritical:
      return "critical";
    case Style::kWarning:
      return "warning";
    case Style::kInfo:
      return "info";
    case Style::kGood:
      return "good";
    case Style::kBad:
      return "bad";
    case Style::kActive:
      return "active";
  }
  return "";
}

Cell NumCell(const json::value& v) { return Cell(Num(v), Raw(v)); }
Cell UsdCell(const json::value& v) { return Cell(Usd(v), Raw(v)); }
Cell PercentCell(const json::value& v) { return Cell(Percent(v), Raw(v)); }

void Page::Heading(std::string text, int level) {
  Block b;
  b.kind = Block::kHeading;
  b.text = std::move(text);
  b.level = level;
  blocks.push_back(std::move(b));
}
void Page::Text(std::string text, Style style) {
  Block b;
  b.kind = Block::kText;
  b.text = std::move(text);
  b.style = style;
  blocks.push_back(std::move(b));
}
void Page::Link(std::string label, std::string url) {
  Block b;
  b.kind = Block::kLink;
  b.text = std::move(label);
  b.url = std::move(url);
  blocks.push_back(std::move(b));
}
void Page::AddTable(Table t, bool primary, bool csv_only) {
  Block b;
  b.kind = Block::kTable;
  b.table = std::move(t);
  b.primary = primary;
  b.csv_only = csv_only;
  blocks.push_back(std::move(b));
}
void Page::Findings(std::vector<Finding> f, std::string empty_text) {
  Block b;
  b.kind = Block::kFindings;
  b.findings = std::move(f);
  b.empty_text = std::move(empty_text);
  blocks.push_back(std::move(b));
}
void Page::AddChart(Chart c) {
  Block b;
  b.kind = Block::kChart;
  b.chart = std::move(c);
  blocks.push_back(std::move(b));
}
void Page::DetailsBegin(std::string summary) {
  Block b;
  b.kind = Block::kDetailsBegin;
  b.text = std::move(summary);
  blocks.push_back(std::move(b));
}
void Page::DetailsEnd() {
  Block b;
  b.kind = Block::kDetailsEnd;
  blocks.push_back(std::move(b));
}
void Page::List(std::vector<std::pair<std::string, Style>> items) {
  Block b;
  b.kind = Block::kList;
  b.items = std::move(items);
  blocks.push_back(std::move(b));
}

// ------------------------------------------------------------ text widths --

namespace {

// Decodes one code point at s[i]; advances i. Invalid bytes count as one
// column each (they are shown as replacement characters).
int NextWidth(const std::string& s, size_t& i) {
  utf8proc_int32_t cp = 0;
  const utf8proc_ssize_t n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(&s[i]),
                                              utf8proc_ssize_t(s.size() - i), &cp);
  if (n <= 0) {
    ++i;
    return 1;
  }
  i += size_t(n);
  return std::max(0, utf8proc_charwidth(cp));
}

}  // namespace

int DisplayWidth(const std::string& s) {
  int w = 0;
  for (size_t i = 0; i < s.size();) w += NextWidth(s, i);
  return w;
}

std::string Truncate(const std::string& s, int width) {
  if (DisplayWidth(s) <= width) return s;
  if (width <= 0) return "";
  int w = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = i;
    const int cw = NextWidth(s, j);
    if (w + cw > width - 1) break;
    w += cw;
    i = j;
  }
  return s.substr(0, i) + "…";
}

std::vector<std::string> Wrap(const std::string& s, int width) {
  std::vector<std::string> out;
  if (width <= 0 || DisplayWidth(s) <= width) {
    out.push_back(s);
    return out;
  }
  std::string line;
  int lw = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = s.find(' ', i);
    if (j == std::string::npos) j = s.size();
    std::string word = s.substr(i, j - i);
    const int ww = DisplayWidth(word);
    if (lw > 0 && lw + 1 + ww > width) {
      out.push_back(line);
      line.clear();
      lw = 0;
    }
    // A word longer than a line is cut into lines of `width` columns (at
    // least one character each).
    while (lw == 0 && DisplayWidth(word) > width) {
      size_t cut = 0;
      int cw = 0;
      while (cut < word.size()) {
        size_t next = cut;
        const int w = NextWidth(word, next);
        if (cut > 0 && cw + w > width) break;
        cw += w;
        cut = next;
      }
      out.push_back(word.substr(0, cut));
      word = word.substr(cut);
    }
    if (lw > 0) {
      line += ' ';
      ++lw;
    }
    line += word;
    lw += DisplayWidth(word);
    i = j + 1;
  }
  if (!line.empty()) out.push_back(line);
  return out;
}

// --------------------------------------------------------------- terminal --

namespace {

std::string Paint(const std::string& s, Style style, bool color) {
  if (!color || style == Style::kNone || s.empty()) return s;
  fmt::text_style ts;
  switch (style) {
    case Style::kNone:
      return s;
    case Style::kBold:
      ts = fmt::emphasis::bold;
      break;
    case Style::kDim:
      ts = fmt::emphasis::faint;
      break;
    case Style::kCritical:
      ts = fmt::fg(fmt::terminal_color::bright_red) | fmt::emphasis::bold;
      break;
    case Style::kWarning:
      ts = fmt::fg(fmt::terminal_color::yellow);
      break;
    case Style::kInfo:
      ts = fmt::fg(fmt::terminal_color::cyan);
      break;
    case Style::kGood:
      ts = fmt::fg(fmt::terminal_color::green);
      break;
    case Style::kBad:
      ts = fmt::fg(fmt::terminal_color::red);
      break;
    case Style::kActive:
      ts = fmt::fg(fmt::terminal_color::bright_green) | fmt::emphasis::bold;
      break;
  }
  return fmt::format(ts, "{}", s);
}

std::string Pad(const std::string& s, int width, bool right) {
  const int pad = std::max(0, width - DisplayWidth(s));
  return right ? std::string(size_t(pad), ' ') + s : s + std::string(size_t(pad), ' ');
}

void TerminalTable(std::ostream& os, const Table& t, const RenderOptions& o) {
  const size_t n = t.cols.size();
  if (n == 0) return;
  std::vector<int> w(n, 0);
  for (size_t i = 0; i < n; ++i) w[i] = DisplayWidth(t.cols[i].name);
  for (const auto& r : t.rows)
    for (size_t i = 0; i < n && i < r.cells.size(); ++i) {
      std::string text = r.cells[i].text;
      if (i == 0 && r.sub) text = "  └ " + text;
      w[i] = std::max(w[i], DisplayWidth(text));
    }
  const std::vector<int> natural = w;
  std::vector<bool> shown(n, true);
  auto total = [&] {
    int sum = 0, cols = 0;
    for (size_t i = 0; i < n; ++i)
      if (shown[i]) sum += w[i], ++cols;
    return sum + 2 * std::max(0, cols - 1);
  };
  std::vector<std::string> hidden;
  if (o.width > 0) {
    // 1. Shrink text columns (widest first) down to their header or 10.
    while (total() > o.width) {
      int best = -1;
      for (size_t i = 0; i < n; ++i) {
        const int floor = std::max(std::min(DisplayWidth(t.cols[i].name), 12), 10);
        if (shown[i] && t.cols[i].shrink && w[i] > floor && (best < 0 || w[i] > w[size_t(best)]))
          best = int(i);
      }
      if (best < 0) break;
      --w[size_t(best)];
    }
    // 2. Hide columns, highest `drop` first.
    while (total() > o.width) {
      int best = -1;
      for (size_t i = 1; i < n; ++i)
        if (shown[i] && t.cols[i].drop > 0 &&
            (best < 0 || t.cols[i].drop > t.cols[size_t(best)].drop))
          best = int(i);
      if (best < 0) break;
      shown[size_t(best)] = false;
      hidden.push_back(t.cols[size_t(best)].name);
    }
    // 3. Give text columns back what hiding freed.
    for (bool grew = true; grew && total() < o.width;) {
      grew = false;
      for (size_t i = 0; i < n && total() < o.width; ++i)
        if (shown[i] && w[i] < natural[i]) ++w[i], grew = true;
    }
  }
  auto line = [&](const std::vector<std::string>& cells, const std::vector<Style>& styles,
                  Style row_style) {
    std::string s;
    bool first = true;
    size_t last = 0;
    for (size_t i = 0; i < n; ++i)
      if (shown[i]) last = i;
    for (size_t i = 0; i < n; ++i) {
      if (!shown[i]) continue;
      std::string c = i < cells.size() ? cells[i] : "";
      c = Truncate(c, w[i]);
      const bool right = t.cols[i].right;
      std::string padded = (i == last && !right) ? c : Pad(c, w[i], right);
      Style st = i < styles.size() && styles[i] != Style::kNone ? styles[i] : row_style;
      s += (first ? "" : "  ") + Paint(padded, st, o.color);
      first = false;
    }
    os << s << "\n";
  };
  std::vector<std::string> head;
  for (const auto& c : t.cols) head.push_back(c.name);
  line(head, {}, Style::kBold);
  std::vector<std::string> sep;
  for (size_t i = 0; i < n; ++i) sep.push_back(std::string(size_t(w[i]), '-'));
  line(sep, {}, Style::kNone);
  for (const auto& r : t.rows) {
    std::vector<std::string> cells;
    std::vector<Style> styles;
    for (size_t i = 0; i < r.cells.size(); ++i) {
      cells.push_back(i == 0 && r.sub ? "  └ " + r.cells[i].text : r.cells[i].text);
      styles.push_back(r.cells[i].style);
    }
    line(cells, styles, r.total ? Style::kBold : r.sub ? Style::kDim : r.style);
  }
  if (!hidden.empty()) {
    std::string names;
    for (const auto& h : hidden) absl::StrAppend(&names, names.empty() ? "" : ", ", h);
    for (const auto& l :
         Wrap("(" + std::to_string(hidden.size()) + " column(s) hidden to fit " +
                  std::to_string(o.width) + " columns: " + names + "; see --format csv or json)",
              o.width))
      os << Paint(l, Style::kDim, o.color) << "\n";
  }
  os << "\n";
}

void Underlined(std::ostream& os, const std::string& text, char c, const RenderOptions& o) {
  os << Paint(text, Style::kBold, o.color) << "\n"
     << std::string(size_t(std::min(DisplayWidth(text), o.width > 0 ? o.width : 1 << 20)), c)
     << "\n";
}

void Wrapped(std::ostream& os, const std::string& text, int indent, const RenderOptions& o,
             Style style) {
  const int width = o.width > 0 ? std::max(20, o.width - indent) : 0;
  for (const auto& l : Wrap(text, width))
    os << std::string(size_t(indent), ' ') << Paint(l, style, o.color) << "\n";
}

}  // namespace

void WriteTerminal(std::ostream& os, const Page& p, const RenderOptions& o) {
  Underlined(os, p.title, '=', o);
  for (const auto& m : p.meta) Wrapped(os, m, 0, o, Style::kNone);
  os << "\n";
  int depth = 0;
  for (const Block& b : p.blocks) {
    const int indent = depth > 0 ? 2 : 0;
    if (b.csv_only) continue;
    switch (b.kind) {
      case Block::kLink:
        Wrapped(os, b.text + ": " + b.url, indent, o, Style::kNone);
        os << "\n";
        break;
      case Block::kHeading:
        Underlined(os, b.text, b.level <= 1 ? '=' : '-', o);
        break;
      case Block::kText:
        Wrapped(os, b.text, indent, o, b.style);
        os << "\n";
        break;
      case Block::kTable:
        TerminalTable(os, b.table, o);
        break;
      case Block::kFindings: {
        int k = 0;
        for (const auto& f : b.findings) {
          ++k;
          const std::string num = absl::StrCat(k < 10 ? " " : "", k, ". ");
          Wrapped(os, num + Paint(f.head, f.style, false), indent, o, f.style);
          Wrapped(os, f.text, indent + 4, o, Style::kNone);
          for (const auto& [label, text] : f.lines)
            Wrapped(os, label + ": " + text, indent + 4, o, Style::kDim);
        }
        if (b.findings.empty()) Wrapped(os, b.empty_text, indent, o, Style::kNone);
        os << "\n";
        break;
      }
      case Block::kChart:
        break;  // HTML only
      case Block::kDetailsBegin:
        Wrapped(os, b.text, 0, o, Style::kBold);
        ++depth;
        break;
      case Block::kDetailsEnd:
        depth = std::max(0, depth - 1);
        break;
      case Block::kList:
        for (const auto& [text, style] : b.items) Wrapped(os, "- " + text, indent, o, style);
        os << "\n";
        break;
    }
  }
}

// --------------------------------------------------------------- Markdown --

namespace {

std::string MdCell(std::string cell) {
  for (size_t p = cell.find('|'); p != std::string::npos; p = cell.find('|', p + 2))
    cell.replace(p, 1, "\\|");
  return cell;
}

void MarkdownTable(std::ostream& os, const Table& t) {
  os << "|";
  for (const auto& c : t.cols) os << " " << MdCell(c.name) << " |";
  os << "\n|";
  for (const auto& c : t.cols) os << (c.right ? " ---: |" : " --- |");
  os << "\n";
  for (const auto& r : t.rows) {
    os << "|";
    for (size_t i = 0; i < t.cols.size(); ++i) {
      std::string cell = i < r.cells.size() ? MdCell(r.cells[i].text) : "";
      if (i == 0 && r.sub) cell = "└ " + cell;
      if ((r.total || r.style == Style::kActive) && !cell.empty()) cell = "**" + cell + "**";
      os << " " << cell << " |";
    }
    os << "\n";
  }
  os << "\n";
}

}  // namespace

void WriteMarkdown(std::ostream& os, const Page& p) {
  os << "# " << p.title << "\n\n";
  for (const auto& m : p.meta) os << m << "  \n";
  os << "\n";
  for (const Block& b : p.blocks) {
    if (b.csv_only) continue;
    switch (b.kind) {
      case Block::kLink:
        os << b.text << ": [" << b.url << "](" << b.url << ")\n\n";
        break;
      case Block::kHeading:
        os << std::string(size_t(std::max(1, b.level)), '#') << " " << b.text << "\n\n";
        break;
      case Block::kText:
        os << (b.style == Style::kCritical || b.style == Style::kBad ? "**" + b.text + "**"
                                                                     : b.text)
           << "\n\n";
        break;
      case Block::kTable:
        MarkdownTable(os, b.table);
        break;
      case Block::kFindings: {
        int k = 0;
        for (const auto& f : b.findings) {
          os << ++k << ". **" << f.kind << "** (" << f.severity << ") — " << f.subject << "  \n   "
             << f.text;
          for (const auto& [label, text] : f.lines) os << "  \n   _" << label << ":_ " << text;
          os << "\n";
        }
        if (b.findings.empty()) os << "_" << b.empty_text << "_\n";
        os << "\n";
        break;
      }
      case Block::kChart:
        break;
      case Block::kDetailsBegin:
        os << "<details><summary>" << HtmlEscape(b.text) << "</summary>\n\n";
        break;
      case Block::kDetailsEnd:
        os << "</details>\n\n";
        break;
      case Block::kList:
        for (const auto& [text, style] : b.items) os << "- " << text << "\n";
        os << "\n";
        break;
    }
  }
}

// -------------------------------------------------------------------- CSV --

namespace {

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string o = "\"";
  for (char c : s) {
    if (c == '"') o += '"';
    o += c;
  }
  return o + "\"";
}

}  // namespace

void WriteCsv(std::ostream& os, const Page& p) {
  const Table* t = nullptr;
  for (const Block& b : p.blocks)
    if (b.kind == Block::kTable && (b.primary || t == nullptr)) {
      t = &b.table;
      if (b.primary) break;
    }
  if (t == nullptr) return;
  for (size_t i = 0; i < t->cols.size(); ++i)
    os << (i ? "," : "")
       << CsvField(t->cols[i].csv_name.empty() ? t->cols[i].name : t->cols[i].csv_name);
  os << "\r\n";
  for (const auto& r : t->rows) {
    if (r.sub || r.total) continue;
    for (size_t i = 0; i < t->cols.size(); ++i) {
      const Cell* c = i < r.cells.size() ? &r.cells[i] : nullptr;
      os << (i ? "," : "") << (c ? CsvField(c->csv ? *c->csv : c->text) : "");
    }
    os << "\r\n";
  }
}

}  // namespace tokmeter::cli
