// Fuzzes abstraction of arbitrary records under the default policy set.
// The input is a liaison.v1.Record in text format when it parses as one,
// else in the binary wire format (so mutations reach unknown fields and
// odd encodings).
//
// Properties, at every level: abstraction never crashes and gives the same
// bytes twice; nothing unknown to the schema survives; every field the
// outcome calls withheld is absent; a denial carries no record; FULL
// carries the record as sent.
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/time/civil_time.h"
#include "policy/disclosure.h"
#include "policy/transforms.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using liaison::fuzz::Violated;
namespace v1 = liaison::v1;

bool HasUnknownFields(const Message& m) {
  const Reflection* r = m.GetReflection();
  if (!r->GetUnknownFields(m).empty()) return true;
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const FieldDescriptor* f : fields) {
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (f->is_repeated()) {
      for (int i = 0; i < r->FieldSize(m, f); ++i) {
        if (HasUnknownFields(r->GetRepeatedMessage(m, f, i))) return true;
      }
    } else if (HasUnknownFields(r->GetMessage(m, f))) {
      return true;
    }
  }
  return false;
}

// True when the field at `path` ("address.street") is set in `record`.
bool IsSet(const v1::Record& record, const std::string& type,
           const std::string& path) {
  const FieldDescriptor* which =
      v1::Record::descriptor()->FindFieldByName(type);
  const Message* msg = &record.GetReflection()->GetMessage(record, which);
  const auto fields =
      liaison::policy::ResolveFieldPath(msg->GetDescriptor(), path);
  if (fields.empty()) return false;
  for (size_t i = 0; i + 1 < fields.size(); ++i) {
    if (!msg->GetReflection()->HasField(*msg, fields[i])) return false;
    msg = &msg->GetReflection()->GetMessage(*msg, fields[i]);
  }
  const FieldDescriptor* last = fields.back();
  return last->is_repeated() ? msg->GetReflection()->FieldSize(*msg, last) > 0
                             : msg->GetReflection()->HasField(*msg, last);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  liaison::fuzz::QuietProtobuf();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  v1::Record record;
  google::protobuf::TextFormat::Parser text;
  text.AllowPartialMessage(true);
  // Quiet: most mutated inputs are not text.
  struct Silent : google::protobuf::io::ErrorCollector {
    void AddError(int, int, const std::string&) override {}
  } silent;
  text.RecordErrorsTo(&silent);
  if (!text.ParseFromString(input, &record) && !record.ParseFromString(input)) {
    return 0;
  }
  const liaison::policy::PolicySet& set = liaison::fuzz::DefaultSet();
  const std::string type = liaison::policy::RecordType(record);
  const absl::CivilDay on(2026, 11, 22);
  for (int level = v1::LEVEL_NONE; level <= v1::LEVEL_FULL; ++level) {
    liaison::policy::Decision decision;
    decision.allowed = level != v1::LEVEL_NONE;
    decision.level = static_cast<v1::Level>(level);
    decision.override_max_level = v1::LEVEL_FULL;
    const v1::AbstractedRecord out =
        liaison::policy::Abstract(set, record, decision, on, "fuzz-key");
    const v1::AbstractedRecord twice =
        liaison::policy::Abstract(set, record, decision, on, "fuzz-key");
    std::string a, b;
    if (!out.SerializeToString(&a) || !twice.SerializeToString(&b) || a != b) {
      Violated("abstraction is not deterministic");
    }
    if (HasUnknownFields(out)) Violated("an unknown field survived");
    if (!decision.allowed && out.has_record()) {
      Violated("a denial carries a record");
    }
    if (type.empty() || !out.has_record()) continue;
    for (const v1::FieldOutcome& f : out.fields()) {
      if (f.treatment() != v1::FieldOutcome::TREATMENT_WITHHELD) continue;
      const std::string path = f.field().substr(type.size() + 1);
      if (IsSet(out.record(), type, path)) {
        std::fprintf(stderr, "withheld but present: %s\n", f.field().c_str());
        Violated("a withheld field reached the recipient");
      }
    }
    if (level == v1::LEVEL_FULL) {
      v1::Record sent = record;
      sent.DiscardUnknownFields();
      if (sent.SerializeAsString() != out.record().SerializeAsString()) {
        Violated("FULL changed the record");
      }
    }
  }
  return 0;
}
