#include "broker/audit_service.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "broker/basics/status_macros.h"
#include "broker/basics/time_format.h"
#include "broker/log/message_util.h"
#include "broker/log_entries.h"
#include "broker/request_shape.h"

namespace liaison {
namespace {

constexpr uint32_t kDefaultPageSize = 100;
constexpr uint32_t kMaxPageSize = 1000;
constexpr int kExportBatch = 256;
// A subject access report lists at most this many disclosures.
constexpr int kMaxReportLines = 100000;

// Finishes `reactor` with a store result, copying it into `response`.
template <typename T>
StoreDone<T> FinishWith(grpc::ServerUnaryReactor* reactor, T* response) {
  return [reactor, response](absl::StatusOr<T> result) {
    if (result.ok()) *response = *std::move(result);
    reactor->Finish(ToGrpcStatus(result.status()));
  };
}

// As FinishWith, releasing the result only once `access` is logged.
template <typename T>
StoreDone<T> FinishLoggedWith(Store* store, grpc::ServerUnaryReactor* reactor,
                              T* response, v1::LogEntry access) {
  return [store, reactor, response,
          access = std::move(access)](absl::StatusOr<T> result) mutable {
    if (!result.ok()) return reactor->Finish(ToGrpcStatus(result.status()));
    *response = *std::move(result);
    FinishAfterAccess(store, reactor, std::move(access));
  };
}

// Paging tokens carry where the next page starts, the tree size the first
// page was read at (so pages never see entries appended later) and a digest
// of the filter they were issued for.
std::string FilterDigest(const v1::LogFilter& filter) {
  return Sha256Hex(DeterministicBytes(filter)).substr(0, 16);
}

std::string PageToken(uint64_t next, uint64_t below,
                      const v1::LogFilter& filter) {
  return absl::WebSafeBase64Escape(
      absl::StrCat(next, ".", below, ".", FilterDigest(filter)));
}

absl::Status ParsePageToken(const std::string& token,
                            const v1::LogFilter& filter, uint64_t* next,
                            uint64_t* below) {
  std::string raw;
  std::vector<std::string> parts;
  if (absl::WebSafeBase64Unescape(token, &raw)) {
    parts = absl::StrSplit(raw, '.');
  }
  if (parts.size() != 3 || !absl::SimpleAtoi(parts[0], next) ||
      !absl::SimpleAtoi(parts[1], below) || *next > *below) {
    return absl::InvalidArgumentError(
        "page_token is not one this broker issued; start again without it");
  }
  if (parts[2] != FilterDigest(filter)) {
    return absl::InvalidArgumentError(
        "page_token was issued for another filter; send the same filter as "
        "for the first page, or start again without a token");
  }
  return absl::OkStatus();
}

// What an auditor's filter asked for, as an ACCESS entry's read_filter:
// "name=value" pairs, with the subject left out (the entry names it by
// pseudonym).
std::string FilterWords(const v1::LogFilter& filter) {
  std::vector<std::string> words;
  if (!filter.subject_identifier().empty()) words.push_back("subject");
  if (!filter.agency_id().empty()) {
    words.push_back(absl::StrCat("agency_id=", filter.agency_id()));
  }
  if (!filter.sector().empty()) {
    words.push_back(absl::StrCat("sector=", filter.sector()));
  }
  std::vector<std::string> kinds;
  for (int kind : filter.kinds()) {
    kinds.push_back(absl::StrCat(
        absl::StripPrefix(v1::EntryKind_Name(kind), "ENTRY_KIND_")));
  }
  if (!kinds.empty()) {
    words.push_back(absl::StrCat("kinds=", absl::StrJoin(kinds, ",")));
  }
  std::vector<std::string> bases;
  for (int basis : filter.bases()) {
    bases.push_back(absl::StrCat(
        absl::StripPrefix(v1::BasisKind_Name(basis), "BASIS_KIND_")));
  }
  if (!bases.empty()) {
    words.push_back(absl::StrCat("bases=", absl::StrJoin(bases, ",")));
  }
  if (filter.decision() != v1::LogFilter::DECISION_ANY) {
    words.push_back(absl::StrCat(
        "decision=",
        absl::StripPrefix(v1::LogFilter::Decision_Name(filter.decision()),
                          "DECISION_")));
  }
  if (filter.has_from()) {
    words.push_back(absl::StrCat("from=", Rfc3339(TimeOf(filter.from()))));
  }
  if (filter.has_until()) {
    words.push_back(absl::StrCat("until=", Rfc3339(TimeOf(filter.until()))));
  }
  if (filter.from_sequence() != 0) {
    words.push_back(absl::StrCat("from_sequence=", filter.from_sequence()));
  }
  if (filter.until_sequence() != 0) {
    words.push_back(absl::StrCat("until_sequence=", filter.until_sequence()));
  }
  return absl::StrJoin(words, " ");
}

// Adds `word` to the end of an ACCESS entry's read_filter.
void AddReadWord(v1::LogEntry* access, absl::string_view word) {
  absl::StrAppend(access->mutable_read_filter(),
                  access->read_filter().empty() ? "" : " ", word);
}

absl::string_view LevelWords(v1::Level level) {
  switch (level) {
    case v1::LEVEL_SIGNAL:
      return "only that they know you and whom to contact";
    case v1::LEVEL_CATEGORY:
      return "the kind of concern in broad categories";
    case v1::LEVEL_SUMMARY:
      return "a short summary written for sharing";
    case v1::LEVEL_FULL:
      return "the full record";
    default:
      return "nothing";
  }
}

absl::string_view BasisWords(v1::BasisKind basis) {
  switch (basis) {
    case v1::BASIS_KIND_CONSENT:
      return "with the consent given for you";
    case v1::BASIS_KIND_OVERRIDE:
      return "without consent, because a professional judged there was a "
             "serious risk that the law allows them to act on";
    case v1::BASIS_KIND_STATUTORY_DUTY:
      return "because the law requires it";
    default:
      return "on a basis that was not recorded";
  }
}

std::string AgencyName(const Registry& registry, const std::string& id) {
  std::optional<v1::Agency> agency = registry.FindAgency(id);
  if (agency.has_value() && !agency->display_name().empty()) {
    return agency->display_name();
  }
  return id;
}

// One report line from a DISCLOSURE, OVERRIDE or MANUAL_DISCLOSURE entry,
// whose actor is the disclosing agency and counterpart the recipient.
v1::SubjectAccessReportResponse::Line ReportLine(const Registry& registry,
                                                 const v1::LogEntry& entry) {
  v1::SubjectAccessReportResponse::Line line;
  *line.mutable_time() = entry.time();
  absl::StatusOr<PrincipalName> actor = ParsePrincipalUri(entry.actor());
  line.set_from_agency(
      AgencyName(registry, actor.ok() ? actor->id : entry.actor()));
  line.set_to_agency(AgencyName(registry, entry.counterpart()));
  line.set_level(entry.level());
  line.set_basis(entry.basis());
  line.set_purpose(entry.purpose());
  std::string purpose = entry.purpose();
  absl::StrReplaceAll({{"_", " "}}, &purpose);
  line.set_explanation(absl::StrCat(
      "On ",
      absl::FormatTime("%Y-%m-%d", TimeOf(entry.time()), absl::UTCTimeZone()),
      ", ", line.from_agency(), " shared ", LevelWords(entry.level()), " with ",
      line.to_agency(), purpose.empty() ? "" : absl::StrCat(" for ", purpose),
      ", ", BasisWords(entry.basis()),
      entry.kind() == v1::ENTRY_KIND_MANUAL_DISCLOSURE
          ? " (recorded afterwards: it was shared outside this system)."
          : "."));
  return line;
}

// What an ACCESS entry's call did, in words for the person the report is
// for.
absl::string_view LookWords(absl::string_view call) {
  if (call == "GetReferral") return "opened a referral about you";
  if (call == "GetCase") return "opened the case about you";
  if (call == "GetConsent") return "read a record of your consent";
  if (call == "SubjectAccessReport") {
    return "made a report of what was shared about you";
  }
  return "searched the record of what was shared about you";
}

// One report look from an ACCESS entry, whose actor is who looked.
v1::SubjectAccessReportResponse::Look ReportLook(const Registry& registry,
                                                 const v1::LogEntry& entry) {
  v1::SubjectAccessReportResponse::Look look;
  *look.mutable_time() = entry.time();
  absl::StatusOr<PrincipalName> actor = ParsePrincipalUri(entry.actor());
  if (actor.ok() && actor->kind == v1::PRINCIPAL_KIND_AGENCY) {
    look.set_by(AgencyName(registry, actor->id));
  } else if (actor.ok() && actor->kind == v1::PRINCIPAL_KIND_AUDITOR) {
    look.set_by(absl::StrCat("an auditor (", actor->id, ")"));
  } else {
    look.set_by(entry.actor());
  }
  look.set_call(entry.read_call());
  look.set_explanation(absl::StrCat(
      "On ",
      absl::FormatTime("%Y-%m-%d", TimeOf(entry.time()), absl::UTCTimeZone()),
      ", ", look.by(), " ", LookWords(entry.read_call()), "."));
  return look;
}

// Streams an export in batches read from the store. At most one store read
// or one write is outstanding; Finish comes only when neither is, so the
// reactor is deleted only when nothing refers to it. Store and gRPC calls
// are made outside the lock: either may call back on the same thread.
class ExportStream final : public grpc::ServerWriteReactor<v1::ExportedEntry> {
 public:
  // Logs `access` first: nothing is exported unless the log took it.
  ExportStream(Store* store, LogQuery query, uint64_t requested_size,
               v1::LogEntry access)
      : store_(store), query_(std::move(query)), requested_(requested_size) {
    store_->RecordAccess(
        std::move(access), [this](absl::StatusOr<uint64_t> seq) {
          if (!seq.ok()) {
            return Done(absl::UnavailableError(
                absl::StrCat("the export could not be logged, so nothing was "
                             "exported: ",
                             seq.status().message())));
          }
          Start();
        });
  }

  void OnWriteDone(bool ok) override {
    if (!ok) return Done(absl::CancelledError("the export was cancelled"));
    {
      absl::MutexLock lock(&mu_);
      batch_.pop_front();
    }
    Next();
  }

  void OnDone() override { delete this; }

 private:
  void Start() {
    store_->LatestTreeHead([this](absl::StatusOr<v1::TreeHead> head) {
      if (!head.ok()) return Done(head.status());
      if (requested_ > head->tree_size()) {
        return Done(absl::OutOfRangeError(absl::StrCat(
            "tree_size ", requested_, " is beyond the latest signed head's ",
            head->tree_size(), " entries")));
      }
      size_ = requested_ == 0 ? head->tree_size() : requested_;
      query_.below = std::min(query_.below, size_);
      query_.proof_size = size_;
      Fetch();
    });
  }

  void Fetch() {
    store_->ReadLog(query_, [this](absl::StatusOr<LogPage> page) {
      if (!page.ok()) return Done(page.status());
      {
        absl::MutexLock lock(&mu_);
        more_ = page->more;
        for (LoggedEntry& logged : page->entries) {
          query_.first_sequence = logged.entry.sequence() + 1;
          v1::ExportedEntry out;
          out.set_sequence(logged.entry.sequence());
          out.set_leaf(std::move(logged.leaf));
          if (query_.with_proofs) {
            v1::InclusionProof* proof = out.mutable_proof();
            proof->set_leaf_index(logged.entry.sequence());
            proof->set_tree_size(size_);
            for (std::string& h : logged.proof) proof->add_hashes(std::move(h));
          }
          batch_.push_back(std::move(out));
        }
      }
      Next();
    });
  }

  void Next() {
    const v1::ExportedEntry* next = nullptr;
    bool fetch = false;
    {
      absl::MutexLock lock(&mu_);
      if (!batch_.empty()) {
        next = &batch_.front();
      } else {
        fetch = more_;
      }
    }
    if (next != nullptr) return StartWrite(next);
    if (fetch) return Fetch();
    Done(absl::OkStatus());
  }

  void Done(const absl::Status& status) { Finish(ToGrpcStatus(status)); }

  Store* const store_;
  absl::Mutex mu_;
  LogQuery query_;
  const uint64_t requested_;
  // The tree size proofs are for.
  uint64_t size_ = 0;
  std::deque<v1::ExportedEntry> batch_ ABSL_GUARDED_BY(mu_);
  bool more_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

AuditService::AuditService(const Authenticator* auth, const Registry* registry,
                           Store* store, const Pseudonymizer* pseudonyms,
                           const Clock* clock, std::string public_key)
    : auth_(auth),
      registry_(registry),
      store_(store),
      pseudonyms_(pseudonyms),
      clock_(clock),
      public_key_(std::move(public_key)) {}

absl::StatusOr<AuditService::Caller> AuditService::Authorize(
    grpc::CallbackServerContext* ctx) const {
  Caller caller;
  ASSIGN_OR_RETURN(caller.principal, auth_->Authorize(*ctx->auth_context(),
                                                      kAllowed, kServiceName));
  std::optional<v1::Auditor> auditor =
      registry_->FindAuditor(caller.principal.id());
  if (!auditor.has_value()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "auditor ", caller.principal.id(),
        " is not registered; ask an administrator to register it"));
  }
  const std::string& scope = auditor->scope();
  if (scope == "*") return caller;
  caller.scope.emplace();
  if (absl::StartsWith(scope, "agency:")) {
    caller.scope->push_back(scope.substr(7));
  } else if (absl::StartsWith(scope, "jurisdiction:")) {
    const std::string jurisdiction = scope.substr(13);
    for (const v1::Agency& agency : registry_->Agencies()) {
      if (agency.jurisdiction() == jurisdiction) {
        caller.scope->push_back(agency.id());
      }
    }
  }
  // Any other scope string sees nothing: the registry refuses to store one.
  // Whatever its scope, an auditor sees its own reads: the log indexes an
  // ACCESS entry's auditor by its principal URI.
  caller.scope->push_back(caller.principal.uri());
  return caller;
}

absl::StatusOr<LogQuery> AuditService::ToQuery(const v1::LogFilter& filter,
                                               const Caller& caller) const {
  LogQuery query;
  if (caller.scope.has_value()) query.agency_sets.push_back(*caller.scope);
  if (!filter.subject_identifier().empty()) {
    query.subject_pseudonym =
        pseudonyms_->Pseudonym(filter.subject_identifier());
  }
  if (!filter.agency_id().empty()) {
    query.agency_sets.push_back({filter.agency_id()});
  }
  if (!filter.sector().empty()) {
    RETURN_IF_ERROR(ValidateSector(filter.sector()));
    std::vector<std::string> in_sector;
    for (const v1::Agency& agency : registry_->Agencies()) {
      if (agency.sector() == filter.sector()) in_sector.push_back(agency.id());
    }
    query.agency_sets.push_back(std::move(in_sector));
  }
  for (int kind : filter.kinds()) {
    if (kind == v1::ENTRY_KIND_UNSPECIFIED || !v1::EntryKind_IsValid(kind)) {
      return absl::InvalidArgumentError(
          absl::StrCat("kinds holds ", kind, ", which is not an entry kind"));
    }
    query.kinds.push_back(static_cast<v1::EntryKind>(kind));
  }
  for (int basis : filter.bases()) {
    if (basis == v1::BASIS_KIND_UNSPECIFIED || !v1::BasisKind_IsValid(basis)) {
      return absl::InvalidArgumentError(
          absl::StrCat("bases holds ", basis, ", which is not a basis kind"));
    }
    query.bases.push_back(static_cast<v1::BasisKind>(basis));
  }
  switch (filter.decision()) {
    case v1::LogFilter::DECISION_ALLOWED:
      query.allowed = true;
      break;
    case v1::LogFilter::DECISION_DENIED:
      query.allowed = false;
      break;
    default:
      break;
  }
  if (filter.has_from()) query.from = TimeOf(filter.from());
  if (filter.has_until()) query.until = TimeOf(filter.until());
  if (query.from >= query.until) {
    return absl::InvalidArgumentError(
        "the time range is empty: from must be before until");
  }
  query.first_sequence = filter.from_sequence();
  if (filter.until_sequence() != 0) {
    if (filter.until_sequence() <= filter.from_sequence()) {
      return absl::InvalidArgumentError(
          "the sequence range is empty: from_sequence must be below "
          "until_sequence");
    }
    query.below = filter.until_sequence();
  }
  return query;
}

v1::LogEntry AuditService::Access(grpc::CallbackServerContext* ctx,
                                  const Caller& caller, absl::string_view call,
                                  const v1::LogFilter* filter) const {
  const v1::Professional professional = ProfessionalOf(ctx);
  v1::LogEntry e =
      AccessEntry(clock_->Now(), caller.principal.uri(), &professional, call);
  if (filter != nullptr) {
    if (!filter->subject_identifier().empty()) {
      e.set_subject_pseudonym(
          pseudonyms_->Pseudonym(filter->subject_identifier()));
    }
    v1::LogFilter words = *filter;
    // The filter's agency is the caller's free text: only a registered
    // agency's id goes in the log, so nothing typed there (an identifier in
    // the wrong field, say) can reach it.
    if (!filter->agency_id().empty()) {
      if (registry_->FindAgency(filter->agency_id()).has_value()) {
        e.set_counterpart(filter->agency_id());
      } else {
        words.set_agency_id("unregistered");
      }
    }
    e.set_read_filter(FilterWords(words));
  }
  return e;
}

grpc::ServerUnaryReactor* AuditService::QueryLog(
    grpc::CallbackServerContext* ctx, const v1::QueryLogRequest* request,
    v1::QueryLogResponse* response) {
  absl::StatusOr<Caller> caller = Authorize(ctx);
  if (!caller.ok()) return FinishUnary(ctx, caller.status());
  if (absl::Status s = CheckRequestShape(*request); !s.ok()) {
    return FinishUnary(ctx, s);
  }
  if (request->page_size() > kMaxPageSize) {
    return FinishUnary(ctx, absl::InvalidArgumentError(absl::StrCat(
                                "page_size ", request->page_size(),
                                " is over the limit of ", kMaxPageSize)));
  }
  absl::StatusOr<LogQuery> query = ToQuery(request->filter(), *caller);
  if (!query.ok()) return FinishUnary(ctx, query.status());
  query->limit = static_cast<int>(
      request->page_size() == 0 ? kDefaultPageSize : request->page_size());
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  v1::LogEntry access = Access(ctx, *caller, "QueryLog", &request->filter());
  if (!request->page_token().empty()) {
    AddReadWord(&access, "next_page");
  }
  auto read = [this, reactor, response, filter = request->filter(),
               access = std::move(access)](LogQuery q) {
    store_->ReadLog(q, [this, reactor, response, filter, access,
                        below = q.below](absl::StatusOr<LogPage> page) {
      if (!page.ok()) return reactor->Finish(ToGrpcStatus(page.status()));
      for (LoggedEntry& logged : page->entries) {
        *response->add_entries() = std::move(logged.entry);
      }
      if (page->more && response->entries_size() > 0) {
        const uint64_t last =
            response->entries(response->entries_size() - 1).sequence();
        response->set_next_page_token(PageToken(last + 1, below, filter));
      }
      FinishAfterAccess(store_, reactor, access);
    });
  };
  if (!request->page_token().empty()) {
    absl::Status s = ParsePageToken(request->page_token(), request->filter(),
                                    &query->first_sequence, &query->below);
    if (!s.ok()) {
      reactor->Finish(ToGrpcStatus(s));
      return reactor;
    }
    read(*std::move(query));
    return reactor;
  }
  store_->LatestTreeHead([reactor, read, q = *std::move(query)](
                             absl::StatusOr<v1::TreeHead> head) mutable {
    if (!head.ok()) return reactor->Finish(ToGrpcStatus(head.status()));
    q.below = std::min(q.below, head->tree_size());
    read(std::move(q));
  });
  return reactor;
}

grpc::ServerWriteReactor<v1::ExportedEntry>* AuditService::ExportLog(
    grpc::CallbackServerContext* ctx, const v1::ExportLogRequest* request) {
  absl::StatusOr<Caller> caller = Authorize(ctx);
  if (!caller.ok())
    return new RefusedStream<v1::ExportedEntry>(caller.status());
  if (absl::Status s = CheckRequestShape(*request); !s.ok()) {
    return new RefusedStream<v1::ExportedEntry>(s);
  }
  absl::StatusOr<LogQuery> query = ToQuery(request->filter(), *caller);
  if (!query.ok()) return new RefusedStream<v1::ExportedEntry>(query.status());
  query->limit = kExportBatch;
  query->with_proofs = request->with_proofs();
  v1::LogEntry access = Access(ctx, *caller, "ExportLog", &request->filter());
  if (request->tree_size() != 0) {
    AddReadWord(&access, absl::StrCat("tree_size=", request->tree_size()));
  }
  if (request->with_proofs()) {
    AddReadWord(&access, "with_proofs");
  }
  return new ExportStream(store_, *std::move(query), request->tree_size(),
                          std::move(access));
}

grpc::ServerUnaryReactor* AuditService::SubjectAccessReport(
    grpc::CallbackServerContext* ctx,
    const v1::SubjectAccessReportRequest* request,
    v1::SubjectAccessReportResponse* response) {
  absl::StatusOr<Caller> caller = Authorize(ctx);
  if (!caller.ok()) return FinishUnary(ctx, caller.status());
  if (absl::Status s = CheckRequestShape(*request); !s.ok()) {
    return FinishUnary(ctx, s);
  }
  if (request->subject().identifier().empty()) {
    return FinishUnary(ctx, absl::InvalidArgumentError(
                                "subject.identifier is required: the person's "
                                "identifier as the agencies record it"));
  }
  v1::LogFilter filter;
  filter.set_subject_identifier(request->subject().identifier());
  filter.add_kinds(v1::ENTRY_KIND_DISCLOSURE);
  filter.add_kinds(v1::ENTRY_KIND_OVERRIDE);
  filter.add_kinds(v1::ENTRY_KIND_MANUAL_DISCLOSURE);
  filter.add_kinds(v1::ENTRY_KIND_ACCESS);
  absl::StatusOr<LogQuery> query = ToQuery(filter, *caller);
  if (!query.ok()) return FinishUnary(ctx, query.status());
  query->limit = kMaxReportLines;
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  // Logged first, so the report lists itself among the looks.
  v1::LogEntry access = Access(ctx, *caller, "SubjectAccessReport", nullptr);
  access.set_subject_pseudonym(
      pseudonyms_->Pseudonym(request->subject().identifier()));
  store_->RecordAccess(
      std::move(access), [this, reactor, response,
                          q = *std::move(query)](absl::StatusOr<uint64_t> seq) {
        if (!seq.ok()) {
          return reactor->Finish(ToGrpcStatus(absl::UnavailableError(
              absl::StrCat("the report could not be logged, so none was made: ",
                           seq.status().message()))));
        }
        Report(q, reactor, response);
      });
  return reactor;
}

void AuditService::Report(LogQuery q, grpc::ServerUnaryReactor* reactor,
                          v1::SubjectAccessReportResponse* response) const {
  store_->LatestTreeHead([this, reactor, response, q = std::move(q)](
                             absl::StatusOr<v1::TreeHead> head) mutable {
    if (!head.ok()) return reactor->Finish(ToGrpcStatus(head.status()));
    q.below = head->tree_size();
    *response->mutable_tree_head() = *std::move(head);
    store_->ReadLog(q, [this, reactor, response](absl::StatusOr<LogPage> page) {
      if (!page.ok()) return reactor->Finish(ToGrpcStatus(page.status()));
      if (page->more) {
        return reactor->Finish(ToGrpcStatus(absl::ResourceExhaustedError(
            absl::StrCat("more than ", kMaxReportLines,
                         " disclosures; use QueryLog with the subject "
                         "filter and paging"))));
      }
      for (const LoggedEntry& logged : page->entries) {
        if (logged.entry.kind() == v1::ENTRY_KIND_ACCESS) {
          *response->add_looks() = ReportLook(*registry_, logged.entry);
        } else {
          *response->add_lines() = ReportLine(*registry_, logged.entry);
        }
      }
      reactor->Finish(grpc::Status::OK);
    });
  });
}

grpc::ServerUnaryReactor* AuditService::ListOverrideReviews(
    grpc::CallbackServerContext* ctx,
    const v1::ListOverrideReviewsRequest* request,
    v1::ListOverrideReviewsResponse* response) {
  absl::StatusOr<Caller> caller = Authorize(ctx);
  if (!caller.ok()) return FinishUnary(ctx, caller.status());
  if (absl::Status s = CheckRequestShape(*request); !s.ok()) {
    return FinishUnary(ctx, s);
  }
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  // The reviews carry the sealed statements: reading them is logged.
  v1::LogEntry access = Access(ctx, *caller, "ListOverrideReviews", nullptr);
  if (request->include_reviewed()) access.set_read_filter("include_reviewed");
  store_->ListOverrideReviews(
      caller->scope, request->include_reviewed(),
      [this, reactor, response, access = std::move(access)](
          absl::StatusOr<std::vector<v1::OverrideReview>> reviews) mutable {
        if (!reviews.ok()) {
          return reactor->Finish(ToGrpcStatus(reviews.status()));
        }
        for (v1::OverrideReview& r : *reviews) {
          *response->add_reviews() = std::move(r);
        }
        FinishAfterAccess(store_, reactor, std::move(access));
      });
  return reactor;
}

grpc::ServerUnaryReactor* AuditService::ReviewOverride(
    grpc::CallbackServerContext* ctx, const v1::ReviewOverrideRequest* request,
    v1::ReviewOverrideResponse* response) {
  absl::StatusOr<Caller> caller = Authorize(ctx);
  if (!caller.ok()) return FinishUnary(ctx, caller.status());
  if (absl::Status s = CheckRequestShape(*request); !s.ok()) {
    return FinishUnary(ctx, s);
  }
  const v1::OverrideReview::Outcome outcome = request->outcome();
  if (outcome == v1::OverrideReview::OUTCOME_PENDING ||
      !v1::OverrideReview::Outcome_IsValid(outcome)) {
    return FinishUnary(ctx, absl::InvalidArgumentError(
                                "outcome must be JUSTIFIED, NOT_JUSTIFIED or "
                                "NEEDS_FOLLOW_UP"));
  }
  if (outcome != v1::OverrideReview::OUTCOME_JUSTIFIED &&
      request->comment().empty()) {
    return FinishUnary(
        ctx, absl::InvalidArgumentError(absl::StrCat(
                 "a comment is required for ",
                 v1::OverrideReview::Outcome_Name(outcome),
                 ": say what was wrong or what must be followed up")));
  }
  if (request->comment().size() > 4000) {
    return FinishUnary(
        ctx, absl::InvalidArgumentError("comment is over 4000 characters"));
  }
  OverrideReviewChange change;
  change.override_sequence = request->log_sequence();
  change.outcome = outcome;
  change.comment = request->comment();
  change.scope = caller->scope;
  v1::LogEntry& e = change.entry;
  SetTime(e.mutable_time(), clock_->Now());
  e.set_kind(v1::ENTRY_KIND_OVERRIDE_REVIEWED);
  e.set_actor(caller->principal.uri());
  *e.mutable_professional() = ProfessionalOf(ctx);
  e.set_allowed(true);
  // The comment stays with the review, out of the log: it may describe
  // the person.
  e.set_reason(absl::StrCat("override ", request->log_sequence(), " reviewed ",
                            v1::OverrideReview::Outcome_Name(outcome)));
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  store_->ReviewOverride(std::move(change),
                         [reactor, response](absl::StatusOr<uint64_t> seq) {
                           if (seq.ok())
                             response->set_review_log_sequence(*seq);
                           reactor->Finish(ToGrpcStatus(seq.status()));
                         });
  return reactor;
}

grpc::ServerUnaryReactor* AuditService::GetTreeHead(
    grpc::CallbackServerContext* ctx, const v1::GetTreeHeadRequest*,
    v1::GetTreeHeadResponse* response) {
  absl::StatusOr<Caller> caller = Authorize(ctx);
  if (!caller.ok()) return FinishUnary(ctx, caller.status());
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  response->set_public_key(public_key_);
  store_->LatestTreeHead(FinishWith(reactor, response->mutable_tree_head()));
  return reactor;
}

grpc::ServerUnaryReactor* AuditService::GetInclusionProof(
    grpc::CallbackServerContext* ctx,
    const v1::GetInclusionProofRequest* request, v1::InclusionProof* response) {
  absl::StatusOr<Caller> caller = Authorize(ctx);
  if (!caller.ok()) return FinishUnary(ctx, caller.status());
  if (absl::Status s = CheckRequestShape(*request); !s.ok()) {
    return FinishUnary(ctx, s);
  }
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  const uint64_t sequence = request->sequence();
  v1::LogEntry access = Access(ctx, *caller, "GetInclusionProof", nullptr);
  access.set_read_filter(
      absl::StrCat("sequence=", sequence, " tree_size=", request->tree_size()));
  store_->LatestTreeHead([this, reactor, response, sequence,
                          size = request->tree_size(),
                          access = std::move(access)](
                             absl::StatusOr<v1::TreeHead> head) mutable {
    if (!head.ok()) return reactor->Finish(ToGrpcStatus(head.status()));
    const uint64_t tree_size = size == 0 ? head->tree_size() : size;
    if (tree_size > head->tree_size()) {
      return reactor->Finish(ToGrpcStatus(absl::OutOfRangeError(absl::StrCat(
          "tree_size ", tree_size, " is beyond the latest signed head's ",
          head->tree_size(), " entries"))));
    }
    if (sequence >= tree_size) {
      return reactor->Finish(
          ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat(
              "sequence ", sequence, " is not below tree_size ", tree_size))));
    }
    store_->ProveInclusion(
        sequence, tree_size,
        FinishLoggedWith(store_, reactor, response, std::move(access)));
  });
  return reactor;
}

grpc::ServerUnaryReactor* AuditService::GetConsistencyProof(
    grpc::CallbackServerContext* ctx,
    const v1::GetConsistencyProofRequest* request,
    v1::ConsistencyProof* response) {
  absl::StatusOr<Caller> caller = Authorize(ctx);
  if (!caller.ok()) return FinishUnary(ctx, caller.status());
  if (absl::Status s = CheckRequestShape(*request); !s.ok()) {
    return FinishUnary(ctx, s);
  }
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  v1::LogEntry access = Access(ctx, *caller, "GetConsistencyProof", nullptr);
  access.set_read_filter(absl::StrCat("first_size=", request->first_size(),
                                      " second_size=", request->second_size()));
  store_->LatestTreeHead([this, reactor, response,
                          first = request->first_size(),
                          second = request->second_size(),
                          access = std::move(access)](
                             absl::StatusOr<v1::TreeHead> head) mutable {
    if (!head.ok()) return reactor->Finish(ToGrpcStatus(head.status()));
    const uint64_t second_size = second == 0 ? head->tree_size() : second;
    if (second_size > head->tree_size()) {
      return reactor->Finish(ToGrpcStatus(absl::OutOfRangeError(absl::StrCat(
          "second_size ", second_size, " is beyond the latest signed head's ",
          head->tree_size(), " entries"))));
    }
    if (first == 0 || first > second_size) {
      return reactor->Finish(ToGrpcStatus(absl::InvalidArgumentError(
          absl::StrCat("first_size must be between 1 and ", second_size,
                       "; got ", first))));
    }
    store_->ProveConsistency(
        first, second_size,
        FinishLoggedWith(store_, reactor, response, std::move(access)));
  });
  return reactor;
}

}  // namespace liaison
