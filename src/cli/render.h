// src/cli/render.h — turning a command's JSON document into text: JSON
// (pretty, stable), Markdown, terminal tables and HTML. Every format is
// rendered from the same JSON document, so they cannot disagree.
#ifndef TOKMETER_CLI_RENDER_H_
#define TOKMETER_CLI_RENDER_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "boost/json.hpp"

namespace tokmeter::cli {

enum class Format { kTable, kJson, kMarkdown, kHtml };

// Pretty JSON, two-space indent, doubles with up to 10 significant digits
// (integral doubles printed as integers), a final newline.
void WriteJson(std::ostream& os, const boost::json::value& v);

// Renders `doc` (the output of one command, see docs/REPORT_JSON.md) as a
// terminal table or Markdown.
void WriteText(std::ostream& os, const boost::json::object& doc, bool markdown);
// Self-contained HTML page with inline SVG charts (report only).
void WriteHtml(std::ostream& os, const boost::json::object& doc);

// Formatting helpers shared by the renderers.
std::string Thousands(int64_t v);                  // 4637898 → "4,637,898"
std::string Compact(double v);                     // 4637898 → "4.64M"
std::string Percent(const boost::json::value& v);  // 0.923 → "92.3%", null → "–"
std::string Usd(const boost::json::value& v);      // 3.2812 → "$3.28", null → "unpriced"
std::string Num(const boost::json::value& v);      // integers with separators
std::string HtmlEscape(const std::string& s);

// Reading a command's document: a missing or mistyped member reads as
// null, "", 0, an empty array or an empty object.
const boost::json::value& Get(const boost::json::object& o, const char* k);
std::string Str(const boost::json::object& o, const char* k);  // numbers via Num
int64_t Int(const boost::json::object& o, const char* k);
const boost::json::array& Arr(const boost::json::object& o, const char* k);
const boost::json::object& Obj(const boost::json::object& o, const char* k);

}  // namespace tokmeter::cli

#endif  // TOKMETER_CLI_RENDER_H_
