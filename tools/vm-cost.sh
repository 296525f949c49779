#!/usr/bin/env bash
# Function triggers in a VM, measured (issue 15; BENCHMARKS.md): for each
# backend, the time to attach and to detach every skb function, kernel's
# and modules', and the cost per call (bpf_stats) of a non-matching rule
# on `any` beside an empty kprobe program on the same functions, under
# the same UDP flood. The CPU is emulated (TCG), so only ratios and the
# attach/detach comparison mean anything.
# Usage: tools/vm-cost.sh KERNEL [BACKEND,...]   (kernels: 6.1 6.12 sid;
#        backends: kprobe.multi, kprobe; default: what the kernel offers)
# Env:   FERRET_VM_TRIAL=SECS (flood per measurement, default 3);
#        FERRET_VM_ROUNDS=N (rounds of kprobe.multi, default 5; kprobes: 1);
#        FERRET_VM_APPEND=... more kernel arguments (rcupdate.rcu_expedited=1;
#        FUNC_RULE=ttl measures `on any where ttl == 1`, which no pre-check serves)
# Prints the guest's table; the raw JSON is in target/vm-cost-KERNEL.json.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
k=${1:?usage: tools/vm-cost.sh KERNEL [BACKEND,...]}
case $k in
  6.1) default=kprobe ;;
  *) default=kprobe.multi ;;
esac
backends=${2:-$default}
target=${CARGO_TARGET_DIR:-$repo/target}
cargo build --quiet --bin ferret --manifest-path "$repo/Cargo.toml"
cargo build --quiet -p ferret-bench --manifest-path "$repo/Cargo.toml"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin"
for b in ferret ferret-bench; do strip -o "$work/bin/$b" "$target/debug/$b"; done
read -r _ kdir < <("$repo/tests/vm/kernels.sh" "$k")
"$repo/tests/vm/initramfs.sh" "$kdir" "$work/initrd.gz" "$work/bin/ferret" "$work/bin/ferret-bench"
log=$work/console.log
timeout 1800 qemu-system-x86_64 -accel tcg -m 1024 -smp 2 -nographic -no-reboot \
  -kernel "$kdir"/boot/vmlinuz-* -initrd "$work/initrd.gz" \
  -append "console=ttyS0 quiet panic=-1 MODE=cost FUNC_BACKENDS=$backends TRIAL=${FERRET_VM_TRIAL:-3} ROUNDS=${FERRET_VM_ROUNDS:-5} ${FERRET_VM_APPEND:-}" >"$log" 2>&1 || true
tr -d '\r' <"$log" | grep -E '^(VMINFO|VMLOG|VMCOST)' | sed "s/^/[$k] /"
tr -d '\r' <"$log" | sed -n 's/^VMJSON //p' >"$target/vm-cost-$k.json"
if ! tr -d '\r' <"$log" | grep -q '^VMDONE'; then
  echo "[$k] the guest did not finish; console tail:"
  tail -30 "$log"
  exit 1
fi
