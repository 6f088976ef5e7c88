#include "policy/envelopes.h"

#include <utility>

#include "liaison/v1/exchange.pb.h"

namespace liaison::policy {
namespace {

struct Envelope {
  std::string name;
  const google::protobuf::Descriptor* type;
  bool view;
};

const std::vector<Envelope>& Envelopes() {
  static const auto* envelopes = new std::vector<Envelope>{
      {"referral", v1::Referral::descriptor(), false},
      {"referral_update", v1::ReferralEvent::descriptor(), false},
      {"summary_request", v1::SummaryRequestReceived::descriptor(), false},
      {"summary", v1::SummaryReceived::descriptor(), false},
      {"notice", v1::Notice::descriptor(), true},
      {"case", v1::Case::descriptor(), true},
      {"consent", v1::Consent::descriptor(), true},
  };
  return *envelopes;
}

const Envelope* Find(absl::string_view name) {
  for (const Envelope& e : Envelopes()) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

}  // namespace

const std::vector<std::string>& EnvelopeNames() {
  static const auto* names = [] {
    auto* out = new std::vector<std::string>;
    for (const Envelope& e : Envelopes()) out->push_back(e.name);
    return out;
  }();
  return *names;
}

const google::protobuf::Descriptor* EnvelopeType(absl::string_view name) {
  const Envelope* e = Find(name);
  return e == nullptr ? nullptr : e->type;
}

bool EnvelopeIsView(absl::string_view name) {
  const Envelope* e = Find(name);
  return e != nullptr && e->view;
}

}  // namespace liaison::policy
