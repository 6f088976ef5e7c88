// The egress rule, checked against the API itself: every field of every
// message an agency can receive is routing metadata, a record the record
// rules reduce, or has a rule in the default policy's envelope rules. A
// field added to the API without a rule fails here before it can leak.
#include "policy/envelopes.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "liaison/v1/exchange.pb.h"
#include "policy/disclosure.h"
#include "policy/policy_set.h"
#include "policy/transforms.h"

namespace liaison::policy {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

std::shared_ptr<const PolicySet> DefaultSet() {
  auto loaded =
      PolicySet::FromDirectory(std::string(LIAISON_POLICY_DIR) + "/default");
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  return loaded.ok() ? *loaded : nullptr;
}

std::set<std::string> Ruled(const v1::EnvelopeRules& rules) {
  std::set<std::string> out;
  for (const v1::FieldRule& r : rules.fields()) out.insert(r.field());
  return out;
}

// The envelope name of `type`, or "" when it is not an envelope message.
std::string EnvelopeOf(const Descriptor* type) {
  for (const std::string& name : EnvelopeNames()) {
    if (EnvelopeType(name) == type) return name;
  }
  return "";
}

// Responses that tell the caller about its own call (ids, levels, its own
// deliveries) and carry nothing from another agency.
const std::set<const Descriptor*>& CallersOwnResults() {
  static const auto* results = new std::set<const Descriptor*>{
      v1::SendReferralResponse::descriptor(),
      v1::AckResponse::descriptor(),
      v1::PushSummaryResponse::descriptor(),
      v1::RequestSummaryResponse::descriptor(),
      v1::AnswerSummaryRequestResponse::descriptor(),
      v1::RecordManualDisclosureResponse::descriptor(),
      // Deliver's answers to the caller's acknowledgements.
      v1::AcknowledgedMessages::descriptor(),
  };
  return *results;
}

TEST(Egress, EveryFieldAnAgencyCanReceiveHasARule) {
  const std::shared_ptr<const PolicySet> set = DefaultSet();
  ASSERT_NE(set, nullptr);
  std::vector<std::string> problems;
  // Each envelope message: every content field covered by the default set.
  for (const std::string& name : EnvelopeNames()) {
    const v1::EnvelopeRules* rules = set->FindEnvelopeRules(name);
    if (rules == nullptr) {
      problems.push_back(name + ": no envelope rules");
      continue;
    }
    for (const std::string& field :
         FieldsWithoutRule(EnvelopeType(name), Ruled(*rules))) {
      problems.push_back(name + "." + field + ": no rule");
    }
  }
  // What the Exchange service returns: an envelope message, the inbox
  // stream, or a result about the caller's own call.
  const google::protobuf::ServiceDescriptor* exchange =
      v1::InboxMessage::descriptor()->file()->FindServiceByName("Exchange");
  ASSERT_NE(exchange, nullptr);
  bool inbox_returned = false;
  for (int i = 0; i < exchange->method_count(); ++i) {
    const Descriptor* out = exchange->method(i)->output_type();
    // A stream of several kinds (Deliver's): each kind must pass.
    std::vector<const Descriptor*> kinds = {out};
    if (out == v1::DeliverResponse::descriptor()) {
      kinds.clear();
      for (int f = 0; f < out->field_count(); ++f) {
        if (out->field(f)->message_type() == nullptr) {
          problems.push_back("DeliverResponse." + out->field(f)->name() +
                             ": not a message");
          continue;
        }
        kinds.push_back(out->field(f)->message_type());
      }
    }
    for (const Descriptor* kind : kinds) {
      if (!EnvelopeOf(kind).empty() || CallersOwnResults().count(kind) > 0) {
        continue;
      }
      if (kind == v1::InboxMessage::descriptor()) {
        inbox_returned = true;
        continue;
      }
      problems.push_back(exchange->method(i)->name() + " returns " +
                         kind->full_name() +
                         ", which is neither an envelope message nor the "
                         "caller's own result");
    }
  }
  EXPECT_TRUE(inbox_returned);
  // Every inbox message field is routing or a body that is an envelope.
  const Descriptor* inbox = v1::InboxMessage::descriptor();
  for (int f = 0; f < inbox->field_count(); ++f) {
    const FieldDescriptor* field = inbox->field(f);
    if (IsRouting(field)) continue;
    if (field->message_type() != nullptr &&
        !EnvelopeOf(field->message_type()).empty()) {
      continue;
    }
    problems.push_back("InboxMessage." + field->name() +
                       ": neither routing nor an envelope message");
  }
  EXPECT_TRUE(problems.empty()) << absl::StrJoin(problems, "\n");
}

TEST(Egress, AFieldWithoutARuleIsNamedAndWithheld) {
  const std::shared_ptr<const PolicySet> set = DefaultSet();
  ASSERT_NE(set, nullptr);
  std::set<std::string> ruled = Ruled(*set->FindEnvelopeRules("referral"));
  ruled.erase("requested_action");
  EXPECT_EQ(FieldsWithoutRule(v1::Referral::descriptor(), ruled),
            std::vector<std::string>{"requested_action"});
  // Rules for some fields of a message field cover only those.
  ruled.erase("history.by");
  EXPECT_EQ(FieldsWithoutRule(v1::Referral::descriptor(), ruled),
            (std::vector<std::string>{"requested_action", "history.by"}));
}

}  // namespace
}  // namespace liaison::policy
