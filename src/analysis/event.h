// src/analysis/event.h — the analysis library's names for the shared model
// types: the usage event (src/model/usage_event.h) and the token buckets with
// their derived figures (tokmeter/buckets.h).
#ifndef TOKMETER_ANALYSIS_EVENT_H_
#define TOKMETER_ANALYSIS_EVENT_H_

#include "src/model/usage_event.h"
#include "tokmeter/buckets.h"

namespace tokmeter::analysis {

using ::tokmeter::CacheHitRate;
using ::tokmeter::InputOutputRatio;
using ::tokmeter::kNumSourceFormats;
using ::tokmeter::PromptCacheShare;
using ::tokmeter::SourceFormat;
using ::tokmeter::SourceFormatName;
using ::tokmeter::TokenBuckets;
using ::tokmeter::UsageEvent;

}  // namespace tokmeter::analysis

#endif  // TOKMETER_ANALYSIS_EVENT_H_
