#include "broker/audit_service.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "broker/basics/status_macros.h"
#include "broker/log/message_util.h"
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

// Streams an export in batches read from the store. At most one store read
// or one write is outstanding; Finish comes only when neither is, so the
// reactor is deleted only when nothing refers to it. Store and gRPC calls
// are made outside the lock: either may call back on the same thread.
class ExportStream final : public grpc::ServerWriteReactor<v1::ExportedEntry> {
 public:
  ExportStream(Store* store, LogQuery query, uint64_t requested_size)
      : store_(store), query_(std::move(query)), requested_(requested_size) {
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
  auto read = [this, reactor, response,
               filter = request->filter()](LogQuery q) {
    store_->ReadLog(q, [reactor, response, filter,
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
      reactor->Finish(grpc::Status::OK);
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
  return new ExportStream(store_, *std::move(query), request->tree_size());
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
  absl::StatusOr<LogQuery> query = ToQuery(filter, *caller);
  if (!query.ok()) return FinishUnary(ctx, query.status());
  query->limit = kMaxReportLines;
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  store_->LatestTreeHead([this, reactor, response, q = *std::move(query)](
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
        *response->add_lines() = ReportLine(*registry_, logged.entry);
      }
      reactor->Finish(grpc::Status::OK);
    });
  });
  return reactor;
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
  store_->ListOverrideReviews(
      caller->scope, request->include_reviewed(),
      [reactor,
       response](absl::StatusOr<std::vector<v1::OverrideReview>> reviews) {
        if (reviews.ok()) {
          for (v1::OverrideReview& r : *reviews) {
            *response->add_reviews() = std::move(r);
          }
        }
        reactor->Finish(ToGrpcStatus(reviews.status()));
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
  store_->LatestTreeHead([this, reactor, response, sequence,
                          size = request->tree_size()](
                             absl::StatusOr<v1::TreeHead> head) {
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
    store_->ProveInclusion(sequence, tree_size, FinishWith(reactor, response));
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
  store_->LatestTreeHead([this, reactor, response,
                          first = request->first_size(),
                          second = request->second_size()](
                             absl::StatusOr<v1::TreeHead> head) {
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
    store_->ProveConsistency(first, second_size, FinishWith(reactor, response));
  });
  return reactor;
}

}  // namespace liaison
