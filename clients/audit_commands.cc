#include "clients/audit_commands.h"

#include <google/protobuf/util/json_util.h>

#include <fstream>
#include <map>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "broker/basics/files.h"
#include "broker/basics/request_file.h"
#include "broker/basics/time_format.h"
#include "broker/log/merkle.h"
#include "broker/log/message_util.h"
#include "broker/log/tree_head.h"
#include "broker/log/verify.h"
#include "clients/exchange_text.h"
#include "liaison/v1/audit.grpc.pb.h"
#include "liaison/v1/exchange.grpc.pb.h"

ABSL_DECLARE_FLAG(std::string, idempotency_key);

ABSL_FLAG(std::string, subject, "",
          "audit query/export: entries about this person's identifier.");
ABSL_FLAG(std::string, agency, "",
          "audit query/export: entries where this agency acted or received.");
ABSL_FLAG(std::string, sector, "",
          "audit query/export: entries where an agency of this sector acted "
          "or received.");
ABSL_FLAG(std::string, kind, "",
          "audit query/export: entry kinds, comma-separated, e.g. "
          "disclosure,denial,override; access for who read what.");
ABSL_FLAG(std::string, basis, "",
          "audit query/export: bases, comma-separated: consent, override, "
          "statutory_duty.");
ABSL_FLAG(std::string, decision, "any",
          "audit query/export: any, allowed or denied.");
ABSL_FLAG(std::string, from, "",
          "audit query/export: entries at or after this RFC 3339 time.");
ABSL_FLAG(std::string, until, "",
          "audit query/export: entries before this RFC 3339 time.");
ABSL_FLAG(int, page_size, 100, "audit query: entries per page (at most 1000).");
ABSL_FLAG(bool, all, false, "audit query: follow every page to the end.");
ABSL_FLAG(bool, json, false,
          "audit query: print entries as JSON Lines instead of text.");
ABSL_FLAG(std::string, out, "",
          "audit export: the JSON Lines file to write; audit tree-head: also "
          "save the head (with the key) to this file for later checks.");
ABSL_FLAG(std::string, old, "",
          "audit consistency: a head saved earlier with `audit tree-head "
          "--out`.");
ABSL_FLAG(std::string, public_key, "",
          "audit prove/consistency: the broker's log key you trust (its "
          "log-signing.pub); default: the key the broker reports.");
ABSL_FLAG(bool, include_reviewed, false,
          "audit overrides: also list overrides already reviewed.");
ABSL_FLAG(std::string, comment, "",
          "audit review: your reasoning; required unless the outcome is "
          "justified.");

namespace liaison::cli {
namespace {

using google::protobuf::util::JsonPrintOptions;

constexpr char kUsageName[] = "audit";

std::string Hex(const std::string& bytes) {
  return absl::BytesToHexString(bytes);
}

std::string EnumWord(const std::string& name, absl::string_view prefix) {
  return absl::AsciiStrToLower(name.substr(prefix.size()));
}

std::string HeadLine(const v1::TreeHead& head) {
  return absl::StrCat(head.tree_size(), " entries, root ",
                      Hex(head.root_hash()), ", signed ",
                      Rfc3339(TimeOf(head.time())), " by key ", head.key_id());
}

std::string JsonOf(const google::protobuf::Message& m) {
  JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(m, &out, options).ok()) {
    return "{}";
  }
  return out;
}

// One line per entry, for a person to scan.
std::string DescribeEntry(const v1::LogEntry& e) {
  std::string line = absl::StrCat(
      "#", e.sequence(), "  ", Rfc3339(TimeOf(e.time())), "  ",
      EnumWord(v1::EntryKind_Name(e.kind()), "ENTRY_KIND_"), "  ", e.actor());
  if (!e.counterpart().empty()) absl::StrAppend(&line, " -> ", e.counterpart());
  if (e.level() != v1::LEVEL_NONE) {
    absl::StrAppend(&line, "  level ", client::LevelName(e.level()));
  }
  if (e.basis() != v1::BASIS_KIND_UNSPECIFIED) {
    absl::StrAppend(&line, "  basis ",
                    EnumWord(v1::BasisKind_Name(e.basis()), "BASIS_KIND_"));
  }
  if (!e.purpose().empty()) absl::StrAppend(&line, "  purpose ", e.purpose());
  if (!e.read_call().empty()) absl::StrAppend(&line, "  read ", e.read_call());
  for (const std::string* id :
       {&e.case_id(), &e.message_id(), &e.consent_id()}) {
    if ((e.kind() == v1::ENTRY_KIND_ACCESS ||
         e.kind() == v1::ENTRY_KIND_CASE_CLOSED ||
         e.kind() == v1::ENTRY_KIND_CASE_DETACHED ||
         e.kind() == v1::ENTRY_KIND_REFERRAL_WITHDRAWN ||
         e.kind() == v1::ENTRY_KIND_REFERRAL_RECALLED) &&
        !id->empty()) {
      absl::StrAppend(&line, " ", *id);
    }
  }
  if (!e.read_filter().empty()) {
    absl::StrAppend(&line, " [", e.read_filter(), "]");
  }
  if (!e.allowed()) absl::StrAppend(&line, "  DENIED");
  if (!e.reason().empty()) absl::StrAppend(&line, "  (", e.reason(), ")");
  return line;
}

template <typename Enum>
absl::Status ParseEnumList(const std::string& list, absl::string_view prefix,
                           bool (*parse)(const std::string&, Enum*),
                           std::vector<Enum>* out) {
  for (absl::string_view word :
       absl::StrSplit(list, ',', absl::SkipWhitespace())) {
    Enum value;
    const std::string name = absl::StrCat(
        prefix, absl::AsciiStrToUpper(absl::StripAsciiWhitespace(word)));
    if (!parse(name, &value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", word, "\" is not one of the names for ", prefix));
    }
    out->push_back(value);
  }
  return absl::OkStatus();
}

// Sets `out` from an RFC 3339 flag value; leaves it unset when empty.
absl::Status ParseTimeFlag(const std::string& value, const char* flag,
                           google::protobuf::Timestamp* (v1::LogFilter::*out)(),
                           v1::LogFilter* filter) {
  if (value.empty()) return absl::OkStatus();
  absl::Time t;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, value, &t, &error)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, "=", value,
                     " is not an RFC 3339 time such as 2026-11-22T09:00:00Z"));
  }
  SetTime((filter->*out)(), t);
  return absl::OkStatus();
}

absl::StatusOr<v1::LogFilter> FilterFromFlags() {
  v1::LogFilter filter;
  filter.set_subject_identifier(absl::GetFlag(FLAGS_subject));
  filter.set_agency_id(absl::GetFlag(FLAGS_agency));
  filter.set_sector(absl::GetFlag(FLAGS_sector));
  std::vector<v1::EntryKind> kinds;
  RETURN_IF_ERROR(ParseEnumList<v1::EntryKind>(
      absl::GetFlag(FLAGS_kind), "ENTRY_KIND_", &v1::EntryKind_Parse, &kinds));
  for (v1::EntryKind k : kinds) filter.add_kinds(k);
  std::vector<v1::BasisKind> bases;
  RETURN_IF_ERROR(ParseEnumList<v1::BasisKind>(
      absl::GetFlag(FLAGS_basis), "BASIS_KIND_", &v1::BasisKind_Parse, &bases));
  for (v1::BasisKind b : bases) filter.add_bases(b);
  const std::string decision = absl::GetFlag(FLAGS_decision);
  if (decision == "allowed") {
    filter.set_decision(v1::LogFilter::DECISION_ALLOWED);
  } else if (decision == "denied") {
    filter.set_decision(v1::LogFilter::DECISION_DENIED);
  } else if (decision != "any") {
    return absl::InvalidArgumentError(
        "--decision must be any, allowed or denied");
  }
  RETURN_IF_ERROR(ParseTimeFlag(absl::GetFlag(FLAGS_from), "from",
                                &v1::LogFilter::mutable_from, &filter));
  RETURN_IF_ERROR(ParseTimeFlag(absl::GetFlag(FLAGS_until), "until",
                                &v1::LogFilter::mutable_until, &filter));
  return filter;
}

bool FilterIsEmpty(const v1::LogFilter& filter) {
  return filter.ByteSizeLong() == 0;
}

absl::StatusOr<uint64_t> SequenceArg(const Invocation& in, size_t i,
                                     const char* what) {
  uint64_t v;
  if (in.args.size() <= i || !absl::SimpleAtoi(in.args[i], &v)) {
    return absl::InvalidArgumentError(
        absl::StrCat("give ", what, " as a number"));
  }
  return v;
}

// The latest head, checked against the trusted key: the pinned one when
// --public_key is given, else the one the broker reports.
absl::StatusOr<v1::GetTreeHeadResponse> TrustedHead(const Invocation& in,
                                                    v1::Audit::Stub& stub) {
  ASSIGN_OR_RETURN(
      v1::GetTreeHeadResponse response,
      Unary<v1::GetTreeHeadResponse>(
          in, [&](grpc::ClientContext* c, v1::GetTreeHeadResponse* r) {
            return stub.GetTreeHead(c, v1::GetTreeHeadRequest(), r);
          }));
  if (const std::string path = absl::GetFlag(FLAGS_public_key); !path.empty()) {
    ASSIGN_OR_RETURN(std::string pinned, ReadLogPublicKeyFile(path));
    if (pinned != response.public_key()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the broker reports log key ", LogKeyId(response.public_key()),
          " but ", path, " holds key ", LogKeyId(pinned)));
    }
  }
  RETURN_IF_ERROR(VerifyTreeHead(response.tree_head(), response.public_key()));
  return response;
}

// Streams an export into `lines`; returns the number of entries.
absl::StatusOr<uint64_t> StreamExport(const Invocation& in,
                                      v1::Audit::Stub& stub,
                                      const v1::ExportLogRequest& request,
                                      std::ostream* lines) {
  grpc::ClientContext context;
  Prepare(&context, in, /*deadline=*/false);
  std::unique_ptr<grpc::ClientReader<v1::ExportedEntry>> reader =
      stub.ExportLog(&context, request);
  v1::ExportedEntry exported;
  uint64_t count = 0;
  while (reader->Read(&exported)) {
    v1::LogExportLine line;
    line.set_sequence(exported.sequence());
    line.set_leaf(exported.leaf());
    if (!line.mutable_entry()->ParseFromString(exported.leaf())) {
      return absl::DataLossError(absl::StrCat("the broker sent an entry ",
                                              exported.sequence(),
                                              " that does not parse"));
    }
    for (const std::string& h : exported.proof().hashes()) line.add_proof(h);
    RETURN_IF_ERROR(audit::WriteExportLine(*lines, line));
    ++count;
    if (count % 100000 == 0) {
      std::cerr << "  " << count << " entries exported..." << std::endl;
    }
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) {
    return client::FromGrpcStatus(status, in.connection.address);
  }
  return count;
}

int RunExport(const Invocation& in, v1::Audit::Stub& stub) {
  const std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) return Usage(kUsageName, "audit export needs --out=FILE");
  absl::StatusOr<v1::LogFilter> filter = FilterFromFlags();
  if (!filter.ok())
    return Usage(kUsageName, std::string(filter.status().message()));
  absl::StatusOr<v1::GetTreeHeadResponse> head = TrustedHead(in, stub);
  if (!head.ok()) return Fail(head.status());

  v1::LogExportHeader header;
  header.set_format(std::string(audit::kLogExportFormat));
  *header.mutable_tree_head() = head->tree_head();
  header.set_public_key(head->public_key());
  v1::ExportLogRequest request;
  *request.mutable_filter() = *filter;
  request.set_tree_size(head->tree_head().tree_size());
  // An unfiltered export is complete unless the auditor's scope leaves
  // entries out; then it is made again with a proof on every line.
  bool complete = FilterIsEmpty(*filter);
  request.set_with_proofs(!complete);
  const std::string temp = out + ".partial";
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::ofstream file(temp, std::ios::trunc);
    if (!file) {
      return Fail(
          absl::PermissionDeniedError(absl::StrCat("cannot write ", temp)));
    }
    header.set_complete(complete);
    absl::Status s = audit::WriteExportLine(file, header);
    if (!s.ok()) return Fail(s);
    absl::StatusOr<uint64_t> count = StreamExport(in, stub, request, &file);
    file.close();
    if (!count.ok()) {
      std::remove(temp.c_str());
      return Fail(count.status());
    }
    if (complete && *count != head->tree_head().tree_size()) {
      complete = false;
      request.set_with_proofs(true);
      continue;
    }
    if (!file || std::rename(temp.c_str(), out.c_str()) != 0) {
      return Fail(absl::UnavailableError(absl::StrCat("cannot write ", out)));
    }
    std::cout << "exported:  " << *count << " entries to " << out << "\n"
              << "tree head: " << HeadLine(head->tree_head()) << "\n"
              << (complete ? "complete:  yes, the root can be recomputed"
                           : "complete:  no (filtered or scoped); each line "
                             "carries its inclusion proof")
              << "\n"
              << "verify:    liaison-audit verify --export " << out
              << " --public_key <the broker's log-signing.pub>" << std::endl;
    return 0;
  }
  return 1;
}

int RunQuery(const Invocation& in, v1::Audit::Stub& stub) {
  absl::StatusOr<v1::LogFilter> filter = FilterFromFlags();
  if (!filter.ok())
    return Usage(kUsageName, std::string(filter.status().message()));
  v1::QueryLogRequest request;
  *request.mutable_filter() = *filter;
  request.set_page_size(static_cast<uint32_t>(absl::GetFlag(FLAGS_page_size)));
  const bool json = absl::GetFlag(FLAGS_json);
  uint64_t shown = 0;
  for (;;) {
    absl::StatusOr<v1::QueryLogResponse> page = Unary<v1::QueryLogResponse>(
        in, [&](grpc::ClientContext* c, v1::QueryLogResponse* r) {
          return stub.QueryLog(c, request, r);
        });
    if (!page.ok()) return Fail(page.status());
    for (const v1::LogEntry& e : page->entries()) {
      std::cout << (json ? JsonOf(e) : DescribeEntry(e)) << "\n";
      ++shown;
    }
    if (page->next_page_token().empty()) break;
    if (!absl::GetFlag(FLAGS_all)) {
      std::cerr << "(more entries: run again with --all)" << std::endl;
      break;
    }
    request.set_page_token(page->next_page_token());
  }
  if (!json) std::cout << shown << " entries" << std::endl;
  return 0;
}

int RunReport(const Invocation& in, v1::Audit::Stub& stub) {
  if (in.args.size() != 2) {
    return Usage(kUsageName, "audit report needs the person's identifier");
  }
  v1::SubjectAccessReportRequest request;
  request.mutable_subject()->set_identifier(in.args[1]);
  absl::StatusOr<v1::SubjectAccessReportResponse> report =
      Unary<v1::SubjectAccessReportResponse>(
          in, [&](grpc::ClientContext* c, v1::SubjectAccessReportResponse* r) {
            return stub.SubjectAccessReport(c, request, r);
          });
  if (!report.ok()) return Fail(report.status());
  std::cout << "Disclosures about the person with identifier " << in.args[1]
            << "\n\n";
  if (report->lines().empty()) {
    std::cout << "No agency has shared information about this person "
                 "through Liaison.\n";
  }
  for (const auto& line : report->lines()) {
    std::cout << "- " << line.explanation() << "\n";
  }
  std::cout << "\nWho looked at what the broker holds about the person\n\n";
  for (const auto& look : report->looks()) {
    std::cout << "- " << look.explanation() << "\n";
  }
  std::cout << "\n"
            << report->lines_size() << " disclosures and "
            << report->looks_size() << " looks; read from the log at "
            << HeadLine(report->tree_head()) << std::endl;
  return 0;
}

int RunOverrides(const Invocation& in, v1::Audit::Stub& stub) {
  v1::ListOverrideReviewsRequest request;
  request.set_include_reviewed(absl::GetFlag(FLAGS_include_reviewed));
  absl::StatusOr<v1::ListOverrideReviewsResponse> list =
      Unary<v1::ListOverrideReviewsResponse>(
          in, [&](grpc::ClientContext* c, v1::ListOverrideReviewsResponse* r) {
            return stub.ListOverrideReviews(c, request, r);
          });
  if (!list.ok()) return Fail(list.status());
  for (const v1::OverrideReview& r : list->reviews()) {
    const v1::Justification& j = r.entry().justification();
    std::cout << "override " << r.log_sequence() << ": "
              << EnumWord(v1::OverrideReview::Outcome_Name(r.outcome()),
                          "OUTCOME_")
              << "\n  " << DescribeEntry(r.entry()) << "\n  category "
              << EnumWord(v1::OverrideCategory_Name(j.category()),
                          "OVERRIDE_CATEGORY_")
              << ", provision " << j.legal_provision() << ", assessor "
              << j.assessor().id() << ", approver " << j.approver().id()
              << "\n";
    if (!r.statement().empty()) {
      // Sealed outside the log; its digest is in the entry.
      std::cout << "  statement: " << r.statement() << "\n";
    }
    if (!r.reviewer().empty()) {
      std::cout << "  reviewed by " << r.reviewer() << ": " << r.comment()
                << "\n";
    }
  }
  std::cout << list->reviews_size() << " overrides" << std::endl;
  return 0;
}

int RunReview(const Invocation& in, v1::Audit::Stub& stub) {
  absl::StatusOr<uint64_t> sequence =
      SequenceArg(in, 1, "the override's sequence");
  if (!sequence.ok())
    return Usage(kUsageName, std::string(sequence.status().message()));
  if (in.args.size() != 3) {
    return Usage(kUsageName,
                 "audit review SEQUENCE OUTCOME, where OUTCOME is justified, "
                 "not_justified or needs_follow_up");
  }
  v1::ReviewOverrideRequest request;
  request.set_log_sequence(*sequence);
  v1::OverrideReview::Outcome outcome;
  if (!v1::OverrideReview::Outcome_Parse(
          absl::StrCat("OUTCOME_", absl::AsciiStrToUpper(in.args[2])),
          &outcome) ||
      outcome == v1::OverrideReview::OUTCOME_PENDING) {
    return Usage(kUsageName, absl::StrCat("\"", in.args[2],
                                          "\" is not justified, "
                                          "not_justified or needs_follow_up"));
  }
  request.set_outcome(outcome);
  request.set_comment(absl::GetFlag(FLAGS_comment));
  absl::StatusOr<v1::ReviewOverrideResponse> reviewed =
      Unary<v1::ReviewOverrideResponse>(
          in, [&](grpc::ClientContext* c, v1::ReviewOverrideResponse* r) {
            return stub.ReviewOverride(c, request, r);
          });
  if (!reviewed.ok()) return Fail(reviewed.status());
  std::cout << "override " << *sequence << " reviewed " << in.args[2]
            << "; the review is log entry " << reviewed->review_log_sequence()
            << std::endl;
  return 0;
}

int RunTreeHead(const Invocation& in, v1::Audit::Stub& stub) {
  absl::StatusOr<v1::GetTreeHeadResponse> head = TrustedHead(in, stub);
  if (!head.ok()) return Fail(head.status());
  std::cout << "tree size: " << head->tree_head().tree_size() << "\n"
            << "root:      " << Hex(head->tree_head().root_hash()) << "\n"
            << "signed:    " << Rfc3339(TimeOf(head->tree_head().time()))
            << "\n"
            << "key:       " << head->tree_head().key_id() << " "
            << absl::Base64Escape(head->public_key()) << "\n"
            << "signature: verified" << std::endl;
  if (const std::string out = absl::GetFlag(FLAGS_out); !out.empty()) {
    absl::Status s = WriteFileAtomic(out, JsonOf(*head) + "\n", 0644);
    if (!s.ok()) return Fail(s);
    std::cout << "saved to " << out << std::endl;
  }
  return 0;
}

int RunProve(const Invocation& in, v1::Audit::Stub& stub) {
  absl::StatusOr<uint64_t> sequence =
      SequenceArg(in, 1, "the entry's sequence");
  if (!sequence.ok())
    return Usage(kUsageName, std::string(sequence.status().message()));
  absl::StatusOr<v1::GetTreeHeadResponse> head = TrustedHead(in, stub);
  if (!head.ok()) return Fail(head.status());
  const v1::TreeHead& th = head->tree_head();
  if (*sequence >= th.tree_size()) {
    return Fail(absl::OutOfRangeError(
        absl::StrCat("entry ", *sequence, " is not in the log of ",
                     th.tree_size(), " entries")));
  }
  v1::ExportLogRequest request;
  request.mutable_filter()->set_from_sequence(*sequence);
  request.mutable_filter()->set_until_sequence(*sequence + 1);
  request.set_tree_size(th.tree_size());
  request.set_with_proofs(true);
  grpc::ClientContext context;
  Prepare(&context, in);
  auto reader = stub.ExportLog(&context, request);
  v1::ExportedEntry exported;
  const bool found = reader->Read(&exported);
  while (reader->Read(&exported)) {
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) {
    return Fail(client::FromGrpcStatus(status, in.connection.address));
  }
  if (!found) {
    return Fail(absl::NotFoundError(
        absl::StrCat("entry ", *sequence, " is outside your scope")));
  }
  std::vector<std::string> proof(exported.proof().hashes().begin(),
                                 exported.proof().hashes().end());
  absl::Status ok = merkle::VerifyInclusion(*sequence, th.tree_size(),
                                            merkle::LeafHash(exported.leaf()),
                                            proof, th.root_hash());
  if (!ok.ok()) return Fail(ok);
  v1::LogEntry entry;
  entry.ParseFromString(exported.leaf());
  std::cout << DescribeEntry(entry) << "\n"
            << "included:  yes, in the tree of " << HeadLine(th) << " ("
            << proof.size() << " hashes, verified here)" << std::endl;
  return 0;
}

int RunConsistency(const Invocation& in, v1::Audit::Stub& stub) {
  const std::string old_path = absl::GetFlag(FLAGS_old);
  if (old_path.empty()) {
    return Usage(kUsageName, "audit consistency needs --old=FILE");
  }
  absl::StatusOr<v1::TreeHead> old = audit::ReadTreeHeadFile(old_path);
  if (!old.ok()) return Fail(old.status());
  absl::StatusOr<v1::GetTreeHeadResponse> head = TrustedHead(in, stub);
  if (!head.ok()) return Fail(head.status());
  absl::Status s = VerifyTreeHead(*old, head->public_key());
  if (!s.ok()) return Fail(s);
  const v1::TreeHead& now = head->tree_head();
  if (old->tree_size() > now.tree_size()) {
    return Fail(absl::FailedPreconditionError(
        absl::StrCat("the log shrank: the head in ", old_path, " committed to ",
                     old->tree_size(), " entries, the broker's head now to ",
                     now.tree_size())));
  }
  std::vector<std::string> proof;
  if (old->tree_size() > 0 && old->tree_size() < now.tree_size()) {
    v1::GetConsistencyProofRequest request;
    request.set_first_size(old->tree_size());
    request.set_second_size(now.tree_size());
    absl::StatusOr<v1::ConsistencyProof> got = Unary<v1::ConsistencyProof>(
        in, [&](grpc::ClientContext* c, v1::ConsistencyProof* r) {
          return stub.GetConsistencyProof(c, request, r);
        });
    if (!got.ok()) return Fail(got.status());
    proof.assign(got->hashes().begin(), got->hashes().end());
  }
  if (old->tree_size() > 0) {
    s = merkle::VerifyConsistency(old->tree_size(), now.tree_size(),
                                  old->root_hash(), now.root_hash(), proof);
    if (!s.ok()) return Fail(s);
  }
  std::cout << "older:      " << HeadLine(*old) << "\n"
            << "newer:      " << HeadLine(now) << "\n"
            << "consistent: yes, the newer log extends the older one ("
            << proof.size() << " hashes, verified here)" << std::endl;
  return 0;
}

}  // namespace

const char kAuditHelp[] =
    R"(liaison audit: review the disclosure log (auditor certificates only).

Usage:
  liaison audit query [filters] [--page_size=N] [--all] [--json]
  liaison audit export --out=FILE [filters]
  liaison audit report IDENTIFIER
  liaison audit overrides [--include_reviewed]
  liaison audit review SEQUENCE justified|not_justified|needs_follow_up
                       [--comment=TEXT]
  liaison audit tree-head [--out=FILE] [--public_key=FILE]
  liaison audit prove SEQUENCE [--public_key=FILE]
  liaison audit consistency --old=FILE [--public_key=FILE]

query      entries matching the filters, oldest first, one line each.
export     writes the entries as JSON Lines under a signed tree head, for
           `liaison-audit verify`. Without filters (and with a scope of the
           whole deployment) the export is complete and its root can be
           recomputed; otherwise every line carries its inclusion proof.
report     the subject access report: every disclosure about one person,
           and everyone who looked at what the broker holds about them,
           in words the person can read.
overrides  overrides awaiting review; review records an outcome, which is
           itself logged.
tree-head  the latest signed tree head, its signature checked; --out saves
           it so a later `consistency` can prove the log only grew.
prove      fetches an entry with its inclusion proof and checks both here.

Filters: --subject=IDENTIFIER --agency=ID --sector=SECTOR
  --kind=disclosure,denial,delivery,override,override_reviewed,
         manual_disclosure,consent_recorded,consent_refused,
         consent_withdrawn,admin,summary_request,access,case_closed,
         case_detached,purge,referral_withdrawn,referral_recalled
  --basis=consent,override,statutory_duty  --decision=any|allowed|denied
  --from=RFC3339 --until=RFC3339

Every call here that reads the log (query, export, report, overrides and
proofs) is itself logged as an ACCESS entry naming you, before its answer
is released; so is an agency opening a referral, case or consent.

You see only entries in your scope (the whole deployment, a jurisdiction or
an agency), where the acting agency or the receiving agency is in it.

Example:
  liaison audit query --subject=200901011234 --kind=disclosure,override
  liaison audit export --out=log.jsonl
  liaison-audit verify --export=log.jsonl --public_key=log-signing.pub
)";

std::vector<std::string> AuditFlags() {
  return {"subject",  "agency", "sector", "kind",       "basis",
          "decision", "from",   "until",  "page_size",  "all",
          "json",     "out",    "old",    "public_key", "include_reviewed",
          "comment"};
}

int RunAudit(const Invocation& in) {
  static const std::map<std::string,
                        int (*)(const Invocation&, v1::Audit::Stub&)>
      kSubcommands = {{"query", RunQuery},   {"export", RunExport},
                      {"report", RunReport}, {"overrides", RunOverrides},
                      {"review", RunReview}, {"tree-head", RunTreeHead},
                      {"prove", RunProve},   {"consistency", RunConsistency}};
  if (in.args.empty()) return Usage(kUsageName, "name a subcommand");
  auto it = kSubcommands.find(in.args[0]);
  if (it == kSubcommands.end()) {
    return Usage(kUsageName,
                 absl::StrCat("unknown subcommand \"", in.args[0], "\""));
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Connect(in);
  if (!channel.ok()) return Fail(channel.status());
  std::unique_ptr<v1::Audit::Stub> stub = v1::Audit::NewStub(*channel);
  return it->second(in, *stub);
}

const char kManualDisclosureHelp[] =
    R"(liaison manual-disclosure: record a disclosure made outside Liaison.

Usage: liaison manual-disclosure FILE [--idempotency_key=KEY]

When your agency shares information about a person by another way (a case
conference, a phone call), record it here so the disclosure log stays
complete. FILE is a liaison.v1.RecordManualDisclosureRequest in protobuf
text format:

  recipient_agency_id: "malmo-social"
  subject { identifier: "200901011234" }
  purpose: "child_welfare"
  level: LEVEL_SUMMARY
  basis { consent_id: "con-..." }
  channel: "case conference"
  disclosed_at { seconds: 1795000000 }

The idempotency key defaults to the file's, else the SHA-256 of the file,
so recording the same file twice records it once. Prints the log sequence.
)";

int RunManualDisclosure(const Invocation& in) {
  if (in.args.size() != 1) {
    return Usage("manual-disclosure", "give exactly one FILE");
  }
  v1::RecordManualDisclosureRequest request;
  absl::StatusOr<std::string> digest = ReadRequestFile(in.args[0], &request);
  if (!digest.ok()) {
    if (digest.status().code() != absl::StatusCode::kInvalidArgument) {
      return Fail(digest.status());
    }
    std::cerr << digest.status().message() << std::endl;
    return 1;
  }
  if (const std::string key = absl::GetFlag(FLAGS_idempotency_key);
      !key.empty()) {
    request.set_idempotency_key(key);
  } else if (request.idempotency_key().empty()) {
    request.set_idempotency_key(*digest);
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Connect(in);
  if (!channel.ok()) return Fail(channel.status());
  auto stub = v1::Exchange::NewStub(*channel);
  absl::StatusOr<v1::RecordManualDisclosureResponse> recorded =
      Unary<v1::RecordManualDisclosureResponse>(
          in,
          [&](grpc::ClientContext* c, v1::RecordManualDisclosureResponse* r) {
            return stub->RecordManualDisclosure(c, request, r);
          });
  if (!recorded.ok()) return Fail(recorded.status());
  std::cout << "recorded:        disclosure to "
            << request.recipient_agency_id() << " at level "
            << client::LevelName(request.level()) << "\n"
            << "idempotency key: " << request.idempotency_key() << "\n"
            << "log sequence:    " << recorded->log_sequence() << std::endl;
  return 0;
}

}  // namespace liaison::cli
