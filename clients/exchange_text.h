// How the liaison command line writes Exchange messages for a person to
// read: one "label: value" line each, labels aligned, nested lines indented
// by two spaces. Every function returns whole lines ending in '\n'.
#ifndef LIAISON_CLIENTS_EXCHANGE_TEXT_H_
#define LIAISON_CLIENTS_EXCHANGE_TEXT_H_

#include <cstdint>
#include <string>

#include "liaison/v1/common.pb.h"
#include "liaison/v1/exchange.pb.h"
#include "liaison/v1/records.pb.h"

namespace liaison::client {

// An enum value's name without its type prefix, in lower case with spaces:
// URGENCY_WITHIN_24H is "within 24h", REFERRAL_STATUS_INFO_REQUESTED is
// "info requested", LEVEL_SUMMARY is "summary".
std::string ReadableName(const std::string& enum_value_name);

// A level's readable name, e.g. "summary".
std::string LevelName(v1::Level level);

// A time as RFC 3339 in UTC to the second, e.g. "2026-11-22T09:41:52Z".
std::string Rfc3339(int64_t unix_seconds);

// An agency and the professional named in the call, e.g.
// "malmo-social (sw-17, duty social worker)".
std::string ActedBy(const std::string& agency_id,
                    const v1::Professional& professional);

// One inbox message: a first line "message: <id>" (the only line that starts
// in the first column, so scripts can find ids with `sed -n
// 's/^message: //p'`), then its kind and the fields a professional needs to
// decide what to do with it, indented. For a referral that includes the
// record's level and which fields were kept, generalised, hashed or
// withheld; for a referral update the new status, by whom and the detail.
std::string DescribeInboxMessage(const v1::InboxMessage& message);

// A referral as GetReferral or UpdateReferral return it: its parties,
// status, urgency, concerns, requested action, the record with its field
// outcomes and any content the caller may see, and its history, oldest
// first.
std::string DescribeReferral(const v1::Referral& referral);

// A consent or refusal as RecordConsent, WithdrawConsent and GetConsent
// return it: its id, who recorded it, whether it is a consent or a refusal,
// who granted it, the subject, the parties and purposes it covers, the
// highest level (consents only), its validity, the evidence and, once
// withdrawn, when.
std::string DescribeConsent(const v1::Consent& consent);

// A case as GetCase, HandOverCase, CloseCase and DetachFromCase return
// it: its manager, whether and how it was closed, each agency attached
// (and, once detached, when and why), and the handovers.
std::string DescribeCase(const v1::Case& c);

}  // namespace liaison::client

#endif  // LIAISON_CLIENTS_EXCHANGE_TEXT_H_
