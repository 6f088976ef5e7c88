#include "policy/disclosure.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/reflection.h>
#include <openssl/sha.h>

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace liaison::policy {
namespace {

std::string Key(const v1::DisclosureAllowance& a) {
  return absl::StrCat(a.from_sector(), "->", a.to_sector(), " for ",
                      a.purpose());
}

}  // namespace

absl::StatusOr<DisclosurePolicy> DisclosurePolicy::FromAllowList(
    const std::vector<v1::DisclosureAllowance>& allow) {
  std::vector<std::string> keys;
  std::string canonical;
  for (size_t i = 0; i < allow.size(); ++i) {
    const v1::DisclosureAllowance& a = allow[i];
    if (a.from_sector().empty() || a.to_sector().empty() ||
        a.purpose().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("allow entry ", i + 1,
                       " must name from_sector, to_sector and purpose"));
    }
    if (a.level() <= v1::LEVEL_NONE || a.level() > v1::LEVEL_FULL) {
      return absl::InvalidArgumentError(
          absl::StrCat("allow entry ", i + 1, " (", Key(a),
                       ") needs a level from LEVEL_SIGNAL to LEVEL_FULL"));
    }
    if (std::find(keys.begin(), keys.end(), Key(a)) != keys.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "allow entry ", i + 1, " (", Key(a), ") repeats an earlier entry"));
    }
    keys.push_back(Key(a));
    absl::StrAppend(&canonical, Key(a), "=", a.level(), "\n");
  }
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(canonical.data()),
         canonical.size(), digest);
  std::string version = absl::StrCat(
      "allow-list-", absl::BytesToHexString(absl::string_view(
                         reinterpret_cast<const char*>(digest), 8)));
  return DisclosurePolicy(allow, std::move(version));
}

DisclosurePolicy::DisclosurePolicy(std::vector<v1::DisclosureAllowance> allow,
                                   std::string version)
    : allow_(std::move(allow)), version_(std::move(version)) {}

Decision DisclosurePolicy::Decide(const DisclosureQuery& query) const {
  Decision decision;
  decision.policy_version = version_;
  if (query.basis.basis_case() == v1::LegalBasis::BASIS_NOT_SET) {
    decision.reasons.push_back(
        "no legal basis was given: name a consent, an overriding-risk "
        "justification or a statutory duty");
  }
  if (!query.legitimate_relationship) {
    decision.reasons.push_back(
        absl::StrCat("agency \"", query.recipient_agency_id,
                     "\" has no legitimate relationship to this case"));
  }
  const v1::DisclosureAllowance* match = nullptr;
  for (size_t i = 0; i < allow_.size(); ++i) {
    const v1::DisclosureAllowance& a = allow_[i];
    if (a.from_sector() == query.sender_sector &&
        a.to_sector() == query.recipient_sector &&
        a.purpose() == query.purpose) {
      match = &a;
      decision.agreement_id = absl::StrCat("allow-", i + 1);
      break;
    }
  }
  if (match == nullptr) {
    decision.reasons.push_back(absl::StrCat(
        "no agreement covers ", query.sender_sector, " to ",
        query.recipient_sector, " for purpose \"", query.purpose, "\""));
  }
  if (!decision.reasons.empty()) {
    decision.agreement_id.clear();
    return decision;
  }
  decision.allowed = true;
  decision.level = match->level();
  decision.reasons.push_back(absl::StrCat("allowed by ", decision.agreement_id,
                                          " (", Key(*match), ") at ",
                                          v1::Level_Name(match->level())));
  return decision;
}

std::string RecordType(const v1::Record& record) {
  switch (record.record_case()) {
    case v1::Record::kHealth:
      return "health";
    case v1::Record::kSocialCare:
      return "social_care";
    case v1::Record::kEducation:
      return "education";
    case v1::Record::kPolice:
      return "police";
    case v1::Record::RECORD_NOT_SET:
      break;
  }
  return "";
}

v1::AbstractedRecord Abstract(const v1::Record& record, v1::Level level,
                              const std::string& policy_version) {
  v1::AbstractedRecord out;
  out.set_level(level);
  out.set_policy_version(policy_version);
  if (record.record_case() == v1::Record::RECORD_NOT_SET) return out;
  const google::protobuf::Reflection* outer = record.GetReflection();
  const google::protobuf::FieldDescriptor* which =
      outer->GetOneofFieldDescriptor(
          record, record.GetDescriptor()->FindOneofByName("record"));
  const google::protobuf::Message& inner = outer->GetMessage(record, which);
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  inner.GetReflection()->ListFields(inner, &fields);
  const bool keep = level == v1::LEVEL_FULL;
  for (const google::protobuf::FieldDescriptor* f : fields) {
    v1::FieldOutcome* outcome = out.add_fields();
    outcome->set_field(absl::StrCat(which->name(), ".", f->name()));
    outcome->set_treatment(keep ? v1::FieldOutcome::TREATMENT_KEPT
                                : v1::FieldOutcome::TREATMENT_WITHHELD);
    outcome->set_transform(keep ? "keep" : "drop");
  }
  if (keep) *out.mutable_record() = record;
  return out;
}

}  // namespace liaison::policy
