#include "src/proto/convert.h"

#include <errno.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "boost/json.hpp"
#include "src/model/jsonl_schema.h"
#include "src/proto/records.h"
#include "tokmeter/sinks.h"

namespace tokmeter::proto {
namespace {

namespace json = boost::json;

// "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" (what the JSONL writer emits) -> Unix ns.
std::optional<int64_t> ParseTimestamp(std::string_view s) {
  if (s.size() != 30 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
      s[16] != ':' || s[19] != '.' || s[29] != 'Z') {
    return std::nullopt;
  }
  auto num = [&](size_t pos, size_t len, int64_t& v) {
    v = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      v = v * 10 + (s[i] - '0');
    }
    return true;
  };
  int64_t y, mo, d, h, mi, sec, frac;
  if (!num(0, 4, y) || !num(5, 2, mo) || !num(8, 2, d) || !num(11, 2, h) || !num(14, 2, mi) ||
      !num(17, 2, sec) || !num(20, 9, frac)) {
    return std::nullopt;
  }
  absl::Time t = absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, sec), absl::UTCTimeZone());
  return absl::ToUnixSeconds(t) * 1000000000 + frac;
}

bool GetInt(const json::value& v, int64_t& out) {
  if (v.is_int64()) {
    out = v.get_int64();
    return true;
  }
  if (v.is_uint64()) {
    out = int64_t(v.get_uint64());
    return true;
  }
  return false;
}

bool GetStr(const json::value& v, std::string_view& out) {
  if (!v.is_string()) return false;
  out = std::string_view(v.get_string().data(), v.get_string().size());
  return true;
}

bool GetTag(std::string_view key, const json::value& v, Tag& out) {
  out.key = key;
  if (v.is_string()) {
    out.type = TagType::kString;
    return GetStr(v, out.str);
  }
  if (v.is_bool()) {
    out.type = TagType::kBool;
    out.num = v.get_bool() ? 1 : 0;
    return true;
  }
  out.type = TagType::kInt;
  return GetInt(v, out.num);
}

bool GetTagObject(const json::value& v, std::vector<Tag>& out) {
  if (!v.is_object()) return false;
  for (const auto& kv : v.get_object()) {
    Tag t;
    if (!GetTag(std::string_view(kv.key().data(), kv.key().size()), kv.value(), t)) return false;
    out.push_back(t);
  }
  return true;
}

// One JSONL line parsed into a record. The views point into `doc`, which
// never moves once parsed (the object is heap-allocated and kept in place).
struct ParsedLine {
  std::string line;  // without '\n'
  json::value doc;
  FileRecordType type = FileRecordType::kJsonlLine;
  TraceRecord trace;
  SpanRecord span;
  RollupRecord rollup;
  DropRecord drops;
  std::vector<Tag> tags;
  std::vector<UserCounter> user_counters;
};

// Parses `p.line` as a tokmeter-jsonl/1 record; false if it is not one.
bool ParseRecord(ParsedLine& p) {
  json::error_code ec;
  p.doc = json::parse(p.line, ec);
  if (ec || !p.doc.is_object()) return false;
  const json::object& o = p.doc.get_object();
  const json::value* type = o.if_contains("type");
  if (type == nullptr || !type->is_string()) return false;
  std::string_view kind(type->get_string().data(), type->get_string().size());
  std::vector<Tag> top, rest;
  auto ts = [](const json::value& v, int64_t& out) {
    std::string_view s;
    if (!GetStr(v, s)) return false;
    std::optional<int64_t> t = ParseTimestamp(s);
    if (!t) return false;
    out = *t;
    return true;
  };
  auto trace_id = [](const json::value& v, TraceId& out) {
    std::string_view s;
    if (!GetStr(v, s)) return false;
    out = TraceId::FromHex(s);
    return out.valid();
  };
  auto span_id = [](const json::value& v, uint64_t& out) {
    std::string_view s;
    if (!GetStr(v, s) || s.size() != 16) return false;
    out = SpanIdFromHex(s);
    return true;
  };
  auto counter = [](std::string_view key, const json::value& v, Counters& c) {
    std::optional<Counter> which = CounterFromName(key);
    int64_t n;
    if (!which || !GetInt(v, n)) return false;
    c.Add(*which, n);
    return true;
  };

  if (kind == "span") {
    SpanRecord& s = p.span;
    for (const auto& kv : o) {
      std::string_view key(kv.key().data(), kv.key().size());
      const json::value& v = kv.value();
      bool ok = true;
      if (key == "type" || key == "duration_ms") {
      } else if (key == "timestamp") {
        ok = ts(v, s.end_unix_ns);
      } else if (key == "start") {
        ok = ts(v, s.start_unix_ns);
      } else if (key == "trace_id") {
        ok = trace_id(v, s.trace_id);
      } else if (key == "span_id") {
        ok = span_id(v, s.span_id);
      } else if (key == "parent_id") {
        ok = span_id(v, s.parent_id);
      } else if (key == "root") {
        ok = v.is_bool();
        s.is_trace_root = ok && v.get_bool();
      } else if (key == "kind") {
        ok = GetStr(v, s.kind);
      } else if (key == "name") {
        ok = GetStr(v, s.name);
      } else if (key == "thread") {
        int64_t n = 0;
        ok = GetInt(v, n);
        s.thread_id = uint32_t(n);
      } else if (key == "fingerprint") {
        ok = span_id(v, s.fingerprint);
        s.has_fingerprint = true;
      } else if (key == "tags") {
        ok = GetTagObject(v, rest);
      } else if (key == "counters") {
        ok = v.is_object();
        if (ok) {
          for (const auto& c : v.get_object()) {
            UserCounter uc;
            uc.name = std::string_view(c.key().data(), c.key().size());
            if (!GetInt(c.value(), uc.value)) return false;
            p.user_counters.push_back(uc);
          }
        }
      } else if (model::jsonl::IsTopLevelTag(key)) {
        Tag t;
        ok = GetTag(key, v, t);
        top.push_back(t);
      } else {
        ok = counter(key, v, s.counters);
      }
      if (!ok) return false;
    }
    p.tags = std::move(top);
    p.tags.insert(p.tags.end(), rest.begin(), rest.end());
    s.tags = p.tags;
    s.user_counters = p.user_counters;
    p.type = FileRecordType::kSpan;
    return true;
  }
  if (kind == "trace") {
    TraceRecord& t = p.trace;
    for (const auto& kv : o) {
      std::string_view key(kv.key().data(), kv.key().size());
      const json::value& v = kv.value();
      bool ok;
      if (key == "type") {
        ok = true;
      } else if (key == "trace_id") {
        ok = trace_id(v, t.trace_id);
      } else if (key == "span_id") {
        ok = span_id(v, t.root_span_id);
      } else if (key == "timestamp") {
        ok = ts(v, t.start_unix_ns);
      } else if (key == "kind") {
        ok = GetStr(v, t.kind);
      } else if (key == "name") {
        ok = GetStr(v, t.name);
      } else if (key == "tags") {
        ok = GetTagObject(v, p.tags);
      } else {
        ok = false;
      }
      if (!ok) return false;
    }
    t.tags = p.tags;
    p.type = FileRecordType::kTrace;
    return true;
  }
  if (kind == "turn_summary") {
    RollupRecord& r = p.rollup;
    for (const auto& kv : o) {
      std::string_view key(kv.key().data(), kv.key().size());
      const json::value& v = kv.value();
      bool ok;
      if (key == "type" || key == "duration_ms") {
        ok = true;
      } else if (key == "scope") {
        ok = GetStr(v, r.scope);
      } else if (key == "timestamp") {
        ok = ts(v, r.end_unix_ns);
      } else if (key == "start") {
        ok = ts(v, r.start_unix_ns);
      } else if (key == "trace_id") {
        ok = trace_id(v, r.trace_id);
      } else if (key == "span_id") {
        ok = span_id(v, r.span_id);
      } else if (key == "kind") {
        ok = GetStr(v, r.kind);
      } else if (key == "name") {
        ok = GetStr(v, r.name);
      } else if (key == "spans") {
        ok = GetInt(v, r.spans);
      } else if (key == "tags") {
        ok = GetTagObject(v, p.tags);
      } else {
        ok = counter(key, v, r.totals);
      }
      if (!ok) return false;
    }
    r.trace_tags = p.tags;
    p.type = FileRecordType::kRollup;
    return true;
  }
  if (kind == "drops") {
    DropRecord& d = p.drops;
    for (const auto& kv : o) {
      std::string_view key(kv.key().data(), kv.key().size());
      const json::value& v = kv.value();
      int64_t n = 0;
      bool ok;
      if (key == "type") {
        ok = true;
      } else if (key == "timestamp") {
        ok = ts(v, d.time_unix_ns);
      } else if (key == "thread") {
        ok = GetInt(v, n);
        d.thread_id = uint32_t(n);
      } else if (key == "dropped") {
        ok = GetInt(v, n);
        d.dropped = uint64_t(n);
      } else if (key == "total_dropped") {
        ok = GetInt(v, n);
        d.total_dropped = uint64_t(n);
      } else {
        ok = false;
      }
      if (!ok) return false;
    }
    p.type = FileRecordType::kDrops;
    return true;
  }
  return false;
}

Batch OneRecord(const ParsedLine& p) {
  Batch b;
  switch (p.type) {
    case FileRecordType::kTrace:
      b.traces.push_back(p.trace);
      break;
    case FileRecordType::kSpan:
      b.spans.push_back(p.span);
      break;
    case FileRecordType::kRollup:
      b.rollups.push_back(p.rollup);
      break;
    case FileRecordType::kDrops:
      b.drops.push_back(p.drops);
      break;
    case FileRecordType::kAlert:  // alert lines are kept verbatim (ParseRecord)
    case FileRecordType::kJsonlLine:
    case FileRecordType::kStrings:
    case FileRecordType::kUnknown:
      break;
  }
  return b;
}

// Output to a temporary file renamed into place on success, or stdout.
class Output {
 public:
  absl::Status Open(const std::string& path) {
    path_ = path;
    if (path == "-") {
      f_ = stdout;
      return absl::OkStatus();
    }
    tmp_ = absl::StrCat(path, ".tmp.", ::getpid());
    f_ = std::fopen(tmp_.c_str(), "wb");
    if (f_ == nullptr) {
      return absl::UnavailableError(
          absl::StrCat("cannot create ", tmp_, ": ", std::strerror(errno)));
    }
    return absl::OkStatus();
  }
  ~Output() {
    if (f_ != nullptr && f_ != stdout) {
      std::fclose(f_);
      std::remove(tmp_.c_str());
    }
  }
  absl::Status Write(std::string& buf) {
    bytes_ += int64_t(buf.size());
    if (!buf.empty() && std::fwrite(buf.data(), 1, buf.size(), f_) != buf.size()) {
      return absl::DataLossError(absl::StrCat("writing ", path_, ": ", std::strerror(errno)));
    }
    buf.clear();
    return absl::OkStatus();
  }
  absl::Status Commit() {
    if (f_ == stdout) {
      std::fflush(f_);
      return absl::OkStatus();
    }
    int rc = std::fclose(f_);
    f_ = nullptr;
    if (rc != 0 || std::rename(tmp_.c_str(), path_.c_str()) != 0) {
      std::remove(tmp_.c_str());
      return absl::DataLossError(absl::StrCat("writing ", path_, ": ", std::strerror(errno)));
    }
    return absl::OkStatus();
  }
  int64_t bytes() const { return bytes_; }

 private:
  std::string path_, tmp_;
  FILE* f_ = nullptr;
  int64_t bytes_ = 0;
};

constexpr size_t kLinesPerChunk = 4096;

absl::Status JsonlToProtobuf(std::istream& in, const std::string& in_name, Output& out,
                             ConvertStats& stats) {
  std::string buf;
  AppendFileHeader(buf, absl::GetCurrentTimeNanos());
  ChunkEncoder enc;
  std::deque<ParsedLine> lines;  // alive until the chunk that views them is finished
  std::string rendered;
  auto flush = [&]() -> absl::Status {
    enc.Finish(buf);
    lines.clear();
    return out.Write(buf);
  };
  std::string line;
  while (std::getline(in, line)) {
    stats.bytes_in += int64_t(line.size()) + (in.eof() ? 0 : 1);
    ParsedLine& p = lines.emplace_back();
    p.line = std::move(line);
    line = std::string();
    bool exact = ParseRecord(p);
    if (exact) {
      rendered.clear();
      AppendJsonl(OneRecord(p), rendered);
      exact = rendered.size() == p.line.size() + 1 &&
              std::string_view(rendered).substr(0, p.line.size()) == p.line;
    }
    switch (exact ? p.type : FileRecordType::kJsonlLine) {
      case FileRecordType::kTrace:
        enc.AddTrace(p.trace);
        break;
      case FileRecordType::kSpan:
        enc.AddSpan(p.span);
        break;
      case FileRecordType::kRollup:
        enc.AddRollup(p.rollup);
        break;
      case FileRecordType::kDrops:
        enc.AddDrops(p.drops);
        break;
      case FileRecordType::kAlert:
      case FileRecordType::kJsonlLine:
      case FileRecordType::kStrings:
      case FileRecordType::kUnknown:
        enc.AddJsonlLine(p.line);
        ++stats.verbatim_lines;
        break;
    }
    ++stats.records;
    if (lines.size() >= kLinesPerChunk) {
      absl::Status st = flush();
      if (!st.ok()) return st;
    }
  }
  if (in.bad()) return absl::DataLossError(absl::StrCat("reading ", in_name));
  return flush();
}

absl::Status ProtobufToJsonl(RecordReader& reader, Output& out, ConvertStats& stats) {
  std::string buf;
  FileRecordView rec;
  for (;;) {
    absl::StatusOr<bool> more = reader.Next(rec);
    if (!more.ok()) return more.status();
    if (!*more) break;
    if (rec.type == FileRecordType::kJsonlLine) {
      buf.append(rec.jsonl_line);
      buf.push_back('\n');
    } else {
      AppendJsonl(rec.batch, buf);
    }
    ++stats.records;
    if (buf.size() >= (size_t{1} << 20)) {
      absl::Status st = out.Write(buf);
      if (!st.ok()) return st;
    }
  }
  stats.bytes_in = int64_t(reader.bytes_read());
  return out.Write(buf);
}

}  // namespace

absl::Status Convert(const std::string& in, const std::string& out, ConvertStats* stats_out) {
  ConvertStats stats;
  // Sniff: stdin is read whole into memory; a file is peeked at.
  std::string stdin_data;
  std::string_view head;
  char magic[8] = {};
  if (in == "-") {
    stdin_data.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    head = stdin_data;
  } else {
    std::ifstream f(in, std::ios::binary);
    if (!f) {
      return absl::NotFoundError(absl::StrCat("cannot open ", in, ": ", std::strerror(errno)));
    }
    f.read(magic, sizeof(magic));
    head = std::string_view(magic, size_t(f.gcount()));
  }
  stats.to_protobuf = !model::proto_file::HasMagic(head);

  Output output;
  absl::Status st = output.Open(out);
  if (!st.ok()) return st;
  if (stats.to_protobuf) {
    if (in == "-") {
      std::istringstream s(std::move(stdin_data));
      st = JsonlToProtobuf(s, in, output, stats);
    } else {
      std::ifstream f(in, std::ios::binary);
      st = JsonlToProtobuf(f, in, output, stats);
    }
  } else {
    absl::StatusOr<std::unique_ptr<RecordReader>> reader =
        in == "-" ? RecordReader::FromBuffer(stdin_data, "stdin") : RecordReader::Open(in);
    if (!reader.ok()) return reader.status();
    st = ProtobufToJsonl(**reader, output, stats);
  }
  if (!st.ok()) return st;
  st = output.Commit();
  if (!st.ok()) return st;
  stats.bytes_out = output.bytes();
  if (stats_out != nullptr) *stats_out = stats;
  return absl::OkStatus();
}

}  // namespace tokmeter::proto
