// src/cli/render.h — formatting values of a command's JSON document for
// people (4,637,898 · 4.64M · 92.3% · $3.28), reading the document
// leniently, and the stable pretty JSON writer.
#ifndef TOKMETER_CLI_RENDER_H_
#define TOKMETER_CLI_RENDER_H_

#include <cstdint>
#include <ostream>
#include <string>

#include "boost/json.hpp"

namespace tokmeter::cli {

// Pretty JSON, two-space indent, doubles with up to 10 significant digits
// (integral doubles printed as integers), a final newline.
void WriteJson(std::ostream& os, const boost::json::value& v);
// The same value as one line without spaces (JSON Lines output).
void WriteJsonLine(std::ostream& os, const boost::json::value& v);

std::string Thousands(int64_t v);                  // 4637898 → "4,637,898"
std::string Compact(double v);                     // 4637898 → "4.64M"
std::string Percent(const boost::json::value& v);  // 0.923 → "92.3%", null → "–"
std::string Change(const boost::json::value& v);   // 0.25 → "+25.0%", null → "–"
std::string Usd(const boost::json::value& v);      // 3.2812 → "$3.28", null → "unpriced"
std::string Num(const boost::json::value& v);      // integers with separators
std::string Ms(const boost::json::value& v);       // 4000 → "4.0 s", null → "–"
std::string HtmlEscape(const std::string& s);
// The JSON text of a number or string as a CSV field wants it: numbers
// plain (no separators), strings as they are, null empty.
std::string Raw(const boost::json::value& v);

// Reading a command's document: a missing or mistyped member reads as
// null, "", 0, an empty array or an empty object.
const boost::json::value& Get(const boost::json::object& o, const char* k);
std::string Str(const boost::json::object& o, const char* k);  // numbers via Num
int64_t Int(const boost::json::object& o, const char* k);
double Dbl(const boost::json::object& o, const char* k);
bool Bool(const boost::json::object& o, const char* k);
const boost::json::array& Arr(const boost::json::object& o, const char* k);
const boost::json::object& Obj(const boost::json::object& o, const char* k);

}  // namespace tokmeter::cli

#endif  // TOKMETER_CLI_RENDER_H_
