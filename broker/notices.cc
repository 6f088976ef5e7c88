#include "broker/notices.h"

#include "absl/strings/str_cat.h"
#include "broker/pseudonym.h"
#include "certs/x509.h"

namespace liaison {
namespace {

v1::InboxMessage NewNotice(absl::Time now) {
  v1::InboxMessage m;
  m.set_message_id(NewId("msg-"));
  m.mutable_enqueued_at()->set_seconds(absl::ToUnixSeconds(now));
  return m;
}

}  // namespace

v1::InboxMessage NonDeliveryNotice(const std::string& message_id,
                                   const std::string& referral_id,
                                   const std::string& recipient_agency_id,
                                   absl::Time now) {
  v1::InboxMessage m = NewNotice(now);
  m.set_referral_id(referral_id);
  v1::Notice* n = m.mutable_notice();
  n->set_kind(v1::Notice::KIND_NON_DELIVERY);
  n->add_message_ids(message_id);
  n->set_referral_id(referral_id);
  n->set_text(absl::StrCat(
      "message ", message_id, referral_id.empty() ? "" : " (referral ",
      referral_id, referral_id.empty() ? "" : ")", " to agency \"",
      recipient_agency_id, "\" expired unacknowledged at ", x509::Rfc3339(now),
      "; it was not delivered. Contact the agency by another channel or "
      "send again."));
  return m;
}

v1::InboxMessage EscalationNotice(const v1::Referral& referral,
                                  absl::Time deadline, absl::Time now) {
  v1::InboxMessage m = NewNotice(now);
  m.set_referral_id(referral.referral_id());
  v1::Notice* n = m.mutable_notice();
  n->set_kind(v1::Notice::KIND_ESCALATION);
  n->set_referral_id(referral.referral_id());
  n->set_text(absl::StrCat(
      v1::Urgency_Name(referral.urgency()), " referral ",
      referral.referral_id(), " from \"", referral.sender_agency_id(),
      "\" to \"", referral.recipient_agency_id(),
      "\" was not acknowledged by its deadline ", x509::Rfc3339(deadline),
      "; follow it up directly with the recipient."));
  return m;
}

}  // namespace liaison
