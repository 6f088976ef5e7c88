#include "policy/transforms.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <functional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "liaison/v1/common.pb.h"
#include "policy/policy_set.h"

namespace liaison::policy {
namespace {

using google::protobuf::FieldDescriptor;

std::optional<absl::CivilDay> ParseDay(absl::string_view date) {
  absl::CivilDay day;
  if (date.size() != 10 || !absl::ParseCivilTime(date, &day)) {
    return std::nullopt;
  }
  return day;
}

// Upper-cased, without '.', ' ' and '-'.
std::string NormalisedCode(absl::string_view code) {
  std::string out;
  for (char c : code) {
    if (c == '.' || c == ' ' || c == '-') continue;
    out.push_back(absl::ascii_toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

}  // namespace

std::string TransformName(v1::Transform t) {
  return absl::AsciiStrToLower(v1::Transform_Name(t));
}

std::vector<const FieldDescriptor*> ResolveFieldPath(
    const google::protobuf::Descriptor* type, absl::string_view path) {
  std::vector<const FieldDescriptor*> out;
  for (absl::string_view part : absl::StrSplit(path, '.')) {
    if (type == nullptr) return {};
    const FieldDescriptor* f = type->FindFieldByName(std::string(part));
    if (f == nullptr) return {};
    out.push_back(f);
    type = f->type() == FieldDescriptor::TYPE_MESSAGE ? f->message_type()
                                                      : nullptr;
  }
  return out;
}

bool IsRouting(const FieldDescriptor* field) {
  return field->options().GetExtension(v1::routing);
}

namespace {

void CollectWithoutRule(const google::protobuf::Descriptor* type,
                        const std::string& prefix,
                        const std::set<std::string>& ruled,
                        std::vector<std::string>* out) {
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* f = type->field(i);
    if (IsRouting(f)) continue;
    if (f->message_type() == v1::AbstractedRecord::descriptor()) continue;
    const std::string path = absl::StrCat(prefix, f->name());
    if (ruled.count(path) > 0) continue;
    const auto below = ruled.lower_bound(path + ".");
    const bool has_children =
        below != ruled.end() && absl::StartsWith(*below, path + ".");
    if (f->type() == FieldDescriptor::TYPE_MESSAGE && has_children) {
      CollectWithoutRule(f->message_type(), path + ".", ruled, out);
      continue;
    }
    out->push_back(path);
  }
}

}  // namespace

std::vector<std::string> FieldsWithoutRule(
    const google::protobuf::Descriptor* type,
    const std::set<std::string>& ruled) {
  std::vector<std::string> out;
  CollectWithoutRule(type, "", ruled, &out);
  return out;
}

bool TransformApplies(v1::Transform t, const FieldDescriptor* field) {
  const bool is_string = field->type() == FieldDescriptor::TYPE_STRING;
  switch (t) {
    case v1::KEEP:
    case v1::DROP:
      return true;
    case v1::DATE_TO_MONTH:
    case v1::DATE_TO_YEAR:
    case v1::CODE_TO_PREFIX:
    case v1::CODE_TO_CHAPTER:
    case v1::KEYED_HASH:
      return is_string;
    case v1::BIRTH_DATE_TO_AGE_BAND:
      return is_string && !field->is_repeated();
    case v1::ADDRESS_TO_MUNICIPALITY:
    case v1::ADDRESS_TO_POSTCODE_PREFIX:
      return field->type() == FieldDescriptor::TYPE_MESSAGE &&
             !field->is_repeated() &&
             field->message_type() == v1::PostalAddress::descriptor();
    default:
      return false;
  }
}

int Disclosure(v1::Transform t) {
  switch (t) {
    case v1::DROP:
      return 0;
    case v1::KEYED_HASH:
      return 1;
    case v1::DATE_TO_YEAR:
      return 2;
    case v1::KEEP:
      return 4;
    default:
      return 3;
  }
}

std::optional<std::string> DateToMonth(absl::string_view date) {
  std::optional<absl::CivilDay> day = ParseDay(date);
  if (!day) return std::nullopt;
  return absl::FormatCivilTime(absl::CivilMonth(*day));
}

std::optional<std::string> DateToYear(absl::string_view date) {
  std::optional<absl::CivilDay> day = ParseDay(date);
  if (!day) return std::nullopt;
  return absl::FormatCivilTime(absl::CivilYear(*day));
}

std::optional<int> AgeOn(absl::string_view birth_date, absl::CivilDay on) {
  std::optional<absl::CivilDay> born = ParseDay(birth_date);
  if (!born || *born > on) return std::nullopt;
  int age = static_cast<int>(on.year() - born->year());
  if (on.month() < born->month() ||
      (on.month() == born->month() && on.day() < born->day())) {
    --age;
  }
  return age;
}

std::optional<std::string> AgeBand(absl::string_view birth_date,
                                   absl::CivilDay on,
                                   const std::vector<uint32_t>& starts) {
  std::optional<int> age = AgeOn(birth_date, on);
  if (!age || starts.empty()) return std::nullopt;
  for (size_t i = starts.size(); i-- > 0;) {
    if (static_cast<uint32_t>(*age) < starts[i]) continue;
    if (i + 1 == starts.size()) return absl::StrCat(starts[i], "+");
    return absl::StrCat(starts[i], "-", starts[i + 1] - 1);
  }
  return std::nullopt;
}

std::string CodePrefix(absl::string_view code, uint32_t length) {
  std::string normal = NormalisedCode(code);
  if (normal.size() > length) normal.resize(length);
  return normal;
}

std::optional<std::string> CodeChapter(absl::string_view code,
                                       const v1::CodeMapping& mapping) {
  const std::string normal = NormalisedCode(code);
  if (normal.empty()) return std::nullopt;
  for (const v1::CodeRange& range : mapping.ranges()) {
    const std::string first = NormalisedCode(range.first());
    const std::string last = NormalisedCode(range.last());
    const std::string head = normal.substr(0, first.size());
    if (head.size() == first.size() && head >= first && head <= last) {
      return range.chapter();
    }
  }
  return std::nullopt;
}

v1::PostalAddress AddressToMunicipality(const v1::PostalAddress& address) {
  v1::PostalAddress out;
  out.set_municipality(address.municipality());
  out.set_country(address.country());
  return out;
}

v1::PostalAddress AddressToPostcodePrefix(const v1::PostalAddress& address,
                                          uint32_t length) {
  v1::PostalAddress out;
  std::string postcode;
  for (char c : address.postcode()) {
    if (c != ' ') postcode.push_back(c);
  }
  if (postcode.size() > length) postcode.resize(length);
  out.set_postcode(postcode);
  out.set_country(address.country());
  return out;
}

std::string KeyedHash(absl::string_view key, absl::string_view value) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(value.data()), value.size(), mac,
       &mac_len);
  return absl::StrCat("h:", absl::BytesToHexString(absl::string_view(
                                reinterpret_cast<const char*>(mac), 16)));
}

v1::FieldOutcome::Treatment TreatmentOf(v1::Transform t) {
  switch (t) {
    case v1::KEEP:
      return v1::FieldOutcome::TREATMENT_KEPT;
    case v1::DROP:
      return v1::FieldOutcome::TREATMENT_WITHHELD;
    case v1::KEYED_HASH:
      return v1::FieldOutcome::TREATMENT_HASHED;
    default:
      return v1::FieldOutcome::TREATMENT_GENERALISED;
  }
}

v1::Transform TransformAt(const v1::FieldRule& rule, v1::Level level) {
  switch (level) {
    case v1::LEVEL_SIGNAL:
      return rule.signal();
    case v1::LEVEL_CATEGORY:
      return rule.category();
    case v1::LEVEL_SUMMARY:
      return rule.summary();
    case v1::LEVEL_FULL:
      return v1::KEEP;
    default:
      return v1::DROP;
  }
}

namespace {

// Rewrites the string value(s) of `field` in `msg` with `fn`; a value `fn`
// maps to nullopt is removed.
void MapStrings(
    google::protobuf::Message* msg, const FieldDescriptor* field,
    const std::function<std::optional<std::string>(const std::string&)>& fn) {
  const google::protobuf::Reflection* r = msg->GetReflection();
  if (!field->is_repeated()) {
    if (r->GetString(*msg, field).empty()) return;
    std::optional<std::string> v = fn(r->GetString(*msg, field));
    if (v) {
      r->SetString(msg, field, *std::move(v));
    } else {
      r->ClearField(msg, field);
    }
    return;
  }
  std::vector<std::string> kept;
  for (int i = 0; i < r->FieldSize(*msg, field); ++i) {
    std::optional<std::string> v = fn(r->GetRepeatedString(*msg, field, i));
    if (v) kept.push_back(*std::move(v));
  }
  r->ClearField(msg, field);
  for (std::string& v : kept) r->AddString(msg, field, std::move(v));
}

void Apply(const PolicySet& set, const v1::FieldRule& rule, v1::Transform t,
           google::protobuf::Message* msg, const FieldDescriptor* field,
           absl::CivilDay on,
           absl::string_view hash_key) {
  const google::protobuf::Reflection* r = msg->GetReflection();
  const uint32_t prefix = rule.prefix_length() > 0 ? rule.prefix_length() : 3;
  switch (t) {
    case v1::KEEP:
      return;
    case v1::DATE_TO_MONTH:
      return MapStrings(msg, field,
                        [](const std::string& s) { return DateToMonth(s); });
    case v1::DATE_TO_YEAR:
      return MapStrings(msg, field,
                        [](const std::string& s) { return DateToYear(s); });
    case v1::BIRTH_DATE_TO_AGE_BAND:
      return MapStrings(msg, field, [&](const std::string& s) {
        return AgeBand(s, on, set.age_band_starts());
      });
    case v1::CODE_TO_PREFIX:
      return MapStrings(msg, field, [prefix](const std::string& s) {
        return std::optional<std::string>(CodePrefix(s, prefix));
      });
    case v1::CODE_TO_CHAPTER: {
      const v1::CodeMapping* mapping = set.FindMapping(rule.mapping());
      return MapStrings(msg, field, [mapping](const std::string& s) {
        return mapping == nullptr ? std::nullopt : CodeChapter(s, *mapping);
      });
    }
    case v1::KEYED_HASH:
      return MapStrings(msg, field, [hash_key](const std::string& s) {
        return std::optional<std::string>(KeyedHash(hash_key, s));
      });
    case v1::ADDRESS_TO_MUNICIPALITY:
    case v1::ADDRESS_TO_POSTCODE_PREFIX: {
      if (!r->HasField(*msg, field)) return;
      auto* address =
          static_cast<v1::PostalAddress*>(r->MutableMessage(msg, field));
      *address = t == v1::ADDRESS_TO_MUNICIPALITY
                     ? AddressToMunicipality(*address)
                     : AddressToPostcodePrefix(*address, prefix);
      return;
    }
    default:
      r->ClearField(msg, field);
      return;
  }
}

// Applies `t` to the field at the end of `path` (from its `i`-th segment) in
// `msg`, through every element of a repeated message segment.
void ApplyAlong(const PolicySet& set, const v1::FieldRule& rule,
                v1::Transform t, google::protobuf::Message* msg,
                const std::vector<const FieldDescriptor*>& path, size_t i,
                absl::CivilDay on, absl::string_view hash_key) {
  if (i + 1 == path.size()) {
    Apply(set, rule, t, msg, path[i], on, hash_key);
    return;
  }
  const google::protobuf::Reflection* r = msg->GetReflection();
  const FieldDescriptor* f = path[i];
  if (f->is_repeated()) {
    for (int k = 0; k < r->FieldSize(*msg, f); ++k) {
      ApplyAlong(set, rule, t, r->MutableRepeatedMessage(msg, f, k), path,
                 i + 1, on, hash_key);
    }
  } else if (r->HasField(*msg, f)) {
    ApplyAlong(set, rule, t, r->MutableMessage(msg, f), path, i + 1, on,
               hash_key);
  }
}

}  // namespace

void ApplyTransform(const PolicySet& set, const v1::FieldRule& rule,
                    v1::Transform t, google::protobuf::Message* msg,
                    const std::vector<const FieldDescriptor*>& path,
                    absl::CivilDay on, absl::string_view hash_key) {
  if (path.empty()) return;
  ApplyAlong(set, rule, t, msg, path, 0, on, hash_key);
}

}  // namespace liaison::policy
