#include "tests/common/exchange_fixture.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "tests/common/example_referral.h"

namespace liaison::testing {
namespace {

// Every agency in the sample jurisdiction "se" (age of majority 18,
// override statements of at least 40 characters), plus a helpline run by
// an NGO, which is not a public authority.
constexpr char kRegistry[] = R"pb(
  agencies { id: "school" sector: "education" jurisdiction: "se" area: "malmo" }
  agencies {
    id: "social"
    sector: "social_care"
    jurisdiction: "se"
    area: "malmo"
  }
  agencies { id: "hospital" sector: "health" jurisdiction: "se" area: "malmo" }
  agencies { id: "police" sector: "police" jurisdiction: "se" area: "malmo" }
  agencies { id: "helpline" sector: "ngo" jurisdiction: "se" area: "malmo" }
  auditors { id: "dpo" scope: "*" }
)pb";

// Appended to the default sectors, which stay as they are (health keeps
// the checklist steps the default policy requires).
constexpr char kNgoSector[] = R"pb(
  sectors {
    name: "ngo"
    description: "Voluntary organisations supporting children and families"
    public_authority: false
  }
)pb";

// The routes these tests send on, replacing the default agreements.
constexpr char kAgreements[] = R"pb(
  agreements {
    id: "school-to-social"
    from_sectors: "education"
    to_sectors: "social_care"
    purposes: "child_welfare"
    consent_max_level: LEVEL_SUMMARY
    override_max_level: LEVEL_SUMMARY
    override_provisions {
      category: OVERRIDE_CATEGORY_CHILD_PROTECTION
      legal_provisions: "OSL 10 kap. 28 §"
    }
    statutory_duties {
      id: "se-sol-14-1"
      legal_provision: "SoL 14 kap. 1 §"
      max_level: LEVEL_SUMMARY
    }
    valid_from: "2026-01-01"
  }
  agreements {
    id: "school-to-ngo"
    from_sectors: "education"
    to_sectors: "ngo"
    purposes: "child_welfare"
    consent_max_level: LEVEL_SUMMARY
    valid_from: "2026-01-01"
  }
  agreements {
    id: "health-to-social"
    from_sectors: "health"
    to_sectors: "social_care"
    purposes: "child_welfare"
    consent_max_level: LEVEL_FULL
    override_max_level: LEVEL_SUMMARY
    override_provisions {
      category: OVERRIDE_CATEGORY_CHILD_PROTECTION
      legal_provisions: "OSL 10 kap. 28 §"
    }
    valid_from: "2026-01-01"
  }
  agreements {
    id: "health-to-police"
    from_sectors: "health"
    to_sectors: "police"
    purposes: "child_welfare"
    purposes: "crime_prevention"
    consent_max_level: LEVEL_SIGNAL
    override_max_level: LEVEL_CATEGORY
    override_provisions {
      category: OVERRIDE_CATEGORY_CHILD_PROTECTION
      legal_provisions: "OSL 10 kap. 28 §"
    }
    override_needs_two_persons: true
    valid_from: "2026-01-01"
  }
  agreements {
    id: "social-to-partners"
    from_sectors: "social_care"
    to_sectors: "education"
    to_sectors: "health"
    to_sectors: "police"
    purposes: "child_welfare"
    consent_max_level: LEVEL_CATEGORY
    override_max_level: LEVEL_CATEGORY
    override_provisions {
      category: OVERRIDE_CATEGORY_CHILD_PROTECTION
      legal_provisions: "OSL 10 kap. 28 §"
    }
    valid_from: "2026-01-01"
  }
)pb";

}  // namespace

std::string Person(int n) { return absl::StrCat("20110304-", 1000 + n); }

std::string Normalised(const std::string& identifier) {
  return absl::StrReplaceAll(identifier, {{"-", ""}, {" ", ""}});
}

google::protobuf::Timestamp Ts(absl::Time t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  return ts;
}

v1::Party SectorParty(const std::string& sector) {
  v1::Party p;
  p.set_sector(sector);
  return p;
}

v1::Party AgencyParty(const std::string& id) {
  v1::Party p;
  p.set_agency_id(id);
  return p;
}

v1::Party Authorities() {
  v1::Party p;
  p.set_public_authorities(true);
  return p;
}

v1::Consent SubjectConsent(const std::string& person,
                           std::vector<v1::Party> disclosing,
                           std::vector<v1::Party> recipients,
                           v1::Level max_level,
                           std::vector<std::string> purposes) {
  v1::Consent c;
  c.set_grantor(v1::GRANTOR_SUBJECT);
  c.mutable_subject()->set_identifier(person);
  for (v1::Party& p : disclosing) *c.add_disclosing() = std::move(p);
  for (v1::Party& p : recipients) *c.add_recipients() = std::move(p);
  for (std::string& purpose : purposes) c.add_purposes(std::move(purpose));
  c.set_max_level(max_level);
  v1::ConsentEvidence* e = c.mutable_evidence();
  e->set_form_reference("RS-2026-0142");
  e->set_form_version("consent-v3");
  e->set_language("sv");
  return c;
}

v1::Consent GuardianConsent(const std::string& person,
                            const std::string& birth_date,
                            std::vector<v1::Party> disclosing,
                            std::vector<v1::Party> recipients) {
  v1::Consent c =
      SubjectConsent(person, std::move(disclosing), std::move(recipients));
  c.set_grantor(v1::GRANTOR_GUARDIAN);
  c.set_grantor_relation("mother");
  c.mutable_subject()->set_birth_date(birth_date);
  return c;
}

v1::Consent Refusal(const std::string& person,
                    std::vector<v1::Party> disclosing,
                    std::vector<v1::Party> recipients,
                    std::vector<std::string> purposes) {
  v1::Consent c =
      SubjectConsent(person, std::move(disclosing), std::move(recipients),
                     v1::LEVEL_FULL, std::move(purposes));
  c.set_refused(true);
  c.clear_max_level();
  return c;
}

absl::StatusOr<v1::Consent> RecordConsent(v1::Exchange::Stub& stub,
                                          const v1::Consent& consent,
                                          const std::string& key) {
  grpc::ClientContext ctx;
  ctx.AddMetadata("liaison-professional-id", "sw-7");
  ctx.AddMetadata("liaison-professional-role", "duty social worker");
  v1::RecordConsentRequest req;
  *req.mutable_consent() = consent;
  req.set_idempotency_key(key);
  v1::Consent out;
  const grpc::Status s = stub.RecordConsent(&ctx, req, &out);
  return ToStatusOr(s, out);
}

absl::StatusOr<v1::Consent> GetConsent(v1::Exchange::Stub& stub,
                                       const std::string& consent_id) {
  grpc::ClientContext ctx;
  v1::GetConsentRequest req;
  req.set_consent_id(consent_id);
  v1::Consent out;
  const grpc::Status s = stub.GetConsent(&ctx, req, &out);
  return ToStatusOr(s, out);
}

absl::StatusOr<v1::Consent> WithdrawConsent(v1::Exchange::Stub& stub,
                                            const std::string& consent_id,
                                            const std::string& reason) {
  grpc::ClientContext ctx;
  ctx.AddMetadata("liaison-professional-id", "sw-7");
  v1::WithdrawConsentRequest req;
  req.set_consent_id(consent_id);
  req.set_reason(reason);
  v1::Consent out;
  const grpc::Status s = stub.WithdrawConsent(&ctx, req, &out);
  return ToStatusOr(s, out);
}

using Keep = std::function<bool(const v1::InboxMessage&)>;

std::vector<v1::InboxMessage> ReadInbox(
    const std::shared_ptr<grpc::Channel>& channel, size_t n,
    absl::Duration wait, const Keep& keep, uint32_t lease_seconds) {
  InboxRead how;
  how.wait = wait;
  how.keep = keep;
  how.lease_seconds = lease_seconds;
  return ReadInbox(channel, n, how);
}

Keep NoticeOf(v1::Notice::Kind kind) {
  return [kind](const v1::InboxMessage& m) {
    return m.has_notice() && m.notice().kind() == kind;
  };
}

Keep Referrals() {
  return [](const v1::InboxMessage& m) { return m.has_referral(); };
}

Keep Summaries() {
  return [](const v1::InboxMessage& m) { return m.has_summary(); };
}

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

std::vector<std::string> MessageIds(const v1::Notice& n) {
  return Sorted({n.message_ids().begin(), n.message_ids().end()});
}

v1::LegalBasis ConsentBasis(const std::string& consent_id) {
  v1::LegalBasis b;
  b.set_consent_id(consent_id);
  return b;
}

v1::LegalBasis DutyBasis(const std::string& duty) {
  v1::LegalBasis b;
  b.set_statutory_duty(duty);
  return b;
}

v1::Justification ValidJustification(const std::string& statement) {
  v1::Justification j;
  j.set_category(v1::OVERRIDE_CATEGORY_CHILD_PROTECTION);
  j.set_legal_provision("OSL 10 kap. 28 §");
  j.set_statement(statement);
  j.mutable_assessor()->set_id("nurse-4");
  j.mutable_assessor()->set_role("school nurse");
  j.mutable_approver()->set_id("manager-2");
  j.mutable_approver()->set_role("head of unit");
  return j;
}

v1::LegalBasis OverrideBasis(const v1::Justification& j) {
  v1::LegalBasis b;
  *b.mutable_override() = j;
  return b;
}

v1::SendReferralRequest SchoolReferral(const std::string& key,
                                       const std::string& person,
                                       const v1::LegalBasis& basis,
                                       const std::string& to) {
  v1::SendReferralRequest r = SchoolAbsenceReferral(to, person);
  r.set_idempotency_key(key);
  r.mutable_subject()->set_birth_date("2011-03-04");
  r.set_requested_action("assess family support needs");
  v1::EducationRecord* e = r.mutable_record()->mutable_education();
  e->mutable_subject()->set_identifier(person);
  e->set_attendance_percent(61.5);
  e->set_teacher_notes("Often arrives without breakfast.");
  e->set_summary_for_sharing("Attendance falling since September.");
  *r.mutable_basis() = basis;
  return r;
}

void CompleteChecklist(v1::PreSharingChecklist* c) {
  ConfirmChecklist(c);
  c->set_risk_assessment_reference("RA-2026-17");
}

v1::SendReferralRequest HealthReferral(const std::string& key,
                                       const std::string& person,
                                       const v1::LegalBasis& basis,
                                       const std::string& to) {
  v1::SendReferralRequest r;
  r.set_idempotency_key(key);
  r.mutable_destination()->set_agency_id(to);
  r.mutable_subject()->set_identifier(person);
  r.mutable_subject()->set_birth_date("2011-03-04");
  r.set_purpose("child_welfare");
  r.add_concerns(v1::CONCERN_CATEGORY_PHYSICAL_HARM);
  r.set_urgency(v1::URGENCY_ROUTINE);
  r.set_requested_action("assess the child's safety at home");
  v1::HealthRecord* h = r.mutable_record()->mutable_health();
  h->mutable_subject()->set_identifier(person);
  h->add_diagnosis_codes("S52.5");
  h->set_clinician_notes("Bruising on both forearms; says he fell.");
  CompleteChecklist(r.mutable_checklist());
  *r.mutable_basis() = basis;
  return r;
}

v1::Record SocialRecord(const std::string& person) {
  v1::Record record;
  v1::SocialCareRecord* s = record.mutable_social_care();
  s->mutable_subject()->set_identifier(person);
  s->add_concerns(v1::CONCERN_CATEGORY_NEGLECT);
  s->set_case_notes("Mother says the rent is three months late.");
  s->set_summary_for_sharing("Family support plan agreed.");
  return record;
}

v1::Record HealthRecord(const std::string& person) {
  v1::Record record;
  v1::HealthRecord* h = record.mutable_health();
  h->mutable_subject()->set_identifier(person);
  h->add_diagnosis_codes("F32.1");
  h->set_clinician_notes("Says things are bad at home.");
  h->set_summary_for_sharing("Seen twice this autumn for low mood.");
  return record;
}

v1::PushSummaryRequest SocialPush(const std::string& key,
                                  const std::string& case_id,
                                  const std::string& person,
                                  const v1::LegalBasis& basis) {
  v1::PushSummaryRequest r;
  r.set_idempotency_key(key);
  r.set_case_id(case_id);
  r.set_purpose("child_welfare");
  *r.mutable_record() = SocialRecord(person);
  *r.mutable_basis() = basis;
  return r;
}

v1::RequestSummaryRequest AskHospital(const std::string& key,
                                      const std::string& person,
                                      const v1::LegalBasis& basis,
                                      const std::string& case_id) {
  v1::RequestSummaryRequest r;
  r.set_idempotency_key(key);
  r.mutable_holder()->set_agency_id("hospital");
  r.mutable_subject()->set_identifier(person);
  r.set_case_id(case_id);
  r.set_purpose("child_welfare");
  *r.mutable_basis() = basis;
  return r;
}

void SetClock(const std::string& path, absl::Time t) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone())
        << "\n";
  }
  ASSERT_EQ(std::rename(tmp.c_str(), path.c_str()), 0) << path;
}

void ExchangeTest::SetUp() {
  deployment_.WriteRegistry(kRegistry);
  std::string sectors;
  {
    std::ifstream in(deployment_.policy_dir() + "/sectors.textproto");
    sectors.assign(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_TRUE(absl::StrContains(sectors, "\"social_care\"")) << sectors;
  deployment_.WritePolicyFile("sectors.textproto", sectors + kNgoSector);
  deployment_.WritePolicyFile("agreements.textproto", kAgreements);
  school_ = deployment_.Issue({"agency", "--sector=education", "--id=school"});
  social_ =
      deployment_.Issue({"agency", "--sector=social_care", "--id=social"});
  hospital_ = deployment_.Issue({"agency", "--sector=health", "--id=hospital"});
  police_ = deployment_.Issue({"agency", "--sector=police", "--id=police"});
  helpline_ = deployment_.Issue({"agency", "--sector=ngo", "--id=helpline"});
  dpo_ = deployment_.Issue({"auditor", "--id=dpo"});
  StartBroker();
}

void ExchangeTest::StartBroker(const std::vector<std::string>& extra) {
  std::vector<std::string> flags = {"--shutdown_grace_seconds=1"};
  flags.insert(flags.end(), extra.begin(), extra.end());
  broker_ = std::make_unique<BrokerProcess>(deployment_, flags);
  ASSERT_GT(broker_->port(), 0) << broker_->Output();
}

std::shared_ptr<grpc::Channel> ExchangeTest::Channel(const Credentials& c) {
  return ChannelFor(*broker_, deployment_.ca_cert(), c);
}

std::unique_ptr<v1::Exchange::Stub> ExchangeTest::Stub(const Credentials& c) {
  return v1::Exchange::NewStub(Channel(c));
}

absl::StatusOr<v1::Consent> ExchangeTest::RecordAs(const Credentials& c,
                                                   const v1::Consent& consent,
                                                   const std::string& key) {
  return RecordConsent(*Stub(c), consent, key);
}

std::string ExchangeTest::MustRecord(const Credentials& c,
                                     const v1::Consent& consent) {
  absl::StatusOr<v1::Consent> recorded = RecordAs(c, consent);
  EXPECT_TRUE(recorded.ok()) << recorded.status();
  return recorded.ok() ? recorded->consent_id() : "";
}

absl::StatusOr<v1::Consent> ExchangeTest::GetAs(const Credentials& c,
                                                const std::string& id) {
  return GetConsent(*Stub(c), id);
}

absl::StatusOr<v1::Consent> ExchangeTest::WithdrawAs(
    const Credentials& c, const std::string& id, const std::string& reason) {
  return WithdrawConsent(*Stub(c), id, reason);
}

absl::StatusOr<v1::SendReferralResponse> ExchangeTest::Send(
    const Credentials& c, const v1::SendReferralRequest& r) {
  grpc::ClientContext ctx;
  ctx.AddMetadata("liaison-professional-id", "t-42");
  ctx.AddMetadata("liaison-professional-role", "school nurse");
  v1::SendReferralResponse resp;
  const grpc::Status s = Stub(c)->SendReferral(&ctx, r, &resp);
  return ToStatusOr(s, resp);
}

absl::StatusOr<v1::PushSummaryResponse> ExchangeTest::Push(
    const Credentials& c, const v1::PushSummaryRequest& r) {
  grpc::ClientContext ctx;
  ctx.AddMetadata("liaison-professional-id", "sw-7");
  v1::PushSummaryResponse resp;
  const grpc::Status s = Stub(c)->PushSummary(&ctx, r, &resp);
  return ToStatusOr(s, resp);
}

absl::StatusOr<v1::RequestSummaryResponse> ExchangeTest::Ask(
    const Credentials& c, const v1::RequestSummaryRequest& r) {
  grpc::ClientContext ctx;
  ctx.AddMetadata("liaison-professional-id", "sw-7");
  v1::RequestSummaryResponse resp;
  const grpc::Status s = Stub(c)->RequestSummary(&ctx, r, &resp);
  return ToStatusOr(s, resp);
}

absl::StatusOr<v1::AnswerSummaryRequestResponse> ExchangeTest::Answer(
    const Credentials& c, const std::string& request_id,
    const v1::Record& record, const std::optional<v1::LegalBasis>& basis) {
  grpc::ClientContext ctx;
  ctx.AddMetadata("liaison-professional-id", "dr-9");
  v1::AnswerSummaryRequestRequest r;
  r.set_request_id(request_id);
  *r.mutable_record() = record;
  if (basis.has_value()) *r.mutable_basis() = *basis;
  // The hospital's clinician went through health's checklist.
  CompleteChecklist(r.mutable_checklist());
  v1::AnswerSummaryRequestResponse resp;
  const grpc::Status s = Stub(c)->AnswerSummaryRequest(&ctx, r, &resp);
  return ToStatusOr(s, resp);
}

std::vector<v1::LogEntry> ExchangeTest::Log(
    const std::vector<v1::EntryKind>& kinds) {
  auto stub = v1::Audit::NewStub(Channel(dpo_));
  v1::QueryLogRequest q;
  for (v1::EntryKind k : kinds) q.mutable_filter()->add_kinds(k);
  q.set_page_size(1000);
  std::vector<v1::LogEntry> out;
  for (int page = 0; page < 100; ++page) {
    grpc::ClientContext ctx;
    v1::QueryLogResponse resp;
    const grpc::Status s = stub->QueryLog(&ctx, q, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (!s.ok()) break;
    out.insert(out.end(), resp.entries().begin(), resp.entries().end());
    if (resp.next_page_token().empty()) break;
    q.set_page_token(resp.next_page_token());
  }
  return out;
}

size_t ExchangeTest::Denials() { return Log({v1::ENTRY_KIND_DENIAL}).size(); }

std::vector<v1::LogEntry> ExchangeTest::ConsentEntries(
    const std::string& consent_id) {
  std::vector<v1::LogEntry> out;
  for (const v1::LogEntry& e :
       Log({v1::ENTRY_KIND_CONSENT_RECORDED, v1::ENTRY_KIND_CONSENT_REFUSED,
            v1::ENTRY_KIND_CONSENT_WITHDRAWN})) {
    if (e.consent_id() == consent_id) out.push_back(e);
  }
  return out;
}

uint64_t ExchangeTest::TreeSize() { return LogTreeSize(Channel(dpo_)); }

std::string ExchangeTest::OpenCase(const std::string& person,
                                   const std::string& key) {
  const std::string consent = MustRecord(school_, SubjectConsent(person));
  auto sent = Send(school_, SchoolReferral(key, person, ConsentBasis(consent)));
  EXPECT_TRUE(sent.ok()) << sent.status();
  return sent.ok() ? sent->case_id() : "";
}

}  // namespace liaison::testing
