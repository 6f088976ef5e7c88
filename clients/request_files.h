// The request files the liaison command line sends: reading one, and the
// idempotency key it goes with (shared by the exchange and consent
// commands).
#ifndef LIAISON_CLIENTS_REQUEST_FILES_H_
#define LIAISON_CLIENTS_REQUEST_FILES_H_

#include <optional>
#include <string>

#include "clients/cli.h"
#include "google/protobuf/message.h"

namespace liaison::cli {

// Reads a request file into `request`; on failure prints why and returns
// nothing, with the exit status in `*exit_code` (1: the file is unreadable
// or does not parse). Returns the SHA-256 of the file.
std::optional<std::string> ReadFileFor(const std::string& path,
                                       google::protobuf::Message* request,
                                       int* exit_code);

// Sets `*key`: --idempotency_key if given, else the file's own key, else
// the file's SHA-256, so sending the same file again is a safe retry.
// Returns where the key came from, for the user.
std::string ChooseKey(std::string* key, const std::string& file_sha,
                      const std::string& path);

}  // namespace liaison::cli

#endif  // LIAISON_CLIENTS_REQUEST_FILES_H_
