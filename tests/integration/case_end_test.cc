// Cases end (DESIGN.md rule 10), over the real broker: the case manager
// closes a case with an outcome, and an agency is detached from a case
// with a reason. Once closed or detached the legitimate relationship is
// over: pushes, requests, answers and referrals on the case are refused
// with a reason that says so, a detached agency gets no more pushes, and
// each change is one entry in the disclosure log.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "liaison/v1/exchange.grpc.pb.h"
#include "tests/common/exchange_fixture.h"

namespace liaison::testing {
namespace {

class CaseEndTest : public ExchangeTest {
 protected:
  grpc::Status Close(const Credentials& c, const std::string& case_id,
                     v1::CaseOutcome outcome, v1::Case* out = nullptr) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("liaison-professional-id", "sw-7");
    v1::CloseCaseRequest req;
    req.set_case_id(case_id);
    req.set_outcome(outcome);
    v1::Case ignored;
    return Stub(c)->CloseCase(&ctx, req, out == nullptr ? &ignored : out);
  }

  grpc::Status Detach(const Credentials& c, const std::string& case_id,
                      const std::string& agency_id, v1::DetachReason reason,
                      v1::Case* out = nullptr) {
    grpc::ClientContext ctx;
    v1::DetachFromCaseRequest req;
    req.set_case_id(case_id);
    req.set_agency_id(agency_id);
    req.set_reason(reason);
    v1::Case ignored;
    return Stub(c)->DetachFromCase(&ctx, req, out == nullptr ? &ignored : out);
  }

  grpc::Status GetCase(const Credentials& c, const std::string& case_id,
                       v1::Case* out) {
    grpc::ClientContext ctx;
    v1::GetCaseRequest req;
    req.set_case_id(case_id);
    return Stub(c)->GetCase(&ctx, req, out);
  }

  // A consent of `person` letting social care share with the school.
  std::string SocialToSchool(const std::string& person) {
    return MustRecord(social_, SubjectConsent(person, {AgencyParty("social")},
                                              {SectorParty("education")}));
  }
};

TEST_F(CaseEndTest, ADetachedAgencyIsOutOfTheCase) {
  const std::string person = Person(801);
  const std::string case_id = OpenCase(person, "open-801");
  ASSERT_FALSE(case_id.empty());
  const std::string consent = SocialToSchool(person);

  // Only the manager (social care, the referral's recipient) may detach
  // another agency; nothing is logged for a refusal.
  const uint64_t size_before = TreeSize();
  grpc::Status s =
      Detach(school_, case_id, "social", v1::DETACH_REASON_NO_LONGER_INVOLVED);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "only the case manager"))
      << s.error_message();
  s = Detach(social_, case_id, "social", v1::DETACH_REASON_NO_LONGER_INVOLVED);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "hand the case over"))
      << s.error_message();
  s = Detach(social_, case_id, "police", v1::DETACH_REASON_NO_LONGER_INVOLVED);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "not attached"))
      << s.error_message();
  s = Detach(social_, case_id, "school", v1::DETACH_REASON_UNSPECIFIED);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "reason is missing"))
      << s.error_message();
  s = Detach(social_, "case-00000000000000000000000000000000", "school",
             v1::DETACH_REASON_NO_LONGER_INVOLVED);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  // Each call above was answered with an error; none was logged.
  EXPECT_EQ(TreeSize(), size_before);

  // Before: the school is attached and gets social care's pushes.
  auto pushed = Push(
      social_, SocialPush("push-1", case_id, person, ConsentBasis(consent)));
  ASSERT_TRUE(pushed.ok()) << pushed.status();
  ASSERT_EQ(pushed->deliveries_size(), 1);
  EXPECT_EQ(pushed->deliveries(0).agency_id(), "school");

  v1::Case after;
  s = Detach(social_, case_id, "school", v1::DETACH_REASON_NO_LONGER_INVOLVED,
             &after);
  ASSERT_TRUE(s.ok()) << s.error_message();
  bool seen = false;
  for (const v1::CaseAgency& a : after.agencies()) {
    if (a.agency_id() != "school") {
      EXPECT_FALSE(a.has_detached_at()) << a.agency_id();
      continue;
    }
    seen = true;
    EXPECT_TRUE(a.has_detached_at());
    EXPECT_EQ(a.detach_reason(), v1::DETACH_REASON_NO_LONGER_INVOLVED);
  }
  EXPECT_TRUE(seen);
  EXPECT_FALSE(after.has_closed_at());
  // Twice is refused.
  s = Detach(social_, case_id, "school", v1::DETACH_REASON_SERVICE_ENDED);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "already"))
      << s.error_message();

  // After: the school no longer sees the case, and cannot push on it.
  v1::Case seen_by_school;
  s = GetCase(school_, case_id, &seen_by_school);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "was detached"))
      << s.error_message();
  v1::PushSummaryRequest from_school;
  from_school.set_idempotency_key("school-push");
  from_school.set_case_id(case_id);
  from_school.set_purpose("child_welfare");
  *from_school.mutable_record() = SocialRecord(person);
  from_school.mutable_record()->clear_social_care();
  v1::EducationRecord* e = from_school.mutable_record()->mutable_education();
  e->mutable_subject()->set_identifier(person);
  e->set_summary_for_sharing("Attendance falling since September.");
  *from_school.mutable_basis() = ConsentBasis(
      MustRecord(school_, SubjectConsent(person, {AgencyParty("school")},
                                         {SectorParty("social_care")})));
  auto refused = Push(school_, from_school);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied)
      << refused.status();
  EXPECT_TRUE(absl::StrContains(refused.status().message(),
                                "detached from case " + case_id))
      << refused.status();
  EXPECT_TRUE(
      absl::StrContains(refused.status().message(), "NO_LONGER_INVOLVED"))
      << refused.status();
  // Social care's next push reaches nobody: the school is out.
  auto after_push = Push(
      social_, SocialPush("push-2", case_id, person, ConsentBasis(consent)));
  ASSERT_TRUE(after_push.ok()) << after_push.status();
  EXPECT_EQ(after_push->deliveries_size(), 0);

  // One CASE_DETACHED entry: who, whom, why, the case and its subject.
  std::vector<v1::LogEntry> detached = Log({v1::ENTRY_KIND_CASE_DETACHED});
  ASSERT_EQ(detached.size(), 1u);
  EXPECT_TRUE(absl::EndsWith(detached[0].actor(), "/social"))
      << detached[0].actor();
  EXPECT_EQ(detached[0].counterpart(), "school");
  EXPECT_EQ(detached[0].case_id(), case_id);
  EXPECT_EQ(detached[0].subject_pseudonym().size(), 64u);
  EXPECT_TRUE(absl::StrContains(detached[0].reason(), "NO_LONGER_INVOLVED"))
      << detached[0].reason();
}

TEST_F(CaseEndTest, AClosedCaseRefusesEverythingOnIt) {
  const std::string person = Person(802);
  const std::string case_id = OpenCase(person, "open-802");
  ASSERT_FALSE(case_id.empty());
  const std::string consent = SocialToSchool(person);
  const std::string ask_consent =
      MustRecord(social_, SubjectConsent(person, {AgencyParty("hospital")},
                                         {AgencyParty("social")}));
  // A request on the case, made while it is open, answered after.
  auto asked = Ask(social_, AskHospital("ask-open", person,
                                        ConsentBasis(ask_consent), case_id));
  ASSERT_TRUE(asked.ok()) << asked.status();

  // Only the manager closes, and only with an outcome.
  grpc::Status s = Close(school_, case_id, v1::CASE_OUTCOME_SUPPORT_IN_PLACE);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "only the case manager"))
      << s.error_message();
  s = Close(social_, case_id, v1::CASE_OUTCOME_UNSPECIFIED);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "outcome is missing"))
      << s.error_message();
  EXPECT_TRUE(Log({v1::ENTRY_KIND_CASE_CLOSED}).empty());

  v1::Case closed;
  s = Close(social_, case_id, v1::CASE_OUTCOME_SUPPORT_IN_PLACE, &closed);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(closed.has_closed_at());
  EXPECT_EQ(closed.outcome(), v1::CASE_OUTCOME_SUPPORT_IN_PLACE);
  // Every attached agency still sees the closed case, and how it ended.
  v1::Case seen;
  ASSERT_TRUE(GetCase(school_, case_id, &seen).ok());
  EXPECT_EQ(seen.outcome(), v1::CASE_OUTCOME_SUPPORT_IN_PLACE);
  s = Close(social_, case_id, v1::CASE_OUTCOME_NO_FURTHER_ACTION);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "closed already"))
      << s.error_message();

  const auto expect_closed = [&](const absl::Status& status,
                                 const std::string& what) {
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition)
        << what << ": " << status;
    EXPECT_TRUE(absl::StrContains(
        status.message(), absl::StrCat("case ", case_id, " was closed on")))
        << what << ": " << status;
    EXPECT_TRUE(absl::StrContains(status.message(), "SUPPORT_IN_PLACE"))
        << what << ": " << status;
  };
  const uint64_t size_before = TreeSize();
  expect_closed(Push(social_, SocialPush("push-closed", case_id, person,
                                         ConsentBasis(consent)))
                    .status(),
                "push");
  expect_closed(Ask(social_, AskHospital("ask-closed", person,
                                         ConsentBasis(ask_consent), case_id))
                    .status(),
                "request");
  expect_closed(
      Answer(hospital_, asked->request_id(), HealthRecord(person)).status(),
      "answer");
  v1::SendReferralRequest join =
      SchoolReferral("join-closed", person,
                     ConsentBasis(MustRecord(school_, SubjectConsent(person))));
  join.set_case_id(case_id);
  expect_closed(Send(school_, join).status(), "referral");
  s = Detach(social_, case_id, "school", v1::DETACH_REASON_NO_LONGER_INVOLVED);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  v1::HandOverCaseRequest handover;
  handover.set_case_id(case_id);
  handover.set_to_agency_id("school");
  handover.set_note("taking over");
  grpc::ClientContext ctx;
  v1::Case ignored;
  s = Stub(social_)->HandOverCase(&ctx, handover, &ignored);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  // None of the refusals above disclosed or logged anything but the
  // auditor's reads and the one consent recorded.
  std::vector<v1::LogEntry> since = Log({});
  for (const v1::LogEntry& e : since) {
    if (e.sequence() < size_before) continue;
    EXPECT_TRUE(e.kind() == v1::ENTRY_KIND_ACCESS ||
                e.kind() == v1::ENTRY_KIND_CONSENT_RECORDED)
        << e.ShortDebugString();
  }

  std::vector<v1::LogEntry> closes = Log({v1::ENTRY_KIND_CASE_CLOSED});
  ASSERT_EQ(closes.size(), 1u);
  EXPECT_TRUE(absl::EndsWith(closes[0].actor(), "/social"))
      << closes[0].actor();
  EXPECT_EQ(closes[0].case_id(), case_id);
  EXPECT_EQ(closes[0].professional().id(), "sw-7");
  EXPECT_EQ(closes[0].subject_pseudonym().size(), 64u);
  EXPECT_TRUE(absl::StrContains(closes[0].reason(), "SUPPORT_IN_PLACE"))
      << closes[0].reason();
}

// The files of the broker's data folder that hold `marker`, by name.
std::vector<std::string> FilesHolding(const std::string& dir,
                                      const std::string& marker) {
  std::vector<std::string> out;
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    if (!f.is_regular_file()) continue;
    std::ifstream in(f.path(), std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    if (absl::StrContains(bytes.str(), marker)) {
      out.push_back(f.path().filename().string());
    }
  }
  return out;
}

TEST_F(CaseEndTest, AClosedCasesReferralIsPurgedFromTheFilesAndTheLogStays) {
  // Retention of a day for referrals and inbox messages in "se", a clock
  // the test moves, and a sweep every second.
  const std::string jurisdictions =
      deployment_.policy_dir() + "/jurisdictions.textproto";
  std::stringstream text;
  text << std::ifstream(jurisdictions).rdbuf();
  ASSERT_TRUE(absl::StrContains(text.str(), "id: \"se\""));
  std::ofstream(jurisdictions) << absl::StrReplaceAll(
      text.str(),
      {{"id: \"se\"",
        "id: \"se\"\n  retention { referral_days: 1 inbox_message_days: 1 }"}});
  const std::string clock = deployment_.root() + "/clock.txt";
  const absl::Time start =
      absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()) + 60);
  ASSERT_NO_FATAL_FAILURE(SetClock(clock, start));
  ASSERT_EQ(broker_->Stop(), 0);
  deployment_.AppendConfig("sweep_interval_seconds: 1");
  StartBroker({"--clock_file=" + clock});

  // A referral whose requested action and record carry a marker.
  const std::string marker = "MARKER-c41d7e0b9a";
  const std::string person = Person(803);
  v1::SendReferralRequest r =
      SchoolReferral("marked", person,
                     ConsentBasis(MustRecord(school_, SubjectConsent(person))));
  r.set_requested_action("assess family support needs " + marker);
  r.mutable_record()->mutable_education()->set_summary_for_sharing(
      "Attendance falling since September. " + marker);
  auto sent = Send(school_, r);
  ASSERT_TRUE(sent.ok()) << sent.status();
  std::vector<v1::InboxMessage> got =
      ReadInbox(Channel(social_), 1, absl::Seconds(10), Referrals());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(absl::StrContains(got[0].referral().requested_action(), marker));
  {
    grpc::ClientContext ctx;
    v1::AckRequest ack;
    ack.set_message_id(got[0].message_id());
    v1::AckResponse resp;
    ASSERT_TRUE(Stub(social_)->Ack(&ctx, ack, &resp).ok());
  }
  // Positive control: the marker is in the broker's files now.
  EXPECT_FALSE(FilesHolding(deployment_.data_dir(), marker).empty());

  // Kept while the case is open, however long; purged a day after it
  // closes.
  ASSERT_NO_FATAL_FAILURE(SetClock(clock, start + absl::Hours(30)));
  // A sweep after the move has run once the acknowledged delivery (a day's
  // retention for inbox messages) is purged; the referral was not.
  const auto purged_of = [&](const std::string& kind) {
    std::vector<v1::LogEntry> out;
    for (const v1::LogEntry& e : Log({v1::ENTRY_KIND_PURGE})) {
      for (const v1::PurgeCount& c : e.purged()) {
        if (c.kind() == kind) out.push_back(e);
      }
    }
    return out;
  };
  for (int i = 0; i < 100 && purged_of("inbox_message").empty(); ++i) {
    absl::SleepFor(absl::Milliseconds(200));
  }
  ASSERT_FALSE(purged_of("inbox_message").empty()) << broker_->Output();
  EXPECT_TRUE(purged_of("referral").empty());
  auto before = Stub(school_);
  {
    grpc::ClientContext ctx;
    v1::GetReferralRequest req;
    req.set_referral_id(sent->referral_id());
    v1::Referral kept;
    ASSERT_TRUE(before->GetReferral(&ctx, req, &kept).ok());
    EXPECT_TRUE(absl::StrContains(kept.requested_action(), marker));
  }
  ASSERT_TRUE(
      Close(social_, sent->case_id(), v1::CASE_OUTCOME_SUPPORT_IN_PLACE).ok());
  ASSERT_NO_FATAL_FAILURE(SetClock(clock, start + absl::Hours(60)));
  std::vector<v1::LogEntry> purges;
  for (int i = 0; i < 100 && purges.empty(); ++i) {
    purges = purged_of("referral");
    if (purges.empty()) absl::SleepFor(absl::Milliseconds(200));
  }
  ASSERT_EQ(purges.size(), 1u) << broker_->Output();
  EXPECT_TRUE(absl::StartsWith(purges[0].actor(), "liaison://broker/"));
  EXPECT_TRUE(absl::StrContains(purges[0].reason(), "1 referral"))
      << purges[0].reason();
  EXPECT_FALSE(absl::StrContains(purges[0].SerializeAsString(), marker));

  // What is kept: ids, states, times. The content is gone.
  {
    grpc::ClientContext ctx;
    v1::GetReferralRequest req;
    req.set_referral_id(sent->referral_id());
    v1::Referral kept;
    ASSERT_TRUE(Stub(school_)->GetReferral(&ctx, req, &kept).ok());
    EXPECT_EQ(kept.referral_id(), sent->referral_id());
    EXPECT_EQ(kept.case_id(), sent->case_id());
    EXPECT_EQ(kept.requested_action(), "");
    EXPECT_FALSE(kept.has_record());
    EXPECT_GE(kept.history_size(), 1);
  }

  // The log still holds the disclosure and verifies offline.
  bool disclosed = false;
  for (const v1::LogEntry& e : Log({v1::ENTRY_KIND_DISCLOSURE})) {
    disclosed = disclosed || e.message_id() == sent->referral_id();
  }
  EXPECT_TRUE(disclosed);
  const std::string export_path = MakeTempDir("purge") + "/log.jsonl";
  CommandResult exported =
      RunLiaison(*broker_, deployment_.ca_cert(), dpo_,
                 {"audit", "export", "--out=" + export_path});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  ASSERT_EQ(broker_->Stop(), 0);
  CommandResult verified = RunCommand(
      {BinaryPath("liaison-audit"), "verify", "--export=" + export_path,
       "--public_key=" + deployment_.data_dir() + "/log-signing.pub"});
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;

  // Stopped, the marker is in none of the data folder's files.
  EXPECT_EQ(FilesHolding(deployment_.data_dir(), marker),
            std::vector<std::string>{});
}

}  // namespace
}  // namespace liaison::testing
