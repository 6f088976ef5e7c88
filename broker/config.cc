#include "broker/config.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "broker/basics/files.h"
#include "broker/basics/status_macros.h"

namespace liaison {
namespace {

class CollectErrors final : public google::protobuf::io::ErrorCollector {
 public:
  explicit CollectErrors(std::string path) : path_(std::move(path)) {}
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    // The parser counts from zero; editors count from one.
    errors_.push_back(
        absl::StrCat(path_, ":", line + 1, ":", column + 1, ": ", message));
  }
  void AddWarning(int line, google::protobuf::io::ColumnNumber column,
                  const std::string& message) override {
    AddError(line, column, message);
  }
  std::string Joined() const { return absl::StrJoin(errors_, "\n"); }

 private:
  std::string path_;
  std::vector<std::string> errors_;
};

std::string Resolve(const std::filesystem::path& base,
                    const std::string& value) {
  if (value.empty()) return value;
  std::filesystem::path p(value);
  if (p.is_absolute()) return value;
  return (base / p).lexically_normal().string();
}

}  // namespace

absl::Status ParseTextProtoFile(const std::string& path,
                                google::protobuf::Message* message) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  CollectErrors errors(path);
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text, message)) {
    return absl::InvalidArgumentError(errors.Joined());
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::BrokerConfig> LoadBrokerConfig(const std::string& path) {
  v1::BrokerConfig config;
  RETURN_IF_ERROR(ParseTextProtoFile(path, &config));
  const std::filesystem::path base =
      std::filesystem::absolute(path).parent_path();
  config.set_tls_cert(Resolve(base, config.tls_cert()));
  config.set_tls_key(Resolve(base, config.tls_key()));
  config.set_ca(Resolve(base, config.ca()));
  config.set_crl(Resolve(base, config.crl()));
  config.set_data_dir(Resolve(base, config.data_dir()));
  config.set_policy_dir(Resolve(base, config.policy_dir()));
  config.set_registry(Resolve(base, config.registry()));
  return config;
}

absl::Status CompleteBrokerConfig(v1::BrokerConfig* config) {
  if (config->listen().empty()) config->set_listen("127.0.0.1:7443");
  if (config->max_message_bytes() == 0) {
    config->set_max_message_bytes(4 * 1024 * 1024);
  }
  struct Required {
    const std::string& value;
    const char* name;
  };
  const Required required[] = {{config->tls_cert(), "tls_cert"},
                               {config->tls_key(), "tls_key"},
                               {config->ca(), "ca"},
                               {config->data_dir(), "data_dir"},
                               {config->policy_dir(), "policy_dir"}};
  for (const Required& r : required) {
    if (r.value.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("no ", r.name, " is configured: set \"", r.name,
                       "\" in the config file or pass --", r.name));
    }
  }
  return absl::OkStatus();
}

}  // namespace liaison
