// liaison.v1.Exchange: the API for agency systems. Every method first
// authorises the caller as a registered, active agency. Referrals go
// through the one decision function and the one abstraction in policy/,
// and are stored, logged and queued for the recipient in one commit before
// the sender is answered.
#ifndef LIAISON_BROKER_EXCHANGE_SERVICE_H_
#define LIAISON_BROKER_EXCHANGE_SERVICE_H_

#include <functional>
#include <memory>
#include <string>

#include "broker/basics/clock.h"
#include "broker/exchange_validation.h"
#include "broker/identity.h"
#include "broker/inbox_waiters.h"
#include "broker/pseudonym.h"
#include "broker/registry.h"
#include "broker/service_support.h"
#include "broker/store/store.h"
#include "liaison/v1/exchange.grpc.pb.h"
#include "policy/disclosure.h"

namespace liaison {

struct ExchangeOptions {
  // Time an unacknowledged inbox message waits before it expires.
  absl::Duration inbox_ttl = absl::Hours(24 * 5);
  // Lease for streamed messages when the caller asks for none.
  absl::Duration default_lease = absl::Seconds(60);
  // Longest lease a caller may ask for.
  absl::Duration max_lease = absl::Hours(1);
  // Acknowledgement deadlines by urgency; past them the sweeper escalates.
  absl::Duration acknowledge_within_24h = absl::Hours(24);
  absl::Duration acknowledge_immediate = absl::Hours(1);
};

class ExchangeService final : public v1::Exchange::CallbackService {
 public:
  // Every pointer must outlive the service.
  ExchangeService(const Authenticator* auth, const Registry* registry,
                  Store* store, const policy::PolicyInForce* policy,
                  const Pseudonymizer* pseudonyms, InboxWaiters* waiters,
                  const Clock* clock, ExchangeOptions options);

  grpc::ServerUnaryReactor* SendReferral(
      grpc::CallbackServerContext* ctx, const v1::SendReferralRequest* request,
      v1::SendReferralResponse* response) override;
  grpc::ServerWriteReactor<v1::InboxMessage>* Receive(
      grpc::CallbackServerContext* ctx,
      const v1::ReceiveRequest* request) override;
  grpc::ServerUnaryReactor* Ack(grpc::CallbackServerContext* ctx,
                                const v1::AckRequest* request,
                                v1::AckResponse* response) override;
  grpc::ServerBidiReactor<v1::DeliverRequest, v1::DeliverResponse>* Deliver(
      grpc::CallbackServerContext* ctx) override;
  grpc::ServerUnaryReactor* GetReferral(grpc::CallbackServerContext* ctx,
                                        const v1::GetReferralRequest* request,
                                        v1::Referral* response) override;
  grpc::ServerUnaryReactor* UpdateReferral(
      grpc::CallbackServerContext* ctx,
      const v1::UpdateReferralRequest* request,
      v1::Referral* response) override;

  grpc::ServerUnaryReactor* RecallReferral(
      grpc::CallbackServerContext* ctx,
      const v1::RecallReferralRequest* request,
      v1::Referral* response) override;

  grpc::ServerUnaryReactor* GetCase(grpc::CallbackServerContext* ctx,
                                    const v1::GetCaseRequest* request,
                                    v1::Case* response) override;
  grpc::ServerUnaryReactor* HandOverCase(grpc::CallbackServerContext* ctx,
                                         const v1::HandOverCaseRequest* request,
                                         v1::Case* response) override;
  grpc::ServerUnaryReactor* CloseCase(grpc::CallbackServerContext* ctx,
                                      const v1::CloseCaseRequest* request,
                                      v1::Case* response) override;
  grpc::ServerUnaryReactor* DetachFromCase(
      grpc::CallbackServerContext* ctx,
      const v1::DetachFromCaseRequest* request, v1::Case* response) override;

  grpc::ServerUnaryReactor* PushSummary(
      grpc::CallbackServerContext* ctx, const v1::PushSummaryRequest* request,
      v1::PushSummaryResponse* response) override;
  grpc::ServerUnaryReactor* RequestSummary(
      grpc::CallbackServerContext* ctx,
      const v1::RequestSummaryRequest* request,
      v1::RequestSummaryResponse* response) override;
  grpc::ServerUnaryReactor* AnswerSummaryRequest(
      grpc::CallbackServerContext* ctx,
      const v1::AnswerSummaryRequestRequest* request,
      v1::AnswerSummaryRequestResponse* response) override;
  grpc::ServerUnaryReactor* RecordConsent(
      grpc::CallbackServerContext* ctx, const v1::RecordConsentRequest* request,
      v1::Consent* response) override;
  grpc::ServerUnaryReactor* WithdrawConsent(
      grpc::CallbackServerContext* ctx,
      const v1::WithdrawConsentRequest* request,
      v1::Consent* response) override;
  grpc::ServerUnaryReactor* GetConsent(grpc::CallbackServerContext* ctx,
                                       const v1::GetConsentRequest* request,
                                       v1::Consent* response) override;
  grpc::ServerUnaryReactor* RecordManualDisclosure(
      grpc::CallbackServerContext* ctx,
      const v1::RecordManualDisclosureRequest* request,
      v1::RecordManualDisclosureResponse* response) override;

 private:
  // Ack's work, for Ack and Deliver: logs the delivery, moves a referral
  // on and tells its sender, and calls back once durable or refused.
  void Acknowledge(const v1::Principal& caller,
                   const v1::Professional& professional,
                   const std::string& message_id,
                   std::function<void(absl::Status)> done);
  // A referral as its sender sees it: the recipient's changes only as they
  // were fed back.
  v1::Referral AsSenderSees(const v1::Referral& referral) const;
  // Reduces a notice by the policy's "notice" envelope rules on its way
  // out of an inbox stream.
  std::function<void(v1::InboxMessage*)> NoticeEgress() const;
  // The caller, authorised as a registered, active agency, once the
  // request's shape is checked (CheckRequestShape); the error to answer
  // with otherwise.
  absl::StatusOr<v1::Principal> Admit(
      grpc::CallbackServerContext* ctx,
      const google::protobuf::Message& request) const;
  // A decision and the record abstracted by it, from one snapshot of the
  // policy set even if a reload swaps the set in force meanwhile.
  struct Decided {
    policy::Decision decision;
    v1::AbstractedRecord abstracted;
    // The snapshot that decided, for the envelope around the record.
    std::shared_ptr<const policy::PolicySet> policy;
  };
  // `record` may be null when none is attached yet (a summary request).
  Decided DecideAndAbstract(const policy::DisclosureQuery& query,
                            const v1::Record* record) const;
  // Reduces `message`, an envelope of the kind `name` names, to `level` by
  // `policy`'s envelope rules (policy::AbstractEnvelope) as of `now`.
  void Envelope(const policy::PolicySet& policy, absl::string_view name,
                v1::Level level, google::protobuf::Message* message,
                absl::Time now, absl::string_view agreement_id = "") const;
  // The recipient's status change as the referrer was told of it, at the
  // level of the feedback decision, by the rules of its agreement
  // (event.feedback_agreement_id).
  v1::ReferralEvent ToldToSender(const policy::PolicySet& policy,
                                 const v1::ReferralEvent& event,
                                 v1::Level level) const;
  // Runs `then` with what the consent registry holds for a decision on
  // `basis` about the subject: for a consent basis the consent and the
  // subject's refusals, read from the store (the call fails with the
  // store's error if it cannot be read); for other bases nothing, at once.
  void WithConsentFacts(const v1::LegalBasis& basis,
                        const std::string& subject_pseudonym,
                        grpc::ServerUnaryReactor* reactor,
                        std::function<void(const ConsentFacts&)> then) const;
  // The parts of PushSummary, RequestSummary and AnswerSummaryRequest that
  // decide and commit, once the case and the consent facts are read.
  void PushToCase(grpc::ServerUnaryReactor* reactor,
                  const v1::PushSummaryRequest& request,
                  v1::PushSummaryResponse* response, absl::Time now,
                  const v1::Principal& sender,
                  const v1::Professional& professional,
                  const std::string& pseudonym, const v1::Case& kase,
                  const ConsentFacts& consent);
  void AskHolder(grpc::ServerUnaryReactor* reactor,
                 const v1::RequestSummaryRequest& request,
                 v1::RequestSummaryResponse* response,
                 const v1::Principal& requester, const v1::Agency& holder,
                 const v1::Professional& professional,
                 const std::string& pseudonym, const ConsentFacts& consent);
  void Answer(grpc::ServerUnaryReactor* reactor,
              const v1::AnswerSummaryRequestRequest& request,
              v1::AnswerSummaryRequestResponse* response,
              const v1::Principal& holder, const v1::Professional& professional,
              const std::string& pseudonym, const StoredSummaryRequest& stored,
              const v1::Agency& requester, const ConsentFacts& consent);
  // Whether `caller` may see `consent`: it recorded it, or the consent
  // names it as a disclosing party or a recipient.
  bool MaySee(const v1::Principal& caller, const v1::Consent& consent) const;
  // A case as its attached agencies may see it: at the policy's case view
  // level.
  v1::Case CaseAsSeen(v1::Case kase) const;
  // Commits a closure or a detachment and answers with the case.
  grpc::ServerUnaryReactor* CommitCaseChange(grpc::CallbackServerContext* ctx,
                                             CaseChange change,
                                             v1::Case* response);
  // `consent` as `caller` may see it: as recorded by the agency that
  // recorded it, at the policy's consent view level by anyone else.
  v1::Consent ConsentAsSeenBy(const v1::Principal& caller,
                              const v1::Consent& consent) const;
  // The agency a destination names: NOT_FOUND for an unknown agency or a
  // sector and area with no route. `what` names the destination's role.
  absl::StatusOr<v1::Agency> Resolve(const v1::Destination& destination,
                                     absl::string_view what) const;

  static constexpr v1::PrincipalKind kAllowed[] = {v1::PRINCIPAL_KIND_AGENCY};
  static constexpr absl::string_view kServiceName = "Exchange";

  const Authenticator* const auth_;
  const Registry* const registry_;
  Store* const store_;
  const policy::PolicyInForce* const policy_;
  const Pseudonymizer* const pseudonyms_;
  InboxWaiters* const waiters_;
  const Clock* const clock_;
  const ExchangeOptions options_;
};

}  // namespace liaison

#endif  // LIAISON_BROKER_EXCHANGE_SERVICE_H_
