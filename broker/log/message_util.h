// Small conversions every part of the broker shares: digests of messages,
// timestamps, and quoting untrusted text.
#ifndef LIAISON_BROKER_LOG_MESSAGE_UTIL_H_
#define LIAISON_BROKER_LOG_MESSAGE_UTIL_H_

#include <google/protobuf/message.h>
#include <google/protobuf/timestamp.pb.h>

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace liaison {

// SHA-256 of `bytes`, 64 lower-case hex digits.
std::string Sha256Hex(absl::string_view bytes);

// The message serialized deterministically (map entries in key order), so
// equal messages give equal bytes and digests.
std::string DeterministicBytes(const google::protobuf::Message& message);

// Whole microseconds, the precision the broker records.
void SetTime(google::protobuf::Timestamp* ts, absl::Time t);
absl::Time TimeOf(const google::protobuf::Timestamp& ts);

// The longest untrusted text an error message or a log entry quotes, in
// bytes.
inline constexpr size_t kQuoteLimit = 200;

// `text` as an error message or a log entry may quote it: unchanged when it
// has at most kQuoteLimit bytes, else cut there on a UTF-8 character
// boundary and marked "...(N bytes)" with its full size.
std::string Bounded(absl::string_view text);

}  // namespace liaison

#endif  // LIAISON_BROKER_LOG_MESSAGE_UTIL_H_
