// src/analysis/json_capture.h — validates one JSON text with Boost.JSON's SAX
// parser and captures its scalar members by dotted path ("message.usage.
// input_tokens"), without building a DOM. Members below `max_depth`, and
// inside arrays unless asked, are validated but not captured.
#ifndef TOKMETER_ANALYSIS_JSON_CAPTURE_H_
#define TOKMETER_ANALYSIS_JSON_CAPTURE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tokmeter::analysis::reader_internal {

struct JsonField {
  enum Kind : uint8_t { kString, kInt, kDouble, kBool, kNull };
  std::string_view path;
  // kString: unescaped text; numbers: their JSON text; kBool: "true"/"false".
  std::string_view text;
  Kind kind = kNull;
  int64_t i = 0;  // kInt (clamped into int64), kDouble (truncated), kBool (0/1)
  double d = 0;   // kInt, kDouble
};

// Reusable; not thread-safe. Views in fields() stay valid until the next Parse
// and while the parsed text lives: a field's path or text may point into the
// text itself.
class JsonCapture {
 public:
  JsonCapture();
  ~JsonCapture();
  // true when `text` is exactly one JSON object (surrounding whitespace
  // allowed). Captures scalars up to `max_depth` levels (1 = top-level
  // members only; an array is a level). With `capture_arrays`, members of
  // objects inside arrays are captured too, with the element's index as a
  // path component ("usage.iterations.0.input_tokens"); scalars directly
  // inside arrays never are.
  bool Parse(std::string_view text, int max_depth, bool capture_arrays = false);
  const std::vector<JsonField>& fields() const { return fields_; }

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  std::vector<JsonField> fields_;
};

}  // namespace tokmeter::analysis::reader_internal

#endif  // TOKMETER_ANALYSIS_JSON_CAPTURE_H_
