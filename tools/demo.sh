#!/usr/bin/env bash
# Quick start, step 1: install what is missing, build, run `ferret demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/deps.sh
cargo build --release --quiet
exec ./target/release/ferret demo "$@"
