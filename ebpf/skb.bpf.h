/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The sk_buff fields every event needs, read with ONE bpf_probe_read_kernel
 * of the span that holds them instead of one helper call per field: each
 * call costs about as much as the rest of a non-matching event put together.
 *
 * Offsets still come from CO-RE relocations, so the span follows the running
 * kernel's layout. The verifier sees the relocated offsets as constants and
 * drops whichever branch of SKB_GET does not apply; a field that a kernel
 * places outside the span is read on its own.
 */
#ifndef FERRET_SKB_BPF_H
#define FERRET_SKB_BPF_H

#include <linux/types.h>
#include <bpf/bpf_helpers.h>

#include "compat.bpf.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "kernel_types.bpf.h"
#include "run.bpf.h"

#define SKB_SPAN 128 /* bytes copied; 6.18 needs 112 (len .. data) */

#define SKB_OFF(f) ((__u32)bpf_core_field_offset(struct sk_buff, f))

/* Field `f` (of C type `type`) from the copy at `base`, else from the skb. */
#define SKB_GET(type, f)                                                                           \
	({                                                                                         \
		__u32 __off = SKB_OFF(f);                                                          \
		type __v;                                                                          \
		if (__off >= base && __off + sizeof(type) <= base + span)                          \
			__v = *(type *)((__u8 *)chunk + (__off - base));                           \
		else                                                                               \
			__v = BPF_CORE_READ(skb, f);                                               \
		__v;                                                                               \
	})

/*
 * Fills len, mark and the header offsets into `r`. Global, like the other
 * heavy helpers, so the verifier checks it once (see fill_meta).
 */
FERRET_SUBPROG int read_skb(struct run *r)
{
	/* u64 elements: 8-aligned, and the base is rounded down to 8 below, so
	 * every field keeps its natural alignment (the verifier insists on
	 * aligned stack access). */
	__u64 chunk[SKB_SPAN / 8];
	struct sk_buff *skb;
	__u32 base, span;

	if (!r)
		return 0;
	skb = (struct sk_buff *)r->meta.skb;
	base = SKB_OFF(len) & ~7u;
	span = SKB_OFF(data) + sizeof(void *) - base;
	if (span > SKB_SPAN)
		span = SKB_SPAN;
	if (bpf_probe_read_kernel(chunk, span, (__u8 *)skb + base))
		return -1;
	r->meta.len = SKB_GET(unsigned int, len);
	r->meta.mark = SKB_GET(__u32, mark);
	r->protocol = bpf_ntohs(SKB_GET(__be16, protocol));
	r->skb_nh = SKB_GET(__u16, network_header);
	r->mac_off = SKB_GET(__u16, mac_header);
	r->tail = SKB_GET(unsigned int, tail);
	r->head = (__u64)SKB_GET(unsigned char *, head);
	r->data_off = (__u64)SKB_GET(unsigned char *, data) - r->head;
	r->dev_type = 0xffff; /* read only when a pcap-filter part needs it */
	r->meta.present |= FIELD_BIT(FERRET_F_LEN) | FIELD_BIT(FERRET_F_MARK);
	return 0;
}

/*
 * The same fields through a typed pointer (tp_btf): plain loads, which the
 * verifier turns into fault-safe ones; CO-RE still relocates the offsets.
 */
static __always_inline void read_skb_direct(struct run *r, struct sk_buff *skb)
{
	r->meta.len = skb->len;
	r->meta.mark = skb->mark;
	r->protocol = bpf_ntohs(skb->protocol);
	r->skb_nh = skb->network_header;
	r->mac_off = skb->mac_header;
	r->tail = skb->tail;
	r->head = (__u64)skb->head;
	r->data_off = (__u64)skb->data - r->head;
	r->dev_type = skb->dev ? skb->dev->type : 0;
	r->meta.present |= FIELD_BIT(FERRET_F_LEN) | FIELD_BIT(FERRET_F_MARK);
}

#ifdef FERRET_NO_BPF_LOOP
/* read_skb() on the state of `level` (compat.bpf.h: verified once). */
__noinline int read_skb_at(__u32 level)
{
	struct run *r = run_of_level(level);

	return r ? read_skb(r) : 0;
}
#define READ_SKB(r, level) read_skb_at(level)
#else
#define READ_SKB(r, level) read_skb(r)
#endif

#endif
