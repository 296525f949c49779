#!/usr/bin/env bash
# ferret beside bpftrace on this machine (issue 8): builds release binaries,
# then runs ferret-bench, which builds a namespace lab, drives a bounded UDP
# and TCP load through it and prints the tables of BENCHMARKS.md.
#
#   sudo tools/bench.sh              # the full run, a few minutes
#   sudo tools/bench.sh --quick      # a smoke run, under a minute
#   sudo tools/bench.sh --install    # apt-get install bpftrace first if missing
#
# Other arguments go to ferret-bench (--help lists them). Results land in
# target/bench/results.json and target/bench/results.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/deps.sh

args=()
for a in "$@"; do
  if [ "$a" = --install ]; then
    if ! command -v bpftrace >/dev/null 2>&1; then
      echo "ferret-bench: installing bpftrace" >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bpftrace >/dev/null
    fi
  else
    args+=("$a")
  fi
done

cargo build --release --quiet -p ferret -p ferret-bench
target_dir="${CARGO_TARGET_DIR:-target}"
mkdir -p "$target_dir/bench"
exec "$target_dir/release/ferret-bench" \
  --ferret "$target_dir/release/ferret" \
  --out "$target_dir/bench/results.json" \
  --markdown "$target_dir/bench/results.md" \
  "${args[@]}"
