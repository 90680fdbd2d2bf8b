// Value formatting and the JSON writer (render.h).
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

// depth < 0: one line without spaces; else indented from `depth`. Doubles
// integral ones as integers, else up to 10 significant digits; no NaN.
void Write(std::ostream& os, const json::value& v, int depth) {
  const bool pretty = depth >= 0;
  switch (v.kind()) {
    case json::kind::object: {
      const auto& o = v.get_object();
      if (o.empty()) {
        os << "{}";
        return;
      }
      os << (pretty ? "{\n" : "{");
      bool first = true;
      for (const auto& kv : o) {
        if (!first) os << (pretty ? ",\n" : ",");
        first = false;
        if (pretty) Indent(os, depth + 1);
        os << json::serialize(json::string(kv.key())) << (pretty ? ": " : ":");
        Write(os, kv.value(), pretty ? depth + 1 : -1);
      }
      if (pretty) {
        os << "\n";
        Indent(os, depth);
      }
      os << "}";
      return;
    }
    case json::kind::array: {
      const auto& a = v.get_array();
      if (a.empty()) {
        os << "[]";
        return;
      }
      os << (pretty ? "[\n" : "[");
      for (size_t i = 0; i < a.size(); ++i) {
        if (i) os << (pretty ? ",\n" : ",");
        if (pretty) Indent(os, depth + 1);
        Write(os, a[i], pretty ? depth + 1 : -1);
      }
      if (pretty) {
        os << "\n";
        Indent(os, depth);
      }
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
  Write(os, v, 0);
  os << "\n";
}

void WriteJsonLine(std::ostream& os, const json::value& v) {
  Write(os, v, -1);
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

std::string Change(const json::value& v) {
  if (!v.is_number()) return "–";
  return absl::StrFormat("%+.1f%%", v.to_number<double>() * 100);
}

std::string Ms(const json::value& v) {
  if (!v.is_number()) return "–";
  double ms = v.to_number<double>();
  return ms >= 1000 ? absl::StrFormat("%.1f s", ms / 1000) : absl::StrFormat("%.0f ms", ms);
}

std::string Raw(const json::value& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_bool()) return v.get_bool() ? "true" : "false";
  if (v.is_double()) {
    double d = v.get_double();
    if (!std::isfinite(d)) return "";
    if (d == std::floor(d) && std::fabs(d) < 1e15) return absl::StrCat(static_cast<int64_t>(d));
    return absl::StrFormat("%.10g", d);
  }
  return json::serialize(v);
}

std::string Usd(const json::value& v) {
  if (!v.is_number()) return "unpriced";
  double d = v.to_number<double>();
  if (d > 0 && d < 0.0001) return "<$0.0001";
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
double Dbl(const json::object& o, const char* k) {
  const json::value& v = Get(o, k);
  return v.is_number() ? v.to_number<double>() : 0;
}
bool Bool(const json::object& o, const char* k) {
  const json::value& v = Get(o, k);
  return v.is_bool() && v.get_bool();
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

}  // namespace tokmeter::cli
