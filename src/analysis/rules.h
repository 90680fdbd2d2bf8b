// src/analysis/rules.h — every detector threshold, in one place.
//
// Each constant names the rule that uses it and where the figure comes from
// (a seed document, or our own choice with the reason). The offline
// detectors (detectors.h), the quota view (quota.h) and, later, the live
// monitor read these and nothing else; change a threshold here and every
// consumer follows.
#ifndef TOKMETER_ANALYSIS_RULES_H_
#define TOKMETER_ANALYSIS_RULES_H_

#include <cstdint>

namespace tokmeter::analysis::rules {

// --- Windows (seed 000: "tokens_total per 5 minutes (p95 + max)") ---------
inline constexpr int64_t kDefaultWindowNs = int64_t{5} * 60 * 1'000'000'000;

// --- spike: a window far above the typical window ---------------------------
// A window is a spike when its tokens are >= kSpikeMedianMultiple × the
// median (p50) of the active windows AND above their p95 (so at most 5 % of
// windows are spikes) AND >= kSpikeMinTokens (so a quiet log with 10-token
// windows does not report a 60-token "spike").
inline constexpr double kSpikeMedianMultiple = 5.0;
inline constexpr int64_t kSpikeMinTokens = 10'000;
// Spikes need a distribution: fewer active windows than this, no spikes.
inline constexpr int kSpikeMinWindows = 4;
// Top contributors listed per spike (sessions, jobs, tools).
inline constexpr int kSpikeTopContributors = 3;

// --- loop: the same call repeated in one session (seeds 000, 003) -----------
// The same fingerprint (or the same tool with the same `args` tag) seen at
// least this many times in one session, excluding 429 responses (those are
// retry_storm's evidence).
inline constexpr int kLoopMinRepeats = 5;

// --- fanout: one turn with many tool calls (seed 000) ----------------------
inline constexpr int kFanoutMinToolCalls = 10;

// --- context_bloat: input growing turn after turn (seed 003) ----------------
// In one session, over its LLM requests in time order: at least
// kBloatMinRequests requests, the last prompt >= kBloatGrowthFactor × the
// first, and at least kBloatIncreasingShare of consecutive steps increase.
inline constexpr int kBloatMinRequests = 6;
inline constexpr double kBloatGrowthFactor = 3.0;
inline constexpr double kBloatIncreasingShare = 0.8;
// Prompts smaller than this at the end are not worth a finding.
inline constexpr int64_t kBloatMinLastPrompt = 20'000;

// --- retry_storm: bursts of 429s (seeds 000, 003) ---------------------------
// At least this many 429s inside one window (kDefaultWindowNs).
inline constexpr int kRetryStormMin429 = 5;

// --- background: cron/heartbeat spend while people are idle (seed 000) -----
// Background = events tagged `job` or `heartbeat=true`. An hour is idle when
// no interactive (non-background) event falls in it. A finding when the
// background tokens spent in idle hours are >= kBackgroundMinIdleTokens AND
// >= kBackgroundMinIdleShare of all tokens.
inline constexpr int64_t kIdleBucketNs = int64_t{3600} * 1'000'000'000;
inline constexpr int64_t kBackgroundMinIdleTokens = 50'000;
inline constexpr double kBackgroundMinIdleShare = 0.05;

// --- seed 001's recommendation rules, per workflow (or per group) ----------
// Groups with fewer prompt tokens than this are not judged (noise).
inline constexpr int64_t kMinPromptTokensToJudge = 10'000;
// high_io_ratio: "> 100:1 input/output → reduce system prompt or tool
// surface" (seed 001). InputOutputRatio() of event.h.
inline constexpr double kHighIoRatio = 100.0;
// no_cache: "zero cache hits → enable prompt caching" (seed 001).
// low_cache: CacheHitRate() below seed 002's alert ("cache efficiency
// dropped" below 90 %).
inline constexpr double kLowCacheHitRate = 0.90;
// many_small_requests: "many small requests → batching" (seed 001): at
// least kManySmallMinRequestsPerRun requests per run, each below
// kSmallRequestTokens total tokens on average.
inline constexpr double kManySmallMinRequestsPerRun = 20.0;
inline constexpr double kSmallRequestTokens = 5'000.0;
// large_run: "unusually high total → review" (seed 001); seed 002 alerts at
// 3,000,000 tokens per workflow run. A run is large when it is above
// kLargeRunTokens, or above kLargeRunMedianMultiple × the median run (with
// at least kLargeRunMinRuns runs to compare).
inline constexpr int64_t kLargeRunTokens = 3'000'000;
inline constexpr double kLargeRunMedianMultiple = 5.0;
inline constexpr int kLargeRunMinRuns = 4;
inline constexpr int64_t kLargeRunMinTokens = 100'000;
// increasing: tokens up by at least this share vs the previous period
// (seed 001 "flag workflows with increasing token consumption"), when the
// previous period had at least kMinPromptTokensToJudge tokens.
inline constexpr double kIncreasingMinGrowth = 0.25;

// --- quota (seed 002) -------------------------------------------------------
// Alerts when consumption passes these shares of the limit.
inline constexpr double kQuotaAlertShares[] = {0.50, 0.80, 1.00};
// Optimization level by share of quota LEFT: > 60 % minimal, > 30 %
// balanced, > 10 % aggressive, else emergency.
inline constexpr double kLevelMinimalAbove = 0.60;
inline constexpr double kLevelBalancedAbove = 0.30;
inline constexpr double kLevelAggressiveAbove = 0.10;
// Mean tokens per run is measured over this many days before "as of".
inline constexpr int kRunMeanDays = 7;

}  // namespace tokmeter::analysis::rules

#endif  // TOKMETER_ANALYSIS_RULES_H_
