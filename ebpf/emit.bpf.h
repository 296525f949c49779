/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Delivery: one ring buffer record per event, whatever the number of rules
 * that asked for it (`rules` says which). Every record that cannot be written
 * is counted in `ring_full` of each rule that wanted it.
 */
#ifndef FERRET_EMIT_BPF_H
#define FERRET_EMIT_BPF_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "compat.bpf.h"
#include <bpf/bpf_core_read.h>

#include "kernel_types.bpf.h"
#include "maps.bpf.h"
#include "net.bpf.h"
#include "run.bpf.h"

/* emit()'s stack_id when the event carries no stack. */
#define NO_STACK -1

/*
 * bpf_ringbuf_reserve needs a constant size, so captured bytes go into one of
 * these size classes; cap_len in the record is the exact count, the rest of
 * the class is slack the reader ignores.
 */
#define CAP_CLASS_0 64
#define CAP_CLASS_1 256
#define CAP_CLASS_2 512
#define CAP_CLASS_3 1024
#define CAP_CLASS_4 FERRET_MAX_SNAPLEN

/* Counts the event (emitted or lost to a full ring) for each rule in `mask`. */
static __always_inline void bump(__u64 mask, int ring_full)
{
	struct ferret_counters *cnt;
	__u32 key;

	/* The key is a copy: the loop index must stay in a register, where
	 * the verifier keeps its bounds (a spilled u32 comes back unbounded). */
#pragma clang loop unroll(disable)
	for (__u32 idx = 0; idx < FERRET_MAX_RULES; idx++) {
		if (!(mask >> idx))
			break;
		if (!((mask >> idx) & 1))
			continue;
		key = idx;
		cnt = bpf_map_lookup_elem(&counters, &key);
		if (!cnt)
			continue;
		if (ring_full)
			cnt->ring_full++;
		else
			cnt->emitted++;
	}
}

static __always_inline __u64 wakeup_flags(const struct run *r)
{
	/* Batch wakeups: userspace also polls on a short timer, so a record
	 * that does not wake it is read soon anyway. */
	if (!r->wakeup_bytes)
		return 0;
	if (bpf_ringbuf_query(&ring, BPF_RB_AVAIL_DATA) >= r->wakeup_bytes)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

/* Returns 0 on success, -1 when the ring had no room. */
static __always_inline int emit_sized(struct run *r, __s32 stack_id, __u32 cap_l2, __u64 src,
				      __u32 wire, __u32 want, const __u32 class_len)
{
	struct ferret_event *rec;
	__u32 cap = want;

	rec = bpf_ringbuf_reserve(&ring, sizeof(*rec) + class_len, 0);
	if (!rec)
		return -1;
	rec->kind = FERRET_EVENT_PACKET;
	rec->hook = r->hook;
	rec->rules = r->deliver;
	rec->stack_id = stack_id;
	rec->cap_l2 = cap_l2;
	rec->wire_len = wire;
	__builtin_memcpy(&rec->meta, &r->meta, sizeof(rec->meta));
	if (class_len) {
		if (cap > class_len)
			cap = class_len;
		/* Once more after a barrier: clang folds the clamp above into a
		 * form the 6.1 verifier cannot bound ("unbounded memory access"). */
		barrier_var(cap);
		if (cap > class_len)
			cap = class_len;
		if (bpf_probe_read_kernel((void *)(rec + 1), cap, (void *)src))
			cap = 0;
	} else {
		cap = 0;
	}
	rec->cap_len = cap;
	bpf_ringbuf_submit(rec, wakeup_flags(r));
	return 0;
}

/*
 * Where captured bytes start and how many the linear data holds; `wire` is
 * the whole packet's length from that start.
 */
static __always_inline __u32 capture_source(const struct run *r, __u64 *src, __u32 *l2,
					    __u32 *wire)
{
	struct sk_buff *skb = (struct sk_buff *)r->meta.skb;
	__u32 start, snap = r->snaplen;
	__u64 data;
	__s64 w;

	/* The MAC header is kept only when it is Ethernet-sized, so the link
	 * type a capture file declares (Ethernet or raw IP) is always right. */
	if (r->mac_off != HDR_UNSET && r->net_off != HDR_UNSET &&
	    r->net_off == r->mac_off + ETH_HLEN) {
		start = r->mac_off;
		*l2 = 1;
	} else if (r->net_off != HDR_UNSET) {
		start = r->net_off;
		*l2 = 0;
	} else {
		return 0;
	}
	if (start >= r->tail)
		return 0;
	*src = r->head + start;
	/* skb->len counts from skb->data, which moves as layers pull headers. */
	/* An XDP buffer's data is its head (read_xdp); the pointer is no skb. */
	data = r->hook == FERRET_HOOK_XDP ? r->head : (__u64)BPF_CORE_READ(skb, data);
	w = (__s64)r->meta.len + (__s64)(data - r->head) - (__s64)start;
	*wire = w > 0 ? (__u32)w : 0;
	if (snap > FERRET_MAX_SNAPLEN)
		snap = FERRET_MAX_SNAPLEN;
	return r->tail - start < snap ? r->tail - start : snap;
}

/* Global for the same reason as fill_meta: verified once. */
FERRET_SUBPROG int emit(struct run *r, __s32 stack_id)
{
	__u32 want = 0, l2 = 0, wire = 0;
	__u64 src = 0;

	if (!r)
		return -1;
	if (r->actions & FERRET_ACT_CAPTURE)
		want = capture_source(r, &src, &l2, &wire);
	if (!want)
		return emit_sized(r, stack_id, l2, src, 0, 0, 0);
	if (want <= CAP_CLASS_0)
		return emit_sized(r, stack_id, l2, src, wire, want, CAP_CLASS_0);
	if (want <= CAP_CLASS_1)
		return emit_sized(r, stack_id, l2, src, wire, want, CAP_CLASS_1);
	if (want <= CAP_CLASS_2)
		return emit_sized(r, stack_id, l2, src, wire, want, CAP_CLASS_2);
	if (want <= CAP_CLASS_3)
		return emit_sized(r, stack_id, l2, src, wire, want, CAP_CLASS_3);
	return emit_sized(r, stack_id, l2, src, wire, want, CAP_CLASS_4);
}

#ifdef FERRET_NO_BPF_LOOP
/* emit() on the state of `level` (compat.bpf.h: verified once). */
__noinline int emit_at(__u32 level, __s32 stack_id)
{
	struct run *r = run_of_level(level);

	return r ? emit(r, stack_id) : -1;
}
#define EMIT(r, level, stack_id) emit_at(level, stack_id)
#else
#define EMIT(r, level, stack_id) emit(r, stack_id)
#endif

/* `level`: the state's level in run_levels, where that map is used. */
static __always_inline void deliver(void *ctx, struct run *r, __u32 level)
{
	__s32 stack_id = NO_STACK;

	/* Here, not in emit(): the helper needs the program's own ctx. */
	if (r->actions & FERRET_ACT_STACK)
		stack_id = bpf_get_stackid(ctx, &stacks, 0);
	bump(r->deliver, EMIT(r, level, stack_id) != 0);
}

#endif
