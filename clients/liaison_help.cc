#include "clients/liaison_help.h"

namespace liaison::cli {

const char kLiaisonHelp[] =
    R"(liaison: talk to a Liaison broker over mutual TLS.

Usage: liaison [connection flags] COMMAND [arguments] [command flags]

Commands:
  whoami          Show who the broker thinks you are.
  send-referral   Send a referral written in a file.
  inbox           Show your agency's inbox, or follow it and acknowledge.
  ack             Acknowledge one inbox message.
  push-summary    Share a summary with the agencies attached to a case.
  request-summary Ask another agency for a summary about a person.
  answer-summary  Answer a summary request your agency received.
  referral        Show a referral, move one you received through its
                  lifecycle (ack, accept, decline, info, close), or take
                  back one you sent (recall).
  manual-disclosure
                  Record a disclosure your agency made outside Liaison.
  consent         Record a consent or a refusal, withdraw one, or show one:
                  record, refuse, withdraw, show.
  case            Show a case, hand it over, close it, or detach an agency:
                  show, handover, close, detach.
  audit           For auditors: query, export and prove the disclosure log,
                  subject access reports, override reviews.
  admin           For administrators: agencies, certificate bindings, routes,
                  reloads, broker status.
  help            Show help for a command: liaison help inbox

Connection flags (each also read from the environment):
  --broker=HOST:PORT   broker address (LIAISON_BROKER, default 127.0.0.1:7443)
  --cert=FILE          your certificate (LIAISON_CERT)
  --key=FILE           your private key (LIAISON_KEY)
  --ca=FILE            the deployment CA certificate (LIAISON_CA)
  --server_name=NAME   name on the broker's certificate, if not the host
  --timeout_seconds=N  deadline for each call (default 10)

The professional acting inside your agency, recorded with every call:
  --professional_id=ID      e.g. a staff number (LIAISON_PROFESSIONAL_ID)
  --professional_role=ROLE  e.g. "school nurse" (LIAISON_PROFESSIONAL_ROLE)

Exit status: 0 on success, 1 when the broker or a file refused, 2 on a usage
error.
)";

const char kWhoAmIHelp[] =
    R"(liaison whoami: show who the broker thinks you are.

Usage: liaison [connection flags] whoami

Calls Identity.WhoAmI with your certificate and prints the principal the
broker derived from it after checking the CA, the CRL and its registry: kind,
id, sector, registered name, jurisdiction or scope, and the certificate's
serial and expiry. Use it to check a newly installed certificate.

Example:
  liaison --cert=agency-st-olavs.crt --key=agency-st-olavs.key \
          --ca=ca.crt --broker=127.0.0.1:7443 whoami
)";

const char kSendReferralHelp[] =
    R"(liaison send-referral: send a referral written in a file.

Usage: liaison [connection flags] send-referral FILE [--idempotency_key=KEY]

FILE is a liaison.v1.SendReferralRequest in protobuf text format (see
proto/liaison/v1/exchange.proto): destination, subject, purpose, concerns,
urgency, requested_action, your full record and the legal basis. The broker
decides the disclosure, reduces the record to the level the recipient may
see, logs the decision and puts the referral in the recipient's inbox.
A file that does not parse is reported as FILE:LINE:COLUMN: message.

The idempotency key is --idempotency_key if given, else the file's
idempotency_key, else the SHA-256 of the file's bytes: sending the same file
again is then a safe retry that returns the first answer, and a changed file
is a new referral. (--key is the connection flag for your private key.)

Prints the referral id, the case (opened or joined), the recipient agency,
the level the recipient sees, the log entry's sequence number and the
version of the policy that decided. A denial is PERMISSION_DENIED with the
reason; it is logged too.

Example file:
  destination { agency_id: "malmo-social" }
  subject { identifier: "20110304-1234" birth_date: "2011-03-04" }
  purpose: "child_welfare"
  concerns: CONCERN_CATEGORY_SCHOOL_ABSENCE
  urgency: URGENCY_WITHIN_24H
  requested_action: "assess the need for family support"
  record { education { school: "Rosengard School" attendance_percent: 61.5 } }
  basis { consent_id: "consent-1" }
)";

const char kPushSummaryHelp[] =
    R"(liaison push-summary: share a summary with the agencies on a case.

Usage: liaison [connection flags] push-summary FILE [--idempotency_key=KEY]

FILE is a liaison.v1.PushSummaryRequest in protobuf text format: the case,
the purpose, your full record about the person and the legal basis. The
broker decides and reduces the record separately for every other agency
attached to the case; each agency gets only what policy lets it see, and
a denial for one agency is logged and shown, not an error. The
idempotency key is chosen as for send-referral.

Prints the summary id and, for each attached agency, the level it was sent
at or why it was not sent.

Example file:
  case_id: "case-0123..."
  purpose: "child_welfare"
  record { social_care {
    subject { identifier: "20110412-2389" birth_date: "2011-04-12" }
    concerns: CONCERN_CATEGORY_NEGLECT
    summary_for_sharing: "Family support plan agreed; weekly home visits."
  } }
  basis { consent_id: "consent-1" }
)";

const char kRequestSummaryHelp[] =
    R"(liaison request-summary: ask another agency for a summary.

Usage: liaison [connection flags] request-summary FILE [--idempotency_key=KEY]

FILE is a liaison.v1.RequestSummaryRequest in protobuf text format: the
holder (an agency id, or a sector and area), the person, optionally the
case, the purpose and the legal basis. The broker decides the request as
the answer will be decided (the holder disclosing to you) and refuses it
when policy would give you nothing; otherwise it is logged and put in the
holder's inbox. The holder's system answers with `answer-summary`, and the
answer reaches your inbox at the level you may see.

Example file:
  holder { agency_id: "malmo-hospital" }
  subject { identifier: "20110412-2389" birth_date: "2011-04-12" }
  case_id: "case-0123..."
  purpose: "child_welfare"
  basis { consent_id: "consent-1" }
)";

const char kAnswerSummaryHelp[] =
    R"(liaison answer-summary: answer a summary request your agency received.

Usage: liaison [connection flags] answer-summary REQUEST_ID FILE
           [--basis_file=BASIS_FILE] [--checklist_file=CHECKLIST_FILE]

REQUEST_ID is the "request" shown for a summary request in `liaison inbox`.
FILE is your full record about the person, a liaison.v1.Record in protobuf
text format (see policy/examples/health-record.textproto); it must be about
the person the request names. The broker reduces it to the level the
requester may see, logs the disclosure and delivers it. A request is
answered once; a second answer is FAILED_PRECONDITION.

The answer is decided on the request's basis (a consent or a statutory
duty) unless --basis_file gives your own. A request that cites a risk (an
override) is yours to judge: to answer it under an override, give your own
in BASIS_FILE, a liaison.v1.LegalBasis in text format, with your assessor
and, where the agreement asks for two persons, your approving manager:

  override {
    category: OVERRIDE_CATEGORY_CHILD_PROTECTION
    legal_provision: "OSL 10 kap. 21 §"
    statement: "Why the risk to the child outweighs confidentiality here."
    assessor { id: "c-311" role: "child psychiatrist" }
    approver { id: "md-2" role: "medical director" }
  }

CHECKLIST_FILE is your pre-sharing checklist (a
liaison.v1.PreSharingChecklist in text format), which the policy requires of
some sectors (health, in the default set) wherever their records go:

  concern_verified: true
  person_informed: true
  colleague_or_expert_consulted: true
  manager_approved: true

Prints the level the requester receives.
)";

const char kInboxHelp[] = R"(liaison inbox: show your agency's inbox.

Usage: liaison [connection flags] inbox [--follow] [--lease_seconds=N]

Without --follow, prints the messages pending now, oldest first, and stops
once none has come for a second. It does not acknowledge them: each is
leased to you for --lease_seconds (default: the broker's, 60 unless
configured) and then delivered again. Acknowledge one with
`liaison ack MESSAGE_ID` once your system has taken it in.

With --follow, keeps the stream open, prints each message as it arrives and
acknowledges it on the same stream once printed, with a line
"  acknowledged ID" once the broker has the acknowledgement on disk. An
acknowledgement the broker refuses is said on stderr, and the message comes
again after its lease. Ctrl-C stops, saying how many were acknowledged.

Each message starts with a line "message: ID", then its kind and details,
indented. A referral shows its sender, case, urgency, concerns, requested
action, and the record's level with the fields kept, generalised and
withheld; a referral update shows the new status, who set it and the detail
(reason, question or outcome); a notice shows its kind, the referral or
withdrawn consent it concerns, the message ids it is about (for a consent
recall, the messages to recall) and its text.
)";

const char kAckHelp[] = R"(liaison ack: acknowledge one inbox message.

Usage: liaison [connection flags] ack MESSAGE_ID

MESSAGE_ID is the id on a "message:" line of `liaison inbox`. An
acknowledged message is not delivered again; acknowledging a referral moves
it to delivered and tells its sender. Acknowledging twice is harmless.
)";

const char kReferralHelp[] =
    R"(liaison referral: show a referral or move it through its lifecycle.

Usage: liaison [connection flags] referral SUBCOMMAND ID [flag]

  show ID                      the referral and its history (sender or
                               recipient)
  ack ID                       acknowledged: a professional has taken note;
                               stops escalation
  accept ID                    accepted: your agency will act on it
  decline ID --reason=TEXT     declined, and why
  info ID --question=TEXT      info requested: what you need to know
  close ID --outcome=TEXT      closed, with the outcome
  recall ID --reason=WORD      for the sender: take the referral back;
                               WORD is wrong_recipient, wrong_person,
                               sent_in_error or basis_not_valid

Recall, for the sender: a referral the recipient's system has not
acknowledged is withdrawn from its inbox and never delivered; one it has
acknowledged is recalled, and the recipient gets a notice to erase it.
Either way the broker purges its own copy of the content at once and logs
referral_withdrawn or referral_recalled; the recipient can no longer move
the referral. Recalling twice is harmless.

The other moves are for the recipient, and take --feedback_duty=ID too. Each
change is made and printed as the referral now is. Telling the sender is a
disclosure decided on the reverse route (purpose referral_feedback) and
logged: under --feedback_duty (a statutory duty the reverse agreement names,
e.g. se-sol-14-1a) or else the consent the referral was sent under, the
sender's inbox gets a referral update at that route's level (SIGNAL: the
status; CATEGORY: also the reason or outcome; SUMMARY: also who acted);
with no basis it allows, the sender is not told of the change. `show` to
the sender shows the history as it was told. A move the lifecycle does not
allow (e.g. accepting a closed referral) is FAILED_PRECONDITION.

Example:
  liaison referral decline ref-1 --reason="no open case; refer to the
    school health service"
  liaison referral recall ref-1 --reason=wrong_recipient
)";

const char kCaseHelp[] =
    R"(liaison case: show a case, hand it over, close it, or detach an agency.

Usage: liaison [connection flags] case SUBCOMMAND CASE_ID [AGENCY_ID] [flag]

  show CASE_ID                          the case, for an agency attached to it
  handover CASE_ID AGENCY_ID --note=TEXT
                                        make another attached agency the
                                        case manager (the manager only)
  close CASE_ID --outcome=WORD          close the case (the manager only)
  detach CASE_ID AGENCY_ID --reason=WORD
                                        detach an agency: the manager any
                                        other agency, an agency itself

Outcomes: support_in_place, referred_elsewhere, no_further_action,
person_moved, support_declined, opened_in_error. Reasons:
no_longer_involved, attached_in_error, person_objected, service_ended.
They are words rather than free text because the log keeps them for ever.

A closed case ends the legitimate relationship it gave: referrals joining
it, summary pushes and requests on it, and answers to requests on it are
refused (FAILED_PRECONDITION), and the retention the policy sets for its
referrals' content starts. A detached agency receives no more pushes on the
case, its own pushes and requests on it are refused (PERMISSION_DENIED),
and it can no longer show the case; a later referral to it on the case
attaches it again. Closing and detaching are logged (CASE_CLOSED,
CASE_DETACHED). Each subcommand prints the case as it now is.

Example:
  liaison case close case-0123 --outcome=support_in_place
  liaison case detach case-0123 lund-school --reason=no_longer_involved
)";

const char kConsentHelp[] =
    R"(liaison consent: record, refuse, withdraw or show a consent.

Usage: liaison [connection flags] consent SUBCOMMAND ARGUMENT [flag]

  record FILE [--idempotency_key=KEY]   record a consent given to your agency
  refuse FILE [--idempotency_key=KEY]   record a refusal
  withdraw CONSENT_ID --reason=TEXT     withdraw a consent, or end a refusal
  show CONSENT_ID                       show a consent

FILE is a liaison.v1.Consent in protobuf text format (see
proto/liaison/v1/exchange.proto, and the example below, which is
policy/examples/consent-guardian.textproto): the grantor, with
grantor_relation for a guardian or legal representative; the subject (a
guardian's consent also needs the birth date); the parties that may
disclose and receive, each a sector, an agency_id or public_authorities:
true (every agency of a sector the policy marks a public authority); the
purposes; max_level; optionally valid_from and valid_until; and the
evidence of how it was given. A file that does not parse is reported as
FILE:LINE:COLUMN: message.

`record` refuses a file that sets refused: true (a usage error). `refuse`
records the same kind of file as a refusal, and max_level may be left out:
consent-based sharing between the parties named, for the purposes named,
is then impossible.

The idempotency key is --idempotency_key if given, else the SHA-256 of the
file's bytes, so recording the same file again is a safe retry that returns
the consent first recorded. Recording and then refusing the very same file
is ALREADY_EXISTS (the same key with another body): change the file or give
--idempotency_key.

A guardian's consent lapses when the subject comes of age, whatever
valid_until says. Withdrawing takes effect at once; the broker sends a
consent recall notice to every agency that received data under the consent,
naming the inbox messages to recall. Any agency that may see a consent may
record its withdrawal; withdrawing it again changes nothing. --reason is
required: why, e.g. "withdrawn by the person in writing".

Each subcommand prints the consent as the broker holds it: id, the agency
that recorded it, consent or refusal, grantor, subject, disclosing parties,
recipients, purposes, max level (consents only), validity, evidence, and
when it was withdrawn. `record` and `refuse` also print the idempotency key;
`withdraw` also says that recall notices went out.

Errors from the broker: INVALID_ARGUMENT for a missing grantor, subject,
birth date (guardian), disclosing, recipients, purposes, evidence
(form_reference, form_version, language) or max_level (consents), an unknown
sector, a missing grantor_relation, or valid_until not after valid_from;
FAILED_PRECONDITION when a guardian consents for a subject who has come of
age; ALREADY_EXISTS for a reused key with another body; NOT_FOUND (withdraw,
show) when no consent has that id or your agency neither recorded it nor is
a party it names (by id, by sector, or as a public authority).

Example file:
  grantor: GRANTOR_GUARDIAN
  grantor_relation: "mother"
  subject { identifier: "201103141234" birth_date: "2011-03-14" }
  disclosing { sector: "education" }
  recipients { sector: "social_care" }
  purposes: "child_welfare"
  purposes: "referral_feedback"
  max_level: LEVEL_SUMMARY
  valid_until { seconds: 1830297600 }
  evidence {
    form_reference: "RS-2026-0142" form_version: "consent-v3" language: "sv"
  }

Example:
  liaison consent record consent-guardian.textproto
  liaison consent withdraw con-1 --reason="withdrawn by the mother in writing"
)";

}  // namespace liaison::cli
