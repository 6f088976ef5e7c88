// Need-to-know summaries end to end over the real broker and the default
// policy set: a push decided and abstracted for each agency attached to a
// case, and a request answered by the holder's system and delivered at the
// level the requester may see (DESIGN.md sections 2, 4 and 6).
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "broker/log/message_util.h"
#include "liaison/v1/audit.grpc.pb.h"
#include "liaison/v1/exchange.grpc.pb.h"
#include "tests/common/example_referral.h"
#include "tests/integration/harness.h"

namespace liaison::testing {
namespace {

constexpr char kRegistry[] = R"pb(
  agencies { id: "hospital" sector: "health" jurisdiction: "se" area: "malmo" }
  agencies {
    id: "social"
    sector: "social_care"
    jurisdiction: "se"
    area: "malmo"
  }
  agencies { id: "school" sector: "education" jurisdiction: "se" area: "malmo" }
  agencies { id: "police" sector: "police" jurisdiction: "se" area: "malmo" }
  routes { sector: "health" area: "malmo" agency_id: "hospital" }
  auditors { id: "dpo" scope: "*" }
  auditors { id: "hospital-dpo" scope: "agency:hospital" }
  auditors { id: "police-auditor" scope: "agency:police" }
)pb";

constexpr char kChild[] = "20110412-2389";
constexpr char kOtherChild[] = "20090101-5555";

class SummaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    deployment_.WriteRegistry(kRegistry);
    hospital_ =
        deployment_.Issue({"agency", "--sector=health", "--id=hospital"});
    social_ =
        deployment_.Issue({"agency", "--sector=social_care", "--id=social"});
    school_ =
        deployment_.Issue({"agency", "--sector=education", "--id=school"});
    police_ = deployment_.Issue({"agency", "--sector=police", "--id=police"});
    dpo_ = deployment_.Issue({"auditor", "--id=dpo"});
    broker_ = std::make_unique<BrokerProcess>(
        deployment_, std::vector<std::string>{"--shutdown_grace_seconds=1"});
    ASSERT_GT(broker_->port(), 0) << broker_->Output();
    consent_ = RecordConsentFromSubject(
        ChannelFor(*broker_, deployment_.ca_cert(), school_), kChild);
  }

  std::unique_ptr<v1::Exchange::Stub> Stub(const Credentials& c) {
    return v1::Exchange::NewStub(
        ChannelFor(*broker_, deployment_.ca_cert(), c));
  }

  static v1::Subject Child(const std::string& id = kChild) {
    v1::Subject s;
    s.set_identifier(id);
    s.set_birth_date("2011-04-12");
    return s;
  }

  // The school's referral to social care, which opens a case with both
  // attached.
  std::string OpenCase() {
    v1::SendReferralRequest r = SchoolAbsenceReferral("social", kChild);
    r.set_idempotency_key("open");
    *r.mutable_subject() = Child();
    *r.mutable_record()->mutable_education()->mutable_subject() = Child();
    r.mutable_basis()->set_consent_id(consent_);
    grpc::ClientContext ctx;
    v1::SendReferralResponse resp;
    grpc::Status s = Stub(school_)->SendReferral(&ctx, r, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.case_id();
  }

  // Social care, attached as the school's referral's recipient, brings the
  // police into the case with a referral of its own, which the police take
  // in.
  void AttachPolice(const std::string& case_id) {
    v1::SendReferralRequest r;
    r.set_idempotency_key("to-police");
    r.mutable_destination()->set_agency_id("police");
    *r.mutable_subject() = Child();
    r.set_case_id(case_id);
    r.set_purpose("child_welfare");
    r.add_concerns(v1::CONCERN_CATEGORY_NEGLECT);
    r.set_urgency(v1::URGENCY_ROUTINE);
    *r.mutable_record() = SocialRecord();
    r.mutable_basis()->set_consent_id(consent_);
    grpc::ClientContext ctx;
    v1::SendReferralResponse resp;
    grpc::Status s = Stub(social_)->SendReferral(&ctx, r, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(Take(police_, 1).size(), 1u);
  }

  static v1::Record SocialRecord(const std::string& id = kChild) {
    v1::Record record;
    v1::SocialCareRecord* s = record.mutable_social_care();
    *s->mutable_subject() = Child(id);
    s->add_concerns(v1::CONCERN_CATEGORY_NEGLECT);
    s->set_case_notes("Mother says the rent is three months late.");
    s->set_summary_for_sharing(
        "Family support plan agreed; weekly home visits.");
    return record;
  }

  static v1::Record HealthRecord(const std::string& id = kChild) {
    v1::Record record;
    v1::HealthRecord* h = record.mutable_health();
    *h->mutable_subject() = Child(id);
    h->add_diagnosis_codes("F32.1");
    h->mutable_address()->set_street("Amiralsgatan 17B");
    h->mutable_address()->set_postcode("214 37");
    h->mutable_address()->set_municipality("Malmo");
    h->set_clinician_notes("Says things are bad at home.");
    return record;
  }

  absl::StatusOr<v1::PushSummaryResponse> Push(
      const Credentials& c, const v1::PushSummaryRequest& r) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("liaison-professional-id", "sw-7");
    v1::PushSummaryResponse resp;
    const grpc::Status s = Stub(c)->PushSummary(&ctx, r, &resp);
    return ToStatusOr(s, resp);
  }

  absl::StatusOr<v1::RequestSummaryResponse> Ask(
      const Credentials& c, const v1::RequestSummaryRequest& r) {
    grpc::ClientContext ctx;
    v1::RequestSummaryResponse resp;
    const grpc::Status s = Stub(c)->RequestSummary(&ctx, r, &resp);
    return ToStatusOr(s, resp);
  }

  absl::StatusOr<v1::AnswerSummaryRequestResponse> Answer(
      const Credentials& c, const std::string& request_id,
      const v1::Record& record,
      const std::optional<v1::LegalBasis>& basis = std::nullopt,
      bool with_checklist = true) {
    grpc::ClientContext ctx;
    v1::AnswerSummaryRequestRequest r;
    r.set_request_id(request_id);
    *r.mutable_record() = record;
    if (basis.has_value()) *r.mutable_basis() = *basis;
    if (with_checklist) {
      // The hospital's clinician went through health's checklist.
      ConfirmChecklist(r.mutable_checklist());
    }
    v1::AnswerSummaryRequestResponse resp;
    const grpc::Status s = Stub(c)->AnswerSummaryRequest(&ctx, r, &resp);
    return ToStatusOr(s, resp);
  }

  v1::RequestSummaryRequest AskHospital(const std::string& key) const {
    v1::RequestSummaryRequest r;
    r.set_idempotency_key(key);
    r.mutable_holder()->set_agency_id("hospital");
    *r.mutable_subject() = Child();
    r.set_purpose("child_welfare");
    r.mutable_basis()->set_consent_id(consent_);
    return r;
  }

  // Reads up to `n` inbox messages, acknowledging each, or fewer when
  // `wait` passes first.
  std::vector<v1::InboxMessage> Take(const Credentials& c, size_t n,
                                     absl::Duration wait = absl::Seconds(10)) {
    InboxRead how;
    how.wait = wait;
    how.acknowledge = true;
    return ReadInbox(ChannelFor(*broker_, deployment_.ca_cert(), c), n, how);
  }

  std::vector<v1::LogEntry> Log(v1::EntryKind kind) {
    grpc::ClientContext ctx;
    v1::QueryLogRequest q;
    q.mutable_filter()->add_kinds(kind);
    v1::QueryLogResponse page;
    grpc::Status s =
        v1::Audit::NewStub(ChannelFor(*broker_, deployment_.ca_cert(), dpo_))
            ->QueryLog(&ctx, q, &page);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {page.entries().begin(), page.entries().end()};
  }

  Deployment deployment_;
  Credentials hospital_, social_, school_, police_, dpo_;
  // The child's own consent the tests rely on.
  std::string consent_;
  std::unique_ptr<BrokerProcess> broker_;
};

TEST_F(SummaryTest, APushIsDecidedAndAbstractedForEachAttachedAgency) {
  const std::string case_id = OpenCase();
  ASSERT_FALSE(case_id.empty());
  AttachPolice(case_id);
  Take(social_, 1);  // the school's referral

  // The school pushes its record: social care may see it at SUMMARY under
  // consent; no agreement lets a school disclose to the police.
  v1::PushSummaryRequest push;
  push.set_idempotency_key("push-1");
  push.set_case_id(case_id);
  push.set_purpose("child_welfare");
  v1::EducationRecord* e = push.mutable_record()->mutable_education();
  *e->mutable_subject() = Child();
  e->set_school("Rosengard School");
  e->set_attendance_percent(61.5);
  e->set_teacher_notes("Often arrives without breakfast.");
  e->set_summary_for_sharing(
      "Attendance falling since September; meeting with parents.");
  push.mutable_basis()->set_consent_id(consent_);
  auto pushed = Push(school_, push);
  ASSERT_TRUE(pushed.ok()) << pushed.status();
  ASSERT_EQ(pushed->deliveries_size(), 2);
  for (const auto& d : pushed->deliveries()) {
    if (d.agency_id() == "social") {
      EXPECT_EQ(d.level(), v1::LEVEL_SUMMARY);
      EXPECT_EQ(d.reason(), "");
    } else {
      EXPECT_EQ(d.agency_id(), "police");
      EXPECT_EQ(d.level(), v1::LEVEL_NONE);
      EXPECT_TRUE(absl::StrContains(d.reason(), "no agreement")) << d.reason();
    }
  }
  std::vector<v1::InboxMessage> at_social = Take(social_, 1);
  ASSERT_EQ(at_social.size(), 1u);
  ASSERT_TRUE(at_social[0].has_summary());
  const v1::SummaryReceived& got = at_social[0].summary();
  EXPECT_EQ(got.summary_id(), pushed->summary_id());
  EXPECT_EQ(got.sender_agency_id(), "school");
  EXPECT_EQ(got.case_id(), case_id);
  EXPECT_EQ(got.record().level(), v1::LEVEL_SUMMARY);
  EXPECT_EQ(got.record().record().education().teacher_notes(), "");
  EXPECT_EQ(got.record().record().education().summary_for_sharing(),
            "Attendance falling since September; meeting with parents.");
  EXPECT_TRUE(Take(police_, 1, absl::Seconds(2)).empty());

  // A retry returns the first answer and delivers nothing again; the same
  // key with another body is refused.
  auto again = Push(school_, push);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->summary_id(), pushed->summary_id());
  EXPECT_TRUE(Take(social_, 1, absl::Seconds(2)).empty());
  v1::PushSummaryRequest changed = push;
  changed.mutable_record()->mutable_education()->set_attendance_percent(70);
  EXPECT_EQ(Push(school_, changed).status().code(),
            absl::StatusCode::kAlreadyExists);

  // One DISCLOSURE and one DENIAL, both naming the summary, no content.
  int disclosures = 0, denials = 0;
  for (const v1::LogEntry& entry : Log(v1::ENTRY_KIND_DISCLOSURE)) {
    if (entry.message_id() != pushed->summary_id()) continue;
    ++disclosures;
    EXPECT_EQ(entry.counterpart(), "social");
    EXPECT_EQ(entry.level(), v1::LEVEL_SUMMARY);
    EXPECT_EQ(entry.case_id(), case_id);
    EXPECT_EQ(entry.professional().id(), "sw-7");
    EXPECT_FALSE(absl::StrContains(entry.DebugString(), "breakfast"));
  }
  for (const v1::LogEntry& entry : Log(v1::ENTRY_KIND_DENIAL)) {
    if (entry.message_id() != pushed->summary_id()) continue;
    ++denials;
    EXPECT_EQ(entry.counterpart(), "police");
  }
  EXPECT_EQ(disclosures, 1);
  EXPECT_EQ(denials, 1);
}

TEST_F(SummaryTest, BadPushesAreRefusedAndDeliverNothing) {
  const std::string case_id = OpenCase();
  Take(social_, 1);
  // The school is told its referral was delivered.
  ASSERT_EQ(Take(school_, 1).size(), 1u);
  v1::PushSummaryRequest good;
  good.set_idempotency_key("p");
  good.set_case_id(case_id);
  good.set_purpose("child_welfare");
  *good.mutable_record() = SocialRecord();
  good.mutable_basis()->set_consent_id(consent_);

  struct Case {
    std::string name;
    const Credentials* from;
    std::function<void(v1::PushSummaryRequest*)> change;
    absl::StatusCode code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"no key", &social_, [](auto* r) { r->clear_idempotency_key(); },
       absl::StatusCode::kInvalidArgument, "idempotency_key"},
      {"no record", &social_, [](auto* r) { r->clear_record(); },
       absl::StatusCode::kInvalidArgument, "record is missing"},
      {"record without its subject", &social_,
       [](auto* r) {
         r->mutable_record()->mutable_social_care()->clear_subject();
       },
       absl::StatusCode::kInvalidArgument,
       "record.social_care.subject.identifier is missing"},
      {"no basis", &social_, [](auto* r) { r->clear_basis(); },
       absl::StatusCode::kInvalidArgument, "basis is missing"},
      {"unknown case", &social_, [](auto* r) { r->set_case_id("case-x"); },
       absl::StatusCode::kNotFound, "no case \"case-x\""},
      {"not attached", &hospital_, [](auto*) {}, absl::StatusCode::kNotFound,
       "attached"},
      {"another person", &social_,
       [](auto* r) { *r->mutable_record() = SocialRecord(kOtherChild); },
       absl::StatusCode::kInvalidArgument, "another person"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    v1::PushSummaryRequest r = good;
    r.set_idempotency_key(absl::StrCat("key-", c.name));
    c.change(&r);
    auto result = Push(*c.from, r);
    EXPECT_EQ(result.status().code(), c.code) << result.status();
    EXPECT_TRUE(absl::StrContains(result.status().message(), c.message))
        << result.status();
  }
  EXPECT_TRUE(Take(school_, 1, absl::Seconds(2)).empty());
  EXPECT_TRUE(Log(v1::ENTRY_KIND_DENIAL).empty());
  // The good push still goes through: the school sees social care's record
  // at CATEGORY, the most a partner gets under consent.
  auto pushed = Push(social_, good);
  ASSERT_TRUE(pushed.ok()) << pushed.status();
  ASSERT_EQ(pushed->deliveries_size(), 1);
  EXPECT_EQ(pushed->deliveries(0).level(), v1::LEVEL_CATEGORY);
  std::vector<v1::InboxMessage> at_school = Take(school_, 1);
  ASSERT_EQ(at_school.size(), 1u);
  const v1::SocialCareRecord& s =
      at_school[0].summary().record().record().social_care();
  EXPECT_EQ(s.case_notes(), "");
  EXPECT_EQ(s.summary_for_sharing(), "");
  EXPECT_EQ(s.concerns_size(), 1);
}

TEST_F(SummaryTest, ARequestIsAnsweredOnceAtTheRequestersLevel) {
  const std::string case_id = OpenCase();
  Take(social_, 1);
  v1::RequestSummaryRequest ask = AskHospital("ask-1");
  ask.set_case_id(case_id);
  auto asked = Ask(social_, ask);
  ASSERT_TRUE(asked.ok()) << asked.status();
  EXPECT_EQ(asked->holder_agency_id(), "hospital");

  std::vector<v1::InboxMessage> at_hospital = Take(hospital_, 1);
  ASSERT_EQ(at_hospital.size(), 1u);
  ASSERT_TRUE(at_hospital[0].has_summary_request());
  const v1::SummaryRequestReceived& request = at_hospital[0].summary_request();
  EXPECT_EQ(request.request_id(), asked->request_id());
  EXPECT_EQ(request.requester_agency_id(), "social");
  EXPECT_EQ(request.subject().identifier(), kChild);
  EXPECT_EQ(request.purpose(), "child_welfare");

  // Only the agency asked may answer, only about the person asked about.
  EXPECT_EQ(
      Answer(police_, asked->request_id(), HealthRecord()).status().code(),
      absl::StatusCode::kNotFound);
  auto wrong =
      Answer(hospital_, asked->request_id(), HealthRecord(kOtherChild));
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(wrong.status().message(), "another person"));
  // Health's checklist goes with its answers as with its referrals; without
  // it the answer is a logged denial and the request stays open.
  auto unchecked = Answer(hospital_, asked->request_id(), HealthRecord(),
                          std::nullopt, /*with_checklist=*/false);
  EXPECT_EQ(unchecked.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StrContains(unchecked.status().message(),
                                "concern_verified, person_informed"))
      << unchecked.status();

  auto answered = Answer(hospital_, asked->request_id(), HealthRecord());
  ASSERT_TRUE(answered.ok()) << answered.status();
  EXPECT_EQ(answered->level(), v1::LEVEL_CATEGORY);
  EXPECT_EQ(
      Answer(hospital_, asked->request_id(), HealthRecord()).status().code(),
      absl::StatusCode::kFailedPrecondition);

  std::vector<v1::InboxMessage> at_social = Take(social_, 2, absl::Seconds(3));
  ASSERT_EQ(at_social.size(), 1u);
  const v1::SummaryReceived& got = at_social[0].summary();
  EXPECT_EQ(got.request_id(), asked->request_id());
  EXPECT_EQ(got.sender_agency_id(), "hospital");
  EXPECT_EQ(got.case_id(), case_id);
  EXPECT_EQ(got.record().level(), v1::LEVEL_CATEGORY);
  const v1::HealthRecord& h = got.record().record().health();
  ASSERT_EQ(h.diagnosis_codes_size(), 1);
  EXPECT_TRUE(absl::StrContains(h.diagnosis_codes(0), "chapter V"))
      << h.diagnosis_codes(0);
  EXPECT_EQ(h.address().street(), "");
  EXPECT_EQ(h.address().municipality(), "Malmo");
  EXPECT_EQ(h.clinician_notes(), "");

  // The request and the answer are each logged.
  std::vector<v1::LogEntry> requests = Log(v1::ENTRY_KIND_SUMMARY_REQUEST);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].message_id(), asked->request_id());
  EXPECT_EQ(requests[0].counterpart(), "hospital");
  EXPECT_EQ(requests[0].level(), v1::LEVEL_CATEGORY);
  int answers = 0;
  for (const v1::LogEntry& e : Log(v1::ENTRY_KIND_DISCLOSURE)) {
    if (e.message_id() == got.summary_id()) {
      ++answers;
      EXPECT_EQ(e.counterpart(), "social");
      EXPECT_EQ(e.record_type(), "health");
    }
  }
  EXPECT_EQ(answers, 1);
}

TEST_F(SummaryTest, RequestsThePolicyWouldAnswerWithNothingAreDenied) {
  const std::string case_id = OpenCase();
  // The answer would go from health to a school, a route no agreement
  // covers.
  auto school = Ask(school_, AskHospital("school-asks"));
  EXPECT_EQ(school.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StrContains(school.status().message(),
                                "no agreement covers health to education"))
      << school.status();
  // A case the requester is not attached to gives no relationship.
  v1::RequestSummaryRequest police_ask = AskHospital("police-asks");
  police_ask.set_case_id(case_id);
  EXPECT_EQ(Ask(police_, police_ask).status().code(),
            absl::StatusCode::kNotFound);
  // A request citing a case about someone else.
  v1::RequestSummaryRequest other = AskHospital("other");
  other.set_case_id(case_id);
  *other.mutable_subject() = Child(kOtherChild);
  EXPECT_EQ(Ask(school_, other).status().code(),
            absl::StatusCode::kPermissionDenied);
  other.mutable_holder()->set_agency_id("social");
  // With the other child's own consent, so only the case is wrong.
  other.mutable_basis()->set_consent_id(RecordConsentFromSubject(
      ChannelFor(*broker_, deployment_.ca_cert(), school_), kOtherChild));
  auto mismatch = Ask(school_, other);
  EXPECT_EQ(mismatch.status().code(), absl::StatusCode::kInvalidArgument)
      << mismatch.status();
  // Malformed: no subject, an unknown holder.
  v1::RequestSummaryRequest bad = AskHospital("bad");
  bad.clear_subject();
  EXPECT_EQ(Ask(social_, bad).status().code(),
            absl::StatusCode::kInvalidArgument);
  bad = AskHospital("bad-2");
  bad.mutable_holder()->set_agency_id("nowhere");
  EXPECT_EQ(Ask(social_, bad).status().code(), absl::StatusCode::kNotFound);

  EXPECT_TRUE(Take(hospital_, 1, absl::Seconds(2)).empty());
  // The denial is logged with its reason.
  std::vector<v1::LogEntry> denials = Log(v1::ENTRY_KIND_DENIAL);
  ASSERT_GE(denials.size(), 1u);
  EXPECT_EQ(denials[0].counterpart(), "hospital");
  EXPECT_TRUE(absl::StrContains(denials[0].reason(), "no agreement"));
  EXPECT_EQ(denials[0].actor(), "liaison://agency/education/school");
}

TEST_F(SummaryTest, ARiskTheRequesterCitesIsJudgedByTheHolder) {
  // The police, attached to the case, ask health citing a risk to a child.
  // Their officer's assessment is a request: no second police officer is
  // needed, and it discloses nothing of the hospital's by itself.
  v1::RequestSummaryRequest ask = AskHospital("override");
  ask.set_purpose("crime_prevention");
  v1::Justification* j = ask.mutable_basis()->mutable_override();
  j->set_category(v1::OVERRIDE_CATEGORY_CHILD_PROTECTION);
  j->set_legal_provision("OSL 10 kap. 21 §");
  j->set_statement(
      "A 15-year-old described ongoing violence at home to a duty officer.");
  j->mutable_assessor()->set_id("off-11");
  // Outside a case the police have no legitimate relationship to the child.
  auto outside = Ask(police_, ask);
  EXPECT_EQ(outside.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(
      absl::StrContains(outside.status().message(), "legitimate relationship"))
      << outside.status();
  const std::string case_id = OpenCase();
  AttachPolice(case_id);
  ask.set_case_id(case_id);
  ask.set_idempotency_key("override-2");
  auto asked = Ask(police_, ask);
  ASSERT_TRUE(asked.ok()) << asked.status();
  // The hospital sees the risk the police cite, statement and all.
  std::vector<v1::InboxMessage> at_hospital = Take(hospital_, 1);
  ASSERT_EQ(at_hospital.size(), 1u);
  const v1::Justification& cited =
      at_hospital[0].summary_request().basis().override();
  EXPECT_EQ(cited.statement(), j->statement());
  EXPECT_EQ(cited.assessor().id(), "off-11");
  EXPECT_EQ(cited.category(), v1::OVERRIDE_CATEGORY_CHILD_PROTECTION);

  // Answering on the police's judgement is refused, logged, and says what
  // the hospital must give.
  auto on_theirs = Answer(hospital_, asked->request_id(), HealthRecord());
  EXPECT_EQ(on_theirs.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StrContains(on_theirs.status().message(),
                                "the holder's own judgement"))
      << on_theirs.status();
  EXPECT_TRUE(absl::StrContains(on_theirs.status().message(), "approver"))
      << on_theirs.status();

  // The hospital's own override: its clinician assesses; the agreement asks
  // for two persons, so its medical director approves. A blank or padded
  // approver is not a second person.
  v1::LegalBasis own;
  v1::Justification* h = own.mutable_override();
  h->set_category(v1::OVERRIDE_CATEGORY_CHILD_PROTECTION);
  h->set_legal_provision("OSL 10 kap. 21 §");
  h->set_statement(
      "Injuries consistent with the account were treated here in October.");
  h->mutable_assessor()->set_id("c-311");
  for (const char* approver : {"", " ", "c-311 ", "\xc2\xa0" "C-311"}) {
    SCOPED_TRACE(approver);
    h->mutable_approver()->set_id(approver);
    auto padded = Answer(hospital_, asked->request_id(), HealthRecord(), own);
    EXPECT_EQ(padded.status().code(), absl::StatusCode::kPermissionDenied);
    EXPECT_TRUE(absl::StrContains(padded.status().message(), "approv"))
        << padded.status();
  }
  EXPECT_TRUE(Log(v1::ENTRY_KIND_OVERRIDE).empty());
  h->mutable_approver()->set_id(" md-2 ");
  h->mutable_approver()->set_role("medical director");
  auto answered =
      Answer(hospital_, asked->request_id(), HealthRecord(), own);
  ASSERT_TRUE(answered.ok()) << answered.status();
  EXPECT_EQ(answered->level(), v1::LEVEL_CATEGORY);
  std::vector<v1::LogEntry> overrides = Log(v1::ENTRY_KIND_OVERRIDE);
  ASSERT_EQ(overrides.size(), 1u);
  EXPECT_EQ(overrides[0].counterpart(), "police");
  EXPECT_EQ(overrides[0].actor(), "liaison://agency/health/hospital");
  // The hospital's professionals, as people are told apart.
  EXPECT_EQ(overrides[0].justification().assessor().id(), "c-311");
  EXPECT_EQ(overrides[0].justification().approver().id(), "md-2");
  EXPECT_EQ(overrides[0].justification().statement(), "");
  // Every refused answer was logged as a denial naming the request.
  int refused = 0;
  for (const v1::LogEntry& e : Log(v1::ENTRY_KIND_DENIAL)) {
    if (e.counterpart() == "police" && e.record_type() == "health") ++refused;
  }
  EXPECT_EQ(refused, 5);

  // The statement is sealed beside the log, its digest in the entry. Only
  // an auditor of the agency whose data left reads and reviews it.
  EXPECT_EQ(overrides[0].statement_digest(), Sha256Hex(h->statement()));
  const Credentials hospital_dpo =
      deployment_.Issue({"auditor", "--id=hospital-dpo"});
  const Credentials police_auditor =
      deployment_.Issue({"auditor", "--id=police-auditor"});
  auto queue = [&](const Credentials& auditor) {
    grpc::ClientContext ctx;
    v1::ListOverrideReviewsResponse resp;
    grpc::Status s =
        v1::Audit::NewStub(ChannelFor(*broker_, deployment_.ca_cert(), auditor))
            ->ListOverrideReviews(&ctx, v1::ListOverrideReviewsRequest(),
                                  &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return std::vector<v1::OverrideReview>(resp.reviews().begin(),
                                           resp.reviews().end());
  };
  auto review = [&](const Credentials& auditor, uint64_t sequence) {
    grpc::ClientContext ctx;
    v1::ReviewOverrideRequest req;
    req.set_log_sequence(sequence);
    req.set_outcome(v1::OverrideReview::OUTCOME_JUSTIFIED);
    v1::ReviewOverrideResponse resp;
    return v1::Audit::NewStub(
               ChannelFor(*broker_, deployment_.ca_cert(), auditor))
        ->ReviewOverride(&ctx, req, &resp);
  };
  EXPECT_TRUE(queue(police_auditor).empty());
  const grpc::Status refused_review =
      review(police_auditor, overrides[0].sequence());
  EXPECT_EQ(refused_review.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << refused_review.error_message();
  EXPECT_TRUE(absl::StrContains(refused_review.error_message(), "hospital"))
      << refused_review.error_message();
  std::vector<v1::OverrideReview> queued = queue(hospital_dpo);
  ASSERT_EQ(queued.size(), 1u);
  EXPECT_EQ(queued[0].log_sequence(), overrides[0].sequence());
  EXPECT_EQ(queued[0].statement(), h->statement());
  EXPECT_EQ(Sha256Hex(queued[0].statement()), queued[0].entry().statement_digest());

  // A disclosure the hospital made outside the system under an override
  // enters the same queue, its statement sealed the same way.
  v1::RecordManualDisclosureRequest manual;
  manual.set_idempotency_key("phone-call-1");
  manual.set_recipient_agency_id("police");
  manual.mutable_subject()->set_identifier(kChild);
  manual.set_purpose("crime_prevention");
  manual.set_level(v1::LEVEL_SIGNAL);
  v1::Justification* said = manual.mutable_basis()->mutable_override();
  *said = *h;
  said->set_statement("Told the duty officer by phone: " + h->statement());
  manual.set_channel("telephone");
  manual.mutable_disclosed_at()->set_seconds(absl::ToUnixSeconds(absl::Now()));
  {
    grpc::ClientContext ctx;
    v1::RecordManualDisclosureResponse resp;
    grpc::Status s = Stub(hospital_)->RecordManualDisclosure(&ctx, manual, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  queued = queue(hospital_dpo);
  ASSERT_EQ(queued.size(), 2u);
  EXPECT_EQ(queued[1].entry().kind(), v1::ENTRY_KIND_MANUAL_DISCLOSURE);
  EXPECT_EQ(queued[1].statement(), "Told the duty officer by phone: " +
                                    h->statement());
  EXPECT_TRUE(review(hospital_dpo, overrides[0].sequence()).ok());
}

}  // namespace
}  // namespace liaison::testing
