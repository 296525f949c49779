/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * A rule's pcap-filter parts against the packet: which bytes libpcap's
 * programs see, and their verdicts as the bits of meta.pcap.
 *
 * The view (documented in docs/language.md, "Which bytes a filter sees"):
 * an skb whose MAC header is set on an Ethernet or loopback device is seen
 * from that header, by the programs compiled for Ethernet; any other skb
 * (locally built before the neighbour layer, tunnel and IP-only devices)
 * from its network header, or from skb->data when that is unset, by the
 * programs compiled for raw IP (DLT_RAW). Only the linear data is captured:
 * the captured length ends at skb->tail, and the length on the wire is
 * skb->len counted from the view's first byte, as libpcap's `len`.
 */
#ifndef FERRET_PCAP_BPF_H
#define FERRET_PCAP_BPF_H

#include <linux/types.h>
#include <bpf/bpf_helpers.h>

#include "compat.bpf.h"
#include <bpf/bpf_core_read.h>

#include "ferret_abi.h"
#include "kernel_types.bpf.h"
#include "maps.bpf.h"
#include "run.bpf.h"
#include "cbpf.bpf.h"

#define ARPHRD_ETHER 1
#define ARPHRD_LOOPBACK 772
#define DEV_TYPE_UNKNOWN 0xffff

/* The device type, when the hook's read did not take it (helper path). */
static __always_inline __u16 pcap_dev_type(const struct run *r)
{
	struct sk_buff *skb = (struct sk_buff *)r->meta.skb;
	struct net_device *dev;

	if (r->dev_type != DEV_TYPE_UNKNOWN)
		return r->dev_type;
	dev = BPF_CORE_READ(skb, dev);
	return dev ? BPF_CORE_READ(dev, type) : 0;
}

/*
 * Runs the pcap-filter parts of the rule in `slot` and sets their bits in
 * meta.pcap, for that slot (pcap_for). Global, so the verifier checks it
 * once. Called from the rule loop itself, not from eval_rule: the call
 * chain hook, eval_rule, run_pcap, cbpf_run, the bpf_loop callback took
 * more than the 512 bytes of stack kernels before 6.2 allow.
 */
FERRET_SUBPROG int run_pcap(struct run *r, __u32 slot)
{
	__u32 start, caplen, wirelen, raw, units, base;
	const struct ferret_rule *rule;
	__u64 pkt, lens;
	__u16 type;

	if (!r)
		return 0;
	rule = bpf_map_lookup_elem(&rules, &slot);
	if (!rule)
		return 0;
	units = rule->pcap_units;
	r->pcap_for = slot + 1;
	type = pcap_dev_type(r);
	raw = !(r->mac_off != HDR_UNSET && r->mac_off <= r->data_off &&
		(type == ARPHRD_ETHER || type == ARPHRD_LOOPBACK));
	if (!raw)
		start = r->mac_off;
	else if (r->skb_nh != HDR_UNSET && r->skb_nh != 0)
		start = r->skb_nh;
	else
		start = r->data_off;
	caplen = r->tail > start ? r->tail - start : 0;
	/* skb->len counts from skb->data. */
	wirelen = r->meta.len + r->data_off - start;
	if (start > r->data_off + r->meta.len)
		wirelen = 0;
	/*
	 * Few values live across the calls below, packed, so that the frame
	 * stays at its smallest (see struct cbpf_state); the bits go straight
	 * to meta. engine/core/src/abi/cbpf.rs: pcap_prog_index.
	 */
	base = slot * FERRET_PCAP_UNITS * 2 + raw;
	pkt = r->head + start;
	lens = (__u64)caplen << 32 | wirelen;
	r->meta.pcap = 0;
	r->meta.present |= FIELD_BIT(FERRET_F_PCAP);
#pragma unroll
	for (__u32 u = 0; u < FERRET_PCAP_UNITS; u++) {
		if (u >= units)
			break;
		if (cbpf_run(base + u * 2, pkt, lens >> 32, (__u32)lens))
			r->meta.pcap |= 1u << u;
	}
	return 0;
}

#endif
