#!/usr/bin/env bash
# Installs what ferret needs to build and test on Debian/Ubuntu, only what is
# missing. Sourced by demo.sh and test.sh; safe to run again.
set -euo pipefail

need=()
have_clang=0
for c in clang-19 clang; do command -v "$c" >/dev/null 2>&1 && have_clang=1; done
[ "$have_clang" = 1 ] || need+=(clang-19)
[ -f /usr/include/bpf/bpf_helpers.h ] || need+=(libbpf-dev)
command -v nft >/dev/null 2>&1 || need+=(nftables)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v bpftool >/dev/null 2>&1 || need+=(bpftool)
# explain's tests: conntrack entries, iptables-nft and iptables-legacy
# rules in namespace labs...
command -v conntrack >/dev/null 2>&1 || need+=(conntrack)
command -v iptables-nft >/dev/null 2>&1 || need+=(iptables)
# ...and ufw, confined to a lab namespace (its state stays in the lab's
# /etc/netns copy; installed, it is disabled on the host).
command -v ufw >/dev/null 2>&1 || need+=(ufw)
# The capture tests read ferret's pcap-ng files back with tshark.
command -v tshark >/dev/null 2>&1 || need+=(tshark)
# The --html page is tested in a real headless browser.
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || need+=(chromium)
# The REPL end-to-end test types into a real terminal through tmux.
command -v tmux >/dev/null 2>&1 || need+=(tmux)
# The function-trigger tests boot Debian kernels under qemu (tests/vm/).
command -v qemu-system-x86_64 >/dev/null 2>&1 || need+=(qemu-system-x86)
[ -x /bin/busybox ] || need+=(busybox-static)
# libpcap compiles pcap-filter expressions (ferret-core's `libpcap` feature);
# tcpdump is the oracle of the filter differential test.
[ -f /usr/include/pcap/pcap.h ] || need+=(libpcap-dev)
command -v tcpdump >/dev/null 2>&1 || need+=(tcpdump)
# The agent's metrics test scrapes `ferret serve` with a real Prometheus.
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
# tools/check-deploy.sh installs the Kubernetes schema validator from PyPI
# into a virtual environment.
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv)

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "ferret: missing packages: ${need[*]}; run as root or: sudo apt-get install ${need[*]}" >&2
    exit 3
  fi
  echo "ferret: installing ${need[*]}" >&2
  # Noninteractive also answers wireshark-common's "may non-superusers
  # capture packets?" question with its default (no).
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # clang-19 is Debian 12's newest; older releases call it plain clang.
  apt-get install -y -qq "${need[@]}" >/dev/null || apt-get install -y -qq "${need[@]/clang-19/clang}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "ferret: cargo not found: install Rust 1.85 or newer (https://rustup.rs), then run this again" >&2
  exit 3
fi
