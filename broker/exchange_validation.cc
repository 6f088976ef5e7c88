#include "broker/exchange_validation.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "broker/log/message_util.h"
#include "policy/disclosure.h"

namespace liaison {
namespace {

bool IsDate(const std::string& s) {
  absl::CivilDay day;
  return s.size() == 10 && absl::ParseCivilTime(s, &day);
}

void CheckKey(const std::string& key, std::vector<std::string>* problems) {
  if (key.empty() || key.size() > 128) {
    problems->push_back("idempotency_key must be 1 to 128 characters");
  }
}

void CheckSubject(const v1::Subject& subject, absl::string_view where,
                  std::vector<std::string>* problems) {
  if (subject.identifier().empty()) {
    problems->push_back(absl::StrCat(where, ".identifier is missing"));
  }
  if (!subject.birth_date().empty() && !IsDate(subject.birth_date())) {
    problems->push_back(absl::StrCat(where, ".birth_date \"",
                                     Bounded(subject.birth_date()),
                                     "\" is not a date YYYY-MM-DD"));
  }
}

// The record's own subject; a record names the person it is about.
void CheckRecord(const v1::Record& record, std::vector<std::string>* problems) {
  const v1::Subject* subject = policy::RecordSubject(record);
  if (subject == nullptr) {
    problems->push_back("record is missing");
  } else {
    CheckSubject(
        *subject,
        absl::StrCat("record.", policy::RecordType(record), ".subject"),
        problems);
  }
}

void CheckBasis(const v1::LegalBasis& basis,
                std::vector<std::string>* problems) {
  if (basis.basis_case() == v1::LegalBasis::BASIS_NOT_SET) {
    problems->push_back(
        "basis is missing: a consent_id, an override or a statutory_duty");
  }
}

absl::Status Malformed(absl::string_view what,
                       const std::vector<std::string>& problems) {
  if (problems.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "the ", what, " is malformed: ", absl::StrJoin(problems, "; ")));
}

}  // namespace

namespace {

void CheckDestination(const v1::Destination& d, absl::string_view where,
                      std::vector<std::string>* problems) {
  switch (d.target_case()) {
    case v1::Destination::kAgencyId:
      if (d.agency_id().empty()) {
        problems->push_back(absl::StrCat(where, ".agency_id is empty"));
      }
      break;
    case v1::Destination::kSectorInArea:
      if (d.sector_in_area().sector().empty() ||
          d.sector_in_area().area().empty()) {
        problems->push_back(
            absl::StrCat(where, ".sector_in_area needs both sector and area"));
      }
      break;
    case v1::Destination::TARGET_NOT_SET:
      problems->push_back(absl::StrCat(
          where, " is missing: give an agency_id or a sector_in_area"));
      break;
  }
}

}  // namespace

absl::Status ValidateSendReferral(const v1::SendReferralRequest& r) {
  std::vector<std::string> problems;
  CheckKey(r.idempotency_key(), &problems);
  CheckDestination(r.destination(), "destination", &problems);
  CheckSubject(r.subject(), "subject", &problems);
  if (r.purpose().empty()) problems.push_back("purpose is missing");
  if (r.urgency() == v1::URGENCY_UNSPECIFIED) {
    problems.push_back("urgency is missing: ROUTINE, WITHIN_24H or IMMEDIATE");
  }
  if (r.concerns().empty()) {
    problems.push_back("concerns: name at least one concern category");
  }
  for (int c : r.concerns()) {
    if (c == v1::CONCERN_CATEGORY_UNSPECIFIED ||
        !v1::ConcernCategory_IsValid(c)) {
      problems.push_back(
          absl::StrCat("concerns: ", c, " is not a concern category"));
    }
  }
  if (r.record().record_case() == v1::Record::RECORD_NOT_SET) {
    problems.push_back("record is missing");
  }
  CheckBasis(r.basis(), &problems);
  return Malformed("referral", problems);
}

absl::Status ValidatePushSummary(const v1::PushSummaryRequest& r) {
  std::vector<std::string> problems;
  CheckKey(r.idempotency_key(), &problems);
  if (r.case_id().empty()) problems.push_back("case_id is missing");
  if (r.purpose().empty()) problems.push_back("purpose is missing");
  CheckRecord(r.record(), &problems);
  CheckBasis(r.basis(), &problems);
  return Malformed("summary", problems);
}

absl::Status ValidateRequestSummary(const v1::RequestSummaryRequest& r) {
  std::vector<std::string> problems;
  CheckKey(r.idempotency_key(), &problems);
  CheckDestination(r.holder(), "holder", &problems);
  CheckSubject(r.subject(), "subject", &problems);
  if (r.purpose().empty()) problems.push_back("purpose is missing");
  CheckBasis(r.basis(), &problems);
  return Malformed("summary request", problems);
}

absl::Status ValidateAnswerSummaryRequest(
    const v1::AnswerSummaryRequestRequest& r) {
  std::vector<std::string> problems;
  if (r.request_id().empty()) problems.push_back("request_id is missing");
  CheckRecord(r.record(), &problems);
  if (r.has_basis()) CheckBasis(r.basis(), &problems);
  return Malformed("answer", problems);
}

namespace {

void CheckParties(const google::protobuf::RepeatedPtrField<v1::Party>& parties,
                  absl::string_view where, const policy::PolicySet& policy,
                  const Registry& registry,
                  std::vector<std::string>* problems) {
  if (parties.empty()) {
    problems->push_back(absl::StrCat(
        where, ": name at least one sector, agency or public_authorities"));
  }
  for (int i = 0; i < parties.size(); ++i) {
    const v1::Party& p = parties[i];
    switch (p.party_case()) {
      case v1::Party::kSector:
        if (policy.FindSector(p.sector()) == nullptr) {
          problems->push_back(absl::StrCat(where, "[", i, "]: sector \"",
                                           p.sector(),
                                           "\" is not in the policy set"));
        }
        break;
      case v1::Party::kAgencyId:
        if (p.agency_id().empty()) {
          problems->push_back(
              absl::StrCat(where, "[", i, "]: agency_id is empty"));
        } else if (!registry.FindAgency(p.agency_id())) {
          problems->push_back(absl::StrCat(where, "[", i, "]: agency \"",
                                           p.agency_id(),
                                           "\" is not registered"));
        }
        break;
      case v1::Party::kPublicAuthorities:
        if (!p.public_authorities()) {
          problems->push_back(absl::StrCat(
              where, "[", i, "]: public_authorities must be true when set"));
        }
        break;
      case v1::Party::PARTY_NOT_SET:
        problems->push_back(absl::StrCat(where, "[", i,
                                         "]: set one of sector, agency_id, "
                                         "public_authorities"));
        break;
    }
  }
}

}  // namespace

absl::Status ValidateConsent(const v1::Consent& c,
                             const policy::PolicySet& policy,
                             const Registry& registry) {
  std::vector<std::string> problems;
  if (c.grantor() == v1::GRANTOR_UNSPECIFIED ||
      !v1::Grantor_IsValid(c.grantor())) {
    problems.push_back(
        "grantor is missing: GRANTOR_SUBJECT, GRANTOR_GUARDIAN or "
        "GRANTOR_LEGAL_REPRESENTATIVE");
  } else if (c.grantor() != v1::GRANTOR_SUBJECT &&
             c.grantor_relation().empty()) {
    problems.push_back(
        "grantor_relation is missing: a guardian or representative says "
        "how they are related to the subject, e.g. \"mother\"");
  }
  CheckSubject(c.subject(), "subject", &problems);
  if (c.grantor() == v1::GRANTOR_GUARDIAN && c.subject().birth_date().empty()) {
    problems.push_back(
        "subject.birth_date is missing: a guardian's consent lapses at the "
        "age of majority, so the broker needs the birth date");
  }
  CheckParties(c.disclosing(), "disclosing", policy, registry, &problems);
  CheckParties(c.recipients(), "recipients", policy, registry, &problems);
  if (c.purposes().empty()) {
    problems.push_back("purposes: name at least one, as agreements name them");
  }
  for (const std::string& purpose : c.purposes()) {
    if (purpose.empty()) problems.push_back("purposes: a purpose is empty");
  }
  if (!c.refused() &&
      (c.max_level() == v1::LEVEL_NONE || !v1::Level_IsValid(c.max_level()))) {
    problems.push_back(
        "max_level is missing: LEVEL_SIGNAL, LEVEL_CATEGORY, LEVEL_SUMMARY or "
        "LEVEL_FULL");
  }
  if (c.has_valid_from() && c.has_valid_until() &&
      TimeOf(c.valid_until()) <= TimeOf(c.valid_from())) {
    problems.push_back("valid_until must be after valid_from");
  }
  if (!c.has_evidence() || c.evidence().form_reference().empty() ||
      c.evidence().form_version().empty() || c.evidence().language().empty()) {
    problems.push_back(
        "evidence is incomplete: give form_reference, form_version and "
        "language");
  }
  return Malformed("consent", problems);
}

}  // namespace liaison
