#include "broker/basics/request_file.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>
#include <openssl/sha.h>

#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "broker/basics/files.h"
#include "broker/basics/status_macros.h"
#include "broker/basics/text_errors.h"

namespace liaison {
namespace {

// Collects the parser's problems as "PATH:LINE:COLUMN: message"; the parser
// counts lines and columns from 0.
class ProblemList final : public google::protobuf::io::ErrorCollector {
 public:
  ProblemList(std::string path, const std::string* text)
      : path_(std::move(path)), text_(text) {}

  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    int at_column = column;
    PointAtBadValue(*text_, message, &line, &at_column);
    Add(line, at_column, message);
  }
  void AddWarning(int line, google::protobuf::io::ColumnNumber column,
                  const std::string& message) override {
    Add(line, column, absl::StrCat("warning: ", message));
  }

  const std::vector<std::string>& problems() const { return problems_; }

 private:
  void Add(int line, int column, const std::string& message) {
    problems_.push_back(line < 0 ? absl::StrCat(path_, ": ", message)
                                 : absl::StrCat(path_, ":", line + 1, ":",
                                                column + 1, ": ", message));
  }

  const std::string path_;
  const std::string* text_;
  std::vector<std::string> problems_;
};

}  // namespace

absl::StatusOr<std::string> ReadRequestFile(
    const std::string& path, google::protobuf::Message* request) {
  ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  ProblemList problems(path, &bytes);
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&problems);
  if (!parser.ParseFromString(bytes, request)) {
    if (problems.problems().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": not a ", request->GetTypeName(),
                       " in protobuf text format"));
    }
    return absl::InvalidArgumentError(absl::StrJoin(problems.problems(), "\n"));
  }
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
         digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

}  // namespace liaison
