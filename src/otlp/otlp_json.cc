#include "src/otlp/otlp_json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <span>
#include <vector>

#include "src/model/proto_wire.h"
#include "src/model/utf8.h"

namespace tokmeter::otlp {
namespace {

namespace wire = model::wire;

// How a field's value is written.
enum class Kind : uint8_t {
  kString,         // string
  kBool,           // bool (varint)
  kInt64,          // int64 varint → "123"
  kUint32,         // uint32 varint → 123
  kEnum,           // enum varint → 123
  kFixed32,        // fixed32 → 123
  kFixed64,        // fixed64 → "123"
  kSfixed64,       // sfixed64 → "-123"
  kDouble,         // double (fixed64 bits) → 1.5
  kHexId,          // bytes → "0af7651916cd43dd8448eb211c80319c"
  kBytes,          // bytes → base64
  kMessage,        // a nested message
  kPackedFixed64,  // repeated fixed64 (packed) → ["1", "2"]
  kPackedDouble,   // repeated double (packed) → [1, 2]
};

enum class Msg : uint8_t {
  kTraceRequest,
  kResourceSpans,
  kScopeSpans,
  kSpan,
  kEvent,
  kLink,
  kStatus,
  kMetricsRequest,
  kResourceMetrics,
  kScopeMetrics,
  kMetric,
  kGauge,
  kSum,
  kHistogram,
  kNumberDataPoint,
  kHistogramDataPoint,
  kExemplar,
  kResource,
  kScope,
  kKeyValue,
  kAnyValue,
  kArrayValue,
  kKeyValueList,
  kCount,
};

struct Field {
  uint32_t number;
  std::string_view json;
  Kind kind;
  bool repeated = false;
  Msg sub = Msg::kCount;
};

// Field numbers and names of opentelemetry-proto (common, resource, trace,
// metrics; collector requests), in the order they are written.
const std::vector<Field>& Fields(Msg m) {
  static const std::vector<Field> kTable[size_t(Msg::kCount)] = {
      // kTraceRequest
      {{1, "resourceSpans", Kind::kMessage, true, Msg::kResourceSpans}},
      // kResourceSpans
      {{1, "resource", Kind::kMessage, false, Msg::kResource},
       {2, "scopeSpans", Kind::kMessage, true, Msg::kScopeSpans},
       {3, "schemaUrl", Kind::kString}},
      // kScopeSpans
      {{1, "scope", Kind::kMessage, false, Msg::kScope},
       {2, "spans", Kind::kMessage, true, Msg::kSpan},
       {3, "schemaUrl", Kind::kString}},
      // kSpan
      {{1, "traceId", Kind::kHexId},
       {2, "spanId", Kind::kHexId},
       {3, "traceState", Kind::kString},
       {4, "parentSpanId", Kind::kHexId},
       {16, "flags", Kind::kFixed32},
       {5, "name", Kind::kString},
       {6, "kind", Kind::kEnum},
       {7, "startTimeUnixNano", Kind::kFixed64},
       {8, "endTimeUnixNano", Kind::kFixed64},
       {9, "attributes", Kind::kMessage, true, Msg::kKeyValue},
       {10, "droppedAttributesCount", Kind::kUint32},
       {11, "events", Kind::kMessage, true, Msg::kEvent},
       {12, "droppedEventsCount", Kind::kUint32},
       {13, "links", Kind::kMessage, true, Msg::kLink},
       {14, "droppedLinksCount", Kind::kUint32},
       {15, "status", Kind::kMessage, false, Msg::kStatus}},
      // kEvent
      {{1, "timeUnixNano", Kind::kFixed64},
       {2, "name", Kind::kString},
       {3, "attributes", Kind::kMessage, true, Msg::kKeyValue},
       {4, "droppedAttributesCount", Kind::kUint32}},
      // kLink
      {{1, "traceId", Kind::kHexId},
       {2, "spanId", Kind::kHexId},
       {3, "traceState", Kind::kString},
       {4, "attributes", Kind::kMessage, true, Msg::kKeyValue},
       {5, "droppedAttributesCount", Kind::kUint32},
       {6, "flags", Kind::kFixed32}},
      // kStatus
      {{2, "message", Kind::kString}, {3, "code", Kind::kEnum}},
      // kMetricsRequest
      {{1, "resourceMetrics", Kind::kMessage, true, Msg::kResourceMetrics}},
      // kResourceMetrics
      {{1, "resource", Kind::kMessage, false, Msg::kResource},
       {2, "scopeMetrics", Kind::kMessage, true, Msg::kScopeMetrics},
       {3, "schemaUrl", Kind::kString}},
      // kScopeMetrics
      {{1, "scope", Kind::kMessage, false, Msg::kScope},
       {2, "metrics", Kind::kMessage, true, Msg::kMetric},
       {3, "schemaUrl", Kind::kString}},
      // kMetric
      {{1, "name", Kind::kString},
       {2, "description", Kind::kString},
       {3, "unit", Kind::kString},
       {5, "gauge", Kind::kMessage, false, Msg::kGauge},
       {7, "sum", Kind::kMessage, false, Msg::kSum},
       {9, "histogram", Kind::kMessage, false, Msg::kHistogram},
       {12, "metadata", Kind::kMessage, true, Msg::kKeyValue}},
      // kGauge
      {{1, "dataPoints", Kind::kMessage, true, Msg::kNumberDataPoint}},
      // kSum
      {{1, "dataPoints", Kind::kMessage, true, Msg::kNumberDataPoint},
       {2, "aggregationTemporality", Kind::kEnum},
       {3, "isMonotonic", Kind::kBool}},
      // kHistogram
      {{1, "dataPoints", Kind::kMessage, true, Msg::kHistogramDataPoint},
       {2, "aggregationTemporality", Kind::kEnum}},
      // kNumberDataPoint
      {{7, "attributes", Kind::kMessage, true, Msg::kKeyValue},
       {2, "startTimeUnixNano", Kind::kFixed64},
       {3, "timeUnixNano", Kind::kFixed64},
       {4, "asDouble", Kind::kDouble},
       {6, "asInt", Kind::kSfixed64},
       {5, "exemplars", Kind::kMessage, true, Msg::kExemplar},
       {8, "flags", Kind::kUint32}},
      // kHistogramDataPoint
      {{9, "attributes", Kind::kMessage, true, Msg::kKeyValue},
       {2, "startTimeUnixNano", Kind::kFixed64},
       {3, "timeUnixNano", Kind::kFixed64},
       {4, "count", Kind::kFixed64},
       {5, "sum", Kind::kDouble},
       {6, "bucketCounts", Kind::kPackedFixed64, true},
       {7, "explicitBounds", Kind::kPackedDouble, true},
       {8, "exemplars", Kind::kMessage, true, Msg::kExemplar},
       {10, "flags", Kind::kUint32},
       {11, "min", Kind::kDouble},
       {12, "max", Kind::kDouble}},
      // kExemplar
      {{7, "filteredAttributes", Kind::kMessage, true, Msg::kKeyValue},
       {2, "timeUnixNano", Kind::kFixed64},
       {3, "asDouble", Kind::kDouble},
       {6, "asInt", Kind::kSfixed64},
       {4, "spanId", Kind::kHexId},
       {5, "traceId", Kind::kHexId}},
      // kResource
      {{1, "attributes", Kind::kMessage, true, Msg::kKeyValue},
       {2, "droppedAttributesCount", Kind::kUint32}},
      // kScope
      {{1, "name", Kind::kString},
       {2, "version", Kind::kString},
       {3, "attributes", Kind::kMessage, true, Msg::kKeyValue},
       {4, "droppedAttributesCount", Kind::kUint32}},
      // kKeyValue
      {{1, "key", Kind::kString}, {2, "value", Kind::kMessage, false, Msg::kAnyValue}},
      // kAnyValue
      {{1, "stringValue", Kind::kString},
       {2, "boolValue", Kind::kBool},
       {3, "intValue", Kind::kInt64},
       {4, "doubleValue", Kind::kDouble},
       {5, "arrayValue", Kind::kMessage, false, Msg::kArrayValue},
       {6, "kvlistValue", Kind::kMessage, false, Msg::kKeyValueList},
       {7, "bytesValue", Kind::kBytes}},
      // kArrayValue
      {{1, "values", Kind::kMessage, true, Msg::kAnyValue}},
      // kKeyValueList
      {{1, "values", Kind::kMessage, true, Msg::kKeyValue}},
  };
  return kTable[size_t(m)];
}

// One field occurrence read from the wire.
struct Entry {
  int index;  // into Fields(m)
  uint32_t type;
  uint64_t num;
  std::string_view bytes;
};

void AppendJsonString(std::string& out, std::string_view s) {
  // JSON text is UTF-8: invalid sequences (never from tokmeter's encoders,
  // which repair them) become U+FFFD.
  std::string repaired;
  if (model::Utf8ValidPrefix(s) != s.size()) {
    repaired = model::Utf8Repaired(s);
    s = repaired;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default:
        out.append("\\u00");
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

template <typename T>
void AppendNumber(std::string& out, T v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr - buf);
}

void AppendDouble(std::string& out, double d) {
  if (std::isnan(d)) {
    out.append("\"NaN\"");
  } else if (std::isinf(d)) {
    out.append(d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
  } else {
    AppendNumber(out, d);
  }
}

double DoubleOf(uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, 8);
  return d;
}

void AppendBase64(std::string& out, std::string_view s) {
  static constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  out.push_back('"');
  size_t i = 0;
  for (; i + 3 <= s.size(); i += 3) {
    uint32_t v = uint32_t(uint8_t(s[i])) << 16 | uint32_t(uint8_t(s[i + 1])) << 8 |
                 uint32_t(uint8_t(s[i + 2]));
    out.push_back(kB64[v >> 18]);
    out.push_back(kB64[(v >> 12) & 63]);
    out.push_back(kB64[(v >> 6) & 63]);
    out.push_back(kB64[v & 63]);
  }
  if (size_t rest = s.size() - i; rest > 0) {
    uint32_t v = uint32_t(uint8_t(s[i])) << 16;
    if (rest == 2) v |= uint32_t(uint8_t(s[i + 1])) << 8;
    out.push_back(kB64[v >> 18]);
    out.push_back(kB64[(v >> 12) & 63]);
    out.push_back(rest == 2 ? kB64[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  out.push_back('"');
}

class Transcoder {
 public:
  explicit Transcoder(std::string& out) : out_(out) {}

  bool Message(Msg m, std::string_view bytes, int depth) {
    if (depth > 64) return false;  // AnyValue arrays nest; a bound keeps the stack
    const std::vector<Field>& fields = Fields(m);
    std::vector<Entry> entries;
    wire::Reader r(bytes);
    uint32_t number, type;
    while (r.Next(number, type)) {
      int index = -1;
      for (size_t i = 0; i < fields.size(); ++i) {
        if (fields[i].number == number) index = int(i);
      }
      Entry e{index, type, 0, {}};
      switch (type) {
        case wire::kVarint:
          e.num = r.Varint();
          break;
        case wire::kFixed64:
          e.num = r.Fixed64();
          break;
        case wire::kFixed32: {
          if (r.end - r.p < 4) return false;
          uint32_t v = 0;
          for (int i = 0; i < 4; ++i) v |= uint32_t(uint8_t(r.p[i])) << (8 * i);
          r.p += 4;
          e.num = v;
          break;
        }
        case wire::kLen:
          e.bytes = r.Bytes();
          break;
        default:
          return false;
      }
      if (!r.ok) return false;
      if (index >= 0) entries.push_back(e);
    }
    if (!r.ok) return false;
    // Schema order; the occurrences of a repeated field together, in wire
    // order.
    std::stable_sort(entries.begin(), entries.end(),
                     [](const Entry& a, const Entry& b) { return a.index < b.index; });
    out_.push_back('{');
    bool first = true;
    for (size_t i = 0; i < entries.size();) {
      const Field& f = fields[size_t(entries[i].index)];
      size_t j = i;
      while (j < entries.size() && entries[j].index == entries[i].index) ++j;
      if (!first) out_.push_back(',');
      first = false;
      AppendJsonString(out_, f.json);
      out_.push_back(':');
      if (f.repeated && f.kind == Kind::kMessage) {
        out_.push_back('[');
        for (size_t k = i; k < j; ++k) {
          if (k > i) out_.push_back(',');
          if (entries[k].type != wire::kLen || !Message(f.sub, entries[k].bytes, depth + 1)) {
            return false;
          }
        }
        out_.push_back(']');
      } else if (f.kind == Kind::kPackedFixed64 || f.kind == Kind::kPackedDouble) {
        out_.push_back('[');
        bool any = false;
        for (size_t k = i; k < j; ++k) {
          const Entry& e = entries[k];
          auto item = [&](uint64_t v) {
            if (any) out_.push_back(',');
            any = true;
            if (f.kind == Kind::kPackedDouble) {
              AppendDouble(out_, DoubleOf(v));
            } else {
              out_.push_back('"');
              AppendNumber(out_, v);
              out_.push_back('"');
            }
          };
          if (e.type == wire::kLen) {
            if (e.bytes.size() % 8 != 0) return false;
            for (size_t p = 0; p < e.bytes.size(); p += 8) {
              uint64_t v = 0;
              for (int b = 0; b < 8; ++b) v |= uint64_t(uint8_t(e.bytes[p + b])) << (8 * b);
              item(v);
            }
          } else if (e.type == wire::kFixed64) {
            item(e.num);
          } else {
            return false;
          }
        }
        out_.push_back(']');
      } else {
        // A singular field: the last occurrence wins (protobuf's rule).
        if (!Value(f, entries[j - 1], depth)) return false;
      }
      i = j;
    }
    out_.push_back('}');
    return true;
  }

 private:
  bool Value(const Field& f, const Entry& e, int depth) {
    static constexpr char kHex[] = "0123456789abcdef";
    const bool len = e.type == wire::kLen;
    switch (f.kind) {
      case Kind::kString:
        if (!len) return false;
        AppendJsonString(out_, e.bytes);
        return true;
      case Kind::kBool:
        if (e.type != wire::kVarint) return false;
        out_.append(e.num != 0 ? "true" : "false");
        return true;
      case Kind::kInt64:
        if (e.type != wire::kVarint) return false;
        out_.push_back('"');
        AppendNumber(out_, int64_t(e.num));
        out_.push_back('"');
        return true;
      case Kind::kUint32:
      case Kind::kEnum:
        if (e.type != wire::kVarint) return false;
        AppendNumber(out_,
                     f.kind == Kind::kEnum ? int64_t(int32_t(e.num)) : int64_t(uint32_t(e.num)));
        return true;
      case Kind::kFixed32:
        if (e.type != wire::kFixed32) return false;
        AppendNumber(out_, uint32_t(e.num));
        return true;
      case Kind::kFixed64:
      case Kind::kSfixed64:
        if (e.type != wire::kFixed64) return false;
        out_.push_back('"');
        if (f.kind == Kind::kFixed64) {
          AppendNumber(out_, e.num);
        } else {
          AppendNumber(out_, int64_t(e.num));
        }
        out_.push_back('"');
        return true;
      case Kind::kDouble:
        if (e.type != wire::kFixed64) return false;
        AppendDouble(out_, DoubleOf(e.num));
        return true;
      case Kind::kHexId:
        if (!len) return false;
        out_.push_back('"');
        for (char c : e.bytes) {
          out_.push_back(kHex[uint8_t(c) >> 4]);
          out_.push_back(kHex[uint8_t(c) & 15]);
        }
        out_.push_back('"');
        return true;
      case Kind::kBytes:
        if (!len) return false;
        AppendBase64(out_, e.bytes);
        return true;
      case Kind::kMessage:
        return len && Message(f.sub, e.bytes, depth + 1);
      case Kind::kPackedFixed64:
      case Kind::kPackedDouble:
        return false;  // handled by Message
    }
    return false;
  }

  std::string& out_;
};

}  // namespace

absl::Status AppendOtlpJson(OtlpSignal signal, std::string_view proto, std::string& out) {
  const size_t size = out.size();
  Transcoder t(out);
  if (!t.Message(signal == OtlpSignal::kTraces ? Msg::kTraceRequest : Msg::kMetricsRequest, proto,
                 0)) {
    out.resize(size);
    return absl::InvalidArgumentError(signal == OtlpSignal::kTraces
                                          ? "not a well-formed ExportTraceServiceRequest"
                                          : "not a well-formed ExportMetricsServiceRequest");
  }
  return absl::OkStatus();
}

}  // namespace tokmeter::otlp
