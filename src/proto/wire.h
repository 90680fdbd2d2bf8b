// src/proto/wire.h — the few protobuf wire-format primitives tokmeter's
// hand-written encoders use (varints, tags, fixed ints, nested lengths).
//
// The encoders write the wire format directly instead of filling generated
// messages: no allocation per record, and the flusher's string views are
// written without copies. The generated classes (same .proto files) decode
// what these write; the tests check one against the other.
#ifndef TOKMETER_SRC_PROTO_WIRE_H_
#define TOKMETER_SRC_PROTO_WIRE_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace tokmeter::proto::internal {

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

}  // namespace tokmeter::proto::internal

#endif  // TOKMETER_SRC_PROTO_WIRE_H_
