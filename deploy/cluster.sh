#!/usr/bin/env bash
# Liaison on PostgreSQL, shown end to end: a primary with a synchronous
# streaming standby, three brokers over it sharing one disclosure log, the
# demo agencies each calling a different broker, referrals sent, then the
# primary lost (stopped with -m immediate) and the standby promoted, more
# referrals, and the proof that nothing acknowledged was lost: every
# referral delivered once, and the log after the failover consistent with
# the head the auditor saved before it.
#
# Needs Debian's postgresql-15 (installed by deploy/setup.sh here). Runs
# PostgreSQL as the postgres user when started as root. Everything it makes
# is in cluster-out/; the database servers live in a folder under /tmp and
# are stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

./deploy/setup.sh postgresql-15

bin=$root/build/bin
pgbin=${LIAISON_PG_BIN:-/usr/lib/postgresql/15/bin}
out=$root/cluster-out
rm -rf "$out"
mkdir -p "$out"
cp deploy/broker.textproto deploy/demo-registry.textproto "$out/"
cd "$out"
export LIAISON_CA_DIR=$out/ca

step() { printf '\n==> %s\n' "$*"; }

# PostgreSQL refuses to run as root.
pg=$(mktemp -d /tmp/liaison-cluster.XXXXXX)
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ "$(id -u)" -eq 0 ]; then chown postgres: "$pg"; fi
primary_port=55432
standby_port=55433
broker_pids=()
cleanup() {
  for p in "${broker_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  as_pg "$pgbin/pg_ctl" -D "$pg/primary" -m immediate stop >/dev/null 2>&1 || true
  as_pg "$pgbin/pg_ctl" -D "$pg/standby" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$pg"
}
trap cleanup EXIT
psql_on() {  # psql_on <port> <sql>
  as_pg "$pgbin/psql" -X -q -t -A -h "$pg" -p "$1" -U postgres -d postgres -c "$2"
}

step "A PostgreSQL primary (port $primary_port) and a streaming standby (port $standby_port), on Unix sockets in $pg"
as_pg "$pgbin/initdb" -D "$pg/primary" -U postgres -A trust -E UTF8 >"$pg/initdb.log"
cat >>"$pg/primary/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$pg'
port = $primary_port
wal_level = replica
max_wal_senders = 4
EOF
as_pg "$pgbin/pg_ctl" -D "$pg/primary" -w -l "$pg/primary.log" start >/dev/null
as_pg "$pgbin/pg_basebackup" -h "$pg" -p $primary_port -U postgres \
  -D "$pg/standby" -R --wal-method=stream
# The standby names itself, so the primary can wait for it.
sed -i "s/^primary_conninfo = '/primary_conninfo = 'application_name=standby1 /" \
  "$pg/standby/postgresql.auto.conf"
echo "port = $standby_port" >>"$pg/standby/postgresql.conf"
as_pg "$pgbin/pg_ctl" -D "$pg/standby" -w -l "$pg/standby.log" start >/dev/null
# Synchronous: a commit is answered only once the standby has it too.
psql_on $primary_port "ALTER SYSTEM SET synchronous_standby_names = 'ANY 1 (standby1)'"
psql_on $primary_port "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 1 100); do
  state=$(psql_on $primary_port "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby1'")
  [ "$state" = quorum ] && break
  sleep 0.1
done
echo "    standby1 replication: ${state:-not connected}"
[ "$state" = quorum ] || { cat "$pg/standby.log"; exit 1; }
psql_on $primary_port "CREATE DATABASE liaison"

step "A deployment CA and certificates: three brokers, four agencies, an auditor"
"$bin/liaison-certs" init --cn="Liaison cluster demo CA" >/dev/null
"$bin/liaison-certs" issue server --id=broker-1 --dns=localhost --ip=127.0.0.1 >/dev/null
for a in health/malmo-hospital social_care/malmo-social \
         education/rosengard-school police/malmo-police; do
  "$bin/liaison-certs" issue agency --sector="${a%/*}" --id="${a#*/}" >/dev/null
done
"$bin/liaison-certs" issue auditor --id=regional-dpo >/dev/null
"$bin/liaison-certs" crl >/dev/null

# Both servers, and only the one that takes writes: after a promotion the
# brokers reconnect to the new primary by themselves.
conninfo="host=$pg,$pg port=$primary_port,$standby_port dbname=liaison user=postgres target_session_attrs=read-write connect_timeout=5"
cat >>broker.textproto <<EOF

# Several brokers over one PostgreSQL database (see README, "Several
# brokers on PostgreSQL"). They share data_dir here, and with it the log
# signing key and the pseudonym key every broker of a deployment needs.
store { postgres { conninfo: "$conninfo" } }
EOF

step "Three brokers on the same database (logs: cluster-out/broker-N.log)"
addresses=()
for n in 1 2 3; do
  "$bin/liaison-broker" --config=broker.textproto --listen=127.0.0.1:0 \
    >"broker-$n.log" 2>&1 &
  broker_pids+=($!)
  for _ in $(seq 1 100); do
    grep -q "listening on" "broker-$n.log" && break
    kill -0 "${broker_pids[-1]}" 2>/dev/null || { cat "broker-$n.log"; exit 1; }
    sleep 0.1
  done
  addresses+=("$(sed -n 's/.*listening on \(.*\)$/\1/p' "broker-$n.log")")
  echo "    broker $n: ${addresses[-1]} ($(grep -o 'store PostgreSQL.*' "broker-$n.log"))"
done

as() {  # as <broker 1-3> <cert-name> <liaison args...>
  local n=$1 who=$2; shift 2
  "$bin/liaison" --broker="${addresses[$((n - 1))]}" --ca=ca/ca.crt \
    --cert="ca/issued/$who.crt" --key="ca/issued/$who.key" "$@"
}
# A send retried through another broker while the database fails over:
# the same file is the same idempotency key, so a retry never sends twice.
send() {  # send <broker> <cert-name> <file>
  local n=$1 who=$2 file=$3 tries=0
  until as "$n" "$who" send-referral "$file" >"$file.sent" 2>"$file.err"; do
    tries=$((tries + 1))
    [ $tries -lt 30 ] || { cat "$file.err"; exit 1; }
    sed "s/^/    retrying ($tries): /" "$file.err"
    n=$(( n % 3 + 1 ))
    sleep 1
  done
  sed -n "s/^referral: */    sent through broker $n: /p" "$file.sent"
  sed -n 's/^referral: *//p' "$file.sent" >>sent-ids.txt
}

step "The school (on broker 1) records a guardian's consent"
cat >consent.textproto <<'EOF'
grantor: GRANTOR_GUARDIAN
grantor_relation: "mother"
subject { identifier: "20110304-1234" birth_date: "2011-03-04" }
disclosing { sector: "education" }
disclosing { sector: "health" }
recipients { sector: "social_care" }
purposes: "child_welfare"
max_level: LEVEL_SUMMARY
evidence { form_reference: "RS-2026-0142" form_version: "consent-v3" language: "sv" }
EOF
consent=$(as 1 agency-rosengard-school consent record consent.textproto | sed -n 's/^consent: *//p')
echo "    consent $consent"

referral() {  # referral <n>: a referral file from the school, numbered
  cat >"referral-$1.textproto" <<EOF
destination { agency_id: "malmo-social" }
subject { identifier: "20110304-1234" birth_date: "2011-03-04" }
purpose: "child_welfare"
concerns: CONCERN_CATEGORY_SCHOOL_ABSENCE
urgency: URGENCY_ROUTINE
requested_action: "Assess whether the family needs support (note $1)."
record { education {
  subject { identifier: "20110304-1234" birth_date: "2011-03-04" }
  school: "Rosengard School"
  attendance_percent: 58.5
  concerns: CONCERN_CATEGORY_SCHOOL_ABSENCE
  summary_for_sharing: "Attendance falling this term (note $1)."
  active_involvement: true
} }
basis { consent_id: "$consent" }
EOF
}

step "The school sends referrals through brokers 1 and 2; social services hold a stream on broker 3"
: >sent-ids.txt
for i in 1 2 3 4; do
  referral "$i"
  send $(( (i - 1) % 2 + 1 )) agency-rosengard-school "referral-$i.textproto"
done

step "The auditor (on broker 2) saves the signed tree head before the failover"
as 2 auditor-regional-dpo audit tree-head --out=head-before.json | sed 's/^/    /'

step "The primary is lost: pg_ctl stop -m immediate, as a crash would"
as_pg "$pgbin/pg_ctl" -D "$pg/primary" -m immediate stop >/dev/null
echo "    primary stopped"

step "The standby is promoted, and no longer waits for a standby of its own"
as_pg "$pgbin/pg_ctl" -D "$pg/standby" -w promote >/dev/null
psql_on $standby_port "ALTER SYSTEM SET synchronous_standby_names = ''"
psql_on $standby_port "SELECT pg_reload_conf()" >/dev/null
echo "    standby promoted: in recovery = $(psql_on $standby_port 'SELECT pg_is_in_recovery()')"

step "More referrals: the brokers reconnect to the new primary (a send answered UNAVAILABLE is retried with the same key)"
for i in 5 6 7 8; do
  referral "$i"
  send $(( (i - 1) % 3 + 1 )) agency-rosengard-school "referral-$i.textproto"
done

step "Social services (on broker 3) read their inbox: every referral once"
as 3 agency-malmo-social inbox >inbox.txt
grep -E '^(message|referral):' inbox.txt | sed 's/^/    /' | head -n 20
sort sent-ids.txt >sent-sorted.txt
sed -n 's/^ *referral: *//p' inbox.txt | sort >received-sorted.txt
if ! diff -u sent-sorted.txt received-sorted.txt; then
  echo "the inbox does not hold every referral sent exactly once" >&2; exit 1
fi
echo "    $(wc -l <sent-sorted.txt) referrals sent and acknowledged by the broker, each delivered once"
for m in $(sed -n 's/^message: *//p' inbox.txt); do as 3 agency-malmo-social ack "$m" >/dev/null; done

step "The auditor (on broker 1) checks the log after the failover extends the head saved before it"
as 1 auditor-regional-dpo audit consistency --old=head-before.json | sed 's/^/    /'
as 1 auditor-regional-dpo audit export --out=log.jsonl | sed 's/^/    /'
"$bin/liaison-audit" verify --export=log.jsonl --public_key=data/log-signing.pub \
  --known_head=head-before.json | sed 's/^/    /'

step "Stopping the brokers and the database"
for p in "${broker_pids[@]}"; do kill -TERM "$p"; wait "$p" || true; done
broker_pids=()
printf '\nDone. The CA, certificates, broker logs and the auditor'"'"'s files are in cluster-out/.\n'
