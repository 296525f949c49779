#!/usr/bin/env bash
# Runs ferret's scenarios in VMs (tracepoint triggers, function triggers
# where the kernel has a backend, features, the demo): each kernel is booted with qemu
# (TCG: nested KVM exists on the CI machine but its boots hang) with an
# initramfs holding ferret and tests/vm/guest.sh as init; the guest's
# "VMTEST name PASS|FAIL" lines decide.
# Usage: tests/vm/run.sh                  the quick default (CI): every kernel
#                                         of the matrix, 6.1 with fewer checks
#        tests/vm/run.sh 5.10 6.1 6.12 sid  the full matrix (~15 min)
#        FERRET_VM_FULL=1 tests/vm/run.sh 6.1   (`any` with single kprobes: slow)
# Results per kernel go to target/vm-results.txt; tests/vm/table.sh makes
# README's kernel table from them.
# Needs root only for apt-get; the ferret binary is built if missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
kernels=("$@")
# The default run (what CI runs) is quick: on 6.1 the function mode's
# README table, fentry and the demo are left to 6.12 and the full matrix.
quick=0
if [ ${#kernels[@]} = 0 ]; then
  kernels=(5.10 6.1 6.12 sid)
  [ -n "${FERRET_VM_FULL:-}" ] || quick=1
fi

need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
[ -x /bin/busybox ] && /bin/busybox --list | grep -qx cpio || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

target=${CARGO_TARGET_DIR:-$repo/target}
# The debug build tools/test.sh has already made; stripped, it is small.
cargo build --quiet --bin ferret --manifest-path "$repo/Cargo.toml"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin"
ferret="$work/bin/ferret"
strip -o "$ferret" "$target/debug/ferret"
# The latest results per kernel, for tests/vm/table.sh (README's table).
results=$target/vm-results.txt
touch "$results"
failed=0 passed=0
for k in "${kernels[@]}"; do
  if ! read -r _ kdir < <("$here/kernels.sh" "$k") || [ -z "$kdir" ]; then
    echo "[$k] VMTEST kernel FAIL tests/vm/kernels.sh could not provide the $k kernel (see above)"
    failed=$((failed + 1))
    continue
  fi
  # Kernels without kprobe.multi use single kprobes, whose attach and
  # detach under TCG take minutes for all ~1500 functions: unless
  # FERRET_VM_FULL=1, they trace the packet's path functions only.
  # 5.10 has no bpf_get_attach_cookie (5.15+): no function backend.
  case $k in
    5.10) backend=none funcs= ;;
    6.1) backend=kprobe funcs=${FERRET_VM_FULL:+any} ;;
    *) backend=kprobe.multi funcs=any ;;
  esac
  funcs=${funcs:-path}
  "$here/initramfs.sh" "$kdir" "$work/initrd-$k.gz" "$ferret"
  log="$work/console-$k.log"
  start=$(date +%s.%N)
  timeout 600 qemu-system-x86_64 -accel tcg -m 1024 -smp 2 -nographic -no-reboot \
    -kernel "$kdir"/boot/vmlinuz-* -initrd "$work/initrd-$k.gz" \
    -append "console=ttyS0 quiet panic=-1 EXPECT_BACKEND=$backend FUNCS=$funcs QUICK=$quick" >"$log" 2>&1 || true
  secs=$(echo "$(date +%s.%N) - $start" | bc)
  tr -d '\r' <"$log" | grep -E '^(VMTEST|VMINFO|VMLOG|VMOUT)' | sed "s/^/[$k] /"
  # The guest's capture recording, read back by tshark here (the guest has
  # no tshark): it must show the TCP packets to port 443.
  tr -d '\r' <"$log" | sed -n 's/^VMPCAP //p' | base64 -d >"$work/capture-$k.pcapng" 2>/dev/null || true
  if ! command -v tshark >/dev/null; then
    echo "[$k] VMTEST capture-tshark SKIP no tshark on this machine"
  elif [ -s "$work/capture-$k.pcapng" ] &&
    n=$(tshark -r "$work/capture-$k.pcapng" -Y 'tcp.dstport == 443' 2>/dev/null | wc -l) && [ "$n" -gt 0 ]; then
    echo "[$k] VMTEST capture-tshark PASS $n packets to port 443" | tee -a "$log"
  else
    echo "[$k] VMTEST capture-tshark FAIL $(tshark -r "$work/capture-$k.pcapng" 2>&1 | tail -1)" | tee -a "$log"
  fi
  p=$(tr -d '\r' <"$log" | grep -cE '^(\[[^]]*\] )?VMTEST [^ ]* PASS' || true)
  f=$(tr -d '\r' <"$log" | grep -cE '^(\[[^]]*\] )?VMTEST [^ ]* FAIL' || true)
  s=$(tr -d '\r' <"$log" | grep -cE '^(\[[^]]*\] )?VMTEST [^ ]* SKIP' || true)
  # grep -c reads to the end: with pipefail, grep -q's early exit could
  # kill tr with SIGPIPE and fail the pipeline although VMDONE is there.
  finished=$(tr -d '\r' <"$log" | grep -c '^VMDONE' || true)
  if [ "$finished" = 0 ]; then
    echo "[$k] the guest did not finish; console tail:"
    tail -30 "$log"
    f=$((f + 1))
  fi
  echo "[$k] $p passed, $f failed, $s skipped in ${secs%.*} s"
  { grep -vF "[$k] " "$results" || true
    tr -d '\r' <"$log" | grep -E '^(\[[^]]*\] )?(VMTEST|VMINFO (kernel|facts))' | sed -E "s/^(\[[^]]*\] )?/[$k] /"
  } >"$results.new"
  mv "$results.new" "$results"
  passed=$((passed + p)) failed=$((failed + f))
done
echo "vm: $passed passed, $failed failed"
[ "$failed" = 0 ]
