// The field transforms policy names (DESIGN.md section 4), as pure
// functions, and what the checker needs to know about them: which fields a
// transform applies to, and how much of a value each one gives away.
#ifndef LIAISON_POLICY_TRANSFORMS_H_
#define LIAISON_POLICY_TRANSFORMS_H_

#include <google/protobuf/descriptor.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "liaison/v1/policy.pb.h"
#include "liaison/v1/records.pb.h"

namespace liaison::policy {

class PolicySet;

// Lower-case name of a transform as written in policy files and reported in
// FieldOutcome.transform, e.g. "date_to_month".
std::string TransformName(v1::Transform t);

// The fields along `path` ("subject.birth_date", "history.by") from `type`,
// or empty when a segment does not name a field or a non-last segment is
// not a message field. A repeated message segment stands for each of its
// elements.
std::vector<const google::protobuf::FieldDescriptor*> ResolveFieldPath(
    const google::protobuf::Descriptor* type, absl::string_view path);

// True for a field the broker sets itself in the messages agencies receive
// (marked [(liaison.v1.routing) = true]): it needs no policy rule.
bool IsRouting(const google::protobuf::FieldDescriptor* field);

// The content fields of `type` that `ruled` (field paths with a rule) does
// not cover, as paths, depth first in field order. A field is covered by a
// rule for itself, or, for a message field, by rules covering each of its
// own fields; routing fields and fields holding an AbstractedRecord (reduced
// by the record rules) need none. The one definition of coverage: the
// checker refuses a set that leaves a path here, and the abstraction
// withholds it.
std::vector<std::string> FieldsWithoutRule(
    const google::protobuf::Descriptor* type,
    const std::set<std::string>& ruled);

// True when `t` can be applied to `field`: KEEP and DROP to any field; the
// date, code and hash transforms to string fields (singular or repeated);
// BIRTH_DATE_TO_AGE_BAND to a singular string; the address transforms to a
// singular PostalAddress.
bool TransformApplies(v1::Transform t,
                      const google::protobuf::FieldDescriptor* field);

// How much of a value a transform lets through: DROP 0, KEYED_HASH 1,
// DATE_TO_YEAR 2, the other generalisations 3, KEEP 4. A higher level must
// never give less than a lower one.
int Disclosure(v1::Transform t);

// "2026-03-14" to "2026-03"; nullopt for anything that is not a date.
std::optional<std::string> DateToMonth(absl::string_view date);
// "2026-03-14" to "2026"; nullopt for anything that is not a date.
std::optional<std::string> DateToYear(absl::string_view date);
// The band a person born on `birth_date` is in on `on`, e.g. "13-15", or
// "65+" for the last band; nullopt for a malformed or future birth date.
// `starts` ascend from 0.
std::optional<std::string> AgeBand(absl::string_view birth_date,
                                   absl::CivilDay on,
                                   const std::vector<uint32_t>& starts);
// Whole years of age on `on`; nullopt as for AgeBand.
std::optional<int> AgeOn(absl::string_view birth_date, absl::CivilDay on);
// The first `length` characters of a code, upper-cased, with separators
// ('.', ' ') removed first, e.g. ("f32.1", 3) to "F32".
std::string CodePrefix(absl::string_view code, uint32_t length);
// The chapter of a code in `mapping`, or nullopt when no range covers it.
std::optional<std::string> CodeChapter(absl::string_view code,
                                       const v1::CodeMapping& mapping);
// Municipality and country only.
v1::PostalAddress AddressToMunicipality(const v1::PostalAddress& address);
// Postcode cut to `length` characters (spaces removed) and country only.
v1::PostalAddress AddressToPostcodePrefix(const v1::PostalAddress& address,
                                          uint32_t length);
// "h:" and 32 hex digits of HMAC-SHA256 of `value` under `key`.
std::string KeyedHash(absl::string_view key, absl::string_view value);

// How a field given `t` is reported in a FieldOutcome.
v1::FieldOutcome::Treatment TreatmentOf(v1::Transform t);

// The transform `rule` gives a field at `level`: KEEP at FULL, DROP at NONE.
v1::Transform TransformAt(const v1::FieldRule& rule, v1::Level level);

// Applies `t`, with `rule`'s parameters (prefix length, code mapping), to
// the field at the end of `path` in `msg`, through every element of a
// repeated message segment. `set` gives the age bands and code mappings,
// `on` the day ages are taken on, `hash_key` the key of KEYED_HASH. Every
// transform the policy names is applied here and nowhere else.
void ApplyTransform(
    const PolicySet& set, const v1::FieldRule& rule, v1::Transform t,
    google::protobuf::Message* msg,
    const std::vector<const google::protobuf::FieldDescriptor*>& path,
    absl::CivilDay on, absl::string_view hash_key);

}  // namespace liaison::policy

#endif  // LIAISON_POLICY_TRANSFORMS_H_
