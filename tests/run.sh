#!/usr/bin/env bash
# Sets everything up (Debian packages, build) and runs every test: unit
# tests and the integration tests that run the real broker over mutual TLS.
set -euo pipefail
cd "$(dirname "$0")/.."
# Test-only packages: tls_test scans the broker's TLS with testssl.sh, the
# layering check is a python3 script, and the PostgreSQL store's tests
# start throw-away servers of postgresql-15.
./deploy/setup.sh testssl.sh python3 postgresql-15
echo "==> running tests"
cd build
ctest --output-on-failure --timeout 600 -j 2 "$@"
