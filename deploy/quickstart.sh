#!/usr/bin/env bash
# The Liaison quickstart: sets everything up, makes a deployment CA and
# certificates for four demo agencies, an auditor and an admin, starts the
# broker on the embedded SQLite store, asks it "who am I?" as each of them,
# shows a revoked certificate being refused after a CRL reload, and stops
# the broker. Everything it makes is in quickstart-out/.
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

step "The police certificate is revoked; the broker reloads its CRL (SIGHUP)"
serial=$("$bin/liaison-certs" list | awk '/liaison:\/\/agency\/police\/malmo-police/ {print $1}')
"$bin/liaison-certs" revoke "$serial" --reason=key_compromise
"$bin/liaison-certs" crl
kill -HUP $broker_pid
for _ in $(seq 1 100); do grep -q "CRL reloaded" broker.log && break; sleep 0.1; done
grep "CRL reloaded" broker.log | sed 's/^/    /'
step "liaison whoami as the revoked police certificate (refused)"
if as agency-malmo-police whoami; then
  echo "a revoked certificate was accepted" >&2; exit 1
fi

step "Stopping the broker (SIGTERM)"
kill -TERM $broker_pid
wait $broker_pid
trap - EXIT
tail -n 2 broker.log | sed 's/^/    /'
printf '\nDone. The CA, certificates, store and broker log are in quickstart-out/.\n'
