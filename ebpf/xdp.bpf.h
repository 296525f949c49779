/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * `on xdp`: an XDP program runs before any skb exists, so fentry on it sees
 * a `struct xdp_buff`. Its packet bytes (data .. data_end, Ethernet first)
 * are set up here the way read_skb sets up an skb's, so the same parser,
 * pcap-filter interpreter and capture read them; the device comes from the
 * receive queue and fills the DEV group at once, so fill_dev never reads
 * the buffer as an skb.
 */
#ifndef FERRET_XDP_BPF_H
#define FERRET_XDP_BPF_H

#include <linux/types.h>
#include <bpf/bpf_helpers.h>

#include "compat.bpf.h"
#include <bpf/bpf_core_read.h>

#include "kernel_types.bpf.h"
#include "run.bpf.h"

#define XDP_ARPHRD_ETHER 1

static __always_inline void read_xdp(struct run *r, __u64 addr)
{
	struct xdp_buff *xdp = (struct xdp_buff *)addr;
	__u64 data = (__u64)BPF_CORE_READ(xdp, data);
	__u64 end = (__u64)BPF_CORE_READ(xdp, data_end);
	struct net_device *dev = BPF_CORE_READ(xdp, rxq, dev);
	struct ferret_meta *m = &r->meta;
	unsigned int inum;

	r->head = data;
	r->data_off = 0;
	r->mac_off = 0;
	/* Unset: fill_net takes the Ethernet type from the frame itself. */
	r->skb_nh = HDR_UNSET;
	r->protocol = 0;
	r->dev_type = XDP_ARPHRD_ETHER;
	r->tail = end > data && end - data < HDR_UNSET ? (__u32)(end - data) : 0;
	m->len = r->tail;
	m->present |= FIELD_BIT(FERRET_F_LEN);
	r->filled |= FILLED_DEV;
	if (!dev)
		return;
	m->ifindex = BPF_CORE_READ(dev, ifindex);
	m->mtu = BPF_CORE_READ(dev, mtu);
	bpf_probe_read_kernel_str(m->ifname, sizeof(m->ifname), &dev->name);
	m->present |= FIELD_BIT(FERRET_F_IFINDEX) | FIELD_BIT(FERRET_F_IFNAME);
	inum = BPF_CORE_READ(dev, nd_net.net, ns.inum);
	if (inum) {
		m->netns = inum;
		m->present |= FIELD_BIT(FERRET_F_NETNS);
	}
}

#endif
