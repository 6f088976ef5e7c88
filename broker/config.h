// Reading the broker's configuration and registry seed files (protobuf
// text format, DESIGN.md section 9's convention: schema-checked,
// line-numbered errors).
#ifndef LIAISON_BROKER_CONFIG_H_
#define LIAISON_BROKER_CONFIG_H_

#include <google/protobuf/message.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "liaison/v1/config.pb.h"

namespace liaison {

// Parses a text-format file into `message`. Errors name the file, line and
// column: "broker.textproto:3:7: Message type ... has no field named ...".
absl::Status ParseTextProtoFile(const std::string& path,
                                google::protobuf::Message* message);

// Loads a broker config file and resolves its relative paths against the
// file's folder.
absl::StatusOr<v1::BrokerConfig> LoadBrokerConfig(const std::string& path);

// Fills defaults (listen address, message limit) and checks that the
// required fields are set, naming the config field and flag to set.
absl::Status CompleteBrokerConfig(v1::BrokerConfig* config);

}  // namespace liaison

#endif  // LIAISON_BROKER_CONFIG_H_
