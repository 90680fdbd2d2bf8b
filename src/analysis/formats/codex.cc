// Codex CLI session logs (~/.codex/sessions/YYYY/MM/DD/rollout-*.jsonl): the
// line parser and the per-thread counting rules (CodexState; docs/READERS.md
// "Codex").
#include <algorithm>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "src/analysis/formats/formats.h"

namespace tokmeter::analysis::reader_internal {
namespace {

// The counting rules, one thread (one log file) at a time:
//  * a request counts once, when the thread's cumulative `total_token_usage`
//    moves, by the amount it moved; an event whose totals did not move (a
//    count re-sent on a rate-limit update, a compaction estimate) counts
//    nothing;
//  * a forked thread (session_meta `forked_from_id`) starts with a copy of
//    its parent's history; those copied counts are the parent's usage. When
//    the parent's log was read too (before or after), a copied count is one
//    whose totals equal one of the parent's totals at or before the fork,
//    in order; otherwise the copy is the burst of lines written at the fork
//    instant (each within kReplayGapNs of the line before). The thread's own
//    counts continue from the last copied totals. Forked threads are counted
//    after every input has been read, so the parent's log can come later.
//  * the model is the latest turn_context's; before any, the parent's model
//    at the fork; else "gpt-5" tagged model_fallback=true.
// Not thread-safe: the emit stage calls it from one thread at a time.
class CodexState final : public FormatState {
 public:
  // Copied lines are written back to back; a thread's own first count
  // follows a model round trip.
  static constexpr int64_t kReplayGapNs = 1'000'000'000;

  explicit CodexState(bool following) : following_(following) {}

  void Add(int input, ParsedRecord& r, EmitSink& out) override;
  // Counts the forked threads (after the last input).
  void Finish(EmitSink& out) override;
  // Following: counts what the forked threads wrote, at the end of each
  // Poll (their parent's log, when followed, was read by then).
  void EndOfPass(EmitSink& out) override { Finish(out); }

 private:
  struct Item {  // a record of a forked thread, kept until Finish
    ParsedRecordType type;
    int64_t time = 0, line = 0;
    bool has_last = false, has_total = false;
    CodexUsage last, total;
    std::string model;  // kCodexContext
  };
  struct Thread {
    bool started = false;  // its own session_meta was read
    std::string session, project, parent, model;
    bool subagent = false;
    bool forked = false;
    int64_t fork_ns = 0;
    bool counted = false;  // a request was counted
    bool has_prev = false;
    CodexUsage prev;  // the totals last seen
    std::vector<Item> items;
    // Replay's progress through a forked thread's items (following replays
    // them as they arrive).
    bool replaying = false;
    size_t cursor = 0;
    bool copying = true;
    int64_t prev_time = 0;
  };
  // What a thread's log says over time: its totals and models, for the
  // threads forked from it.
  struct History {
    std::vector<std::pair<int64_t, CodexUsage>> totals;   // (time, totals), as written
    std::vector<std::pair<int64_t, std::string>> models;  // (time, model)
  };

  Thread& At(int input);
  void Session(Thread& t, const ParsedRecord& r);
  void Apply(int input, Thread& t, const Item& item, EmitSink& out);
  void Count(int input, Thread& t, const Item& item, EmitSink& out);
  void Replay(int input, Thread& t, EmitSink& out);

  const bool following_;
  std::vector<Thread> threads_;  // by input index
  absl::flat_hash_map<std::string, History> history_;
};

// The usage object under payload.info (total_token_usage or
// last_token_usage): one field.
void ApplyUsageField(std::string_view key, int64_t v, CodexUsage& u) {
  if (key == "input_tokens")
    u.input = v;
  else if (key == "cached_input_tokens")
    u.cached = v;
  else if (key == "cache_write_input_tokens")
    u.cache_write = v;
  else if (key == "output_tokens")
    u.output = v;
  else if (key == "reasoning_output_tokens")
    u.reasoning = v;
}

// `a - b` field by field; false when a field went down (the counters were
// reset, or the lines are not one thread's).
bool Minus(const CodexUsage& a, const CodexUsage& b, CodexUsage* d) {
  d->input = a.input - b.input;
  d->cached = a.cached - b.cached;
  d->cache_write = a.cache_write - b.cache_write;
  d->output = a.output - b.output;
  d->reasoning = a.reasoning - b.reasoning;
  return d->input >= 0 && d->cached >= 0 && d->cache_write >= 0 && d->output >= 0 &&
         d->reasoning >= 0;
}

// OpenAI semantics to disjoint buckets: cached and cache-write tokens are
// parts of input, reasoning a part of output.
TokenBuckets Buckets(const CodexUsage& u) {
  TokenBuckets t;
  const int64_t cached = std::min(u.cached, u.input);
  const int64_t written = std::min(u.cache_write, u.input - cached);
  t.input = u.input - cached - written;
  t.cache_read = cached;
  t.cache_write_5m = written;
  t.output = u.output;
  t.reasoning = std::min(u.reasoning, u.output);
  return t;
}

}  // namespace

bool SniffCodex(std::string_view line) {
  std::string_view h = Head(line, 96);
  return Contains(h, "\"type\":\"event_msg\"") || Contains(h, "\"type\":\"turn_context\"") ||
         Contains(h, "\"type\":\"session_meta\"") || Contains(h, "\"type\":\"response_item\"") ||
         Contains(h, "\"type\":\"compacted\"");
}

LineResult ParseCodex(std::string_view line, ParseContext& ctx) {
  std::string_view h = Head(line, 96);
  const bool tokens = Contains(line.substr(0, 4096), "\"token_count\"");
  const bool context = Contains(h, "\"type\":\"turn_context\"");
  const bool session = Contains(h, "\"type\":\"session_meta\"");
  // session_meta: payload.source.subagent.thread_spawn.parent_thread_id is
  // five objects deep.
  int depth = session ? 5 : 4;
  if (!tokens && !context && !session) {
    // Codex writes "type" second; in another key order (or with the count
    // past 4 KiB) the markers are elsewhere, and the parsed type decides.
    if (!Contains(line, "\"token_count\"") && !Contains(line, "\"turn_context\"") &&
        !Contains(line, "\"session_meta\"")) {
      return LooksLikeObject(line) ? LineResult::kOk : LineResult::kBad;
    }
    depth = 5;
  }
  JsonCapture& cap = Capture();
  if (!cap.Parse(line, depth)) return LineResult::kBad;
  ParsedRecord rec;
  rec.line = ctx.line;
  UsageEvent& ev = rec.ev;
  ev.format = SourceFormat::kCodex;
  std::string_view type, payload_type, session_id, meta_time;
  for (const JsonField& f : cap.fields()) {
    std::string_view p = f.path;
    if (p == "type") {
      type = f.text;
    } else if (p == "timestamp") {
      if (!ReadTime(f, &ev.time_unix_ns)) return LineResult::kBad;
    } else if (p.substr(0, 8) != "payload.") {
      continue;
    } else if (p == "payload.type") {
      payload_type = f.text;
    } else if (p == "payload.model") {
      ev.model = ctx.Keep(f.text);
    } else if (p == "payload.id" || (p == "payload.session_id" && session_id.empty())) {
      session_id = f.text;
    } else if (p == "payload.cwd") {
      ev.SetTag("project", ctx.Keep(f.text));
    } else if (p == "payload.timestamp") {
      meta_time = f.text;
    } else if (p == "payload.forked_from_id") {
      rec.codex_forked_from = ctx.Keep(f.text);
    } else if (p.starts_with("payload.source.subagent")) {
      rec.sidechain = true;  // a sub-agent's thread ("review", thread_spawn, ...)
      if (p == "payload.source.subagent.thread_spawn.parent_thread_id") {
        rec.codex_spawned_by = ctx.Keep(f.text);
      }
    } else if (p.starts_with("payload.info.")) {
      std::string_view q = p.substr(13);
      if (q.starts_with("last_token_usage.")) {
        rec.has_last = true;
        ApplyUsageField(q.substr(17), Count(f), rec.codex_last);
      } else if (q.starts_with("total_token_usage.")) {
        rec.has_total = true;
        ApplyUsageField(q.substr(18), Count(f), rec.codex_total);
      }
    }
  }
  if (type == "turn_context") {
    rec.type = ParsedRecordType::kCodexContext;
  } else if (type == "session_meta") {
    rec.type = ParsedRecordType::kCodexSession;
    ev.trace_id = ctx.Keep(session_id);
    // An empty subagent object has no scalar to capture.
    if (!rec.sidechain && Contains(line, "\"thread_spawn\"")) rec.sidechain = true;
    if (ev.time_unix_ns == 0 && !meta_time.empty()) ParseTime(meta_time, &ev.time_unix_ns);
  } else if (type == "event_msg" && payload_type == "token_count") {
    if (!rec.has_last && !rec.has_total) return LineResult::kOk;  // info: null
    rec.type = ParsedRecordType::kCodexTokens;
  } else {
    return LineResult::kOk;
  }
  ctx.out->push_back(std::move(rec));
  return LineResult::kOk;
}

namespace {

CodexState::Thread& CodexState::At(int input) {
  if (input >= int(threads_.size())) threads_.resize(size_t(input) + 1);
  return threads_[size_t(input)];
}

void CodexState::Add(int input, ParsedRecord& r, EmitSink& out) {
  Thread& t = At(input);
  if (r.type == ParsedRecordType::kCodexSession) {
    Session(t, r);
    return;
  }
  Item item;
  item.type = r.type;
  item.time = r.ev.time_unix_ns;
  item.line = r.ev.line;
  if (r.type == ParsedRecordType::kCodexContext) {
    if (r.ev.model.empty()) return;
    item.model = std::string(r.ev.model);
    if (!t.session.empty()) history_[t.session].models.emplace_back(item.time, item.model);
  } else {
    item.has_last = r.has_last;
    item.has_total = r.has_total;
    item.last = r.codex_last;
    item.total = r.codex_total;
    if (item.has_total && !t.session.empty()) {
      auto& totals = history_[t.session].totals;
      if (totals.empty() || !(totals.back().second == item.total)) {
        totals.emplace_back(item.time, item.total);
      }
    }
  }
  if (t.forked) {
    t.items.push_back(std::move(item));  // counted in Finish
    return;
  }
  Apply(input, t, item, out);
}

void CodexState::Session(Thread& t, const ParsedRecord& r) {
  std::string_view id = r.ev.trace_id;
  if (!t.started) {
    // The thread's own session_meta: it names the thread for good.
    t.started = true;
    t.session = std::string(id);
    t.project = std::string(r.ev.tag("project"));
    t.subagent = r.sidechain;
    t.fork_ns = r.ev.time_unix_ns;
    t.parent = std::string(!r.codex_forked_from.empty() ? r.codex_forked_from : r.codex_spawned_by);
    t.forked = !r.codex_forked_from.empty();
    return;
  }
  // A later session_meta of another thread is a copy that opens a forked
  // history (the parent's, then its ancestors'). When the thread's own
  // meta did not say it was forked and nothing was counted yet, the copy says
  // it; it never renames the thread.
  if (id.empty() || id == t.session || t.forked || t.counted) return;
  t.forked = true;
  t.parent = std::string(id);
}

void CodexState::Apply(int input, Thread& t, const Item& item, EmitSink& out) {
  if (item.type == ParsedRecordType::kCodexContext) {
    t.model = item.model;
    return;
  }
  Count(input, t, item, out);
}

void CodexState::Count(int input, Thread& t, const Item& item, EmitSink& out) {
  CodexUsage moved;
  if (item.has_total) {
    // The first totals of a thread, or counters that went down: the request's
    // own usage (last_token_usage) when the line has it.
    if (!t.has_prev || !Minus(item.total, t.prev, &moved)) {
      moved = item.has_last ? item.last : item.total;
    }
    t.prev = item.total;
    t.has_prev = true;
  } else {
    moved = item.last;  // only last_token_usage: taken as written
  }
  if (moved.zero()) {
    // Totals unchanged: a count re-sent on a rate-limit update (a duplicate
    // of the request already counted) or a compaction estimate (no usage).
    if (item.has_last && !item.last.zero()) out.Duplicate(input);
    return;
  }
  t.counted = true;
  UsageEvent ev;
  ev.format = SourceFormat::kCodex;
  ev.kind = "llm";
  ev.requests = 1;
  ev.provider = "openai";
  ev.time_unix_ns = item.time;
  ev.line = item.line;
  ev.input_index = input;
  ev.tokens = Buckets(moved);
  if (!t.model.empty()) {
    ev.model = t.model;
  } else {
    ev.model = "gpt-5";  // the log never named the model: priced as gpt-5, flagged
    ev.SetTag("model_fallback", "true");
  }
  if (!t.session.empty()) {
    ev.trace_id = t.session;
    ev.SetTag("session", t.session);
  }
  if (!t.project.empty()) ev.SetTag("project", t.project);
  if (t.subagent) ev.SetTag("sidechain", "true");
  if (!t.parent.empty()) ev.SetTag("parent_session", t.parent);
  out.Deliver(input, ev);
}

void CodexState::Replay(int input, Thread& t, EmitSink& out) {
  auto parent = history_.find(t.parent);
  const History* h = parent != history_.end() ? &parent->second : nullptr;
  size_t limit = 0;  // the parent's totals written at or before the fork
  if (h != nullptr) {
    while (limit < h->totals.size() && h->totals[limit].first <= t.fork_ns) ++limit;
  }
  if (!t.replaying) {
    t.replaying = true;
    t.prev_time = t.fork_ns;
    if (h != nullptr) {
      for (const auto& [time, model] : h->models) {
        if (time <= t.fork_ns) t.model = model;  // until the copy's turn_context says
      }
    }
  }
  size_t& cursor = t.cursor;  // copies come in the parent's order
  bool& copying = t.copying;
  int64_t& prev_time = t.prev_time;
  for (const Item& item : t.items) {
    if (copying && item.type == ParsedRecordType::kCodexTokens) {
      bool copied = false;
      if (h != nullptr) {
        for (size_t k = cursor; item.has_total && k < limit; ++k) {
          if (h->totals[k].second == item.total) {
            cursor = k;
            copied = true;
            break;
          }
        }
      } else {
        copied = item.time != 0 && prev_time != 0 && item.time - prev_time <= kReplayGapNs;
      }
      if (copied) {
        // The parent's usage: its totals are where this thread's own count
        // continues from.
        const bool usage = item.has_last
                               ? !item.last.zero()
                               : item.has_total && (!t.has_prev || !(item.total == t.prev));
        if (usage) out.Duplicate(input);
        if (item.has_total) {
          t.prev = item.total;
          t.has_prev = true;
        }
        if (item.time != 0) prev_time = item.time;
        continue;
      }
      copying = false;
    }
    if (item.time != 0) prev_time = item.time;
    Apply(input, t, item, out);
  }
  t.items.clear();
  if (!following_) t.items.shrink_to_fit();
}

void CodexState::Finish(EmitSink& out) {
  for (size_t i = 0; i < threads_.size(); ++i) {
    if (threads_[i].forked && !threads_[i].items.empty()) Replay(int(i), threads_[i], out);
  }
}

}  // namespace

std::unique_ptr<FormatState> NewCodexState(bool following) {
  return std::make_unique<CodexState>(following);
}

}  // namespace tokmeter::analysis::reader_internal
