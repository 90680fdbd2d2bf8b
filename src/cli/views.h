// src/cli/views.h — pieces of pages several commands show: the header (as
// of, period, inputs), data-quality notes, "no data", findings, the totals
// table, per-row tables with model breakdowns, and time charts.
#ifndef TOKMETER_CLI_VIEWS_H_
#define TOKMETER_CLI_VIEWS_H_

#include <string>
#include <vector>

#include "boost/json.hpp"
#include "src/cli/page.h"

namespace tokmeter::cli {

// Title, and the meta lines every page opens with: "As of … (latest event)",
// the period, the inputs read.
void Header(const boost::json::object& doc, const std::string& title, Page& p);
// "No usage data found …" when doc.no_data; returns true then (the page
// adds nothing else but DataNotes).
bool NoData(const boost::json::object& doc, Page& p);
// Empty inputs, bad lines, drops, unpriced models.
void DataNotes(const boost::json::object& doc, Page& p);
// The period as a label: "2026-11-23", "2026-11-17 – 2026-11-23", or
// "no data" (from doc.period, in the document's tz; until is exclusive).
std::string PeriodLabel(const boost::json::object& doc);

std::vector<Finding> Findings(const boost::json::array& findings);
// Input, output, cache read/write, total, requests, cost, rates of one
// totals object (docs/REPORT_JSON.md).
Table TotalsTable(const boost::json::object& t);
// One row per element of `rows` (key column `key`, header `key_title`),
// breakdown rows per model only where a row has more than one model, and a
// total row from doc.totals.
Table RowsTable(const boost::json::object& doc, const boost::json::array& rows, const char* key,
                const std::string& key_title);
// "claude-sonnet-4-5 71%, gpt-5 29%".
std::string ModelMix(const boost::json::object& row);
// Milliseconds since the epoch of an RFC 3339 time ("" → 0).
double EpochMs(const std::string& rfc3339);

}  // namespace tokmeter::cli

#endif  // TOKMETER_CLI_VIEWS_H_
