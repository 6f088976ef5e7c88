// The consent registry end to end over the real broker: consents and
// refusals recorded, shown and withdrawn; every decision on a consent basis
// checked against the registry (referrals here; pushed, requested and
// answered summaries in consent_summary_test.cc); recall notices naming
// exactly the messages sent under a withdrawn consent; and a guardian's
// consent lapsing at the age of majority under a moved clock (DESIGN.md
// sections 2, 5 and 8, rule 5).
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "liaison/v1/audit.grpc.pb.h"
#include "liaison/v1/exchange.grpc.pb.h"
#include "tests/common/exchange_fixture.h"

namespace liaison::testing {
namespace {

class ConsentTest : public ExchangeTest {};

TEST_F(ConsentTest, ConsentsAndRefusalsAreRecordedAndLoggedByPseudonym) {
  v1::Consent representative = SubjectConsent(Person(3));
  representative.set_grantor(v1::GRANTOR_LEGAL_REPRESENTATIVE);
  representative.set_grantor_relation("court-appointed guardian");
  v1::Consent bounded = SubjectConsent(Person(5));
  *bounded.mutable_valid_from() = Ts(absl::Now() - absl::Hours(24));
  *bounded.mutable_valid_until() = Ts(absl::Now() + absl::Hours(24 * 30));
  v1::Consent authorities =
      SubjectConsent(Person(6), {Authorities()}, {Authorities()});
  struct Case {
    std::string name;
    v1::Consent consent;
    v1::EntryKind kind;
  };
  const std::vector<Case> cases = {
      {"by the subject", SubjectConsent(Person(1)),
       v1::ENTRY_KIND_CONSENT_RECORDED},
      {"by a guardian", GuardianConsent(Person(2), "2012-05-06"),
       v1::ENTRY_KIND_CONSENT_RECORDED},
      {"by a legal representative", representative,
       v1::ENTRY_KIND_CONSENT_RECORDED},
      {"a refusal, without a level", Refusal(Person(4)),
       v1::ENTRY_KIND_CONSENT_REFUSED},
      {"for a period", bounded, v1::ENTRY_KIND_CONSENT_RECORDED},
      {"naming the public authorities", authorities,
       v1::ENTRY_KIND_CONSENT_RECORDED},
  };
  std::set<std::string> ids, pseudonyms;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<v1::Consent> recorded = RecordAs(school_, c.consent);
    ASSERT_TRUE(recorded.ok()) << recorded.status();
    EXPECT_TRUE(absl::StartsWith(recorded->consent_id(), "con-"))
        << recorded->consent_id();
    EXPECT_EQ(recorded->recorded_by_agency_id(), "school");
    EXPECT_FALSE(recorded->has_withdrawn_at());
    EXPECT_EQ(recorded->grantor(), c.consent.grantor());
    EXPECT_EQ(recorded->refused(), c.consent.refused());
    EXPECT_TRUE(ids.insert(recorded->consent_id()).second);

    // One entry of the right kind, naming the consent and the subject by
    // pseudonym only.
    std::vector<v1::LogEntry> entries = ConsentEntries(recorded->consent_id());
    ASSERT_EQ(entries.size(), 1u);
    const v1::LogEntry& e = entries[0];
    EXPECT_EQ(e.kind(), c.kind);
    EXPECT_EQ(e.consent_id(), recorded->consent_id());
    EXPECT_EQ(e.actor(), "liaison://agency/education/school");
    EXPECT_EQ(e.subject_pseudonym().size(), 64u);
    pseudonyms.insert(e.subject_pseudonym());
    const std::string& person = c.consent.subject().identifier();
    const std::string leaf = e.SerializeAsString();
    EXPECT_FALSE(absl::StrContains(leaf, person));
    EXPECT_FALSE(absl::StrContains(leaf, Normalised(person)));
    EXPECT_FALSE(absl::StrContains(e.DebugString(), Normalised(person)));

    // The recording agency sees it as recorded.
    absl::StatusOr<v1::Consent> shown = GetAs(school_, recorded->consent_id());
    ASSERT_TRUE(shown.ok()) << shown.status();
    EXPECT_EQ(shown->consent_id(), recorded->consent_id());
    EXPECT_EQ(shown->recorded_by_agency_id(), "school");
    EXPECT_EQ(shown->subject().identifier(), person);
    EXPECT_EQ(shown->purposes_size(), c.consent.purposes_size());
  }
  EXPECT_EQ(pseudonyms.size(), cases.size());  // one person each
}

TEST_F(ConsentTest, MalformedConsentsAreRefusedAndNeitherStoredNorLogged) {
  const v1::Consent good = GuardianConsent(Person(10), "2012-05-06");
  const absl::Time now = absl::Now();
  struct Case {
    std::string name;
    std::function<void(v1::Consent*)> spoil;
  };
  const std::vector<Case> cases = {
      {"no grantor", [](v1::Consent* c) { c->clear_grantor(); }},
      {"no subject", [](v1::Consent* c) { c->clear_subject(); }},
      {"no subject identifier",
       [](v1::Consent* c) { c->mutable_subject()->clear_identifier(); }},
      {"a guardian's consent without the subject's birth date",
       [](v1::Consent* c) { c->mutable_subject()->clear_birth_date(); }},
      {"a guardian without grantor_relation",
       [](v1::Consent* c) { c->clear_grantor_relation(); }},
      {"a legal representative without grantor_relation",
       [](v1::Consent* c) {
         c->set_grantor(v1::GRANTOR_LEGAL_REPRESENTATIVE);
         c->clear_grantor_relation();
       }},
      {"no disclosing", [](v1::Consent* c) { c->clear_disclosing(); }},
      {"no recipients", [](v1::Consent* c) { c->clear_recipients(); }},
      {"no purposes", [](v1::Consent* c) { c->clear_purposes(); }},
      {"no evidence", [](v1::Consent* c) { c->clear_evidence(); }},
      {"evidence without form_reference",
       [](v1::Consent* c) { c->mutable_evidence()->clear_form_reference(); }},
      {"evidence without form_version",
       [](v1::Consent* c) { c->mutable_evidence()->clear_form_version(); }},
      {"evidence without language",
       [](v1::Consent* c) { c->mutable_evidence()->clear_language(); }},
      {"no max_level", [](v1::Consent* c) { c->clear_max_level(); }},
      {"valid_until before valid_from",
       [now](v1::Consent* c) {
         *c->mutable_valid_from() = Ts(now + absl::Hours(48));
         *c->mutable_valid_until() = Ts(now + absl::Hours(24));
       }},
      {"valid_until equal to valid_from",
       [now](v1::Consent* c) {
         *c->mutable_valid_from() = Ts(now + absl::Hours(24));
         *c->mutable_valid_until() = Ts(now + absl::Hours(24));
       }},
      {"a disclosing party with nothing set",
       [](v1::Consent* c) { c->add_disclosing(); }},
      {"a recipient party with nothing set",
       [](v1::Consent* c) { c->add_recipients(); }},
      {"a recipient sector the policy does not have",
       [](v1::Consent* c) { c->add_recipients()->set_sector("housing"); }},
      {"a disclosing sector the policy does not have",
       [](v1::Consent* c) { c->add_disclosing()->set_sector("housing"); }},
      {"a recipient agency that is not registered",
       [](v1::Consent* c) { c->add_recipients()->set_agency_id("nowhere"); }},
      {"public_authorities set to false",
       [](v1::Consent* c) {
         c->add_recipients()->set_public_authorities(false);
       }},
      {"a refusal without purposes",
       [](v1::Consent* c) {
         c->set_refused(true);
         c->clear_max_level();
         c->clear_purposes();
       }},
  };
  const uint64_t logged_before = TreeSize();
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    v1::Consent consent = good;
    c.spoil(&consent);
    absl::StatusOr<v1::Consent> result = RecordAs(school_, consent);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument)
        << result.status();
    EXPECT_TRUE(absl::StrContains(result.status().message(),
                                  "the consent is malformed"))
        << result.status();
  }
  // A guardian cannot consent for a subject who has come of age (18 in
  // "se").
  absl::StatusOr<v1::Consent> adult =
      RecordAs(school_, GuardianConsent(Person(11), "2000-01-01"));
  EXPECT_EQ(adult.status().code(), absl::StatusCode::kFailedPrecondition)
      << adult.status();
  EXPECT_TRUE(absl::StrContains(adult.status().message(), "age of majority"))
      << adult.status();

  // Only agencies record consents.
  EXPECT_EQ(RecordAs(dpo_, good).status().code(),
            absl::StatusCode::kPermissionDenied);

  // Nothing of the above was logged.
  EXPECT_EQ(TreeSize(), logged_before);
  EXPECT_TRUE(
      Log({v1::ENTRY_KIND_CONSENT_RECORDED, v1::ENTRY_KIND_CONSENT_REFUSED})
          .empty());
  // That query is itself logged, as one ACCESS entry.
  const uint64_t after_query = TreeSize();
  EXPECT_EQ(after_query, logged_before + 1);
  // The consent they were spoiled from is valid, and so is the adult's own.
  absl::StatusOr<v1::Consent> recorded = RecordAs(school_, good);
  ASSERT_TRUE(recorded.ok()) << recorded.status();
  ASSERT_TRUE(RecordAs(school_, SubjectConsent(Person(11))).ok());
  EXPECT_EQ(TreeSize(), after_query + 2);
}

TEST_F(ConsentTest, RecordingIsIdempotentOnItsKey) {
  const v1::Consent consent = SubjectConsent(Person(20));
  absl::StatusOr<v1::Consent> first = RecordAs(school_, consent, "form-118");
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<v1::Consent> again = RecordAs(school_, consent, "form-118");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->consent_id(), first->consent_id());
  EXPECT_EQ(ConsentEntries(first->consent_id()).size(), 1u);

  v1::Consent changed = consent;
  changed.add_purposes("referral_feedback");
  absl::StatusOr<v1::Consent> conflict = RecordAs(school_, changed, "form-118");
  EXPECT_EQ(conflict.status().code(), absl::StatusCode::kAlreadyExists)
      << conflict.status();

  // Keys are per recording agency.
  absl::StatusOr<v1::Consent> other = RecordAs(social_, consent, "form-118");
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_NE(other->consent_id(), first->consent_id());
  EXPECT_EQ(other->recorded_by_agency_id(), "social");

  // Without a key, every call records a consent of its own.
  absl::StatusOr<v1::Consent> a = RecordAs(school_, consent);
  absl::StatusOr<v1::Consent> b = RecordAs(school_, consent);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->consent_id(), b->consent_id());
  EXPECT_NE(a->consent_id(), first->consent_id());
  EXPECT_EQ(Log({v1::ENTRY_KIND_CONSENT_RECORDED}).size(), 4u);
}

TEST_F(ConsentTest, OnlyTheRecorderAndThePartiesNamedSeeOrWithdrawAConsent) {
  const std::string person = Person(30);
  // Named by id and by sector.
  const std::string by_sector =
      MustRecord(school_, SubjectConsent(person, {AgencyParty("school")},
                                         {SectorParty("social_care")}));
  // Every public authority may receive.
  const std::string authorities = MustRecord(
      hospital_,
      SubjectConsent(person, {AgencyParty("hospital")}, {Authorities()}));
  // Recorded by the hospital, which it does not name.
  const std::string not_recorder =
      MustRecord(hospital_, SubjectConsent(person, {SectorParty("social_care")},
                                           {AgencyParty("police")}));
  const std::string unknown = "con-00000000000000000000000000000000";
  struct Case {
    const char* who_name;
    const Credentials* who;
    std::string consent_id;
    bool sees;
  };
  const std::vector<Case> cases = {
      {"school", &school_, by_sector, true},
      {"social", &social_, by_sector, true},
      {"hospital", &hospital_, by_sector, false},
      {"police", &police_, by_sector, false},
      {"helpline", &helpline_, by_sector, false},
      {"hospital", &hospital_, authorities, true},
      {"police", &police_, authorities, true},
      {"school", &school_, authorities, true},
      {"social", &social_, authorities, true},
      {"helpline", &helpline_, authorities, false},
      {"hospital", &hospital_, not_recorder, true},
      {"social", &social_, not_recorder, true},
      {"police", &police_, not_recorder, true},
      {"school", &school_, not_recorder, false},
      {"helpline", &helpline_, not_recorder, false},
      {"school", &school_, unknown, false},
      {"hospital", &hospital_, unknown, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrCat(c.who_name, " asks for ", c.consent_id));
    absl::StatusOr<v1::Consent> shown = GetAs(*c.who, c.consent_id);
    if (c.sees) {
      ASSERT_TRUE(shown.ok()) << shown.status();
      EXPECT_EQ(shown->consent_id(), c.consent_id);
    } else {
      EXPECT_EQ(shown.status().code(), absl::StatusCode::kNotFound)
          << shown.status();
      // Nor may it withdraw the consent.
      EXPECT_EQ(WithdrawAs(*c.who, c.consent_id).status().code(),
                absl::StatusCode::kNotFound);
    }
  }
  // A withdrawal needs a reason.
  absl::StatusOr<v1::Consent> no_reason = WithdrawAs(school_, by_sector, "");
  EXPECT_EQ(no_reason.status().code(), absl::StatusCode::kInvalidArgument)
      << no_reason.status();
  // Nothing above withdrew anything.
  for (const auto& [who, id] :
       std::vector<std::pair<const Credentials*, std::string>>{
           {&school_, by_sector},
           {&hospital_, authorities},
           {&hospital_, not_recorder}}) {
    absl::StatusOr<v1::Consent> shown = GetAs(*who, id);
    ASSERT_TRUE(shown.ok()) << shown.status();
    EXPECT_FALSE(shown->has_withdrawn_at()) << id;
  }
  EXPECT_TRUE(Log({v1::ENTRY_KIND_CONSENT_WITHDRAWN}).empty());

  // A party named by id that did not record it may record its withdrawal.
  absl::StatusOr<v1::Consent> withdrawn = WithdrawAs(police_, not_recorder);
  ASSERT_TRUE(withdrawn.ok()) << withdrawn.status();
  EXPECT_EQ(withdrawn->consent_id(), not_recorder);
  EXPECT_TRUE(withdrawn->has_withdrawn_at());
  absl::StatusOr<v1::Consent> seen = GetAs(hospital_, not_recorder);
  ASSERT_TRUE(seen.ok()) << seen.status();
  EXPECT_TRUE(seen->has_withdrawn_at());
  EXPECT_FALSE(ConsentEntries(not_recorder).empty());
  for (const v1::LogEntry& e : Log({v1::ENTRY_KIND_CONSENT_WITHDRAWN})) {
    EXPECT_EQ(e.consent_id(), not_recorder);
    EXPECT_FALSE(absl::StrContains(e.SerializeAsString(), Normalised(person)));
  }
}

TEST_F(ConsentTest, AConsentBasisIsCheckedAgainstTheRegistry) {
  const absl::Time now = absl::Now();
  struct Case {
    std::string name;
    // Records what the case needs for `person` and returns the consent id
    // the referral about `person` names.
    std::function<std::string(const std::string& person,
                              const std::string& other_person)>
        setup;
    std::string why;
  };
  const std::vector<Case> cases = {
      {"unknown id",
       [](const std::string&, const std::string&) {
         return std::string("con-00000000000000000000000000000000");
       },
       "not in the consent registry"},
      {"about another person",
       [this](const std::string&, const std::string& other) {
         return MustRecord(school_, SubjectConsent(other));
       },
       "about another person"},
      {"a refusal",
       [this](const std::string& person, const std::string&) {
         return MustRecord(school_, Refusal(person));
       },
       "records a refusal"},
      {"withdrawn",
       [this](const std::string& person, const std::string&) {
         const std::string id = MustRecord(school_, SubjectConsent(person));
         EXPECT_TRUE(WithdrawAs(school_, id).ok());
         return id;
       },
       "was withdrawn"},
      {"not valid yet",
       [this, now](const std::string& person, const std::string&) {
         v1::Consent c = SubjectConsent(person);
         *c.mutable_valid_from() = Ts(now + absl::Hours(72));
         return MustRecord(school_, c);
       },
       "not valid until"},
      {"expired",
       [this, now](const std::string& person, const std::string&) {
         v1::Consent c = SubjectConsent(person);
         *c.mutable_valid_from() = Ts(now - absl::Hours(24 * 10));
         *c.mutable_valid_until() = Ts(now - absl::Hours(24));
         return MustRecord(school_, c);
       },
       "expired"},
      {"the sender is not a disclosing party",
       [this](const std::string& person, const std::string&) {
         return MustRecord(school_,
                           SubjectConsent(person, {AgencyParty("hospital")}));
       },
       "as a disclosing party"},
      {"the sender's sector is not a disclosing party",
       [this](const std::string& person, const std::string&) {
         return MustRecord(school_,
                           SubjectConsent(person, {SectorParty("police")}));
       },
       "as a disclosing party"},
      {"the recipient is not named",
       [this](const std::string& person, const std::string&) {
         return MustRecord(school_,
                           SubjectConsent(person, {AgencyParty("school")},
                                          {AgencyParty("police")}));
       },
       "as a recipient"},
      {"the recipient's sector is not named",
       [this](const std::string& person, const std::string&) {
         return MustRecord(school_,
                           SubjectConsent(person, {AgencyParty("school")},
                                          {SectorParty("health")}));
       },
       "as a recipient"},
      {"another purpose",
       [this](const std::string& person, const std::string&) {
         return MustRecord(
             school_, SubjectConsent(person, {AgencyParty("school")},
                                     {SectorParty("social_care")},
                                     v1::LEVEL_FULL, {"crime_prevention"}));
       },
       "does not cover purpose"},
      {"a refusal covers the route and purpose",
       [this](const std::string& person, const std::string&) {
         const std::string id = MustRecord(school_, SubjectConsent(person));
         MustRecord(social_, Refusal(person, {SectorParty("education")},
                                     {AgencyParty("social")}));
         return id;
       },
       "refused consent"},
  };
  int n = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ++n;
    const std::string person = Person(100 + n);
    const std::string consent_id = c.setup(person, Person(200 + n));
    const size_t before = Denials();
    const v1::SendReferralRequest r = SchoolReferral(
        absl::StrCat("deny-", n), person, ConsentBasis(consent_id));
    ExpectLoggedDenial(Send(school_, r), before, c.why, r.basis());
  }
  EXPECT_TRUE(Log({v1::ENTRY_KIND_DISCLOSURE}).empty());

  // Nothing of the above reached social care: the first message it sees is
  // the valid referral sent after them.
  const std::string person = Person(300);
  auto good = Send(
      school_, SchoolReferral(
                   "good", person,
                   ConsentBasis(MustRecord(school_, SubjectConsent(person)))));
  ASSERT_TRUE(good.ok()) << good.status();
  std::vector<v1::InboxMessage> inbox =
      ReadInbox(Channel(social_), 2, absl::Seconds(3));
  ASSERT_EQ(inbox.size(), 1u);
  EXPECT_EQ(inbox[0].referral().referral_id(), good->referral_id());
}

TEST_F(ConsentTest, TheLevelIsTheLowerOfTheAgreementsAndTheConsents) {
  struct Case {
    const char* name;
    const Credentials* from;
    v1::Level consent_max;
    v1::Level expected;
  };
  // school-to-social gives up to SUMMARY under consent, health-to-social
  // up to FULL.
  const std::vector<Case> cases = {
      {"school, consent to SIGNAL", &school_, v1::LEVEL_SIGNAL,
       v1::LEVEL_SIGNAL},
      {"school, consent to CATEGORY", &school_, v1::LEVEL_CATEGORY,
       v1::LEVEL_CATEGORY},
      {"school, consent to SUMMARY", &school_, v1::LEVEL_SUMMARY,
       v1::LEVEL_SUMMARY},
      {"school, consent to FULL", &school_, v1::LEVEL_FULL, v1::LEVEL_SUMMARY},
      {"hospital, consent to SUMMARY", &hospital_, v1::LEVEL_SUMMARY,
       v1::LEVEL_SUMMARY},
      {"hospital, consent to FULL", &hospital_, v1::LEVEL_FULL, v1::LEVEL_FULL},
  };
  std::map<std::string, v1::Level> expected;  // by referral id
  int n = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ++n;
    const std::string person = Person(400 + n);
    const bool health = c.from == &hospital_;
    const std::string consent_id = MustRecord(
        *c.from,
        SubjectConsent(person, {AgencyParty(health ? "hospital" : "school")},
                       {AgencyParty("social")}, c.consent_max));
    const std::string key = absl::StrCat("level-", n);
    const v1::SendReferralRequest r =
        health ? HealthReferral(key, person, ConsentBasis(consent_id))
               : SchoolReferral(key, person, ConsentBasis(consent_id));
    auto sent = Send(*c.from, r);
    ASSERT_TRUE(sent.ok()) << sent.status();
    EXPECT_EQ(sent->level(), c.expected) << v1::Level_Name(sent->level());
    expected[sent->referral_id()] = c.expected;
    // The disclosure is logged at that level, naming the consent.
    bool logged = false;
    for (const v1::LogEntry& e : Log({v1::ENTRY_KIND_DISCLOSURE})) {
      if (e.message_id() != sent->referral_id()) continue;
      logged = true;
      EXPECT_EQ(e.level(), c.expected);
      EXPECT_EQ(e.basis(), v1::BASIS_KIND_CONSENT);
      EXPECT_EQ(e.consent_id(), consent_id);
    }
    EXPECT_TRUE(logged);
  }
  // Each record arrives at its level.
  std::vector<v1::InboxMessage> inbox =
      ReadInbox(Channel(social_), cases.size(), absl::Seconds(20), Referrals());
  ASSERT_EQ(inbox.size(), cases.size());
  for (const v1::InboxMessage& m : inbox) {
    ASSERT_EQ(expected.count(m.referral().referral_id()), 1u);
    EXPECT_EQ(m.referral().record().level(),
              expected[m.referral().referral_id()])
        << m.referral().referral_id();
  }
}

TEST_F(ConsentTest, ThePublicAuthoritiesAreEveryAuthorityButNotAnNgo) {
  const std::string person = Person(500);
  const std::string to_authorities = MustRecord(
      school_,
      SubjectConsent(person, {AgencyParty("school")}, {Authorities()}));
  // Social care is a public authority.
  auto to_social = Send(school_, SchoolReferral("pa-social", person,
                                                ConsentBasis(to_authorities)));
  ASSERT_TRUE(to_social.ok()) << to_social.status();
  EXPECT_EQ(to_social->level(), v1::LEVEL_SUMMARY);
  // The helpline's sector is not.
  const size_t before = Denials();
  const v1::SendReferralRequest to_ngo = SchoolReferral(
      "pa-ngo", person, ConsentBasis(to_authorities), "helpline");
  ExpectLoggedDenial(Send(school_, to_ngo), before, "as a recipient",
                     to_ngo.basis());
  EXPECT_EQ(GetAs(helpline_, to_authorities).status().code(),
            absl::StatusCode::kNotFound);

  // Named by sector or by id, the NGO is covered.
  const std::string to_ngo_sector = MustRecord(
      school_, SubjectConsent(person, {AgencyParty("school")},
                              {SectorParty("ngo")}, v1::LEVEL_CATEGORY));
  auto by_sector =
      Send(school_, SchoolReferral("ngo-sector", person,
                                   ConsentBasis(to_ngo_sector), "helpline"));
  ASSERT_TRUE(by_sector.ok()) << by_sector.status();
  EXPECT_EQ(by_sector->level(), v1::LEVEL_CATEGORY);
  const std::string to_ngo_id =
      MustRecord(school_, SubjectConsent(person, {AgencyParty("school")},
                                         {AgencyParty("helpline")}));
  auto by_id = Send(
      school_,
      SchoolReferral("ngo-id", person, ConsentBasis(to_ngo_id), "helpline"));
  ASSERT_TRUE(by_id.ok()) << by_id.status();
  EXPECT_EQ(by_id->level(), v1::LEVEL_SUMMARY);
  ASSERT_TRUE(GetAs(helpline_, to_ngo_sector).ok());
  ASSERT_TRUE(GetAs(helpline_, to_ngo_id).ok());

  // The authorities as disclosing parties cover the school.
  const std::string from_authorities = MustRecord(
      social_,
      SubjectConsent(person, {Authorities()}, {AgencyParty("social")}));
  auto from_school =
      Send(school_,
           SchoolReferral("pa-from", person, ConsentBasis(from_authorities)));
  ASSERT_TRUE(from_school.ok()) << from_school.status();

  std::vector<v1::InboxMessage> at_helpline =
      ReadInbox(Channel(helpline_), 3, absl::Seconds(5), Referrals());
  ASSERT_EQ(at_helpline.size(), 2u);
  EXPECT_EQ(at_helpline[0].referral().referral_id(), by_sector->referral_id());
  EXPECT_EQ(at_helpline[1].referral().referral_id(), by_id->referral_id());
}

TEST_F(ConsentTest, ARefusalRulesOutConsentButLeavesAnOverridePossible) {
  const std::string person = Person(600);
  const std::string consent = MustRecord(school_, SubjectConsent(person));
  // Refusals for another route or another purpose do not touch this one.
  MustRecord(school_,
             Refusal(person, {AgencyParty("school")}, {SectorParty("police")}));
  MustRecord(school_,
             Refusal(person, {AgencyParty("school")},
                     {SectorParty("social_care")}, {"crime_prevention"}));
  // Nor does a refusal about another person.
  MustRecord(school_, Refusal(Person(601)));
  auto before_refusal =
      Send(school_, SchoolReferral("r-1", person, ConsentBasis(consent)));
  ASSERT_TRUE(before_refusal.ok()) << before_refusal.status();

  // A refusal naming the route (by sector and as the authorities) and the
  // purpose rules the consent out.
  const std::string refusal = MustRecord(
      social_, Refusal(person, {SectorParty("education")}, {Authorities()}));
  const size_t denials = Denials();
  const v1::SendReferralRequest under_consent =
      SchoolReferral("r-2", person, ConsentBasis(consent));
  ExpectLoggedDenial(Send(school_, under_consent), denials, "refused consent",
                     under_consent.basis());

  // An override is decided as if there were no refusal; so is a statutory
  // duty.
  auto overridden =
      Send(school_, SchoolReferral("r-3", person, OverrideBasis()));
  ASSERT_TRUE(overridden.ok()) << overridden.status();
  EXPECT_EQ(overridden->level(), v1::LEVEL_SUMMARY);
  auto duty =
      Send(school_, SchoolReferral("r-4", person, DutyBasis("se-sol-14-1")));
  ASSERT_TRUE(duty.ok()) << duty.status();

  // Withdrawing the refusal ends it.
  absl::StatusOr<v1::Consent> ended =
      WithdrawAs(school_, refusal, "the person changed their mind");
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_TRUE(ended->has_withdrawn_at());
  auto after =
      Send(school_, SchoolReferral("r-5", person, ConsentBasis(consent)));
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->level(), v1::LEVEL_SUMMARY);
}

TEST_F(ConsentTest, AWithdrawalRecallsExactlyTheMessagesSentUnderTheConsent) {
  const std::string person = Person(800);
  // The school and social care may share with each other; the hospital is
  // named too but never receives anything.
  const std::string consent = MustRecord(
      school_,
      SubjectConsent(person, {AgencyParty("school"), AgencyParty("social")},
                     {AgencyParty("social"), SectorParty("education"),
                      AgencyParty("hospital")}));
  // Another consent for the same person and route.
  const std::string other = MustRecord(school_, SubjectConsent(person));

  std::vector<std::string> under_consent, not_under_consent;  // referral ids
  std::string case_id;
  for (const auto& [key, basis] :
       std::vector<std::pair<std::string, v1::LegalBasis>>{
           {"a-1", ConsentBasis(consent)},
           {"b-1", ConsentBasis(other)},
           {"a-2", ConsentBasis(consent)},
           {"duty-1", DutyBasis("se-sol-14-1")}}) {
    auto sent = Send(school_, SchoolReferral(key, person, basis));
    ASSERT_TRUE(sent.ok()) << key << ": " << sent.status();
    (basis.has_consent_id() && basis.consent_id() == consent
         ? under_consent
         : not_under_consent)
        .push_back(sent->referral_id());
    if (case_id.empty()) case_id = sent->case_id();
  }
  ASSERT_EQ(under_consent.size(), 2u);
  ASSERT_EQ(not_under_consent.size(), 2u);
  // Social care's record goes back to the school under the same consent.
  auto pushed = Push(
      social_, SocialPush("push-a", case_id, person, ConsentBasis(consent)));
  ASSERT_TRUE(pushed.ok()) << pushed.status();
  ASSERT_EQ(pushed->deliveries_size(), 1);
  ASSERT_NE(pushed->deliveries(0).level(), v1::LEVEL_NONE)
      << pushed->deliveries(0).reason();

  // What each agency received, by inbox message id.
  std::map<std::string, std::string> message_of;  // referral id -> message id
  for (const v1::InboxMessage& m :
       ReadInbox(Channel(social_), 4, absl::Seconds(20), Referrals())) {
    message_of[m.referral().referral_id()] = m.message_id();
  }
  ASSERT_EQ(message_of.size(), 4u);
  std::vector<std::string> social_expected;
  for (const std::string& id : under_consent) {
    social_expected.push_back(message_of[id]);
  }
  std::vector<v1::InboxMessage> school_summaries =
      ReadInbox(Channel(school_), 1, absl::Seconds(10), Summaries());
  ASSERT_EQ(school_summaries.size(), 1u);
  EXPECT_EQ(school_summaries[0].summary().summary_id(), pushed->summary_id());

  absl::StatusOr<v1::Consent> withdrawn = WithdrawAs(school_, consent);
  ASSERT_TRUE(withdrawn.ok()) << withdrawn.status();
  EXPECT_EQ(withdrawn->consent_id(), consent);
  ASSERT_TRUE(withdrawn->has_withdrawn_at());
  const size_t withdrawal_entries =
      Log({v1::ENTRY_KIND_CONSENT_WITHDRAWN}).size();
  EXPECT_GE(withdrawal_entries, 1u);
  for (const v1::LogEntry& e : Log({v1::ENTRY_KIND_CONSENT_WITHDRAWN})) {
    EXPECT_EQ(e.consent_id(), consent);
  }

  const Keep recall = NoticeOf(v1::Notice::KIND_CONSENT_RECALL);
  std::vector<v1::InboxMessage> at_social =
      ReadInbox(Channel(social_), 1, absl::Seconds(10), recall);
  ASSERT_EQ(at_social.size(), 1u);
  EXPECT_EQ(at_social[0].notice().consent_id(), consent);
  EXPECT_EQ(MessageIds(at_social[0].notice()), Sorted(social_expected));
  std::vector<v1::InboxMessage> at_school =
      ReadInbox(Channel(school_), 1, absl::Seconds(10), recall);
  ASSERT_EQ(at_school.size(), 1u);
  EXPECT_EQ(at_school[0].notice().consent_id(), consent);
  EXPECT_EQ(MessageIds(at_school[0].notice()),
            std::vector<std::string>{school_summaries[0].message_id()});
  // Named, but it received nothing: nothing to recall.
  EXPECT_TRUE(
      ReadInbox(Channel(hospital_), 1, absl::Seconds(2), recall).empty());

  // Withdrawing again changes nothing and recalls nothing.
  absl::StatusOr<v1::Consent> again =
      WithdrawAs(social_, consent, "asked again by the person");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->withdrawn_at().seconds(),
            withdrawn->withdrawn_at().seconds());
  EXPECT_EQ(again->withdrawn_at().nanos(), withdrawn->withdrawn_at().nanos());
  EXPECT_EQ(Log({v1::ENTRY_KIND_CONSENT_WITHDRAWN}).size(), withdrawal_entries);
  EXPECT_TRUE(ReadInbox(Channel(social_), 1, absl::Seconds(2), recall).empty());
  EXPECT_TRUE(ReadInbox(Channel(school_), 1, absl::Seconds(2), recall).empty());

  // The withdrawn consent is no basis any more; the other one still is.
  const size_t denials = Denials();
  const v1::SendReferralRequest late =
      SchoolReferral("a-3", person, ConsentBasis(consent));
  ExpectLoggedDenial(Send(school_, late), denials, "was withdrawn",
                     late.basis());
  EXPECT_TRUE(
      Send(school_, SchoolReferral("b-2", person, ConsentBasis(other))).ok());
}

TEST_F(ConsentTest, AGuardiansConsentLapsesWhenTheSubjectComesOfAge) {
  // The broker's clock, a minute ahead of real time so that it is after
  // every certificate's start.
  const std::string clock = deployment_.root() + "/clock.txt";
  const absl::Time start =
      absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()) + 60);
  ASSERT_NO_FATAL_FAILURE(SetClock(clock, start));
  ASSERT_EQ(broker_->Stop(), 0);
  StartBroker({"--clock_file=" + clock});

  // Born so that they turn 18 (the age of majority in "se") two days from
  // the broker's today.
  const absl::CivilDay today = absl::ToCivilDay(start, absl::UTCTimeZone());
  const absl::CivilDay birthday = today + 2;
  const absl::CivilDay born(birthday.year() - 18, birthday.month(),
                            birthday.day());
  const std::string person = Person(1100);
  absl::StatusOr<v1::Consent> consent =
      RecordAs(school_, GuardianConsent(person, absl::FormatCivilTime(born)));
  ASSERT_TRUE(consent.ok()) << consent.status();
  const v1::LegalBasis basis = ConsentBasis(consent->consent_id());
  auto minor = Send(school_, SchoolReferral("minor-1", person, basis));
  ASSERT_TRUE(minor.ok()) << minor.status();
  EXPECT_EQ(minor->level(), v1::LEVEL_SUMMARY);

  // Four days on, they are of age: the guardian's consent has lapsed.
  const absl::Time later = start + absl::Hours(24 * 4);
  ASSERT_NO_FATAL_FAILURE(SetClock(clock, later));
  const size_t denials = Denials();
  ExpectLoggedDenial(Send(school_, SchoolReferral("minor-2", person, basis)),
                     denials, "age of majority", basis);
  // The denial was decided on the moved clock.
  std::vector<v1::LogEntry> entries = Log({v1::ENTRY_KIND_DENIAL});
  ASSERT_FALSE(entries.empty());
  EXPECT_GE(entries.back().time().seconds(), absl::ToUnixSeconds(later) - 60);
  // A guardian can no longer consent for them; they can themself.
  absl::StatusOr<v1::Consent> guardian_again =
      RecordAs(school_, GuardianConsent(person, absl::FormatCivilTime(born)));
  EXPECT_EQ(guardian_again.status().code(),
            absl::StatusCode::kFailedPrecondition)
      << guardian_again.status();
  EXPECT_TRUE(
      absl::StrContains(guardian_again.status().message(), "age of majority"))
      << guardian_again.status();
  const std::string own = MustRecord(school_, SubjectConsent(person));
  auto adult =
      Send(school_, SchoolReferral("adult-1", person, ConsentBasis(own)));
  ASSERT_TRUE(adult.ok()) << adult.status();
}

}  // namespace
}  // namespace liaison::testing
