/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Per-event state shared by the parser, the rule loop and delivery. It lives
 * on the hook program's stack (never in a per-CPU scratch map) because a
 * softirq can interrupt a program on the same CPU and run another one.
 */
#ifndef FERRET_RUN_BPF_H
#define FERRET_RUN_BPF_H

#include <linux/types.h>

#include "ferret_abi.h"

#define FIELD_BIT(f) (1u << (f))

/* Parse groups: each is read only if some rule needs one of its fields. */
#define NEED_DEV (FIELD_BIT(FERRET_F_IFNAME) | FIELD_BIT(FERRET_F_IFINDEX) | FIELD_BIT(FERRET_F_NETNS))
#define NEED_TASK (FIELD_BIT(FERRET_F_PID) | FIELD_BIT(FERRET_F_COMM))
#define NEED_NET                                                                                   \
	(FIELD_BIT(FERRET_F_SADDR) | FIELD_BIT(FERRET_F_DADDR) | FIELD_BIT(FERRET_F_SPORT) |      \
	 FIELD_BIT(FERRET_F_DPORT) | FIELD_BIT(FERRET_F_PROTO) | FIELD_BIT(FERRET_F_FAMILY) |     \
	 FIELD_BIT(FERRET_F_TCPFLAGS) | FIELD_BIT(FERRET_F_TTL))
#define NEED_ALL (NEED_DEV | NEED_TASK | NEED_NET)

/* Bits of run.filled: the parse groups done so far. */
#define FILLED_DEV 1
#define FILLED_TASK 2
#define FILLED_NET 4

#define HDR_UNSET 0xffff /* network_header / mac_header before they are set */

struct run {
	struct ferret_meta meta;
	__u64 tracked;   /* bits read from the track map */
	__u64 matched;   /* rules whose filter (or tracking) matched */
	__u64 deliver;   /* matched, deliver-action, not rate-limited */
	__u64 new_track; /* TRACK rules that matched this time */
	__u64 head;      /* skb->head: packet offsets below are from here */
	__u32 hook;
	__u32 nrules;
	__u32 wakeup_bytes;
	__u32 actions;   /* union of the actions of the delivering rules */
	__u32 snaplen;   /* largest snaplen among delivering CAPTURE rules */
	__u32 tail;      /* skb->tail, an offset from head */
	__u32 data_off;  /* skb->data, an offset from head */
	__u16 dev_type;  /* skb->dev->type (ARPHRD_*), 0xffff if not read */
	__u16 pcap_for;  /* meta.pcap holds the verdicts of this slot + 1 (0: none) */
	__u16 protocol;  /* skb->protocol, host order */
	__u16 skb_nh;    /* skb->network_header as read */
	__u16 net_off;   /* effective network header offset, HDR_UNSET if none */
	__u16 mac_off;   /* mac header offset, HDR_UNSET if none */
	__u8 filled;     /* parse groups done: FILLED_DEV | FILLED_TASK | FILLED_NET */
	__u8 track_loaded;
	__u8 any_track;  /* some active rule tracks, on any hook */
	__u8 pad;
};

#endif
