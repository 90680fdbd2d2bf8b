// src/analysis/formats/formats.h — the input formats the reader knows, one
// file each in this folder: its sniffer, its line (or file) parser and, when
// it has rules across lines or inputs, its FormatState. The registry
// (registry.cc) lists them in the order their sniffers are tried.
#ifndef TOKMETER_ANALYSIS_FORMATS_FORMATS_H_
#define TOKMETER_ANALYSIS_FORMATS_FORMATS_H_

#include <memory>
#include <string_view>

#include "src/analysis/reader_internal.h"

namespace tokmeter::analysis::reader_internal {

// tokmeter JSONL (tokmeter_jsonl.cc): "type":"span"/"trace"/"turn_summary"/
// "drops" near the start.
bool SniffTokmeter(std::string_view line);
LineResult ParseTokmeter(std::string_view line, ParseContext& ctx);
// tokmeter protobuf files (tokmeter_proto.cc), a whole-file format.
FileFormat TokmeterProtoFileFormat();
// Both tokmeter formats (tokmeter_state.cc): a trace's latest tags applied
// to its later spans; drops counted per input. Following, the trace tags
// kept are bounded (the traces used most recently).
std::unique_ptr<FormatState> NewTokmeterState(bool following = false);

// API-proxy token-usage.jsonl (token_usage.cc).
bool SniffTokenUsage(std::string_view line);
LineResult ParseTokenUsage(std::string_view line, ParseContext& ctx);

// turn_summary lines (turn_summary.cc).
bool SniffTurnSummary(std::string_view line);
LineResult ParseTurnSummary(std::string_view line, ParseContext& ctx);

// Claude Code transcripts (claude_code.cc): one event per message.id across
// all inputs.
bool SniffClaude(std::string_view line);
LineResult ParseClaude(std::string_view line, ParseContext& ctx);
// Whether a line has a raw `"usage":{` (Claude Code usage lines whose
// markers are not near the start).
bool HasClaudeUsage(std::string_view line);
// Following: a message is released when its agent's next message arrives in
// the same file or its file idles; later copies are deduplicated against the
// recent messages (docs/READERS.md "Following files").
std::unique_ptr<FormatState> NewClaudeState(bool following = false);

// Codex CLI session logs (codex.cc): each request once, by the movement of
// its thread's totals; forked threads' copies of their parent not counted.
bool SniffCodex(std::string_view line);
LineResult ParseCodex(std::string_view line, ParseContext& ctx);
// Following: forked threads are counted at the end of each Poll.
std::unique_ptr<FormatState> NewCodexState(bool following = false);

// OTLP JSON (otlp_json.cc).
bool SniffOtlp(std::string_view line);
LineResult ParseOtlp(std::string_view line, ParseContext& ctx);

}  // namespace tokmeter::analysis::reader_internal

#endif  // TOKMETER_ANALYSIS_FORMATS_FORMATS_H_
