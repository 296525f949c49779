#!/usr/bin/env bash
# Quick start, step 2: install what is missing and run the whole test suite:
# the workspace's tests, then the kernel scenarios in VMs (tests/vm/).
# As root the privileged tests (kernel loading, network-namespace labs, VMs)
# run; without root they print why they skip.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/deps.sh
export RUST_BACKTRACE=1
cargo build --workspace --all-targets --quiet
./tools/check-layers.sh
./tools/check-deploy.sh
cargo test --workspace --quiet -- --test-threads=2
if [ "$(id -u)" = 0 ]; then
  ./tests/vm/run.sh
else
  echo "skipped tests/vm/run.sh: the VM tests download kernels with apt-get and need root" >&2
fi
