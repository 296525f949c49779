/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Which bytes of an skb a pcap-filter part sees, and its pre-check key.
 *
 * The view (docs/language.md, "Which bytes a filter sees"): an skb whose
 * MAC header is set on an Ethernet or loopback device is seen from that
 * header, by the programs compiled for Ethernet; any other skb from its
 * network header, or from skb->data when that is unset, by the programs
 * compiled for raw IP. run_pcap (pcap.bpf.h) and the hook pre-check
 * (guard.bpf.h) both choose it here, so they see the same bytes.
 *
 * The key (engine/core/src/pcap/prefilter.rs, frame_key, says the same):
 * the ethertype, or raw the version nibble, shifted left by 9, with the
 * IP protocol byte (IPv4 byte 9, IPv6 next header) in the low 8 bits;
 * bit 8 when that byte is not captured, bit 25 when the class byte(s)
 * are not, bit 32 for the raw view.
 */
#ifndef FERRET_PCAP_VIEW_BPF_H
#define FERRET_PCAP_VIEW_BPF_H

#include <linux/types.h>
#include <bpf/bpf_endian.h>

#include "direct.bpf.h"
#include "net.bpf.h"
#include "run.bpf.h"

#define PCAP_KEY_RAW (1ULL << 32)
#define PCAP_KEY_SHORT (1ULL << 25)
#define PCAP_KEY_NO_PROTO (1ULL << 8)
#define PCAP_KEY_CLASS_SHIFT 9

struct pcap_view {
	__u32 start; /* offset from skb->head */
	__u32 raw;   /* 1: seen from the IP header */
};

static __always_inline struct pcap_view pcap_view_of(__u32 mac_off, __u32 skb_nh, __u32 data_off,
						     __u16 dev_type)
{
	struct pcap_view v;

	v.raw = !(mac_off != HDR_UNSET && mac_off <= data_off &&
		  (dev_type == ARPHRD_ETHER || dev_type == ARPHRD_LOOPBACK));
	if (!v.raw)
		v.start = mac_off;
	else if (skb_nh != HDR_UNSET && skb_nh != 0)
		v.start = skb_nh;
	else
		v.start = data_off;
	return v;
}

/*
 * The pre-check key of `skb` as its pcap-filter parts see it, read with
 * plain loads; 0 where the kernel lacks bpf_rdonly_cast (no key then).
 */
static __always_inline int pcap_key(struct sk_buff *skb, __u64 *key)
{
	struct net_device *dev = skb->dev;
	__u64 head = (__u64)skb->head, base = 0;
	__u32 data_off = (__u64)skb->data - head, tail = skb->tail, caplen, cls, poff;
	const struct ethhdr *h;
	struct pcap_view v;

	if (!ferret_have_rdonly_cast)
		return 0;
	v = pcap_view_of(skb->mac_header, skb->network_header, data_off, dev ? dev->type : 0);
	caplen = tail > v.start ? tail - v.start : 0;
	h = BYTES_AT(head + v.start);
	if (v.raw) {
		base = PCAP_KEY_RAW;
		if (!caplen) {
			*key = base | PCAP_KEY_SHORT;
			return 1;
		}
		cls = h->h_dest[0] >> 4;
		poff = cls == 4 ? IPV4_PROTO_OFF : cls == 6 ? IPV6_NEXTHDR_OFF : 0;
	} else {
		if (caplen < ETH_HLEN) {
			*key = PCAP_KEY_SHORT;
			return 1;
		}
		cls = bpf_ntohs(h->h_proto);
		poff = cls == ETH_P_IP	   ? ETH_HLEN + IPV4_PROTO_OFF :
		       cls == ETH_P_IPV6 ? ETH_HLEN + IPV6_NEXTHDR_OFF :
					   0;
	}
	*key = base | (__u64)cls << PCAP_KEY_CLASS_SHIFT;
	if (!poff)
		return 1;
	if (caplen <= poff) {
		*key |= PCAP_KEY_NO_PROTO;
		return 1;
	}
	*key |= BYTES_AT(head + v.start + poff)->h_dest[0];
	return 1;
}

#endif
