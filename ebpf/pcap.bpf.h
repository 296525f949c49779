/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * A rule's pcap-filter parts against the packet: which bytes libpcap's
 * programs see, and their verdicts as the bits of meta.pcap.
 *
 * The view (pcap_view.bpf.h; docs/language.md, "Which bytes a filter
 * sees"): from the MAC header on Ethernet and loopback devices, else from
 * the IP header (locally built packets before the neighbour layer, tunnel
 * and IP-only devices). Only the linear data is captured:
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
#include "pcap_view.bpf.h"

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
	__u32 start, caplen, wirelen, units, base;
	const struct ferret_rule *rule;
	struct pcap_view view;
	__u64 pkt, lens;

	if (!r)
		return 0;
	rule = bpf_map_lookup_elem(&rules, &slot);
	if (!rule)
		return 0;
	units = rule->pcap_units;
	r->pcap_for = slot + 1;
	view = pcap_view_of(r->mac_off, r->skb_nh, r->data_off, pcap_dev_type(r));
	start = view.start;
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
	base = slot * FERRET_PCAP_UNITS * 2 + view.raw;
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
