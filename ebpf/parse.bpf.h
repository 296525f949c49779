/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Filling `struct ferret_meta` from an skb. Kernel structs are read with CO-RE
 * (BPF_CORE_READ); packet headers are read as raw bytes from skb->head,
 * because their layout is fixed on the wire. Only the linear part of the skb
 * is parsed: every hook ferret uses sees headers there.
 */
#ifndef FERRET_PARSE_BPF_H
#define FERRET_PARSE_BPF_H

#include <linux/types.h>
#include <bpf/bpf_helpers.h>

#include "compat.bpf.h"
#include <bpf/bpf_core_read.h>

#include "kernel_types.bpf.h"
#include "net.bpf.h"
#include "run.bpf.h"

static __always_inline void fill_dev(struct run *r, struct sk_buff *skb)
{
	struct ferret_meta *m = &r->meta;
	struct net_device *dev = BPF_CORE_READ(skb, dev);
	struct sock *sk;
	unsigned int inum = 0;

	if (dev) {
		m->ifindex = BPF_CORE_READ(dev, ifindex);
		m->mtu = BPF_CORE_READ(dev, mtu);
		/* _str: a renamed device keeps old bytes after the NUL; meta
		 * starts zeroed, so the name comes out zero-padded. */
		bpf_probe_read_kernel_str(m->ifname, sizeof(m->ifname), &dev->name);
		inum = BPF_CORE_READ(dev, nd_net.net, ns.inum);
		m->present |= FIELD_BIT(FERRET_F_IFINDEX) | FIELD_BIT(FERRET_F_IFNAME);
	}
	if (!inum) {
		/* Locally built skbs have no device yet, but have a socket. */
		sk = BPF_CORE_READ(skb, sk);
		if (sk)
			inum = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	}
	if (inum) {
		m->netns = inum;
		m->present |= FIELD_BIT(FERRET_F_NETNS);
	}
}

/*
 * The bytes of an 8-byte word up to its first NUL, the rest zeroed; `*end`
 * becomes 1 when there was a NUL. Branch-free: the lowest byte whose top
 * bit the zero-byte test sets is the first NUL (borrows only run upwards).
 */
static __always_inline __u64 until_nul(__u64 w, int *end)
{
	__u64 z = (w - 0x0101010101010101ull) & ~w & 0x8080808080808080ull;
	__u64 low = z & -z;

	*end = z != 0;
	return z ? w & ((low >> 7) - 1) : w;
}

/*
 * fill_dev through a typed pointer (tp_btf): plain loads instead of ~6
 * helper calls. The name is copied as two words and cut at its NUL, as
 * bpf_probe_read_kernel_str would.
 */
static __always_inline void fill_dev_direct(struct run *r, struct sk_buff *skb)
{
	struct ferret_meta *m = &r->meta;
	struct net_device *dev;
	struct sock *sk;
	unsigned int inum = 0;
	__u64 w0, w1;
	int end = 0;

	if (r->filled & FILLED_DEV)
		return;
	r->filled |= FILLED_DEV;
	dev = skb->dev;
	if (dev) {
		m->ifindex = dev->ifindex;
		m->mtu = dev->mtu;
		w0 = until_nul(*(__u64 *)&dev->name[0], &end);
		w1 = end ? 0 : until_nul(*(__u64 *)&dev->name[8], &end);
		*(__u64 *)&m->ifname[0] = w0;
		*(__u64 *)&m->ifname[8] = w1;
		inum = dev->nd_net.net->ns.inum;
		m->present |= FIELD_BIT(FERRET_F_IFINDEX) | FIELD_BIT(FERRET_F_IFNAME);
	}
	if (!inum) {
		sk = skb->sk;
		if (sk)
			inum = sk->__sk_common.skc_net.net->ns.inum;
	}
	if (inum) {
		m->netns = inum;
		m->present |= FIELD_BIT(FERRET_F_NETNS);
	}
}

static __always_inline void fill_task(struct run *r)
{
	struct ferret_meta *m = &r->meta;
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	m->pid = pid_tgid >> 32;
	m->tid = (__u32)pid_tgid;
	bpf_get_current_comm(m->comm, sizeof(m->comm));
	m->present |= NEED_TASK;
}

static __always_inline void set_mapped_v4(__u8 *dst, const __u8 *src)
{
	/* ::ffff:a.b.c.d; the other bytes are already zero. */
	dst[10] = 0xff;
	dst[11] = 0xff;
	__builtin_memcpy(dst + 12, src, 4);
}

/*
 * Ports and TCP flags. `off` is the transport header's offset from head;
 * `l4` points at it inside the already-read header bytes when it is there
 * (the common layouts), else it is read on its own.
 */
static __always_inline void parse_l4(struct run *r, const __u8 *l4, __u32 off)
{
	struct ferret_meta *m = &r->meta;
	__u8 buf[L4_READ_LEN];

	if (m->proto != IPPROTO_TCP && m->proto != IPPROTO_UDP && m->proto != IPPROTO_SCTP &&
	    m->proto != IPPROTO_UDPLITE)
		return;
	if (off + L4_PORTS_LEN > r->tail)
		return;
	if (!l4) {
		if (bpf_probe_read_kernel(buf, sizeof(buf), (void *)(r->head + off)))
			return;
		l4 = buf;
	}
	m->sport = ((__u16)l4[0] << 8) | l4[1];
	m->dport = ((__u16)l4[2] << 8) | l4[3];
	m->present |= FIELD_BIT(FERRET_F_SPORT) | FIELD_BIT(FERRET_F_DPORT);
	if (m->proto == IPPROTO_TCP && off + L4_READ_LEN <= r->tail) {
		m->tcpflags = l4[TCP_FLAGS_OFF];
		m->present |= FIELD_BIT(FERRET_F_TCPFLAGS);
	}
}

static __always_inline void parse_ipv4(struct run *r, const __u8 *ip, __u32 nh)
{
	struct ferret_meta *m = &r->meta;
	__u32 ihl = (ip[0] & 0xf) * 4;

	if (ihl < IPV4_MIN_HLEN || nh + IPV4_MIN_HLEN > r->tail)
		return;
	set_mapped_v4(m->saddr, ip + IPV4_SADDR_OFF);
	set_mapped_v4(m->daddr, ip + IPV4_DADDR_OFF);
	m->ttl = ip[IPV4_TTL_OFF];
	m->proto = ip[IPV4_PROTO_OFF];
	m->present |= FIELD_BIT(FERRET_F_SADDR) | FIELD_BIT(FERRET_F_DADDR) |
		      FIELD_BIT(FERRET_F_TTL) | FIELD_BIT(FERRET_F_PROTO);
	/* Later fragments carry no transport header. Constant offsets into
	 * `ip` only: the option-less header is by far the common case. */
	if (((ip[IPV4_FRAG_OFF] & IPV4_FRAG_HI_MASK) << 8 | ip[IPV4_FRAG_OFF + 1]) == 0)
		parse_l4(r, ihl == IPV4_MIN_HLEN ? ip + IPV4_MIN_HLEN : NULL, nh + ihl);
}

static __always_inline int ipv6_is_ext(__u8 nexthdr)
{
	return nexthdr == IPV6_EXT_HOPOPTS || nexthdr == IPV6_EXT_ROUTING ||
	       nexthdr == IPV6_EXT_FRAGMENT || nexthdr == IPV6_EXT_AH || nexthdr == IPV6_EXT_DSTOPTS;
}

static __always_inline void parse_ipv6(struct run *r, const __u8 *ip, __u32 nh)
{
	struct ferret_meta *m = &r->meta;
	__u8 next = ip[IPV6_NEXTHDR_OFF], ext[4];
	__u32 off = nh + IPV6_HLEN;
	int walked = 0;

	if (nh + IPV6_HLEN > r->tail)
		return;
	__builtin_memcpy(m->saddr, ip + IPV6_SADDR_OFF, 16);
	__builtin_memcpy(m->daddr, ip + IPV6_DADDR_OFF, 16);
	m->ttl = ip[IPV6_HOPLIMIT_OFF];
	m->present |= FIELD_BIT(FERRET_F_SADDR) | FIELD_BIT(FERRET_F_DADDR) |
		      FIELD_BIT(FERRET_F_TTL);
#pragma unroll
	for (int i = 0; i < IPV6_EXT_MAX; i++) {
		if (!ipv6_is_ext(next))
			break;
		/* An extension header the packet does not hold: bytes past
		 * tail are whatever an earlier packet left in the buffer. */
		if (off + sizeof(ext) > r->tail)
			return;
		if (bpf_probe_read_kernel(ext, sizeof(ext), (void *)(r->head + off)))
			return;
		if (next == IPV6_EXT_FRAGMENT) {
			/* Fragment header: a later fragment has no L4 header. */
			if (((ext[2] << 8 | ext[3]) & IPV6_FRAG_OFFSET_MASK) != 0)
				return;
			off += 8;
		} else if (next == IPV6_EXT_AH) {
			off += (ext[1] + 2) * 4;
		} else {
			off += (ext[1] + 1) * 8;
		}
		next = ext[0];
		walked = 1;
	}
	if (ipv6_is_ext(next))
		return; /* too many extension headers: the protocol stays unknown */
	m->proto = next;
	m->present |= FIELD_BIT(FERRET_F_PROTO);
	parse_l4(r, walked ? NULL : ip + IPV6_HLEN, off);
}

static __always_inline void parse_arp(struct run *r, const __u8 *arp, __u32 nh)
{
	/* Ethernet/IPv4 ARP: sender and target protocol addresses, as tcpdump's
	 * `host` matches them. */
	if (nh + ARP_ETH_IPV4_LEN > r->tail || arp[ARP_PTYPE_OFF] != (ETH_P_IP >> 8) ||
	    arp[ARP_PTYPE_OFF + 1] != (ETH_P_IP & 0xff) || arp[ARP_HLEN_OFF] != ETH_ALEN ||
	    arp[ARP_PLEN_OFF] != IPV4_ALEN)
		return;
	set_mapped_v4(r->meta.saddr, arp + ARP_SPA_OFF);
	set_mapped_v4(r->meta.daddr, arp + ARP_TPA_OFF);
	r->meta.present |= FIELD_BIT(FERRET_F_SADDR) | FIELD_BIT(FERRET_F_DADDR);
}

/* Enough for IPv4 without options or IPv6 without extension headers, plus
 * the 14 transport header bytes ferret reads. */
#define HDR_BYTES 64

static __always_inline void fill_net(struct run *r)
{
	struct ferret_meta *m = &r->meta;
	__u16 nh = r->skb_nh, mh = r->mac_off, family = r->protocol;
	__u8 hdr[HDR_BYTES];

	/* A fresh skb has network_header 0 (alloc does not mark it unset, as it
	 * does mac_header), so 0 counts as unset too. */
	if (nh == HDR_UNSET || nh == 0) {
		if (mh == HDR_UNSET)
			return;
		/* Not set yet (early receive, some drops): assume Ethernet. */
		nh = mh + ETH_HLEN;
		if (!family &&
		    !bpf_probe_read_kernel(hdr, 2, (void *)(r->head + mh + ETH_TYPE_OFF)))
			family = hdr[0] << 8 | hdr[1];
	}
	/* Without skb->protocol the bytes at the offset are not known to be a
	 * header (a socket-level skb before the IP layer built one). */
	if (!family)
		return;
	r->net_off = nh;
	if (bpf_probe_read_kernel(hdr, sizeof(hdr), (void *)(r->head + nh)))
		return;
	m->family = family;
	m->present |= FIELD_BIT(FERRET_F_FAMILY);
	if (family == ETH_P_IP)
		parse_ipv4(r, hdr, nh);
	else if (family == ETH_P_IPV6)
		parse_ipv6(r, hdr, nh);
	else if (family == ETH_P_ARP)
		parse_arp(r, hdr, nh);
}

/*
 * Fills the groups in `needs` that are not filled yet. A global (noinline,
 * non-static) function: the verifier checks it once on its own instead of
 * once per path of every caller, which keeps hook programs cheap to load.
 */
FERRET_SUBPROG int fill_meta(struct run *r, __u32 needs)
{
	struct sk_buff *skb;

	if (!r)
		return 0;
	/* Taken from meta, not passed: a tp_btf caller's skb is a typed
	 * pointer, which a global function cannot take as an integer. */
	skb = (struct sk_buff *)r->meta.skb;
	if ((needs & NEED_DEV) && !(r->filled & FILLED_DEV)) {
		r->filled |= FILLED_DEV;
		fill_dev(r, skb);
	}
	if ((needs & NEED_TASK) && !(r->filled & FILLED_TASK)) {
		r->filled |= FILLED_TASK;
		fill_task(r);
	}
	if ((needs & NEED_NET) && !(r->filled & FILLED_NET)) {
		r->filled |= FILLED_NET;
		fill_net(r);
	}
	return 0;
}

#ifdef FERRET_NO_BPF_LOOP
/* fill_meta() on the state of `level` (compat.bpf.h: verified once). */
__noinline int fill_meta_at(__u32 level, __u32 needs)
{
	struct run *r = run_of_level(level);

	return r ? fill_meta(r, needs) : 0;
}
#define FILL_META(r, level, needs) fill_meta_at(level, needs)
#else
#define FILL_META(r, level, needs) fill_meta(r, needs)
#endif

#endif
