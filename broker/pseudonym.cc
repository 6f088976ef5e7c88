#include "broker/pseudonym.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cctype>
#include <cstdint>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "broker/basics/files.h"

namespace liaison {

absl::StatusOr<Pseudonymizer> Pseudonymizer::LoadOrCreate(
    const std::string& path) {
  absl::StatusOr<std::string> key = ReadFile(path);
  if (key.ok()) {
    if (key->size() != 32) {
      return absl::DataLossError(absl::StrCat(
          path,
          " should hold a 32-byte pseudonym key; restore it from backup "
          "(a new key would break searches of the existing log)"));
    }
    return Pseudonymizer(*std::move(key));
  }
  if (key.status().code() != absl::StatusCode::kNotFound) return key.status();
  std::string fresh(32, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(fresh.data()), 32) != 1) {
    return absl::InternalError("no random bytes for the pseudonym key");
  }
  if (absl::Status s = WriteFileAtomic(path, fresh, 0600); !s.ok()) {
    return s;
  }
  return Pseudonymizer(std::move(fresh));
}

std::string Pseudonymizer::Pseudonym(absl::string_view identifier) const {
  std::string normal;
  for (char c : identifier) {
    if (c == ' ' || c == '-' || c == '\t') continue;
    normal.push_back(
        static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(normal.data()), normal.size(),
       mac, &len);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(mac), len));
}

std::string Pseudonymizer::FieldHashKey() const {
  static constexpr char kLabel[] = "liaison-field-hash-v1";
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(kLabel), sizeof kLabel - 1, mac,
       &len);
  return std::string(reinterpret_cast<const char*>(mac), len);
}

std::string NewId(absl::string_view prefix) {
  unsigned char bytes[16];
  const uint64_t ms = static_cast<uint64_t>(absl::ToUnixMillis(absl::Now()));
  for (int i = 0; i < 6; ++i) {
    bytes[i] = static_cast<unsigned char>(ms >> (8 * (5 - i)));
  }
  RAND_bytes(bytes + 6, sizeof bytes - 6);
  return absl::StrCat(prefix,
                      absl::BytesToHexString(absl::string_view(
                          reinterpret_cast<const char*>(bytes), sizeof bytes)));
}

}  // namespace liaison
