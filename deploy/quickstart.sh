#!/usr/bin/env bash
# The Liaison quickstart: sets everything up, makes a deployment CA and
# certificates for four demo agencies, an auditor and an admin, starts the
# broker on the embedded SQLite store, asks it "who am I?" as each of them,
# records a guardian's consent at the school, walks a referral from the
# school to social services under it through its lifecycle
# (send, inbox, acknowledge, accept, close, the school's status updates),
# a summary requested from the hospital and answered at the level social
# services may see, a summary pushed to the agencies on the case,
# a case conference recorded afterwards, the guardian withdrawing the
# consent (recall notices, and the next referral refused), the auditor's
# checks, a referral no agreement covers being denied, and administration:
# the broker's status, registering an agency and routing to it,
# suspending and reactivating one, renewing a certificate with an overlap
# and revoking the old one, rotating the broker's own certificate without a
# restart, and the ADMIN entries all of that left in the log; then stops
# the broker.
# Everything it makes is in quickstart-out/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

./deploy/setup.sh

bin=$root/build/bin
out=$root/quickstart-out
rm -rf "$out"
mkdir -p "$out"
cp deploy/broker.textproto deploy/demo-registry.textproto "$out/"
cd "$out"
export LIAISON_CA_DIR=$out/ca

step() { printf '\n==> %s\n' "$*"; }

step "A deployment CA (liaison-certs init)"
"$bin/liaison-certs" init --cn="Liaison demo CA"

step "Certificates: the broker, four agencies, an auditor and an admin"
"$bin/liaison-certs" issue server --id=broker-1 --dns=localhost --ip=127.0.0.1 >/dev/null
for a in health/malmo-hospital social_care/malmo-social \
         education/rosengard-school police/malmo-police; do
  "$bin/liaison-certs" issue agency --sector="${a%/*}" --id="${a#*/}" >/dev/null
done
"$bin/liaison-certs" issue auditor --id=regional-dpo >/dev/null
"$bin/liaison-certs" issue admin --id=ops >/dev/null
"$bin/liaison-certs" crl >/dev/null
"$bin/liaison-certs" list

step "The policy set the broker will decide by (liaison-policy check)"
"$bin/liaison-policy" check "$root/policy/default" | sed 's/^/    /'

step "What a health record would become for the police and for social services (liaison-policy explain)"
for to in police social_care; do
  "$bin/liaison-policy" explain --policy="$root/policy/default" \
    --from=health/malmo-hospital --to="$to" --purpose=child_welfare \
    --basis=consent --record="$root/policy/examples/health-record.textproto" |
    grep -E '^decision|diagnosis_codes|birth_date:|municipality|clinician_notes:|^more' |
    sed 's/^/    /'
done

step "Starting liaison-broker on the embedded store (log: quickstart-out/broker.log)"
"$bin/liaison-broker" --config=broker.textproto --listen=127.0.0.1:0 \
  >broker.log 2>&1 &
broker_pid=$!
trap 'kill $broker_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  grep -q "listening on" broker.log && break
  kill -0 $broker_pid 2>/dev/null || { cat broker.log; exit 1; }
  sleep 0.1
done
address=$(sed -n 's/.*listening on \(.*\)$/\1/p' broker.log)
[ -n "$address" ] || { cat broker.log; exit 1; }
sed 's/^/    /' broker.log

as() {  # as <cert-name> <liaison args...>
  local who=$1; shift
  "$bin/liaison" --broker="$address" --ca=ca/ca.crt \
    --cert="ca/issued/$who.crt" --key="ca/issued/$who.key" "$@"
}

for who in agency-malmo-hospital agency-malmo-social agency-rosengard-school \
           agency-malmo-police auditor-regional-dpo admin-ops; do
  step "liaison whoami as $who"
  as "$who" whoami | sed 's/^/    /'
done

# The professionals acting at the school and at social services; the broker
# records them with every call.
teacher=(--professional_id=t-1042 "--professional_role=class teacher")
social_worker=(--professional_id=sw-17 "--professional_role=duty social worker")
clinician=(--professional_id=c-311 "--professional_role=child psychiatrist")

step "The school records the guardian's consent (liaison consent record, quickstart-out/consent-guardian.textproto)"
cat >consent-guardian.textproto <<'EOF'
# A liaison.v1.Consent in protobuf text format: the pupil's mother agrees,
# on the school's signed form, that the school, the hospital and social
# services may share what they need to support the pupil, up to a summary.
# A guardian's consent lapses when the pupil turns 18.
grantor: GRANTOR_GUARDIAN
grantor_relation: "mother"
subject { identifier: "20110304-1234" birth_date: "2011-03-04" }
disclosing { sector: "education" }
disclosing { sector: "health" }
disclosing { sector: "social_care" }
recipients { sector: "social_care" }
recipients { sector: "education" }
purposes: "child_welfare"
purposes: "referral_feedback"
max_level: LEVEL_SUMMARY
evidence { form_reference: "RS-2026-0142" form_version: "consent-v3" language: "sv" }
EOF
as agency-rosengard-school "${teacher[@]}" consent record consent-guardian.textproto >consent.txt
sed 's/^/    /' consent.txt
consent=$(sed -n 's/^consent: *//p' consent.txt)
[ -n "$consent" ] || { echo "no consent id in the output" >&2; exit 1; }

step "A referral from the school to social services under that consent (quickstart-out/referral-school.textproto)"
cat >referral-school.textproto <<EOF
# A liaison.v1.SendReferralRequest in protobuf text format. It has no
# idempotency_key: "liaison send-referral" uses the SHA-256 of this file, so
# sending it again is a safe retry.
destination { agency_id: "malmo-social" }
subject { identifier: "20110304-1234" birth_date: "2011-03-04" }
purpose: "child_welfare"
concerns: CONCERN_CATEGORY_SCHOOL_ABSENCE
concerns: CONCERN_CATEGORY_EMOTIONAL_HARM
urgency: URGENCY_WITHIN_24H
requested_action: "Assess whether the pupil and the family need support."
record {
  education {
    subject { identifier: "20110304-1234" birth_date: "2011-03-04" }
    address { street: "Amiralsgatan 1" postcode: "214 37" municipality: "Malmo" country: "SE" }
    school: "Rosengard School"
    year_group: "Year 9"
    attendance_percent: 58.5
    concerns: CONCERN_CATEGORY_SCHOOL_ABSENCE
    concerns: CONCERN_CATEGORY_EMOTIONAL_HARM
    support_plan: "Individual study plan since September; weekly talks with the school counsellor."
    teacher_notes: "Absent most Mondays since October; withdrawn and tearful in class."
    summary_for_sharing: "15-year-old pupil; attendance 58% this term and falling; appears low and withdrawn."
    active_involvement: true
    contact_point { name: "Student health team" role: "school counsellor" phone: "+46401000000" }
  }
}
basis { consent_id: "$consent" }
EOF

step "liaison send-referral as the school (education to social_care for child_welfare: allowed)"
as agency-rosengard-school "${teacher[@]}" send-referral referral-school.textproto >sent.txt
sed 's/^/    /' sent.txt
referral=$(sed -n 's/^referral: *//p' sent.txt)
[ -n "$referral" ] || { echo "no referral id in the output" >&2; exit 1; }

step "The auditor saves the current signed tree head (liaison audit tree-head)"
as auditor-regional-dpo audit tree-head --out=head-early.json | sed 's/^/    /'

step "The same file again is a retry: the broker answers with the same referral"
as agency-rosengard-school "${teacher[@]}" send-referral referral-school.textproto |
  grep '^referral:' | sed 's/^/    /'

step "liaison inbox as social services (shown, not acknowledged)"
as agency-malmo-social "${social_worker[@]}" inbox >social-inbox.txt
sed 's/^/    /' social-inbox.txt
message=$(sed -n 's/^message: *//p' social-inbox.txt)
[ "$(printf '%s\n' "$message" | grep -c .)" = 1 ] ||
  { echo "expected one message in the social services inbox" >&2; exit 1; }

step "Social services acknowledge the message, then acknowledge, accept and close the referral"
as agency-malmo-social "${social_worker[@]}" ack "$message" | sed 's/^/    /'
as agency-malmo-social "${social_worker[@]}" referral ack "$referral" |
  sed -n 's/^status: */    referral ack:    /p'
as agency-malmo-social "${social_worker[@]}" referral accept "$referral" |
  sed -n 's/^status: */    referral accept: /p'
as agency-malmo-social "${social_worker[@]}" referral close "$referral" \
  --outcome="Family support plan agreed with the guardians; school informed." |
  sed -n 's/^status: */    referral close:  /p'

step "liaison inbox as the school: the status updates"
as agency-rosengard-school "${teacher[@]}" inbox | sed 's/^/    /'

step "liaison referral show as the school"
as agency-rosengard-school "${teacher[@]}" referral show "$referral" | sed 's/^/    /'

case_id=$(sed -n 's/^case: *\([^ ]*\).*/\1/p' sent.txt)
step "Social services ask the hospital for a summary about the pupil (liaison request-summary)"
cat >ask-hospital.textproto <<EOF
holder { sector_in_area { sector: "health" area: "malmo" } }
subject { identifier: "20110304-1234" birth_date: "2011-03-04" }
case_id: "$case_id"
purpose: "child_welfare"
basis { consent_id: "$consent" }
EOF
as agency-malmo-social "${social_worker[@]}" request-summary ask-hospital.textproto |
  sed 's/^/    /'

step "The hospital's system reads the request from its inbox and answers with its full record"
as agency-malmo-hospital "${clinician[@]}" inbox >hospital-inbox.txt
sed 's/^/    /' hospital-inbox.txt
request=$(sed -n 's/^ *request: *//p' hospital-inbox.txt)
[ -n "$request" ] || { echo "no summary request in the hospital's inbox" >&2; exit 1; }
cat >hospital-record.textproto <<'EOF'
health {
  subject { identifier: "20110304-1234" birth_date: "2011-03-04" }
  address { street: "Ramelsvagen 12" postcode: "215 64" municipality: "Malmo" }
  diagnosis_codes: "F32.1"
  medications: "N06AB06"
  clinician_notes: "Low mood since the summer; says home is tense."
  risk_level: "moderate"
  active_involvement: true
  contact_point { name: "CAMHS Malmo" role: "duty clinician" }
}
EOF
# Health's pre-sharing checklist goes with every record it discloses: the
# clinician confirms the steps the policy requires before answering.
cat >hospital-checklist.textproto <<'EOF'
concern_verified: true
person_informed: true
colleague_or_expert_consulted: true
manager_approved: true
EOF
as agency-malmo-hospital "${clinician[@]}" answer-summary "$request" hospital-record.textproto \
  --checklist_file=hospital-checklist.textproto | sed 's/^/    /'
for m in $(sed -n 's/^message: *//p' hospital-inbox.txt); do
  as agency-malmo-hospital ack "$m" >/dev/null
done

step "Social services receive the answer at CATEGORY: diagnosis as its chapter, no notes"
as agency-malmo-social "${social_worker[@]}" inbox | sed 's/^/    /'

step "Social services push their summary to the case (liaison push-summary): the school gets CATEGORY"
cat >push-case.textproto <<EOF
case_id: "$case_id"
purpose: "child_welfare"
record { social_care {
  subject { identifier: "20110304-1234" birth_date: "2011-03-04" }
  concerns: CONCERN_CATEGORY_EMOTIONAL_HARM
  involvement_type: "family support"
  key_worker: "A. Lind"
  case_notes: "Father lost his job in August; tension at home."
  summary_for_sharing: "Family support plan agreed; weekly meetings with a family worker."
  active_involvement: true
} }
basis { consent_id: "$consent" }
EOF
as agency-malmo-social "${social_worker[@]}" push-summary push-case.textproto |
  sed 's/^/    /'

police_officer=(--professional_id=off-11 "--professional_role=investigating officer")

step "Social services bring the police into the case under an override (child protection), without the family's consent"
cat >referral-to-police.textproto <<EOF
# No consent covers the police: the duty social worker records why the
# risk to the child overrides confidentiality, and on which provision.
destination { agency_id: "malmo-police" }
subject { identifier: "20110304-1234" birth_date: "2011-03-04" }
case_id: "$case_id"
purpose: "child_welfare"
concerns: CONCERN_CATEGORY_DOMESTIC_ABUSE
urgency: URGENCY_WITHIN_24H
requested_action: "Assess whether a crime against the child should be investigated."
record { social_care {
  subject { identifier: "20110304-1234" birth_date: "2011-03-04" }
  concerns: CONCERN_CATEGORY_DOMESTIC_ABUSE
  involvement_type: "child protection investigation"
  key_worker: "A. Lind"
  case_notes: "The pupil told the family worker on 28 November that her father hit her."
  summary_for_sharing: "Child protection investigation opened after a disclosure of violence at home."
  active_involvement: true
} }
basis { override {
  category: OVERRIDE_CATEGORY_CHILD_PROTECTION
  legal_provision: "OSL 10 kap. 21 §"
  statement: "The pupil disclosed violence at home; the parents must not be told before the police assess it."
  assessor { id: "sw-17" role: "duty social worker" }
} }
EOF
as agency-malmo-social "${social_worker[@]}" send-referral referral-to-police.textproto |
  grep -E '^(referral|recipient|level):' | sed 's/^/    /'

step "The police's inbox: the whole referral at CATEGORY, the birth date as an age band, the requested action withheld"
as agency-malmo-police inbox >police-inbox.txt
sed 's/^/    /' police-inbox.txt
grep -q '(age band ' police-inbox.txt && ! grep -q '2011-03-04' police-inbox.txt ||
  { echo "the police received the exact birth date at CATEGORY" >&2; exit 1; }
grep -q 'withheld: *requested_action' police-inbox.txt ||
  { echo "the police received the requested action at CATEGORY" >&2; exit 1; }
for m in $(sed -n 's/^message: *//p' police-inbox.txt); do
  as agency-malmo-police ack "$m" >/dev/null
done

step "The mother agrees that the hospital may tell the police the pupil is known to it (SIGNAL: the most consent allows on that route)"
cat >consent-hospital-police.textproto <<EOF
grantor: GRANTOR_GUARDIAN
grantor_relation: "mother"
subject { identifier: "20110304-1234" birth_date: "2011-03-04" }
disclosing { sector: "health" }
recipients { agency_id: "malmo-police" }
purposes: "child_welfare"
max_level: LEVEL_SIGNAL
evidence { form_reference: "MH-2026-0907" form_version: "consent-v3" language: "sv" }
EOF
as agency-malmo-hospital "${clinician[@]}" consent record consent-hospital-police.textproto >consent-police.txt
police_consent=$(sed -n 's/^consent: *//p' consent-police.txt)
[ -n "$police_consent" ] || { echo "no consent id in the output" >&2; exit 1; }
cat >referral-hospital-police.textproto <<EOF
destination { agency_id: "malmo-police" }
subject { identifier: "20110304-1234" birth_date: "2011-03-04" }
purpose: "child_welfare"
concerns: CONCERN_CATEGORY_SELF_HARM
urgency: URGENCY_ROUTINE
requested_action: "Call the ward before interviewing the pupil: she was treated after self-harm."
record { health {
  subject { identifier: "20110304-1234" birth_date: "2011-03-04" }
  clinician_notes: "Admitted after self-harm; discharged to outpatient care."
  active_involvement: true
  contact_point { name: "Hospital social work, duty line" phone: "+46401000100" }
} }
basis { consent_id: "$police_consent" }
checklist { concern_verified: true person_informed: true
            colleague_or_expert_consulted: true manager_approved: true }
EOF
as agency-malmo-hospital "${clinician[@]}" send-referral referral-hospital-police.textproto |
  grep -E '^(referral|level):' | sed 's/^/    /'
as agency-malmo-police inbox >police-inbox-signal.txt
sed 's/^/    /' police-inbox-signal.txt
grep -q 'concerns: *-' police-inbox-signal.txt &&
  grep -q 'requested: *-' police-inbox-signal.txt &&
  ! grep -q 'self-harm\|2011-03-04' police-inbox-signal.txt ||
  { echo "the police received more than SIGNAL" >&2; exit 1; }
for m in $(sed -n 's/^message: *//p' police-inbox-signal.txt); do
  as agency-malmo-police ack "$m" >/dev/null
done

step "The police ask the hospital for a summary, citing a risk: a request, for the hospital to judge"
cat >ask-hospital-police.textproto <<EOF
holder { agency_id: "malmo-hospital" }
subject { identifier: "20110304-1234" birth_date: "2011-03-04" }
case_id: "$case_id"
purpose: "child_welfare"
basis { override {
  category: OVERRIDE_CATEGORY_CHILD_PROTECTION
  legal_provision: "OSL 10 kap. 21 §"
  statement: "Injuries may have been treated at the hospital; we need to know before interviewing the father."
  assessor { id: "off-11" role: "investigating officer" }
} }
EOF
as agency-malmo-police "${police_officer[@]}" request-summary ask-hospital-police.textproto |
  sed 's/^/    /'

step "The hospital's inbox: the risk the police cite, with their officer's statement"
as agency-malmo-hospital "${clinician[@]}" inbox >hospital-inbox-2.txt
sed 's/^/    /' hospital-inbox-2.txt
police_request=$(sed -n 's/^ *request: *//p' hospital-inbox-2.txt)
[ -n "$police_request" ] || { echo "no police request in the hospital's inbox" >&2; exit 1; }

step "Answering on the police's judgement is refused: the override must be the hospital's own"
if as agency-malmo-hospital "${clinician[@]}" answer-summary "$police_request" \
    hospital-record.textproto --checklist_file=hospital-checklist.textproto 2>theirs.txt; then
  echo "the hospital's record left on the police's judgement" >&2; exit 1
fi
sed 's/^/    /' theirs.txt

step "The hospital's psychiatrist judges the risk; alone, the two-person rule refuses it"
cat >hospital-override.textproto <<EOF
# The hospital's own override (liaison.v1.LegalBasis): its professional
# judges that the risk to the child outweighs the patient's confidentiality.
override {
  category: OVERRIDE_CATEGORY_CHILD_PROTECTION
  legal_provision: "OSL 10 kap. 21 §"
  statement: "The injuries we treated in October match the pupil's account; the police need the diagnosis chapter to protect her."
  assessor { id: "c-311" role: "child psychiatrist" }
}
EOF
if as agency-malmo-hospital "${clinician[@]}" answer-summary "$police_request" \
    hospital-record.textproto --basis_file=hospital-override.textproto \
    --checklist_file=hospital-checklist.textproto 2>alone.txt; then
  echo "an override without its second person was accepted" >&2; exit 1
fi
sed 's/^/    /' alone.txt

step "With the hospital's medical director approving, the police receive CATEGORY, the most an override allows on that route"
sed -i 's/^  assessor { id: "c-311" role: "child psychiatrist" }$/&\n  approver { id: "md-2" role: "medical director" }/' hospital-override.textproto
as agency-malmo-hospital "${clinician[@]}" answer-summary "$police_request" \
  hospital-record.textproto --basis_file=hospital-override.textproto \
  --checklist_file=hospital-checklist.textproto | sed 's/^/    /'
for m in $(sed -n 's/^message: *//p' hospital-inbox-2.txt); do
  as agency-malmo-hospital ack "$m" >/dev/null
done
as agency-malmo-police "${police_officer[@]}" inbox | sed 's/^/    /'

step "An override alert reaches the hospital's privacy officer"
as agency-malmo-hospital inbox >alert.txt
sed 's/^/    /' alert.txt
grep -q 'privacy@malmo-hospital.example' alert.txt ||
  { echo "no override alert for the hospital's privacy officer" >&2; exit 1; }
for m in $(sed -n 's/^message: *//p' alert.txt); do
  as agency-malmo-hospital ack "$m" >/dev/null
done

step "The police refer to the school: no agreement covers it, so it is denied"
cat >referral-police.textproto <<EOF
destination { sector_in_area { sector: "education" area: "malmo" } }
subject { identifier: "20110304-1234" birth_date: "2011-03-04" }
purpose: "child_welfare"
concerns: CONCERN_CATEGORY_DOMESTIC_ABUSE
urgency: URGENCY_ROUTINE
requested_action: "Keep an eye on the pupil."
record { police { incident_references: "MAL-2026-0001" active_involvement: true } }
basis { consent_id: "$consent" }
EOF
if as agency-malmo-police send-referral referral-police.textproto 2>refused.txt; then
  echo "a referral no agreement covers was sent" >&2; exit 1
fi
sed 's/^/    /' refused.txt
grep -q '^liaison: PERMISSION_DENIED: ' refused.txt ||
  { echo "expected PERMISSION_DENIED" >&2; exit 1; }

step "The school sends a referral twice by mistake and takes the second back before social services read it (liaison referral recall)"
sed 's/Assess whether/Please assess whether/' referral-school.textproto >referral-mistake.textproto
as agency-rosengard-school "${teacher[@]}" send-referral referral-mistake.textproto >mistake.txt
mistake=$(sed -n 's/^referral: *//p' mistake.txt)
[ -n "$mistake" ] || { echo "no referral id for the mistaken referral" >&2; exit 1; }
as agency-rosengard-school "${teacher[@]}" referral recall "$mistake" \
  --reason=sent_in_error >recalled.txt
sed 's/^/    /' recalled.txt
grep -q '^status: *withdrawn' recalled.txt ||
  { echo "expected the mistaken referral withdrawn" >&2; exit 1; }
echo "    Never acknowledged, it left the social services inbox unread; the broker"
echo "    purged its content at once and logged a referral_withdrawn entry."

step "Social services record a case conference held outside Liaison (liaison manual-disclosure)"
cat >conference.textproto <<EOF
recipient_agency_id: "rosengard-school"
subject { identifier: "20110304-1234" }
purpose: "child_welfare"
level: LEVEL_CATEGORY
basis { consent_id: "$consent" }
channel: "case conference with the school"
disclosed_at { seconds: $(( $(date +%s) - 3600 )) }
EOF
as agency-malmo-social "${social_worker[@]}" manual-disclosure conference.textproto |
  sed 's/^/    /'

step "The guardian withdraws the consent (liaison consent withdraw): it ends at once"
as agency-rosengard-school "${teacher[@]}" consent withdraw "$consent" \
  --reason="The mother withdrew consent in writing at a school meeting." |
  sed 's/^/    /'

step "Every agency that received data under it gets a recall notice naming the messages"
for who in agency-malmo-social agency-rosengard-school; do
  as "$who" inbox >recall-inbox.txt
  grep -B1 -A3 'notice: consent recall' recall-inbox.txt | sed "s/^/    ${who#agency-}: /" || true
done

step "A new referral under the withdrawn consent is refused"
sed 's/Assess whether/Reassess whether/' referral-school.textproto >referral-again.textproto
if as agency-rosengard-school "${teacher[@]}" send-referral referral-again.textproto 2>withdrawn.txt; then
  echo "a referral under a withdrawn consent was sent" >&2; exit 1
fi
sed 's/^/    /' withdrawn.txt
grep -q 'was withdrawn' withdrawn.txt ||
  { echo "expected the withdrawal as the reason" >&2; exit 1; }

step "Social services close the case (liaison case close): nothing more is shared on it"
as agency-malmo-social "${social_worker[@]}" case close "$case_id" \
  --outcome=support_in_place | sed 's/^/    /'
sed 's/weekly meetings/fortnightly meetings/' push-case.textproto >push-closed.textproto
if as agency-malmo-social "${social_worker[@]}" push-summary push-closed.textproto 2>closed.txt; then
  echo "a push on a closed case was accepted" >&2; exit 1
fi
sed 's/^/    /' closed.txt
grep -q 'was closed on' closed.txt ||
  { echo "expected the closure as the reason" >&2; exit 1; }
echo "    The referrals' content is kept for the policy's retention from here"
echo "    (referral_days, 365 by default), then purged by the broker's sweeper"
echo "    with a PURGE entry in the log; see the README's retention section."

step "The auditor reads the disclosure log's disclosures and denials (liaison audit query)"
as auditor-regional-dpo audit query --kind=disclosure,denial,override,referral_withdrawn | sed 's/^/    /'

step "The auditor runs a subject access report for the pupil (liaison audit report)"
as auditor-regional-dpo audit report 20110304-1234 >report.txt
sed 's/^/    /' report.txt
grep -q 'opened a referral about you' report.txt ||
  { echo "expected the school's look at its referral in the report" >&2; exit 1; }

step "The auditor sees who read what, itself included (liaison audit query --kind=access)"
as auditor-regional-dpo audit query --kind=access >access.txt
sed 's/^/    /' access.txt
grep -q 'read GetReferral' access.txt ||
  { echo "expected the school's reading of its referral to be logged" >&2; exit 1; }
grep -q 'read SubjectAccessReport' access.txt ||
  { echo "expected the subject access report to be logged" >&2; exit 1; }

step "The auditor reviews the overrides awaiting review (liaison audit overrides, audit review)"
as auditor-regional-dpo audit overrides >overrides.txt
sed 's/^/    /' overrides.txt
health_override=$(grep -B1 'malmo-hospital' overrides.txt | sed -n 's/^override \([0-9]*\):.*/\1/p' | head -n 1)
[ -n "$health_override" ] || { echo "no override of the hospital's data to review" >&2; exit 1; }
as auditor-regional-dpo audit review "$health_override" justified \
  --comment="Two-person approval recorded; disclosure limited to CATEGORY; proportionate." |
  sed 's/^/    /'

step "The auditor exports the log and verifies it offline against the broker's key"
as auditor-regional-dpo audit export --out=log.jsonl | sed 's/^/    /'
"$bin/liaison-audit" verify --export=log.jsonl --public_key=data/log-signing.pub \
  --known_head=head-early.json | sed 's/^/    /'
as auditor-regional-dpo audit consistency --old=head-early.json | sed 's/^/    /'

step "Someone deletes one entry from a copy of the export: verify catches it"
sed '3d' log.jsonl >log-tampered.jsonl
if "$bin/liaison-audit" verify --export=log-tampered.jsonl \
     --public_key=data/log-signing.pub 2>tampered.txt; then
  echo "a tampered export verified" >&2; exit 1
fi
sed 's/^/    /' tampered.txt

step "The administrator looks at the broker (liaison admin status)"
as admin-ops admin status | sed 's/^/    /'

step "The administrator registers a second school and routes education in Lund to it"
as admin-ops admin register lund-school --sector=education --jurisdiction=se \
  --area=lund --display_name="Lund Cathedral School" \
  --privacy_officer=dpo@lund-school.example | sed 's/^/    /'
as admin-ops admin route set education lund lund-school | sed 's/^/    /'
as admin-ops admin routes | sed 's/^/    /'

step "The police district is suspended: its calls are refused with the reason"
as admin-ops admin suspend malmo-police --reason="security review of the case system" |
  tail -n 1 | sed 's/^/    /'
if as agency-malmo-police whoami 2>suspended.txt; then
  echo "a suspended agency was accepted" >&2; exit 1
fi
sed 's/^/    /' suspended.txt
as admin-ops admin reactivate malmo-police --reason="review completed" |
  tail -n 1 | sed 's/^/    /'
as agency-malmo-police whoami | head -n 1 | sed 's/^/    /'

step "The hospital's certificate is renewed (liaison-certs renew): old and new both work"
old_serial=$("$bin/liaison-certs" list | awk '/liaison:\/\/agency\/health\/malmo-hospital/ {print $1; exit}')
"$bin/liaison-certs" renew "$old_serial" >renewed.txt
sed 's/^/    /' renewed.txt
new_cert=$(sed -n 's/^certificate: //p' renewed.txt)
new_key=$(sed -n 's/^key: //p' renewed.txt)
as_file() {  # as_file <cert> <key> <liaison args...>
  local cert=$1 key=$2; shift 2
  "$bin/liaison" --broker="$address" --ca=ca/ca.crt --cert="$cert" --key="$key" "$@"
}
as agency-malmo-hospital whoami | grep certificate | sed 's/^/    old: /'
as_file "$new_cert" "$new_key" whoami | grep certificate | sed 's/^/    new: /'

step "Once the new one is installed, the old one is revoked and the CRL reloaded (liaison admin reload-crl)"
"$bin/liaison-certs" revoke "$old_serial" --reason=superseded | head -n 1 | sed 's/^/    /'
"$bin/liaison-certs" crl >/dev/null
as admin-ops admin reload-crl | sed 's/^/    /'
if as agency-malmo-hospital whoami 2>revoked.txt; then
  echo "a revoked certificate was accepted" >&2; exit 1
fi
sed 's/^/    old: /' revoked.txt
as_file "$new_cert" "$new_key" whoami | head -n 1 | sed 's/^/    new: /'

step "The broker's own certificate is rotated without a restart (renew, install, SIGHUP)"
as agency-malmo-social whoami | grep '^broker:' | sed 's/^/    before: /'
"$bin/liaison-certs" renew ca/issued/server-broker-1.crt >server-renewed.txt
cp "$(sed -n 's/^key: //p' server-renewed.txt)" ca/issued/server-broker-1.key
cp "$(sed -n 's/^certificate: //p' server-renewed.txt)" ca/issued/server-broker-1.crt
kill -HUP $broker_pid
for _ in $(seq 1 100); do grep -q "policy reload" broker.log && break; sleep 0.1; done
grep -E "server certificate serial|CRL reloaded" broker.log | sed 's/^/    /'
sleep 1.5  # the TLS layer picks the new pair up within a second
as agency-malmo-social whoami | grep '^broker:' | sed 's/^/    after:  /'

step "The auditor sees the administrative actions on its jurisdiction's agencies (liaison audit query --kind=admin)"
as auditor-regional-dpo audit query --kind=admin | sed 's/^/    /'

step "Stopping the broker (SIGTERM)"
kill -TERM $broker_pid
wait $broker_pid
trap - EXIT
tail -n 2 broker.log | sed 's/^/    /'
printf '\nDone. The CA, certificates, store and broker log are in quickstart-out/.\n'
