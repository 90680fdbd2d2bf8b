// The registry of input formats: which formats exist, in which order their
// sniffers are tried, and the line dispatcher. Adding a format: a file in
// this folder (sniff, parse and, if it has one, its FormatState) and one row
// here.
#include "src/analysis/formats/formats.h"

namespace tokmeter::analysis::reader_internal {
namespace {

const std::vector<LineFormat>* BuildLineFormats() {
  // Order matters: the first format whose sniff accepts a line parses it.
  return new std::vector<LineFormat>{
      {SourceFormat::kTokmeterJsonl, SniffTokmeter, ParseTokmeter},
      {SourceFormat::kClaudeCode, SniffClaude, ParseClaude},
      {SourceFormat::kCodex, SniffCodex, ParseCodex},
      {SourceFormat::kTurnSummary, SniffTurnSummary, ParseTurnSummary},
      {SourceFormat::kOtlpJson, SniffOtlp, ParseOtlp},
      {SourceFormat::kTokenUsage, SniffTokenUsage, ParseTokenUsage},
  };
}

}  // namespace

const std::vector<LineFormat>& LineFormats() {
  static const std::vector<LineFormat>* formats = BuildLineFormats();
  return *formats;
}

const std::vector<FileFormat>& FileFormats() {
  // Whole-file formats, tried on the first bytes of every input before line
  // parsing. The tokmeter protobuf reader registers here.
  static const std::vector<FileFormat>* formats =
      new std::vector<FileFormat>{TokmeterProtoFileFormat()};
  return *formats;
}

std::unique_ptr<FormatState> NewFormatState(SourceFormat format, bool following) {
  switch (format) {
    case SourceFormat::kTokmeterJsonl:
    case SourceFormat::kTokmeterProto:
      return NewTokmeterState(following);
    case SourceFormat::kClaudeCode:
      return NewClaudeState(following);
    case SourceFormat::kCodex:
      return NewCodexState(following);
    case SourceFormat::kTokenUsage:
    case SourceFormat::kTurnSummary:
    case SourceFormat::kOtlpJson:
      break;
  }
  return nullptr;
}

bool WantedInDirectory(std::string_view name) {
  for (std::string_view z : {".gz", ".zst"}) {
    if (SvEndsWith(name, z)) name.remove_suffix(z.size());
  }
  return SvEndsWith(name, ".jsonl") || SvEndsWith(name, ".ndjson") || SvEndsWith(name, ".json") ||
         SvEndsWith(name, ".log");
}

namespace {

int IndexOf(SourceFormat f) {
  const std::vector<LineFormat>& formats = LineFormats();
  for (int i = 0; i < int(formats.size()); ++i)
    if (formats[i].format == f) return i;
  return -1;
}

// The format of a line the sniffers missed, from its top-level members (any
// key order): the slow path that keeps a line written by another serializer
// from being skipped. -1 when it is none of ours.
int ClassifyByMembers(std::string_view line) {
  JsonCapture& cap = Capture();
  if (!cap.Parse(line, 1)) return -1;
  bool input = false, output = false, provider = false, claude = false;
  for (const JsonField& f : cap.fields()) {
    std::string_view p = f.path, v = f.text;
    if (p == "type") {
      if (v == "span" || v == "trace" || v == "turn_summary" || v == "drops" || v == "alert")
        return IndexOf(SourceFormat::kTokmeterJsonl);
      if (v == "event_msg" || v == "turn_context" || v == "session_meta" || v == "response_item" ||
          v == "compacted")
        return IndexOf(SourceFormat::kCodex);
      if (v == "summary" || v == "file-history-snapshot") claude = true;
    } else if (p == "kind" && v == "turn_summary") {
      return IndexOf(SourceFormat::kTurnSummary);
    } else if (p == "parentUuid" || p == "sessionId" || p == "leafUuid") {
      claude = true;
    } else if ((p == "_schema" && v.starts_with("token-usage")) ||
               (p == "event" && v == "token_usage")) {
      return IndexOf(SourceFormat::kTokenUsage);
    } else if (p == "input_tokens") {
      input = true;
    } else if (p == "output_tokens") {
      output = true;
    } else if (p == "provider") {
      provider = true;
    }
  }
  if (claude) return IndexOf(SourceFormat::kClaudeCode);
  if (Contains(line, "\"resourceSpans\":")) return IndexOf(SourceFormat::kOtlpJson);
  if (input && output && provider) return IndexOf(SourceFormat::kTokenUsage);
  return -1;
}

// `line` in the compact form, parsed by `format`: strings it keeps are
// copied (Keep), since the compact text is not in the chunk.
LineResult ParseCompact(int format, std::string_view compact, ParseContext& ctx) {
  ParseContext c = ctx;
  c.readable_end = nullptr;  // the compact copy has no bytes past its end to read
  return LineFormats()[format].parse(compact, c);
}

LineResult ParseLineFallbacks(std::string_view line, ParseContext& ctx, int hint,
                              int* format_index) {
  const std::vector<LineFormat>& formats = LineFormats();
  // Transcripts have line types nobody listed, and tokmeter JSONL readers
  // must ignore unknown types: inside a Claude Code, Codex or tokmeter file an
  // unrecognised JSON object is one of those, not a bad line.
  if (hint >= 0 && hint < int(formats.size()) &&
      (formats[hint].format == SourceFormat::kClaudeCode ||
       formats[hint].format == SourceFormat::kCodex ||
       formats[hint].format == SourceFormat::kTokmeterJsonl)) {
    *format_index = hint;
    return formats[hint].parse(line, ctx);
  }
  // Claude Code lines whose markers are not near the start.
  if (HasClaudeUsage(line) && Contains(line, "\"message\":{")) {
    for (int i = 0; i < int(formats.size()); ++i) {
      if (formats[i].format == SourceFormat::kClaudeCode) {
        *format_index = i;
        return formats[i].parse(line, ctx);
      }
    }
  }
  return LineResult::kBad;
}

}  // namespace

LineResult ParseLine(std::string_view line, ParseContext& ctx, int hint, int* format_index) {
  const std::vector<LineFormat>& formats = LineFormats();
  // Blanks after ':' and ',' ({"type": "span", …}): the sniffers and fast
  // paths look for the compact form, so they read the compact copy.
  thread_local std::string compact_buf;
  if (LooksSpaced(line)) {
    std::string_view compact = CompactJson(line, &compact_buf);
    if (compact.size() != line.size()) {
      for (int k = -1; k < int(formats.size()); ++k) {
        const int i = k < 0 ? hint : k;
        if (i < 0 || i >= int(formats.size()) || (k >= 0 && i == hint)) continue;
        if (formats[i].sniff(compact)) {
          *format_index = i;
          return ParseCompact(i, compact, ctx);
        }
      }
      if (int i = ClassifyByMembers(compact); i >= 0) {
        *format_index = i;
        return ParseCompact(i, compact, ctx);
      }
      line = compact;  // the fallbacks below, on the compact text
      ParseContext c = ctx;
      c.readable_end = nullptr;
      int fi = *format_index;
      LineResult r = ParseLineFallbacks(line, c, hint, &fi);
      *format_index = fi;
      return r;
    }
  }
  if (hint >= 0 && hint < int(formats.size()) && formats[hint].sniff(line)) {
    *format_index = hint;
    return formats[hint].parse(line, ctx);
  }
  for (int i = 0; i < int(formats.size()); ++i) {
    if (i == hint) continue;
    if (formats[i].sniff(line)) {
      *format_index = i;
      return formats[i].parse(line, ctx);
    }
  }
  // Markers past the bytes the sniffers look at (another key order).
  if (LooksLikeObject(line)) {
    if (int i = ClassifyByMembers(line); i >= 0) {
      *format_index = i;
      return formats[i].parse(line, ctx);
    }
  }
  return ParseLineFallbacks(line, ctx, hint, format_index);
}

}  // namespace tokmeter::analysis::reader_internal
