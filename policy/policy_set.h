// A policy set: the agreements, jurisdictions, sectors and field rules a
// deployment has published (DESIGN.md section 9), loaded from a folder of
// text-format files and checked for schema and meaning before anything
// decides with it.
#ifndef LIAISON_POLICY_POLICY_SET_H_
#define LIAISON_POLICY_POLICY_SET_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "liaison/v1/policy.pb.h"

namespace liaison::policy {

// One policy file's name and text.
struct PolicySource {
  std::string name;  // Shown in errors, e.g. "policy/agreements.textproto".
  std::string text;
};

// An agreement with where it was written, for reasons and errors.
struct LoadedAgreement {
  v1::Agreement agreement;
  std::string where;  // "file:line"
  absl::CivilDay valid_from;
  // Last day in force; absl::CivilDay::max() when open-ended.
  absl::CivilDay valid_until;
};

class PolicySet {
 public:
  // Parses and checks `sources`, read in the order given. On any error
  // returns INVALID_ARGUMENT whose message has one line per problem, each
  // starting "file:line:" (line 1-based), and nothing is loaded.
  static absl::StatusOr<std::shared_ptr<const PolicySet>> FromSources(
      const std::vector<PolicySource>& sources);

  // Reads every *.textproto file in `dir`, in name order, then as
  // FromSources. A missing or empty folder is an error.
  static absl::StatusOr<std::shared_ptr<const PolicySet>> FromDirectory(
      const std::string& dir);

  // "p-" and 16 hex digits of SHA-256 over the canonical form of the set.
  const std::string& version() const { return version_; }

  // The merged set as loaded.
  const v1::PolicyFile& merged() const { return merged_; }
  const std::vector<LoadedAgreement>& agreements() const { return agreements_; }
  // nullptr when not in the set.
  const v1::Jurisdiction* FindJurisdiction(const std::string& id) const;
  const v1::Sector* FindSector(const std::string& name) const;
  const v1::RecordRules* FindRecordRules(const std::string& type) const;
  // The rules of an envelope message by its name, e.g. "referral".
  const v1::EnvelopeRules* FindEnvelopeRules(absl::string_view message) const;
  const v1::CodeMapping* FindMapping(const std::string& name) const;
  // Ascending band starts, from the set or the default [0,6,13,16,18,25,65].
  const std::vector<uint32_t>& age_band_starts() const { return age_bands_; }

 private:
  PolicySet() = default;

  v1::PolicyFile merged_;
  std::vector<LoadedAgreement> agreements_;
  std::vector<uint32_t> age_bands_;
  std::string version_;
};

// The policy set in force in a running broker, swapped atomically on reload.
// Readers take a reference that stays valid while they decide, even if a
// reload swaps the set meanwhile.
class PolicyInForce {
 public:
  // `dir`: the folder to load from and reload.
  explicit PolicyInForce(std::string dir) : dir_(std::move(dir)) {}

  // Loads the folder and, only if it checks, puts it in force. On error the
  // set in force stays as it was and the error (file:line lines) is
  // returned.
  absl::StatusOr<std::shared_ptr<const PolicySet>> Reload();

  // Loads and checks the folder without putting it in force, so the change
  // can be logged first; Install then puts it in force.
  absl::StatusOr<std::shared_ptr<const PolicySet>> Load() const {
    return PolicySet::FromDirectory(dir_);
  }
  void Install(std::shared_ptr<const PolicySet> set);

  // The set in force; nullptr before the first successful Reload.
  std::shared_ptr<const PolicySet> Get() const;

  const std::string& dir() const { return dir_; }

 private:
  const std::string dir_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const PolicySet> current_ ABSL_GUARDED_BY(mu_);
};

}  // namespace liaison::policy

#endif  // LIAISON_POLICY_POLICY_SET_H_
