// SPDX-License-Identifier: GPL-2.0
/*
 * ferret's kernel side: generic programs that interpret rules from maps.
 * This file holds the main object's entry points (loaded by aya); the body
 * they share with the function object is handle.bpf.h. Userspace looks
 * programs up by these function names.
 *
 * Every built-in trigger has a tp_btf program and a raw_tp twin (the loader
 * tries tp_btf first); both call handle(). Rules change by map writes only.
 * tp_btf and raw_tp contexts are both an array of u64 arguments in
 * TP_PROTO order, so each trigger has one body that takes the array.
 * Tracepoint programs put their hook id in func_id: that is the id
 * engine/core/src/hooks.rs names them by.
 *
 * Built twice (engine/kernel/build.rs): the default build hands long
 * filter programs to bpf_loop (5.17+); the build with FERRET_NO_BPF_LOOP
 * runs on 5.10+ (see compat.bpf.h), and the loader picks by probing.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "ferret_abi.h"
#include "kernel_types.bpf.h"
#include "maps.bpf.h"
#include "handle.bpf.h"
#include "cbpf.bpf.h"
#include "abi_types.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Argument positions of the kfree_skb tracepoint (skb, location, reason). */
#define KFREE_SKB_ARG_SKB 0
#define KFREE_SKB_ARG_LOCATION 1
#define KFREE_SKB_ARG_REASON 2
/* The skb of the other built-in tracepoints. */
#define SKB_TP_ARG_SKB 0

static __always_inline int on_drop(void *ctx, const __u64 *args, __u32 hook, const int btf)
{
	struct hook_call call = {
		.ctx = ctx,
		.skb = (struct sk_buff *)args[KFREE_SKB_ARG_SKB],
		.skb_addr = args[KFREE_SKB_ARG_SKB],
		.location = args[KFREE_SKB_ARG_LOCATION],
		.hook = hook,
		.func_id = hook,
	};

	/*
	 * `reason` came in 5.17 with the enum. On older kernels this branch
	 * is a constant false after relocation, so the verifier never sees
	 * the access beyond the real arguments.
	 */
	if (bpf_core_type_exists(enum skb_drop_reason)) {
		call.reason = (__u32)args[KFREE_SKB_ARG_REASON];
		call.has_reason = 1;
	}
	return handle(&call, btf);
}

static __always_inline int on_skb(void *ctx, const __u64 *args, __u32 hook, const int btf)
{
	struct hook_call call = {
		.ctx = ctx,
		.skb = (struct sk_buff *)args[SKB_TP_ARG_SKB],
		.skb_addr = args[SKB_TP_ARG_SKB],
		.hook = hook,
		.func_id = hook,
	};

	return handle(&call, btf);
}

/*
 * One built-in trigger: programs ferret_<stem>_btf and ferret_<stem>_raw on
 * tracepoint `tp`, for hook FERRET_HOOK_<HOOK>. The same table is
 * engine/core/src/hooks.rs's TRIGGERS; the abi_btf test compares them.
 */
#define TRIGGER(stem, HOOK, tp, body)                                                              \
	SEC("tp_btf/" tp)                                                                          \
	int ferret_##stem##_btf(__u64 *ctx)                                                        \
	{                                                                                          \
		return body(ctx, ctx, FERRET_HOOK_##HOOK, 1);                                      \
	}                                                                                          \
	SEC("raw_tp/" tp)                                                                          \
	int ferret_##stem##_raw(struct bpf_raw_tracepoint_args *ctx)                               \
	{                                                                                          \
		return body(ctx, ctx->args, FERRET_HOOK_##HOOK, 0);                                \
	}

TRIGGER(drop, DROP, "kfree_skb", on_drop)
TRIGGER(free, FREE, "consume_skb", on_skb)
TRIGGER(recv, RECV, "netif_receive_skb", on_skb)
TRIGGER(xmit, XMIT, "net_dev_start_xmit", on_skb)
TRIGGER(queue, QUEUE, "net_dev_queue", on_skb)

/*
 * `tp CAT:NAME` slots. The skb's argument position comes from tp_slot_arg.
 * It is read with bpf_probe_read_kernel rather than a ctx load: the kernel
 * refuses to attach a raw_tp program whose ctx loads reach past the
 * tracepoint's last argument, and a variable index would count as reaching
 * the farthest one.
 */
static __always_inline int tp_slot(struct bpf_raw_tracepoint_args *ctx, __u32 slot)
{
	__u32 hook = FERRET_HOOK_TP0 + slot;
	__u64 skb = 0;
	__u32 *pos;

	if (!hook_config(hook))
		return 0;
	pos = bpf_map_lookup_elem(&tp_slot_arg, &slot);
	if (!pos || *pos > FERRET_TP_SKB_ARG_MAX)
		return 0;
	if (bpf_probe_read_kernel(&skb, sizeof(skb), &ctx->args[*pos]))
		return 0;
	return handle_skb(ctx, skb, hook, hook);
}

#define TP_SLOT(k)                                                                                 \
	SEC("raw_tp")                                                                              \
	int ferret_tp_slot##k(struct bpf_raw_tracepoint_args *ctx)                                 \
	{                                                                                          \
		return tp_slot(ctx, k);                                                            \
	}

TP_SLOT(0)
TP_SLOT(1)
TP_SLOT(2)
TP_SLOT(3)
TP_SLOT(4)
TP_SLOT(5)
TP_SLOT(6)
TP_SLOT(7)

/* What the test entries return when rule slot args[0] does not exist. */
#define TEST_NO_SLOT 2

/*
 * Differential-test entry (BPF_PROG_TEST_RUN): runs the hooks' interpreter
 * on rule slot args[0] against the meta in test_meta. Returns the verdict
 * (0/1), or TEST_NO_SLOT.
 */
SEC("raw_tp")
int ferret_test_filter(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 zero = 0, slot = (__u32)ctx->args[0];
	const struct ferret_meta *meta = bpf_map_lookup_elem(&test_meta, &zero);
	const struct ferret_rule *rule = bpf_map_lookup_elem(&rules, &slot);

	if (!meta || !rule)
		return TEST_NO_SLOT;
	return run_filter(rule, meta);
}

/*
 * Aggregation test entry (BPF_PROG_TEST_RUN): counts the meta in test_meta
 * as a match of the rule in slot args[0] would be counted. In
 * FERRET_TEST_SLOT every count takes the 120-byte key instead, so tests
 * compare the dense and compact paths with it. Returns aggregate()'s
 * failures, or TEST_NO_SLOT.
 */
SEC("raw_tp")
int ferret_test_count(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 zero = 0, slot = (__u32)ctx->args[0];
	const struct ferret_meta *meta = bpf_map_lookup_elem(&test_meta, &zero);
	const struct ferret_rule *rule = bpf_map_lookup_elem(&rules, &slot);
	struct run r = {};

	if (!meta || !rule)
		return TEST_NO_SLOT;
	__builtin_memcpy(&r.meta, meta, sizeof(r.meta));
	if (slot == FERRET_TEST_SLOT)
		return (rule->actions & FERRET_ACT_COUNT) ?
			       count_hashed(&r.meta, slot, rule->count_fields) :
			       0;
	return aggregate(&r, slot, rule->actions, rule->count_fields, rule->hist_field);
}

/*
 * Classic BPF test entry (BPF_PROG_TEST_RUN): runs the pcap program in
 * pcap_progs slot args[0] over the frame in cbpf_test_frame, through the
 * same cbpf_run the hooks are to call, and returns its `ret` value (0 for
 * a missing slot or frame, and for an empty slot).
 */
SEC("raw_tp")
int ferret_test_cbpf(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 zero = 0, slot = (__u32)ctx->args[0], caplen;
	const struct ferret_cbpf_frame *frame = bpf_map_lookup_elem(&cbpf_test_frame, &zero);
	const void *data;
	__u64 pkt = 0;

	if (!frame)
		return 0;
	caplen = frame->caplen;
	if (caplen > FERRET_CBPF_TEST_BYTES)
		caplen = FERRET_CBPF_TEST_BYTES;
	/*
	 * Hooks hold the packet's address as a number (skb->head plus an
	 * offset); the frame's map address becomes one by a read, since the
	 * verifier will not pass a pointer where a number is declared.
	 */
	data = frame->data;
	if (bpf_probe_read_kernel(&pkt, sizeof(pkt), &data))
		return 0;
	return cbpf_run(slot, pkt, caplen, frame->wirelen);
}
