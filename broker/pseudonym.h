// Subject pseudonyms for the log (DESIGN.md rule 4): HMAC-SHA256 under a
// deployment key over a normalised identifier, so the log can be searched
// by subject without ever holding the identifier.
#ifndef LIAISON_BROKER_PSEUDONYM_H_
#define LIAISON_BROKER_PSEUDONYM_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace liaison {

class Pseudonymizer {
 public:
  // Loads the 32-byte key at `path`, creating it (mode 0600) from the
  // system's random source on first use.
  static absl::StatusOr<Pseudonymizer> LoadOrCreate(const std::string& path);

  // Hex HMAC-SHA256 of the identifier with spaces and hyphens removed and
  // letters upper-cased, so "19 850101-1234" and "198501011234" agree.
  std::string Pseudonym(absl::string_view identifier) const;

  // The key policy's KEYED_HASH transform uses: derived from the deployment
  // key, so equal field values match across messages within a deployment,
  // and distinct from the pseudonym key, so a field hash cannot be compared
  // with a subject pseudonym.
  std::string FieldHashKey() const;

 private:
  explicit Pseudonymizer(std::string key) : key_(std::move(key)) {}
  std::string key_;
};

// A new identifier: `prefix` followed by 32 hex digits, the first 12 the
// milliseconds since the Unix epoch and the other 20 random (80 bits).
// Time first, so ids made one after another sort together: the store's
// indexes on them take each new id at their right-hand end instead of on
// a random page, which measured about a third fewer pages written per
// referral. The time an id shows is the time its record was made, which
// every party it is given to sees anyway.
std::string NewId(absl::string_view prefix);

}  // namespace liaison

#endif  // LIAISON_BROKER_PSEUDONYM_H_
