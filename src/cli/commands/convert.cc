// `tokmeter convert IN OUT`: tokmeter JSONL <-> protobuf files, lossless. The
// output format comes from OUT's extension or --to; IN must be the other one.
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "src/cli/common.h"
#ifdef TOKMETER_CLI_HAVE_PROTO
#include "src/model/proto_file.h"
#include "src/proto/convert.h"
#include "src/proto/records.h"
#endif

namespace tokmeter::cli::convert_cmd {
namespace {

namespace po = boost::program_options;
namespace fs = std::filesystem;

// "jsonl" or "pb" from a file name; "" when the extension says neither.
std::string FormatOf(const std::string& path) {
  std::string p = path;
  for (const char* z : {".gz", ".zst"})
    if (absl::EndsWith(p, z)) return "";  // compressed output is not written
  for (const char* e : {".jsonl", ".ndjson", ".json"})
    if (absl::EndsWith(p, e)) return "jsonl";
  for (const char* e : {".pb", ".binpb", ".tokpb"})
    if (absl::EndsWith(p, e)) return "pb";
  return "";
}

int Run(const std::vector<std::string>& args, Io& io) {
  std::vector<std::string> files;
  std::string to;
  po::options_description d("convert options");
  d.add_options()("help,h", "show this help")(
      "to", po::value(&to), "jsonl | pb: the output format (default: from OUT's extension)")(
      "file", po::value(&files)->multitoken(), "IN OUT");
  if (!ParseFlags(args, d, "convert", "IN OUT", io, "file")) return kExitOk;
  if (files.size() != 2)
    throw UsageError{absl::StrCat("convert: expected IN OUT, got ", files.size(),
                                  " file(s); see `tokmeter convert --help`")};
  const std::string& in = files[0];
  const std::string& out = files[1];
  if (to == "protobuf" || to == "proto") to = "pb";
  if (to == "json") to = "jsonl";
  if (!to.empty() && to != "jsonl" && to != "pb")
    throw UsageError{absl::StrCat("--to: '", to, "' is not jsonl or pb")};
  std::string target = to.empty() ? (out == "-" ? "" : FormatOf(out)) : to;
  if (target.empty())
    throw UsageError{
        absl::StrCat("convert: cannot tell the output format from '", out,
                     "' (name it *.jsonl or *.pb, or give --to jsonl|pb); nothing written")};
  if (in != "-" && out != "-") {
    std::error_code ec;
    if (fs::exists(out, ec) && fs::equivalent(in, out, ec))
      throw UsageError{absl::StrCat("convert: '", out, "' is the input file; refusing to ",
                                    "overwrite it (choose another OUT)")};
  }
#ifdef TOKMETER_CLI_HAVE_PROTO
  if (in != "-") {
    std::ifstream f(in, std::ios::binary);
    if (!f) throw UsageError{absl::StrCat("convert: cannot open '", in, "'")};
    char head[8] = {};
    f.read(head, sizeof head);
    const bool is_pb =
        tokmeter::model::proto_file::HasMagic(std::string_view(head, size_t(f.gcount())));
    if (is_pb == (target == "pb"))
      throw UsageError{absl::StrCat("convert: '", in, "' is already ",
                                    is_pb ? "a protobuf file" : "JSONL", "; OUT would be ",
                                    target == "pb" ? "protobuf" : "JSONL", " too")};
  }
  tokmeter::proto::ConvertStats stats;
  absl::Status s = tokmeter::proto::Convert(in, out, &stats);
  if (!s.ok()) throw UsageError{absl::StrCat("convert: ", s.message())};
  if (in == "-" && stats.to_protobuf != (target == "pb")) {
    io.err << "tokmeter convert: note: stdin was " << (stats.to_protobuf ? "JSONL" : "protobuf")
           << "; wrote " << (stats.to_protobuf ? "protobuf" : "JSONL") << "\n";
  }
  return kExitOk;
#else
  throw UsageError{
      "convert: protobuf support was not built (configure with protobuf and "
      "TOKMETER_BUILD_PROTO=ON)"};
#endif
}

}  // namespace

void Register(CommandList& list) {
  list.push_back({"convert",
                  "IN OUT: tokmeter JSONL <-> protobuf (format from OUT's extension or --to)", 90,
                  &Run});
}

}  // namespace tokmeter::cli::convert_cmd
