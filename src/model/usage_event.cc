// Names of the source formats.
#include "src/model/usage_event.h"

namespace tokmeter {
std::string_view SourceFormatName(SourceFormat f) {
  switch (f) {
    case SourceFormat::kTokmeterJsonl:
      return "tokmeter";
    case SourceFormat::kTokmeterProto:
      return "tokmeter-proto";
    case SourceFormat::kTokenUsage:
      return "token-usage";
    case SourceFormat::kTurnSummary:
      return "turn-summary";
    case SourceFormat::kClaudeCode:
      return "claude-code";
    case SourceFormat::kCodex:
      return "codex";
    case SourceFormat::kOtlpJson:
      return "otlp-json";
  }
  return "unknown";
}
}  // namespace tokmeter
