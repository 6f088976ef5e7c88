// A broker for the sample jurisdiction "se" (age of majority 18, override
// statements of at least 40 characters) with a school, social care, a
// hospital, the police, an NGO helpline and an auditor, and the requests
// they send to each other: the shared ground of the consent, override and
// checklist tests (DESIGN.md sections 2, 5 and 8, rules 5 and 6).
#ifndef LIAISON_TESTS_COMMON_EXCHANGE_FIXTURE_H_
#define LIAISON_TESTS_COMMON_EXCHANGE_FIXTURE_H_

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "liaison/v1/audit.grpc.pb.h"
#include "liaison/v1/exchange.grpc.pb.h"
#include "tests/integration/harness.h"

namespace liaison::testing {

// Over the jurisdiction's 40-character minimum.
inline constexpr char kStatement[] =
    "A 15-year-old described ongoing violence at home to the school nurse.";

// A distinct person for each number.
std::string Person(int n);

// The identifier as the broker normalises it before pseudonymising.
std::string Normalised(const std::string& identifier);

google::protobuf::Timestamp Ts(absl::Time t);

v1::Party SectorParty(const std::string& sector);
v1::Party AgencyParty(const std::string& id);
v1::Party Authorities();

// A valid consent the subject gave themself: `disclosing` may share with
// `recipients` for `purposes`, up to `max_level`. By default the school
// may share with social care for child welfare at any level.
v1::Consent SubjectConsent(
    const std::string& person,
    std::vector<v1::Party> disclosing = {AgencyParty("school")},
    std::vector<v1::Party> recipients = {SectorParty("social_care")},
    v1::Level max_level = v1::LEVEL_FULL,
    std::vector<std::string> purposes = {"child_welfare"});

// The same, given by the subject's mother for a subject born on
// `birth_date`.
v1::Consent GuardianConsent(
    const std::string& person, const std::string& birth_date,
    std::vector<v1::Party> disclosing = {AgencyParty("school")},
    std::vector<v1::Party> recipients = {SectorParty("social_care")});

// A refusal by the subject, with no level (none is needed).
v1::Consent Refusal(
    const std::string& person,
    std::vector<v1::Party> disclosing = {AgencyParty("school")},
    std::vector<v1::Party> recipients = {SectorParty("social_care")},
    std::vector<std::string> purposes = {"child_welfare"});

absl::StatusOr<v1::Consent> RecordConsent(v1::Exchange::Stub& stub,
                                          const v1::Consent& consent,
                                          const std::string& key = "");
absl::StatusOr<v1::Consent> GetConsent(v1::Exchange::Stub& stub,
                                       const std::string& consent_id);
absl::StatusOr<v1::Consent> WithdrawConsent(v1::Exchange::Stub& stub,
                                            const std::string& consent_id,
                                            const std::string& reason);

// Reads the inbox behind `channel` without acknowledging anything, until
// `n` messages that `keep` accepts (all, when it is empty) have arrived or
// `wait` passes; returns those. Messages read are leased for
// `lease_seconds`, so a later read does not see them again.
std::vector<v1::InboxMessage> ReadInbox(
    const std::shared_ptr<grpc::Channel>& channel, size_t n,
    absl::Duration wait = absl::Seconds(10), const Keep& keep = {},
    uint32_t lease_seconds = 600);

Keep NoticeOf(v1::Notice::Kind kind);
Keep Referrals();
Keep Summaries();

std::vector<std::string> Sorted(std::vector<std::string> v);
// The message ids a notice names, sorted.
std::vector<std::string> MessageIds(const v1::Notice& n);

v1::LegalBasis ConsentBasis(const std::string& consent_id);
v1::LegalBasis DutyBasis(const std::string& duty);

// An overriding-risk justification the "se" jurisdiction accepts, assessed
// and approved by two persons.
v1::Justification ValidJustification(const std::string& statement = kStatement);
v1::LegalBasis OverrideBasis(const v1::Justification& j = ValidJustification());

// The school's referral about `person` to `to`.
v1::SendReferralRequest SchoolReferral(const std::string& key,
                                       const std::string& person,
                                       const v1::LegalBasis& basis,
                                       const std::string& to = "social");

// Every step of the pre-sharing checklist confirmed, with a risk
// assessment reference.
void CompleteChecklist(v1::PreSharingChecklist* c);

// The hospital's referral about `person` to `to`, with its checklist
// complete.
v1::SendReferralRequest HealthReferral(const std::string& key,
                                       const std::string& person,
                                       const v1::LegalBasis& basis,
                                       const std::string& to = "social");

v1::Record SocialRecord(const std::string& person);
v1::Record HealthRecord(const std::string& person);

v1::PushSummaryRequest SocialPush(const std::string& key,
                                  const std::string& case_id,
                                  const std::string& person,
                                  const v1::LegalBasis& basis);
v1::RequestSummaryRequest AskHospital(const std::string& key,
                                      const std::string& person,
                                      const v1::LegalBasis& basis,
                                      const std::string& case_id = "");

// Moves the broker's clock: writes `t` to a temporary file and renames it
// over `path`, so the broker never reads half a file. Fails the test (fatally)
// when the rename fails.
void SetClock(const std::string& path, absl::Time t);

// The deployment above, its credentials issued and its broker running.
// Calls are made as the professionals the tests name in their metadata.
class ExchangeTest : public ::testing::Test {
 protected:
  void SetUp() override;

  // (Re)starts the broker with a one-second shutdown grace and `extra`
  // flags; fails the test fatally when it does not start.
  void StartBroker(const std::vector<std::string>& extra = {});

  std::shared_ptr<grpc::Channel> Channel(const Credentials& c);
  std::unique_ptr<v1::Exchange::Stub> Stub(const Credentials& c);

  absl::StatusOr<v1::Consent> RecordAs(const Credentials& c,
                                       const v1::Consent& consent,
                                       const std::string& key = "");
  // Records `consent` as `c`, failing the test if it is refused; returns
  // its id.
  std::string MustRecord(const Credentials& c, const v1::Consent& consent);
  absl::StatusOr<v1::Consent> GetAs(const Credentials& c,
                                    const std::string& id);
  absl::StatusOr<v1::Consent> WithdrawAs(
      const Credentials& c, const std::string& id,
      const std::string& reason = "withdrawn by the person in writing");

  absl::StatusOr<v1::SendReferralResponse> Send(
      const Credentials& c, const v1::SendReferralRequest& r);
  absl::StatusOr<v1::PushSummaryResponse> Push(const Credentials& c,
                                               const v1::PushSummaryRequest& r);
  absl::StatusOr<v1::RequestSummaryResponse> Ask(
      const Credentials& c, const v1::RequestSummaryRequest& r);
  // Answers with health's checklist complete, under `basis` when given.
  absl::StatusOr<v1::AnswerSummaryRequestResponse> Answer(
      const Credentials& c, const std::string& request_id,
      const v1::Record& record,
      const std::optional<v1::LegalBasis>& basis = std::nullopt);

  // Every log entry of these kinds, oldest first, read as the auditor.
  std::vector<v1::LogEntry> Log(const std::vector<v1::EntryKind>& kinds);
  size_t Denials();
  // Entries of the consent registry (recorded, refused, withdrawn) naming
  // `consent_id`.
  std::vector<v1::LogEntry> ConsentEntries(const std::string& consent_id);
  // Size of the whole log.
  uint64_t TreeSize();

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
  std::string OpenCase(const std::string& person, const std::string& key);

  Deployment deployment_;
  Credentials school_, social_, hospital_, police_, helpline_, dpo_;
  std::unique_ptr<BrokerProcess> broker_;
};

}  // namespace liaison::testing

#endif  // LIAISON_TESTS_COMMON_EXCHANGE_FIXTURE_H_
