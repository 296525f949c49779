#!/bin/sh
# /init of the test VM: mount, load modules, build a namespace lab with an
# nftables drop of TCP 443, run ferret against it, print one
# "VMTEST <name> PASS|FAIL|SKIP <detail>" line per check, power off.
# The host (tests/vm/run.sh) reads these lines from the serial console.
# What the kernel offers (`ferret features`) decides what each check
# expects: drop reasons or only locations, pcap-filter rules or their
# refusal without bpf_loop, function scenarios or their refusal.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null
mount -t debugfs nodev /sys/kernel/debug 2>/dev/null
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
mkdir -p /run/netns
for m in $(cat /mods/order); do insmod /mods/$m.ko 2>/dev/null; done
echo "VMINFO kernel $(uname -r)"

IP=/usr/sbin/ip
pass() { echo "VMTEST $1 PASS $2"; }
fail() { echo "VMTEST $1 FAIL $2"; }
skip() { echo "VMTEST $1 SKIP $2"; }
# Seconds since boot at each part, to see where the time goes under TCG.
stamp() { echo "VMINFO time $1 $(cut -d' ' -f1 /proc/uptime)"; }

# Lab: a (198.18.0.1) <-> b (198.18.0.2); b drops TCP 443 in input and
# DNATs port 80 to 8080 (the track test).
$IP netns add a && $IP netns add b
$IP link add va netns a type veth peer name vb netns b
$IP -n a addr add 198.18.0.1/24 dev va && $IP -n a link set va up && $IP -n a link set lo up
$IP -n b addr add 198.18.0.2/24 dev vb && $IP -n b link set vb up && $IP -n b link set lo up
$IP netns exec b nft -f - <<'NFT'
table inet ferret {
  chain input { type filter hook input priority 0; tcp dport 443 drop; }
  chain pre { type nat hook prerouting priority -100; tcp dport 80 dnat ip to 198.18.0.2:8080; }
}
NFT
[ $? = 0 ] || echo "VMINFO nft setup failed"

# Runs ferret with $2.. in the background until the ready line, sends
# traffic with the command in $1, then ends ferret with SIGINT.
trace() {
  traffic=$1; shift
  rm -f /tmp/out /tmp/err
  ferret "$@" >/tmp/out 2>/tmp/err &
  pid=$!
  n=0
  while ! grep -q "ready:" /tmp/err 2>/dev/null; do
    n=$((n + 1))
    if [ $n -gt 600 ] || ! kill -0 $pid 2>/dev/null; then break; fi
    sleep 0.1
  done
  sh -c "$traffic" >/dev/null 2>&1
  sleep 1
  kill -INT $pid 2>/dev/null
  wait $pid
  rc=$?
  sed 's/^/VMLOG /' /tmp/err | head -20
  return $rc
}
nc_to() { echo "$IP netns exec a nc -w 1 198.18.0.2 $1 </dev/null"; }

# MODE=cost (tools/vm-cost.sh): function triggers measured, nothing
# tested: attach and detach of every skb function per backend, and a
# non-matching `any` rule's cost per call beside an empty kprobe program.
cost_mode() {
  stamp cost
  # FUNC_RULE=ttl: a rule the pre-check cannot serve (the full path).
  case ${FUNC_RULE:-} in
    ttl) set -- --func-rule 'on any where ttl == 1' ;;
    *) set -- ;;
  esac
  ferret-bench --no-bpftrace --ferret /usr/bin/ferret --phases funcs "$@" \
    --func-backends "${FUNC_BACKENDS:-kprobe.multi}" --trial "${TRIAL:-3}" --rounds "${ROUNDS:-3}" \
    --out /tmp/funcs.json --markdown /tmp/funcs.md 2>/tmp/err
  echo "VMINFO ferret-bench rc=$?"
  sed 's/^/VMLOG /' /tmp/err | tail -20
  sed 's/^/VMCOST /' /tmp/funcs.md
  echo "VMJSON $(tr -d '\n' </tmp/funcs.json)"
  stamp done
  echo "VMDONE"
  poweroff -f
}
[ "${MODE:-}" = cost ] && cost_mode

stamp features
# ferret features: the whole answer goes to the log (it is what a bug
# report carries); the checks are that it is JSON with the expected facts,
# and the facts decide what the scenarios below expect.
ferret features --json >/tmp/features 2>/tmp/err
rc=$?
sed 's/^/VMLOG /' /tmp/features /tmp/err
fact() { grep -q "$1" /tmp/features && echo yes || echo no; }
reasons=$(fact '"enum": true')
loop=$(fact '"bpf_loop": true')
backend=$(sed -n 's/^    "backend": "\([a-z.]*\)",*$/\1/p' /tmp/features)
backend=${backend:-none}
# Why function triggers are refused, for the SKIP line.
grep '"why"' /tmp/features | sed 's/^ *"why": //' >/tmp/funcerr
echo "VMINFO facts: release=$(uname -r) drop_reasons=$reasons bpf_loop=$loop function_backend=$backend"
if [ $rc = 0 ] && head -c1 /tmp/features | grep -q '{' && tail -n1 /tmp/features | grep -q '^}' &&
  grep -q '"vmlinux": true' /tmp/features &&
  grep -q '"drop": "tp_btf"' /tmp/features &&
  [ "$backend" = "$EXPECT_BACKEND" ]; then
  pass features "functions: $backend"
else
  fail features "rc=$rc, functions: $backend, expected $EXPECT_BACKEND"
fi

stamp tracepoints
# Tracepoint scenarios, one session (loading is the slow part under TCG):
#  1 the nftables drop of TCP 443 with its reason (or, before 5.17, the
#    location) and stack;
#  2, 3 closed TCP and UDP ports (busybox nslookup sends UDP to port 53);
#  4 `count by reason` in the kernel;
#  5 `capture`, written with --pcap (run.sh reads it back with tshark).
nc_closed() { echo "$IP netns exec a nc -w 1 198.18.0.2 9 </dev/null"; }
udp_closed() { echo "$IP netns exec a timeout 3 nslookup ferret.test 198.18.0.2"; }
trace "$(nc_to 443); $(nc_closed); $(udp_closed)" --json --pcap /tmp/cap.pcapng "
on drop where dport == 443 print stack
on drop where proto == tcp and dport == 9
on drop where proto == udp and dport == 53
on drop where dport == 443 count by reason
on drop where dport == 443 capture"
rc=$?
[ $rc = 3 ] && ferret -v --duration 1s 'on drop' 2>&1 | tail -40 | sed 's/^/VMLOG /'
echo "VMINFO $(grep -E 'ready:|detached' /tmp/err | tr '\n' ' ')"
of_rule() { grep -E "\"rules\":\[([0-9]+,)*$1(,[0-9]+)*\]" /tmp/out; }
count_of() { grep "\"rule\":$1,.*\"type\":\"count\"" /tmp/out | grep '"final":true'; }
[ $rc = 0 ] && pass tp-exit-status || fail tp-exit-status "rc=$rc"
drop=$(of_rule 1 | grep '"dport":443' | head -1)
if [ "$reasons" = yes ]; then
  cause='"reason":"NETFILTER_DROP"'
else
  cause='"location":"[a-z_]'
fi
if echo "$drop" | grep -q "$cause" && echo "$drop" | grep -q '"stack":\[[^]]*nf_hook_slow'; then
  pass tp-drop-443 "$(echo "$drop" | grep -oE '"(reason|location)":"[^"]*"' | tr '\n' ' ')"
else
  fail tp-drop-443 "want $cause and nf_hook_slow in the stack: $(echo "$drop" | cut -c1-400)"
fi
for c in "2 tcp" "3 udp"; do
  set -- $c
  ev=$(of_rule $1 | head -1)
  if [ "$reasons" = yes ]; then want='"reason":"NO_SOCKET"'; else want='"location":"[a-z_]'; fi
  if echo "$ev" | grep -q "\"proto\":\"$2\"" && echo "$ev" | grep -q "$want"; then
    pass tp-closed-$2 "$(echo "$ev" | grep -oE '"(reason|location)":"[^"]*"' | tr '\n' ' ')"
  elif echo "$ev" | grep -q . && echo "$ev" | grep -q "$want"; then
    pass tp-closed-$2 "$(echo "$ev" | cut -c1-200)"
  else
    fail tp-closed-$2 "want $want: $(echo "${ev:-no event}" | cut -c1-300)"
  fi
done
total=$(count_of 4 | grep -o '"total":[0-9]*' | cut -d: -f2)
if [ "$reasons" = yes ]; then
  keyok=$(count_of 4 | grep -c '"key":{"reason":"NETFILTER_DROP"}')
else
  keyok=1
fi
if [ "${total:-0}" -gt 0 ] && [ "$keyok" -gt 0 ]; then
  pass tp-count-by-reason "$total drops; $(count_of 4 | grep -o '"entries":\[[^]]*\]' | cut -c1-200)"
else
  fail tp-count-by-reason "$(count_of 4 | cut -c1-300)"
fi
# The capture, sent to the host as base64 for tshark (run.sh).
if [ -s /tmp/cap.pcapng ] && [ "$(wc -c </tmp/cap.pcapng)" -lt 200000 ]; then
  base64 /tmp/cap.pcapng | sed 's/^/VMPCAP /'
fi

stamp stop-after
# `stop after N`: the session ends by itself after N matches. It is
# recorded (-w) and read back by ferret's pcap-ng reader.
rm -f /tmp/out /tmp/err /tmp/rec.pcapng
ferret -w /tmp/rec.pcapng 'on drop where dport == 443 capture stop after 2' >/tmp/out 2>/tmp/err &
pid=$!
n=0
while ! grep -q "ready:" /tmp/err 2>/dev/null && [ $n -lt 600 ] && kill -0 $pid 2>/dev/null; do
  n=$((n + 1)); sleep 0.1
done
for i in 1 2 3 4; do
  kill -0 $pid 2>/dev/null || break
  sh -c "$(nc_to 443)" >/dev/null 2>&1
done
n=0
while kill -0 $pid 2>/dev/null && [ $n -lt 100 ]; do n=$((n + 1)); sleep 0.1; done
if kill -0 $pid 2>/dev/null; then
  kill -INT $pid; wait $pid
  fail stop-after "still running after the traffic"
else
  wait $pid
  rc=$?
  ferret -r /tmp/rec.pcapng --json >/tmp/readback 2>/tmp/rberr
  rb=$?
  lines=$(grep -c '"dport":443' /tmp/readback)
  if [ $rc = 0 ] && grep -q 'session ended (stop-after)' /tmp/err && [ "$lines" = 2 ]; then
    pass stop-after "$lines events"
  else
    fail stop-after "rc=$rc, $lines events, $(grep 'session ended' /tmp/err)"
  fi
  magic=$(head -c4 /tmp/rec.pcapng 2>/dev/null | od -An -tx1 | tr -d ' \n')
  if [ $rb = 0 ] && [ "$magic" = 0a0d0d0a ] && grep -q '"dport":443' /tmp/readback; then
    pass capture-readback "$lines events read back by ferret -r"
  else
    fail capture-readback "rc=$rb magic=$magic $(head -3 /tmp/rberr | tr '\n' '|')"
  fi
fi

stamp pcap-filter
# pcap-filter text: classic BPF run by the kernel's interpreter, which
# needs bpf_loop; without it ferret refuses the rule and says why.
trace "$(nc_to 443)" --json 'on drop where tcp dst port 443'
rc=$?
if [ "$loop" = yes ]; then
  if [ $rc = 0 ] && grep -q '"dport":443' /tmp/out; then
    pass pcap-filter "$(grep -c '"dport":443' /tmp/out) events"
  else
    fail pcap-filter "rc=$rc, $(grep -c . /tmp/out) events"
  fi
elif [ $rc != 0 ] && grep -q 'bpf_loop.*Linux 5.17' /tmp/err; then
  pass pcap-filter "refused: $(grep -o 'pcap-filter rules need[^;]*' /tmp/err | head -1)"
else
  fail pcap-filter "rc=$rc without bpf_loop: $(head -3 /tmp/err | tr '\n' '|')"
fi

# A reason filter: where the kernel has drop reasons it matches the
# nftables drop; where it has none, the rule is refused and says why.
trace "$(nc_to 443)" --json 'on drop where reason == NETFILTER_DROP and dport == 443'
rc=$?
if [ "$reasons" = yes ]; then
  if [ $rc = 0 ] && grep -q '"reason":"NETFILTER_DROP"' /tmp/out; then
    pass reason-filter "$(grep -c . /tmp/out) events"
  else
    fail reason-filter "rc=$rc"
  fi
elif [ $rc != 0 ] && grep -qi 'reason' /tmp/err; then
  pass reason-filter "refused: $(grep -i 'error' /tmp/err | head -1 | cut -c1-200)"
else
  fail reason-filter "rc=$rc without drop reasons: $(head -3 /tmp/err | tr '\n' '|')"
fi

stamp functions
# Function triggers (`func`, `any`): where ferret features found a backend.
if [ "$backend" = none ]; then
  skip functions "$(head -2 /tmp/funcerr | tr -d '\n' | cut -c1-300)"
else
# funcs: discovery lists ip_rcv with its argument.
if ferret funcs 'ip_rcv' 2>/dev/null | grep -q "ip_rcv .*arg 1"; then pass funcs; else fail funcs "$(ferret funcs ip_rcv 2>&1 | tail -1)"; fi
# Module functions: nf_tables is a module here; its inet chain hook takes
# the skb second (nft_do_chain itself takes a struct nft_pktinfo, no skb).
# The other modules loaded at boot show up too.
echo "VMINFO modules with BTF: $(ls /sys/kernel/btf | grep -vx vmlinux | tr '\n' ' ')"
line=$(ferret funcs 'nft_do_chain*' 2>/tmp/err)
echo "VMINFO $(tail -1 /tmp/err)"
if echo "$line" | grep -q "^nft_do_chain_inet \[nf_tables\] .*arg 2"; then
  pass module_funcs "$(echo "$line" | tr -s ' ' | tr '\n' '|')"
else
  fail module_funcs "$(echo "$line" | tr '\n' '|'); $(tail -1 /tmp/err)"
fi
mods=$(ferret funcs 2>/dev/null | grep -o '\[[a-z_0-9]*\]' | sort -u | tr '\n' ' ')
for m in nf_tables nf_conntrack veth bridge vxlan openvswitch; do
  [ -e /sys/kernel/btf/$m ] || continue
  echo "$mods" | grep -q "\[$m\]" || missing="${missing:-} $m"
done
[ -z "${missing:-}" ] && pass module_funcs_all "$mods" || fail module_funcs_all "missing:$missing; listed: $mods"

# Drop functions, as the catalog finds them in BTF (an `enum
# skb_drop_reason` argument): kfree_skb_reason (5.17-6.10),
# sk_skb_reason_drop (6.11+).
dropfns=$(ferret funcs 'kfree_skb*' 'sk_skb_reason_drop' 2>/dev/null |
  awk '/drop reason arg/ { printf "%s%s", sep, $1; sep = ", " }')
echo "VMINFO drop functions: ${dropfns:-none}"

# One session, nine rules (loading is the slow part under TCG):
#  1 a tracepoint trigger still works next to function triggers;
#  2 `any`: every skb function, the packet's path to its drop;
#  3 `func GLOB` selects only those functions;
#  4 `track`: a packet to port 80 is DNATed to 8080; after the rewrite the
#    filter no longer holds, but the tracked skb still matches;
#  5, 6, 7 `count by reason` counts in the dense array, `count by reason,
#    dport` in the compact hash, `count by reason, dport, saddr` with the
#    120-byte key: all three count the same drops;
#  8, 9 drop functions carry their reason: a reason filter and
#    `count by reason` on a function trigger.
# FUNCS=any (the default) probes every skb function. Under TCG a single
# kprobe takes ~10-30 ms to attach and ~50 ms to detach, so CI runs the
# kprobe-only kernels with FUNCS=path: the functions of this path only.
case ${FUNCS:-any} in
  any) every=any ;;
  *) every='func ip_*, nf_hook_slow, nft_do_chain*, kfree_skb*, sk_skb_reason_drop, __netif_receive_skb*, tcp_v4_*' ;;
esac
echo "VMINFO functions: $every"
trace "$(nc_to 443); $(nc_to 80)" --json "
on drop where dport == 443
on $every where port 443
on func ip_* where port 443
on $every where dport == 80 track
on drop where dport == 443 count by reason
on drop where dport == 443 count by reason, dport
on drop where dport == 443 count by reason, dport, saddr
on func ${dropfns:-kfree_skb} where port 443 and reason == NETFILTER_DROP
on func ${dropfns:-kfree_skb} where port 443 count by reason"
rc=$?
if [ $rc = 3 ]; then
  # A load failure: show the verifier's words.
  ferret -v --duration 1s 'on drop' 2>&1 | tail -60 | sed 's/^/VMLOG /'
fi
echo "VMINFO $(grep -E 'ready:|detached' /tmp/err | tr '\n' ' ')"
funcs_of() { of_rule "$1" | grep -o '"func":"[^"]*"' | sort -u | tr '\n' ' '; }
[ $rc = 0 ] && pass exit-status || fail exit-status "rc=$rc"
of_rule 1 | grep -q '"dport":443' && pass tracepoint-drop || fail tracepoint-drop "no drop event"
funcs=$(funcs_of 2)
echo "VMINFO any-funcs $funcs"
ok=1
for f in ip_rcv nf_hook_slow; do echo "$funcs" | grep -q "\"$f\"" || ok=0; done
echo "$funcs" | grep -qE '"(kfree_skb_reason|sk_skb_reason_drop|kfree_skb)"' || ok=0
[ $ok = 1 ] && pass any-path "$(echo "$funcs" | wc -w) functions" || fail any-path "$funcs"
# The nftables drop passes nf_tables' chain hook, a module function.
echo "$funcs" | grep -q '"func":"nft_do_chain_inet"' && pass module_path "nft_do_chain_inet" ||
  fail module_path "$funcs"
grep -q "ready:.*functions ($EXPECT_BACKEND," /tmp/err && pass backend "$EXPECT_BACKEND" || fail backend "$(grep ready: /tmp/err)"
funcs=$(funcs_of 3)
if echo "$funcs" | grep -q '"ip_rcv"' && ! echo "$funcs" | grep -q '"func":"[^i]'; then
  pass func-glob "$funcs"
else
  fail func-glob "$funcs"
fi
of_rule 4 | grep -q '"dport":8080' && pass track-dnat || fail track-dnat "no event after DNAT"
dense=$(count_of 5 | grep -o '"total":[0-9]*' | cut -d: -f2)
hashed=$(count_of 6 | grep -o '"total":[0-9]*' | cut -d: -f2)
if [ "${dense:-0}" -gt 0 ] && [ "$dense" = "$hashed" ] &&
  count_of 5 | grep -q "{\"count\":$dense,\"key\":{\"reason\":\"NETFILTER_DROP\"}}"; then
  pass count-dense "$dense drops"
else
  fail count-dense "dense ${dense:-none}, hash ${hashed:-none}"
fi
big=$(count_of 7 | grep -o '"total":[0-9]*' | cut -d: -f2)
if [ "${hashed:-0}" -gt 0 ] && [ "$hashed" = "$big" ] &&
  count_of 6 | grep -q "{\"count\":$hashed,\"key\":{[^}]*\"dport\":443"; then
  pass count-compact "$hashed drops"
else
  fail count-compact "compact ${hashed:-none}, big key ${big:-none}"
fi

# A drop function's event: its reason, and its own name in the table text,
# as pwru prints it.
drops=$(of_rule 8 | grep '"dport":443' | grep -o '"func":"[^"]*","hook":"[^"]*"' | sort -u | tr '\n' ' ')
if [ -n "$dropfns" ] && of_rule 8 | grep '"dport":443' | grep -q '"reason":"NETFILTER_DROP"'; then
  pass drop_reason_func "$drops"
else
  fail drop_reason_func "drop functions: ${dropfns:-none}; events: $(of_rule 8 | grep -c .)"
fi
n=$(count_of 9 | grep -o '"total":[0-9]*' | cut -d: -f2)
if [ "${n:-0}" -gt 0 ] && count_of 9 | grep -q "{\"count\":$n,\"key\":{\"reason\":\"NETFILTER_DROP\"}}"; then
  pass drop_reason_func_count "$n drops"
else
  fail drop_reason_func_count "$(count_of 9)"
fi
trace "$(nc_to 443)" "on func ${dropfns:-kfree_skb} where port 443"
text=$(grep -oE '[a-z_]+\(SKB_DROP_REASON_NETFILTER_DROP\)' /tmp/out | sort -u | tr '\n' ' ')
if echo "$text" | grep -qE '(kfree_skb_reason|_reason_drop)\(SKB_DROP_REASON_NETFILTER_DROP\)'; then
  pass drop_reason_func_text "$text"
else
  fail drop_reason_func_text "$(head -3 /tmp/out | tr '\n' '|')"
fi

stamp seed-table
# QUICK=1 (the default run): on the single-kprobe kernel the README table,
# fentry and the demo are left to the other kernel and to the full matrix.
if [ "${QUICK:-0}" = 1 ] && [ "$EXPECT_BACKEND" = kprobe ]; then
  skip seed_table "quick run"
  skip fentry "quick run"
else
# The README's scenario in function mode: pwru's `pwru port https`, as a
# user types it, in the table; its lines go to the console as VMOUT (the
# README shows a real run), and the path must end in the drop with its
# reason.
trace "$(nc_to 443)" "on $every where port https"
grep -E '198\.18\.0\.1:[0-9]+->198\.18\.0\.2:443' /tmp/out | head -1 >/tmp/first
skb=$(cut -d' ' -f1 /tmp/first)
{ head -1 /tmp/out; grep "^$skb " /tmp/out | head -3; echo "..."; grep "^$skb " /tmp/out | tail -12; } | sed 's/^/VMOUT /'
# One drop per packet: helpers the reason is passed on to are no drops.
# The packet's life ends at kfree_skbmem; a retransmitted SYN can reuse the
# address after that, with a drop of its own.
grep "^$skb " /tmp/out | awk '{ print } / kfree_skbmem$/ { exit }' >/tmp/life
drops=$(grep -cE '\(SKB_[A-Z_]+\)$' /tmp/life)
if [ -n "$skb" ] && [ "$drops" = 1 ] && grep "^$skb " /tmp/out | grep -qE '(kfree_skb_reason|_reason_drop)\(SKB_DROP_REASON_NETFILTER_DROP\)$'; then
  pass seed_table "$(grep -c "^$skb " /tmp/out) lines for skb $skb"
else
  fail seed_table "$drops drop lines; $(grep "^$skb " /tmp/out | grep -E '\(SKB_' | tr '\n' '|')"
fi

stamp backends
# Where kprobe.multi is the default, single kprobes are tested too.
if [ "$EXPECT_BACKEND" = kprobe.multi ]; then
  trace "$(nc_to 443)" --json --backend kprobe 'on func ip_rcv*, nf_hook_slow where port 443'
  if grep -q '"func":"ip_rcv"' /tmp/out && grep -q "functions (kprobe," /tmp/err; then
    pass single-kprobe
  else
    fail single-kprobe "$(grep -c . /tmp/out) events"
  fi
fi

# fentry (BPF trampolines), forced: one program is verified per function
# (~2 s each under TCG), so two functions only.
trace "$(nc_to 443)" --json --backend fentry 'on func ip_rcv, nf_hook_slow where port 443'
if grep -q '"func":"ip_rcv"' /tmp/out && grep -q "functions (fentry," /tmp/err; then
  pass fentry
else
  fail fentry "$(grep -c . /tmp/out) events"
fi

# fentry on a module function: loaded against the module's BTF object.
trace "$(nc_to 443)" --json --backend fentry 'on func nft_do_chain_inet where port 443'
if grep -q '"func":"nft_do_chain_inet"' /tmp/out && grep -q "functions (fentry," /tmp/err; then
  pass module_fentry
else
  fail module_fentry "$(grep -c . /tmp/out) events; $(grep -E 'skipped|ready|error' /tmp/err | head -3 | tr '\n' '|')"
fi

fi # quick
fi # functions

# `on tc` and `on xdp`: fentry/fexit on a tc program (clsact ingress of vb,
# drops TCP to 8080) and an XDP program (generic XDP on vb, drops UDP to
# 53). Where `ferret features` says the kernel refuses fentry on programs,
# a session must refuse the rule in words.
prog_scenarios() {
  stamp programs
  if ! $IP netns exec b tc qdisc add dev vb clsact ||
    ! $IP netns exec b tc filter add dev vb ingress bpf direct-action obj /progs/tc_drop_tcp.bpf.o sec tc ||
    ! $IP -n b link set dev vb xdpgeneric obj /progs/xdp_drop_udp53.bpf.o sec xdp; then
    fail prog-setup "cannot load the test programs with tc and ip"
    return
  fi
  if ! grep -q '"traceable": true' /tmp/features; then
    trace "" --json 'on tc'
    rc=$?
    why=$(grep -A2 '"programs": {' /tmp/features | grep '"why"' | cut -c1-200)
    if [ $rc != 0 ] && grep -qiE 'fentry|cannot trace tc program' /tmp/err; then
      skip programs "refused as features says ($why): $(grep -i error /tmp/err | head -1 | cut -c1-240)"
    else
      fail programs "rc=$rc although features says: $why"
    fi
  else
    trace "$(nc_to 8080); $(nc_to 9); $(udp_closed)" --json "
on tc drop_tcp_* where dport == 8080
on tc where dport == 9
on xdp where proto == udp and dport == 53
on xdp xdp_* where proto == tcp and dport == 9"
    rc=$?
    [ $rc = 3 ] && ferret -v --duration 1s 'on tc' 2>&1 | tail -60 | sed 's/^/VMLOG /'
    echo "VMINFO $(grep -E 'ready:' /tmp/err | tr '\n' ' ')"
    prog_of() { of_rule "$1" | grep -o '"func":"[^"]*"\|"prog":{[^}]*}' | sort | uniq -c | tr -s ' \n' '  '; }
    [ $rc = 0 ] && pass prog-exit-status || fail prog-exit-status "rc=$rc"
    want_prog() { # rule, name, verdict
      if of_rule "$1" | grep "\"func\":\"$2\"" | grep -q '"at":"enter"' &&
        of_rule "$1" | grep "\"func\":\"$2\"" | grep -q "\"at\":\"leave\".*\"verdict\":\"$3\""; then
        pass "$4" "$(prog_of "$1" | cut -c1-300)"
      else
        fail "$4" "want $2 enter and leave $3: $(prog_of "$1" | cut -c1-300)"
      fi
    }
    want_prog 1 drop_tcp_8080 TC_ACT_SHOT tc-shot
    want_prog 2 drop_tcp_8080 TC_ACT_OK tc-ok
    want_prog 3 xdp_drop_udp53 XDP_DROP xdp-drop
    want_prog 4 xdp_drop_udp53 XDP_PASS xdp-pass
    of_rule 3 | grep -q '"ifname":"vb"' && pass xdp-device || fail xdp-device "$(of_rule 3 | head -1 | cut -c1-300)"
  fi
  $IP -n b link set dev vb xdpgeneric off
  $IP netns exec b tc qdisc del dev vb clsact
}
prog_scenarios
stamp track
# `track` (issue 15): a tracked packet stays followed when its tuple
# changes and when it is cloned, as pwru --filter-track-skb does.
#  DNAT: b rewrites TCP 80 to 8080 in prerouting; the skb matched at port
#   80 must show events with port 8080 after the rewrite, on past the NAT
#   hook (the local delivery, the closed port's drop).
#  clone: a bridge floods a ping to an unknown MAC out of two ports: one
#   port gets a clone (skb_clone), the other the original. The filter
#   holds only on the sender's device (ifname t0), which neither copy ever
#   has again, so events past the bridge come from tracking alone, and the
#   clone's come from the copy of the bits at __copy_skb_header.
track_scenarios() {
  $IP netns add ca && $IP netns add cb && $IP netns add cc
  $IP link add t0 netns ca type veth peer name p1 netns cb
  $IP link add p2 netns cb type veth peer name q2 netns cc
  $IP link add p3 netns cb type veth peer name q3 netns cc
  $IP -n cb link add br0 type bridge
  for p in p1 p2 p3; do $IP -n cb link set $p master br0 && $IP -n cb link set $p up; done
  $IP -n cb link set br0 up
  $IP -n cc link set q2 up && $IP -n cc link set q3 up
  $IP -n ca addr add 198.18.1.1/24 dev t0 && $IP -n ca link set t0 up
  # A neighbour nobody has: the bridge never learns its MAC, so it floods.
  $IP -n ca neigh add 198.18.1.99 lladdr 02:00:00:00:00:99 dev t0
  trace "$(nc_to 80); $IP netns exec ca ping -c 2 -W 1 198.18.1.99" --json "
on $every where dport == 80 track
on $every where daddr == 198.18.1.99 and ifname == \"t0\" track"
  rc=$?
  echo "VMINFO $(grep -E 'ready:|clones|detached' /tmp/err | tr '\n' ' ')"
  # DNAT: the skb of the first port-80 event, its events in order.
  skb=$(of_rule 1 | grep '"dport":80,' | head -1 | grep -o '"skb":"[^"]*"')
  of_rule 1 | grep -F "$skb" >/tmp/dnat
  after=$(awk '/"dport":8080,/ { on = 1 } on' /tmp/dnat | grep -o '"func":"[^"]*"' | tr '\n' ' ')
  if [ $rc = 0 ] && [ -n "$skb" ] && grep -q '"dport":80,' /tmp/dnat &&
    echo "$after" | grep -qE '"(ip_local_deliver[a-z_]*|tcp_v4_rcv|kfree_skb[a-z_]*|sk_skb_reason_drop)"'; then
    pass track-dnat-continues "$skb: 80 then 8080 through $(echo "$after" | wc -w) events: $(echo "$after" | cut -c1-200)"
  else
    fail track-dnat-continues "rc=$rc $skb; after the rewrite: ${after:-nothing}; $(grep -c . /tmp/dnat) events"
  fi
  # The clone: both flooded ports show the datagram, from two skbs.
  of_rule 2 | grep '"ifname":"q2"' | grep -o '"skb":"[^"]*"' | sort -u >/tmp/q2
  of_rule 2 | grep '"ifname":"q3"' | grep -o '"skb":"[^"]*"' | sort -u >/tmp/q3
  both=$(cat /tmp/q2 /tmp/q3 | sort -u | wc -l)
  if grep -q "clones do not inherit" /tmp/err; then
    skip track-clone "$(grep -o 'clones do not inherit[^)]*' /tmp/err)"
  elif [ -s /tmp/q2 ] && [ -s /tmp/q3 ] && [ "$both" -ge 2 ]; then
    pass track-clone "q2 $(tr '\n' ' ' </tmp/q2)/ q3 $(tr '\n' ' ' </tmp/q3)"
  else
    fail track-clone "q2: $(tr '\n' ' ' </tmp/q2); q3: $(tr '\n' ' ' </tmp/q3); $(of_rule 2 | grep -o '"ifname":"[^"]*"' | sort | uniq -c | tr '\n' ' ')"
  fi
}
if [ "$backend" = none ]; then
  skip track "no function backend"
else
  track_scenarios
fi

stamp demo
# The demo, as a new user runs it: its own lab, its own traffic.
if [ "${QUICK:-0}" = 1 ] && [ "$EXPECT_BACKEND" = kprobe ]; then
  skip demo "quick run"
else
  timeout 120 ferret demo >/tmp/out 2>/tmp/err
  rc=$?
  sed 's/^/VMLOG /' /tmp/err | head -10
  if [ $rc = 0 ] && grep -q '198\.18\.[0-9.]*:443' /tmp/out; then
    pass demo "$(grep -c '198\.18\.[0-9.]*:443' /tmp/out) drop lines"
  else
    fail demo "rc=$rc, $(grep -c . /tmp/out) lines"
  fi
fi

stamp done
echo "VMDONE"
poweroff -f
