// Out-of-line parts of Span and Trace: rare paths kept off the inline hot path.
#include "tokmeter/span.h"

#include <xxhash.h>

#include <cstring>

#include "src/model/utf8.h"

namespace tokmeter {
namespace {

// Writes one record made of a SpanWire (ids from `ctx`, no counters) and
// `items` into the calling thread's ring. Counts a drop when full.
void WriteSideRecord(internal::ThreadState* ts, uint8_t type, uint8_t flags, const Context& ctx,
                     uint64_t parent_id, uint64_t start, uint32_t epoch, const char* items,
                     size_t items_len) noexcept {
  internal::ThreadRing* r = ts->ring;
  uint32_t size = static_cast<uint32_t>((sizeof(internal::SpanWire) + items_len + 7) & ~size_t{7});
  uint64_t commit;
  char* p = internal::Reserve(r, size, &commit);
  if (p == nullptr) {
    internal::CountDrop(r);
    return;
  }
  auto* w = reinterpret_cast<internal::SpanWire*>(p);
  std::memset(w, 0, sizeof(*w));
  w->h.size = size;
  w->h.type = type;
  w->h.flags = flags;
  w->h.items_len = static_cast<uint16_t>(items_len);
  w->epoch = epoch;
  w->trace_hi = ctx.trace.hi;
  w->trace_lo = ctx.trace.lo;
  w->span_id = ctx.span_id;
  w->parent_id = parent_id;
  w->turn_id = ctx.turn_id;
  w->start = start;
  std::memcpy(p + sizeof(internal::SpanWire), items, items_len);
  internal::Commit(r, commit);
}

// Encodes one item into `buf` (which has room for kItemHeader + 255 + 4096).
size_t EncodeItem(char* buf, uint8_t type, std::string_view key, const void* value,
                  size_t value_len) {
  size_t klen = model::Utf8Prefix(key.data(), key.size(), internal::kMaxKeyLen);
  if (type == internal::kItemTagString || type == internal::kItemKind ||
      type == internal::kItemName) {  // strings are cut at 4096 bytes (UTF-8 safe)
    value_len =
        model::Utf8Prefix(static_cast<const char*>(value), value_len, internal::kMaxValueLen);
  }
  buf[0] = static_cast<char>(type);
  buf[1] = static_cast<char>(klen);
  uint16_t vl = static_cast<uint16_t>(value_len);
  std::memcpy(buf + 2, &vl, 2);
  if (klen != 0) std::memcpy(buf + 4, key.data(), klen);
  if (value_len != 0) std::memcpy(buf + 4 + klen, value, value_len);
  return internal::kItemHeader + klen + value_len;
}

constexpr size_t kMaxItem = internal::kItemHeader + internal::kMaxKeyLen + internal::kMaxValueLen;

}  // namespace

void Span::AppendItemSlow(uint8_t type, std::string_view key, const void* value, size_t stored,
                          size_t declared) noexcept {
  // The slow path always copies: a static value is turned back into bytes.
  const void* bytes = value;
  size_t value_len = stored;
  if (type & internal::kItemValueStatic) {
    const char* ptr;
    std::memcpy(&ptr, value, sizeof(ptr));
    bytes = ptr;
    value_len = declared;
    type &= internal::kItemTypeMask;
  }
  char item[kMaxItem];
  size_t n = EncodeItem(item, type, key, bytes, value_len);
  if (items_len_ + n <= sizeof(items_)) {
    std::memcpy(items_ + items_len_, item, n);
    items_len_ = static_cast<uint16_t>(items_len_ + n);
    return;
  }
  // Hand what is buffered to the flusher as a fragment of this span, then
  // either buffer the item or, if it alone is too big, send it too.
  if (items_len_ > 0) {
    WriteSideRecord(ts_, internal::kRecordFragment, 0, link_.ctx, parent_id_, 0, epoch_, items_,
                    items_len_);
    items_len_ = 0;
  }
  if (n <= sizeof(items_)) {
    std::memcpy(items_, item, n);
    items_len_ = static_cast<uint16_t>(n);
  } else {
    WriteSideRecord(ts_, internal::kRecordFragment, 0, link_.ctx, parent_id_, 0, epoch_, item, n);
  }
}

Span& Span::AddUsage(const TokenBuckets& u) noexcept {
  if (ts_ == nullptr) return *this;
  auto add = [this](Counter c, int64_t v) {
    if (v != 0) Add(c, v);
  };
  add(Counter::kInputTokens, u.input);
  add(Counter::kCacheReadTokens, u.cache_read);
  add(Counter::kCacheWriteTokens, u.cache_write());
  add(Counter::kCacheWrite1hTokens, u.cache_write_1h);
  add(Counter::kOutputTokens, u.output);
  add(Counter::kReasoningTokens, u.reasoning);
  return *this;
}

Span& Span::TraceTag(std::string_view key, std::string_view value) noexcept {
  if (ts_ == nullptr) return *this;
  char item[kMaxItem];
  size_t n = EncodeItem(item, internal::kItemTagString, key, value.data(), value.size());
  WriteSideRecord(ts_, internal::kRecordTraceTag, 0, link_.ctx, 0, 0, epoch_, item, n);
  return *this;
}

Span& Span::Fingerprint(std::string_view bytes) noexcept {
  return FingerprintHash(XXH3_64bits(bytes.data(), bytes.size()));
}

Span::Span(RootTag, StrArg kind, StrArg name) noexcept {
  internal::ThreadState* ts = internal::ActiveThreadState();
  if (ts == nullptr) {
    ts_ = nullptr;
    return;
  }
  Context me;
  me.trace = {internal::NextId(ts), internal::NextId(ts)};
  parent_id_ = 0;
  Open(ts, me, kind, name, internal::kFlagTraceRoot);
  // The trace's identity goes to the flusher now, so its tags can be
  // resolved for spans that close long before the trace does.
  char items[2 * kMaxItem];
  size_t n = EncodeItem(items, internal::kItemKind, {}, kind.data, kind.size);
  n += EncodeItem(items + n, internal::kItemName, {}, name.data, name.size);
  WriteSideRecord(ts, internal::kRecordTraceStart, 0, link_.ctx, 0, start_, epoch_, items, n);
}

Trace& Trace::Tag(std::string_view key, std::string_view value) noexcept {
  root_.TraceTag(key, value);
  return *this;
}

Trace& Trace::Tag(std::string_view key, bool value) noexcept {
  if (!root_.recording()) return *this;
  char b = value ? 1 : 0;
  char item[kMaxItem];
  size_t n = EncodeItem(item, internal::kItemTagBool, key, &b, 1);
  WriteSideRecord(root_.ts_, internal::kRecordTraceTag, 0, root_.link_.ctx, 0, 0, root_.epoch_,
                  item, n);
  return *this;
}

Trace& Trace::TagInt(std::string_view key, int64_t value) noexcept {
  if (!root_.recording()) return *this;
  char item[kMaxItem];
  size_t n = EncodeItem(item, internal::kItemTagInt, key, &value, 8);
  WriteSideRecord(root_.ts_, internal::kRecordTraceTag, 0, root_.link_.ctx, 0, 0, root_.epoch_,
                  item, n);
  return *this;
}

}  // namespace tokmeter
