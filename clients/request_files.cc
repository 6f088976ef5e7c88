#include "clients/request_files.h"

#include <iostream>
#include <utility>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "broker/basics/request_file.h"

ABSL_DECLARE_FLAG(std::string, idempotency_key);

namespace liaison::cli {

std::optional<std::string> ReadFileFor(const std::string& path,
                                       google::protobuf::Message* request,
                                       int* exit_code) {
  absl::StatusOr<std::string> sha = liaison::ReadRequestFile(path, request);
  if (sha.ok()) return *std::move(sha);
  if (sha.status().code() != absl::StatusCode::kInvalidArgument) {
    *exit_code = Fail(sha.status());
  } else {
    std::cerr << sha.status().message() << std::endl;
    *exit_code = 1;
  }
  return std::nullopt;
}

std::string ChooseKey(std::string* key, const std::string& file_sha,
                      const std::string& path) {
  if (const std::string flag = absl::GetFlag(FLAGS_idempotency_key);
      !flag.empty()) {
    const bool replaced = !key->empty() && *key != flag;
    *key = flag;
    return replaced ? "from --idempotency_key, instead of the file's"
                    : "from --idempotency_key";
  }
  if (!key->empty()) return "from the file";
  *key = file_sha;
  return absl::StrCat("derived: SHA-256 of ", path,
                      ", so sending it again is a safe retry");
}

}  // namespace liaison::cli
