// JsonCapture: Boost.JSON basic_parser with a handler that records scalars by
// path. Strings and paths are copied into one reusable buffer; fields refer to
// it by offset until the parse ends, then become views.
#include "src/analysis/json_capture.h"

#include <boost/json/basic_parser_impl.hpp>
#include <cmath>
#include <limits>

namespace tokmeter::analysis::reader_internal {
namespace {

// A string the handler keeps: a view into the parsed text when the parser
// handed out one (unescaped, unsplit strings and keys), else bytes appended
// to `store` (referred to by offset: the store may move while parsing).
struct Ref {
  const char* ptr = nullptr;  // into the input, or nullptr when stored
  uint32_t off = 0;
  uint32_t len = 0;
};

struct RawField {
  Ref path, text;
  JsonField::Kind kind;
  int64_t i;
  double d;
};

struct Handler {
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  int max_depth = 1;
  bool capture_arrays = false;       // capture objects inside arrays, by index
  int depth = 0;                     // object/array nesting, root object = 1
  int array_nesting = 0;             // arrays on the stack
  std::vector<uint32_t> next_index;  // per open array: the index of its next element
  bool in_array = false;             // the innermost open container is an array
  std::string path;                  // dotted path of the current object
  std::vector<uint32_t> frames;      // path length before each container
  std::string key;                   // the current key when it is not a view
  std::string_view key_view;         // the current key (view into input or `key`)
  bool key_done = true;
  std::string str;
  bool str_done = true;
  std::string num;
  bool num_done = true;
  std::string store;
  std::vector<RawField> raw;
  const char* in_begin = nullptr;
  const char* in_end = nullptr;

  void Reset() {
    depth = 0;
    array_nesting = 0;
    next_index.clear();
    kinds.clear();
    in_array = false;
    path.clear();
    frames.clear();
    key.clear();
    key_view = {};
    key_done = str_done = num_done = true;
    store.clear();
    raw.clear();
  }
  bool Capturing() const {
    return (array_nesting == 0 || (capture_arrays && !in_array)) && depth <= max_depth;
  }
  bool InInput(std::string_view v) const {
    return v.data() >= in_begin && v.data() + v.size() <= in_end;
  }
  static bool IsBoolLiteral(std::string_view v) {
    return v.data() == kTrue.data() || v.data() == kFalse.data();
  }
  static constexpr std::string_view kTrue = "true", kFalse = "false";
  Ref Keep(std::string_view v) {
    Ref r;
    r.len = uint32_t(v.size());
    if (InInput(v) || IsBoolLiteral(v)) {  // static storage: a view is safe
      r.ptr = v.data();
    } else {
      r.off = uint32_t(store.size());
      store.append(v);
    }
    return r;
  }

  void Add(JsonField::Kind kind, std::string_view text, int64_t i, double d) {
    if (!Capturing() || raw.size() >= 512) return;
    RawField f;
    if (path.empty()) {
      f.path = Keep(key_view);
    } else {
      f.path.off = uint32_t(store.size());
      store.append(path);
      store.push_back('.');
      store.append(key_view);
      f.path.len = uint32_t(store.size() - f.path.off);
    }
    f.text = Keep(text);
    f.kind = kind;
    f.i = i;
    f.d = d;
    raw.push_back(f);
  }
  void Push(bool is_array) {
    frames.push_back(uint32_t(path.size()));
    if (depth > 0) {
      if (array_nesting == 0 && !is_array) {
        if (!path.empty()) path.push_back('.');
        path.append(key_view);
      } else if (capture_arrays) {
        // An array's path is its key; an element's, its index.
        if (!path.empty()) path.push_back('.');
        if (in_array) {
          path.append(std::to_string(next_index.back()++));
        } else {
          path.append(key_view);
        }
      }
    }
    ++depth;
    if (is_array) {
      ++array_nesting;
      next_index.push_back(0);
    }
    kinds.push_back(is_array);
    in_array = is_array;
  }
  void Pop(bool is_array) {
    if (!frames.empty()) {
      path.resize(frames.back());
      frames.pop_back();
    }
    --depth;
    if (is_array) {
      --array_nesting;
      next_index.pop_back();
    }
    if (!kinds.empty()) kinds.pop_back();
    in_array = !kinds.empty() && kinds.back();
  }
  std::vector<bool> kinds;  // per open container: true for an array

  using ec_t = boost::json::error_code;
  using sv = boost::json::string_view;
  static std::string_view S(sv s) { return {s.data(), s.size()}; }

  bool on_document_begin(ec_t&) { return true; }
  bool on_document_end(ec_t&) { return true; }
  bool on_object_begin(ec_t&) {
    Push(false);
    return true;
  }
  bool on_object_end(std::size_t, ec_t&) {
    Pop(false);
    return true;
  }
  bool on_array_begin(ec_t&) {
    Push(true);
    return true;
  }
  bool on_array_end(std::size_t, ec_t&) {
    Pop(true);
    return true;
  }
  bool on_key_part(sv s, std::size_t, ec_t&) {
    if (key_done) key.clear();
    key_done = false;
    key.append(s.data(), s.size());
    return true;
  }
  bool on_key(sv s, std::size_t, ec_t&) {
    if (key_done) {
      key_view = S(s);
      if (!InInput(key_view)) {
        key.assign(key_view);
        key_view = key;
      }
    } else {
      key.append(s.data(), s.size());
      key_view = key;
    }
    key_done = true;
    return true;
  }
  bool on_string_part(sv s, std::size_t, ec_t&) {
    if (!Capturing()) return true;
    if (str_done) str.clear();
    str_done = false;
    str.append(s.data(), s.size());
    return true;
  }
  bool on_string(sv s, std::size_t, ec_t&) {
    if (!Capturing()) return true;
    if (str_done) {
      Add(JsonField::kString, S(s), 0, 0);
    } else {
      str.append(s.data(), s.size());
      Add(JsonField::kString, str, 0, 0);
      str_done = true;
    }
    return true;
  }
  bool on_number_part(sv s, ec_t&) {
    if (!Capturing()) return true;
    if (num_done) num.clear();
    num_done = false;
    num.append(s.data(), s.size());
    return true;
  }
  std::string_view NumText(sv s) {
    if (num_done) return S(s);
    num.append(s.data(), s.size());
    num_done = true;
    return num;
  }
  bool on_int64(int64_t v, sv s, ec_t&) {
    if (Capturing()) Add(JsonField::kInt, NumText(s), v, double(v));
    num_done = true;
    return true;
  }
  bool on_uint64(uint64_t v, sv s, ec_t&) {
    if (Capturing()) {
      int64_t c = v > uint64_t(std::numeric_limits<int64_t>::max())
                      ? std::numeric_limits<int64_t>::max()
                      : int64_t(v);
      Add(JsonField::kInt, NumText(s), c, double(v));
    }
    num_done = true;
    return true;
  }
  bool on_double(double v, sv s, ec_t&) {
    if (Capturing()) {
      int64_t c = 0;
      if (std::isfinite(v)) {
        if (v >= 9.2e18)
          c = std::numeric_limits<int64_t>::max();
        else if (v <= -9.2e18)
          c = std::numeric_limits<int64_t>::min();
        else
          c = int64_t(v);
      }
      Add(JsonField::kDouble, NumText(s), c, v);
    }
    num_done = true;
    return true;
  }
  bool on_bool(bool b, ec_t&) {
    Add(JsonField::kBool, b ? kTrue : kFalse, b, b);  // literals: kept as views (Keep)
    return true;
  }
  bool on_null(ec_t&) {
    Add(JsonField::kNull, "", 0, 0);
    return true;
  }
  bool on_comment_part(sv, ec_t&) { return true; }
  bool on_comment(sv, ec_t&) { return true; }
};

}  // namespace

struct JsonCapture::Impl {
  Impl() : parser(boost::json::parse_options{}) {}
  boost::json::basic_parser<Handler> parser;
};

JsonCapture::JsonCapture() : impl_(std::make_unique<Impl>()) {}
JsonCapture::~JsonCapture() = default;

bool JsonCapture::Parse(std::string_view text, int max_depth, bool capture_arrays) {
  fields_.clear();
  // Trim whitespace so that "exactly one value" can be checked by size.
  while (!text.empty() && (text.back() == ' ' || text.back() == '\r' || text.back() == '\t' ||
                           text.back() == '\n')) {
    text.remove_suffix(1);
  }
  size_t lead = 0;
  while (lead < text.size() && (text[lead] == ' ' || text[lead] == '\t')) ++lead;
  text.remove_prefix(lead);
  if (text.empty() || text.front() != '{' || text.back() != '}') return false;
  if (text.size() > std::numeric_limits<uint32_t>::max() / 4) return false;

  auto& p = impl_->parser;
  p.reset();
  Handler& h = p.handler();
  h.Reset();
  h.max_depth = max_depth;
  h.capture_arrays = capture_arrays;
  h.in_begin = text.data();
  h.in_end = text.data() + text.size();
  boost::json::error_code ec;
  size_t n = p.write_some(false, text.data(), text.size(), ec);
  if (ec || n != text.size() || !p.done()) return false;
  fields_.reserve(h.raw.size());
  auto view = [&](const Ref& r) {
    return std::string_view(r.ptr ? r.ptr : h.store.data() + r.off, r.len);
  };
  for (const RawField& r : h.raw) {
    JsonField f;
    f.path = view(r.path);
    f.text = view(r.text);
    f.kind = r.kind;
    f.i = r.i;
    f.d = r.d;
    fields_.push_back(f);
  }
  return true;
}

}  // namespace tokmeter::analysis::reader_internal
