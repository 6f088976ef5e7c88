// Every look is accounted for (DESIGN.md rule 10), over the real broker:
// an agency opening a referral, a case or a consent, and every auditor's
// query, export, report, override listing and proof, is an ACCESS entry in
// the disclosure log naming the reader and what was read, appended before
// the answer is released. A read that finds nothing logs nothing; no entry
// holds the subject's identifier; the subject access report lists who
// looked.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "liaison/v1/audit.grpc.pb.h"
#include "liaison/v1/exchange.grpc.pb.h"
#include "tests/common/exchange_fixture.h"

namespace liaison::testing {
namespace {

class AccessTest : public ExchangeTest {
 protected:
  // The ACCESS entries, read as the auditor (which logs one more).
  std::vector<v1::LogEntry> Accesses() { return Log({v1::ENTRY_KIND_ACCESS}); }

  // The ACCESS entries by `actor_suffix` (e.g. "/social") for `call`.
  std::vector<v1::LogEntry> AccessesBy(const std::string& actor_suffix,
                                       const std::string& call) {
    std::vector<v1::LogEntry> out;
    for (const v1::LogEntry& e : Accesses()) {
      if (absl::EndsWith(e.actor(), actor_suffix) && e.read_call() == call) {
        out.push_back(e);
      }
    }
    return out;
  }

  grpc::Status GetReferral(const Credentials& c, const std::string& id,
                           v1::Referral* out) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("liaison-professional-id", "prof-17");
    v1::GetReferralRequest req;
    req.set_referral_id(id);
    return Stub(c)->GetReferral(&ctx, req, out);
  }

  grpc::Status GetCase(const Credentials& c, const std::string& id) {
    grpc::ClientContext ctx;
    v1::GetCaseRequest req;
    req.set_case_id(id);
    v1::Case out;
    return Stub(c)->GetCase(&ctx, req, &out);
  }

  std::unique_ptr<v1::Audit::Stub> Audit() {
    return v1::Audit::NewStub(Channel(dpo_));
  }

  // The pseudonym the log knows `person` by, from their consent's entry.
  std::string PseudonymOf(const std::string& consent_id) {
    std::vector<v1::LogEntry> entries = ConsentEntries(consent_id);
    return entries.empty() ? "" : entries.front().subject_pseudonym();
  }

  // No entry carries the person's identifier in any form.
  void ExpectNoIdentifier(const std::vector<v1::LogEntry>& entries,
                          const std::string& person) {
    for (const v1::LogEntry& e : entries) {
      const std::string bytes = e.SerializeAsString();
      EXPECT_FALSE(absl::StrContains(bytes, person)) << e.ShortDebugString();
      EXPECT_FALSE(absl::StrContains(bytes, Normalised(person)))
          << e.ShortDebugString();
    }
  }
};

TEST_F(AccessTest, AnAgencyOpeningAReferralACaseOrAConsentIsLogged) {
  const std::string person = Person(1);
  const std::string consent = MustRecord(school_, SubjectConsent(person));
  absl::StatusOr<v1::SendReferralResponse> sent =
      Send(school_, SchoolReferral("access-1", person, ConsentBasis(consent)));
  ASSERT_TRUE(sent.ok()) << sent.status();
  const std::string pseudonym = PseudonymOf(consent);
  ASSERT_EQ(pseudonym.size(), 64u);

  const uint64_t before = TreeSize();
  v1::Referral as_recipient, as_sender;
  ASSERT_TRUE(GetReferral(social_, sent->referral_id(), &as_recipient).ok());
  ASSERT_TRUE(GetReferral(school_, sent->referral_id(), &as_sender).ok());
  ASSERT_TRUE(GetCase(social_, sent->case_id()).ok());
  ASSERT_TRUE(GetAs(school_, consent).ok());
  // One entry per read, each in the log before its answer came back.
  EXPECT_EQ(TreeSize(), before + 4);

  std::vector<v1::LogEntry> by_social = AccessesBy("/social", "GetReferral");
  ASSERT_EQ(by_social.size(), 1u);
  const v1::LogEntry& opened = by_social[0];
  EXPECT_EQ(opened.kind(), v1::ENTRY_KIND_ACCESS);
  EXPECT_EQ(opened.actor(), "liaison://agency/social_care/social");
  EXPECT_EQ(opened.professional().id(), "prof-17");
  EXPECT_EQ(opened.counterpart(), "school");  // whose content it was
  EXPECT_EQ(opened.message_id(), sent->referral_id());
  EXPECT_EQ(opened.case_id(), sent->case_id());
  EXPECT_EQ(opened.subject_pseudonym(), pseudonym);
  EXPECT_TRUE(opened.allowed());
  EXPECT_EQ(opened.level(), v1::LEVEL_NONE);
  EXPECT_EQ(opened.payload_digest(), "");

  std::vector<v1::LogEntry> by_school = AccessesBy("/school", "GetReferral");
  ASSERT_EQ(by_school.size(), 1u);
  EXPECT_EQ(by_school[0].counterpart(), "social");
  EXPECT_EQ(by_school[0].subject_pseudonym(), pseudonym);

  std::vector<v1::LogEntry> cases = AccessesBy("/social", "GetCase");
  ASSERT_EQ(cases.size(), 1u);
  EXPECT_EQ(cases[0].case_id(), sent->case_id());
  EXPECT_EQ(cases[0].subject_pseudonym(), pseudonym);
  EXPECT_EQ(cases[0].counterpart(), "");  // social manages the case

  std::vector<v1::LogEntry> consents = AccessesBy("/school", "GetConsent");
  ASSERT_EQ(consents.size(), 1u);
  EXPECT_EQ(consents[0].consent_id(), consent);
  EXPECT_EQ(consents[0].subject_pseudonym(), pseudonym);

  ExpectNoIdentifier(Accesses(), person);
}

TEST_F(AccessTest, AReadThatFindsNothingLogsNothing) {
  const std::string person = Person(2);
  const std::string consent = MustRecord(school_, SubjectConsent(person));
  absl::StatusOr<v1::SendReferralResponse> sent =
      Send(school_, SchoolReferral("access-2", person, ConsentBasis(consent)));
  ASSERT_TRUE(sent.ok()) << sent.status();

  const uint64_t before = TreeSize();
  v1::Referral r;
  EXPECT_EQ(GetReferral(social_, "ref-unknown", &r).error_code(),
            grpc::StatusCode::NOT_FOUND);
  // Not a party to the referral, the case or the consent.
  EXPECT_EQ(GetReferral(police_, sent->referral_id(), &r).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetCase(police_, sent->case_id()).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetAs(police_, consent).status().code(),
            absl::StatusCode::kNotFound);
  // An auditor's call refused for its input reads nothing either.
  grpc::ClientContext ctx;
  v1::GetInclusionProofRequest proof;
  proof.set_sequence(1000000);
  v1::InclusionProof out;
  EXPECT_EQ(Audit()->GetInclusionProof(&ctx, proof, &out).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(TreeSize(), before);
}

TEST_F(AccessTest, EveryAuditorsReadIsLoggedOnceWithItsFilter) {
  const std::string person = Person(3);
  const std::string consent = MustRecord(school_, SubjectConsent(person));
  ASSERT_TRUE(
      Send(school_, SchoolReferral("access-3", person, ConsentBasis(consent)))
          .ok());
  const std::string pseudonym = PseudonymOf(consent);
  auto audit = Audit();

  {
    grpc::ClientContext ctx;
    v1::QueryLogRequest q;
    q.mutable_filter()->set_subject_identifier(person);
    q.mutable_filter()->set_agency_id("school");
    q.mutable_filter()->add_kinds(v1::ENTRY_KIND_DISCLOSURE);
    q.mutable_filter()->set_decision(v1::LogFilter::DECISION_ALLOWED);
    v1::QueryLogResponse resp;
    ASSERT_TRUE(audit->QueryLog(&ctx, q, &resp).ok());
    EXPECT_EQ(resp.entries_size(), 1);
  }
  {
    grpc::ClientContext ctx;
    v1::ExportLogRequest req;
    req.set_with_proofs(true);
    auto reader = audit->ExportLog(&ctx, req);
    v1::ExportedEntry e;
    int n = 0;
    while (reader->Read(&e)) ++n;
    ASSERT_TRUE(reader->Finish().ok());
    EXPECT_GT(n, 0);
  }
  {
    grpc::ClientContext ctx;
    v1::GetInclusionProofRequest req;
    req.set_sequence(0);
    v1::InclusionProof out;
    ASSERT_TRUE(audit->GetInclusionProof(&ctx, req, &out).ok());
  }
  {
    grpc::ClientContext ctx;
    v1::GetConsistencyProofRequest req;
    req.set_first_size(1);
    v1::ConsistencyProof out;
    ASSERT_TRUE(audit->GetConsistencyProof(&ctx, req, &out).ok());
  }
  {
    grpc::ClientContext ctx;
    v1::ListOverrideReviewsRequest req;
    req.set_include_reviewed(true);
    v1::ListOverrideReviewsResponse out;
    ASSERT_TRUE(audit->ListOverrideReviews(&ctx, req, &out).ok());
  }
  {
    grpc::ClientContext ctx;
    v1::SubjectAccessReportRequest req;
    req.mutable_subject()->set_identifier(person);
    v1::SubjectAccessReportResponse out;
    ASSERT_TRUE(audit->SubjectAccessReport(&ctx, req, &out).ok());
  }

  {
    // An identifier typed into the agency field never reaches the log.
    grpc::ClientContext ctx;
    v1::QueryLogRequest q;
    q.mutable_filter()->set_agency_id(person);
    v1::QueryLogResponse resp;
    ASSERT_TRUE(audit->QueryLog(&ctx, q, &resp).ok());
    EXPECT_EQ(resp.entries_size(), 0);
  }

  std::map<std::string, std::vector<v1::LogEntry>> by_call;
  const std::vector<v1::LogEntry> accesses = Accesses();
  for (const v1::LogEntry& e : accesses) {
    if (e.actor() == "liaison://auditor/dpo")
      by_call[e.read_call()].push_back(e);
  }
  for (const char* call :
       {"ExportLog", "GetInclusionProof", "GetConsistencyProof",
        "ListOverrideReviews", "SubjectAccessReport"}) {
    EXPECT_EQ(by_call[call].size(), 1u) << call;
  }
  // The fixture's own queries (Log) are QueryLog calls too: find ours.
  std::vector<v1::LogEntry> ours;
  for (const v1::LogEntry& e : by_call["QueryLog"]) {
    if (e.counterpart() == "school") ours.push_back(e);
  }
  ASSERT_EQ(ours.size(), 1u);
  bool unregistered = false;
  for (const v1::LogEntry& e : by_call["QueryLog"]) {
    unregistered |= e.read_filter() == "agency_id=unregistered";
  }
  EXPECT_TRUE(unregistered);
  EXPECT_EQ(ours[0].read_filter(),
            "subject agency_id=school kinds=DISCLOSURE decision=ALLOWED");
  EXPECT_EQ(ours[0].subject_pseudonym(), pseudonym);
  EXPECT_EQ(by_call["SubjectAccessReport"][0].subject_pseudonym(), pseudonym);
  EXPECT_EQ(by_call["ExportLog"][0].read_filter(), "with_proofs");
  EXPECT_EQ(by_call["GetInclusionProof"][0].read_filter(),
            "sequence=0 tree_size=0");
  EXPECT_EQ(by_call["ListOverrideReviews"][0].read_filter(),
            "include_reviewed");
  ExpectNoIdentifier(accesses, person);

  // Reading the log logs one entry per call, not one per entry read: the
  // query above read every ACCESS entry and added one.
  const uint64_t before = TreeSize();
  Accesses();
  EXPECT_EQ(TreeSize(), before + 1);
}

TEST_F(AccessTest, TheSubjectAccessReportListsWhoLooked) {
  const std::string person = Person(4);
  const std::string consent = MustRecord(school_, SubjectConsent(person));
  absl::StatusOr<v1::SendReferralResponse> sent =
      Send(school_, SchoolReferral("access-4", person, ConsentBasis(consent)));
  ASSERT_TRUE(sent.ok()) << sent.status();
  v1::Referral r;
  ASSERT_TRUE(GetReferral(social_, sent->referral_id(), &r).ok());
  // Someone else's look does not appear in this person's report.
  const std::string other = MustRecord(school_, SubjectConsent(Person(5)));
  ASSERT_TRUE(GetAs(school_, other).ok());

  grpc::ClientContext ctx;
  v1::SubjectAccessReportRequest req;
  req.mutable_subject()->set_identifier(person);
  v1::SubjectAccessReportResponse report;
  ASSERT_TRUE(Audit()->SubjectAccessReport(&ctx, req, &report).ok());
  EXPECT_EQ(report.lines_size(), 1);
  ASSERT_EQ(report.looks_size(), 2);
  EXPECT_EQ(report.looks(0).by(), "social");
  EXPECT_EQ(report.looks(0).call(), "GetReferral");
  EXPECT_TRUE(absl::StrContains(report.looks(0).explanation(),
                                "social opened a referral about you"))
      << report.looks(0).explanation();
  // The report is logged before it is made, so it lists itself.
  EXPECT_EQ(report.looks(1).by(), "an auditor (dpo)");
  EXPECT_EQ(report.looks(1).call(), "SubjectAccessReport");

  CommandResult cli = RunLiaison(*broker_, deployment_.ca_cert(), dpo_,
                                 {"audit", "report", person});
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  EXPECT_TRUE(absl::StrContains(cli.out, "Who looked")) << cli.out;
  EXPECT_TRUE(absl::StrContains(cli.out, "social opened a referral about you"))
      << cli.out;
  EXPECT_TRUE(absl::StrContains(cli.out, "1 disclosures and 3 looks"))
      << cli.out;

  CommandResult query = RunLiaison(*broker_, deployment_.ca_cert(), dpo_,
                                   {"audit", "query", "--kind=access"});
  ASSERT_EQ(query.exit_code, 0) << query.err;
  EXPECT_TRUE(absl::StrContains(
      query.out, absl::StrCat("read GetReferral ", sent->case_id(), " ",
                              sent->referral_id())))
      << query.out;
  EXPECT_TRUE(absl::StrContains(query.out, "read SubjectAccessReport"))
      << query.out;
}

}  // namespace
}  // namespace liaison::testing
