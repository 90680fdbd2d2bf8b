// The parse loop over whole lines and the emit stage (reader_internal.h),
// shared by ReadInputs (reader.cc) and Follower (follow.cc): one code path
// from a line to an event, whichever reads the bytes.
#include <algorithm>
#include <cstring>

#include "src/analysis/reader_internal.h"

namespace tokmeter::analysis::reader_internal {
namespace {

// "runs/{workflow}/{run}/*" against path components: literal components must
// match, {name} captures one component, * matches one (a trailing * matches
// the rest, at least one), ** matches any number. The pattern may start at
// any component of the path; the first match wins.
bool MatchAt(const std::vector<std::string>& parts, const std::vector<std::string_view>& comps,
             size_t ci, size_t pi, EmitSink::Tags* tags) {
  if (pi == parts.size()) return true;
  const std::string& p = parts[pi];
  bool last = pi + 1 == parts.size();
  if (p == "**") {
    for (size_t k = ci; k <= comps.size(); ++k) {
      size_t keep = tags->size();
      if (MatchAt(parts, comps, k, pi + 1, tags)) return true;
      tags->resize(keep);
    }
    return false;
  }
  if (ci >= comps.size()) return false;
  if (p == "*") return last ? true : MatchAt(parts, comps, ci + 1, pi + 1, tags);
  if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
    tags->emplace_back(p.substr(1, p.size() - 2), std::string(comps[ci]));
    if (MatchAt(parts, comps, ci + 1, pi + 1, tags)) return true;
    tags->pop_back();
    return false;
  }
  return p == comps[ci] && MatchAt(parts, comps, ci + 1, pi + 1, tags);
}

void MatchPathPattern(const std::vector<std::string>& parts, std::string_view path,
                      EmitSink::Tags* tags) {
  std::vector<std::string_view> comps = SplitPath(path);
  for (size_t start = 0; start < comps.size(); ++start) {
    tags->clear();
    if (MatchAt(parts, comps, start, 0, tags)) return;
  }
  tags->clear();
}

// Keys of one length mostly differ in their first byte ("model", "agent"):
// checked before calling memcmp (2 % of `tokmeter detect`'s profile samples).
inline bool SameKey(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         (a.empty() || (a[0] == b[0] && std::memcmp(a.data(), b.data(), a.size()) == 0));
}

template <typename TagRange>
void AddMissingTags(UsageEvent& ev, const TagRange& tags) {
  for (const auto& [k, v] : tags) {
    bool present = false;
    for (int i = 0; i < ev.num_tags && !present; ++i) present = SameKey(ev.tags[i].first, k);
    if (!present && ev.num_tags < UsageEvent::kMaxTags) ev.tags[ev.num_tags++] = {k, v};
  }
}

}  // namespace

void ParseLines(std::string_view text, ParseContext& ctx, int* hint, ParsedBlock* out) {
  const char* p = text.data();
  const char* end = p + text.size();
  int64_t ln = 0;
  while (p < end) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', size_t(end - p)));
    const char* le = nl ? nl : end;
    ++ln;
    std::string_view line(p, size_t(le - p));
    p = le + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    // A byte-order mark starts the file (or a file concatenated into this
    // one): not part of the line, in any format.
    if (line.size() >= 3 && line[0] == '\xEF' && line.starts_with(kUtf8Bom)) {
      line.remove_prefix(3);
    }
    if (line.empty() || ((line[0] == ' ' || line[0] == '\t') &&
                         line.find_first_not_of(" \t\r\f\v") == std::string_view::npos)) {
      continue;  // blank line
    }
    ++out->content_lines;
    ctx.line = ln;
    int fi = *hint;
    LineResult r = ParseLine(line, ctx, *hint, &fi);
    if (r == LineResult::kBad) {
      ++out->bad_count;
      if (out->bad_lines.size() < 5) out->bad_lines.push_back(ln);
    } else {
      *hint = fi;
      if (out->first_format < 0) out->first_format = fi;
    }
  }
  out->lines += ln;
}

Emitter::Emitter(const ReadOptions& options, bool following) : opts_(options) {
  for (std::string_view c : SplitPath(options.path_tags)) pattern_.emplace_back(c);
  for (int f = 0; f < kNumSourceFormats; ++f) {
    states_.push_back(NewFormatState(SourceFormat(f), following));
  }
}

int Emitter::AddInput(const std::string& path) {
  InputState& st = inputs_.emplace_back();
  st.summary.path = path;
  if (!pattern_.empty()) MatchPathPattern(pattern_, path, &st.path_tags);
  return int(inputs_.size()) - 1;
}

void Emitter::Emit(int input, ParsedBlock& b) {
  InputState& st = inputs_[size_t(input)];
  InputSummary& s = st.summary;
  if (b.file_format >= 0 && s.format.empty()) {
    s.format = std::string(SourceFormatName(FileFormats()[size_t(b.file_format)].format));
  }
  if (s.format.empty() && b.first_format >= 0) {
    s.format = std::string(SourceFormatName(LineFormats()[size_t(b.first_format)].format));
  }
  if (!st.quiet) {
    s.bytes += b.bytes;
    for (int64_t l : b.bad_lines) {
      if (s.first_bad_lines.size() < 5) s.first_bad_lines.push_back(l + st.line_offset);
    }
    s.skipped_lines += b.bad_count + b.extra_bad;
    if (b.extra_bad && s.first_bad_lines.size() < 5) {
      s.first_bad_lines.push_back(st.line_offset + b.lines + 1);
    }
    s.lines += b.lines;
  }
  for (ParsedRecord& r : b.records) {
    r.ev.line = r.line + st.line_offset;
    r.ev.input_index = input;
    FormatState* state = states_[size_t(r.ev.format)].get();
    if (state != nullptr) {
      state->Add(input, r, *this);
    } else if (r.type == ParsedRecordType::kEvent) {
      Deliver(input, r.ev);
    }
  }
  st.line_offset += b.lines;
  st.content_lines += b.content_lines;
}

void Emitter::Finish() {
  for (auto& state : states_) {
    if (state != nullptr) state->Finish(*this);
  }
}

void Emitter::Idle(int input) {
  for (auto& state : states_) {
    if (state != nullptr) state->Idle(input, *this);
  }
}

void Emitter::EndOfPass() {
  for (auto& state : states_) {
    if (state != nullptr) state->EndOfPass(*this);
  }
}

InputSummary Emitter::Summary(int input) const {
  const InputState& st = inputs_[size_t(input)];
  InputSummary s = st.summary;
  if (s.format.empty()) s.format = st.content_lines == 0 ? "empty" : "unknown";
  s.empty = !st.usage_seen && s.dropped_records == 0;
  return s;
}

bool Emitter::InRange(int64_t t) const {
  if (opts_.since_unix_ns == 0 && opts_.until_unix_ns == 0) return true;
  if (t == 0) return false;
  if (opts_.since_unix_ns != 0 && t < opts_.since_unix_ns) return false;
  if (opts_.until_unix_ns != 0 && t >= opts_.until_unix_ns) return false;
  return true;
}

// Tags are merged in place: the event's own first, then the missing extra
// and path tags.
bool Emitter::Send(InputState& st, UsageEvent& ev, TagViews extra_tags) {
  st.usage_seen = true;
  if (st.quiet || !InRange(ev.time_unix_ns)) return false;
  AddMissingTags(ev, extra_tags);
  AddMissingTags(ev, st.path_tags);
  (*fn_)(ev);
  return true;
}

void Emitter::Deliver(int input, UsageEvent& ev, TagViews extra_tags) {
  InputState& st = inputs_[size_t(input)];
  if (Send(st, ev, extra_tags)) ++st.summary.records;
}

void Emitter::DeliverUpdate(int input, UsageEvent& ev) { Send(inputs_[size_t(input)], ev, {}); }

void Emitter::Duplicate(int input, int64_t n) {
  InputState& st = inputs_[size_t(input)];
  if (!st.quiet) st.summary.duplicates += n;
}

void Emitter::Dropped(int input, int64_t n) {
  InputState& st = inputs_[size_t(input)];
  if (!st.quiet) st.summary.dropped_records += n;
}

}  // namespace tokmeter::analysis::reader_internal
