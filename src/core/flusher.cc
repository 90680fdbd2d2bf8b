// The flusher: one pass drains every ring, decodes its records into a
// Batch (resolving trace tags, holding spans whose trace start is not
// visible yet), rolls spans up into their turns and traces, accounts for
// drops, and hands the batch to the sinks. Runs on the flusher thread (Run)
// or inside Flush/Shutdown, always under the pass lock.
#include <algorithm>
#include <cstring>
#include <exception>

#include "absl/strings/str_cat.h"
#include "src/core/runtime_impl.h"

namespace tokmeter {

using internal::FreeRing;
using internal::FutexWait;
using internal::g_unregistered_drops;
using internal::g_wake_word;
using internal::GetRegistry;
using internal::RecordHeader;
using internal::Registry;
using internal::SpanWire;
using internal::ThreadRing;

namespace {

// Parses encoded items into the span; false if they are malformed. Static
// keys and values are read through the address the producer stored.
bool ParseItems(const char* p, size_t len, SpanRecord* s, std::vector<Tag>* tags,
                std::vector<UserCounter>* counters) {
  size_t i = 0;
  while (i < len) {
    if (len - i < internal::kItemHeader) return false;
    const uint8_t head = static_cast<uint8_t>(p[i]);
    const uint8_t type = head & internal::kItemTypeMask;
    const size_t klen = static_cast<uint8_t>(p[i + 1]);
    uint16_t vlen;
    std::memcpy(&vlen, p + i + 2, 2);
    const size_t kstored = (head & internal::kItemKeyStatic) ? 8 : klen;
    const size_t vstored = (head & internal::kItemValueStatic) ? 8 : vlen;
    if (len - i - internal::kItemHeader < kstored + vstored) return false;
    const char* kp = p + i + 4;
    const char* v = kp + kstored;
    // A static item stores the literal's address in place of its bytes.
    if (head & internal::kItemKeyStatic) std::memcpy(&kp, kp, sizeof(const char*));
    if (head & internal::kItemValueStatic) std::memcpy(&v, v, sizeof(const char*));
    std::string_view key(kp, klen);
    switch (type) {
      case internal::kItemKind:
        s->kind = std::string_view(v, vlen);
        break;
      case internal::kItemName:
        s->name = std::string_view(v, vlen);
        break;
      case internal::kItemTagString:
        tags->push_back(Tag{key, TagType::kString, std::string_view(v, vlen), 0});
        break;
      case internal::kItemTagInt: {
        if (vlen != 8) return false;
        int64_t n;
        std::memcpy(&n, v, 8);
        tags->push_back(Tag{key, TagType::kInt, {}, n});
        break;
      }
      case internal::kItemTagBool:
        if (vlen != 1) return false;
        tags->push_back(Tag{key, TagType::kBool, {}, v[0] ? 1 : 0});
        break;
      case internal::kItemUserCounter: {
        if (vlen != 8) return false;
        int64_t n;
        std::memcpy(&n, v, 8);
        counters->push_back(UserCounter{key, n});
        break;
      }
      default:
        return false;
    }
    i += internal::kItemHeader + kstored + vstored;
  }
  return true;
}

// The same view: the same address and size.
inline bool SameView(std::string_view a, std::string_view b) {
  return a.data() == b.data() && a.size() == b.size();
}

// Bits set in `v`, without a libgcc call (the baseline x86-64 ISA has no
// popcnt): a nibble table.
inline size_t BitCount(uint32_t v) {
  static constexpr uint8_t kNibbleBits[16] = {0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4};
  size_t n = 0;
  for (; v != 0; v >>= 4) n += kNibbleBits[v & 15];
  return n;
}

// Thirteen plain stores: a memset of the array would be a `rep stos`, whose
// start-up alone costs more than the stores.
inline void ZeroCounters(Counters& c) {
  static_assert(kNumCounters == 13);
  int64_t* v = c.values.data();
  v[0] = 0, v[1] = 0, v[2] = 0, v[3] = 0, v[4] = 0, v[5] = 0, v[6] = 0;
  v[7] = 0, v[8] = 0, v[9] = 0, v[10] = 0, v[11] = 0, v[12] = 0;
}

// Keeps the last tag per key (in place, order of last occurrence kept).
size_t DedupTags(Tag* tags, size_t n) {
  auto same_key = [](const Tag& a, const Tag& b) {
    return a.key.size() == b.key.size() &&
           (a.key.data() == b.key.data() || a.key == b.key);  // literal keys share an address
  };
  size_t out = 0;
  for (size_t i = 0; i < n; ++i) {
    bool later = false;
    for (size_t j = i + 1; j < n && !later; ++j) later = same_key(tags[j], tags[i]);
    if (later) continue;
    if (out != i) tags[out] = tags[i];
    ++out;
  }
  return out;
}

// Sums user counters by name (in place).
size_t SumCounters(UserCounter* c, size_t n) {
  size_t out = 0;
  for (size_t i = 0; i < n; ++i) {
    size_t k = 0;
    while (k < out && c[k].name != c[i].name) ++k;
    if (k < out) {
      c[k].value += c[i].value;
    } else {
      c[out++] = c[i];
    }
  }
  return out;
}

void SetTag(std::vector<OwnedTag>& tags, OwnedTag t) {
  for (auto& e : tags) {
    if (e.key == t.key) {
      e = std::move(t);
      return;
    }
  }
  tags.push_back(std::move(t));
}

// A trace's id is also its `session` tag when none is given, so every view
// names the session by the key people chose (not the 32-hex trace id). A
// `session` tag set on the trace, before or after, wins.
void AddDefaultSessionTag(internal::TraceState& t) {
  if (t.name.empty()) return;
  for (const OwnedTag& e : t.tags) {
    if (e.key == "session") return;
  }
  t.tags.push_back(OwnedTag{"session", TagType::kString, t.name, 0});
}

std::vector<Tag> ViewsOf(const std::vector<OwnedTag>& tags) {
  std::vector<Tag> v;
  v.reserve(tags.size());
  for (const auto& t : tags) v.push_back(Tag{t.key, t.type, t.str, t.num});
  return v;
}

}  // namespace

void Runtime::Impl::ReportError(std::string_view sink, const absl::Status& st) {
  sink_errors.fetch_add(1, std::memory_order_relaxed);
  if (!opts.on_error) return;
  try {
    opts.on_error(sink, st);
  } catch (...) {
    // The callback's own failure must not stop the flusher.
  }
}

void Runtime::Impl::Decode(ThreadRing* r, uint64_t pos, uint64_t end) {
  // The items (tags, user counters, a dynamic kind or name) of the span
  // decoded last from this ring, and what they decoded to. A span whose
  // items are the same bytes (spans from one call site with the same tag
  // values: literals are stored by address) shares that decoding: its tags
  // are not parsed again, and a sink can tell such spans alike by the
  // address of their tags.
  struct LastItems {
    const char* items = nullptr;
    size_t len = 0;
    SpanExtra extra{};
    std::string_view kind, name;                // as the items left them
    bool sets_kind = false, sets_name = false;  // the items hold a kind, a name
  } last;
  while (pos < end) {
    uint64_t off = pos & r->mask;
    const char* p = r->data + off;
    const auto* h = reinterpret_cast<const RecordHeader*>(p);
    uint32_t size = h->size;
    if (size < sizeof(RecordHeader) || size % 8 != 0 || size > end - pos ||
        off + size > r->capacity) {
      // Cannot happen unless memory was corrupted; never read past `end`.
      ReportError("runtime", absl::DataLossError(absl::StrCat(
                                 "corrupt record in the ring of thread ", r->thread_id)));
      return;
    }
    pos += size;
    if (h->type == internal::kRecordPad) continue;
    if (size < sizeof(SpanWire)) continue;
    const auto* w = reinterpret_cast<const SpanWire*>(p);
    if (w->epoch != epoch) {
      if (h->type == internal::kRecordSpan) ++stale[r];
      continue;
    }
    TraceId trace{w->trace_hi, w->trace_lo};
    const char* items = p + sizeof(SpanWire);
    size_t items_len = h->items_len;
    switch (h->type) {
      case internal::kRecordFragment: {
        if (sizeof(SpanWire) + items_len <= size) {
          state.fragments[w->span_id].append(items, items_len);
        }
        break;
      }
      case internal::kRecordTraceStart:
      case internal::kRecordTraceTag: {
        if (sizeof(SpanWire) + items_len > size) break;
        SpanRecord tmp;
        std::vector<Tag> tags;
        std::vector<UserCounter> ucs;
        if (!ParseItems(items, items_len, &tmp, &tags, &ucs)) break;
        internal::TraceState& t = state.traces[trace];
        t.last_pass = state.pass;
        if (h->type == internal::kRecordTraceStart) {
          t.kind = std::string(tmp.kind);
          t.name = std::string(tmp.name);
          t.root_span_id = w->span_id;
          t.start_unix_ns = clock.ToUnixNs(w->start);
          t.started = true;
          traces.fetch_add(1, std::memory_order_relaxed);
          AddDefaultSessionTag(t);
        } else {
          for (const Tag& tag : tags) {
            SetTag(t.tags, ToOwned(tag));
          }
        }
        t.tag_views = ViewsOf(t.tags);
        ++t.version;
        break;
      }
      case internal::kRecordSpan: {
        // A value is stored for each bit of the mask (13 at most).
        const uint32_t mask = w->counter_mask & ((1u << kNumCounters) - 1);
        const size_t n = BitCount(w->counter_mask);
        if (sizeof(SpanWire) + 8 * n + items_len > size) break;
        // Records of earlier passes are reused and every field is written:
        // appending a fresh record zero-fills all 256 bytes first (a `rep
        // stos`, the largest single cost of decoding).
        SpanRecord& s = NextSpan();
        s.trace_id = trace;
        s.span_id = w->span_id;
        s.parent_id = w->parent_id;
        if (h->flags & internal::kFlagExplicitTime) {
          s.start_unix_ns = static_cast<int64_t>(w->start);
          s.end_unix_ns = static_cast<int64_t>(w->end);
        } else {
          s.start_unix_ns = clock.ToUnixNs(w->start);
          s.end_unix_ns = clock.ToUnixNs(w->end);
        }
        s.kind = w->kind != nullptr ? std::string_view(w->kind, w->kind_len) : std::string_view();
        s.name = w->name != nullptr ? std::string_view(w->name, w->name_len) : std::string_view();
        const std::string_view wire_kind = s.kind, wire_name = s.name;
        s.thread_id = r->thread_id;
        s.is_trace_root = h->flags & internal::kFlagTraceRoot;
        s.has_fingerprint = h->flags & internal::kFlagFingerprint;
        s.fingerprint = w->fingerprint;
        ZeroCounters(s.counters);
        const int64_t* c = reinterpret_cast<const int64_t*>(items);
        for (uint32_t m = mask; m != 0; m &= m - 1) s.counters.values[__builtin_ctz(m)] = *c++;
        c = reinterpret_cast<const int64_t*>(items) + n;
        s.counters.mask = mask;
        s.user_counters = {};
        s.tags = {};
        s.trace_tags = {};
        items = reinterpret_cast<const char*>(c);
        const bool fragmented = !state.fragments.empty() && state.fragments.contains(w->span_id);
        if (!fragmented && items_len != 0 && items_len == last.len &&
            std::memcmp(items, last.items, items_len) == 0) {
          if (last.sets_kind) s.kind = last.kind;
          if (last.sets_name) s.name = last.name;
          extras.push_back(last.extra);
          extras.back().turn_id = w->turn_id;
          extras.back().flags = h->flags;
          break;
        }
        size_t tb = tag_arena.size(), cb = counter_arena.size();
        bool ok = true;
        if (fragmented) {
          auto f = state.fragments.find(w->span_id);
          owned.push_back(std::move(f->second));
          state.fragments.erase(f);
          ok = ParseItems(owned.back().data(), owned.back().size(), &s, &tag_arena, &counter_arena);
        }
        ok = ok && ParseItems(items, items_len, &s, &tag_arena, &counter_arena);
        if (!ok) {
          tag_arena.resize(tb);
          counter_arena.resize(cb);
          --spans_used;
          ReportError("runtime", absl::DataLossError("malformed span items"));
          break;
        }
        size_t tn = DedupTags(tag_arena.data() + tb, tag_arena.size() - tb);
        tag_arena.resize(tb + tn);
        size_t cn = SumCounters(counter_arena.data() + cb, counter_arena.size() - cb);
        counter_arena.resize(cb + cn);
        extras.push_back({static_cast<uint32_t>(tb), static_cast<uint32_t>(tn),
                          static_cast<uint32_t>(cb), static_cast<uint32_t>(cn), w->turn_id,
                          h->flags});
        if (fragmented) {
          last = {};
        } else {
          last = {items,
                  items_len,
                  extras.back(),
                  s.kind,
                  s.name,
                  !SameView(s.kind, wire_kind),
                  !SameView(s.name, wire_name)};
        }
        break;
      }
      default:
        break;
    }
  }
}

void Runtime::Impl::Pass() {
  ++state.pass;
  const uint64_t pass = state.pass;
  flushes.fetch_add(1, std::memory_order_relaxed);
  clock.Refine();
  batch.traces.clear();
  spans_used = 0;  // batch.spans keeps its records for reuse (NextSpan)
  closed_this_pass = false;
  batch.rollups.clear();
  batch.drops.clear();
  tag_arena.clear();
  counter_arena.clear();
  extras.clear();
  owned.clear();

  std::vector<ThreadRing*> rings;
  {
    Registry& reg = GetRegistry();
    std::lock_guard<std::mutex> lock(reg.mu);
    rings = reg.rings;
  }
  struct Cut {
    ThreadRing* ring;
    uint64_t end;
    bool retired;
  };
  std::vector<Cut> cuts;
  cuts.reserve(rings.size());
  // Held spans (decoded last pass) go first: they closed earlier.
  emitting_held = std::move(state.held);
  state.held.clear();
  for (ThreadRing* r : rings) {
    // Acquire `retired` before `write_pos`: a retired ring's last records
    // are then all below `end`.
    bool retired = r->retired.load(std::memory_order_acquire);
    uint64_t end = r->write_pos.load(std::memory_order_acquire);
    uint64_t pos = r->read_pos.load(std::memory_order_relaxed);
    bytes.fetch_add(end - pos, std::memory_order_relaxed);
    Decode(r, pos, end);
    cuts.push_back({r, end, retired});
  }

  // Resolve trace tags, accumulate roll-ups, hold spans whose trace start
  // is not visible yet (compacting batch.spans in place).
  size_t kept = 0;
  batch.spans.resize(spans_used);  // only ever shrinks here: nothing is zeroed
  const size_t decoded = spans_used;
  internal::TraceState* last_trace = nullptr;
  TraceId last_trace_id;
  for (size_t i = 0; i < decoded; ++i) {
    SpanRecord& s = batch.spans[i];
    const SpanExtra& x = extras[i];
    s.tags = std::span<const Tag>(tag_arena.data() + x.tag_begin, x.tag_count);
    s.user_counters =
        std::span<const UserCounter>(counter_arena.data() + x.counter_begin, x.counter_count);
    const uint8_t flags = x.flags;
    const uint64_t turn_id = x.turn_id;
    bool held = false;
    if (!(flags & internal::kFlagOrphan)) {
      // Spans of one trace mostly come together: one lookup per run of them
      // (nodes of the map stay put until the trace is forgotten below).
      if (last_trace == nullptr || !(last_trace_id == s.trace_id)) {
        last_trace = &state.traces[s.trace_id];
        last_trace_id = s.trace_id;
      }
      internal::TraceState& t = *last_trace;
      t.last_pass = pass;
      t.totals.AddAll(s.counters);
      ++t.spans;
      if (s.is_trace_root) {
        t.closed_pass = pass;
        closed_this_pass = true;
        t.end_unix_ns = s.end_unix_ns;
        // SetTimes() on the root (replayed or simulated traces): the trace
        // starts when its root says, not when the Trace object was built.
        // Bumping the version re-emits the trace line with that start.
        if ((flags & internal::kFlagExplicitTime) && t.started &&
            t.start_unix_ns != s.start_unix_ns) {
          t.start_unix_ns = s.start_unix_ns;
          ++t.version;
        }
        if (!t.started) {  // its start record was lost: use the root itself
          t.kind = std::string(s.kind);
          t.name = std::string(s.name);
          t.root_span_id = s.span_id;
          t.start_unix_ns = s.start_unix_ns;
          t.started = true;
          ++t.version;
        }
      }
      s.trace_tags = t.tag_views;
      held = !t.started;
    }
    if ((flags & internal::kFlagTurn) && !s.is_trace_root) {
      internal::TurnState& me = state.turns[s.span_id];
      me.trace_id = s.trace_id;
      me.parent_turn = turn_id;
      me.name = std::string(s.name);
      me.totals.AddAll(s.counters);
      ++me.spans;
      me.start_unix_ns = s.start_unix_ns;
      me.end_unix_ns = s.end_unix_ns;
      me.closed_pass = pass;
      closed_this_pass = true;
    } else if (turn_id != 0) {
      internal::TurnState& parent = state.turns[turn_id];
      parent.totals.AddAll(s.counters);
      ++parent.spans;
    }
    if (held) {
      state.held.push_back(ToOwned(s));
    } else {
      if (kept != i) batch.spans[kept] = s;
      ++kept;
    }
  }
  batch.spans.resize(kept);
  // Spans held last pass come after: their trace start is known by now.
  held_tags.clear();
  held_counters.clear();
  held_tags.reserve(emitting_held.size());
  held_counters.reserve(emitting_held.size());
  for (const OwnedSpan& o : emitting_held) {
    auto& tags = held_tags.emplace_back();
    for (const auto& t : o.tags) tags.push_back(Tag{t.key, t.type, t.str, t.num});
    auto& counters = held_counters.emplace_back();
    for (const auto& c : o.user_counters) counters.push_back({c.first, c.second});
    SpanRecord& s = batch.spans.emplace_back();
    s.trace_id = o.trace_id;
    s.span_id = o.span_id;
    s.parent_id = o.parent_id;
    s.start_unix_ns = o.start_unix_ns;
    s.end_unix_ns = o.end_unix_ns;
    s.kind = o.kind;
    s.name = o.name;
    s.thread_id = o.thread_id;
    s.is_trace_root = o.is_trace_root;
    s.has_fingerprint = o.has_fingerprint;
    s.fingerprint = o.fingerprint;
    s.counters = o.counters;
    s.tags = tags;
    s.user_counters = counters;
    auto t = state.traces.find(o.trace_id);
    if (t != state.traces.end()) s.trace_tags = t->second.tag_views;
  }

  // In time order: each ring's spans are, but the pass took the rings one
  // after another, and a session whose tools ran on worker threads would
  // reach the sinks (and the live rules) in blocks per thread. Files then
  // read in order, and rules that follow a session see it as it happened.
  // (One thread, or rings that did not overlap in time: already sorted.)
  auto by_end = [](const SpanRecord& a, const SpanRecord& b) {
    return a.end_unix_ns < b.end_unix_ns;
  };
  if (!std::is_sorted(batch.spans.begin(), batch.spans.end(), by_end))
    std::stable_sort(batch.spans.begin(), batch.spans.end(), by_end);

  // Trace records: every trace whose identity or tags changed.
  for (auto& [id, t] : state.traces) {
    if (t.started && t.version != t.emitted_version) {
      t.emitted_version = t.version;
      batch.traces.push_back(
          TraceRecord{id, t.root_span_id, t.start_unix_ns, t.kind, t.name, t.tag_views});
    }
  }

  // Roll-ups of turns and traces that closed in an earlier pass: by now every
  // span that closed before them is decoded, whichever ring it was in.
  std::vector<std::pair<int64_t, uint64_t>> ready;
  for (auto& [id, turn] : state.turns) {
    if (turn.closed_pass != 0 && turn.closed_pass < pass) ready.push_back({turn.end_unix_ns, id});
  }
  std::sort(ready.begin(), ready.end());
  for (auto [end, id] : ready) {
    auto it = state.turns.find(id);
    internal::TurnState turn = std::move(it->second);
    state.turns.erase(it);
    owned.push_back(std::move(turn.name));
    RollupRecord rr;
    rr.trace_id = turn.trace_id;
    rr.span_id = id;
    rr.scope = "turn";
    rr.kind = "turn";
    rr.name = owned.back();
    rr.start_unix_ns = turn.start_unix_ns;
    rr.end_unix_ns = turn.end_unix_ns;
    rr.spans = turn.spans;
    rr.totals = turn.totals;
    auto t = state.traces.find(turn.trace_id);
    if (t != state.traces.end()) rr.trace_tags = t->second.tag_views;
    batch.rollups.push_back(rr);
    if (turn.parent_turn != 0) {
      internal::TurnState& parent = state.turns[turn.parent_turn];
      parent.totals.AddAll(turn.totals);
      parent.spans += turn.spans;
    }
  }
  std::vector<TraceId> finished;
  for (auto& [id, t] : state.traces) {
    if (t.closed_pass != 0 && t.closed_pass < pass) {
      RollupRecord rr;
      rr.trace_id = id;
      rr.span_id = t.root_span_id;
      rr.scope = "trace";
      rr.kind = t.kind;
      rr.name = t.name;
      rr.start_unix_ns = t.start_unix_ns;
      rr.end_unix_ns = t.end_unix_ns;
      rr.spans = t.spans;
      rr.totals = t.totals;
      rr.trace_tags = t.tag_views;
      batch.rollups.push_back(rr);
      finished.push_back(id);
    } else if (!t.started && t.last_pass + 2 < pass) {
      finished.push_back(id);  // spans of a trace whose start never came
    }
  }

  // Drops: exact per ring, reported as deltas.
  for (const Cut& c : cuts) {
    uint64_t total = c.ring->dropped.load(std::memory_order_relaxed);
    if (auto s = stale.find(c.ring); s != stale.end()) total += s->second;
    uint64_t& reported = reported_drops[c.ring];
    if (total != reported) {
      batch.drops.push_back(
          DropRecord{c.ring->thread_id, internal::RealtimeNs(), total - reported, total});
      dropped.fetch_add(total - reported, std::memory_order_relaxed);
      reported = total;
    }
  }
  uint64_t unreg = g_unregistered_drops.load(std::memory_order_relaxed);
  if (unreg != reported_unregistered) {
    batch.drops.push_back(
        DropRecord{0, internal::RealtimeNs(), unreg - reported_unregistered, unreg});
    dropped.fetch_add(unreg - reported_unregistered, std::memory_order_relaxed);
    reported_unregistered = unreg;
  }

  batch.alerts.clear();
  // Every pass, empty ones too: time passing ends budget periods and idle
  // hours even when nothing is recorded (a denied agent records nothing).
  if (opts.monitor != nullptr) {
    try {
      opts.monitor->Process(batch);
    } catch (const std::exception& e) {
      ReportError("monitor", absl::InternalError(absl::StrCat("monitor threw: ", e.what())));
    } catch (...) {
      ReportError("monitor", absl::InternalError("monitor threw a non-standard exception"));
    }
  }
  if (!batch.empty()) {
    ForEachSink([this](Sink& sink) { return sink.Write(batch); }).IgnoreError();
  }
  spans.fetch_add(batch.spans.size(), std::memory_order_relaxed);
  rollups.fetch_add(batch.rollups.size(), std::memory_order_relaxed);
  for (const TraceId& id : finished) state.traces.erase(id);

  // Hand the space back to the producers; free drained rings of exited threads.
  std::vector<ThreadRing*> freed;
  for (const Cut& c : cuts) {
    // Release: the producer may reuse the bytes once it sees read_pos.
    c.ring->read_pos.store(c.end, std::memory_order_release);
    c.ring->wake_requested.store(false, std::memory_order_relaxed);
    if (c.retired) freed.push_back(c.ring);
  }
  if (!freed.empty()) {
    Registry& reg = GetRegistry();
    {
      std::lock_guard<std::mutex> lock(reg.mu);
      for (ThreadRing* r : freed) std::erase(reg.rings, r);
    }
    for (ThreadRing* r : freed) {
      reported_drops.erase(r);
      stale.erase(r);
      FreeRing(r);
    }
  }
  TrimBuffers(decoded);
}

// The decode buffers keep their size between passes (records are reused),
// so a burst — every ring full at once — would leave its buffers behind for
// good. Once passes in a row have needed less than an eighth of them, they
// are given back; the next pass grows what it needs.
void Runtime::Impl::TrimBuffers(size_t decoded) {
  constexpr size_t kKeepSpans = 4096;         // buffers this small are always kept
  constexpr int kSmallPassesBeforeTrim = 16;  // ~3 s at the default interval
  const size_t cap = batch.spans.capacity();
  if (cap > kKeepSpans && decoded * 8 < cap) {
    if (++small_passes >= kSmallPassesBeforeTrim) {
      small_passes = 0;
      // (Swapped with empty vectors: `v = {}` would keep the capacity.)
      std::vector<SpanRecord>().swap(batch.spans);
      std::vector<SpanExtra>().swap(extras);
      std::vector<Tag>().swap(tag_arena);
      std::vector<UserCounter>().swap(counter_arena);
    }
  } else {
    small_passes = 0;
  }
  buffer_bytes.store(
      batch.spans.capacity() * sizeof(SpanRecord) + extras.capacity() * sizeof(SpanExtra) +
          tag_arena.capacity() * sizeof(Tag) + counter_arena.capacity() * sizeof(UserCounter),
      std::memory_order_relaxed);
}

void Runtime::Impl::StartFlusher() {
  running.store(false, std::memory_order_relaxed);
  flusher = new std::thread(&Runtime::Impl::Run, this);
  while (!running.load(std::memory_order_acquire)) std::this_thread::yield();
}

void Runtime::Impl::Run() {
  running.store(true, std::memory_order_release);
  const int64_t interval_ns = std::max<int64_t>(
      1000000, std::chrono::duration_cast<std::chrono::nanoseconds>(opts.flush_interval).count());
  while (!stop.load(std::memory_order_acquire)) {
    uint32_t seen = g_wake_word.load(std::memory_order_acquire);
    {
      std::lock_guard<std::mutex> lock(pass_mu);
      try {
        Pass();
      } catch (const std::exception& e) {
        ReportError("runtime",
                    absl::InternalError(absl::StrCat("flusher pass failed: ", e.what())));
      }
    }
    if (stop.load(std::memory_order_acquire)) break;
    FutexWait(&g_wake_word, seen, interval_ns);
  }
}

}  // namespace tokmeter
