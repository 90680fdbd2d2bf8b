// src/model/proto_wire.h — the protobuf wire format as tokmeter writes and
// reads it, by hand: varints, tags, fixed ints, nested lengths, a reading
// cursor. The protobuf file sink, `tokmeter convert`, the OTLP encoder and
// the readers of protobuf files all use these (no generated code and no
// protobuf runtime on those paths: no allocation per record, string views
// written without copies). The generated classes of the same .proto files
// decode what these write; the tests check one against the other.
#ifndef TOKMETER_MODEL_PROTO_WIRE_H_
#define TOKMETER_MODEL_PROTO_WIRE_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace tokmeter::model::wire {

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLen = 2, kFixed32 = 5 };

inline size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

inline char* WriteVarint(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = char(v | 0x80);
    v >>= 7;
  }
  *p++ = char(v);
  return p;
}

inline void PutVarint(std::string& out, uint64_t v) {
  char buf[10];
  out.append(buf, WriteVarint(buf, v) - buf);
}

inline void PutTag(std::string& out, uint32_t field, WireType type) {
  PutVarint(out, (uint64_t{field} << 3) | type);
}

inline void PutVarintField(std::string& out, uint32_t field, uint64_t v) {
  char buf[16];
  char* p = WriteVarint(buf, (uint64_t{field} << 3) | kVarint);
  p = WriteVarint(p, v);
  out.append(buf, p - buf);
}

inline void PutFixed64Field(std::string& out, uint32_t field, uint64_t v) {
  char buf[16];
  char* p = WriteVarint(buf, (uint64_t{field} << 3) | kFixed64);
  for (int i = 0; i < 8; ++i) *p++ = char(v >> (8 * i));  // little endian
  out.append(buf, p - buf);
}

inline void PutFixed32Field(std::string& out, uint32_t field, uint32_t v) {
  char buf[16];
  char* p = WriteVarint(buf, (uint64_t{field} << 3) | kFixed32);
  for (int i = 0; i < 4; ++i) *p++ = char(v >> (8 * i));
  out.append(buf, p - buf);
}

inline void PutBytesField(std::string& out, uint32_t field, std::string_view s) {
  char buf[16];
  char* p = WriteVarint(buf, (uint64_t{field} << 3) | kLen);
  p = WriteVarint(p, s.size());
  out.append(buf, p - buf);
  out.append(s.data(), s.size());
}

// Starts a length-delimited value whose length is not known yet: reserves
// one byte for it and returns its position for EndLength.
inline size_t BeginLength(std::string& out) {
  out.push_back('\0');
  return out.size() - 1;
}
// Writes the length of everything appended since BeginLength(pos), moving
// the content when the varint needs more than one byte.
inline void EndLength(std::string& out, size_t pos) {
  size_t len = out.size() - pos - 1;
  if (len < 0x80) {
    out[pos] = char(len);
    return;
  }
  size_t n = VarintSize(len);
  out.insert(pos + 1, n - 1, '\0');
  WriteVarint(out.data() + pos, len);
}
// A nested message field: tag, then BeginLength.
inline size_t BeginMessage(std::string& out, uint32_t field) {
  PutTag(out, field, kLen);
  return BeginLength(out);
}

// Big-endian bytes of ids (OTLP trace and span ids are byte arrays in W3C
// order).
inline void PutBigEndian64(char* p, uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = char(v & 0xff);
}

// Reads a varint at [*p, end); false when truncated or longer than 10 bytes.
inline bool ReadVarint(const char*& p, const char* end, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && p < end; shift += 7) {
    uint8_t b = uint8_t(*p++);
    v |= uint64_t(b & 0x7f) << shift;
    if (b < 0x80) return true;
  }
  return false;
}

// A reading cursor over one message's bytes. Every read checks the bounds;
// the first malformed byte clears `ok` and ends the message.
struct Reader {
  const char* p;
  const char* end;
  bool ok = true;

  explicit Reader(std::string_view bytes) : p(bytes.data()), end(bytes.data() + bytes.size()) {}
  bool done() const { return p >= end || !ok; }
  uint64_t Varint() {
    uint64_t v = 0;
    if (!ReadVarint(p, end, v)) ok = false;
    return ok ? v : 0;
  }
  uint64_t Fixed64() {
    if (end - p < 8) {
      ok = false;
      return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t(uint8_t(p[i])) << (8 * i);
    p += 8;
    return v;
  }
  std::string_view Bytes() {
    uint64_t n = Varint();
    if (!ok || uint64_t(end - p) < n) {
      ok = false;
      return {};
    }
    std::string_view s(p, size_t(n));
    p += n;
    return s;
  }
  // Reads the next field's tag; false at the end of the message.
  bool Next(uint32_t& field, uint32_t& type) {
    if (done()) return false;
    uint64_t t = Varint();
    field = uint32_t(t >> 3);
    type = uint32_t(t & 7);
    return ok;
  }
  void Skip(uint32_t type) {
    switch (type) {
      case kVarint:
        Varint();
        break;
      case kFixed64:
        p += 8;
        break;
      case kLen:
        Bytes();
        break;
      case kFixed32:
        p += 4;
        break;
      default:
        ok = false;
    }
    if (p > end) ok = false;
  }
};

}  // namespace tokmeter::model::wire

#endif  // TOKMETER_MODEL_PROTO_WIRE_H_
