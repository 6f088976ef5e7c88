#!/usr/bin/env bash
# Sets everything up (Debian packages, build) and runs every test: unit
# tests and the integration tests that run the real broker over mutual TLS.
set -euo pipefail
cd "$(dirname "$0")/.."
# testssl.sh is for the tests only: tls_test scans the broker's TLS with it.
./deploy/setup.sh testssl.sh
echo "==> running tests"
cd build
ctest --output-on-failure --timeout 600 -j 2 "$@"
