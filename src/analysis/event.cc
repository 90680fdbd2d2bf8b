// Definitions of the derived figures, used by every command (DESIGN.md).
#include "src/analysis/event.h"

namespace tokmeter::analysis {
namespace {
double Ratio(double num, double den) { return den > 0 ? num / den : 0.0; }
}  // namespace

double CacheHitRate(const TokenBuckets& t) {
  return Ratio(double(t.cache_read), double(t.cache_read + t.input));
}
double PromptCacheShare(const TokenBuckets& t) {
  return Ratio(double(t.cache_read), double(t.prompt()));
}
double InputOutputRatio(const TokenBuckets& t) {
  return Ratio(double(t.prompt()), double(t.output));
}

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
}  // namespace tokmeter::analysis
