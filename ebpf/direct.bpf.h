/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Packet headers read with plain loads instead of bpf_probe_read_kernel,
 * for the common case (IPv4) in tp_btf programs.
 *
 * A helper call costs ~30 ns here, half of an empty program's whole cost
 * per call, and a filter on a packet field needs one. The kfunc
 * bpf_rdonly_cast (Linux 6.2+) turns an address into a read-only typed
 * pointer whose loads the JIT makes fault-safe (~1 ns each), and the
 * verifier inlines the call away. aya 0.14 cannot emit kfunc calls, so the
 * C calls a helper id no kernel has, and the loader rewrites each such call
 * into the kfunc call (engine/kernel/src/kfunc.rs) and sets
 * ferret_have_rdonly_cast. Where the kernel lacks the kfunc, the flag stays
 * 0, the verifier sees the typed path as dead code (a frozen .rodata value
 * is a constant to it) and never checks the placeholder call in it; the
 * helper path (parse.bpf.h) does the work.
 */
#ifndef FERRET_DIRECT_BPF_H
#define FERRET_DIRECT_BPF_H

#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "kernel_types.bpf.h"
#include "net.bpf.h"
#include "run.bpf.h"

/* Keep in sync with engine/kernel/src/kfunc.rs. */
#define FERRET_RDONLY_CAST_PLACEHOLDER 0x7ffffe01

const volatile __u32 ferret_have_rdonly_cast = 0;

static void *(*ferret_rdonly_cast)(const void *obj, __u32 btf_id) = (void *)FERRET_RDONLY_CAST_PLACEHOLDER;

#define BYTES_AT(addr) ((const struct ethhdr *)ferret_rdonly_cast((void *)(addr), bpf_core_type_id_kernel(struct ethhdr)))
#define SKB_AT(addr) ((struct sk_buff *)ferret_rdonly_cast((void *)(addr), bpf_core_type_id_kernel(struct sk_buff)))
#define PORTS_AT(addr) ((const struct udphdr *)ferret_rdonly_cast((void *)(addr), bpf_core_type_id_kernel(struct udphdr)))

/* Whether the packet is IPv4 with a network header these plain loads can read. */
static __always_inline int ipv4_direct(__u16 protocol, __u32 nh)
{
	return ferret_have_rdonly_cast && protocol == ETH_P_IP && nh != HDR_UNSET && nh != 0;
}

/* The IPv4 header's length, or 0 when it is short or cut off: no L3 fields then. */
static __always_inline __u32 ipv4_ihl(const struct ethhdr *h0, __u32 nh, __u32 tail)
{
	__u32 ihl = (h0->h_dest[0] & 0xf) * 4;

	return ihl < IPV4_MIN_HLEN || nh + IPV4_MIN_HLEN > tail ? 0 : ihl;
}

/*
 * Where the ports are (the transport header's offset), or 0 when the packet
 * carries none: a fragment, another protocol, or cut off before them.
 */
static __always_inline __u32 ipv4_ports_off(const struct ethhdr *h0, __u32 nh, __u32 ihl,
					    __u32 tail)
{
	__u16 frag = (h0->h_source[0] & IPV4_FRAG_HI_MASK) << 8 | h0->h_source[1];
	__u8 proto = h0->h_source[3];
	__u32 off = nh + ihl;

	if (frag)
		return 0;
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP && proto != IPPROTO_SCTP &&
	    proto != IPPROTO_UDPLITE)
		return 0;
	return off + L4_PORTS_LEN > tail ? 0 : off;
}

/*
 * fill_net for IPv4 with its network header set, with plain loads.
 * Returns 0 when the general path (fill_net) must do it. The results are
 * fill_net's: same fields, same presence bits, same rules for options,
 * fragments and bounds. The hook pre-check (guard.bpf.h) decides with
 * the same helpers, so both agree on what a packet carries.
 */
static __always_inline int fill_net_direct(struct run *r)
{
	struct ferret_meta *m = &r->meta;
	const struct ethhdr *h0, *h12, *tcp;
	const struct udphdr *l4;
	__u32 nh = r->skb_nh, ihl, off;

	if (!ipv4_direct(r->protocol, nh))
		return 0;
	r->filled |= FILLED_NET;
	r->net_off = nh;
	m->family = ETH_P_IP;
	m->present |= FIELD_BIT(FERRET_F_FAMILY);
	h0 = BYTES_AT(r->head + nh);
	ihl = ipv4_ihl(h0, nh, r->tail);
	if (!ihl)
		return 1;
	/* Header bytes 6..9 are h_source[0..3]; 12..19 come from a view at 12. */
	h12 = BYTES_AT(r->head + nh + IPV4_SADDR_OFF);
	m->saddr[10] = 0xff;
	m->saddr[11] = 0xff;
	m->saddr[12] = h12->h_dest[0];
	m->saddr[13] = h12->h_dest[1];
	m->saddr[14] = h12->h_dest[2];
	m->saddr[15] = h12->h_dest[3];
	m->daddr[10] = 0xff;
	m->daddr[11] = 0xff;
	m->daddr[12] = h12->h_dest[4];
	m->daddr[13] = h12->h_dest[5];
	m->daddr[14] = h12->h_source[0];
	m->daddr[15] = h12->h_source[1];
	m->ttl = h0->h_source[2];
	m->proto = h0->h_source[3];
	m->present |= FIELD_BIT(FERRET_F_SADDR) | FIELD_BIT(FERRET_F_DADDR) |
		      FIELD_BIT(FERRET_F_TTL) | FIELD_BIT(FERRET_F_PROTO);
	off = ipv4_ports_off(h0, nh, ihl, r->tail);
	if (!off)
		return 1;
	l4 = PORTS_AT(r->head + off);
	m->sport = bpf_ntohs(l4->source);
	m->dport = bpf_ntohs(l4->dest);
	m->present |= FIELD_BIT(FERRET_F_SPORT) | FIELD_BIT(FERRET_F_DPORT);
	if (m->proto == IPPROTO_TCP && off + L4_READ_LEN <= r->tail) {
		/* The flags are byte 13: the second byte of ethhdr's h_proto. */
		tcp = BYTES_AT(r->head + off);
		m->tcpflags = bpf_ntohs(tcp->h_proto) & 0xff;
		m->present |= FIELD_BIT(FERRET_F_TCPFLAGS);
	}
	return 1;
}

#endif
