#include "policy/policy_check.h"

#include <algorithm>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "policy/envelopes.h"
#include "policy/transforms.h"

namespace liaison::policy::internal {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

bool IsSectorName(const std::string& s) {
  if (s.empty() || s.size() > 32 || !(s[0] >= 'a' && s[0] <= 'z')) {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

bool IsAgencyId(const std::string& s) {
  if (s.empty() || s.size() > 64 || s[0] == '.' || s[0] == '_' || s[0] == '-') {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

bool ValidLevel(int level) {
  return v1::Level_IsValid(level) && level >= v1::LEVEL_NONE &&
         level <= v1::LEVEL_FULL;
}

template <typename Container>
bool Intersects(const Container& a, const Container& b) {
  for (const auto& x : a) {
    if (std::find(b.begin(), b.end(), x) != b.end()) return true;
  }
  return false;
}

template <typename Container>
std::string FirstShared(const Container& a, const Container& b) {
  for (const auto& x : a) {
    if (std::find(b.begin(), b.end(), x) != b.end()) return x;
  }
  return "";
}
// The checks of meaning, after every file parsed. Appends one line per
// problem.
class Checker {
 public:
  Checker(const std::vector<ParsedFile>& files, std::vector<std::string>* out)
      : out_(out) {
    for (const ParsedFile& f : files) {
      const Site top(f.name, f.tree.get(), 1);
      const Descriptor* d = v1::PolicyFile::descriptor();
      for (int i = 0; i < f.file.sectors_size(); ++i) {
        sectors_.push_back({&f.file.sectors(i), top.Nested(d, "sectors", i)});
      }
      for (int i = 0; i < f.file.jurisdictions_size(); ++i) {
        jurisdictions_.push_back(
            {&f.file.jurisdictions(i), top.Nested(d, "jurisdictions", i)});
      }
      for (int i = 0; i < f.file.agreements_size(); ++i) {
        agreements_.push_back(
            {&f.file.agreements(i), top.Nested(d, "agreements", i)});
      }
      for (int i = 0; i < f.file.records_size(); ++i) {
        records_.push_back({&f.file.records(i), top.Nested(d, "records", i)});
      }
      for (int i = 0; i < f.file.envelopes_size(); ++i) {
        envelopes_.push_back(
            {&f.file.envelopes(i), top.Nested(d, "envelopes", i)});
      }
      for (int i = 0; i < f.file.code_mappings_size(); ++i) {
        mappings_.push_back(
            {&f.file.code_mappings(i), top.Nested(d, "code_mappings", i)});
      }
      if (f.file.has_age_bands()) {
        age_bands_.push_back(
            {&f.file.age_bands(), top.Nested(d, "age_bands", -1)});
      }
    }
  }

  void Run(std::vector<LoadedAgreement>* loaded) {
    CheckSectors();
    CheckJurisdictions();
    CheckMappings();
    CheckAgeBands();
    CheckRecords();
    CheckEnvelopes();
    CheckAgreements(loaded);
    CheckOverlaps(*loaded);
  }

 private:
  void Add(const std::string& where, const std::string& message) {
    out_->push_back(absl::StrCat(where, ": ", message));
  }

  void CheckSectors() {
    std::map<std::string, std::string> seen;
    for (const auto& [s, site] : sectors_) {
      if (!IsSectorName(s->name())) {
        Add(site.At(v1::Sector::descriptor(), "name"),
            absl::StrCat("sector name \"", s->name(),
                         "\" must be 1 to 32 characters of a-z, 0-9 and _, "
                         "starting with a letter"));
        continue;
      }
      auto [it, fresh] = seen.emplace(s->name(), site.Here());
      if (!fresh) {
        Add(site.At(v1::Sector::descriptor(), "name"),
            absl::StrCat("sector \"", s->name(), "\" is already defined at ",
                         it->second));
      }
      std::set<int> steps;
      for (int i = 0; i < s->required_checklist_size(); ++i) {
        const int step = s->required_checklist(i);
        const std::string where =
            site.At(v1::Sector::descriptor(), "required_checklist", i);
        if (step == v1::PRE_SHARING_STEP_UNSPECIFIED ||
            !v1::PreSharingStep_IsValid(step)) {
          Add(where, absl::StrCat("sector \"", s->name(),
                                  "\": required_checklist needs a step, e.g. "
                                  "CONCERN_VERIFIED"));
        } else if (!steps.insert(step).second) {
          Add(where, absl::StrCat("sector \"", s->name(), "\" lists ",
                                  v1::PreSharingStep_Name(
                                      static_cast<v1::PreSharingStep>(step)),
                                  " twice"));
        }
      }
    }
  }

  void CheckJurisdictions() {
    std::map<std::string, std::string> seen;
    const Descriptor* d = v1::Jurisdiction::descriptor();
    for (const auto& [j, site] : jurisdictions_) {
      if (j->id().empty()) {
        Add(site.Here(), "jurisdiction needs an id, e.g. id: \"se\"");
      } else if (auto [it, fresh] = seen.emplace(j->id(), site.Here());
                 !fresh) {
        Add(site.Here(), absl::StrCat("jurisdiction \"", j->id(),
                                      "\" is already defined at ", it->second));
      }
      if (j->override_review_days() > 365) {
        Add(site.At(d, "override_review_days"),
            absl::StrCat("jurisdiction \"", j->id(),
                         "\": override_review_days must be 1 to 365 (0: the "
                         "default, 7), not ",
                         j->override_review_days()));
      }
      // Every retention in days, each at most ten years (0: the default).
      const google::protobuf::Reflection* r = j->retention().GetReflection();
      const Descriptor* rd = v1::Retention::descriptor();
      for (int f = 0; f < rd->field_count(); ++f) {
        const uint32_t days = r->GetUInt32(j->retention(), rd->field(f));
        if (days > 3650) {
          Add(site.At(d, "retention"),
              absl::StrCat("jurisdiction \"", j->id(), "\": retention.",
                           rd->field(f)->name(),
                           " must be 1 to 3650 days (0: the default), not ",
                           days));
        }
      }
      if (j->age_of_majority() < 1 || j->age_of_majority() > 30) {
        Add(site.At(d, "age_of_majority"),
            absl::StrCat("jurisdiction \"", j->id(),
                         "\": age_of_majority must be 1 to 30, not ",
                         j->age_of_majority()));
      }
      std::set<int> categories;
      for (int i = 0; i < j->overrides_size(); ++i) {
        const v1::OverrideProvision& o = j->overrides(i);
        const std::string where = site.At(d, "overrides", i);
        if (o.category() == v1::OVERRIDE_CATEGORY_UNSPECIFIED ||
            !v1::OverrideCategory_IsValid(o.category())) {
          Add(where,
              "override needs a category, e.g. "
              "OVERRIDE_CATEGORY_RISK_TO_LIFE");
        } else if (!categories.insert(o.category()).second) {
          Add(where, absl::StrCat(v1::OverrideCategory_Name(o.category()),
                                  " is listed twice in jurisdiction \"",
                                  j->id(), "\""));
        }
        if (o.legal_provisions().empty() ||
            std::any_of(o.legal_provisions().begin(),
                        o.legal_provisions().end(),
                        [](const std::string& p) { return p.empty(); })) {
          Add(where,
              "override needs at least one non-empty legal_provisions "
              "entry: the provision it rests on");
        }
      }
    }
  }

  // An agreement's own envelope rules: for decided messages only, once per
  // message, each for a field the set's rules for it name.
  void CheckRouteEnvelopes(const v1::Agreement& a, const Site& site) {
    const Descriptor* d = v1::Agreement::descriptor();
    std::set<std::string> seen;
    for (int i = 0; i < a.envelopes_size(); ++i) {
      const v1::EnvelopeRules& e = a.envelopes(i);
      const Site nested = site.Nested(d, "envelopes", i);
      const Descriptor* type = EnvelopeType(e.message());
      if (type == nullptr || EnvelopeIsView(e.message())) {
        Add(nested.Here(),
            absl::StrCat("agreement \"", a.id(), "\": envelope \"", e.message(),
                         "\" is not one a disclosure decision reduces "
                         "(referral, referral_update, summary_request, "
                         "summary)"));
        continue;
      }
      if (!seen.insert(e.message()).second) {
        Add(nested.Here(), absl::StrCat("agreement \"", a.id(),
                                        "\" gives envelope rules for \"",
                                        e.message(), "\" twice"));
      }
      if (e.view_level() != v1::LEVEL_NONE) {
        Add(nested.At(v1::EnvelopeRules::descriptor(), "view_level"),
            "an agreement's envelope rules take the decision's level; "
            "remove view_level");
      }
      const std::string what = absl::StrCat(
          "agreement \"", a.id(), "\" envelope \"", e.message(), "\"");
      CheckRules(e.fields(), v1::EnvelopeRules::descriptor(), nested, type,
                 what, /*complete=*/false);
      std::set<std::string> set_fields;
      for (const auto& [rules, unused] : envelopes_) {
        if (rules->message() != e.message()) continue;
        for (const v1::FieldRule& r : rules->fields()) {
          set_fields.insert(r.field());
        }
      }
      for (int k = 0; k < e.fields_size(); ++k) {
        if (set_fields.count(e.fields(k).field()) == 0) {
          Add(nested.At(v1::EnvelopeRules::descriptor(), "fields", k),
              absl::StrCat(what, ": field \"", e.fields(k).field(),
                           "\" has no rule of its own in the set's envelope "
                           "rules to replace"));
        }
      }
    }
  }

  // An agreement allowing overrides names the provisions they may rest on
  // for each category, and each is one a jurisdiction lists for it.
  void CheckRouteProvisions(const v1::Agreement& a, const Site& site) {
    const Descriptor* d = v1::Agreement::descriptor();
    if (a.override_max_level() != v1::LEVEL_NONE &&
        a.override_provisions().empty()) {
      Add(site.At(d, "override_max_level"),
          absl::StrCat("agreement \"", a.id(),
                       "\" allows overrides but names no provisions they may "
                       "rest on on this route: add override_provisions { "
                       "category: ... legal_provisions: \"...\" }"));
    }
    if (a.override_max_level() == v1::LEVEL_NONE &&
        !a.override_provisions().empty()) {
      Add(site.At(d, "override_provisions", 0),
          absl::StrCat("agreement \"", a.id(),
                       "\" names override provisions but allows no override "
                       "(override_max_level is LEVEL_NONE)"));
    }
    std::set<int> categories;
    for (int i = 0; i < a.override_provisions_size(); ++i) {
      const v1::OverrideProvision& o = a.override_provisions(i);
      const std::string where = site.At(d, "override_provisions", i);
      if (o.category() == v1::OVERRIDE_CATEGORY_UNSPECIFIED ||
          !v1::OverrideCategory_IsValid(o.category())) {
        Add(where, "override_provisions needs a category");
        continue;
      }
      const std::string category = v1::OverrideCategory_Name(o.category());
      if (!categories.insert(o.category()).second) {
        Add(where, absl::StrCat(category, " is listed twice in agreement \"",
                                a.id(), "\""));
      }
      if (o.legal_provisions().empty()) {
        Add(where, absl::StrCat(category, " in agreement \"", a.id(),
                                "\" names no legal_provisions"));
      }
      for (const std::string& provision : o.legal_provisions()) {
        if (!JurisdictionLists(a, o.category(), provision)) {
          Add(where,
              absl::StrCat("provision \"", provision, "\" for ", category,
                           " in agreement \"", a.id(),
                           "\" is not one its jurisdictions list for the "
                           "category"));
        }
      }
    }
  }

  // Whether a jurisdiction `a` applies in lists `provision` for `category`.
  bool JurisdictionLists(const v1::Agreement& a, int category,
                         const std::string& provision) const {
    for (const auto& j : jurisdictions_) {
      if (!a.jurisdictions().empty() &&
          std::find(a.jurisdictions().begin(), a.jurisdictions().end(),
                    j.value->id()) == a.jurisdictions().end()) {
        continue;
      }
      for (const v1::OverrideProvision& o : j.value->overrides()) {
        if (o.category() == category &&
            std::find(o.legal_provisions().begin(), o.legal_provisions().end(),
                      provision) != o.legal_provisions().end()) {
          return true;
        }
      }
    }
    return false;
  }

  void CheckMappings() {
    std::map<std::string, std::string> seen;
    const Descriptor* d = v1::CodeMapping::descriptor();
    for (const auto& [m, site] : mappings_) {
      if (m->name().empty()) {
        Add(site.Here(), "code_mappings needs a name");
      } else if (auto [it, fresh] = seen.emplace(m->name(), site.Here());
                 !fresh) {
        Add(site.Here(), absl::StrCat("code mapping \"", m->name(),
                                      "\" is already defined at ", it->second));
      }
      for (int i = 0; i < m->ranges_size(); ++i) {
        const v1::CodeRange& r = m->ranges(i);
        const std::string where = site.At(d, "ranges", i);
        if (r.first().empty() || r.last().empty() || r.chapter().empty()) {
          Add(where, "a code range needs first, last and chapter");
        } else if (r.first().size() != r.last().size() ||
                   CodePrefix(r.first(), 64) > CodePrefix(r.last(), 64)) {
          Add(where,
              absl::StrCat("code range \"", r.first(), "\" to \"", r.last(),
                           "\": first and last must be the same "
                           "length with first not after last"));
        }
        for (int k = 0; k < i; ++k) {
          const v1::CodeRange& o = m->ranges(k);
          if (o.first().size() == r.first().size() &&
              !(CodePrefix(r.last(), 64) < CodePrefix(o.first(), 64) ||
                CodePrefix(o.last(), 64) < CodePrefix(r.first(), 64))) {
            Add(where,
                absl::StrCat("code range \"", r.first(), "\" to \"", r.last(),
                             "\" overlaps \"", o.first(), "\" to \"", o.last(),
                             "\" at ", site.At(d, "ranges", k)));
          }
        }
      }
    }
  }

  void CheckAgeBands() {
    if (age_bands_.size() > 1) {
      Add(age_bands_[1].site.Here(),
          absl::StrCat("age_bands is already set at ",
                       age_bands_[0].site.Here()));
    }
    for (const auto& [bands, site] : age_bands_) {
      bool ascending = true;
      for (int i = 1; i < bands->starts_size(); ++i) {
        if (bands->starts(i) <= bands->starts(i - 1)) ascending = false;
      }
      if (bands->starts_size() < 2 || bands->starts(0) != 0 || !ascending) {
        Add(site.Here(),
            "age_bands.starts must be at least two ascending "
            "ages starting with 0, e.g. [0, 13, 18, 65]");
      }
    }
  }

  void CheckRecords() {
    std::map<std::string, std::string> seen;
    const Descriptor* record = v1::Record::descriptor();
    for (const auto& [r, site] : records_) {
      const FieldDescriptor* type = record->FindFieldByName(r->record_type());
      if (type == nullptr || type->message_type() == nullptr) {
        Add(site.At(v1::RecordRules::descriptor(), "record_type"),
            absl::StrCat("unknown record type \"", r->record_type(),
                         "\"; record types are the fields of "
                         "liaison.v1.Record: ",
                         RecordTypeNames()));
        continue;
      }
      if (auto [it, fresh] = seen.emplace(r->record_type(), site.Here());
          !fresh) {
        Add(site.Here(),
            absl::StrCat("rules for record type \"", r->record_type(),
                         "\" are already given at ", it->second));
        continue;
      }
      CheckRules(r->fields(), v1::RecordRules::descriptor(), site,
                 type->message_type(),
                 absl::StrCat("record type \"", r->record_type(), "\""));
    }
    for (int i = 0; i < record->field_count(); ++i) {
      const std::string& name = record->field(i)->name();
      if (seen.count(name) == 0) {
        Add("policy set",
            absl::StrCat("no field rules for record type \"", name,
                         "\": add records { record_type: \"", name,
                         "\" ... } with a rule for each of its fields"));
      }
    }
  }

  static std::string RecordTypeNames() {
    std::vector<std::string> names;
    const Descriptor* record = v1::Record::descriptor();
    for (int i = 0; i < record->field_count(); ++i) {
      names.push_back(record->field(i)->name());
    }
    return absl::StrJoin(names, ", ");
  }

  // Checks the rules of `what` (e.g. `record type "health"`), written in
  // a `holder` message at `site`, for the fields of `type`.
  // `every_field`: every field of `type` must have a rule (the set's own
  // rules); otherwise the rules replace some of another set of rules.
  void CheckRules(
      const google::protobuf::RepeatedPtrField<v1::FieldRule>& rules,
      const Descriptor* holder, const Site& site, const Descriptor* type,
      const std::string& what, bool every_field = true) {
    std::map<std::string, std::string> paths;
    for (int i = 0; i < rules.size(); ++i) {
      const v1::FieldRule& rule = rules[i];
      const std::string where = site.At(holder, "fields", i);
      const auto path = ResolveFieldPath(type, rule.field());
      if (path.empty()) {
        Add(where, absl::StrCat(what, " has no field \"", rule.field(), "\""));
        continue;
      }
      if (IsRouting(path.back()) ||
          path.back()->message_type() == v1::AbstractedRecord::descriptor()) {
        Add(where, absl::StrCat("field \"", rule.field(), "\" of ", what,
                                " is set by the broker (routing metadata or "
                                "a record the record rules reduce) and takes "
                                "no rule"));
        continue;
      }
      if (auto [it, fresh] = paths.emplace(rule.field(), where); !fresh) {
        Add(where, absl::StrCat("field \"", rule.field(),
                                "\" already has a rule at ", it->second));
        continue;
      }
      const FieldDescriptor* field = path.back();
      const std::pair<const char*, v1::Transform> levels[] = {
          {"signal", rule.signal()},
          {"category", rule.category()},
          {"summary", rule.summary()}};
      bool complete = true;
      for (const auto& [level, t] : levels) {
        if (t == v1::TRANSFORM_UNSPECIFIED || !v1::Transform_IsValid(t)) {
          Add(where, absl::StrCat("field \"", rule.field(), "\" needs a ",
                                  level, " transform (KEEP, DROP, ...)"));
          complete = false;
        } else if (!TransformApplies(t, field)) {
          Add(where,
              absl::StrCat(v1::Transform_Name(t),
                           " cannot be applied to field \"", rule.field(),
                           "\" (", field->type_name(),
                           field->is_repeated() ? ", repeated" : "", ")"));
          complete = false;
        }
        if (t == v1::CODE_TO_CHAPTER &&
            FindMapping(rule.mapping()) == nullptr) {
          Add(where, absl::StrCat("field \"", rule.field(),
                                  "\": CODE_TO_CHAPTER needs mapping naming "
                                  "one of the set's code_mappings, not \"",
                                  rule.mapping(), "\""));
        }
      }
      if (rule.prefix_length() > 16) {
        Add(where, absl::StrCat("field \"", rule.field(),
                                "\": prefix_length must be 1 to 16"));
      }
      if (complete &&
          (Disclosure(rule.signal()) > Disclosure(rule.category()) ||
           Disclosure(rule.category()) > Disclosure(rule.summary()))) {
        Add(where,
            absl::StrCat("field \"", rule.field(),
                         "\" gives less at a higher level (",
                         v1::Transform_Name(rule.signal()), ", ",
                         v1::Transform_Name(rule.category()), ", ",
                         v1::Transform_Name(rule.summary()),
                         "): each level must include what the levels below "
                         "it give"));
      }
    }
    if (every_field) Covered(type, paths, site.Here(), what);
    if (type == EnvelopeType("referral")) {
      for (int i = 0; i < rules.size(); ++i) {
        const v1::FieldRule& rule = rules[i];
        if ((rule.field() == "subject" ||
             rule.field() == "subject.identifier") &&
            (rule.signal() != v1::KEEP || rule.category() != v1::KEEP ||
             rule.summary() != v1::KEEP)) {
          Add(site.At(holder, "fields", i),
              absl::StrCat(what, ": ", rule.field(),
                           " must be KEEP at every level: the named "
                           "recipient of a referral must know whom to act "
                           "for"));
        }
      }
    }
  }

  // Every content field of `type` has a rule, itself or through rules for
  // all of its own fields; no field has both.
  void Covered(const Descriptor* type,
               const std::map<std::string, std::string>& paths,
               const std::string& where, const std::string& what) {
    std::set<std::string> ruled;
    for (const auto& [path, unused] : paths) ruled.insert(path);
    for (const auto& [path, at] : paths) {
      const auto below = ruled.upper_bound(path + ".");
      if (below != ruled.end() && absl::StartsWith(*below, path + ".")) {
        Add(at, absl::StrCat("field \"", path,
                             "\" has a rule for itself and for its fields; "
                             "give one or the other"));
      }
    }
    for (const std::string& path : FieldsWithoutRule(type, ruled)) {
      Add(where, absl::StrCat(what, " has no rule for field \"", path,
                              "\": every field needs one"));
    }
  }

  void CheckEnvelopes() {
    const Descriptor* d = v1::EnvelopeRules::descriptor();
    std::map<std::string, std::string> seen;
    for (const auto& [e, site] : envelopes_) {
      const Descriptor* type = EnvelopeType(e->message());
      if (type == nullptr) {
        Add(site.At(d, "message"),
            absl::StrCat("unknown envelope message \"", e->message(),
                         "\"; envelope messages are ",
                         absl::StrJoin(EnvelopeNames(), ", ")));
        continue;
      }
      if (auto [it, fresh] = seen.emplace(e->message(), site.Here()); !fresh) {
        Add(site.Here(), absl::StrCat("envelope rules for \"", e->message(),
                                      "\" are already given at ", it->second));
        continue;
      }
      const bool view = EnvelopeIsView(e->message());
      if (view && (e->view_level() == v1::LEVEL_NONE ||
                   !v1::Level_IsValid(e->view_level()))) {
        Add(site.Here(),
            absl::StrCat("envelope \"", e->message(),
                         "\" is shown outside a disclosure decision and "
                         "needs view_level (LEVEL_SIGNAL to LEVEL_FULL)"));
      } else if (!view && e->view_level() != v1::LEVEL_NONE) {
        Add(site.At(d, "view_level"),
            absl::StrCat("envelope \"", e->message(),
                         "\" takes the level of its disclosure decision; "
                         "remove view_level"));
      }
      CheckRules(e->fields(), d, site, type,
                 absl::StrCat("envelope \"", e->message(), "\""));
    }
    for (const std::string& name : EnvelopeNames()) {
      if (seen.count(name) == 0) {
        Add("policy set",
            absl::StrCat("no envelope rules for \"", name,
                         "\": add envelopes { message: \"", name,
                         "\" ... } with a rule for each of its fields"));
      }
    }
  }

  const v1::CodeMapping* FindMapping(const std::string& name) const {
    for (const auto& m : mappings_) {
      if (m.value->name() == name) return m.value;
    }
    return nullptr;
  }

  bool KnownSector(const std::string& name) const {
    return std::any_of(sectors_.begin(), sectors_.end(),
                       [&](const auto& s) { return s.value->name() == name; });
  }

  bool KnownJurisdiction(const std::string& id) const {
    return std::any_of(jurisdictions_.begin(), jurisdictions_.end(),
                       [&](const auto& j) { return j.value->id() == id; });
  }

  void CheckParties(const v1::Agreement& a, const Site& site,
                    const char* side) {
    const Descriptor* d = v1::Agreement::descriptor();
    const std::string sectors = absl::StrCat(side, "_sectors");
    const std::string agencies = absl::StrCat(side, "_agencies");
    const auto& s =
        std::string(side) == "from" ? a.from_sectors() : a.to_sectors();
    const auto& g =
        std::string(side) == "from" ? a.from_agencies() : a.to_agencies();
    if (s.empty() && g.empty()) {
      Add(site.Here(), absl::StrCat("agreement \"", a.id(), "\" needs ",
                                    sectors, " or ", agencies));
    }
    for (int i = 0; i < s.size(); ++i) {
      if (!KnownSector(s[i])) {
        Add(site.At(d, sectors, i),
            absl::StrCat("agreement \"", a.id(), "\": unknown sector \"", s[i],
                         "\"; define it in sectors first"));
      }
    }
    for (int i = 0; i < g.size(); ++i) {
      if (!IsAgencyId(g[i])) {
        Add(site.At(d, agencies, i),
            absl::StrCat("agreement \"", a.id(), "\": \"", g[i],
                         "\" is not an agency id"));
      }
    }
  }

  void CheckAgreements(std::vector<LoadedAgreement>* loaded) {
    std::map<std::string, std::string> seen;
    const Descriptor* d = v1::Agreement::descriptor();
    for (const auto& [a, site] : agreements_) {
      const size_t before = out_->size();
      if (a->id().empty()) {
        Add(site.Here(), "agreement needs an id");
      } else if (auto [it, fresh] = seen.emplace(a->id(), site.Here());
                 !fresh) {
        Add(site.At(d, "id"),
            absl::StrCat("agreement \"", a->id(), "\" is already defined at ",
                         it->second));
      }
      CheckParties(*a, site, "from");
      CheckParties(*a, site, "to");
      if (a->purposes().empty()) {
        Add(site.Here(), absl::StrCat("agreement \"", a->id(),
                                      "\" needs at least one purpose"));
      }
      for (int i = 0; i < a->purposes_size(); ++i) {
        if (!IsSectorName(a->purposes(i))) {
          Add(site.At(d, "purposes", i),
              absl::StrCat("agreement \"", a->id(), "\": purpose \"",
                           a->purposes(i),
                           "\" must be 1 to 32 characters of a-z, 0-9 and _"));
        }
      }
      for (int i = 0; i < a->jurisdictions_size(); ++i) {
        if (!KnownJurisdiction(a->jurisdictions(i))) {
          Add(site.At(d, "jurisdictions", i),
              absl::StrCat("agreement \"", a->id(),
                           "\": unknown jurisdiction \"", a->jurisdictions(i),
                           "\""));
        }
      }
      for (const char* field : {"consent_max_level", "override_max_level"}) {
        const int level =
            a->GetReflection()->GetEnumValue(*a, d->FindFieldByName(field));
        if (!ValidLevel(level)) {
          Add(site.At(d, field),
              absl::StrCat("agreement \"", a->id(), "\": ", field, " ", level,
                           " is not a level (LEVEL_NONE to LEVEL_FULL)"));
        }
      }
      CheckRouteProvisions(*a, site);
      CheckRouteEnvelopes(*a, site);
      if (a->override_needs_two_persons() &&
          a->override_max_level() == v1::LEVEL_NONE) {
        Add(site.At(d, "override_needs_two_persons"),
            absl::StrCat("agreement \"", a->id(),
                         "\" asks two persons for overrides but allows no "
                         "override (override_max_level is LEVEL_NONE)"));
      }
      std::set<std::string> duties;
      for (int i = 0; i < a->statutory_duties_size(); ++i) {
        const v1::StatutoryDuty& duty = a->statutory_duties(i);
        const std::string where = site.At(d, "statutory_duties", i);
        if (duty.id().empty() || duty.legal_provision().empty()) {
          Add(where, "a statutory duty needs an id and a legal_provision");
        } else if (!duties.insert(duty.id()).second) {
          Add(where, absl::StrCat("statutory duty \"", duty.id(),
                                  "\" is listed twice"));
        }
        if (!ValidLevel(duty.max_level()) ||
            duty.max_level() == v1::LEVEL_NONE) {
          Add(where, absl::StrCat("statutory duty \"", duty.id(),
                                  "\" needs a max_level above LEVEL_NONE"));
        }
      }
      if (a->consent_max_level() == v1::LEVEL_NONE &&
          a->override_max_level() == v1::LEVEL_NONE &&
          a->statutory_duties().empty()) {
        Add(site.Here(), absl::StrCat("agreement \"", a->id(),
                                      "\" allows no basis: set "
                                      "consent_max_level, override_max_level "
                                      "or a statutory duty"));
      }
      LoadedAgreement l;
      l.agreement = *a;
      l.where = site.Here();
      if (!absl::ParseCivilTime(a->valid_from(), &l.valid_from) ||
          a->valid_from().size() != 10) {
        Add(site.At(d, "valid_from"),
            absl::StrCat("agreement \"", a->id(),
                         "\" needs valid_from as a date YYYY-MM-DD, not \"",
                         a->valid_from(), "\""));
      }
      l.valid_until = absl::CivilDay::max();
      if (!a->valid_until().empty()) {
        if (!absl::ParseCivilTime(a->valid_until(), &l.valid_until) ||
            a->valid_until().size() != 10) {
          Add(site.At(d, "valid_until"),
              absl::StrCat("agreement \"", a->id(),
                           "\": valid_until must be a date YYYY-MM-DD, not \"",
                           a->valid_until(), "\""));
        } else if (l.valid_until < l.valid_from) {
          Add(site.At(d, "valid_until"),
              absl::StrCat("agreement \"", a->id(),
                           "\" ends before it starts"));
        }
      }
      if (out_->size() == before) loaded->push_back(std::move(l));
    }
  }

  static bool SidesMeet(
      const google::protobuf::RepeatedPtrField<std::string>& sectors_a,
      const google::protobuf::RepeatedPtrField<std::string>& agencies_a,
      const google::protobuf::RepeatedPtrField<std::string>& sectors_b,
      const google::protobuf::RepeatedPtrField<std::string>& agencies_b) {
    return Intersects(sectors_a, sectors_b) ||
           Intersects(agencies_a, agencies_b);
  }

  // Two agreements that could both decide one disclosure are an error: a
  // decision must come from exactly one agreement.
  void CheckOverlaps(const std::vector<LoadedAgreement>& loaded) {
    for (size_t i = 0; i < loaded.size(); ++i) {
      for (size_t k = 0; k < i; ++k) {
        const v1::Agreement& a = loaded[i].agreement;
        const v1::Agreement& b = loaded[k].agreement;
        if (!SidesMeet(a.from_sectors(), a.from_agencies(), b.from_sectors(),
                       b.from_agencies()) ||
            !SidesMeet(a.to_sectors(), a.to_agencies(), b.to_sectors(),
                       b.to_agencies()) ||
            !Intersects(a.purposes(), b.purposes())) {
          continue;
        }
        if (!a.jurisdictions().empty() && !b.jurisdictions().empty() &&
            !Intersects(a.jurisdictions(), b.jurisdictions())) {
          continue;
        }
        if (loaded[i].valid_until < loaded[k].valid_from ||
            loaded[k].valid_until < loaded[i].valid_from) {
          continue;
        }
        Add(loaded[i].where,
            absl::StrCat("agreement \"", a.id(), "\" overlaps agreement \"",
                         b.id(), "\" (", loaded[k].where, ") for purpose \"",
                         FirstShared(a.purposes(), b.purposes()),
                         "\" on the same route at the same time: one "
                         "disclosure must be decided by one agreement"));
      }
    }
  }

  std::vector<std::string>* out_;
  std::vector<Placed<v1::Sector>> sectors_;
  std::vector<Placed<v1::Jurisdiction>> jurisdictions_;
  std::vector<Placed<v1::Agreement>> agreements_;
  std::vector<Placed<v1::RecordRules>> records_;
  std::vector<Placed<v1::EnvelopeRules>> envelopes_;
  std::vector<Placed<v1::CodeMapping>> mappings_;
  std::vector<Placed<v1::AgeBands>> age_bands_;
};

}  // namespace

void CheckPolicyFiles(const std::vector<ParsedFile>& files,
                      std::vector<LoadedAgreement>* agreements,
                      std::vector<std::string>* problems) {
  Checker checker(files, problems);
  checker.Run(agreements);
}

}  // namespace liaison::policy::internal
