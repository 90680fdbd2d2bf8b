// Claude Code transcripts (~/.claude/projects/<project>/<session>.jsonl):
// assistant lines carry the Anthropic usage of one API response; the
// streaming snapshots and copies of one response are deduplicated across all
// inputs by ClaudeState (below): one event per message.id.
#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <memory>
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

namespace {

constexpr size_t npos = std::string_view::npos;

size_t SkipBlanksAt(std::string_view s, size_t i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) ++i;
  return i;
}

// The raw value of member `key` of the object `obj` (raw JSON text); empty
// when absent.
std::string_view Member(std::string_view obj, std::string_view key) {
  std::string_view out;
  ForEachMember(obj, 0, [&](std::string_view k, std::string_view v) {
    if (k != key) return true;
    out = v;
    return false;
  });
  return out;
}

// The content array (or string) of the transcript line's message, found by
// walking the members (any key order): message.content, or for progress
// lines data.message.message.content. Empty when there is none.
std::string_view MessageContent(std::string_view line, bool progress) {
  size_t open = SkipBlanksAt(line, 0);
  std::string_view obj = line.substr(open);
  if (progress) {
    obj = Member(obj, "data");
    if (obj.empty() || obj[0] != '{') return {};
    obj = Member(obj, "message");
    if (obj.empty() || obj[0] != '{') return {};
  }
  obj = Member(obj, "message");
  if (obj.empty() || obj[0] != '{') return {};
  return Member(obj, "content");
}

// The hash of one tool_use block: its name and its input in the compact
// form (so blanks in the transcript do not change it), XXH3-64 as tokmeter
// spans' fingerprints.
uint64_t ToolBlockHash(std::string_view name, std::string_view input) {
  thread_local std::string compact_buf;
  // One streaming state per thread: no copy of the input to hash it.
  thread_local std::unique_ptr<XXH3_state_t, XXH_errorcode (*)(XXH3_state_t*)> state(
      XXH3_createState(), XXH3_freeState);
  std::string_view compact = CompactJson(input, &compact_buf);
  XXH3_64bits_reset(state.get());
  XXH3_64bits_update(state.get(), name.data(), name.size());
  XXH3_64bits_update(state.get(), "\0", 1);
  XXH3_64bits_update(state.get(), compact.data(), compact.size());
  return XXH3_64bits_digest(state.get());
}

// Appends (id hash, block hash) for each tool_use block of the content
// array `content` (raw JSON text starting with '['): one pass over each
// block's members.
void ToolUseBlocks(std::string_view content, std::vector<uint64_t>* out) {
  if (content.empty() || content[0] != '[') return;
  size_t i = SkipBlanksAt(content, 1);
  while (i < content.size() && content[i] != ']') {
    size_t el_end = npos;
    if (content[i] == '{') {
      std::string_view type, id, name, input;
      if (!ForEachMember(
              content, i,
              [&](std::string_view k, std::string_view v) {
                if (k == "type")
                  type = v;
                else if (k == "id")
                  id = v;
                else if (k == "name")
                  name = v;
                else if (k == "input")
                  input = v;
                return true;
              },
              &el_end)) {
        return;
      }
      if (type == "\"tool_use\"") {
        if (name.size() >= 2 && name.front() == '"') name = name.substr(1, name.size() - 2);
        const uint64_t block = ToolBlockHash(name, input);
        out->push_back(id.empty() ? block : XXH3_64bits(id.data(), id.size()));
        out->push_back(block);
      }
    } else {
      el_end = SkipValue(content, i);
      if (el_end == npos) return;
    }
    i = SkipBlanksAt(content, el_end);
    if (i < content.size() && content[i] == ',') i = SkipBlanksAt(content, i + 1);
  }
}

// Whether a user message's content (raw JSON at s[pos]) is a prompt someone
// wrote: a non-empty string, or blocks that do not start with a tool_result.
// Tool results (with the text blocks Claude Code may append to them, such as
// reminders) continue the turn. Only the first block's members up to its
// "type" are read, not the tool output. *end is set past the value when it
// is a prompt (npos when malformed).
bool IsPromptContent(std::string_view s, size_t pos, size_t* end) {
  *end = npos;
  if (pos >= s.size()) return false;
  if (s[pos] == '"') {
    *end = SkipString(s, pos);
    return *end != npos && *end > pos + 2;
  }
  if (s[pos] != '[') return false;
  const size_t i = SkipBlanksAt(s, pos + 1);
  if (i >= s.size() || s[i] == ']') return false;
  if (s[i] == '{') {
    std::string_view type;
    ForEachMember(s.substr(i), 0, [&](std::string_view k, std::string_view v) {
      if (k != "type") return true;
      type = v;
      return false;
    });
    if (type == "\"tool_result\"") return false;
  }
  *end = SkipValue(s, pos);
  return *end != npos;
}

// A user line: when its message is a prompt (not only tool results), a
// record that starts a turn of its session (or of its sub-agent).
// `cpos` is the first "content": of the line: Claude Code writes the message
// right after the header fields, so it is the message's (the parse below
// checks that).
LineResult ParseClaudeUser(std::string_view line, size_t cpos, ParseContext& ctx) {
  if (cpos == npos) return LooksLikeObject(line) ? LineResult::kOk : LineResult::kBad;
  const size_t v = SkipBlanksAt(line, cpos + 10);
  size_t vend = npos;
  if (!IsPromptContent(line, v, &vend) || vend == npos) {
    return LooksLikeObject(line) ? LineResult::kOk : LineResult::kBad;
  }
  // A prompt: its header members, read without validating the line (as for
  // every line without usage), and the message's own content checked (the
  // first "content": may have been another member's).
  auto unquote = [](std::string_view v) {
    return v.size() >= 2 && v.front() == '"' && v.back() == '"' ? v.substr(1, v.size() - 2)
                                                                : std::string_view();
  };
  std::string_view type, uuid, session, agent, timestamp, message;
  bool sidechain = false, meta = false;
  if (!LooksLikeObject(line) ||
      !ForEachMember(line, SkipBlanksAt(line, 0), [&](std::string_view k, std::string_view val) {
        if (k == "type")
          type = unquote(val);
        else if (k == "uuid")
          uuid = unquote(val);
        else if (k == "sessionId")
          session = unquote(val);
        else if (k == "agentId")
          agent = unquote(val);
        else if (k == "timestamp")
          timestamp = unquote(val);
        else if (k == "isSidechain")
          sidechain = val == "true";
        else if (k == "isMeta")
          meta = val == "true";
        else if (k == "message")
          message = val;
        return true;
      })) {
    return LineResult::kBad;
  }
  if (type != "user" || meta || uuid.empty() || message.empty() || message[0] != '{') {
    return LineResult::kOk;
  }
  if (std::string_view content = Member(message, "content"); content.data() != line.data() + v) {
    // The first "content": was another member's: judge the message's own.
    if (content.empty() || !IsPromptContent(content, 0, &vend)) return LineResult::kOk;
  }
  ParsedRecord rec;
  rec.type = ParsedRecordType::kClaudePrompt;
  rec.line = ctx.line;
  UsageEvent& ev = rec.ev;
  ev.format = SourceFormat::kClaudeCode;
  if (!timestamp.empty() && !ParseTime(timestamp, &ev.time_unix_ns)) return LineResult::kBad;
  Arena& a = *ctx.arena;
  ev.trace_id = a.Copy(session);
  ev.span_id = a.Copy(uuid);
  if (!agent.empty()) ev.SetTag("agent", a.Copy(agent));
  rec.sidechain = sidechain;
  ctx.out->push_back(std::move(rec));
  return LineResult::kOk;
}

}  // namespace

LineResult ParseClaude(std::string_view line, ParseContext& ctx) {
  bool has_usage = HasClaudeUsage(line);
  if (!has_usage) {
    // Synthetic API-error lines may have no usage at all; they are short.
    bool error_line = line.size() < 16384 && Contains(line, "\"isApiErrorMessage\":true");
    if (!error_line) {
      // User lines: {"role":"user","content":…} as Claude Code writes the
      // message (found near the start, before the tool output), else the
      // line's type anywhere.
      const size_t cpos = FastFind(line, "\"content\":");
      constexpr std::string_view kRole = "\"role\":\"user\",";
      if ((cpos != npos && cpos >= kRole.size() &&
           line.substr(cpos - kRole.size(), kRole.size()) == kRole) ||
          Contains(line, "\"type\":\"user\"")) {
        return ParseClaudeUser(line, cpos, ctx);
      }
      // The markers above are the compact form. A line written with blanks
      // ("usage": {…}) is read again in the compact form, never taken for a
      // line without usage.
      if (LooksSpaced(line) || Contains(line, "\"usage\"")) {
        thread_local std::string compact_buf;
        std::string_view compact = CompactJson(line, &compact_buf);
        if (compact.size() != line.size()) {
          ParseContext c = ctx;
          c.readable_end = nullptr;
          return ParseClaude(compact, c);
        }
      }
      return LooksLikeObject(line) ? LineResult::kOk : LineResult::kBad;
    }
  }
  // The message's content blocks (thinking, text, tool input: most of the
  // bytes) carry nothing the parse below reads. Replace that array by null
  // and parse the rest: the first `"content":[` is a real key (see above)
  // and only header fields precede it (checked after the parse). The array
  // is still checked to be balanced; its tool_use blocks are read by a scan
  // of their members.
  thread_local std::string rebuilt;
  std::string_view text = line;
  std::string_view content;  // the replaced array
  size_t cpos = FastFind(line, "\"content\":[");
  if (cpos != std::string_view::npos) {
    size_t open = cpos + 10;
    size_t end = SkipBalanced(line, open);
    if (end == std::string_view::npos) return LineResult::kBad;
    content = line.substr(open, end - open);
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
  bool content_replaced = false;
  const std::string_view content_path =
      progress ? "data.message.message.content" : "message.content";
  for (const JsonField& f : cap.fields()) {
    std::string_view p = f.path;
    if (p == content_path && f.kind == JsonField::kNull) content_replaced = !content.empty();
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
  // The message's tool_use blocks (a message's blocks may be spread over
  // several snapshot lines: ClaudeState merges them by block id).
  if (!content_replaced) content = {};
  if (content.empty() && Contains(line, "\"tool_use\"")) content = MessageContent(line, progress);
  if (!content.empty() && Contains(content, "\"tool_use\"")) {
    thread_local std::vector<uint64_t> tools;
    tools.clear();
    ToolUseBlocks(content, &tools);
    if (!tools.empty()) {
      char* p = a.Alloc(tools.size() * sizeof(uint64_t));
      std::memcpy(p, tools.data(), tools.size() * sizeof(uint64_t));
      rec.claude_tools = std::string_view(p, tools.size() * sizeof(uint64_t));
    }
  }
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
  // The prompt (user line uuid) that started the turn, as read at the
  // attribution copy: an index into ClaudeState::prompt_uuids_ (0 = none).
  uint32_t parent = 0;
  // The message's tool_use blocks over all its copies: an index into
  // ClaudeState::tool_lists_ (0 = none). Kept apart: most entries have none,
  // and the entries map stays small.
  uint32_t tools = 0;
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
    if (r.type == ParsedRecordType::kClaudePrompt) {
      // The latest prompt of a session (or of one of its sub-agents) starts
      // the turn its following messages belong to.
      prompt_uuids_.push_back(strings_.Intern(r.ev.span_id));
      prompts_[PromptKey(strings_.Intern(r.ev.trace_id), r.sidechain,
                         strings_.Intern(r.ev.tag("agent")))] = uint32_t(prompt_uuids_.size() - 1);
      return;
    }
    out.UsageSeen(input);
    if (following_) {
      Follow(input, r, out);
      return;
    }
    if (input >= int(candidates_.size())) candidates_.resize(size_t(input) + 1, 0);
    ++candidates_[size_t(input)];
    const UsageEvent& ev = r.ev;
    if (r.dedup_key.empty()) {
      ClaudeEntry& e = entries_.emplace_back();
      FillTokens(e, ev);
      FillAttr(e, r, input);
      AddTools(e, r);
      return;
    }
    auto [it, inserted] = index_.try_emplace(std::string(r.dedup_key), uint32_t(entries_.size()));
    if (inserted) entries_.emplace_back();
    ClaudeEntry& e = entries_[it->second];
    AddTools(e, r);
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
    all.reserve(entries_.size());
    for (const ClaudeEntry& e : entries_) all.push_back(&e);
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
  // Which prompt a message belongs to: its session's main chain, or one
  // sub-agent's chain (sidechain lines, by agentId).
  // (session, agent) as interned views; "" for the main chain, "*" for a
  // sidechain without agentId.
  using PromptKeyT = std::pair<std::string_view, std::string_view>;
  static PromptKeyT PromptKey(std::string_view session, bool sidechain, std::string_view agent) {
    return {session, !sidechain ? std::string_view() : agent.empty() ? "*" : agent};
  }
  // XXH3-64 of the blocks' hashes in order; 0 (no fingerprint) without
  // tool_use blocks.
  static uint64_t Fingerprint(const std::vector<std::pair<uint64_t, uint64_t>>& tools) {
    if (tools.empty()) return 0;
    uint64_t small[32];
    std::vector<uint64_t> large;
    uint64_t* blocks = small;
    if (tools.size() > 32) {
      large.resize(tools.size());
      blocks = large.data();
    }
    for (size_t i = 0; i < tools.size(); ++i) blocks[i] = tools[i].second;
    uint64_t h = XXH3_64bits(blocks, tools.size() * sizeof(uint64_t));
    return h != 0 ? h : 1;
  }

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
    auto it = prompts_.find(PromptKey(e.session, r.sidechain, e.agent));
    e.parent = it == prompts_.end() ? 0 : it->second;
  }
  // The message's tool_use blocks, over all its copies (by block id).
  void AddTools(ClaudeEntry& e, const ParsedRecord& r) {
    const size_t n = r.claude_tools.size() / (2 * sizeof(uint64_t));
    for (size_t i = 0; i < n; ++i) {
      uint64_t id, block;
      std::memcpy(&id, r.claude_tools.data() + 16 * i, 8);
      std::memcpy(&block, r.claude_tools.data() + 16 * i + 8, 8);
      if (e.tools == 0) {
        tool_lists_.emplace_back();
        e.tools = uint32_t(tool_lists_.size() - 1);
      }
      auto& list = tool_lists_[e.tools];
      bool seen = false;
      for (const auto& t : list) seen = seen || t.first == id;
      if (!seen) list.emplace_back(id, block);
    }
  }

  // The event of an entry. Message ids (keys) are not needed for the event;
  // span_id stays empty.
  UsageEvent MakeEvent(const ClaudeEntry& e, std::string_view request_id) const {
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
    ev.parent_id = prompt_uuids_[e.parent];
    ev.tool_calls = int64_t(tool_lists_[e.tools].size());
    ev.fingerprint = Fingerprint(tool_lists_[e.tools]);
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
      AddTools(e, r);
      UsageEvent now = MakeEvent(e, ev.tag("request_id"));
      out.Deliver(input, now);
      return;
    }
    auto [it, inserted] = followed_.try_emplace(std::string(r.dedup_key));
    Followed& f = it->second;
    if (!f.released) AddTools(f.e, r);
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
    up.tool_calls = 0;  // counted with the message itself
    up.fingerprint = 0;
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
  absl::flat_hash_map<PromptKeyT, uint32_t> prompts_;
  std::vector<std::string_view> prompt_uuids_{std::string_view()};        // [0]: none
  std::deque<std::vector<std::pair<uint64_t, uint64_t>>> tool_lists_{1};  // [0]: none
  // Every entry, with a message.id (found through index_) or without, in the
  // order first seen. A deque: entries never move, and index_'s slots stay
  // small (a map of whole entries moved them on every rehash).
  std::deque<ClaudeEntry> entries_;
  absl::flat_hash_map<std::string, uint32_t> index_;
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
