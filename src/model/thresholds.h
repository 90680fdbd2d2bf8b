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

// --- State a batch run keeps: sessions and turns nobody writes to --------
// A run over files keeps a session's (and a turn's) state until nobody has
// written to it for kSessionIdleNs of event time — a lunch break or a
// meeting keeps a session's loop, growth and baseline state — and for at
// least 16,384 records (rules::IdleSweep; inputs are read in the order
// given, so event time can go back from one file to the next: a session
// being written to is never closed). Its open episodes then become findings and its memory is
// freed; one that comes back later starts afresh. The live monitor and
// `watch` keep what their retain period says instead.
inline constexpr int64_t kSessionIdleNs = int64_t{6} * 3600 * 1'000'000'000;

// --- spike: a window far above what came before it ------------------------
// Windows are the aligned kDefaultWindowNs windows (5 minutes). A window's
// baseline is the windows of the previous kSpikeBaselineNs (24 h) of the same
// kind — windows with interactive use, or windows of background work only
// (a night of heartbeats is no baseline for the working day) — that had
// tokens and were not spikes themselves: a robust, trailing baseline, so one
// spike cannot hide the next. A window is a spike when its tokens are >=
// kSpikeMedianMultiple x the baseline's median AND >= kSpikeP95Multiple x its
// p95 (far above the usual busy windows, not merely busy) AND >=
// kSpikeMinTokens. With fewer than kSpikeMinBaselineWindows baseline windows
// (two hours of that kind of use) there is nothing to compare with: no spike.
inline constexpr int64_t kSpikeBaselineNs = int64_t{24} * 3600 * 1'000'000'000;
inline constexpr int kSpikeMinBaselineWindows = 24;
// Windows quieter than this are idle time (a heartbeat, a stray call), not
// use: they are left out of the baseline.
inline constexpr int64_t kSpikeBaselineMinWindowTokens = 20'000;
inline constexpr double kSpikeMedianMultiple = 10.0;
inline constexpr double kSpikeP95Multiple = 5.0;
inline constexpr int64_t kSpikeMinTokens = 200'000;
// Spike windows closer than this are one episode (one finding).
inline constexpr int64_t kSpikeMergeGapNs = int64_t{15} * 60 * 1'000'000'000;
// Top contributors listed per spike (sessions, jobs, tools, models).
inline constexpr int kSpikeTopContributors = 3;

// --- loop: the same call repeated in one session ---------------------------
// The same fingerprint (or the same tool with the same `args` tag) seen at
// least kLoopMinRepeats times in one session, each within kLoopHorizonNs of
// the previous one, and making up at least kLoopMinShare of the session's
// calls of its kind meanwhile — of its tool calls for a tool call, of its
// model requests for a request — (a `git status` now and then among a coding
// session's hundred tool calls is not a loop; the same call over and over,
// with a model request between each, is), excluding 429 responses (those are
// retry_storm's evidence).
inline constexpr int kLoopMinRepeats = 5;
inline constexpr int64_t kLoopHorizonNs = int64_t{30} * 60 * 1'000'000'000;
inline constexpr double kLoopMinShare = 1.0 / 3.0;
// Records without a fingerprint (turn summaries, proxy logs): at least
// kNearMinStreak consecutive requests or turns of one session that are
// near-identical — each within kNearMaxGapNs of the previous, the same
// number of tool calls, the prompt within kNearPromptTolerance (or
// kNearPromptSlack tokens) and the output within kNearOutputTolerance (or
// kNearOutputSlack tokens) of the previous one.
inline constexpr int kNearMinStreak = 8;
inline constexpr int64_t kNearMaxGapNs = int64_t{120} * 1'000'000'000;
inline constexpr double kNearPromptTolerance = 0.03;
inline constexpr int64_t kNearPromptSlack = 200;
inline constexpr double kNearOutputTolerance = 0.10;
inline constexpr int64_t kNearOutputSlack = 20;
// A loop is critical when the tokens spent while it repeated reach this.
inline constexpr int64_t kLoopCriticalTokens = 1'000'000;

// --- fanout: one turn with many tool calls ----------------------------------
// A turn with >= kFanoutP95Multiple x the tool calls of the 95th-percentile
// turn among the previous kFanoutHistoryTurns turns of the same kind
// (interactive, or background work) that used tools, and >= kFanoutMinToolCalls; with fewer
// than kFanoutMinHistoryTurns turns to compare with, >=
// kFanoutShortHistoryMin. Relative, because what is normal differs by an
// order of magnitude between agents: a chat assistant's turn makes 0-5 tool
// calls, a coding agent's often 10-30.
inline constexpr int kFanoutMinToolCalls = 40;
inline constexpr double kFanoutP95Multiple = 5.0;
inline constexpr int kFanoutHistoryTurns = 200;
inline constexpr int kFanoutMinHistoryTurns = 30;
inline constexpr int kFanoutShortHistoryMin = 60;

// --- context_bloat: input growing turn after turn ---------------------------
// In one session, over its prompts (per turn: the first request of each
// turn, or a turn summary's input per model call — divided by its requests,
// or when it does not say, by its tool calls + 1, as each tool result goes
// back to the model in one more call; per request when the source has no
// turns):
// within at most kBloatMaxSteps consecutive prompts (at least
// kBloatMinRequests of them), the median of the last three is >=
// kBloatGrowthFactor x the median of the first three (medians: one odd
// turn — a tiny first prompt, a turn of many calls — decides nothing),
// the growth is steady — >=
// kBloatIncreasingShare of the steps increasing (every step, for turn
// summaries: their sums also move with the number of calls in a turn) and
// no single step more than
// kBloatMaxStepShare of the growth (one large tool result is not bloat) —
// and its last two points (per model call) are >= kBloatMinLastPrompt tokens: past where
// agents compact their history, and staying there (the request that
// compacts sends the whole history once). Among the session's last prompts
// the longest such run counts, so earlier turns of another pace do not hide
// it. A prompt below kBloatResetShare of the one before it (a
// compaction or a new conversation) starts the count again. The pace does
// not matter (kBloatMaxSteps only bounds the memory a session keeps): a
// prompt that grows steadily past kBloatMinLastPrompt without compaction is
// bloat whether it took ten turns or twenty.
inline constexpr int kBloatMinRequests = 8;
inline constexpr int kBloatMaxSteps = 24;
inline constexpr double kBloatGrowthFactor = 3.0;
inline constexpr double kBloatIncreasingShare = 0.8;
inline constexpr double kBloatMaxStepShare = 0.4;
inline constexpr int64_t kBloatMinLastPrompt = 180'000;
inline constexpr double kBloatResetShare = 0.5;

// --- retry_storm: bursts of 429s --------------------------------------------
// At least this many 429s within any kDefaultWindowNs (counted per minute,
// so a burst across a window edge still counts). Storm minutes closer than
// kDefaultWindowNs are one episode.
inline constexpr int kRetryStormMin429 = 5;
inline constexpr int64_t kStormBucketNs = int64_t{60} * 1'000'000'000;

// --- background: cron/heartbeat spend while people are idle ----------------
// Background = events tagged `job` or `heartbeat=true`. An hour is idle when
// no interactive (non-background) event falls in it. One finding per
// background source (a cron job, or a heartbeat session) whose tokens in
// idle hours are >= kBackgroundMinIdleTokens and >= kBackgroundMinIdleShare
// of all tokens, at >= kBackgroundMinHourlyTokens per idle hour it ran in: a
// heartbeat polling lightly all night is what it is for (on a quiet weekend
// it can be a tenth of the day); a job burning hundreds of thousands of
// tokens an hour while nobody works is not.
inline constexpr int64_t kIdleBucketNs = int64_t{3600} * 1'000'000'000;
inline constexpr int64_t kBackgroundMinIdleTokens = 100'000;
inline constexpr double kBackgroundMinIdleShare = 0.10;
inline constexpr int64_t kBackgroundMinHourlyTokens = 40'000;

// --- output_ratio_rise: output growing against the prompt -----------------
// In one session: after kRatioBaselineRequests requests (their median
// output/prompt ratio is the session's baseline), kRatioMinStreak
// consecutive requests each with output/prompt >= kRatioRiseMultiple x the
// baseline and >= kRatioMinOutput output tokens. Per group, against the
// previous period: output/prompt >= kRatioGroupRiseMultiple x the previous
// period's, with >= kRatioMinGroupOutput output tokens in both.
inline constexpr int kRatioBaselineRequests = 8;
inline constexpr int kRatioMinStreak = 5;
inline constexpr double kRatioRiseMultiple = 4.0;
inline constexpr int64_t kRatioMinOutput = 2'000;
inline constexpr double kRatioGroupRiseMultiple = 2.0;
inline constexpr int64_t kRatioMinGroupOutput = 50'000;

// --- cache_miss_streak: turns in a row without a cache hit ------------------
// kCacheMissStreak consecutive requests of one session, each with a prompt of
// at least kCacheMissMinPrompt tokens, within kCacheTtlNs of the session's
// previous request (the cache should still hold its prefix: a request after
// a longer pause is expected to miss and does not count), and no cache read.
// Sources that report cache fields only.
inline constexpr int kCacheMissStreak = 5;
inline constexpr int64_t kCacheMissMinPrompt = 10'000;
inline constexpr int64_t kCacheTtlNs = int64_t{300} * 1'000'000'000;

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
// workflow run is a high-quota run whatever the history. A run is large when
// it is above kLargeRunTokens, or — for runs of a workflow, which do the same
// job each time — above kLargeRunMedianMultiple × the workflow's median run
// (with at least kLargeRunMinRuns runs to compare). Interactive sessions vary
// by nature: only the absolute limit applies to them.
inline constexpr int64_t kLargeRunTokens = 3'000'000;
inline constexpr double kLargeRunMedianMultiple = 5.0;
inline constexpr int kLargeRunMinRuns = 4;
// Runs below this are small whatever their multiple of the median (a 5x run
// of 10k tokens is not worth a look).
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
// The level a forecast asks for: minimal while it stays within the limit; up
// to kForecastBalancedUpTo × the limit balanced, up to kForecastAggressiveUpTo
// aggressive, beyond that emergency.
inline constexpr double kForecastBalancedUpTo = 1.10;
inline constexpr double kForecastAggressiveUpTo = 1.50;
// Mean tokens per run is measured over this many days before "as of".
inline constexpr int kRunMeanDays = 7;

}  // namespace tokmeter::thresholds

#endif  // TOKMETER_MODEL_THRESHOLDS_H_
