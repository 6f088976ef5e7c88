// The disclosure log as an auditor uses it, over the real broker: signed
// tree heads checked with the key from the broker's data directory,
// inclusion and consistency proofs, queries and exports within the
// auditor's scope, subject access reports, manual disclosures, and
// `liaison-audit verify` catching every kind of tampering with an export
// (DESIGN.md section 8).
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "broker/log/merkle.h"
#include "broker/log/tree_head.h"
#include "liaison/v1/audit.grpc.pb.h"
#include "liaison/v1/exchange.grpc.pb.h"
#include "tests/common/example_referral.h"
#include "tests/integration/harness.h"

namespace liaison::testing {
namespace {

constexpr char kRegistry[] = R"pb(
  agencies {
    id: "st-olavs"
    sector: "health"
    area: "malmo"
    jurisdiction: "se"
    display_name: "St Olavs Hospital"
  }
  agencies {
    id: "malmo-sc"
    sector: "social_care"
    area: "malmo"
    jurisdiction: "se"
    display_name: "Malmo Social Services"
  }
  agencies {
    id: "rosengard-school"
    sector: "education"
    area: "malmo"
    jurisdiction: "se"
    display_name: "Rosengard School"
  }
  agencies {
    id: "oslo-police"
    sector: "police"
    area: "oslo"
    jurisdiction: "no"
    display_name: "Oslo Police"
  }
  auditors { id: "dpo" scope: "*" display_name: "Data Protection Officer" }
  auditors { id: "oslo-auditor" scope: "jurisdiction:no" }
  auditors { id: "school-auditor" scope: "agency:rosengard-school" }
)pb";

constexpr char kPerson[] = "20110304-1234";

class AuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    deployment_.WriteRegistry(kRegistry);
    school_ = deployment_.Issue(
        {"agency", "--sector=education", "--id=rosengard-school"});
    social_ =
        deployment_.Issue({"agency", "--sector=social_care", "--id=malmo-sc"});
    dpo_ = deployment_.Issue({"auditor", "--id=dpo"});
    StartBroker();
  }

  void StartBroker() {
    broker_ = std::make_unique<BrokerProcess>(
        deployment_, std::vector<std::string>{"--shutdown_grace_seconds=1"});
    ASSERT_GT(broker_->port(), 0) << broker_->Output();
  }

  std::shared_ptr<grpc::Channel> Channel(const Credentials& c) {
    return ChannelFor(*broker_, deployment_.ca_cert(), c);
  }

  // A referral from the school; `purpose` other than child_welfare is
  // denied (no agreement), which is logged too.
  grpc::Status SchoolSends(const std::string& key,
                           const std::string& purpose = "child_welfare",
                           const std::string& person = kPerson) {
    v1::SendReferralRequest r = SchoolAbsenceReferral("malmo-sc", person);
    r.set_idempotency_key(key);
    r.set_purpose(purpose);
    // The school's duty to report (SoL 14:1): no consent to record, so the
    // log holds the referrals alone. Consents are consent_test's.
    r.mutable_basis()->set_statutory_duty("se-sol-14-1");
    grpc::ClientContext ctx;
    v1::SendReferralResponse resp;
    return v1::Exchange::NewStub(Channel(school_))
        ->SendReferral(&ctx, r, &resp);
  }

  absl::StatusOr<v1::GetTreeHeadResponse> Head(const Credentials& c) {
    grpc::ClientContext ctx;
    v1::GetTreeHeadResponse resp;
    grpc::Status s = v1::Audit::NewStub(Channel(c))
                         ->GetTreeHead(&ctx, v1::GetTreeHeadRequest(), &resp);
    if (!s.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                          s.error_message());
    }
    return resp;
  }

  std::vector<v1::ExportedEntry> Export(const Credentials& c,
                                        const v1::ExportLogRequest& req,
                                        grpc::Status* status) {
    grpc::ClientContext ctx;
    auto reader = v1::Audit::NewStub(Channel(c))->ExportLog(&ctx, req);
    std::vector<v1::ExportedEntry> out;
    v1::ExportedEntry e;
    while (reader->Read(&e)) out.push_back(e);
    *status = reader->Finish();
    return out;
  }

  grpc::Status Query(const Credentials& c, const v1::QueryLogRequest& req,
                     v1::QueryLogResponse* resp) {
    grpc::ClientContext ctx;
    return v1::Audit::NewStub(Channel(c))->QueryLog(&ctx, req, resp);
  }

  // Runs the liaison command line as `c`.
  CommandResult Cli(const Credentials& c, std::vector<std::string> args) {
    return RunLiaison(*broker_, deployment_.ca_cert(), c, args);
  }

  CommandResult Verify(const std::string& export_path,
                       std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {
        BinaryPath("liaison-audit"), "verify", "--export=" + export_path,
        "--public_key=" + deployment_.data_dir() + "/log-signing.pub"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunCommand(argv);
  }

  std::string PinnedKey() {
    absl::StatusOr<std::string> key =
        ReadLogPublicKeyFile(deployment_.data_dir() + "/log-signing.pub");
    EXPECT_TRUE(key.ok()) << key.status();
    return key.ok() ? *key : "";
  }

  Deployment deployment_;
  Credentials school_, social_, dpo_;
  std::unique_ptr<BrokerProcess> broker_;
};

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

void WriteLines(const std::string& path,
                const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::trunc);
  for (const std::string& line : lines) out << line << "\n";
}

TEST_F(AuditTest, EveryDecisionIsUnderASignedHeadWithProofs) {
  absl::StatusOr<v1::GetTreeHeadResponse> empty = Head(dpo_);
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->tree_head().tree_size(), 0u);
  EXPECT_EQ(empty->tree_head().root_hash(), merkle::EmptyRoot());
  EXPECT_TRUE(VerifyTreeHead(empty->tree_head(), PinnedKey()).ok());

  ASSERT_TRUE(SchoolSends("a").ok());
  ASSERT_EQ(SchoolSends("b", "marketing").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  absl::StatusOr<v1::GetTreeHeadResponse> first = Head(dpo_);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->tree_head().tree_size(), 2u);
  EXPECT_EQ(first->public_key(), PinnedKey());
  ASSERT_TRUE(VerifyTreeHead(first->tree_head(), PinnedKey()).ok());

  for (int i = 0; i < 5; ++i) ASSERT_TRUE(SchoolSends(absl::StrCat(i)).ok());
  absl::StatusOr<v1::GetTreeHeadResponse> second = Head(dpo_);
  ASSERT_TRUE(second.ok());
  const v1::TreeHead& head = second->tree_head();
  ASSERT_EQ(head.tree_size(), 7u);
  ASSERT_TRUE(VerifyTreeHead(head, PinnedKey()).ok());

  // Every entry, with its proof, against the signed root. The export is
  // logged (an ACCESS entry after these), so it asks for the head's size.
  v1::ExportLogRequest req;
  req.set_with_proofs(true);
  req.set_tree_size(head.tree_size());
  grpc::Status status;
  std::vector<v1::ExportedEntry> entries = Export(dpo_, req, &status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(entries.size(), 7u);
  for (const v1::ExportedEntry& e : entries) {
    std::vector<std::string> proof(e.proof().hashes().begin(),
                                   e.proof().hashes().end());
    EXPECT_TRUE(merkle::VerifyInclusion(e.sequence(), head.tree_size(),
                                        merkle::LeafHash(e.leaf()), proof,
                                        head.root_hash())
                    .ok())
        << e.sequence();
    v1::LogEntry entry;
    ASSERT_TRUE(entry.ParseFromString(e.leaf()));
    EXPECT_EQ(entry.sequence(), e.sequence());
    // No raw identifier in the log: only its pseudonym.
    EXPECT_FALSE(absl::StrContains(e.leaf(), kPerson));
    EXPECT_EQ(entry.subject_pseudonym().size(), 64u);
  }
  v1::LogEntry denial;
  ASSERT_TRUE(denial.ParseFromString(entries[1].leaf()));
  EXPECT_EQ(denial.kind(), v1::ENTRY_KIND_DENIAL);
  EXPECT_FALSE(denial.allowed());
  EXPECT_EQ(denial.purpose(), "marketing");

  // The single-entry proof agrees. (Each read is logged, so the log has
  // grown since: the proofs ask for the head's size.)
  grpc::ClientContext ctx;
  v1::GetInclusionProofRequest ireq;
  ireq.set_sequence(3);
  ireq.set_tree_size(head.tree_size());
  v1::InclusionProof iproof;
  ASSERT_TRUE(v1::Audit::NewStub(Channel(dpo_))
                  ->GetInclusionProof(&ctx, ireq, &iproof)
                  .ok());
  EXPECT_EQ(iproof.tree_size(), 7u);
  EXPECT_EQ(iproof.hashes_size(), entries[3].proof().hashes_size());

  // The newer head extends the older one.
  grpc::ClientContext cctx;
  v1::GetConsistencyProofRequest creq;
  creq.set_first_size(2);
  creq.set_second_size(head.tree_size());
  v1::ConsistencyProof cproof;
  ASSERT_TRUE(v1::Audit::NewStub(Channel(dpo_))
                  ->GetConsistencyProof(&cctx, creq, &cproof)
                  .ok());
  std::vector<std::string> hashes(cproof.hashes().begin(),
                                  cproof.hashes().end());
  EXPECT_TRUE(merkle::VerifyConsistency(2, 7, first->tree_head().root_hash(),
                                        head.root_hash(), hashes)
                  .ok());

  // Out-of-range asks are refused with a reason.
  grpc::ClientContext bad;
  ireq.set_sequence(7);
  grpc::Status s =
      v1::Audit::NewStub(Channel(dpo_))->GetInclusionProof(&bad, ireq, &iproof);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  grpc::ClientContext beyond;
  ireq.set_sequence(0);
  ireq.set_tree_size(1000);
  s = v1::Audit::NewStub(Channel(dpo_))
          ->GetInclusionProof(&beyond, ireq, &iproof);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::OUT_OF_RANGE);

  // The export and the two proofs were logged; the refused asks were not.
  absl::StatusOr<v1::GetTreeHeadResponse> last = Head(dpo_);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->tree_head().tree_size(), 10u);

  // After a restart the log, its head and its key are the same.
  ASSERT_EQ(broker_->Stop(), 0);
  StartBroker();
  absl::StatusOr<v1::GetTreeHeadResponse> after = Head(dpo_);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->tree_head().tree_size(), 10u);
  EXPECT_EQ(after->tree_head().root_hash(), last->tree_head().root_hash());
  EXPECT_EQ(after->public_key(), PinnedKey());
}

TEST_F(AuditTest, AScopedAuditorSeesItsOwnReadsButNotAnothers) {
  ASSERT_TRUE(SchoolSends("1").ok());
  const Credentials school_auditor =
      deployment_.Issue({"auditor", "--id=school-auditor"});
  v1::QueryLogResponse ignored;
  ASSERT_TRUE(Query(dpo_, v1::QueryLogRequest(), &ignored).ok());
  ASSERT_TRUE(Query(school_auditor, v1::QueryLogRequest(), &ignored).ok());
  v1::QueryLogRequest accesses;
  accesses.mutable_filter()->add_kinds(v1::ENTRY_KIND_ACCESS);
  v1::QueryLogResponse seen;
  ASSERT_TRUE(Query(school_auditor, accesses, &seen).ok());
  ASSERT_EQ(seen.entries_size(), 1) << seen.ShortDebugString();
  EXPECT_EQ(seen.entries(0).actor(), "liaison://auditor/school-auditor");
  EXPECT_EQ(seen.entries(0).read_call(), "QueryLog");
  // The deployment-wide auditor sees both, and this query of the other's.
  v1::QueryLogResponse all;
  ASSERT_TRUE(Query(dpo_, accesses, &all).ok());
  EXPECT_EQ(all.entries_size(), 3) << all.ShortDebugString();
}

TEST_F(AuditTest, OnlyAuditorsMayCallAudit) {
  for (const Credentials* c : {&school_, &social_}) {
    EXPECT_EQ(Head(*c).status().code(), absl::StatusCode::kPermissionDenied);
    v1::QueryLogResponse resp;
    EXPECT_EQ(Query(*c, v1::QueryLogRequest(), &resp).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
    grpc::Status status;
    Export(*c, v1::ExportLogRequest(), &status);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  CommandResult cli = Cli(school_, {"audit", "tree-head"});
  EXPECT_EQ(cli.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(cli.err, "PERMISSION_DENIED")) << cli.err;
}

TEST_F(AuditTest, AuditorsSeeOnlyTheirScope) {
  ASSERT_TRUE(SchoolSends("a").ok());
  ASSERT_TRUE(SchoolSends("b", "child_welfare", "19991231-0000").ok());
  Credentials oslo = deployment_.Issue({"auditor", "--id=oslo-auditor"});
  Credentials school_auditor =
      deployment_.Issue({"auditor", "--id=school-auditor"});

  v1::QueryLogResponse all;
  ASSERT_TRUE(Query(dpo_, v1::QueryLogRequest(), &all).ok());
  EXPECT_EQ(all.entries_size(), 2);

  // Another jurisdiction sees nothing of it, by any route.
  v1::QueryLogResponse none;
  ASSERT_TRUE(Query(oslo, v1::QueryLogRequest(), &none).ok());
  EXPECT_EQ(none.entries_size(), 0);
  // Its export holds its own reads alone (the query above, the export).
  grpc::Status status;
  std::vector<v1::ExportedEntry> exported =
      Export(oslo, v1::ExportLogRequest(), &status);
  EXPECT_TRUE(status.ok());
  EXPECT_EQ(exported.size(), 2u);
  for (const v1::ExportedEntry& e : exported) {
    v1::LogEntry entry;
    ASSERT_TRUE(entry.ParseFromString(e.leaf()));
    EXPECT_EQ(entry.kind(), v1::ENTRY_KIND_ACCESS);
    EXPECT_EQ(entry.actor(), "liaison://auditor/oslo-auditor");
  }
  grpc::ClientContext ctx;
  v1::SubjectAccessReportRequest sar;
  sar.mutable_subject()->set_identifier(kPerson);
  v1::SubjectAccessReportResponse report;
  ASSERT_TRUE(v1::Audit::NewStub(Channel(oslo))
                  ->SubjectAccessReport(&ctx, sar, &report)
                  .ok());
  EXPECT_EQ(report.lines_size(), 0);

  // The school's own auditor sees the school's disclosures.
  v1::QueryLogResponse mine;
  ASSERT_TRUE(Query(school_auditor, v1::QueryLogRequest(), &mine).ok());
  EXPECT_EQ(mine.entries_size(), 2);
  // A filter cannot widen a scope.
  v1::QueryLogRequest widen;
  widen.mutable_filter()->set_agency_id("rosengard-school");
  ASSERT_TRUE(Query(oslo, widen, &none).ok());
  EXPECT_EQ(none.entries_size(), 0);
}

TEST_F(AuditTest, QueriesFilterAndPage) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(SchoolSends(absl::StrCat(i)).ok());
  ASSERT_FALSE(SchoolSends("d", "marketing").ok());
  ASSERT_TRUE(SchoolSends("other", "child_welfare", "19991231-0000").ok());

  v1::QueryLogRequest req;
  req.set_page_size(2);
  req.mutable_filter()->set_subject_identifier("2011 0304-1234");  // same
  req.mutable_filter()->set_decision(v1::LogFilter::DECISION_ALLOWED);
  std::vector<uint64_t> seen;
  for (int page = 0; page < 10; ++page) {
    v1::QueryLogResponse resp;
    ASSERT_TRUE(Query(dpo_, req, &resp).ok());
    for (const v1::LogEntry& e : resp.entries()) seen.push_back(e.sequence());
    if (resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
  }
  EXPECT_EQ(seen, (std::vector<uint64_t>{0, 1, 2, 3, 4}));

  v1::QueryLogRequest denied;
  denied.mutable_filter()->add_kinds(v1::ENTRY_KIND_DENIAL);
  v1::QueryLogResponse resp;
  ASSERT_TRUE(Query(dpo_, denied, &resp).ok());
  ASSERT_EQ(resp.entries_size(), 1);
  EXPECT_EQ(resp.entries(0).sequence(), 5u);

  // A token is for its own filter only, and bad asks are refused.
  v1::QueryLogRequest first;
  first.set_page_size(1);
  ASSERT_TRUE(Query(dpo_, first, &resp).ok());
  ASSERT_FALSE(resp.next_page_token().empty());
  v1::QueryLogRequest swapped = denied;
  swapped.set_page_token(resp.next_page_token());
  grpc::Status s = Query(dpo_, swapped, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "another filter"));
  v1::QueryLogRequest big;
  big.set_page_size(5000);
  EXPECT_EQ(Query(dpo_, big, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  v1::QueryLogRequest backwards;
  backwards.mutable_filter()->mutable_from()->set_seconds(2000000000);
  backwards.mutable_filter()->mutable_until()->set_seconds(1000000000);
  EXPECT_EQ(Query(dpo_, backwards, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  v1::QueryLogRequest junk;
  junk.set_page_token("not-a-token");
  EXPECT_EQ(Query(dpo_, junk, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(AuditTest, SubjectAccessReportAndManualDisclosures) {
  ASSERT_TRUE(SchoolSends("a").ok());
  ASSERT_FALSE(SchoolSends("b", "marketing").ok());  // denied: not reported

  // A case conference, recorded afterwards by social care.
  const std::string file = MakeTempDir("manual") + "/conference.textproto";
  WriteLines(file,
             {R"(recipient_agency_id: "rosengard-school")",
              R"(subject { identifier: "201103041234" })",
              R"(purpose: "child_welfare")", "level: LEVEL_CATEGORY",
              R"(basis { statutory_duty: "sol-14-1" })",
              R"(channel: "case conference")",
              absl::StrCat("disclosed_at { seconds: ",
                           absl::ToUnixSeconds(absl::Now()) - 3600, " }")});
  CommandResult recorded = Cli(social_, {"manual-disclosure", file});
  ASSERT_EQ(recorded.exit_code, 0) << recorded.err;
  EXPECT_TRUE(absl::StrContains(recorded.out, "log sequence:    2"))
      << recorded.out;
  // The same file again is a retry, not a second disclosure.
  recorded = Cli(social_, {"manual-disclosure", file});
  ASSERT_EQ(recorded.exit_code, 0) << recorded.err;
  EXPECT_TRUE(absl::StrContains(recorded.out, "log sequence:    2"));

  // Bad manual disclosures change nothing.
  const std::string bad = MakeTempDir("manual") + "/bad.textproto";
  WriteLines(bad, {R"(recipient_agency_id: "nowhere")",
                   R"(subject { identifier: "1" })", R"(purpose: "x")",
                   "level: LEVEL_SUMMARY", R"(basis { consent_id: "c" })",
                   "disclosed_at { seconds: 1 }"});
  CommandResult refused = Cli(social_, {"manual-disclosure", bad});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(refused.err, "NOT_FOUND")) << refused.err;
  WriteLines(bad, {R"(recipient_agency_id: "rosengard-school")",
                   R"(subject { identifier: "1" })", R"(purpose: "x")",
                   "level: LEVEL_NONE", R"(basis { consent_id: "c" })",
                   "disclosed_at { seconds: 99999999999 }"});
  refused = Cli(social_, {"manual-disclosure", bad});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(refused.err, "level must be")) << refused.err;
  EXPECT_TRUE(absl::StrContains(refused.err, "in the future")) << refused.err;
  absl::StatusOr<v1::GetTreeHeadResponse> head = Head(dpo_);
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->tree_head().tree_size(), 3u);

  CommandResult report = Cli(dpo_, {"audit", "report", kPerson});
  ASSERT_EQ(report.exit_code, 0) << report.err;
  EXPECT_TRUE(absl::StrContains(
      report.out,
      "Rosengard School shared a short summary written for sharing with "
      "Malmo Social Services for child welfare, because the law requires "
      "it."))
      << report.out;
  EXPECT_TRUE(absl::StrContains(report.out,
                                "Malmo Social Services shared "
                                "the kind of concern"))
      << report.out;
  EXPECT_TRUE(absl::StrContains(report.out, "outside this system"));
  EXPECT_TRUE(absl::StrContains(report.out, "2 disclosures")) << report.out;
  EXPECT_FALSE(absl::StrContains(report.out, "marketing"));

  CommandResult manual =
      Cli(dpo_, {"audit", "query", "--kind=manual_disclosure"});
  ASSERT_EQ(manual.exit_code, 0) << manual.err;
  EXPECT_TRUE(absl::StrContains(manual.out, "#2")) << manual.out;
  EXPECT_TRUE(absl::StrContains(manual.out, "case conference"));
}

TEST_F(AuditTest, OverrideReviewsRefuseWhatIsNotAnOverride) {
  ASSERT_TRUE(SchoolSends("a").ok());
  grpc::ClientContext ctx;
  v1::ReviewOverrideRequest req;
  req.set_log_sequence(0);  // a disclosure under a statutory duty
  req.set_outcome(v1::OverrideReview::OUTCOME_JUSTIFIED);
  v1::ReviewOverrideResponse resp;
  grpc::Status s =
      v1::Audit::NewStub(Channel(dpo_))->ReviewOverride(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  grpc::ClientContext ctx2;
  req.set_outcome(v1::OverrideReview::OUTCOME_NOT_JUSTIFIED);
  s = v1::Audit::NewStub(Channel(dpo_))->ReviewOverride(&ctx2, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "comment is required"));
  CommandResult list = Cli(dpo_, {"audit", "overrides"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_TRUE(absl::StrContains(list.out, "0 overrides"));
  absl::StatusOr<v1::GetTreeHeadResponse> head = Head(dpo_);
  ASSERT_TRUE(head.ok());
  // The refused reviews logged nothing; the listing logged its read.
  EXPECT_EQ(head->tree_head().tree_size(), 2u);
}

TEST_F(AuditTest, VerifyCatchesEveryTampering) {
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(SchoolSends(absl::StrCat(i)).ok());
  const std::string dir = MakeTempDir("export");
  const std::string old_head = dir + "/head-6.json";
  CommandResult saved = Cli(dpo_, {"audit", "tree-head", "--out=" + old_head});
  ASSERT_EQ(saved.exit_code, 0) << saved.err;
  const std::string old_export = dir + "/log-6.jsonl";
  ASSERT_EQ(Cli(dpo_, {"audit", "export", "--out=" + old_export}).exit_code, 0);
  for (int i = 6; i < 9; ++i) ASSERT_TRUE(SchoolSends(absl::StrCat(i)).ok());
  const std::string path = dir + "/log.jsonl";
  CommandResult exported = Cli(dpo_, {"audit", "export", "--out=" + path});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  // 9 disclosures and the ACCESS entry of the first export.
  EXPECT_TRUE(absl::StrContains(exported.out, "exported:  10 entries"))
      << exported.out;
  const std::string new_head = dir + "/head-9.json";
  ASSERT_EQ(Cli(dpo_, {"audit", "tree-head", "--out=" + new_head}).exit_code,
            0);

  CommandResult good = Verify(path, {"--known_head=" + old_head});
  ASSERT_EQ(good.exit_code, 0) << good.err << good.out;
  EXPECT_TRUE(absl::StrContains(good.out, "10 entries")) << good.out;
  CommandResult consistent =
      Cli(dpo_, {"audit", "consistency", "--old=" + old_head});
  EXPECT_EQ(consistent.exit_code, 0) << consistent.err;
  CommandResult prove = Cli(dpo_, {"audit", "prove", "4"});
  EXPECT_EQ(prove.exit_code, 0) << prove.err;
  EXPECT_TRUE(absl::StrContains(prove.out, "included:  yes")) << prove.out;

  const std::vector<std::string> lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 11u);  // header + 10 entries
  struct Tamper {
    const char* what;
    std::function<std::vector<std::string>(std::vector<std::string>)> edit;
    const char* first_bad;  // must appear in the report
  };
  const std::vector<Tamper> tampers = {
      {"edited entry",
       [](std::vector<std::string> l) {
         // Change the readable copy of entry 3 (its purpose).
         const size_t at = l[4].find("child_welfare");
         l[4].replace(at, 13, "child_wellbe");
         return l;
       },
       "sequence 3"},
      {"deleted entry",
       [](std::vector<std::string> l) {
         l.erase(l.begin() + 6);  // sequence 5
         return l;
       },
       "sequence 5"},
      {"reordered entries",
       [](std::vector<std::string> l) {
         std::swap(l[3], l[4]);  // sequences 2 and 3
         return l;
       },
       "sequence 2"},
      {"inserted entry",
       [](std::vector<std::string> l) {
         l.insert(l.begin() + 8, l[7]);  // a copy of 6 after 6
         return l;
       },
       "sequence 6"},
  };
  for (const Tamper& t : tampers) {
    const std::string bad = dir + "/tampered.jsonl";
    WriteLines(bad, t.edit(lines));
    CommandResult r = Verify(bad);
    EXPECT_EQ(r.exit_code, 1) << t.what << "\n" << r.out;
    EXPECT_TRUE(absl::StrContains(r.err, t.first_bad))
        << t.what << ": " << r.err;
  }
  // A flipped byte inside a leaf changes the root.
  {
    std::vector<std::string> l = lines;
    const size_t at = l[5].find("\"leaf\":\"") + 12;
    l[5][at] = l[5][at] == 'A' ? 'B' : 'A';
    WriteLines(dir + "/flipped.jsonl", l);
    CommandResult r = Verify(dir + "/flipped.jsonl");
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_TRUE(absl::StrContains(r.err, "sequence 4")) << r.err;
  }
  // The older, genuine export with its genuine older head verifies on its
  // own, but not against the newer head the auditor kept: truncated.
  EXPECT_EQ(Verify(old_export).exit_code, 0);
  CommandResult truncated = Verify(old_export, {"--known_head=" + new_head});
  EXPECT_EQ(truncated.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(truncated.err, "sequence 6")) << truncated.err;
  // Another key does not vouch for the broker's heads.
  const std::string stranger = dir + "/stranger.pub";
  absl::StatusOr<LogSigner> other =
      LogSigner::LoadOrCreate(dir + "/stranger.key", stranger);
  ASSERT_TRUE(other.ok());
  CommandResult wrong_key =
      RunCommand({BinaryPath("liaison-audit"), "verify", "--export=" + path,
                  "--public_key=" + stranger});
  EXPECT_EQ(wrong_key.exit_code, 1) << wrong_key.out;
}

}  // namespace
}  // namespace liaison::testing
