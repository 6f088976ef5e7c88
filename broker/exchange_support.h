// What the Exchange service's handlers share (exchange_service.cc,
// exchange_summaries.cc, exchange_consents.cc): the questions they put to
// the decision function, how they answer after a commit, and the notices a
// decision queues. Internal to the service.
#ifndef LIAISON_BROKER_EXCHANGE_SUPPORT_H_
#define LIAISON_BROKER_EXCHANGE_SUPPORT_H_

#include <grpcpp/grpcpp.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "broker/inbox_waiters.h"
#include "broker/registry.h"
#include "broker/service_support.h"
#include "broker/store/store.h"
#include "policy/disclosure.h"
#include "policy/policy_set.h"

namespace liaison::exchange {

// The level an envelope shown outside a disclosure decision is reduced
// to; NONE (every content field withheld) when the set has no rules for it.
v1::Level ViewLevel(const policy::PolicySet& set, absl::string_view name);

// The question for the decision function: may `from` disclose to `to`?
// Each party is a registered agency (a v1::Agency, or the caller's
// v1::Principal).
template <typename From, typename To>
policy::DisclosureQuery QueryFor(const From& from, const To& to,
                                 const std::string& purpose,
                                 const v1::LegalBasis& basis,
                                 bool legitimate_relationship,
                                 std::string record_type, absl::Time now) {
  policy::DisclosureQuery q;
  q.sender_agency_id = from.id();
  q.sender_sector = from.sector();
  q.sender_jurisdiction = from.jurisdiction();
  q.recipient_agency_id = to.id();
  q.recipient_sector = to.sector();
  q.purpose = purpose;
  q.record_type = std::move(record_type);
  q.basis = basis;
  q.legitimate_relationship = legitimate_relationship;
  q.at = now;
  return q;
}

// Adds what the consent registry says to a query on a consent basis.
void AddConsentFacts(const ConsentFacts& facts, policy::DisclosureQuery* q);

// The override alerts for an allowed disclosure under an override: one for
// the agency whose data left, naming the messages delivered.
void AddOverrideAlert(const Registry& registry, const v1::LogEntry& entry,
                      const std::string& source_agency_id,
                      const std::string& recipient_agency_id,
                      const std::vector<std::string>& message_ids,
                      const std::string& referral_id, absl::Time now,
                      std::vector<QueuedNotice>* notices);

// A store completion that answers the call with the committed response,
// then wakes the inbox streams of the agencies in `notify`.
template <typename Response>
StoreDone<Response> AnswerThenNotify(grpc::ServerUnaryReactor* reactor,
                                     Response* response, InboxWaiters* waiters,
                                     std::vector<std::string> notify) {
  return [reactor, response, waiters,
          notify = std::move(notify)](absl::StatusOr<Response> result) {
    if (!result.ok()) {
      reactor->Finish(ToGrpcStatus(result.status()));
      return;
    }
    *response = *std::move(result);
    reactor->Finish(grpc::Status::OK);
    for (const std::string& agency : notify) waiters->Notify(agency);
  };
}

// Appends a denial's entry and finishes the call with PERMISSION_DENIED
// naming the entry and the reason; if the log cannot take the entry, says
// that instead.
void FinishDenied(Store* store, grpc::ServerUnaryReactor* reactor,
                  v1::LogEntry entry);

}  // namespace liaison::exchange

#endif  // LIAISON_BROKER_EXCHANGE_SUPPORT_H_
