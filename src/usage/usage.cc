// Whole-body usage parsing and error bodies.
#include "tokmeter/usage.h"

#include <boost/json.hpp>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/usage/extractor.h"
#include "src/usage/internal.h"

namespace tokmeter {
namespace json = boost::json;

absl::StatusOr<ParsedUsage> ParseUsageBody(std::string_view body, Provider hint) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("usage body is not JSON: ", ec.message()));
  usage_internal::Extractor ex(hint);
  ex.HandleValue(v, "");
  ParsedUsage out = ex.Normalize(/*streaming=*/false);
  out.bytes = static_cast<int64_t>(body.size());
  return out;
}

std::optional<ApiError> ParseErrorBody(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) return std::nullopt;
  const json::value* root = &v;
  if (const json::array* a = v.if_array()) {  // Gemini sometimes wraps errors in an array
    if (a->empty()) return std::nullopt;
    root = &(*a)[0];
  }
  const json::object* o = root->if_object();
  if (o == nullptr) return std::nullopt;
  if (const json::value* e = o->if_contains("error")) {
    if (const json::object* eo = e->if_object()) return usage_internal::ErrorFromObject(*eo);
    if (const json::string* s = e->if_string()) {  // {"error":"rate_limit_exceeded"}
      return usage_internal::ClassifyError(std::string(*s), "", "");
    }
  }
  if (const json::value* t = o->if_contains("type");
      t != nullptr && t->is_string() && t->get_string() == "error") {
    return usage_internal::ErrorFromObject(*o);
  }
  return std::nullopt;
}

}  // namespace tokmeter
