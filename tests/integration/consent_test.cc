// The consent registry and the override rules end to end over the real
// broker: consents and refusals recorded, shown and withdrawn; every
// decision on a consent basis checked against the registry (referrals,
// pushed, requested and answered summaries); recall notices naming exactly
// the messages sent under a withdrawn consent; overrides that need a
// statement and a second person and alert the agency whose data left; the
// pre-sharing checklist a health sender must complete; and a guardian's
// consent lapsing at the age of majority under a moved clock (DESIGN.md
// sections 2, 5 and 8, rules 5 and 6).
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <set>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "liaison/v1/audit.grpc.pb.h"
#include "liaison/v1/exchange.grpc.pb.h"
#include "tests/integration/harness.h"

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

// Over the jurisdiction's 40-character minimum.
constexpr char kStatement[] =
    "A 15-year-old described ongoing violence at home to the school nurse.";

// A distinct person for each number.
std::string Person(int n) { return absl::StrCat("20110304-", 1000 + n); }

// The identifier as the broker normalises it before pseudonymising.
std::string Normalised(const std::string& identifier) {
  return absl::StrReplaceAll(identifier, {{"-", ""}, {" ", ""}});
}

google::protobuf::Timestamp Ts(absl::Time t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  return ts;
}

template <typename T>
absl::StatusOr<T> Result(const grpc::Status& s, T value) {
  if (!s.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                        s.error_message());
  }
  return value;
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

// A valid consent the subject gave themself: `disclosing` may share with
// `recipients` for `purposes`, up to `max_level`. By default the school
// may share with social care for child welfare at any level.
v1::Consent SubjectConsent(
    const std::string& person,
    std::vector<v1::Party> disclosing = {AgencyParty("school")},
    std::vector<v1::Party> recipients = {SectorParty("social_care")},
    v1::Level max_level = v1::LEVEL_FULL,
    std::vector<std::string> purposes = {"child_welfare"}) {
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

// The same, given by the subject's mother for a subject born on
// `birth_date`.
v1::Consent GuardianConsent(
    const std::string& person, const std::string& birth_date,
    std::vector<v1::Party> disclosing = {AgencyParty("school")},
    std::vector<v1::Party> recipients = {SectorParty("social_care")}) {
  v1::Consent c =
      SubjectConsent(person, std::move(disclosing), std::move(recipients));
  c.set_grantor(v1::GRANTOR_GUARDIAN);
  c.set_grantor_relation("mother");
  c.mutable_subject()->set_birth_date(birth_date);
  return c;
}

// A refusal by the subject, with no level (none is needed).
v1::Consent Refusal(
    const std::string& person,
    std::vector<v1::Party> disclosing = {AgencyParty("school")},
    std::vector<v1::Party> recipients = {SectorParty("social_care")},
    std::vector<std::string> purposes = {"child_welfare"}) {
  v1::Consent c =
      SubjectConsent(person, std::move(disclosing), std::move(recipients),
                     v1::LEVEL_FULL, std::move(purposes));
  c.set_refused(true);
  c.clear_max_level();
  return c;
}

absl::StatusOr<v1::Consent> RecordConsent(v1::Exchange::Stub& stub,
                                          const v1::Consent& consent,
                                          const std::string& key = "") {
  grpc::ClientContext ctx;
  ctx.AddMetadata("liaison-professional-id", "sw-7");
  ctx.AddMetadata("liaison-professional-role", "duty social worker");
  v1::RecordConsentRequest req;
  *req.mutable_consent() = consent;
  req.set_idempotency_key(key);
  v1::Consent out;
  const grpc::Status s = stub.RecordConsent(&ctx, req, &out);
  return Result(s, out);
}

absl::StatusOr<v1::Consent> GetConsent(v1::Exchange::Stub& stub,
                                       const std::string& consent_id) {
  grpc::ClientContext ctx;
  v1::GetConsentRequest req;
  req.set_consent_id(consent_id);
  v1::Consent out;
  const grpc::Status s = stub.GetConsent(&ctx, req, &out);
  return Result(s, out);
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
  return Result(s, out);
}

using Keep = std::function<bool(const v1::InboxMessage&)>;

// Reads the inbox behind `channel` without acknowledging anything, until
// `n` messages that `keep` accepts (all, when it is empty) have arrived or
// `wait` passes; returns those. Messages read are leased for
// `lease_seconds`, so a later read does not see them again.
std::vector<v1::InboxMessage> ReadInbox(
    const std::shared_ptr<grpc::Channel>& channel, size_t n,
    absl::Duration wait = absl::Seconds(10), const Keep& keep = {},
    uint32_t lease_seconds = 600) {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + wait));
  v1::ReceiveRequest req;
  req.set_lease_seconds(lease_seconds);
  auto stub = v1::Exchange::NewStub(channel);
  auto reader = stub->Receive(&ctx, req);
  std::vector<v1::InboxMessage> out;
  v1::InboxMessage m;
  while (out.size() < n && reader->Read(&m)) {
    if (!keep || keep(m)) out.push_back(m);
  }
  ctx.TryCancel();
  while (reader->Read(&m)) {
  }
  reader->Finish();
  return out;
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

// An overriding-risk justification the "se" jurisdiction accepts, assessed
// and approved by two persons.
v1::Justification ValidJustification(
    const std::string& statement = kStatement) {
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

v1::LegalBasis OverrideBasis(
    const v1::Justification& j = ValidJustification()) {
  v1::LegalBasis b;
  *b.mutable_override() = j;
  return b;
}

// The school's referral about `person` to `to`.
v1::SendReferralRequest SchoolReferral(const std::string& key,
                                       const std::string& person,
                                       const v1::LegalBasis& basis,
                                       const std::string& to = "social") {
  v1::SendReferralRequest r;
  r.set_idempotency_key(key);
  r.mutable_destination()->set_agency_id(to);
  r.mutable_subject()->set_identifier(person);
  r.mutable_subject()->set_birth_date("2011-03-04");
  r.set_purpose("child_welfare");
  r.add_concerns(v1::CONCERN_CATEGORY_SCHOOL_ABSENCE);
  r.set_urgency(v1::URGENCY_ROUTINE);
  r.set_requested_action("assess family support needs");
  v1::EducationRecord* e = r.mutable_record()->mutable_education();
  e->mutable_subject()->set_identifier(person);
  e->set_school("Rosengard School");
  e->set_attendance_percent(61.5);
  e->set_teacher_notes("Often arrives without breakfast.");
  e->set_summary_for_sharing("Attendance falling since September.");
  *r.mutable_basis() = basis;
  return r;
}

// Every step of the pre-sharing checklist confirmed.
void CompleteChecklist(v1::PreSharingChecklist* c) {
  c->set_concern_verified(true);
  c->set_person_informed(true);
  c->set_colleague_or_expert_consulted(true);
  c->set_manager_approved(true);
  c->set_risk_assessment_reference("RA-2026-17");
}

// The hospital's referral about `person` to `to`, with its checklist
// complete.
v1::SendReferralRequest HealthReferral(const std::string& key,
                                       const std::string& person,
                                       const v1::LegalBasis& basis,
                                       const std::string& to = "social") {
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
                                      const std::string& case_id = "") {
  v1::RequestSummaryRequest r;
  r.set_idempotency_key(key);
  r.mutable_holder()->set_agency_id("hospital");
  r.mutable_subject()->set_identifier(person);
  r.set_case_id(case_id);
  r.set_purpose("child_welfare");
  *r.mutable_basis() = basis;
  return r;
}

// Moves the broker's clock: writes `t` to a temporary file and renames it
// over `path`, so the broker never reads half a file.
void SetClock(const std::string& path, absl::Time t) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone())
        << "\n";
  }
  ASSERT_EQ(std::rename(tmp.c_str(), path.c_str()), 0) << path;
}

class ConsentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    deployment_.WriteRegistry(kRegistry);
    std::string sectors;
    {
      std::ifstream in(deployment_.policy_dir() + "/sectors.textproto");
      sectors.assign(std::istreambuf_iterator<char>(in), {});
    }
    ASSERT_TRUE(absl::StrContains(sectors, "\"social_care\"")) << sectors;
    deployment_.WritePolicyFile("sectors.textproto", sectors + kNgoSector);
    deployment_.WritePolicyFile("agreements.textproto", kAgreements);
    school_ =
        deployment_.Issue({"agency", "--sector=education", "--id=school"});
    social_ =
        deployment_.Issue({"agency", "--sector=social_care", "--id=social"});
    hospital_ =
        deployment_.Issue({"agency", "--sector=health", "--id=hospital"});
    police_ = deployment_.Issue({"agency", "--sector=police", "--id=police"});
    helpline_ = deployment_.Issue({"agency", "--sector=ngo", "--id=helpline"});
    dpo_ = deployment_.Issue({"auditor", "--id=dpo"});
    StartBroker();
  }

  void StartBroker(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> flags = {"--shutdown_grace_seconds=1"};
    flags.insert(flags.end(), extra.begin(), extra.end());
    broker_ = std::make_unique<BrokerProcess>(deployment_, flags);
    ASSERT_GT(broker_->port(), 0) << broker_->Output();
  }

  std::shared_ptr<grpc::Channel> Channel(const Credentials& c) {
    return ChannelFor(*broker_, deployment_.ca_cert(), c);
  }

  std::unique_ptr<v1::Exchange::Stub> Stub(const Credentials& c) {
    return v1::Exchange::NewStub(Channel(c));
  }

  absl::StatusOr<v1::Consent> RecordAs(const Credentials& c,
                                       const v1::Consent& consent,
                                       const std::string& key = "") {
    return RecordConsent(*Stub(c), consent, key);
  }

  // Records `consent` as `c`, failing the test if it is refused; returns
  // its id.
  std::string MustRecord(const Credentials& c, const v1::Consent& consent) {
    absl::StatusOr<v1::Consent> recorded = RecordAs(c, consent);
    EXPECT_TRUE(recorded.ok()) << recorded.status();
    return recorded.ok() ? recorded->consent_id() : "";
  }

  absl::StatusOr<v1::Consent> GetAs(const Credentials& c,
                                    const std::string& id) {
    return GetConsent(*Stub(c), id);
  }

  absl::StatusOr<v1::Consent> WithdrawAs(
      const Credentials& c, const std::string& id,
      const std::string& reason = "withdrawn by the person in writing") {
    return WithdrawConsent(*Stub(c), id, reason);
  }

  absl::StatusOr<v1::SendReferralResponse> Send(
      const Credentials& c, const v1::SendReferralRequest& r) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("liaison-professional-id", "t-42");
    ctx.AddMetadata("liaison-professional-role", "school nurse");
    v1::SendReferralResponse resp;
    const grpc::Status s = Stub(c)->SendReferral(&ctx, r, &resp);
    return Result(s, resp);
  }

  absl::StatusOr<v1::PushSummaryResponse> Push(
      const Credentials& c, const v1::PushSummaryRequest& r) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("liaison-professional-id", "sw-7");
    v1::PushSummaryResponse resp;
    const grpc::Status s = Stub(c)->PushSummary(&ctx, r, &resp);
    return Result(s, resp);
  }

  absl::StatusOr<v1::RequestSummaryResponse> Ask(
      const Credentials& c, const v1::RequestSummaryRequest& r) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("liaison-professional-id", "sw-7");
    v1::RequestSummaryResponse resp;
    const grpc::Status s = Stub(c)->RequestSummary(&ctx, r, &resp);
    return Result(s, resp);
  }

  absl::StatusOr<v1::AnswerSummaryRequestResponse> Answer(
      const Credentials& c, const std::string& request_id,
      const v1::Record& record,
      const std::optional<v1::LegalBasis>& basis = std::nullopt) {
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
    return Result(s, resp);
  }

  // Every log entry of these kinds, oldest first, read as the auditor.
  std::vector<v1::LogEntry> Log(const std::vector<v1::EntryKind>& kinds) {
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

  size_t Denials() { return Log({v1::ENTRY_KIND_DENIAL}).size(); }

  // Entries of the consent registry (recorded, refused, withdrawn) naming
  // `consent_id`.
  std::vector<v1::LogEntry> ConsentEntries(const std::string& consent_id) {
    std::vector<v1::LogEntry> out;
    for (const v1::LogEntry& e :
         Log({v1::ENTRY_KIND_CONSENT_RECORDED, v1::ENTRY_KIND_CONSENT_REFUSED,
              v1::ENTRY_KIND_CONSENT_WITHDRAWN})) {
      if (e.consent_id() == consent_id) out.push_back(e);
    }
    return out;
  }

  // Size of the whole log.
  uint64_t TreeSize() {
    grpc::ClientContext ctx;
    v1::GetTreeHeadResponse resp;
    const grpc::Status s =
        v1::Audit::NewStub(Channel(dpo_))
            ->GetTreeHead(&ctx, v1::GetTreeHeadRequest(), &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.tree_head().tree_size();
  }

  // Expects `result` to be a logged denial whose message, and the reason of
  // the one new DENIAL entry, contain `why`; `denials_before` is the count
  // of DENIAL entries before the call.
  template <typename T>
  void ExpectLoggedDenial(const absl::StatusOr<T>& result,
                          size_t denials_before, const std::string& why,
                          const v1::LegalBasis& basis) {
    EXPECT_EQ(result.status().code(), absl::StatusCode::kPermissionDenied)
        << result.status();
    EXPECT_TRUE(absl::StrContains(result.status().message(), why))
        << "wanted \"" << why << "\" in: " << result.status();
    std::vector<v1::LogEntry> denials = Log({v1::ENTRY_KIND_DENIAL});
    ASSERT_EQ(denials.size(), denials_before + 1);
    const v1::LogEntry& e = denials.back();
    EXPECT_FALSE(e.allowed());
    EXPECT_EQ(e.level(), v1::LEVEL_NONE);
    EXPECT_TRUE(absl::StrContains(e.reason(), why)) << e.reason();
    if (basis.has_consent_id()) {
      EXPECT_EQ(e.basis(), v1::BASIS_KIND_CONSENT);
      EXPECT_EQ(e.consent_id(), basis.consent_id());
    } else if (basis.has_override()) {
      EXPECT_EQ(e.basis(), v1::BASIS_KIND_OVERRIDE);
      EXPECT_EQ(e.justification().statement(), "");
    }
  }

  // Opens a case about `person`: the school refers them to social care
  // under a consent of their own. Returns the case id.
  std::string OpenCase(const std::string& person, const std::string& key) {
    const std::string consent = MustRecord(school_, SubjectConsent(person));
    auto sent =
        Send(school_, SchoolReferral(key, person, ConsentBasis(consent)));
    EXPECT_TRUE(sent.ok()) << sent.status();
    return sent.ok() ? sent->case_id() : "";
  }

  Deployment deployment_;
  Credentials school_, social_, hospital_, police_, helpline_, dpo_;
  std::unique_ptr<BrokerProcess> broker_;
};

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
  // The consent they were spoiled from is valid, and so is the adult's own.
  absl::StatusOr<v1::Consent> recorded = RecordAs(school_, good);
  ASSERT_TRUE(recorded.ok()) << recorded.status();
  ASSERT_TRUE(RecordAs(school_, SubjectConsent(Person(11))).ok());
  EXPECT_EQ(TreeSize(), logged_before + 2);
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

TEST_F(ConsentTest, SummariesAreDecidedOnTheConsentToo) {
  const std::string person = Person(700);
  const std::string case_id = OpenCase(person, "open");
  ASSERT_FALSE(case_id.empty());

  // A push: social care to the school, attached to the case.
  const std::string push_consent = MustRecord(
      social_, SubjectConsent(person, {AgencyParty("social")},
                              {SectorParty("education")}, v1::LEVEL_SIGNAL));
  auto pushed = Push(social_, SocialPush("push-1", case_id, person,
                                         ConsentBasis(push_consent)));
  ASSERT_TRUE(pushed.ok()) << pushed.status();
  ASSERT_EQ(pushed->deliveries_size(), 1);
  EXPECT_EQ(pushed->deliveries(0).agency_id(), "school");
  EXPECT_EQ(pushed->deliveries(0).level(), v1::LEVEL_SIGNAL);
  // Under a consent that does not name the school, the school gets
  // nothing and the denial is logged.
  const std::string not_school = MustRecord(
      social_,
      SubjectConsent(person, {AgencyParty("social")}, {SectorParty("police")}));
  size_t denials = Denials();
  auto denied = Push(
      social_, SocialPush("push-2", case_id, person, ConsentBasis(not_school)));
  ASSERT_TRUE(denied.ok()) << denied.status();
  ASSERT_EQ(denied->deliveries_size(), 1);
  EXPECT_EQ(denied->deliveries(0).level(), v1::LEVEL_NONE);
  EXPECT_TRUE(
      absl::StrContains(denied->deliveries(0).reason(), "as a recipient"))
      << denied->deliveries(0).reason();
  EXPECT_EQ(Denials(), denials + 1);
  // Withdrawn, the consent pushes nothing more.
  ASSERT_TRUE(WithdrawAs(social_, push_consent).ok());
  denials = Denials();
  auto after_withdrawal = Push(social_, SocialPush("push-3", case_id, person,
                                                   ConsentBasis(push_consent)));
  ASSERT_TRUE(after_withdrawal.ok()) << after_withdrawal.status();
  ASSERT_EQ(after_withdrawal->deliveries_size(), 1);
  EXPECT_EQ(after_withdrawal->deliveries(0).level(), v1::LEVEL_NONE);
  EXPECT_TRUE(absl::StrContains(after_withdrawal->deliveries(0).reason(),
                                "was withdrawn"))
      << after_withdrawal->deliveries(0).reason();
  EXPECT_EQ(Denials(), denials + 1);
  std::vector<v1::InboxMessage> at_school =
      ReadInbox(Channel(school_), 3, absl::Seconds(3), Summaries());
  ASSERT_EQ(at_school.size(), 1u);
  EXPECT_EQ(at_school[0].summary().summary_id(), pushed->summary_id());

  // A request: the holder is the disclosing party, the requester the
  // recipient.
  const std::string ask_consent = MustRecord(
      social_, SubjectConsent(person, {AgencyParty("hospital")},
                              {AgencyParty("social")}, v1::LEVEL_SIGNAL));
  const std::string names_school = MustRecord(
      social_,
      SubjectConsent(person, {AgencyParty("school")}, {AgencyParty("social")}));
  struct Bad {
    std::string name;
    std::string consent_id;
    std::string why;
  };
  const std::vector<Bad> bad = {
      {"the holder is not a disclosing party", names_school,
       "as a disclosing party"},
      {"unknown consent", "con-00000000000000000000000000000000",
       "not in the consent registry"},
      {"a consent about another person",
       MustRecord(social_,
                  SubjectConsent(Person(701), {AgencyParty("hospital")},
                                 {AgencyParty("social")})),
       "about another person"},
  };
  for (const Bad& b : bad) {
    SCOPED_TRACE(b.name);
    denials = Denials();
    const v1::RequestSummaryRequest ask = AskHospital(
        absl::StrCat("ask-", b.name), person, ConsentBasis(b.consent_id));
    ExpectLoggedDenial(Ask(social_, ask), denials, b.why, ask.basis());
  }
  auto asked =
      Ask(social_, AskHospital("ask-1", person, ConsentBasis(ask_consent)));
  ASSERT_TRUE(asked.ok()) << asked.status();
  // A second request under a consent withdrawn before the answer.
  const std::string short_lived =
      MustRecord(social_, SubjectConsent(person, {AgencyParty("hospital")},
                                         {AgencyParty("social")}));
  auto asked_again =
      Ask(social_, AskHospital("ask-2", person, ConsentBasis(short_lived)));
  ASSERT_TRUE(asked_again.ok()) << asked_again.status();
  std::vector<v1::InboxMessage> at_hospital = ReadInbox(
      Channel(hospital_), 2, absl::Seconds(10),
      [](const v1::InboxMessage& m) { return m.has_summary_request(); });
  ASSERT_EQ(at_hospital.size(), 2u);

  // The answer is decided again: at the consent's level...
  auto answered = Answer(hospital_, asked->request_id(), HealthRecord(person));
  ASSERT_TRUE(answered.ok()) << answered.status();
  EXPECT_EQ(answered->level(), v1::LEVEL_SIGNAL);
  // ...and not at all once the consent is withdrawn.
  ASSERT_TRUE(WithdrawAs(social_, short_lived).ok());
  denials = Denials();
  ExpectLoggedDenial(
      Answer(hospital_, asked_again->request_id(), HealthRecord(person)),
      denials, "was withdrawn", ConsentBasis(short_lived));

  std::vector<v1::InboxMessage> at_social =
      ReadInbox(Channel(social_), 3, absl::Seconds(3), Summaries());
  ASSERT_EQ(at_social.size(), 1u);
  EXPECT_EQ(at_social[0].summary().request_id(), asked->request_id());
  EXPECT_EQ(at_social[0].summary().record().level(), v1::LEVEL_SIGNAL);
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

TEST_F(ConsentTest, AnOverrideNeedsAStatementAndWhereAskedTwoPersons) {
  const std::string person = Person(900);
  struct Case {
    std::string name;
    std::function<void(v1::Justification*)> spoil;
    std::string why;
  };
  const std::vector<Case> cases = {
      {"no statement", [](v1::Justification* j) { j->clear_statement(); },
       "characters"},
      {"a statement one character short",
       [](v1::Justification* j) {
         j->set_statement(std::string(kStatement).substr(0, 39));
       },
       "characters"},
      {"the approver is the assessor",
       [](v1::Justification* j) { *j->mutable_approver() = j->assessor(); },
       "distinct from the assessor"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    v1::Justification j = ValidJustification();
    c.spoil(&j);
    const size_t before = Denials();
    const v1::SendReferralRequest r = HealthReferral(
        absl::StrCat("override-", c.name), person, OverrideBasis(j), "police");
    ExpectLoggedDenial(Send(hospital_, r), before, c.why, r.basis());
  }
  EXPECT_TRUE(Log({v1::ENTRY_KIND_OVERRIDE}).empty());
  // Exactly the minimum is enough.
  auto sent = Send(hospital_,
                   HealthReferral("override-ok", person,
                                  OverrideBasis(ValidJustification(
                                      std::string(kStatement).substr(0, 40))),
                                  "police"));
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_EQ(sent->level(), v1::LEVEL_CATEGORY);
  std::vector<v1::InboxMessage> at_police =
      ReadInbox(Channel(police_), 2, absl::Seconds(3), Referrals());
  ASSERT_EQ(at_police.size(), 1u);
  EXPECT_EQ(at_police[0].referral().referral_id(), sent->referral_id());
}

TEST_F(ConsentTest, AnOverrideAlertsTheAgencyWhoseDataLeftAndAwaitsReview) {
  const std::string person = Person(950);
  const Keep alert = NoticeOf(v1::Notice::KIND_OVERRIDE_ALERT);

  // A referral: the hospital's record goes to the police.
  auto sent = Send(
      hospital_, HealthReferral("alert-1", person, OverrideBasis(), "police"));
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_EQ(sent->level(), v1::LEVEL_CATEGORY);
  std::vector<v1::InboxMessage> at_police =
      ReadInbox(Channel(police_), 1, absl::Seconds(10), Referrals());
  ASSERT_EQ(at_police.size(), 1u);
  EXPECT_EQ(at_police[0].referral().referral_id(), sent->referral_id());
  std::vector<v1::InboxMessage> alerts =
      ReadInbox(Channel(hospital_), 1, absl::Seconds(10), alert);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(MessageIds(alerts[0].notice()),
            std::vector<std::string>{at_police[0].message_id()});
  // The recipient is not alerted.
  EXPECT_TRUE(ReadInbox(Channel(police_), 1, absl::Seconds(2), alert).empty());

  // A summary: social care, attached to the case, asks the hospital citing
  // a risk; the data leaves the hospital when it answers under its own
  // override.
  const std::string case_id = OpenCase(person, "alert-case");
  ASSERT_FALSE(case_id.empty());
  v1::Justification j = ValidJustification();
  j.mutable_assessor()->set_id("sw-7");
  j.mutable_approver()->set_id("sw-lead-1");
  auto asked =
      Ask(social_, AskHospital("alert-ask", person, OverrideBasis(j), case_id));
  ASSERT_TRUE(asked.ok()) << asked.status();
  v1::Justification own = ValidJustification();
  own.mutable_assessor()->set_id("dr-9");
  own.mutable_assessor()->set_role("paediatrician");
  auto answered = Answer(hospital_, asked->request_id(), HealthRecord(person),
                         OverrideBasis(own));
  ASSERT_TRUE(answered.ok()) << answered.status();
  EXPECT_EQ(answered->level(), v1::LEVEL_SUMMARY);
  std::vector<v1::InboxMessage> at_social =
      ReadInbox(Channel(social_), 1, absl::Seconds(10), Summaries());
  ASSERT_EQ(at_social.size(), 1u);
  EXPECT_EQ(at_social[0].summary().request_id(), asked->request_id());
  std::vector<v1::InboxMessage> second =
      ReadInbox(Channel(hospital_), 1, absl::Seconds(10), alert);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(MessageIds(second[0].notice()),
            std::vector<std::string>{at_social[0].message_id()});

  // Both overrides wait for an auditor's review.
  grpc::ClientContext ctx;
  v1::ListOverrideReviewsResponse reviews;
  const grpc::Status s =
      v1::Audit::NewStub(Channel(dpo_))
          ->ListOverrideReviews(&ctx, v1::ListOverrideReviewsRequest(),
                                &reviews);
  ASSERT_TRUE(s.ok()) << s.error_message();
  std::map<std::string, v1::OverrideReview> by_message;
  for (const v1::OverrideReview& r : reviews.reviews()) {
    by_message[r.entry().message_id()] = r;
  }
  ASSERT_EQ(by_message.count(sent->referral_id()), 1u);
  const v1::OverrideReview& referral_review = by_message[sent->referral_id()];
  EXPECT_EQ(referral_review.entry().kind(), v1::ENTRY_KIND_OVERRIDE);
  EXPECT_EQ(referral_review.entry().counterpart(), "police");
  EXPECT_EQ(referral_review.entry().justification().statement(), "");
  EXPECT_EQ(referral_review.entry().justification().approver().id(),
            "manager-2");
  EXPECT_EQ(referral_review.outcome(), v1::OverrideReview::OUTCOME_PENDING);
  const std::string summary_id = at_social[0].summary().summary_id();
  ASSERT_EQ(by_message.count(summary_id), 1u);
  EXPECT_EQ(by_message[summary_id].entry().kind(), v1::ENTRY_KIND_OVERRIDE);
  EXPECT_EQ(by_message[summary_id].entry().counterpart(), "social");
  EXPECT_EQ(
      by_message[summary_id].entry().justification().assessor().id(),
      "dr-9");
  EXPECT_EQ(by_message[summary_id].outcome(),
            v1::OverrideReview::OUTCOME_PENDING);
}

TEST_F(ConsentTest, AHealthReferralNeedsEveryChecklistStepThePolicyRequires) {
  const std::string person = Person(1000);
  const v1::LegalBasis basis = ConsentBasis(
      MustRecord(hospital_, SubjectConsent(person, {AgencyParty("hospital")},
                                           {SectorParty("social_care")})));
  const std::vector<std::string> steps = {"concern_verified", "person_informed",
                                          "colleague_or_expert_consulted",
                                          "manager_approved"};
  struct Case {
    std::string name;
    std::function<void(v1::PreSharingChecklist*)> change;
    std::set<std::string> missing;
  };
  const std::vector<Case> cases = {
      {"nothing confirmed",
       [](v1::PreSharingChecklist* c) {
         c->set_concern_verified(false);
         c->set_person_informed(false);
         c->set_colleague_or_expert_consulted(false);
         c->set_manager_approved(false);
       },
       {"concern_verified", "person_informed", "colleague_or_expert_consulted",
        "manager_approved"}},
      {"concern not verified",
       [](v1::PreSharingChecklist* c) { c->set_concern_verified(false); },
       {"concern_verified"}},
      {"person not informed, no reason given",
       [](v1::PreSharingChecklist* c) { c->set_person_informed(false); },
       {"person_informed"}},
      {"nobody consulted",
       [](v1::PreSharingChecklist* c) {
         c->set_colleague_or_expert_consulted(false);
       },
       {"colleague_or_expert_consulted"}},
      {"no manager approval",
       [](v1::PreSharingChecklist* c) { c->set_manager_approved(false); },
       {"manager_approved"}},
      {"two steps missing",
       [](v1::PreSharingChecklist* c) {
         c->set_concern_verified(false);
         c->set_manager_approved(false);
       },
       {"concern_verified", "manager_approved"}},
      {"not informed for a reason, no manager approval",
       [](v1::PreSharingChecklist* c) {
         c->set_person_informed(false);
         c->set_person_not_informed_reason(
             "telling the parents would put the child at risk");
         c->set_manager_approved(false);
       },
       {"manager_approved"}},
  };
  const uint64_t logged = TreeSize();
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    v1::SendReferralRequest r =
        HealthReferral(absl::StrCat("checklist-", c.name), person, basis);
    c.change(r.mutable_checklist());
    auto result = Send(hospital_, r);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kPermissionDenied)
        << result.status();
    for (const std::string& step : steps) {
      EXPECT_EQ(absl::StrContains(result.status().message(), step),
                c.missing.count(step) == 1)
          << step << " in: " << result.status();
    }
  }
  v1::SendReferralRequest none =
      HealthReferral("checklist-none", person, basis);
  none.clear_checklist();
  EXPECT_EQ(Send(hospital_, none).status().code(),
            absl::StatusCode::kPermissionDenied);
  // Nothing was delivered; each refusal is a logged denial (DESIGN.md rule
  // 3) naming what the checklist did not confirm.
  EXPECT_EQ(TreeSize(), logged + cases.size() + 1);
  const std::vector<v1::LogEntry> denials = Log({v1::ENTRY_KIND_DENIAL});
  ASSERT_GE(denials.size(), cases.size() + 1);
  const v1::LogEntry& last = denials.back();
  EXPECT_TRUE(absl::StrContains(last.reason(), "pre-sharing checklist"))
      << last.reason();
  EXPECT_TRUE(last.checklist_attested().empty());
  EXPECT_TRUE(
      ReadInbox(Channel(social_), 1, absl::Seconds(2), Referrals()).empty());

  // Not informed, with the reason recorded, and every other step done.
  v1::SendReferralRequest good = HealthReferral("checklist-ok", person, basis);
  good.mutable_checklist()->set_person_informed(false);
  good.mutable_checklist()->set_person_not_informed_reason(
      "telling the parents would put the child at risk");
  auto sent = Send(hospital_, good);
  ASSERT_TRUE(sent.ok()) << sent.status();
  std::vector<v1::InboxMessage> inbox =
      ReadInbox(Channel(social_), 2, absl::Seconds(3), Referrals());
  ASSERT_EQ(inbox.size(), 1u);
  EXPECT_EQ(inbox[0].referral().referral_id(), sent->referral_id());
  // The disclosure's entry records the steps confirmed.
  const std::vector<v1::LogEntry> disclosures =
      Log({v1::ENTRY_KIND_DISCLOSURE});
  ASSERT_FALSE(disclosures.empty());
  EXPECT_EQ(std::vector<std::string>(
                disclosures.back().checklist_attested().begin(),
                disclosures.back().checklist_attested().end()),
            (std::vector<std::string>{
                "concern_verified", "person_not_informed_reason",
                "colleague_or_expert_consulted", "manager_approved",
                "risk_assessment_reference"}));
}

TEST_F(ConsentTest, AnOverdueReviewEscalatesToTheDisclosersPrivacyOfficer) {
  // The broker's clock, a minute ahead of real time so that it is after
  // every certificate's start; sweeps every second.
  const std::string clock = deployment_.root() + "/clock.txt";
  const absl::Time start =
      absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()) + 60);
  ASSERT_NO_FATAL_FAILURE(SetClock(clock, start));
  ASSERT_EQ(broker_->Stop(), 0);
  deployment_.AppendConfig("sweep_interval_seconds: 1");
  StartBroker({"--clock_file=" + clock});

  // Two of the hospital's overrides to the police; auditors review one in
  // time.
  const std::string person = Person(1200);
  auto first = Send(
      hospital_, HealthReferral("overdue-1", person, OverrideBasis(), "police"));
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = Send(
      hospital_, HealthReferral("overdue-2", person, OverrideBasis(), "police"));
  ASSERT_TRUE(second.ok()) << second.status();
  std::vector<v1::LogEntry> overrides = Log({v1::ENTRY_KIND_OVERRIDE});
  ASSERT_EQ(overrides.size(), 2u);
  // The deadline is the jurisdiction's: seven days in "se".
  for (const v1::LogEntry& e : overrides) {
    EXPECT_EQ(e.review_by().seconds() - e.time().seconds(), 7 * 24 * 3600);
  }
  {
    grpc::ClientContext ctx;
    v1::ReviewOverrideRequest req;
    req.set_log_sequence(overrides[1].sequence());
    req.set_outcome(v1::OverrideReview::OUTCOME_JUSTIFIED);
    v1::ReviewOverrideResponse resp;
    grpc::Status s =
        v1::Audit::NewStub(Channel(dpo_))->ReviewOverride(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  const Keep overdue = NoticeOf(v1::Notice::KIND_OVERRIDE_REVIEW_OVERDUE);
  // Six days on nothing is due yet.
  ASSERT_NO_FATAL_FAILURE(SetClock(clock, start + absl::Hours(24 * 6)));
  EXPECT_TRUE(
      ReadInbox(Channel(hospital_), 1, absl::Seconds(3), overdue).empty());

  // Eight days on the unreviewed one is overdue: its agency's privacy
  // officer hears of it, once; the recipient does not.
  ASSERT_NO_FATAL_FAILURE(SetClock(clock, start + absl::Hours(24 * 8)));
  std::vector<v1::InboxMessage> notices =
      ReadInbox(Channel(hospital_), 2, absl::Seconds(5), overdue);
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_EQ(notices[0].notice().log_sequence(), overrides[0].sequence());
  EXPECT_TRUE(absl::StrContains(notices[0].notice().text(), "privacy officer"))
      << notices[0].notice().text();
  EXPECT_TRUE(
      ReadInbox(Channel(police_), 1, absl::Seconds(2), overdue).empty());
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
