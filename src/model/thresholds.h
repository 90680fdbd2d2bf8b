// src/model/thresholds.h — every rule threshold, in one place.
//
// Each constant names the rule that uses it and why the figure is what it
// is (docs/RULES.md has the rationale per rule). The detectors, the quota
// view and the live monitor read these and nothing else; change a threshold
// here and every consumer follows.
#ifndef TOKMETER_MODEL_THRESHOLDS_H_
#define TOKMETER_MODEL_THRESHOLDS_H_

#include <cstdint>

namespace tokmeter::thresholds {

// --- Windows: tokens per 5 minutes (p95 and max) is the figure to watch ---
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

// --- loop: the same call repeated in one session ---------------------------
// The same fingerprint (or the same tool with the same `args` tag) seen at
// least this many times in one session, excluding 429 responses (those are
// retry_storm's evidence).
inline constexpr int kLoopMinRepeats = 5;

// --- fanout: one turn with many tool calls ----------------------------------
inline constexpr int kFanoutMinToolCalls = 10;

// --- context_bloat: input growing turn after turn ---------------------------
// In one session, over its LLM requests in time order: at least
// kBloatMinRequests requests, the last prompt >= kBloatGrowthFactor × the
// first, and at least kBloatIncreasingShare of consecutive steps increase.
inline constexpr int kBloatMinRequests = 6;
inline constexpr double kBloatGrowthFactor = 3.0;
inline constexpr double kBloatIncreasingShare = 0.8;
// Prompts smaller than this at the end are not worth a finding.
inline constexpr int64_t kBloatMinLastPrompt = 20'000;

// --- retry_storm: bursts of 429s --------------------------------------------
// At least this many 429s inside one window (kDefaultWindowNs).
inline constexpr int kRetryStormMin429 = 5;

// --- background: cron/heartbeat spend while people are idle ----------------
// Background = events tagged `job` or `heartbeat=true`. An hour is idle when
// no interactive (non-background) event falls in it. A finding when the
// background tokens spent in idle hours are >= kBackgroundMinIdleTokens AND
// >= kBackgroundMinIdleShare of all tokens.
inline constexpr int64_t kIdleBucketNs = int64_t{3600} * 1'000'000'000;
inline constexpr int64_t kBackgroundMinIdleTokens = 50'000;
inline constexpr double kBackgroundMinIdleShare = 0.05;

// --- recommendation rules, per workflow (or per group) ----------------------
// Groups with fewer prompt tokens than this are not judged (noise).
inline constexpr int64_t kMinPromptTokensToJudge = 10'000;
// high_io_ratio: more than 100:1 input/output → reduce the system prompt or
// the tool surface. InputOutputRatio() of tokmeter/buckets.h.
inline constexpr double kHighIoRatio = 100.0;
// no_cache: zero cache hits → enable prompt caching.
// low_cache: CacheHitRate() below 90 %, where cache efficiency has dropped
// enough to investigate prompt stability.
inline constexpr double kLowCacheHitRate = 0.90;
// many_small_requests: many small requests → batching: at least kManySmallMinRequestsPerRun
// requests per run, each below kSmallRequestTokens total tokens on average.
inline constexpr double kManySmallMinRequestsPerRun = 20.0;
inline constexpr double kSmallRequestTokens = 5'000.0;
// large_run: an unusually high total → review; 3,000,000 tokens per
// workflow run is a high-quota run whatever the history. A run is large when it is above
// kLargeRunTokens, or above kLargeRunMedianMultiple × the median run (with
// at least kLargeRunMinRuns runs to compare).
inline constexpr int64_t kLargeRunTokens = 3'000'000;
inline constexpr double kLargeRunMedianMultiple = 5.0;
inline constexpr int kLargeRunMinRuns = 4;
inline constexpr int64_t kLargeRunMinTokens = 100'000;
// increasing: tokens up by at least this share vs the previous period
// (workflows with increasing token consumption), when the
// previous period had at least kMinPromptTokensToJudge tokens.
inline constexpr double kIncreasingMinGrowth = 0.25;

// --- quota ------------------------------------------------------------------
// Alerts when consumption passes these shares of the limit.
inline constexpr double kQuotaAlertShares[] = {0.50, 0.80, 1.00};
// Optimization level by share of quota LEFT: > 60 % minimal, > 30 %
// balanced, > 10 % aggressive, else emergency.
inline constexpr double kLevelMinimalAbove = 0.60;
inline constexpr double kLevelBalancedAbove = 0.30;
inline constexpr double kLevelAggressiveAbove = 0.10;
// Mean tokens per run is measured over this many days before "as of".
inline constexpr int kRunMeanDays = 7;

}  // namespace tokmeter::thresholds

#endif  // TOKMETER_MODEL_THRESHOLDS_H_
