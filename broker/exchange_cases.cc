// The Exchange service's cases: showing one, handing it over, closing it
// and detaching agencies from it (DESIGN.md rule 10: a closed case, or a
// detached agency, no longer gives a legitimate relationship).
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "broker/exchange_service.h"
#include "broker/log/message_util.h"
#include "broker/log_entries.h"
#include "broker/store/case_rules.h"

namespace liaison {
namespace {

// The start of a CASE_CLOSED or CASE_DETACHED entry.
v1::LogEntry CaseEntry(absl::Time now, v1::EntryKind kind,
                       const v1::Principal& caller,
                       const v1::Professional& professional,
                       const std::string& case_id) {
  v1::LogEntry e;
  SetTime(e.mutable_time(), now);
  e.set_kind(kind);
  e.set_actor(caller.uri());
  *e.mutable_professional() = professional;
  e.set_case_id(case_id);
  e.set_allowed(true);
  return e;
}

}  // namespace

grpc::ServerUnaryReactor* ExchangeService::GetCase(
    grpc::CallbackServerContext* ctx, const v1::GetCaseRequest* request,
    v1::Case* response) {
  absl::StatusOr<v1::Principal> caller = Admit(ctx, *request);
  if (!caller.ok()) return FinishUnary(ctx, caller.status());
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  const v1::Professional professional = ProfessionalOf(ctx);
  store_->GetCase(
      caller->id(), request->case_id(),
      [this, reactor, response, caller = caller->id(),
       access = AccessEntry(clock_->Now(), caller->uri(), &professional,
                            "GetCase")](absl::StatusOr<v1::Case> c) mutable {
        if (!c.ok()) return reactor->Finish(ToGrpcStatus(c.status()));
        // A detached agency's part in the case is over: it sees no more of
        // it, closed or not.
        const v1::CaseAgency* mine = AttachmentOf(*c, caller);
        if (mine != nullptr && mine->has_detached_at()) {
          v1::Case open = *c;
          open.clear_closed_at();
          return reactor->Finish(
              ToGrpcStatus(CaseOpenFor(open, caller, "read the case")));
        }
        access.set_case_id(c->case_id());
        // Whose case it is, unless the reader manages it.
        if (c->manager_agency_id() != caller) {
          access.set_counterpart(c->manager_agency_id());
        }
        *response = CaseAsSeen(*std::move(c));
        FinishAfterAccess(store_, reactor, std::move(access));
      });
  return reactor;
}

grpc::ServerUnaryReactor* ExchangeService::HandOverCase(
    grpc::CallbackServerContext* ctx, const v1::HandOverCaseRequest* request,
    v1::Case* response) {
  absl::StatusOr<v1::Principal> caller = Admit(ctx, *request);
  if (!caller.ok()) return FinishUnary(ctx, caller.status());
  if (request->to_agency_id().empty() || request->note().empty() ||
      request->note().size() > 2000) {
    return FinishUnary(ctx, absl::InvalidArgumentError(
                                "a handover needs to_agency_id and a note of "
                                "1 to 2000 characters"));
  }
  v1::CaseHandover handover;
  handover.set_to_agency_id(request->to_agency_id());
  handover.set_note(request->note());
  *handover.mutable_by() = ProfessionalOf(ctx);
  SetTime(handover.mutable_at(), clock_->Now());
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  store_->HandOverCase(caller->id(), request->case_id(), std::move(handover),
                       [this, reactor, response](absl::StatusOr<v1::Case> c) {
                         if (c.ok()) *response = CaseAsSeen(*std::move(c));
                         reactor->Finish(ToGrpcStatus(c.status()));
                       });
  return reactor;
}

grpc::ServerUnaryReactor* ExchangeService::CloseCase(
    grpc::CallbackServerContext* ctx, const v1::CloseCaseRequest* request,
    v1::Case* response) {
  absl::StatusOr<v1::Principal> caller = Admit(ctx, *request);
  if (!caller.ok()) return FinishUnary(ctx, caller.status());
  if (request->case_id().empty()) {
    return FinishUnary(ctx, absl::InvalidArgumentError("case_id is missing"));
  }
  if (request->outcome() == v1::CASE_OUTCOME_UNSPECIFIED) {
    return FinishUnary(ctx,
                       absl::InvalidArgumentError(
                           "outcome is missing; say how the case ended, e.g. "
                           "CASE_OUTCOME_SUPPORT_IN_PLACE or "
                           "CASE_OUTCOME_NO_FURTHER_ACTION"));
  }
  const absl::Time now = clock_->Now();
  CaseChange change;
  change.agency_id = caller->id();
  change.case_id = request->case_id();
  change.outcome = request->outcome();
  change.at = now;
  change.entry = CaseEntry(now, v1::ENTRY_KIND_CASE_CLOSED, *caller,
                           ProfessionalOf(ctx), request->case_id());
  change.entry.set_reason(
      absl::StrCat("case closed with outcome ",
                   absl::StripPrefix(v1::CaseOutcome_Name(request->outcome()),
                                     "CASE_OUTCOME_")));
  return CommitCaseChange(ctx, std::move(change), response);
}

grpc::ServerUnaryReactor* ExchangeService::DetachFromCase(
    grpc::CallbackServerContext* ctx, const v1::DetachFromCaseRequest* request,
    v1::Case* response) {
  absl::StatusOr<v1::Principal> caller = Admit(ctx, *request);
  if (!caller.ok()) return FinishUnary(ctx, caller.status());
  if (request->case_id().empty() || request->agency_id().empty()) {
    return FinishUnary(ctx, absl::InvalidArgumentError(
                                "a detachment needs case_id and agency_id"));
  }
  if (request->reason() == v1::DETACH_REASON_UNSPECIFIED) {
    return FinishUnary(
        ctx, absl::InvalidArgumentError(
                 "reason is missing; say why the agency leaves the case, e.g. "
                 "DETACH_REASON_NO_LONGER_INVOLVED"));
  }
  const absl::Time now = clock_->Now();
  CaseChange change;
  change.agency_id = caller->id();
  change.case_id = request->case_id();
  change.detach_agency_id = request->agency_id();
  change.detach_reason = request->reason();
  change.at = now;
  change.entry = CaseEntry(now, v1::ENTRY_KIND_CASE_DETACHED, *caller,
                           ProfessionalOf(ctx), request->case_id());
  change.entry.set_counterpart(request->agency_id());
  change.entry.set_reason(
      absl::StrCat("agency detached from the case: ",
                   absl::StripPrefix(v1::DetachReason_Name(request->reason()),
                                     "DETACH_REASON_")));
  return CommitCaseChange(ctx, std::move(change), response);
}

grpc::ServerUnaryReactor* ExchangeService::CommitCaseChange(
    grpc::CallbackServerContext* ctx, CaseChange change, v1::Case* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  store_->ChangeCase(std::move(change),
                     [this, reactor, response](absl::StatusOr<v1::Case> c) {
                       if (c.ok()) *response = CaseAsSeen(*std::move(c));
                       reactor->Finish(ToGrpcStatus(c.status()));
                     });
  return reactor;
}

}  // namespace liaison
