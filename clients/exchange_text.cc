#include "clients/exchange_text.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/text_format.h>

#include <algorithm>
#include <cctype>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "broker/basics/principal.h"
#include "broker/basics/time_format.h"

namespace liaison::client {
namespace {

// Enum value names are TYPE_PREFIX_VALUE; the prefix is the part the
// generated name of every value of that enum shares.
std::string Readable(const std::string& name, const std::string& prefix) {
  return ReadableName(name.rfind(prefix, 0) == 0 ? name.substr(prefix.size())
                                                 : name);
}

std::string StatusName(v1::ReferralStatus status) {
  return Readable(v1::ReferralStatus_Name(status), "REFERRAL_STATUS_");
}

std::string UrgencyName(v1::Urgency urgency) {
  return Readable(v1::Urgency_Name(urgency), "URGENCY_");
}

std::string Concerns(const google::protobuf::RepeatedField<int>& concerns) {
  std::vector<std::string> names;
  for (int c : concerns) {
    names.push_back(
        Readable(v1::ConcernCategory_Name(static_cast<v1::ConcernCategory>(c)),
                 "CONCERN_CATEGORY_"));
  }
  return names.empty() ? "-" : absl::StrJoin(names, ", ");
}

std::string TimeText(const google::protobuf::Timestamp& t) {
  return Rfc3339(t.seconds());
}

// A block of "label: value" lines with the values aligned at `width`,
// indented by `indent` spaces.
class Lines {
 public:
  Lines(int indent, int width) : indent_(indent), width_(width) {}

  Lines& Add(const std::string& label, const std::string& value) {
    std::string head = absl::StrCat(std::string(indent_, ' '), label, ":");
    if (static_cast<int>(head.size()) < indent_ + width_) {
      head.resize(indent_ + width_, ' ');
    } else {
      head.push_back(' ');
    }
    absl::StrAppend(&text_, head, value, "\n");
    return *this;
  }

  // Adds the line only when `value` is not empty.
  Lines& AddIfSet(const std::string& label, const std::string& value) {
    return value.empty() ? *this : Add(label, value);
  }

  Lines& AddRaw(const std::string& lines) {
    absl::StrAppend(&text_, lines);
    return *this;
  }

  const std::string& text() const { return text_; }

 private:
  const int indent_;
  const int width_;
  std::string text_;
};

// The record type ("education") and the field paths without it, by
// treatment. Field paths from the broker are "<record type>.<field>".
std::string RecordLines(const v1::AbstractedRecord& record, int indent,
                        int width, bool with_content) {
  std::string type;
  std::vector<std::string> kept, generalised, hashed, withheld;
  for (const v1::FieldOutcome& f : record.fields()) {
    std::vector<std::string> parts =
        absl::StrSplit(f.field(), absl::MaxSplits('.', 1));
    std::string name = f.field();
    if (parts.size() == 2) {
      if (type.empty()) type = parts[0];
      name = parts[1];
    }
    switch (f.treatment()) {
      case v1::FieldOutcome::TREATMENT_KEPT:
        kept.push_back(name);
        break;
      case v1::FieldOutcome::TREATMENT_GENERALISED:
        generalised.push_back(
            absl::StrCat(name, f.transform().empty()
                                   ? ""
                                   : absl::StrCat(" (", f.transform(), ")")));
        break;
      case v1::FieldOutcome::TREATMENT_HASHED:
        hashed.push_back(name);
        break;
      default:
        withheld.push_back(name);
        break;
    }
  }
  if (type.empty()) {
    // Nothing listed: the record's type is the name of the oneof field set.
    const google::protobuf::FieldDescriptor* set =
        record.record().GetReflection()->GetOneofFieldDescriptor(
            record.record(),
            v1::Record::descriptor()->FindOneofByName("record"));
    if (set != nullptr) type = set->name();
  }
  Lines lines(indent, width);
  if (type.empty() && record.level() == v1::LEVEL_NONE) {
    lines.Add("record", "none");
    return lines.text();
  }
  std::string head = absl::StrCat(type.empty() ? "record" : type, " at level ",
                                  LevelName(record.level()));
  if (!record.policy_version().empty()) {
    absl::StrAppend(&head, " (policy ", record.policy_version(), ")");
  }
  lines.Add("record", head);
  const auto list = [](const std::vector<std::string>& names) {
    return names.empty() ? std::string("-") : absl::StrJoin(names, ", ");
  };
  Lines fields(indent + 2, 13);
  fields.Add("kept", list(kept)).Add("generalised", list(generalised));
  if (!hashed.empty()) fields.Add("hashed", list(hashed));
  fields.Add("withheld", list(withheld));
  if (record.more_available_under_override()) {
    fields.Add("note", "more is available under an override basis");
  }
  lines.AddRaw(fields.text());
  if (with_content &&
      record.record().record_case() != v1::Record::RECORD_NOT_SET) {
    std::string content;
    google::protobuf::TextFormat::Printer printer;
    printer.SetUseUtf8StringEscaping(true);  // "Malmö", not octal escapes
    printer.PrintToString(record.record(), &content);
    const std::string pad(indent + 2, ' ');
    lines.AddRaw(absl::StrCat(pad, "content:\n"));
    for (absl::string_view line :
         absl::StrSplit(content, '\n', absl::SkipEmpty())) {
      lines.AddRaw(absl::StrCat(pad, "  ", line, "\n"));
    }
  }
  return lines.text();
}

std::string BasisText(const v1::LegalBasis& basis) {
  switch (basis.basis_case()) {
    case v1::LegalBasis::kConsentId:
      return absl::StrCat("consent ", basis.consent_id());
    case v1::LegalBasis::kOverride:
      return absl::StrCat(
          "override: ",
          Readable(v1::OverrideCategory_Name(basis.override().category()),
                   "OVERRIDE_CATEGORY_"),
          basis.override().legal_provision().empty()
              ? ""
              : absl::StrCat(" under ", basis.override().legal_provision()));
    case v1::LegalBasis::kStatutoryDuty:
      return absl::StrCat("statutory duty ", basis.statutory_duty());
    case v1::LegalBasis::BASIS_NOT_SET:
      break;
  }
  return "-";
}

// The person a message is about. Below SUMMARY the broker may give the
// birth date as an age band ("13-15") or withhold it.
std::string SubjectText(const v1::Subject& s) {
  if (s.identifier().empty()) return "-";
  if (s.birth_date().empty()) return s.identifier();
  absl::CivilDay day;
  const bool date =
      s.birth_date().size() == 10 && absl::ParseCivilTime(s.birth_date(), &day);
  return absl::StrCat(s.identifier(), date ? " (born " : " (age band ",
                      s.birth_date(), ")");
}

// The envelope fields the broker withheld, e.g. "concerns,
// requested_action"; empty when none was.
std::string WithheldText(const v1::EnvelopeOutcome& envelope) {
  std::vector<std::string> withheld;
  for (const v1::FieldOutcome& f : envelope.fields()) {
    if (f.treatment() == v1::FieldOutcome::TREATMENT_WITHHELD) {
      withheld.push_back(f.field());
    }
  }
  if (withheld.empty()) return "";
  return absl::StrCat(absl::StrJoin(withheld, ", "), " (at ",
                      Readable(v1::Level_Name(envelope.level()), "LEVEL_"),
                      ")");
}

}  // namespace

std::string ReadableName(const std::string& enum_value_name) {
  std::string name = enum_value_name;
  for (char& c : name) {
    c = c == '_'
            ? ' '
            : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return name;
}

std::string LevelName(v1::Level level) {
  return Readable(v1::Level_Name(level), "LEVEL_");
}

std::string Rfc3339(int64_t unix_seconds) {
  return liaison::Rfc3339(absl::FromUnixSeconds(unix_seconds));
}

std::string ActedBy(const std::string& agency_id,
                    const v1::Professional& professional) {
  std::vector<std::string> who;
  if (!professional.id().empty()) who.push_back(professional.id());
  if (!professional.role().empty()) who.push_back(professional.role());
  std::string text = agency_id.empty() ? "-" : agency_id;
  if (!who.empty()) absl::StrAppend(&text, " (", absl::StrJoin(who, ", "), ")");
  return text;
}

namespace {

std::string PartiesText(
    const google::protobuf::RepeatedPtrField<v1::Party>& parties) {
  std::vector<std::string> names;
  for (const v1::Party& p : parties) names.push_back(PartyName(p));
  return names.empty() ? "-" : absl::StrJoin(names, ", ");
}

std::string GrantorText(const v1::Consent& c) {
  if (c.grantor() == v1::GRANTOR_SUBJECT) return "the subject";
  std::string text = Readable(v1::Grantor_Name(c.grantor()), "GRANTOR_");
  if (!c.grantor_relation().empty()) {
    absl::StrAppend(&text, " (", c.grantor_relation(), ")");
  }
  return text;
}

std::string ValidityText(const v1::Consent& c) {
  std::string text = c.has_valid_from()
                         ? absl::StrCat("from ", TimeText(c.valid_from()))
                         : "from recording";
  absl::StrAppend(&text,
                  c.has_valid_until()
                      ? absl::StrCat(" until ", TimeText(c.valid_until()))
                      : " until withdrawn");
  // A guardian's consent lapses at the age of majority whatever the file
  // said, and the reader should not have to know that rule.
  if (c.grantor() == v1::GRANTOR_GUARDIAN) {
    absl::StrAppend(&text, c.has_valid_until()
                               ? " or the subject comes of age, if sooner"
                               : " or the subject comes of age");
  }
  return text;
}

}  // namespace

std::string DescribeInboxMessage(const v1::InboxMessage& m) {
  Lines head(0, 0);
  head.Add("message", m.message_id());
  Lines lines(2, 11);
  switch (m.body_case()) {
    case v1::InboxMessage::kReferral: {
      const v1::Referral& r = m.referral();
      lines.Add("kind", "referral")
          .Add("referral", r.referral_id())
          .Add("from", ActedBy(r.sender_agency_id(), r.history_size() > 0
                                                         ? r.history(0).by()
                                                         : v1::Professional()))
          .Add("case", r.case_id())
          .Add("subject", SubjectText(r.subject()))
          .Add("urgency", UrgencyName(r.urgency()))
          .Add("concerns", Concerns(r.concerns()))
          .Add("requested",
               r.requested_action().empty() ? "-" : r.requested_action())
          .AddIfSet("withheld", WithheldText(r.envelope()))
          .AddRaw(RecordLines(r.record(), 2, 11, /*with_content=*/false));
      break;
    }
    case v1::InboxMessage::kReferralUpdate: {
      const v1::ReferralEvent& e = m.referral_update();
      lines.Add("kind", "referral update")
          .Add("referral", m.referral_id())
          .Add("status", StatusName(e.status()))
          .Add("by", ActedBy(e.by_agency_id(), e.by()))
          .Add("at", TimeText(e.at()))
          .AddIfSet("detail", e.detail());
      if (e.feedback_level() != v1::LEVEL_NONE) {
        lines.Add("told at",
                  absl::StrCat("level ", LevelName(e.feedback_level()),
                               " (the reverse route's)"));
      }
      break;
    }
    case v1::InboxMessage::kNotice: {
      const v1::Notice& n = m.notice();
      lines
          .Add("kind",
               absl::StrCat("notice: ",
                            Readable(v1::Notice::Kind_Name(n.kind()), "KIND_")))
          .AddIfSet("referral", n.referral_id())
          .AddIfSet("consent", n.consent_id());
      if (!n.message_ids().empty()) {
        lines.Add("about", absl::StrJoin(n.message_ids(), ", "));
      }
      lines.AddIfSet("text", n.text());
      break;
    }
    case v1::InboxMessage::kSummaryRequest: {
      const v1::SummaryRequestReceived& s = m.summary_request();
      lines.Add("kind", "summary request")
          .Add("request", s.request_id())
          .Add("from", s.requester_agency_id())
          .Add("subject", SubjectText(s.subject()))
          .Add("purpose", s.purpose())
          .Add("basis", BasisText(s.basis()));
      if (s.basis().has_override()) {
        // A risk the requester cites: for this agency to judge, and to
        // answer only under an override of its own.
        const v1::Justification& j = s.basis().override();
        lines.Add("assessed", ActedBy(s.requester_agency_id(), j.assessor()))
            .AddIfSet("statement", j.statement())
            .Add("to answer",
                 "judge the risk yourself: answer-summary --basis_file with "
                 "your own override");
      }
      break;
    }
    case v1::InboxMessage::kSummary: {
      const v1::SummaryReceived& s = m.summary();
      lines.Add("kind", "summary")
          .Add("summary", s.summary_id())
          .Add("from", s.sender_agency_id())
          .AddIfSet("case", s.case_id())
          .AddIfSet("request", s.request_id())
          .AddRaw(RecordLines(s.record(), 2, 11, /*with_content=*/false));
      break;
    }
    case v1::InboxMessage::BODY_NOT_SET:
      lines.Add("kind", "unknown (a newer broker? upgrade liaison)");
      break;
  }
  lines.Add("delivery",
            absl::StrCat("attempt ", m.delivery_attempt(), ", enqueued ",
                         TimeText(m.enqueued_at()), ", leased until ",
                         TimeText(m.lease_expires_at())));
  return head.text() + lines.text();
}

std::string DescribeReferral(const v1::Referral& r) {
  Lines lines(0, 11);
  lines.Add("referral", r.referral_id())
      .Add("case", r.case_id())
      .Add("from", r.sender_agency_id())
      .Add("to", r.recipient_agency_id())
      .Add("subject", SubjectText(r.subject()))
      .Add("status", StatusName(r.status()))
      .Add("urgency", UrgencyName(r.urgency()))
      .Add("concerns", Concerns(r.concerns()))
      .Add("requested",
           r.requested_action().empty() ? "-" : r.requested_action())
      .AddIfSet("withheld", WithheldText(r.envelope()))
      .AddRaw(RecordLines(r.record(), 0, 11, /*with_content=*/true))
      .AddRaw("history:\n");
  for (const v1::ReferralEvent& e : r.history()) {
    std::string status = StatusName(e.status());
    status.resize(std::max<size_t>(status.size(), 15), ' ');
    lines.AddRaw(absl::StrCat("  ", TimeText(e.at()), "  ", status, "  by ",
                              ActedBy(e.by_agency_id(), e.by()), "\n"));
    if (!e.detail().empty()) {
      lines.AddRaw(
          absl::StrCat(std::string(24, ' '), "detail: ", e.detail(), "\n"));
    }
  }
  return lines.text();
}

std::string DescribeConsent(const v1::Consent& c) {
  const auto or_dash = [](const std::string& value) {
    return value.empty() ? std::string("-") : value;
  };
  Lines lines(0, 15);
  lines.Add("consent", or_dash(c.consent_id()))
      .Add("kind", c.refused() ? "refusal: no consent-based sharing between "
                                 "these parties for these purposes"
                               : "consent")
      .Add("recorded by", or_dash(c.recorded_by_agency_id()))
      .Add(c.refused() ? "refused by" : "granted by", GrantorText(c))
      .Add("subject", SubjectText(c.subject()))
      .Add("disclosing", PartiesText(c.disclosing()))
      .Add("recipients", PartiesText(c.recipients()))
      .Add("purposes",
           c.purposes().empty() ? "-" : absl::StrJoin(c.purposes(), ", "));
  // The broker ignores max_level on a refusal; showing one would suggest
  // the refusal allows something up to it.
  if (!c.refused()) lines.Add("max level", LevelName(c.max_level()));
  lines.Add("valid", ValidityText(c));
  if (c.has_evidence()) {
    const v1::ConsentEvidence& e = c.evidence();
    Lines evidence(2, 13);
    evidence.Add("form", or_dash(e.form_reference()))
        .Add("version", or_dash(e.form_version()))
        .Add("language", or_dash(e.language()))
        .Add("interpreter", e.interpreter_present() ? "yes" : "no");
    lines.AddRaw("evidence:\n").AddRaw(evidence.text());
  } else {
    lines.Add("evidence", "none recorded");
  }
  if (c.has_withdrawn_at()) {
    lines.Add("withdrawn at",
              absl::StrCat(TimeText(c.withdrawn_at()),
                           c.refused() ? " (the refusal no longer applies)"
                                       : " (no longer a basis for sharing)"));
  }
  return lines.text();
}

std::string DescribeCase(const v1::Case& c) {
  Lines lines(0, 15);
  lines.Add("case", c.case_id())
      .Add("manager",
           c.manager_agency_id().empty() ? "-" : c.manager_agency_id());
  if (c.has_closed_at()) {
    lines.Add("closed", absl::StrCat(TimeText(c.closed_at()), ", ",
                                     Readable(v1::CaseOutcome_Name(c.outcome()),
                                              "CASE_OUTCOME_")));
  } else {
    lines.Add("closed", "no, open");
  }
  lines.AddRaw("agencies:\n");
  for (const v1::CaseAgency& a : c.agencies()) {
    Lines agency(2, 13);
    agency.Add("agency", a.agency_id())
        .AddIfSet("why", a.reason())
        .Add("attached", TimeText(a.attached_at()));
    if (a.has_detached_at()) {
      agency.Add("detached",
                 absl::StrCat(TimeText(a.detached_at()), ", ",
                              Readable(v1::DetachReason_Name(a.detach_reason()),
                                       "DETACH_REASON_")));
    }
    lines.AddRaw(agency.text());
  }
  for (const v1::CaseHandover& h : c.handovers()) {
    lines.Add(
        "handed over",
        absl::StrCat(TimeText(h.at()), ": ", h.from_agency_id(), " to ",
                     h.to_agency_id(),
                     h.note().empty() ? "" : absl::StrCat(": ", h.note())));
  }
  return lines.text();
}

}  // namespace liaison::client
