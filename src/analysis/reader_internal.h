// src/analysis/reader_internal.h — the pieces ReadInputs() is built from:
// byte sources (plain, gzip, zstd), the per-chunk arena, the parsed-record
// form a line turns into, and the format registry. Not part of the public
// analysis API; tests and fuzzers may use it.
#ifndef TOKMETER_ANALYSIS_READER_INTERNAL_H_
#define TOKMETER_ANALYSIS_READER_INTERNAL_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "src/analysis/event.h"
#include "src/analysis/json_capture.h"
#include "src/analysis/reader.h"

namespace tokmeter::analysis::reader_internal {

// ---------------------------------------------------------------------------
// Byte sources.

// A stream of (decompressed) bytes. Not thread-safe.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to `n` bytes into `buf`. Returns the count, 0 at end of stream,
  // or an error naming the path (I/O error, corrupt compressed data).
  virtual absl::StatusOr<size_t> Read(char* buf, size_t n) = 0;
};

// Opens `path` ("-" = stdin). gzip (magic 1f 8b, multi-member) and zstd
// (magic 28 b5 2f fd) are detected by their magic bytes, not by extension.
// NotFound / PermissionDenied / FailedPrecondition name the path.
absl::StatusOr<std::unique_ptr<ByteSource>> OpenSource(const std::string& path);
// The same over bytes in memory (tests and fuzzers); `data` must outlive it.
std::unique_ptr<ByteSource> MemorySource(std::string_view data);

// How the reader opens one named input (OpenSource for ReadInputs).
using OpenFn = std::function<absl::StatusOr<std::unique_ptr<ByteSource>>(const std::string&)>;
// ReadInputs over names that `open` resolves (no directory expansion): lets
// tests and fuzzers read bytes from memory through the whole pipeline.
absl::StatusOr<ReadResult> ReadWith(const std::vector<std::string>& names, OpenFn open,
                                    const ReadOptions& options, const EventFn& fn);
// Wraps `raw` in a gzip/zstd decoder when its first bytes are that magic
// (the detection OpenSource applies); `name` is used in errors.
std::unique_ptr<ByteSource> MaybeDecompress(std::string_view head, std::unique_ptr<ByteSource> raw,
                                            const std::string& name);

// ---------------------------------------------------------------------------
// Arena: stable storage for strings that outlive one line (until the chunk
// that produced them has been emitted). Not thread-safe.
class Arena {
 public:
  std::string_view Copy(std::string_view s) {
    if (s.empty()) return {};
    char* p = Alloc(s.size());
    std::memcpy(p, s.data(), s.size());
    return {p, s.size()};
  }
  char* Alloc(size_t n);
  void Reset();  // keeps the blocks for reuse (up to 1 MiB of them)

 private:
  static constexpr size_t kBlock = 64 * 1024;
  std::vector<std::unique_ptr<char[]>> blocks_;
  std::vector<size_t> sizes_;
  size_t cur_ = 0;   // block in use
  size_t used_ = 0;  // bytes used in blocks_[cur_]
};

// ---------------------------------------------------------------------------
// What one line turns into. The parse stage (parallel) produces these; the
// emit stage (serial, in input order) hands each to its format's FormatState
// (trace tags, Claude Code dedup, Codex threads) or, for formats without
// one, straight to EmitSink::Deliver (time range, path tags).
enum class ParsedRecordType : uint8_t {
  kEvent,         // `ev` is complete except trace/path tags
  kTrace,         // tokmeter trace line: ev.trace_id + ev.tags
  kDrops,         // tokmeter drops line: `count`
  kClaude,        // Claude Code candidate: ev + dedup fields below
  kClaudePrompt,  // Claude Code user prompt: ev.trace_id (session), ev.span_id (uuid), agent
  kCodexContext,  // Codex turn_context: ev.model
  kCodexSession,  // Codex session_meta: ev.trace_id (id), ev.tag("project"), codex_parent
  kCodexTokens,   // Codex token_count: codex_last / codex_total
};

// Codex token counts as the session log writes them (OpenAI semantics):
// `input` includes the cached and cache-write parts, `output` includes
// reasoning.
struct CodexUsage {
  int64_t input = 0;
  int64_t cached = 0;
  int64_t cache_write = 0;
  int64_t output = 0;
  int64_t reasoning = 0;
  bool zero() const {
    return input == 0 && cached == 0 && cache_write == 0 && output == 0 && reasoning == 0;
  }
  friend bool operator==(const CodexUsage&, const CodexUsage&) = default;
};

struct ParsedRecord {
  ParsedRecordType type = ParsedRecordType::kEvent;
  int64_t line = 0;  // 1-based within the chunk; the emit stage makes it absolute
  UsageEvent ev;
  int64_t count = 0;
  // kClaude
  std::string_view dedup_key;  // message.id; empty = no dedup
  bool sidechain = false;      // also kCodexSession: a sub-agent's session (thread_spawn)
  // kClaude: the message's tool_use blocks in this line, packed as pairs of
  // uint64 (the block's id hash, the hash of its name and input), in order.
  std::string_view claude_tools;
  // kCodexSession: the thread this one was forked from (forked_from_id)
  std::string_view codex_forked_from;
  std::string_view codex_spawned_by;  // thread_spawn.parent_thread_id
  // kCodexTokens
  bool has_last = false;
  bool has_total = false;
  CodexUsage codex_last, codex_total;
};

// State a parser carries through one chunk.
struct ParseContext {
  Arena* arena = nullptr;
  std::vector<ParsedRecord>* out = nullptr;
  int64_t line = 0;
  // The chunk's bytes: views into them live as long as the records.
  const char* buf_begin = nullptr;
  const char* buf_end = nullptr;
  // Bytes up to here may be read (not used) past a line's end: lets parsers
  // that read ahead (simdjson) parse in place. nullptr = only the line.
  const char* readable_end = nullptr;
  // `s` itself when it lies in the chunk, else a copy in the arena.
  std::string_view Keep(std::string_view s) {
    if (s.data() >= buf_begin && s.data() + s.size() <= buf_end) return s;
    return arena->Copy(s);
  }
};

// ---------------------------------------------------------------------------
// The emit stage, as a format's stateful rules see it.

// Where a FormatState hands what it decides. Extra tags (a trace's) are
// merged after the event's own.
class EmitSink {
 public:
  using Tags = std::vector<std::pair<std::string, std::string>>;
  // Tags the caller keeps alive for the call.
  using TagViews = std::span<const std::pair<std::string_view, std::string_view>>;
  // An event of input `input` (time range, then tags, then the callback).
  virtual void Deliver(int input, UsageEvent& ev, TagViews extra_tags = {}) = 0;
  // An event that adds to one already delivered (following: the growth of a
  // Claude Code message released before its last snapshot): delivered like
  // Deliver, not counted as a record.
  virtual void DeliverUpdate(int input, UsageEvent& ev) = 0;
  // `n` records of `input` dropped as copies of records counted elsewhere.
  virtual void Duplicate(int input, int64_t n = 1) = 0;
  // Records the writer of `input` lost (tokmeter `drops`).
  virtual void Dropped(int input, int64_t n) = 0;
  // `input` holds usage records, whether or not they end up counted there.
  virtual void UsageSeen(int input) = 0;

 protected:
  ~EmitSink() = default;
};

// A format's rules that span lines or inputs: one instance per ReadInputs
// call (or Follower), called on the emit thread only, with the format's
// records in input order (line numbers absolute, ev.input_index set).
class FormatState {
 public:
  virtual ~FormatState() = default;
  virtual void Add(int input, ParsedRecord& r, EmitSink& out) = 0;
  // After the last input: events held back until every input was read.
  virtual void Finish(EmitSink& out) {}
  // Following only (a state made with following = true):
  // `input` did not grow for FollowOptions::settle_polls Polls, or ended
  // (deleted, replaced, truncated): what it holds back may be delivered.
  virtual void Idle(int input, EmitSink& out) {}
  // The end of a Poll: every input's new bytes were read.
  virtual void EndOfPass(EmitSink& out) {}
};

// ---------------------------------------------------------------------------
// Format registry (formats/registry.cc; one file per format in formats/).
// To add a line-based format: write `bool SniffX(line)` and
// `LineResult ParseX(line, ctx)` (and a FormatState if it has rules across
// lines) in a new file, and add one row to the registry. To add a
// whole-file format (e.g. tokmeter protobuf files): a row of FileFormats()
// with a sniff over the first bytes and a reader over the whole stream.
enum class LineResult : uint8_t {
  kOk,   // recognised (whether or not it produced records)
  kBad,  // recognised format, malformed line: skipped and counted
};

struct LineFormat {
  SourceFormat format;
  // Cheap test on the line (callers pass the whole line, no newline).
  bool (*sniff)(std::string_view line);
  LineResult (*parse)(std::string_view line, ParseContext& ctx);
};
// The FormatState of `format`, or nullptr when it has none (its records
// are complete events). `following`: the rules for growing files (Follower;
// docs/READERS.md "Following files"): events are released as the files
// grow rather than after the last input, and state kept across lines is
// bounded.
std::unique_ptr<FormatState> NewFormatState(SourceFormat format, bool following = false);
// In priority order; the first whose sniff accepts the line parses it.
const std::vector<LineFormat>& LineFormats();

// Decodes a whole-file format incrementally, for files that grow
// (Follower). One per file; not thread-safe.
class FileFeeder {
 public:
  virtual ~FileFeeder() = default;
  // `data` is the file's bytes after those already consumed. Decodes the
  // complete records at its start and appends them to ctx.out, stopping
  // after the first one that produced records (their views may point into
  // the feeder's state until the next call); returns the bytes consumed
  // (0: nothing complete yet). Bad records are counted in *bad; an error
  // means the rest of the file cannot be read.
  virtual absl::StatusOr<size_t> Feed(std::string_view data, ParseContext& ctx, int64_t* bad) = 0;
};

struct FileFormat {
  SourceFormat format;
  // `head` is the first (up to 4 KiB) decompressed bytes of the input.
  bool (*sniff)(std::string_view head);
  // Reads the whole stream (after `head`, which it is given again) and
  // appends records to ctx.out; records carry ev.line = 0. Bad records are
  // counted in *bad. Called on one thread.
  absl::Status (*read)(std::string_view head, ByteSource& rest, ParseContext& ctx, int64_t* bad);
  // Whether `head` (the first bytes of a file, possibly fewer than the
  // format's marker) may still turn out to be this format as the file grows.
  bool (*maybe)(std::string_view head) = nullptr;
  // An incremental decoder for a file that grows, or nullptr when the
  // format's framing does not allow one.
  std::unique_ptr<FileFeeder> (*follow)() = nullptr;
};
const std::vector<FileFormat>& FileFormats();

// Which files a directory walk picks up (explicit file arguments are always
// read): *.jsonl, *.ndjson, *.json, *.log and those with .gz/.zst, plus
// extensions registered by file formats.
bool WantedInDirectory(std::string_view filename);

// Parses one line with the registry; returns its format through *format
// (unchanged when no format recognises the line) and whether it was bad.
// `hint` is the format of the previous line of the same input (tried first).
LineResult ParseLine(std::string_view line, ParseContext& ctx, int hint, int* format_index);

// What parsing a run of whole lines (or a whole-file format's records)
// gives the emit stage.
struct ParsedBlock {
  std::vector<ParsedRecord> records;
  int64_t bytes = 0;          // input bytes the block covers
  int64_t lines = 0;          // lines, blank ones included
  int64_t content_lines = 0;  // non-blank lines
  int64_t bad_count = 0;
  std::vector<int64_t> bad_lines;  // 1-based within the block, up to 5
  // Undecodable data found while reading: counted as bad lines, the first
  // at the line after the block.
  int64_t extra_bad = 0;
  int first_format = -1;  // LineFormats() index of the first line recognised
  int file_format = -1;   // FileFormats() index, for a whole-file format
  void Clear() {
    records.clear();
    bytes = lines = content_lines = bad_count = extra_bad = 0;
    bad_lines.clear();
    first_format = file_format = -1;
  }
};

// The one line loop (ReadInputs and Follower): splits `text` into lines
// (the last one may lack its '\n'; a '\r' before '\n' is dropped), skips
// blank lines, parses the others with ParseLine and counts them into *out
// (lines, content_lines, bad_count, bad_lines, first_format; records into
// ctx.out). *hint carries the format of the previous line across calls.
// ctx.line is set to each line's number within `text`.
void ParseLines(std::string_view text, ParseContext& ctx, int* hint, ParsedBlock* out);

// The emit stage, shared by ReadInputs and Follower: per-input summaries,
// the formats' stateful rules (FormatState), the time range, path tags and
// the callback. Not thread-safe: one thread at a time.
class Emitter final : public EmitSink {
 public:
  Emitter(const ReadOptions& options, bool following);
  // A new input (a file; for Follower, each file generation); its index.
  int AddInput(const std::string& path);
  // Where events go; must outlive the calls that emit.
  void SetCallback(const EventFn* fn) { fn_ = fn; }
  // An input whose events are not delivered (nor counted): it is read only
  // for the state later lines need (Follower, from_start = false).
  void SetQuiet(int input, bool quiet) { inputs_[size_t(input)].quiet = quiet; }
  // One block of `input`, in order: counts, then records to their formats.
  void Emit(int input, ParsedBlock& block);
  // After the last input (ReadInputs).
  void Finish();
  // Following: FormatState::Idle / EndOfPass of every format.
  void Idle(int input);
  void EndOfPass();
  int num_inputs() const { return int(inputs_.size()); }
  // The summary of `input` so far (format and empty resolved).
  InputSummary Summary(int input) const;

  // EmitSink: the time range, then the merged tags (the event's own win
  // over the format's extra tags — a trace's — which win over path tags),
  // then the callback.
  void Deliver(int input, UsageEvent& ev, TagViews extra_tags = {}) override;
  void DeliverUpdate(int input, UsageEvent& ev) override;
  void Duplicate(int input, int64_t n = 1) override;
  void Dropped(int input, int64_t n) override;
  void UsageSeen(int input) override { inputs_[size_t(input)].usage_seen = true; }

 private:
  struct InputState {
    InputSummary summary;
    Tags path_tags;
    bool usage_seen = false;
    bool quiet = false;
    int64_t line_offset = 0;
    int64_t content_lines = 0;
  };
  bool InRange(int64_t t) const;
  bool Send(InputState& st, UsageEvent& ev, TagViews extra_tags);

  const ReadOptions& opts_;
  std::vector<std::string> pattern_;  // path_tags, split into components
  const EventFn* fn_ = nullptr;
  std::vector<InputState> inputs_;
  // The formats' stateful rules, by SourceFormat.
  std::vector<std::unique_ptr<FormatState>> states_;
};

// ---------------------------------------------------------------------------
// Helpers shared by the format parsers.

// ev.SetTag(key, value) with `key` kept past the line; `value` must outlive
// the chunk (a view into it, ctx.Keep()'s copy, or a literal): a
// JsonField's text may live in the parser's buffers.
void AddTag(UsageEvent& ev, std::string_view key, std::string_view value, ParseContext& ctx);
// A JSON number as a token count, clamped to [0, kMaxTokenCount]
// (tokmeter/buckets.h); 0 for others.
int64_t Count(const JsonField& f);
// One JsonCapture per thread, reused for every line.
JsonCapture& Capture();
// `{ ... }` after trimming blanks: cheap check that a line is an object.
bool LooksLikeObject(std::string_view line);
// A timestamp field: null or "" is no timestamp (time stays 0); any other
// value must be an RFC 3339 time ParseTime accepts, else false (the line is
// bad: skipped and counted, never an event silently dated 1970).
bool ReadTime(const JsonField& f, int64_t* unix_ns);
// The first n bytes of a line, where format markers are looked for.
inline std::string_view Head(std::string_view line, size_t n = 256) { return line.substr(0, n); }

// RFC 3339 / ISO 8601 UTC time ("2026-11-23T09:00:01.25Z", offsets allowed)
// to Unix ns. false when it is not such a time.
bool ParseTime(std::string_view s, int64_t* unix_ns);
// 16 hex digits (or fewer) to a number; 0 when not hex.
uint64_t ParseHex64(std::string_view s);
// Debian's abseil has its own absl::string_view (not std::string_view), so
// these replace absl::StartsWith & co. for std::string_view.
inline bool SvStartsWith(std::string_view s, std::string_view p) { return s.starts_with(p); }
inline bool SvEndsWith(std::string_view s, std::string_view p) { return s.ends_with(p); }
// Decimal integer (optional sign), whole string; false otherwise.
bool ParseInt(std::string_view s, int64_t* out);
std::vector<std::string_view> SplitPath(std::string_view s);

// Substring search for the hot paths: SSE2 filter on the needle's first and
// last bytes, then memcmp (scalar elsewhere). npos when absent.
size_t FastFind(std::string_view hay, std::string_view needle, size_t from = 0);
inline bool Contains(std::string_view hay, std::string_view needle) {
  return FastFind(hay, needle) != std::string_view::npos;
}
// Given s[open] == '{' or '[', the index just past the matching close
// bracket, skipping strings (escapes honoured); npos if unbalanced.
size_t SkipBalanced(std::string_view s, size_t open);
// Given s[open] == '"', the index just past the closing quote (escapes
// honoured); npos if the string does not end.
size_t SkipString(std::string_view s, size_t open);
// Given the start of a JSON value, the index just past it (strings, objects
// and arrays matched; scalars up to the next ',', '}', ']' or blank); npos
// when it does not end. Values are not validated.
size_t SkipValue(std::string_view s, size_t pos);

// The UTF-8 byte-order mark some editors and Windows tools write at the
// start of a file: not part of the first line.
inline constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";
// Whether a line's first member is written with blanks around ':' or after
// '{' ({ "a": 1, "b": 2 }, as Python's json.dumps does): O(1), looks at the
// head only. Such lines are read through CompactJson.
bool LooksSpaced(std::string_view line);
// The JSON text without the blanks outside strings (the same value, in the
// compact form the sniffers and fast paths look for): `line` itself when it
// has none, else a copy in *buf.
std::string_view CompactJson(std::string_view line, std::string* buf);
// Calls fn(key, value) for each member of the JSON object starting at
// s[open] == '{' (key raw, without quotes; value raw, trailing blanks
// removed). Does not validate beyond the structure; false when malformed or
// when fn returns false. *end (when given) is set past the closing '}'.
bool ForEachMember(std::string_view s, size_t open,
                   absl::FunctionRef<bool(std::string_view, std::string_view)> fn,
                   size_t* end = nullptr);

}  // namespace tokmeter::analysis::reader_internal

#endif  // TOKMETER_ANALYSIS_READER_INTERNAL_H_
