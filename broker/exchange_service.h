// liaison.v1.Exchange: the API for agency systems. Every method first
// authorises the caller as a registered, active agency.
#ifndef LIAISON_BROKER_EXCHANGE_SERVICE_H_
#define LIAISON_BROKER_EXCHANGE_SERVICE_H_

#include "broker/identity.h"
#include "broker/service_support.h"
#include "liaison/v1/exchange.grpc.pb.h"

namespace liaison {

class ExchangeService final : public v1::Exchange::CallbackService {
 public:
  // `auth` must outlive the service.
  explicit ExchangeService(const Authenticator* auth) : auth_(auth) {}

  LIAISON_PENDING_UNARY(SendReferral, SendReferralRequest, SendReferralResponse)
  LIAISON_PENDING_STREAM(Receive, ReceiveRequest, InboxMessage)
  LIAISON_PENDING_UNARY(Ack, AckRequest, AckResponse)
  LIAISON_PENDING_UNARY(GetReferral, GetReferralRequest, Referral)
  LIAISON_PENDING_UNARY(UpdateReferral, UpdateReferralRequest, Referral)
  LIAISON_PENDING_UNARY(PushSummary, PushSummaryRequest, PushSummaryResponse)
  LIAISON_PENDING_UNARY(RequestSummary, RequestSummaryRequest,
                        RequestSummaryResponse)
  LIAISON_PENDING_UNARY(AnswerSummaryRequest, AnswerSummaryRequestRequest,
                        AnswerSummaryRequestResponse)
  LIAISON_PENDING_UNARY(RecordConsent, RecordConsentRequest, Consent)
  LIAISON_PENDING_UNARY(WithdrawConsent, WithdrawConsentRequest, Consent)
  LIAISON_PENDING_UNARY(GetConsent, GetConsentRequest, Consent)
  LIAISON_PENDING_UNARY(RecordManualDisclosure, RecordManualDisclosureRequest,
                        RecordManualDisclosureResponse)

 private:
  static constexpr v1::PrincipalKind kAllowed[] = {
      v1::PRINCIPAL_KIND_AGENCY};
  static constexpr absl::string_view kServiceName = "Exchange";
  const Authenticator* const auth_;
};

}  // namespace liaison

#endif  // LIAISON_BROKER_EXCHANGE_SERVICE_H_
