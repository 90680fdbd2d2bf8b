// UsageStreamParser: SSE framing done by hand (memchr over the bytes as they
// arrive), JSON only for the few events that can carry usage.
#include <boost/json.hpp>
#include <cstring>
#include <string>
#include <string_view>

#include "src/usage/extractor.h"
#include "tokmeter/usage.h"

namespace tokmeter {
namespace json = boost::json;
using usage_internal::Extractor;

namespace {

// Longest line kept across Feed calls; longer lines are dropped (counted as
// a bad payload) so a hostile stream cannot grow memory without bound.
constexpr size_t kMaxLine = size_t{32} << 20;

// Event names that never carry usage, model, id, error or the end of the
// stream: their data is not even copied.
bool SkippableEventName(std::string_view name) {
  if (name.empty()) return false;
  switch (name[0]) {
    case 'c':
      return name == "content_block_delta" || name == "content_block_start" ||
             name == "content_block_stop";
    case 'p':
      return name == "ping";
    case 'r':
      if (!name.starts_with("response.")) return false;
      // Lifecycle events carry the response object; the many others
      // (output_text.delta, output_item.added, ...) do not.
      return !(name == "response.created" || name == "response.in_progress" ||
               name == "response.completed" || name == "response.incomplete" ||
               name == "response.failed" || name == "response.done" || name == "response.queued");
    default:
      return false;
  }
}

// True if `data` holds `"key"` followed by `:` and a value other than null.
// False positives (the text inside a string) only cost a parse.
bool HasNonNullKey(std::string_view data, std::string_view quoted_key) {
  const char* p = data.data();
  const char* end = p + data.size();
  while (p < end) {
    const void* hit = memmem(p, static_cast<size_t>(end - p), quoted_key.data(), quoted_key.size());
    if (hit == nullptr) return false;
    p = static_cast<const char*>(hit) + quoted_key.size();
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) ++p;
    if (p == end || *p != ':') continue;
    ++p;
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) ++p;
    if (p < end && *p != 'n') return true;
  }
  return false;
}

bool Contains(std::string_view data, std::string_view needle) {
  return memmem(data.data(), data.size(), needle.data(), needle.size()) != nullptr;
}

}  // namespace

struct UsageStreamParser::Impl {
  explicit Impl(Provider hint) : ex(hint) {}

  void Feed(std::string_view b) {
    if (finished) return;
    bytes += static_cast<int64_t>(b.size());
    const char* p = b.data();
    const char* end = p + b.size();
    if (discarding || !line.empty()) {
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
      if (nl == nullptr) {
        if (!discarding) KeepPartial(p, end, /*append=*/true);
        return;
      }
      if (discarding) {
        discarding = false;
      } else {
        line.append(p, nl);
        Line(line);
        line.clear();
      }
      p = nl + 1;
    }
    while (p < end) {
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
      if (nl == nullptr) {
        KeepPartial(p, end, /*append=*/false);
        return;
      }
      Line(std::string_view(p, static_cast<size_t>(nl - p)));
      p = nl + 1;
    }
  }

  // Keeps an unfinished line for the next Feed, unless it is data of an
  // event we skip anyway (then only its end is looked for).
  void KeepPartial(const char* p, const char* end, bool append) {
    size_t n = static_cast<size_t>(end - p);
    if (!append && skip_event && n >= 5 && std::memcmp(p, "data:", 5) == 0) {
      has_data = true;
      discarding = true;
      return;
    }
    if (line.size() + n > kMaxLine) {
      line.clear();
      discarding = true;
      skip_event = true;  // the event lost part of its data
      has_data = true;
      ex.CountBadPayload();
      return;
    }
    line.append(p, n);
  }

  void Line(std::string_view l) {
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (l.empty()) {
      Dispatch();
      return;
    }
    if (l.size() >= 5 && std::memcmp(l.data(), "data:", 5) == 0) {
      if (!skip_event) {
        std::string_view v = l.substr(5);
        if (!v.empty() && v[0] == ' ') v.remove_prefix(1);
        if (has_data) data.push_back('\n');
        data.append(v.data(), v.size());
      }
      has_data = true;
      return;
    }
    if (l[0] == ':') return;  // comment (keep-alive)
    size_t colon = l.find(':');
    std::string_view field = l.substr(0, colon);
    std::string_view value;
    if (colon != std::string_view::npos) {
      value = l.substr(colon + 1);
      if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
    }
    if (field == "event") {
      event.assign(value.data(), value.size());
      skip_event = SkippableEventName(value);
    } else if (field == "data") {  // "data" with no colon: an empty data line
      if (!skip_event && has_data) data.push_back('\n');
      has_data = true;
    }
    // id, retry and unknown fields carry nothing for us.
  }

  void Dispatch() {
    if (has_data) {
      ++events;
      if (!skip_event) Handle();
    }
    event.clear();
    data.clear();
    has_data = false;
    skip_event = false;
  }

  // Cheap test on the payload: can this event change the result?
  bool NeedsParse() const {
    if (!event.empty()) {
      std::string_view e = event;
      if (e == "message_start" || e == "message_delta" || e == "message_stop" || e == "error" ||
          e == "response.completed" || e == "response.incomplete" || e == "response.failed" ||
          e == "response.done") {
        return true;
      }
      if (e.starts_with("response.")) return !ex.have_identity();
    }
    if (!ex.have_identity()) return true;
    std::string_view d = data;
    // Only the keys that matter for the API this stream turned out to be.
    switch (ex.provider()) {
      case Provider::kOpenAIChat:
        return HasNonNullKey(d, "\"usage\"") || HasNonNullKey(d, "\"finish_reason\"") ||
               HasNonNullKey(d, "\"error\"");
      case Provider::kAnthropic:
        return Contains(d, "\"message_") || HasNonNullKey(d, "\"usage\"") ||
               Contains(d, "\"error\"");
      case Provider::kGemini:
        return HasNonNullKey(d, "\"usageMetadata\"") || HasNonNullKey(d, "\"finishReason\"") ||
               HasNonNullKey(d, "\"error\"");
      case Provider::kOpenAIResponses:
      case Provider::kUnknown:
        break;
    }
    return HasNonNullKey(d, "\"usage\"") || HasNonNullKey(d, "\"usageMetadata\"") ||
           HasNonNullKey(d, "\"error\"") || HasNonNullKey(d, "\"finish_reason\"") ||
           HasNonNullKey(d, "\"finishReason\"") || Contains(d, "\"message_") ||
           Contains(d, "\"response.");
  }

  void Handle() {
    if (data == "[DONE]") {
      ex.HandleDone();
      return;
    }
    if (!NeedsParse()) return;
    boost::system::error_code ec;
    json::monotonic_resource mr(parse_buffer, sizeof(parse_buffer));
    json::value v = json::parse(data, ec, &mr);
    if (ec) {
      ex.CountBadPayload();
      return;
    }
    ex.HandleValue(v, event);
  }

  const ParsedUsage& Finish() {
    if (!finished) {
      if (!discarding && !line.empty()) {
        std::string last;
        last.swap(line);
        Line(last);  // the last line had no line end
      }
      discarding = false;
      Dispatch();  // the last event had no blank line
      finished = true;
    }
    return Result();
  }

  const ParsedUsage& Result() {
    ParsedUsage& r = ex.mutable_result();
    r.events = events;
    r.bytes = bytes;
    return ex.Normalize(/*streaming=*/true);
  }

  Extractor ex;
  std::string line;         // unfinished line carried to the next Feed
  bool discarding = false;  // dropping the rest of the current line
  std::string event;        // the current event's name
  std::string data;         // the current event's data lines, joined by \n
  bool has_data = false;
  bool skip_event = false;  // the current event cannot carry usage
  bool finished = false;
  int64_t events = 0;
  int64_t bytes = 0;
  alignas(16) unsigned char parse_buffer[4096];
};

UsageStreamParser::UsageStreamParser(Provider hint) : impl_(std::make_unique<Impl>(hint)) {}
UsageStreamParser::~UsageStreamParser() = default;
UsageStreamParser::UsageStreamParser(UsageStreamParser&&) noexcept = default;
UsageStreamParser& UsageStreamParser::operator=(UsageStreamParser&&) noexcept = default;

void UsageStreamParser::Feed(std::string_view bytes) { impl_->Feed(bytes); }
const ParsedUsage& UsageStreamParser::Finish() { return impl_->Finish(); }
const ParsedUsage& UsageStreamParser::result() { return impl_->Result(); }
bool UsageStreamParser::complete() const { return impl_->ex.complete(); }

ParsedUsage ParseUsageStream(std::string_view sse, Provider hint) {
  UsageStreamParser p(hint);
  p.Feed(sse);
  return p.Finish();
}

}  // namespace tokmeter
