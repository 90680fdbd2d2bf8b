// PriceTable: the pricing.json format and model-name matching (pricing.h).
#include "src/pricing/pricing.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <fstream>
#include <mutex>
#include <sstream>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace tokmeter {
namespace pricing_internal {
extern const std::string_view kBuiltinPricingJson;
}  // namespace pricing_internal

struct PriceTable::Cache {
  std::mutex mu;
  absl::flat_hash_map<std::string, const ModelPrice*> found;
};

namespace {
namespace bj = boost::json;

// See pricing.h "Name matching".
std::string Normalize(std::string_view name) {
  while (!name.empty() && absl::ascii_isspace(name.front())) name.remove_prefix(1);
  while (!name.empty() && absl::ascii_isspace(name.back())) name.remove_suffix(1);
  std::string s(name);
  for (char& c : s) c = absl::ascii_tolower(c);
  size_t slash = s.rfind('/');
  if (slash != std::string::npos) s.erase(0, slash + 1);
  for (std::string_view p : {"us-gov.", "global.", "apac.", "us.", "eu.", "jp.", "au.", "ca."}) {
    if (std::string_view(s).starts_with(p)) {
      s.erase(0, p.size());
      break;
    }
  }
  for (std::string_view p : {"anthropic.", "openai.", "google.", "meta."}) {
    if (std::string_view(s).starts_with(p)) {
      s.erase(0, p.size());
      break;
    }
  }
  // Bedrock version suffix: -v1, -v1:0, -v2:0 …
  size_t v = s.rfind("-v");
  if (v != std::string::npos && v + 2 < s.size()) {
    size_t i = v + 2;
    while (i < s.size() && absl::ascii_isdigit(s[i])) ++i;
    if (i > v + 2) {
      if (i < s.size() && s[i] == ':') {
        size_t j = i + 1;
        while (j < s.size() && absl::ascii_isdigit(s[j])) ++j;
        if (j == s.size() && j > i + 1) s.erase(v);
      } else if (i == s.size()) {
        s.erase(v);
      }
    }
  }
  for (char& c : s) {
    if (c == '@' || c == '.' || c == '_' || c == ':') c = '-';
  }
  if (std::string_view(s).ends_with("-fast")) s.resize(s.size() - 5);
  return s;
}

bool AllDigits(std::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return absl::ascii_isdigit(c); });
}

// The text after a matched prefix ("-20250805", "-mini", "-1-20250805").
bool LeftoverAllowed(std::string_view left) {
  if (left.empty()) return true;
  if (left[0] != '-') return false;
  left.remove_prefix(1);
  size_t dash = left.find('-');
  std::string_view first = left.substr(0, dash);
  if (!AllDigits(first)) return !first.empty();
  if (first.size() == 8) return true;                         // -YYYYMMDD
  if (first.size() == 4 && dash != std::string_view::npos) {  // -YYYY-MM-DD
    std::string_view rest = left.substr(dash + 1);
    return rest.size() >= 5 && AllDigits(rest.substr(0, 2)) && rest[2] == '-' &&
           AllDigits(rest.substr(3, 2));
  }
  return false;  // another version number: a different model
}

absl::Status ReadRates(const bj::object& o, const Rates* defaults, Rates* r, bool require,
                       std::string_view where) {
  auto num = [&](std::string_view key, double* out, const double* def) -> absl::Status {
    const bj::value* v = o.if_contains(key);
    if (!v) {
      if (def) {
        *out = *def;
        return absl::OkStatus();
      }
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(where), ": missing \"", std::string(key), "\""));
    }
    if (!v->is_number()) {
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(where), ": \"", std::string(key), "\" is not a number"));
    }
    double d = v->to_number<double>();
    if (!(d >= 0) || d > 1e6) {
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(where), ": \"", std::string(key), "\" out of range"));
    }
    *out = d;
    return absl::OkStatus();
  };
  absl::Status s;
  s = num("input", &r->input, require ? nullptr : &defaults->input);
  if (!s.ok()) return s;
  s = num("output", &r->output, require ? nullptr : &defaults->output);
  if (!s.ok()) return s;
  const Rates d = defaults ? *defaults : Rates{r->input, r->output, r->input, r->input, r->input};
  s = num("cache_read", &r->cache_read, &d.cache_read);
  if (!s.ok()) return s;
  s = num("cache_write_5m", &r->cache_write_5m, &d.cache_write_5m);
  if (!s.ok()) return s;
  return num("cache_write_1h", &r->cache_write_1h, &d.cache_write_1h);
}

double Apply(const Rates& r, const TokenBuckets& t) {
  return (double(t.input) * r.input + double(t.output) * r.output +
          double(t.cache_read) * r.cache_read + double(t.cache_write_5m) * r.cache_write_5m +
          double(t.cache_write_1h) * r.cache_write_1h) /
         1e6;
}

}  // namespace

absl::StatusOr<PriceTable> PriceTable::Parse(std::string_view json, std::string_view origin) {
  bj::error_code ec;
  bj::value doc = bj::parse(bj::string_view(json.data(), json.size()), ec);
  if (ec)
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(origin), ": not JSON: ", ec.message()));
  const bj::object* root = doc.if_object();
  const bj::value* models = root ? root->if_contains("models") : nullptr;
  if (!models || !models->is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(origin), ": expected {\"models\": [...]}"));
  }
  PriceTable t;
  t.cache_ = std::make_shared<Cache>();
  for (size_t i = 0; i < models->get_array().size(); ++i) {
    const bj::value& mv = models->get_array()[i];
    std::string where = absl::StrCat(std::string(origin), ": models[", i, "]");
    const bj::object* m = mv.if_object();
    if (!m) return absl::InvalidArgumentError(absl::StrCat(std::string(where), ": not an object"));
    const bj::value* id = m->if_contains("id");
    if (!id || !id->is_string() || id->get_string().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(std::string(where), ": missing \"id\""));
    }
    ModelPrice p;
    p.id = std::string(id->get_string());
    where = absl::StrCat(std::string(where), " (", p.id, ")");
    if (const bj::value* pr = m->if_contains("provider"); pr && pr->is_string()) {
      p.provider = std::string(pr->get_string());
    }
    absl::Status s = ReadRates(*m, nullptr, &p.base, true, where);
    if (!s.ok()) return s;
    if (const bj::value* fm = m->if_contains("fast_multiplier")) {
      if (!fm->is_number() || !(fm->to_number<double>() >= 1) || fm->to_number<double>() > 100) {
        return absl::InvalidArgumentError(
            absl::StrCat(std::string(where), ": \"fast_multiplier\" must be a number in [1, 100]"));
      }
      p.fast_multiplier = fm->to_number<double>();
    }
    if (const bj::value* lc = m->if_contains("long_context")) {
      if (!lc->is_object()) {
        return absl::InvalidArgumentError(
            absl::StrCat(std::string(where), ": \"long_context\" is not an object"));
      }
      const bj::value* th = lc->get_object().if_contains("threshold");
      if (!th || !th->is_number() || th->to_number<double>() < 1) {
        return absl::InvalidArgumentError(
            absl::StrCat(std::string(where), ": long_context needs a \"threshold\""));
      }
      if (th->to_number<double>() > 1e15) {  // also keeps the int64 conversion defined
        return absl::InvalidArgumentError(
            absl::StrCat(std::string(where), ": long_context \"threshold\" is out of range"));
      }
      p.long_context_threshold = int64_t(th->to_number<double>());
      s = ReadRates(lc->get_object(), &p.base, &p.long_context, false,
                    absl::StrCat(std::string(where), ".long_context"));
      if (!s.ok()) return s;
    }
    size_t index = t.models_.size();
    t.aliases_.emplace_back(Normalize(p.id), index);
    if (const bj::value* al = m->if_contains("aliases")) {
      if (!al->is_array()) {
        return absl::InvalidArgumentError(
            absl::StrCat(std::string(where), ": \"aliases\" is not an array"));
      }
      for (const bj::value& a : al->get_array()) {
        if (!a.is_string() || a.get_string().empty()) {
          return absl::InvalidArgumentError(
              absl::StrCat(std::string(where), ": an alias is not a string"));
        }
        t.aliases_.emplace_back(Normalize(std::string_view(a.get_string())), index);
      }
    }
    t.models_.push_back(std::move(p));
  }
  return t;
}

absl::StatusOr<PriceTable> PriceTable::LoadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read pricing file ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return Parse(ss.str(), path);
}

const PriceTable& PriceTable::Builtin() {
  static const PriceTable* table = [] {
    absl::StatusOr<PriceTable> t =
        Parse(pricing_internal::kBuiltinPricingJson, "data/pricing.json");
    // The build embeds a file the tests parse; a failure here is a build bug.
    if (!t.ok()) return new PriceTable();
    return new PriceTable(std::move(*t));
  }();
  return *table;
}

const ModelPrice* PriceTable::Find(std::string_view model) const {
  if (model.empty() || model == "<synthetic>" || models_.empty()) return nullptr;
  if (cache_) {
    std::lock_guard<std::mutex> l(cache_->mu);
    auto it = cache_->found.find(absl::string_view(model.data(), model.size()));
    if (it != cache_->found.end()) return it->second;
  }
  std::string n = Normalize(model);
  const ModelPrice* best = nullptr;
  size_t best_len = 0;
  for (const auto& [key, index] : aliases_) {
    if (key == n) {
      best = &models_[index];
      break;
    }
    if (key.size() > best_len && n.size() > key.size() && std::string_view(n).starts_with(key) &&
        LeftoverAllowed(std::string_view(n).substr(key.size()))) {
      best = &models_[index];
      best_len = key.size();
    }
  }
  if (cache_) {
    std::lock_guard<std::mutex> l(cache_->mu);
    if (cache_->found.size() < 100000) cache_->found.emplace(std::string(model), best);
  }
  return best;
}

namespace {
bool FastModelName(std::string_view model) { return std::string_view(model).ends_with("-fast"); }
}  // namespace

std::optional<double> PriceTable::Cost(std::string_view model, const TokenBuckets& t) const {
  if (t.total() == 0) return 0.0;
  const ModelPrice* p = Find(model);
  if (!p) return std::nullopt;
  const double fast = FastModelName(model) ? p->fast_multiplier : 1;
  if (p->long_context_threshold > 0 && t.prompt() > p->long_context_threshold) {
    return fast * Apply(p->long_context, t);
  }
  return fast * Apply(p->base, t);
}

std::optional<double> PriceTable::Cost(const UsageEvent& e) const {
  if (e.tokens.total() == 0) return 0.0;
  const ModelPrice* p = Find(e.model);
  if (!p) return std::nullopt;
  const double fast = FastModelName(e.model) || e.tag("speed") == "fast" ? p->fast_multiplier : 1;
  if (e.requests <= 1 && p->long_context_threshold > 0 &&
      e.tokens.prompt() > p->long_context_threshold) {
    return fast * Apply(p->long_context, e.tokens);
  }
  return fast * Apply(p->base, e.tokens);
}

}  // namespace tokmeter
