#include "policy/disclosure.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/reflection.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "policy/transforms.h"

namespace liaison::policy {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using google::protobuf::RepeatedPtrField;

bool Names(const RepeatedPtrField<std::string>& list, const std::string& x) {
  return std::find(list.begin(), list.end(), x) != list.end();
}

bool CoversSender(const v1::Agreement& a, const DisclosureQuery& q) {
  return Names(a.from_sectors(), q.sender_sector) ||
         Names(a.from_agencies(), q.sender_agency_id);
}

bool CoversRecipient(const v1::Agreement& a, const DisclosureQuery& q) {
  return Names(a.to_sectors(), q.recipient_sector) ||
         Names(a.to_agencies(), q.recipient_agency_id);
}

// An agreement naming an agency is preferred over one naming its sector.
int Specificity(const v1::Agreement& a, const DisclosureQuery& q) {
  return (Names(a.from_agencies(), q.sender_agency_id) ? 1 : 0) +
         (Names(a.to_agencies(), q.recipient_agency_id) ? 1 : 0);
}

std::string LevelName(v1::Level level) { return v1::Level_Name(level); }

std::string Validity(const LoadedAgreement& a) {
  return a.valid_until == absl::CivilDay::max()
             ? absl::StrCat("in force from ", a.agreement.valid_from())
             : absl::StrCat("in force from ", a.agreement.valid_from(), " to ",
                            a.agreement.valid_until());
}

// Checks an override justification against the jurisdiction and the
// agreement; returns the reason it fails, or nullopt.
std::optional<std::string> OverrideProblem(const PolicySet& set,
                                           const LoadedAgreement& loaded,
                                           const DisclosureQuery& q) {
  const v1::Justification& j = q.basis.override();
  const v1::Jurisdiction* jurisdiction =
      set.FindJurisdiction(q.sender_jurisdiction);
  if (jurisdiction == nullptr) {
    return absl::StrCat("the sender's jurisdiction \"", q.sender_jurisdiction,
                        "\" is not in the policy set, so no override "
                        "category is valid for it");
  }
  const v1::OverrideProvision* listed = nullptr;
  for (const v1::OverrideProvision& o : jurisdiction->overrides()) {
    if (o.category() == j.category()) listed = &o;
  }
  if (listed == nullptr) {
    return absl::StrCat("override category ",
                        v1::OverrideCategory_IsValid(j.category())
                            ? v1::OverrideCategory_Name(j.category())
                            : absl::StrCat(static_cast<int>(j.category())),
                        " is not one jurisdiction \"", jurisdiction->id(),
                        "\" lists");
  }
  if (!Names(listed->legal_provisions(), j.legal_provision())) {
    return absl::StrCat("legal provision \"", j.legal_provision(),
                        "\" is not one jurisdiction \"", jurisdiction->id(),
                        "\" lists for ",
                        v1::OverrideCategory_Name(j.category()), " (",
                        absl::StrJoin(listed->legal_provisions(), ", "), ")");
  }
  // The provision must be one the route allows for the category, not only
  // one the jurisdiction knows.
  const v1::OverrideProvision* on_route = nullptr;
  for (const v1::OverrideProvision& o :
       loaded.agreement.override_provisions()) {
    if (o.category() == j.category()) on_route = &o;
  }
  if (on_route == nullptr ||
      !Names(on_route->legal_provisions(), j.legal_provision())) {
    return absl::StrCat(
        "legal provision \"", j.legal_provision(), "\" is not one agreement \"",
        loaded.agreement.id(), "\" allows for ",
        v1::OverrideCategory_Name(j.category()), " on this route",
        on_route == nullptr
            ? " (it allows no override of that category)"
            : absl::StrCat(" (",
                           absl::StrJoin(on_route->legal_provisions(), ", "),
                           ")"));
  }
  const uint32_t min_chars = jurisdiction->min_override_statement_chars() > 0
                                 ? jurisdiction->min_override_statement_chars()
                                 : 40;
  if (j.statement().size() < min_chars) {
    return absl::StrCat("the override statement has ", j.statement().size(),
                        " characters; jurisdiction \"", jurisdiction->id(),
                        "\" asks for at least ", min_chars);
  }
  // Ids are compared as people are told apart: white space around them
  // is not part of them, and case does not make another person.
  const std::string assessor = ComparableProfessionalId(j.assessor().id());
  if (assessor.empty()) {
    return std::string(
        "the override names no assessing professional: give assessor.id");
  }
  if (loaded.agreement.override_needs_two_persons() && !q.override_requested) {
    const std::string approver = ComparableProfessionalId(j.approver().id());
    if (approver.empty()) {
      return absl::StrCat("agreement \"", loaded.agreement.id(),
                          "\" needs an approving manager for overrides: give "
                          "approver.id");
    }
    if (approver == assessor) {
      return absl::StrCat("agreement \"", loaded.agreement.id(),
                          "\" needs an approving manager distinct from the "
                          "assessor \"",
                          NormalisedProfessionalId(j.assessor().id()), "\"");
    }
  }
  return std::nullopt;
}

}  // namespace

absl::Duration OverrideReviewWindow(const PolicySet& set,
                                    const std::string& jurisdiction) {
  const v1::Jurisdiction* j = set.FindJurisdiction(jurisdiction);
  const uint32_t days = j != nullptr && j->override_review_days() > 0
                            ? j->override_review_days()
                            : 7;
  return absl::Hours(24) * days;
}

v1::Retention RetentionOf(const PolicySet& set,
                          const std::string& jurisdiction) {
  const v1::Jurisdiction* j = set.FindJurisdiction(jurisdiction);
  v1::Retention r = j != nullptr ? j->retention() : v1::Retention();
  const auto or_default = [](uint32_t days, uint32_t fallback) {
    return days > 0 ? days : fallback;
  };
  r.set_inbox_message_days(or_default(r.inbox_message_days(), 30));
  r.set_summary_days(or_default(r.summary_days(), 30));
  r.set_referral_days(or_default(r.referral_days(), 365));
  r.set_summary_request_days(or_default(r.summary_request_days(), 90));
  r.set_consent_evidence_days(or_default(r.consent_evidence_days(), 365));
  r.set_override_statement_days(or_default(r.override_statement_days(), 365));
  return r;
}

std::string NormalisedProfessionalId(absl::string_view id) {
  // White space a form or a copy may put around an id: ASCII, no-break
  // (U+00A0), zero-width (U+200B) and ideographic (U+3000) spaces.
  static constexpr absl::string_view kSpaces[] = {
      " ",  "\t",       "\n",           "\r",          "\v",
      "\f", "\xc2\xa0", "\xe2\x80\x8b", "\xe3\x80\x80"};
  for (bool trimmed = true; trimmed;) {
    trimmed = false;
    for (absl::string_view space : kSpaces) {
      trimmed |= absl::ConsumePrefix(&id, space);
      trimmed |= absl::ConsumeSuffix(&id, space);
    }
  }
  return std::string(id);
}

namespace {

// Code points that separate or hide nothing a reader sees: white space,
// controls and default-ignorable format characters.
bool Invisible(uint32_t c) {
  return c <= 0x20 || (c >= 0x7F && c <= 0xA0) || c == 0xAD || c == 0x34F ||
         c == 0x61C || c == 0x115F || c == 0x1160 || c == 0x1680 ||
         c == 0x17B4 || c == 0x17B5 || (c >= 0x180B && c <= 0x180F) ||
         (c >= 0x2000 && c <= 0x200F) || (c >= 0x2028 && c <= 0x202F) ||
         (c >= 0x205F && c <= 0x206F) || c == 0x3000 || c == 0x3164 ||
         (c >= 0xFE00 && c <= 0xFE0F) || c == 0xFEFF || c == 0xFFA0 ||
         (c >= 0xFFF0 && c <= 0xFFF8) || (c >= 0xE0000 && c <= 0xE0FFF);
}

}  // namespace

std::string ComparableProfessionalId(absl::string_view id) {
  std::string out;
  size_t i = 0;
  while (i < id.size()) {
    const unsigned char b = static_cast<unsigned char>(id[i]);
    const size_t n = b < 0x80           ? 1
                     : (b >> 5) == 0x6  ? 2
                     : (b >> 4) == 0xE  ? 3
                     : (b >> 3) == 0x1E ? 4
                                        : 1;
    uint32_t c = n == 1 ? b : b & (0x7F >> n);
    bool valid = i + n <= id.size();
    for (size_t k = 1; valid && k < n; ++k) {
      const unsigned char cont = static_cast<unsigned char>(id[i + k]);
      valid = (cont & 0xC0) == 0x80;
      c = (c << 6) | (cont & 0x3F);
    }
    if (!valid) {
      // Not UTF-8: kept as it is, byte by byte.
      out.push_back(id[i]);
      ++i;
      continue;
    }
    if (!Invisible(c)) {
      if (n == 1) {
        out.push_back(static_cast<char>(absl::ascii_tolower(b)));
      } else {
        out.append(id.data() + i, n);
      }
    }
    i += n;
  }
  return out;
}

v1::Justification NormalisedJustification(const v1::Justification& j) {
  v1::Justification out = j;
  out.mutable_assessor()->set_id(NormalisedProfessionalId(j.assessor().id()));
  if (out.has_approver()) {
    out.mutable_approver()->set_id(NormalisedProfessionalId(j.approver().id()));
  }
  return out;
}

namespace {

bool AnyCovers(const PolicySet& set, const RepeatedPtrField<v1::Party>& parties,
               const std::string& agency_id, const std::string& sector) {
  for (const v1::Party& p : parties) {
    if (PartyCovers(set, p, agency_id, sector)) return true;
  }
  return false;
}

absl::Time TimeOf(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

std::string DayOf(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d", t, absl::UTCTimeZone());
}

// Whether `c` (a consent or a refusal) is in force at `at`.
bool InForce(const v1::Consent& c, absl::Time at) {
  if (c.has_withdrawn_at() && TimeOf(c.withdrawn_at()) <= at) return false;
  if (c.has_valid_from() && TimeOf(c.valid_from()) > at) return false;
  if (c.has_valid_until() && TimeOf(c.valid_until()) <= at) return false;
  return true;
}

bool CoversRoute(const PolicySet& set, const v1::Consent& c,
                 const DisclosureQuery& q) {
  return AnyCovers(set, c.disclosing(), q.sender_agency_id, q.sender_sector) &&
         AnyCovers(set, c.recipients(), q.recipient_agency_id,
                   q.recipient_sector) &&
         Names(c.purposes(), q.purpose);
}

// Checks a consent basis (DESIGN.md rule 5); returns the reason it fails,
// or nullopt.
std::optional<std::string> ConsentProblem(const PolicySet& set,
                                          const DisclosureQuery& q) {
  const std::string& id = q.basis.consent_id();
  const std::string named = absl::StrCat("consent \"", id, "\"");
  if (!q.consent.has_value()) {
    return absl::StrCat(named,
                        " is not in the consent registry: record it with "
                        "RecordConsent and name the id it returns");
  }
  const v1::Consent& c = *q.consent;
  if (q.consent_subject_pseudonym != q.subject_pseudonym) {
    return absl::StrCat(named, " is about another person");
  }
  if (c.refused()) {
    return absl::StrCat(named,
                        " records a refusal, not a consent; only an "
                        "override or a statutory duty can be a basis");
  }
  if (c.has_withdrawn_at() && TimeOf(c.withdrawn_at()) <= q.at) {
    return absl::StrCat(named, " was withdrawn on ",
                        DayOf(TimeOf(c.withdrawn_at())));
  }
  if (c.has_valid_from() && TimeOf(c.valid_from()) > q.at) {
    return absl::StrCat(named, " is not valid until ",
                        DayOf(TimeOf(c.valid_from())));
  }
  if (c.has_valid_until() && TimeOf(c.valid_until()) <= q.at) {
    return absl::StrCat(named, " expired on ", DayOf(TimeOf(c.valid_until())));
  }
  if (c.grantor() == v1::GRANTOR_GUARDIAN) {
    const v1::Jurisdiction* j = set.FindJurisdiction(q.sender_jurisdiction);
    if (j == nullptr) {
      return absl::StrCat(named,
                          " was given by a guardian, and the sender's "
                          "jurisdiction \"",
                          q.sender_jurisdiction,
                          "\" is not in the policy set, so its age of "
                          "majority is unknown");
    }
    std::optional<absl::CivilDay> majority = MajorityDay(c.subject(), *j);
    if (!majority.has_value()) {
      return absl::StrCat(named,
                          " was given by a guardian for a subject "
                          "without a valid birth date");
    }
    if (absl::ToCivilDay(q.at, absl::UTCTimeZone()) >= *majority) {
      return absl::StrCat(named,
                          " was given by a guardian and lapsed when "
                          "the subject reached the age of majority (",
                          j->age_of_majority(), " in \"", j->id(), "\") on ",
                          absl::FormatCivilTime(*majority),
                          "; the subject must consent themself");
    }
  }
  if (!AnyCovers(set, c.disclosing(), q.sender_agency_id, q.sender_sector)) {
    return absl::StrCat(named, " does not name ", q.sender_agency_id, " (",
                        q.sender_sector, ") as a disclosing party; it names ",
                        absl::StrJoin(c.disclosing(), ", ",
                                      [](std::string* out, const v1::Party& p) {
                                        out->append(PartyName(p));
                                      }));
  }
  if (!AnyCovers(set, c.recipients(), q.recipient_agency_id,
                 q.recipient_sector)) {
    return absl::StrCat(named, " does not name ", q.recipient_agency_id, " (",
                        q.recipient_sector, ") as a recipient; it names ",
                        absl::StrJoin(c.recipients(), ", ",
                                      [](std::string* out, const v1::Party& p) {
                                        out->append(PartyName(p));
                                      }));
  }
  if (!Names(c.purposes(), q.purpose)) {
    return absl::StrCat(named, " does not cover purpose \"", q.purpose,
                        "\"; it covers ", absl::StrJoin(c.purposes(), ", "));
  }
  for (const v1::Consent& refusal : q.refusals) {
    if (refusal.consent_id() == c.consent_id()) continue;
    if (!refusal.refused() || !InForce(refusal, q.at)) continue;
    if (CoversRoute(set, refusal, q)) {
      return absl::StrCat(
          "the subject refused consent for this route and purpose (refusal \"",
          refusal.consent_id(), "\" recorded by ",
          refusal.recorded_by_agency_id(),
          "), which rules consent out as a basis; only an override or a "
          "statutory duty can be one");
    }
  }
  return std::nullopt;
}

}  // namespace

bool PartyCovers(const PolicySet& set, const v1::Party& party,
                 const std::string& agency_id, const std::string& sector) {
  switch (party.party_case()) {
    case v1::Party::kSector:
      return party.sector() == sector;
    case v1::Party::kAgencyId:
      return party.agency_id() == agency_id;
    case v1::Party::kPublicAuthorities: {
      if (!party.public_authorities()) return false;
      const v1::Sector* s = set.FindSector(sector);
      return s != nullptr && s->public_authority();
    }
    case v1::Party::PARTY_NOT_SET:
      break;
  }
  return false;
}

std::vector<std::string> ConfirmedChecklistSteps(
    const v1::PreSharingChecklist& c) {
  std::vector<std::string> out;
  if (c.concern_verified()) out.push_back("concern_verified");
  if (c.person_informed()) out.push_back("person_informed");
  if (!c.person_not_informed_reason().empty()) {
    out.push_back("person_not_informed_reason");
  }
  if (c.colleague_or_expert_consulted()) {
    out.push_back("colleague_or_expert_consulted");
  }
  if (c.manager_approved()) out.push_back("manager_approved");
  if (!c.risk_assessment_reference().empty()) {
    out.push_back("risk_assessment_reference");
  }
  return out;
}

std::vector<std::string> MissingChecklistSteps(
    const PolicySet& set, const std::string& sector,
    const v1::PreSharingChecklist& c) {
  std::vector<std::string> missing;
  const v1::Sector* s = set.FindSector(sector);
  if (s == nullptr) return missing;
  for (int step : s->required_checklist()) {
    switch (step) {
      case v1::CONCERN_VERIFIED:
        if (!c.concern_verified()) missing.push_back("concern_verified");
        break;
      case v1::PERSON_INFORMED:
        if (!c.person_informed() && c.person_not_informed_reason().empty()) {
          missing.push_back("person_informed (or person_not_informed_reason)");
        }
        break;
      case v1::COLLEAGUE_OR_EXPERT_CONSULTED:
        if (!c.colleague_or_expert_consulted()) {
          missing.push_back("colleague_or_expert_consulted");
        }
        break;
      case v1::MANAGER_APPROVED:
        if (!c.manager_approved()) missing.push_back("manager_approved");
        break;
      case v1::RISK_ASSESSMENT_REFERENCED:
        if (c.risk_assessment_reference().empty()) {
          missing.push_back("risk_assessment_reference");
        }
        break;
      default:
        break;
    }
  }
  return missing;
}

std::optional<absl::CivilDay> MajorityDay(const v1::Subject& subject,
                                          const v1::Jurisdiction& j) {
  absl::CivilDay born;
  if (subject.birth_date().size() != 10 ||
      !absl::ParseCivilTime(subject.birth_date(), &born)) {
    return std::nullopt;
  }
  // CivilDay normalises 29 February of a common year to 1 March.
  return absl::CivilDay(born.year() + j.age_of_majority(), born.month(),
                        born.day());
}

Decision Decide(const PolicySet& set, const DisclosureQuery& q) {
  Decision d;
  d.policy_version = set.version();
  auto deny = [&d](std::string why) {
    d.reasons.push_back(std::move(why));
    d.allowed = false;
    d.level = v1::LEVEL_NONE;
    return d;
  };
  d.reasons.push_back(
      absl::StrCat("route: ", q.sender_agency_id, " (", q.sender_sector,
                   ") to ", q.recipient_agency_id, " (", q.recipient_sector,
                   ") for purpose \"", q.purpose, "\""));

  if (q.checklist.has_value()) {
    if (const std::vector<std::string> missing =
            MissingChecklistSteps(set, q.sender_sector, *q.checklist);
        !missing.empty()) {
      return deny(absl::StrCat(
          "the policy requires a ", q.sender_sector,
          " sender's pre-sharing checklist, and it does not confirm: ",
          absl::StrJoin(missing, ", "), "; confirm them in checklist"));
    }
  }

  const absl::CivilDay today = absl::ToCivilDay(q.at, absl::UTCTimeZone());
  const LoadedAgreement* chosen = nullptr;
  const LoadedAgreement* out_of_force = nullptr;
  for (const LoadedAgreement& loaded : set.agreements()) {
    const v1::Agreement& a = loaded.agreement;
    if (!CoversSender(a, q) || !CoversRecipient(a, q) ||
        !Names(a.purposes(), q.purpose)) {
      continue;
    }
    if (!a.jurisdictions().empty() &&
        !Names(a.jurisdictions(), q.sender_jurisdiction)) {
      continue;
    }
    if (today < loaded.valid_from || today > loaded.valid_until) {
      out_of_force = &loaded;
      continue;
    }
    if (chosen == nullptr ||
        Specificity(a, q) > Specificity(chosen->agreement, q)) {
      chosen = &loaded;
    }
  }
  if (chosen == nullptr) {
    if (out_of_force != nullptr) {
      const v1::Agreement& a = out_of_force->agreement;
      return deny(
          absl::StrCat("agreement \"", a.id(), "\" (", out_of_force->where,
                       ") covers the route but is not in force on ",
                       absl::FormatCivilTime(today), ": ",
                       today < out_of_force->valid_from
                           ? absl::StrCat("it starts on ", a.valid_from())
                           : absl::StrCat("it expired on ", a.valid_until())));
    }
    return deny(absl::StrCat("no agreement covers ", q.sender_sector, " to ",
                             q.recipient_sector, " for purpose \"", q.purpose,
                             "\": nothing may be disclosed on this route"));
  }
  const v1::Agreement& a = chosen->agreement;
  d.agreement_id = a.id();
  d.override_max_level = a.override_max_level();
  d.reasons.push_back(absl::StrCat("agreement \"", a.id(), "\" (",
                                   chosen->where, ") covers it, ",
                                   Validity(*chosen)));

  v1::Level level = v1::LEVEL_NONE;
  switch (q.basis.basis_case()) {
    case v1::LegalBasis::BASIS_NOT_SET:
      return deny(
          "no legal basis was given: name a consent, an overriding-risk "
          "justification or a statutory duty");
    case v1::LegalBasis::kConsentId:
      if (a.consent_max_level() == v1::LEVEL_NONE) {
        return deny(absl::StrCat("agreement \"", a.id(),
                                 "\" does not allow consent as a basis"));
      }
      if (std::optional<std::string> problem = ConsentProblem(set, q)) {
        return deny(*std::move(problem));
      }
      level = std::min(a.consent_max_level(), q.consent->max_level());
      d.reasons.push_back(absl::StrCat(
          "basis: consent \"", q.basis.consent_id(), "\" given by the ",
          q.consent->grantor() == v1::GRANTOR_SUBJECT ? "subject"
          : q.consent->grantor() == v1::GRANTOR_GUARDIAN
              ? "subject's guardian"
              : "subject's legal representative",
          " up to ", LevelName(q.consent->max_level()),
          "; the agreement gives up to ", LevelName(a.consent_max_level()),
          " under consent, so ", LevelName(level)));
      break;
    case v1::LegalBasis::kOverride: {
      if (a.override_max_level() == v1::LEVEL_NONE) {
        return deny(absl::StrCat("agreement \"", a.id(),
                                 "\" does not allow overrides"));
      }
      if (std::optional<std::string> problem =
              OverrideProblem(set, *chosen, q)) {
        return deny(*std::move(problem));
      }
      level = a.override_max_level();
      d.reasons.push_back(absl::StrCat(
          "basis: override, ",
          v1::OverrideCategory_Name(q.basis.override().category()), " under ",
          q.basis.override().legal_provision(), ", assessed by ",
          NormalisedProfessionalId(q.basis.override().assessor().id()),
          q.override_requested
              ? " at the recipient, which asks for it: the holder judges "
                "the risk and answers only under its own override"
          : a.override_needs_two_persons()
              ? absl::StrCat(" and approved by ",
                             NormalisedProfessionalId(
                                 q.basis.override().approver().id()))
              : "",
          "; the agreement gives up to ", LevelName(level), " under override"));
      break;
    }
    case v1::LegalBasis::kStatutoryDuty: {
      const v1::StatutoryDuty* duty = nullptr;
      for (const v1::StatutoryDuty& s : a.statutory_duties()) {
        if (s.id() == q.basis.statutory_duty()) duty = &s;
      }
      if (duty == nullptr) {
        return deny(absl::StrCat("statutory duty \"", q.basis.statutory_duty(),
                                 "\" is not named in agreement \"", a.id(),
                                 "\""));
      }
      level = duty->max_level();
      d.reasons.push_back(absl::StrCat("basis: statutory duty \"", duty->id(),
                                       "\" (", duty->legal_provision(),
                                       "); the agreement gives up to ",
                                       LevelName(level), " under it"));
      break;
    }
  }

  if (!a.relationship_not_required()) {
    if (!q.legitimate_relationship) {
      return deny(absl::StrCat(
          "agency \"", q.recipient_agency_id,
          "\" has no legitimate relationship to the subject: it is not the "
          "named recipient of a referral, attached to the case, or named by "
          "the consent"));
    }
    d.reasons.push_back(
        "the recipient has a legitimate relationship to the subject");
  }
  if (!q.record_type.empty() && set.FindRecordRules(q.record_type) == nullptr) {
    return deny(
        absl::StrCat("the policy set has no field rules for record "
                     "type \"",
                     q.record_type, "\""));
  }
  d.allowed = true;
  d.level = level;
  d.reasons.push_back(absl::StrCat("allowed at ", LevelName(level),
                                   " by policy ", set.version()));
  return d;
}

const v1::Subject* RecordSubject(const v1::Record& record) {
  switch (record.record_case()) {
    case v1::Record::kHealth:
      return &record.health().subject();
    case v1::Record::kSocialCare:
      return &record.social_care().subject();
    case v1::Record::kEducation:
      return &record.education().subject();
    case v1::Record::kPolice:
      return &record.police().subject();
    case v1::Record::RECORD_NOT_SET:
      break;
  }
  return nullptr;
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

namespace {

void AddOutcome(const std::string& field, v1::Transform t,
                google::protobuf::RepeatedPtrField<v1::FieldOutcome>* out) {
  v1::FieldOutcome* outcome = out->Add();
  outcome->set_field(field);
  outcome->set_treatment(TreatmentOf(t));
  outcome->set_transform(TransformName(t));
}

}  // namespace

v1::AbstractedRecord Abstract(const PolicySet& set, const v1::Record& record,
                              const Decision& decision, absl::CivilDay on,
                              absl::string_view hash_key) {
  v1::AbstractedRecord out;
  const v1::Level level = decision.allowed ? decision.level : v1::LEVEL_NONE;
  out.set_level(level);
  out.set_policy_version(decision.policy_version);
  out.set_more_available_under_override(decision.allowed &&
                                        decision.override_max_level > level);
  const std::string type = RecordType(record);
  const v1::RecordRules* rules = set.FindRecordRules(type);
  if (type.empty() || rules == nullptr) return out;

  v1::Record copy = record;
  copy.DiscardUnknownFields();
  const FieldDescriptor* which =
      v1::Record::descriptor()->FindFieldByName(type);
  Message* inner = copy.GetReflection()->MutableMessage(&copy, which);
  for (const v1::FieldRule& rule : rules->fields()) {
    const v1::Transform t = TransformAt(rule, level);
    AddOutcome(absl::StrCat(type, ".", rule.field()), t, out.mutable_fields());
    const auto path = ResolveFieldPath(inner->GetDescriptor(), rule.field());
    if (path.empty()) continue;  // the checker forbids it
    ApplyTransform(set, rule, t, inner, path, on, hash_key);
  }
  if (level > v1::LEVEL_NONE) *out.mutable_record() = std::move(copy);
  return out;
}

void AbstractEnvelope(const PolicySet& set, absl::string_view name,
                      v1::Level level, Message* message, absl::CivilDay on,
                      absl::string_view hash_key,
                      absl::string_view agreement_id) {
  v1::EnvelopeOutcome out;
  out.set_level(level);
  out.set_policy_version(set.version());
  message->DiscardUnknownFields();
  const google::protobuf::Descriptor* type = message->GetDescriptor();
  // The agreement's own rules replace the set's field by field.
  std::vector<const v1::FieldRule*> rules;
  if (const v1::EnvelopeRules* base = set.FindEnvelopeRules(name)) {
    for (const v1::FieldRule& rule : base->fields()) rules.push_back(&rule);
  }
  for (const LoadedAgreement& loaded : set.agreements()) {
    if (agreement_id.empty() || loaded.agreement.id() != agreement_id) {
      continue;
    }
    for (const v1::EnvelopeRules& own : loaded.agreement.envelopes()) {
      if (own.message() != name) continue;
      for (const v1::FieldRule& rule : own.fields()) {
        for (const v1::FieldRule*& r : rules) {
          if (r->field() == rule.field()) r = &rule;
        }
      }
    }
  }
  std::set<std::string> ruled;
  for (const v1::FieldRule* rule : rules) {
    const auto path = ResolveFieldPath(type, rule->field());
    if (path.empty()) continue;  // the checker forbids it
    const v1::Transform t = TransformAt(*rule, level);
    AddOutcome(rule->field(), t, out.mutable_fields());
    ApplyTransform(set, *rule, t, message, path, on, hash_key);
    ruled.insert(rule->field());
  }
  // Deny by default: a field no rule covers does not cross.
  v1::FieldRule withhold;
  for (const std::string& field : FieldsWithoutRule(type, ruled)) {
    AddOutcome(field, v1::DROP, out.mutable_fields());
    ApplyTransform(set, withhold, v1::DROP, message,
                   ResolveFieldPath(type, field), on, hash_key);
  }
  const FieldDescriptor* envelope = type->FindFieldByName("envelope");
  if (envelope != nullptr &&
      envelope->message_type() == v1::EnvelopeOutcome::descriptor()) {
    message->GetReflection()->MutableMessage(message, envelope)->CopyFrom(out);
  }
}

}  // namespace liaison::policy
