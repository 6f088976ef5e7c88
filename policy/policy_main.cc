// liaison-policy: checks a policy set, and explains what the broker would
// decide and deliver for a sample disclosure. It reads files only.
// Exit codes: 0 the set checks (check) or the disclosure is allowed
// (explain); 1 the set has errors (check) or the disclosure is denied
// (explain); 2 the command line could not be understood, or an input could
// not be read or does not check. Errors go to stderr.
#include <google/protobuf/message.h>
#include <google/protobuf/text_format.h>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "broker/basics/command_line.h"
#include "broker/basics/request_file.h"
#include "policy/disclosure.h"
#include "policy/envelopes.h"
#include "policy/policy_set.h"

namespace liaison::policy {
namespace {

constexpr char kGeneralHelp[] =
    R"(liaison-policy: check and explain Liaison policy sets.

Usage: liaison-policy COMMAND [FLAGS]

Commands:
  check     check a policy folder for errors of schema and meaning
  explain   show the decision, its reasons and the abstracted record for a
            sample disclosure
  help      show help for a command

Run `liaison-policy help COMMAND` or `liaison-policy COMMAND --help` for
details. liaison-policy reads files only; it never contacts a broker.
)";

const std::vector<cli::CommandSpec>& Commands() {
  static const auto* commands = new std::vector<cli::CommandSpec>{
      {"check",
       {},
       R"(Usage: liaison-policy check DIR

Loads every *.textproto file in DIR as a liaison.v1.PolicyFile and checks:
  - syntax and schema: unknown fields, wrong types, unknown enum values;
  - sectors, jurisdictions, code mappings and age bands: names, duplicates,
    ages of majority, override categories with their legal provisions;
  - agreements: known sectors and jurisdictions, purposes, levels in range,
    at least one basis, dates, and no two agreements covering the same
    route and purpose at the same time;
  - field rules: a rule for every field of every record type, transforms
    that fit the field, each level giving at least what the one below gives;
  - envelope rules: the same for every content field of every message an
    agency can receive (referral, referral_update, summary_request,
    summary, notice, case, consent), and a view level where one is needed.

Every error names its file and line. On success prints the set's version
(the digest every decision records) and what it holds; exit status 0. On
any error exit status 1.

Example:
  liaison-policy check policy/default
)"},
      {"explain",
       {"policy", "from", "to", "purpose", "basis", "basis_file",
        "jurisdiction", "record", "date", "relationship", "consent",
        "message"},
       R"(Usage: liaison-policy explain --policy=DIR --from=SENDER --to=RECIPIENT
           --purpose=PURPOSE --basis=BASIS [--record=FILE] [--consent=FILE]
           [--jurisdiction=ID] [--date=YYYY-MM-DD] [--norelationship]
           [--message=ENVELOPE]

Decides one disclosure as the broker would, and prints the decision, the
chain of reasons, what the envelope around the record keeps and withholds
(the subject, concerns, free texts, who wrote them) and, given a record,
what the recipient would receive of it.

Flags:
  --policy=DIR        the policy folder (required)
  --from=SENDER       the sender's sector, or SECTOR/AGENCY-ID, e.g. health
                      or health/malmo-hospital (required)
  --to=RECIPIENT      the recipient, likewise (required)
  --purpose=PURPOSE   the purpose named by the sender (required)
  --basis=BASIS       consent, duty:ID (a statutory duty), or override
                      (then --basis_file gives the justification)
  --basis_file=FILE   a liaison.v1.LegalBasis in text format, instead of
                      --basis, e.g. an override with its category,
                      provision, statement, assessor and approver
  --consent=FILE      with a consent basis: the liaison.v1.Consent relied
                      on, in text format (e.g. policy/examples/
                      consent-guardian.textproto), checked as the broker
                      checks a registered consent: grantor and age of
                      majority, validity, parties, purposes, its level.
                      Without it, a consent from the subject covering this
                      route and purpose at any level is assumed
  --jurisdiction=ID   the sender's jurisdiction (default "se")
  --record=FILE       a sample liaison.v1.Record in text format, e.g.
                      policy/examples/health-record.textproto
  --date=YYYY-MM-DD   the day of the disclosure (default today, UTC)
  --norelationship    the recipient has no legitimate relationship to the
                      subject (by default it has)
  --message=ENVELOPE  the message the record travels in, for its envelope
                      rules: referral (default), summary_request or summary

Exit status 0 when allowed, 1 when denied, 2 for a usage error or an input
that cannot be read.

Example:
  liaison-policy explain --policy=policy/default --from=health \
      --to=social_care --purpose=child_welfare --basis=consent \
      --record=policy/examples/health-record.textproto
)"},
  };
  return *commands;
}

using cli::FlagType;

constexpr cli::FlagSpec kFlags[] = {
    {"policy", FlagType::kString},       {"from", FlagType::kString},
    {"to", FlagType::kString},           {"purpose", FlagType::kString},
    {"basis", FlagType::kString},        {"basis_file", FlagType::kString},
    {"jurisdiction", FlagType::kString}, {"record", FlagType::kString},
    {"date", FlagType::kString},         {"relationship", FlagType::kBool},
    {"consent", FlagType::kString},      {"message", FlagType::kString}};

const cli::ToolSpec& Tool() {
  static const cli::ToolSpec tool{"liaison-policy", kGeneralHelp, Commands(),
                                  kFlags};
  return tool;
}

int UsageError(absl::string_view message, absl::string_view command) {
  return cli::UsageError(Tool(), message, command);
}

std::string Value(const cli::CommandLine& cl, const std::string& flag) {
  auto it = cl.values.find(flag);
  return it == cl.values.end() || it->second.empty() ? "" : it->second.back();
}

// Reads a text-format message; "" on success, else what is wrong, as
// "PATH:LINE:COLUMN: message".
std::string ReadTextFile(const std::string& path,
                         google::protobuf::Message* out) {
  absl::StatusOr<std::string> read = ReadRequestFile(path, out);
  return read.ok() ? "" : std::string(read.status().message());
}

int RunCheck(const cli::CommandLine& cl) {
  if (cl.positional.size() != 2) {
    return UsageError("check needs exactly one DIR", "check");
  }
  absl::StatusOr<std::shared_ptr<const PolicySet>> set =
      PolicySet::FromDirectory(cl.positional[1]);
  if (!set.ok()) {
    std::vector<std::string> lines =
        absl::StrSplit(set.status().message(), '\n');
    for (const std::string& line : lines) {
      std::cerr << "liaison-policy: " << line << "\n";
    }
    std::cerr << "liaison-policy: " << cl.positional[1] << ": " << lines.size()
              << (lines.size() == 1 ? " error" : " errors")
              << "; the set cannot be loaded\n";
    return 1;
  }
  const v1::PolicyFile& m = (*set)->merged();
  std::cout << cl.positional[1] << ": policy set " << (*set)->version()
            << " checks: " << m.sectors_size() << " sectors, "
            << m.jurisdictions_size() << " jurisdictions, "
            << m.agreements_size() << " agreements, " << m.records_size()
            << " record types, " << m.envelopes_size()
            << " envelope messages, " << m.code_mappings_size()
            << " code mappings\n";
  return 0;
}

// "health" or "health/malmo-hospital" into sector and agency id.
void SplitParty(const std::string& spec, std::string* sector,
                std::string* agency) {
  const size_t slash = spec.find('/');
  *sector = spec.substr(0, slash);
  *agency = slash == std::string::npos ? absl::StrCat("a ", *sector, " agency")
                                       : spec.substr(slash + 1);
}

std::string TreatmentWord(v1::FieldOutcome::Treatment t) {
  switch (t) {
    case v1::FieldOutcome::TREATMENT_KEPT:
      return "kept";
    case v1::FieldOutcome::TREATMENT_GENERALISED:
      return "generalised";
    case v1::FieldOutcome::TREATMENT_WITHHELD:
      return "withheld";
    case v1::FieldOutcome::TREATMENT_HASHED:
      return "hashed";
    default:
      return "?";
  }
}

// Prints what the `message` envelope around a record keeps and withholds
// at `level`.
void PrintEnvelope(const PolicySet& set, const std::string& message,
                   v1::Level level, absl::CivilDay day) {
  const google::protobuf::Descriptor* type = EnvelopeType(message);
  std::unique_ptr<google::protobuf::Message> envelope(
      google::protobuf::MessageFactory::generated_factory()
          ->GetPrototype(type)
          ->New());
  AbstractEnvelope(set, message, level, envelope.get(), day,
                   "liaison-policy explain");
  const auto& outcome = static_cast<const v1::EnvelopeOutcome&>(
      envelope->GetReflection()->GetMessage(
          *envelope, type->FindFieldByName("envelope")));
  std::cout << "envelope (" << message << ") at "
            << v1::Level_Name(outcome.level()) << ":\n";
  for (const v1::FieldOutcome& f : outcome.fields()) {
    std::cout << "  " << message << "." << f.field() << ": "
              << TreatmentWord(f.treatment()) << " (" << f.transform()
              << ")\n";
  }
}

int RunExplain(const cli::CommandLine& cl) {
  if (cl.positional.size() > 1) {
    return UsageError(
        absl::StrCat("unexpected argument \"", cl.positional[1], "\""),
        "explain");
  }
  for (const char* required : {"policy", "from", "to", "purpose"}) {
    if (Value(cl, required).empty()) {
      return UsageError(absl::StrCat("explain needs --", required), "explain");
    }
  }
  const std::string message =
      Value(cl, "message").empty() ? "referral" : Value(cl, "message");
  if (message != "referral" && message != "summary_request" &&
      message != "summary") {
    return UsageError(absl::StrCat("--message=", message,
                                   ": use referral, summary_request or "
                                   "summary"),
                      "explain");
  }
  absl::StatusOr<std::shared_ptr<const PolicySet>> set =
      PolicySet::FromDirectory(Value(cl, "policy"));
  if (!set.ok()) {
    std::cerr << "liaison-policy: " << set.status().message() << "\n";
    return 2;
  }
  DisclosureQuery q;
  SplitParty(Value(cl, "from"), &q.sender_sector, &q.sender_agency_id);
  SplitParty(Value(cl, "to"), &q.recipient_sector, &q.recipient_agency_id);
  q.purpose = Value(cl, "purpose");
  q.sender_jurisdiction =
      Value(cl, "jurisdiction").empty() ? "se" : Value(cl, "jurisdiction");
  q.legitimate_relationship = Value(cl, "relationship") != "false";

  const std::string basis = Value(cl, "basis");
  const std::string basis_file = Value(cl, "basis_file");
  if (!basis_file.empty()) {
    if (std::string e = ReadTextFile(basis_file, &q.basis); !e.empty()) {
      std::cerr << "liaison-policy: " << e << "\n";
      return 2;
    }
  } else if (basis == "consent") {
    q.basis.set_consent_id("sample-consent");
  } else if (absl::StartsWith(basis, "duty:") && basis.size() > 5) {
    q.basis.set_statutory_duty(basis.substr(5));
  } else if (basis.empty()) {
    return UsageError("explain needs --basis or --basis_file", "explain");
  } else {
    return UsageError(absl::StrCat("--basis=", basis,
                                   ": use consent, duty:ID, or --basis_file "
                                   "for an override"),
                      "explain");
  }

  absl::CivilDay day = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
  if (const std::string date = Value(cl, "date"); !date.empty()) {
    if (date.size() != 10 || !absl::ParseCivilTime(date, &day)) {
      return UsageError(absl::StrCat("--date=", date, " is not YYYY-MM-DD"),
                        "explain");
    }
  }
  q.at = absl::FromCivil(day, absl::UTCTimeZone()) + absl::Hours(12);

  v1::Record record;
  if (const std::string path = Value(cl, "record"); !path.empty()) {
    if (std::string e = ReadTextFile(path, &record); !e.empty()) {
      std::cerr << "liaison-policy: " << e << "\n";
      return 2;
    }
    q.record_type = RecordType(record);
  }

  if (q.basis.has_consent_id()) {
    // Offline there is no registry and no pseudonym key: the consent comes
    // from a file (or is assumed), and subjects are compared as given.
    v1::Consent consent;
    if (const std::string path = Value(cl, "consent"); !path.empty()) {
      if (std::string e = ReadTextFile(path, &consent); !e.empty()) {
        std::cerr << "liaison-policy: " << e << "\n";
        return 2;
      }
      consent.set_consent_id(q.basis.consent_id());
    } else {
      consent.set_consent_id(q.basis.consent_id());
      consent.set_grantor(v1::GRANTOR_SUBJECT);
      consent.add_disclosing()->set_sector(q.sender_sector);
      consent.add_recipients()->set_sector(q.recipient_sector);
      consent.add_purposes(q.purpose);
      consent.set_max_level(v1::LEVEL_FULL);
      std::cout << "assuming a consent from the subject for this route and "
                   "purpose at any level (give --consent=FILE to check "
                   "one)\n";
    }
    const v1::Subject* subject = RecordSubject(record);
    q.subject_pseudonym = subject != nullptr && !subject->identifier().empty()
                              ? subject->identifier()
                              : consent.subject().identifier();
    q.consent_subject_pseudonym = consent.subject().identifier();
    if (consent.subject().identifier().empty()) {
      q.consent_subject_pseudonym = q.subject_pseudonym;
    }
    if (consent.refused()) q.refusals.push_back(consent);
    q.consent = std::move(consent);
  } else if (!Value(cl, "consent").empty()) {
    return UsageError("--consent applies only with --basis=consent",
                      "explain");
  }

  const Decision d = Decide(**set, q);
  std::cout << "decision: "
            << (d.allowed ? absl::StrCat("ALLOWED at ", v1::Level_Name(d.level))
                          : std::string("DENIED"))
            << (d.agreement_id.empty()
                    ? ""
                    : absl::StrCat(" (agreement ", d.agreement_id, ")"))
            << ", policy " << d.policy_version << "\n";
  std::cout << "reasons:\n";
  for (size_t i = 0; i < d.reasons.size(); ++i) {
    std::cout << "  " << i + 1 << ". " << d.reasons[i] << "\n";
  }
  if (d.allowed) PrintEnvelope(**set, message, d.level, day);
  if (q.record_type.empty()) return d.allowed ? 0 : 1;

  const v1::AbstractedRecord out =
      Abstract(**set, record, d, day, "liaison-policy explain");
  std::cout << "fields at " << v1::Level_Name(out.level()) << ":\n";
  for (const v1::FieldOutcome& f : out.fields()) {
    std::cout << "  " << f.field() << ": " << TreatmentWord(f.treatment())
              << " (" << f.transform() << ")\n";
  }
  if (out.more_available_under_override()) {
    std::cout << "more would be available under an override (up to "
              << v1::Level_Name(d.override_max_level) << ")\n";
  }
  std::string text;
  google::protobuf::TextFormat::PrintToString(out.record(), &text);
  std::cout << "the recipient receives:\n"
            << (text.empty() ? "  (nothing)\n" : text);
  return d.allowed ? 0 : 1;
}

int Run(int argc, char** argv) {
  const cli::Dispatch dispatch = cli::DispatchCommand(argc, argv, Tool());
  if (dispatch.command == nullptr) return dispatch.exit_code;
  if (dispatch.command->name == "check") return RunCheck(dispatch.line);
  return RunExplain(dispatch.line);
}

}  // namespace
}  // namespace liaison::policy

int main(int argc, char** argv) { return liaison::policy::Run(argc, argv); }
