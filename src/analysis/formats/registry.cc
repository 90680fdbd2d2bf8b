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

LineResult ParseLine(std::string_view line, ParseContext& ctx, int hint, int* format_index) {
  const std::vector<LineFormat>& formats = LineFormats();
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

}  // namespace tokmeter::analysis::reader_internal
