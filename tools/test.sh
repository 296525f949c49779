#!/usr/bin/env bash
# Quick start, step 2: install what is missing and run the whole test suite.
# As root the privileged tests (kernel loading, network-namespace labs) run;
# without root they print why they skip.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/deps.sh
export RUST_BACKTRACE=1
cargo build --workspace --all-targets --quiet
cargo test --workspace --quiet -- --test-threads=2
