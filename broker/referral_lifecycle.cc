#include "broker/referral_lifecycle.h"

#include <cctype>

#include "absl/strings/str_cat.h"

namespace liaison {

std::string StatusName(v1::ReferralStatus status) {
  std::string name = v1::ReferralStatus_Name(status);
  const std::string prefix = "REFERRAL_STATUS_";
  if (name.rfind(prefix, 0) == 0) name = name.substr(prefix.size());
  for (char& c : name) c = static_cast<char>(std::tolower(c));
  return name;
}

namespace {

// Changes the broker records itself (SENT, DELIVERED) and the sender's
// taking it back are the sender's own knowledge; the recipient's changes
// are feedback.
bool IsRecipientChange(const v1::ReferralEvent& e) {
  return e.status() != v1::REFERRAL_STATUS_SENT &&
         e.status() != v1::REFERRAL_STATUS_DELIVERED &&
         e.status() != v1::REFERRAL_STATUS_WITHDRAWN &&
         e.status() != v1::REFERRAL_STATUS_RECALLED;
}

}  // namespace

v1::Referral SenderView(
    const v1::Referral& referral,
    const std::function<v1::ReferralEvent(const v1::ReferralEvent&)>& told) {
  v1::Referral out = referral;
  out.clear_history();
  for (const v1::ReferralEvent& e : referral.history()) {
    if (e.status() == v1::REFERRAL_STATUS_DELIVERED) {
      // Known to the sender from its receipt, without who acknowledged it
      // (events stored before receipts stopped naming them kept it).
      v1::ReferralEvent& delivered = *out.add_history() = e;
      delivered.clear_by();
    } else if (!IsRecipientChange(e)) {
      *out.add_history() = e;
    } else if (e.feedback_level() != v1::LEVEL_NONE) {
      *out.add_history() = told(e);
    }
  }
  if (out.history_size() > 0) {
    out.set_status(out.history(out.history_size() - 1).status());
  }
  return out;
}

absl::Status CheckRecipientTransition(v1::ReferralStatus from,
                                      v1::ReferralStatus to,
                                      const std::string& detail) {
  using S = v1::ReferralStatus;
  bool allowed = false;
  switch (to) {
    case S::REFERRAL_STATUS_ACKNOWLEDGED:
      allowed = from == S::REFERRAL_STATUS_SENT ||
                from == S::REFERRAL_STATUS_DELIVERED;
      break;
    case S::REFERRAL_STATUS_ACCEPTED:
    case S::REFERRAL_STATUS_DECLINED:
    case S::REFERRAL_STATUS_INFO_REQUESTED:
      allowed = from == S::REFERRAL_STATUS_SENT ||
                from == S::REFERRAL_STATUS_DELIVERED ||
                from == S::REFERRAL_STATUS_ACKNOWLEDGED ||
                from == S::REFERRAL_STATUS_INFO_REQUESTED;
      break;
    case S::REFERRAL_STATUS_CLOSED:
      allowed = from == S::REFERRAL_STATUS_ACCEPTED ||
                from == S::REFERRAL_STATUS_DECLINED ||
                from == S::REFERRAL_STATUS_INFO_REQUESTED ||
                from == S::REFERRAL_STATUS_ACKNOWLEDGED;
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "the recipient cannot set a referral to ", StatusName(to),
          "; choose acknowledged, accepted, declined, info_requested or "
          "closed"));
  }
  if (!allowed) {
    return absl::FailedPreconditionError(
        absl::StrCat("a referral that is ", StatusName(from), " cannot become ",
                     StatusName(to)));
  }
  if (detail.empty()) {
    if (to == S::REFERRAL_STATUS_DECLINED) {
      return absl::InvalidArgumentError("declining needs a reason in detail");
    }
    if (to == S::REFERRAL_STATUS_INFO_REQUESTED) {
      return absl::InvalidArgumentError(
          "requesting information needs the question in detail");
    }
    if (to == S::REFERRAL_STATUS_CLOSED) {
      return absl::InvalidArgumentError("closing needs the outcome in detail");
    }
  }
  return absl::OkStatus();
}

}  // namespace liaison
