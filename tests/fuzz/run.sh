#!/usr/bin/env bash
# Runs one fuzz target for a budget over its seed corpus.
# Usage: run.sh TARGET SECONDS WORKDIR SEED_DIR...
# New inputs go to WORKDIR/corpus (the seed folders are never written);
# a failing input is saved in WORKDIR as crash-*, and the run fails.
set -euo pipefail
target=$1 seconds=$2 work=$3
shift 3
mkdir -p "$work/corpus"
exec "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$work/" "$work/corpus" "$@"
