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

v1::ReferralEvent EventForSender(const v1::ReferralEvent& event,
                                 v1::Level level) {
  v1::ReferralEvent out = event;
  out.set_feedback_level(level);
  if (level < v1::LEVEL_SUMMARY) out.clear_by();
  if (level < v1::LEVEL_CATEGORY) out.clear_detail();
  return out;
}

namespace {

// Changes the broker records itself (SENT, DELIVERED) are the sender's
// own knowledge; the recipient's changes are feedback.
bool IsRecipientChange(const v1::ReferralEvent& e) {
  return e.status() != v1::REFERRAL_STATUS_SENT &&
         e.status() != v1::REFERRAL_STATUS_DELIVERED;
}

}  // namespace

v1::Referral SenderView(const v1::Referral& referral) {
  v1::Referral out = referral;
  out.clear_history();
  for (const v1::ReferralEvent& e : referral.history()) {
    if (!IsRecipientChange(e)) {
      *out.add_history() = e;
    } else if (e.feedback_level() != v1::LEVEL_NONE) {
      *out.add_history() = EventForSender(e, e.feedback_level());
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
