// Claude Code transcripts (~/.claude/projects/<project>/<session>.jsonl):
// assistant lines carry the Anthropic usage of one API response; the
// streaming snapshots and copies of one response are deduplicated across all
// inputs by ClaudeState (below): one event per message.id.
#include <algorithm>
#include <deque>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "src/analysis/formats/formats.h"
#include "tokmeter/provider_usage.h"

namespace tokmeter::analysis::reader_internal {

bool SniffClaude(std::string_view line) {
  std::string_view h = Head(line, 512);
  return Contains(h, "\"parentUuid\":") || Contains(h, "\"sessionId\":\"") ||
         Contains(h, "\"type\":\"summary\"") || Contains(h, "\"type\":\"file-history-snapshot\"") ||
         Contains(h, "\"leafUuid\":");
}

// A raw `"usage":{` cannot occur inside a JSON string (its quotes would be
// escaped), so lines without it carry no usage.
bool HasClaudeUsage(std::string_view line) { return Contains(line, "\"usage\":{"); }

namespace {

struct ClaudeFields {
  std::string_view type, timestamp, session, cwd, request_id, agent, msg_id, model, error,
      outer_session, outer_cwd, outer_agent;
  bool sidechain = false, api_error = false;
  int64_t error_status = 0;
  RawUsage usage;  // message.usage, as the Anthropic API reports it
  bool has_usage = false;
  std::string_view speed;
};

void ClaudeField(std::string_view p, const JsonField& f, ClaudeFields& c) {
  // p is relative to the (possibly nested, for progress lines) transcript line.
  if (p.compare(0, 8, "message.") == 0) {
    std::string_view m = p.substr(8);
    if (m.compare(0, 6, "usage.") == 0) {
      std::string_view u = m.substr(6);
      c.has_usage = true;
      if (u == "speed") {
        c.speed = f.text;
      } else if (f.kind != JsonField::kNull) {  // null counts as absent (0)
        SetUsageField(Provider::kAnthropic, u, Count(f), c.usage);
      }
    } else if (m == "id") {
      c.msg_id = f.text;
    } else if (m == "model") {
      c.model = f.text;
    }
    return;
  }
  if (p == "timestamp")
    c.timestamp = f.text;
  else if (p == "sessionId")
    c.session = f.text;
  else if (p == "cwd")
    c.cwd = f.text;
  else if (p == "requestId")
    c.request_id = f.text;
  else if (p == "agentId")
    c.agent = f.text;
  else if (p == "isSidechain")
    c.sidechain = f.kind == JsonField::kBool && f.i;
  else if (p == "isApiErrorMessage")
    c.api_error = f.kind == JsonField::kBool && f.i;
  else if (p == "apiErrorStatus")
    c.error_status = f.i;
  else if (p == "error")
    c.error = f.text;
  else if (p == "type")
    c.type = f.text;
}

}  // namespace

LineResult ParseClaude(std::string_view line, ParseContext& ctx) {
  bool has_usage = HasClaudeUsage(line);
  if (!has_usage) {
    // Synthetic API-error lines may have no usage at all; they are short.
    bool error_line = line.size() < 16384 && Contains(line, "\"isApiErrorMessage\":true");
    if (!error_line) return LooksLikeObject(line) ? LineResult::kOk : LineResult::kBad;
  }
  // The message's content blocks (thinking, text, tool input: most of the
  // bytes) carry nothing we read. Replace that array by null and parse the
  // rest: the first `"content":[` is a real key (see above) and only header
  // fields precede it. The array is still checked to be balanced.
  thread_local std::string rebuilt;
  std::string_view text = line;
  size_t cpos = FastFind(line, "\"content\":[");
  if (cpos != std::string_view::npos) {
    size_t open = cpos + 10;
    size_t end = SkipBalanced(line, open);
    if (end == std::string_view::npos) return LineResult::kBad;
    rebuilt.assign(line.data(), open);
    rebuilt.append("null");
    rebuilt.append(line.data() + end, line.size() - end);
    text = rebuilt;
  }
  JsonCapture& cap = Capture();
  // Arrays too: message.usage.iterations[] holds the billed usage of
  // compacting requests.
  if (!cap.Parse(text, 6, /*capture_arrays=*/true)) return LineResult::kBad;
  ClaudeFields c;
  bool progress = false;
  for (const JsonField& f : cap.fields()) {
    if (f.path == "type" && f.text == "progress") progress = true;
  }
  for (const JsonField& f : cap.fields()) {
    std::string_view p = f.path;
    if (progress) {
      // progress lines: data.message is a nested transcript line.
      if (p.compare(0, 13, "data.message.") == 0) {
        ClaudeField(p.substr(13), f, c);
      } else if (p == "sessionId") {
        c.outer_session = f.text;
      } else if (p == "cwd") {
        c.outer_cwd = f.text;
      } else if (p == "data.agentId") {
        c.outer_agent = f.text;
      } else if (p == "timestamp" && c.timestamp.empty()) {
        c.timestamp = f.text;
      }
      continue;
    }
    ClaudeField(p, f, c);
  }
  if (progress) {
    if (c.session.empty()) c.session = c.outer_session;
    if (c.cwd.empty()) c.cwd = c.outer_cwd;
    if (c.agent.empty()) c.agent = c.outer_agent;
    c.sidechain = true;  // a subagent's message, also kept in subagents/*.jsonl
  } else if (!c.type.empty() && c.type != "assistant") {
    return LineResult::kOk;  // usage only counts on assistant lines
  }
  if (!c.has_usage && !c.api_error) return LineResult::kOk;
  Arena& a = *ctx.arena;
  ParsedRecord rec;
  rec.type = ParsedRecordType::kClaude;
  rec.line = ctx.line;
  UsageEvent& ev = rec.ev;
  ev.format = SourceFormat::kClaudeCode;
  ev.kind = "llm";
  ev.requests = 1;
  if (!c.timestamp.empty() && !ParseTime(c.timestamp, &ev.time_unix_ns)) return LineResult::kBad;
  ev.model = a.Copy(c.model);
  if (SvStartsWith(c.model, "claude")) ev.provider = "anthropic";
  ev.trace_id = a.Copy(c.session);
  ev.span_id = a.Copy(c.msg_id);
  if (!c.session.empty()) ev.SetTag("session", ev.trace_id);
  if (!c.cwd.empty()) ev.SetTag("project", a.Copy(c.cwd));
  if (!c.agent.empty()) ev.SetTag("agent", a.Copy(c.agent));
  if (!c.request_id.empty()) ev.SetTag("request_id", a.Copy(c.request_id));
  if (c.sidechain) ev.SetTag("sidechain", "true");
  if (c.api_error) {
    // Locally generated error line: no tokens were billed.
    ev.errors = 1;
    if (c.error_status == 429 || c.error == "rate_limit") ev.rate_limited = 1;
    if (c.error_status > 0) ev.status = c.error_status;
  } else {
    NormalizedUsage n = NormalizeUsage(Provider::kAnthropic, c.usage);
    ev.tokens = n.buckets;
    ev.ttl_unknown = n.ttl_unknown;
    if (c.speed == "fast") ev.SetTag("speed", "fast");
  }
  rec.dedup_key = ev.span_id;
  rec.sidechain = c.sidechain;
  ctx.out->push_back(std::move(rec));
  return LineResult::kOk;
}

namespace {

// Strings that live until the end of the read (model and attribution of the
// events held until Finish).
class Interner {
 public:
  std::string_view Intern(std::string_view s) {
    if (s.empty()) return {};
    auto it = map_.find(s);
    if (it != map_.end()) return it->first;
    store_.emplace_back(s);
    std::string_view v = store_.back();
    map_.emplace(v, 0);
    return v;
  }

 private:
  std::deque<std::string> store_;
  absl::flat_hash_map<std::string_view, int> map_;
};

// One message.id's event, as the copies seen so far decide it.
struct ClaudeEntry {
  // From the snapshot with the largest total.
  TokenBuckets tokens;
  bool ttl_unknown = false;
  int64_t time = 0;
  int64_t errors = 0, rate_limited = 0, status = 0;
  std::string_view model;
  bool fast = false;
  // Attribution: the first non-sidechain copy, else the tokens snapshot.
  bool attr_sidechain = true;
  int input = 0;
  int64_t line = 0;
  std::string_view session, project, agent, request_id;
};

// Dedup across every input: one event per message.id — the tokens of the
// copy with the largest total (the final streaming snapshot), the
// attribution of the first non-sidechain copy — delivered after all inputs,
// sorted by time. Lines without a message.id are not deduplicated.
//
// Following (growing files), a message cannot wait for the last input: it
// is held until its agent (the `agent` tag; empty for the main chain) writes
// a usage line of another message in the same file — one agent's messages
// are sequential, so its earlier one is complete — or until its file idles
// (FormatState::Idle). A copy of a message already released is a duplicate;
// when it is larger (a snapshot written after its file idled), the growth
// is delivered as an update event (DeliverUpdate: requests 0, tag
// snapshot_update=true) so that totals equal the batch reader's. The ids of
// the last kMaxReleased released messages are remembered for that.
class ClaudeState final : public FormatState {
 public:
  static constexpr size_t kMaxReleased = 32768;

  explicit ClaudeState(bool following) : following_(following) {}

  void Add(int input, ParsedRecord& r, EmitSink& out) override {
    out.UsageSeen(input);
    if (following_) {
      Follow(input, r, out);
      return;
    }
    if (input >= int(candidates_.size())) candidates_.resize(size_t(input) + 1, 0);
    ++candidates_[size_t(input)];
    const UsageEvent& ev = r.ev;
    if (r.dedup_key.empty()) {
      ClaudeEntry e;
      FillTokens(e, ev);
      FillAttr(e, r, input);
      unkeyed_.push_back(e);
      return;
    }
    auto [it, inserted] = entries_.try_emplace(std::string(r.dedup_key));
    ClaudeEntry& e = it->second;
    if (inserted) {
      FillTokens(e, ev);
      FillAttr(e, r, input);
      return;
    }
    if (ev.tokens.total() > e.tokens.total()) FillTokens(e, ev);
    if (e.attr_sidechain && !r.sidechain) FillAttr(e, r, input);
  }

  void Finish(EmitSink& out) override {
    if (following_) {
      for (size_t i = 0; i < held_.size(); ++i) Release(int(i), nullptr, {}, out);
      return;
    }
    std::vector<const ClaudeEntry*> all;
    all.reserve(entries_.size() + unkeyed_.size());
    for (const auto& [k, e] : entries_) all.push_back(&e);
    for (const ClaudeEntry& e : unkeyed_) all.push_back(&e);
    std::sort(all.begin(), all.end(), [](const ClaudeEntry* a, const ClaudeEntry* b) {
      if (a->time != b->time) return a->time < b->time;
      if (a->input != b->input) return a->input < b->input;
      return a->line < b->line;
    });
    std::vector<int64_t> kept(candidates_.size(), 0);
    for (const ClaudeEntry* e : all) {
      ++kept[size_t(e->input)];
      UsageEvent ev = MakeEvent(*e, e->request_id);
      out.Deliver(e->input, ev);
    }
    for (size_t i = 0; i < candidates_.size(); ++i) {
      if (candidates_[i] > kept[i]) out.Duplicate(int(i), candidates_[i] - kept[i]);
    }
  }

  void Idle(int input, EmitSink& out) override { Release(input, nullptr, {}, out); }

 private:
  // Following: one message.id's entry.
  struct Followed {
    ClaudeEntry e;
    std::string request_id;  // not interned: one per message
    std::string stream;      // the agent whose chain holds it
    int holder = 0;          // the input whose Idle releases it
    bool released = false;
  };

  void FillTokens(ClaudeEntry& e, const UsageEvent& ev) {
    e.tokens = ev.tokens;
    e.ttl_unknown = ev.ttl_unknown;
    e.time = ev.time_unix_ns;
    e.errors = ev.errors;
    e.rate_limited = ev.rate_limited;
    e.status = ev.status;
    e.model = strings_.Intern(ev.model);
    e.fast = ev.tag("speed") == "fast";
  }
  void FillAttr(ClaudeEntry& e, const ParsedRecord& r, int input) {
    const UsageEvent& ev = r.ev;
    e.attr_sidechain = r.sidechain;
    e.input = input;
    e.line = ev.line;
    e.session = strings_.Intern(ev.tag("session"));
    e.project = strings_.Intern(ev.tag("project"));
    e.agent = strings_.Intern(ev.tag("agent"));
    if (!following_) e.request_id = strings_.Intern(ev.tag("request_id"));
  }

  // The event of an entry. Message ids (keys) are not needed for the event;
  // span_id stays empty.
  static UsageEvent MakeEvent(const ClaudeEntry& e, std::string_view request_id) {
    UsageEvent ev;
    ev.format = SourceFormat::kClaudeCode;
    ev.kind = "llm";
    ev.requests = 1;
    ev.time_unix_ns = e.time;
    ev.tokens = e.tokens;
    ev.ttl_unknown = e.ttl_unknown;
    ev.errors = e.errors;
    ev.rate_limited = e.rate_limited;
    ev.status = e.status;
    ev.model = e.model;
    if (ev.model.starts_with("claude")) ev.provider = "anthropic";
    ev.trace_id = e.session;
    ev.input_index = e.input;
    ev.line = e.line;
    if (!e.session.empty()) ev.SetTag("session", e.session);
    if (!e.project.empty()) ev.SetTag("project", e.project);
    if (!e.agent.empty()) ev.SetTag("agent", e.agent);
    if (!request_id.empty()) ev.SetTag("request_id", request_id);
    if (e.attr_sidechain) ev.SetTag("sidechain", "true");
    if (e.fast) ev.SetTag("speed", "fast");
    return ev;
  }

  void Follow(int input, ParsedRecord& r, EmitSink& out) {
    const UsageEvent& ev = r.ev;
    const std::string_view stream = ev.tag("agent");
    // This agent's earlier messages in this file are complete.
    Release(input, &stream, r.dedup_key, out);
    if (r.dedup_key.empty()) {  // not deduplicated: an event now
      ClaudeEntry e;
      FillTokens(e, ev);
      FillAttr(e, r, input);
      UsageEvent now = MakeEvent(e, ev.tag("request_id"));
      out.Deliver(input, now);
      return;
    }
    auto [it, inserted] = followed_.try_emplace(std::string(r.dedup_key));
    Followed& f = it->second;
    if (inserted) {
      FillTokens(f.e, ev);
      FillAttr(f.e, r, input);
      f.request_id = std::string(ev.tag("request_id"));
      f.stream = std::string(stream);
      f.holder = input;
      if (input >= int(held_.size())) held_.resize(size_t(input) + 1);
      held_[size_t(input)].push_back(it->first);
      return;
    }
    if (!f.released) {  // a later snapshot or a copy: the batch rules
      if (ev.tokens.total() > f.e.tokens.total()) FillTokens(f.e, ev);
      if (f.e.attr_sidechain && !r.sidechain) {
        out.Duplicate(f.e.input);  // the copy attributed so far
        FillAttr(f.e, r, input);
        f.request_id = std::string(ev.tag("request_id"));
      } else {
        out.Duplicate(input);
      }
      return;
    }
    out.Duplicate(input);
    if (ev.tokens.total() <= f.e.tokens.total()) return;
    // A larger snapshot of a message already delivered: its growth.
    UsageEvent up = MakeEvent(f.e, f.request_id);
    const TokenBuckets& a = ev.tokens;
    const TokenBuckets& b = f.e.tokens;
    up.tokens.input = std::max<int64_t>(0, a.input - b.input);
    up.tokens.cache_read = std::max<int64_t>(0, a.cache_read - b.cache_read);
    up.tokens.cache_write_5m = std::max<int64_t>(0, a.cache_write_5m - b.cache_write_5m);
    up.tokens.cache_write_1h = std::max<int64_t>(0, a.cache_write_1h - b.cache_write_1h);
    up.tokens.output = std::max<int64_t>(0, a.output - b.output);
    up.tokens.reasoning = std::max<int64_t>(0, a.reasoning - b.reasoning);
    up.tokens.CapReasoning();
    up.requests = 0;
    up.errors = up.rate_limited = 0;
    up.time_unix_ns = ev.time_unix_ns;
    up.SetTag("snapshot_update", "true");
    FillTokens(f.e, ev);
    out.DeliverUpdate(f.e.input, up);
  }

  // Releases the messages `input` holds: those of `stream` other than
  // `except` (nullptr stream: all of them).
  void Release(int input, const std::string_view* stream, std::string_view except, EmitSink& out) {
    if (input >= int(held_.size())) return;
    std::vector<std::string>& held = held_[size_t(input)];
    size_t keep = 0;
    for (size_t i = 0; i < held.size(); ++i) {
      auto it = followed_.find(held[i]);
      Followed& f = it->second;
      if ((stream != nullptr && f.stream != *stream) || held[i] == except) {
        if (keep != i) held[keep] = std::move(held[i]);
        ++keep;
        continue;
      }
      f.released = true;
      UsageEvent ev = MakeEvent(f.e, f.request_id);
      out.Deliver(f.e.input, ev);
      released_.push_back(std::move(held[i]));
    }
    held.resize(keep);
    while (released_.size() > kMaxReleased) {
      followed_.erase(released_.front());
      released_.pop_front();
    }
  }

  const bool following_;
  Interner strings_;
  absl::flat_hash_map<std::string, ClaudeEntry> entries_;
  std::vector<ClaudeEntry> unkeyed_;
  std::vector<int64_t> candidates_;  // per input
  // Following.
  absl::flat_hash_map<std::string, Followed> followed_;
  std::vector<std::vector<std::string>> held_;  // per input: ids not yet released
  std::deque<std::string> released_;            // ids released, oldest first
};

}  // namespace

std::unique_ptr<FormatState> NewClaudeState(bool following) {
  return std::make_unique<ClaudeState>(following);
}

}  // namespace tokmeter::analysis::reader_internal
