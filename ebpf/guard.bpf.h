/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * A hook's pre-check (struct ferret_guard): turns a call away when no
 * active rule on the hook can match it, before the per-event state is
 * zeroed, the rule loop runs or any rule's filter is interpreted. On a busy
 * hook with a selective rule that is nearly every call, and the rule loop is
 * most of what such a call costs.
 *
 * It only turns a call away when it knows the field's value exactly as the
 * full path would read it (same loads, same presence rules); anything else
 * (an IPv6 packet for a port, a kernel without bpf_rdonly_cast) goes the
 * full way, so the pre-check never changes what matches. Addresses are
 * compared as IPv4 addresses in network byte order (a CIDR block is one
 * range), so they too are decided for IPv4 packets only. A pcap-filter
 * pre-check (field PCAP) compares a key of the packet's class (pcap_view.bpf.h)
 * with the classes the parts' programs can accept at all.
 */
#ifndef FERRET_GUARD_BPF_H
#define FERRET_GUARD_BPF_H

#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "direct.bpf.h"
#include "kernel_types.bpf.h"
#include "maps.bpf.h"
#include "pcap_view.bpf.h"

#define GUARD_UNDECIDED -1
#define GUARD_ABSENT 0
#define GUARD_VALUE 1

/* Four header bytes as a number in network order (an IPv4 address). */
static __always_inline __u64 be32_of(__u8 a, __u8 b, __u8 c, __u8 d)
{
	return (__u64)a << 24 | (__u64)b << 16 | (__u64)c << 8 | d;
}

/* An IPv4 packet's protocol, ports or addresses, as fill_net_direct reads them. */
static __always_inline int guard_ipv4_value(struct sk_buff *skb, __u32 field, __u64 *v)
{
	__u32 nh = skb->network_header, tail = skb->tail, ihl, off;
	__u64 head = (__u64)skb->head;
	const struct ethhdr *h0, *h12;
	const struct udphdr *l4;

	/* A network header but no protocol yet (an skb on its way down, before
	 * the IP layer set it): the full path reads no packet fields either. */
	if (!skb->protocol && nh != HDR_UNSET && nh != 0)
		return GUARD_ABSENT;
	if (!ipv4_direct(bpf_ntohs(skb->protocol), nh))
		return GUARD_UNDECIDED;
	h0 = BYTES_AT(head + nh);
	ihl = ipv4_ihl(h0, nh, tail);
	if (!ihl)
		return GUARD_ABSENT;
	if (field == FERRET_F_PROTO) {
		*v = h0->h_source[3];
		return GUARD_VALUE;
	}
	if (field == FERRET_F_SADDR || field == FERRET_F_DADDR) {
		/* Header bytes 12..19, from a view at 12 as in fill_net_direct. */
		h12 = BYTES_AT(head + nh + IPV4_SADDR_OFF);
		if (field == FERRET_F_SADDR)
			*v = be32_of(h12->h_dest[0], h12->h_dest[1], h12->h_dest[2], h12->h_dest[3]);
		else
			*v = be32_of(h12->h_dest[4], h12->h_dest[5], h12->h_source[0],
				     h12->h_source[1]);
		return GUARD_VALUE;
	}
	off = ipv4_ports_off(h0, nh, ihl, tail);
	if (!off)
		return GUARD_ABSENT;
	l4 = PORTS_AT(head + off);
	*v = bpf_ntohs(field == FERRET_F_SPORT ? l4->source : l4->dest);
	return GUARD_VALUE;
}

/* The guarded field of this call, as the full path would see it. */
static __always_inline int guard_value(__u32 field, struct sk_buff *skb, __u32 reason,
				       int has_reason, __u64 *v)
{
	switch (field) {
	case FERRET_F_REASON:
		if (!has_reason)
			return GUARD_ABSENT;
		*v = reason;
		return GUARD_VALUE;
	case FERRET_F_LEN:
		*v = skb->len;
		return GUARD_VALUE;
	case FERRET_F_MARK:
		*v = skb->mark;
		return GUARD_VALUE;
	case FERRET_F_PROTO:
	case FERRET_F_SPORT:
	case FERRET_F_DPORT:
	case FERRET_F_SADDR:
	case FERRET_F_DADDR:
		return guard_ipv4_value(skb, field, v);
	case FERRET_F_PCAP:
		/* The class of the bytes the rules' pcap-filter parts see. */
		return pcap_key(skb, v) ? GUARD_VALUE : GUARD_UNDECIDED;
	default:
		return GUARD_UNDECIDED;
	}
}

/*
 * 1 when no active rule on the hooks of guard `slot` can match this call
 * (typed skbs only: tp_btf programs, function programs through
 * bpf_rdonly_cast).
 */
static __always_inline int guard_rejects(const struct ferret_config *cfg, __u32 slot,
					 struct sk_buff *skb, __u32 reason, int has_reason)
{
	const struct ferret_guard *g;
	__u64 v = 0;
	__u32 n;
	int known;

	if (slot >= FERRET_GUARD_HOOKS)
		return 0;
	g = &cfg->guards[slot];
	if (g->field == FERRET_F_NONE)
		return 0;
	known = guard_value(g->field, skb, reason, has_reason, &v);
	if (known == GUARD_UNDECIDED)
		return 0;
	if (known == GUARD_ABSENT)
		return 1;
	n = g->nranges;
#pragma clang loop unroll(full)
	for (__u32 i = 0; i < FERRET_GUARD_RANGES; i++) {
		if (i < n && v >= g->lo[i] && v <= g->hi[i])
			return 0;
	}
	return 1;
}

static __always_inline void count_guard_skip(__u32 slot)
{
	__u32 key = slot;
	__u64 *n = bpf_map_lookup_elem(&guard_skips, &key);

	if (n)
		*n += 1;
}

#endif
