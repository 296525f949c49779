#!/usr/bin/env bash
# Builds the initramfs for one kernel: static busybox, the binaries named
# on the command line with their shared libraries (ldd), iproute2 and nft
# (busybox's `ip` applet has no `netns`), the kernel modules the tests
# need with their dependencies (decompressed, loaded in order by insmod),
# and tests/vm/guest.sh as the test script.
# Usage: tests/vm/initramfs.sh KERNEL_DIR OUT.cpio.gz BINARY...
set -euo pipefail
kdir=$1 out=$2; shift 2
here=$(cd "$(dirname "$0")" && pwd)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,lib,lib64,proc,sys,dev,tmp,run,mods,etc}
cp /bin/busybox "$root/bin/busybox"
for applet in $(/bin/busybox --list); do
  [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done

# Binaries and every library they load, at the same paths.
copy_with_libs() {
  local bin=$1 dest=${2:-$1}
  mkdir -p "$root$(dirname "$dest")"
  cp -L "$bin" "$root$dest"
  ldd "$bin" 2>/dev/null | grep -o '/[^ ]*' | while read -r lib; do
    [ -e "$root$lib" ] && continue
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}
# Service names (`port https` in pcap-filter text, resolved by libpcap).
[ -f /etc/services ] && cp /etc/services "$root/etc/services"
copy_with_libs /usr/sbin/ip /usr/sbin/ip
copy_with_libs /usr/sbin/nft /usr/sbin/nft
# `on tc` / `on xdp`: tc (iproute2 with libbpf) loads the test programs of
# tests/vm/progs, compiled here with BTF (fentry on a program needs it).
copy_with_libs /usr/sbin/tc /usr/sbin/tc
mkdir -p "$root/progs"
for c in "$here"/progs/*.bpf.c; do
  clang-19 -target bpf -O2 -g -I/usr/include/x86_64-linux-gnu -c "$c" \
    -o "$root/progs/$(basename "$c" .c).o"
done
for b in "$@"; do copy_with_libs "$b" "/usr/bin/$(basename "$b")"; done
# pcap-filter text names ports and protocols (`port https`) from these,
# as on any installed system; libpcap refuses the names without them.
cp /etc/services /etc/protocols "$root/etc/"

# Modules: the ones the tests use, then their `depends=` closure. The
# load order (dependencies first) goes to /mods/order.
moddir=$(echo "$kdir"/lib/modules/*)
find "$moddir/kernel" -name '*.ko*' >"$root/tmp/all"
modpath() { grep -E "/$1\.ko(\.xz|\.zst)?\$" "$root/tmp/all" | head -1; }
modinfo_depends() {
  local f=$1
  case $f in
    *.xz) xz -dc "$f" ;;
    *.zst) zstd -dc "$f" ;;
    *) cat "$f" ;;
  esac | tr '\0' '\n' | sed -n 's/^depends=//p' | head -1 | tr ',' ' '
}
declare -A done_mod=()
order=()
add_mod() {
  local m=${1//-/_} f
  [ -n "${done_mod[$m]:-}" ] && return 0
  done_mod[$m]=1
  f=$(modpath "$m") || true
  [ -z "$f" ] && f=$(modpath "${m//_/-}") || true
  [ -n "$f" ] || return 0 # built in
  for d in $(modinfo_depends "$f"); do add_mod "$d"; done
  case $f in
    *.xz) xz -dc "$f" >"$root/mods/$m.ko" ;;
    *.zst) zstd -dc "$f" >"$root/mods/$m.ko" ;;
    *) cp "$f" "$root/mods/$m.ko" ;;
  esac
  order+=("$m")
}
# bridge, vxlan and openvswitch are not used by the lab: they are there
# so that the function catalog meets the modules container and VM
# networking runs on (module BTF, `name [module]` in ferret funcs).
for m in veth nf_tables nft_chain_nat nft_nat nft_ct nf_nat nf_conntrack nft_reject_inet nft_reject \
  bridge vxlan openvswitch sch_ingress cls_bpf; do add_mod "$m"; done
printf '%s\n' "${order[@]}" >"$root/mods/order"
rm -f "$root/tmp/all"

cp "$here/guest.sh" "$root/init"
chmod +x "$root/init"
(cd "$root" && find . | /bin/busybox cpio -o -H newc | gzip -1) >"$out"
