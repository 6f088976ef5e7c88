// Signed tree heads for the disclosure log (DESIGN.md section 8): the
// broker's Ed25519 commitment to the log's size and root at a time. Shared
// by the broker, which signs, and the auditors' tools, which verify offline.
#ifndef LIAISON_BROKER_LOG_TREE_HEAD_H_
#define LIAISON_BROKER_LOG_TREE_HEAD_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "broker/basics/x509.h"
#include "liaison/v1/log.pb.h"

namespace liaison {

// The bytes a head's signature covers, as documented on TreeHead.signature.
std::string TreeHeadSigningInput(const v1::TreeHead& head);

// Id of a raw 32-byte Ed25519 public key: the first 16 hex digits of its
// SHA-256.
std::string LogKeyId(absl::string_view public_key);

// OK when `head` carries a 32-byte root and a valid signature by
// `public_key` (raw 32 bytes) whose id matches key_id; otherwise
// FAILED_PRECONDITION saying what is wrong.
absl::Status VerifyTreeHead(const v1::TreeHead& head,
                            absl::string_view public_key);

// A raw 32-byte Ed25519 public key from a PEM file (as written beside the
// broker's signing key) or a file holding the key in base64.
absl::StatusOr<std::string> ReadLogPublicKeyFile(const std::string& path);

// The broker's log signing key.
class LogSigner {
 public:
  // Loads the PKCS #8 PEM key at `key_path`, or, on first use, creates one
  // (mode 0600) and writes its public half to `public_path` (mode 0644) for
  // auditors to pin.
  static absl::StatusOr<LogSigner> LoadOrCreate(const std::string& key_path,
                                                const std::string& public_path);

  // A head for `size` entries with `root` at `time`, signed.
  absl::StatusOr<v1::TreeHead> Sign(uint64_t size, absl::string_view root,
                                    absl::Time time) const;

  // Raw 32 bytes.
  const std::string& public_key() const { return public_key_; }
  const std::string& key_id() const { return key_id_; }

 private:
  LogSigner(x509::KeyPtr key, std::string public_key);

  std::shared_ptr<EVP_PKEY> key_;
  std::string public_key_;
  std::string key_id_;
};

}  // namespace liaison

#endif  // LIAISON_BROKER_LOG_TREE_HEAD_H_
