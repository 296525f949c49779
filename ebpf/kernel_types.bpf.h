/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The few kernel types ferret reads, written by hand instead of a generated
 * vmlinux.h: only the fields used here, in any order. Every record carries
 * preserve_access_index, so the loader (aya) relocates each field access to
 * the running kernel's real offset from its BTF; struct layouts here never
 * need to match any particular kernel.
 *
 * UAPI packet headers are not here: their layout is fixed on the wire, so the
 * parser reads them as raw bytes.
 */
#ifndef FERRET_KERNEL_TYPES_BPF_H
#define FERRET_KERNEL_TYPES_BPF_H

#include <linux/types.h>

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

struct ns_common {
	unsigned int inum;
};

struct net {
	struct ns_common ns;
};

/* With CONFIG_NET_NS (every distribution kernel) this holds the netns. */
typedef struct {
	struct net *net;
} possible_net_t;

struct net_device {
	char name[16];
	possible_net_t nd_net;
	int ifindex;
	unsigned int mtu;
	unsigned short type;
};

/* What an XDP program's context is in the kernel (fentry on XDP sees it). */
struct xdp_rxq_info {
	struct net_device *dev;
};

struct xdp_buff {
	void *data;
	void *data_end;
	struct xdp_rxq_info *rxq;
};

struct sock_common {
	possible_net_t skc_net;
};

struct sock {
	struct sock_common __sk_common;
};

/*
 * On 64-bit kernels `sk_buff_data_t` is an offset from `head`
 * (NET_SKBUFF_DATA_USES_OFFSET), which is what `tail` is read as.
 */
struct sk_buff {
	struct net_device *dev;
	struct sock *sk;
	unsigned int len;
	unsigned int data_len;
	__u32 mark;
	__be16 protocol;
	__u16 transport_header;
	__u16 network_header;
	__u16 mac_header;
	unsigned int tail;
	unsigned char *head;
	unsigned char *data;
};

/*
 * Packet bytes viewed through kernel types (see direct.bpf.h): only
 * whole-byte members, because the verifier checks every load against the
 * kernel's own definition of the type. ethhdr serves as 14 plain bytes.
 */
struct ethhdr {
	unsigned char h_dest[6];
	unsigned char h_source[6];
	__be16 h_proto;
};

struct udphdr {
	__be16 source;
	__be16 dest;
};

#pragma clang attribute pop

/*
 * Only the type's existence matters: it appeared in 5.17 together with the
 * `reason` argument of the kfree_skb tracepoint, so the programs read that
 * argument only where bpf_core_type_exists() says the enum is there.
 */
enum skb_drop_reason {
	SKB_DROP_REASON_NOT_SPECIFIED = 2,
};

#endif
