// tokmeter::analysis: a token-usage log read, stored, summed and priced.
#include <cmath>
#include <cstdio>
#include <fstream>

#include "tokmeter/analysis/aggregate.h"
#include "tokmeter/analysis/reader.h"
#include "tokmeter/analysis/store.h"
#include "tokmeter/pricing/pricing.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: analysis_consumer FILE.jsonl\n");
    return 2;
  }
  {
    std::ofstream f(argv[1]);
    for (int i = 0; i < 3; ++i) {
      f << R"({"_schema":"token-usage/1","timestamp":"2026-08-20T10:00:0)" << i
        << R"(.000Z","event":"token_usage","provider":"anthropic","model":"claude-sonnet-4-5",)"
        << R"("path":"/v1/messages","input_tokens":100,"output_tokens":10,)"
        << R"("cache_read_tokens":1000,"cache_write_tokens":0})"
        << "\n";
    }
  }
  namespace an = tokmeter::analysis;
  const tokmeter::PriceTable& prices = tokmeter::PriceTable::Builtin();
  an::EventStore store([&](const an::UsageEvent& e) { return prices.Cost(e); });
  auto read = an::ReadInputs({argv[1]}, {}, [&](const an::UsageEvent& e) { store.Add(e); });
  if (!read.ok()) {
    std::fprintf(stderr, "%s\n", read.status().ToString().c_str());
    return 1;
  }
  store.Finish();
  an::Summary sum = an::Summarize(store.records());
  // 3 lines: 300 input, 3,000 cache read, 30 output = 3,330 tokens.
  std::printf("analysis: %lld events, %lld tokens, $%.6f\n", (long long)sum.total.events,
              (long long)sum.total.total(), sum.total.cost_usd);
  return sum.total.events == 3 && sum.total.total() == 3330 && sum.total.cost_usd > 0 ? 0 : 1;
}
