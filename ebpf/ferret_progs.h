/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Program entry points; included once, at the end of ferret.bpf.c. Userspace
 * looks programs up by these function names.
 *
 * tp_btf and raw_tp contexts are both an array of u64 arguments in
 * TP_PROTO order, so each trigger has one body that takes the array.
 * Tracepoint programs put their hook id in func_id: that is the id
 * engine/src/funcs.rs names them by.
 */
#ifndef FERRET_PROGS_H
#define FERRET_PROGS_H

static __always_inline int on_drop(void *ctx, const __u64 *args, const int btf)
{
	__u32 reason = 0;
	int has_reason = 0;

	/*
	 * `reason` (argument 2) came in 5.17 with the enum. On older kernels
	 * this branch is a constant false after relocation, so the verifier
	 * never sees the access beyond the real arguments.
	 */
	if (bpf_core_type_exists(enum skb_drop_reason)) {
		reason = (__u32)args[2];
		has_reason = 1;
	}
	return handle(ctx, btf, (struct sk_buff *)args[0], args[0], FERRET_HOOK_DROP,
		      FERRET_HOOK_DROP, reason, has_reason, args[1]);
}

static __always_inline int on_skb(void *ctx, const __u64 *args, __u32 hook, const int btf)
{
	return handle(ctx, btf, (struct sk_buff *)args[0], args[0], hook, hook, 0, 0, 0);
}

SEC("tp_btf/kfree_skb")
int ferret_drop_btf(__u64 *ctx)
{
	return on_drop(ctx, ctx, 1);
}

SEC("raw_tp/kfree_skb")
int ferret_drop_raw(struct bpf_raw_tracepoint_args *ctx)
{
	return on_drop(ctx, ctx->args, 0);
}

#define SKB_TRIGGER(name, tp, hook)                                                                \
	SEC("tp_btf/" tp)                                                                          \
	int ferret_##name##_btf(__u64 *ctx)                                                        \
	{                                                                                          \
		return on_skb(ctx, ctx, hook, 1);                                                  \
	}                                                                                          \
	SEC("raw_tp/" tp)                                                                          \
	int ferret_##name##_raw(struct bpf_raw_tracepoint_args *ctx)                               \
	{                                                                                          \
		return on_skb(ctx, ctx->args, hook, 0);                                            \
	}

SKB_TRIGGER(free, "consume_skb", FERRET_HOOK_FREE)
SKB_TRIGGER(recv, "netif_receive_skb", FERRET_HOOK_RECV)
SKB_TRIGGER(xmit, "net_dev_start_xmit", FERRET_HOOK_XMIT)
SKB_TRIGGER(queue, "net_dev_queue", FERRET_HOOK_QUEUE)

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
	if (!pos || *pos > 4)
		return 0;
	if (bpf_probe_read_kernel(&skb, sizeof(skb), &ctx->args[*pos]))
		return 0;
	return handle_skb(ctx, skb, hook, hook, 0, 0, 0);
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

/*
 * Differential-test entry (BPF_PROG_TEST_RUN): runs the hooks' interpreter
 * on rule slot args[0] against the meta in test_meta. Returns the verdict
 * (0/1), or 2 when the slot does not exist.
 */
SEC("raw_tp")
int ferret_test_filter(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 zero = 0, slot = (__u32)ctx->args[0];
	const struct ferret_meta *meta = bpf_map_lookup_elem(&test_meta, &zero);
	const struct ferret_rule *rule = bpf_map_lookup_elem(&rules, &slot);

	if (!meta || !rule)
		return 2;
	return run_filter(rule, meta);
}

/*
 * Aggregation test entry (BPF_PROG_TEST_RUN): counts the meta in test_meta
 * as a match of the rule in slot args[0] would be counted. In
 * FERRET_TEST_SLOT every count takes the 120-byte key instead, so tests
 * compare the dense and compact paths with it. Returns aggregate()'s
 * failures, or 2 without the slot.
 */
SEC("raw_tp")
int ferret_test_count(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 zero = 0, slot = (__u32)ctx->args[0];
	const struct ferret_meta *meta = bpf_map_lookup_elem(&test_meta, &zero);
	const struct ferret_rule *rule = bpf_map_lookup_elem(&rules, &slot);
	struct run r = {};

	if (!meta || !rule)
		return 2;
	__builtin_memcpy(&r.meta, meta, sizeof(r.meta));
	if (slot == FERRET_TEST_SLOT)
		return (rule->actions & FERRET_ACT_COUNT) ?
			       count_hashed(&r.meta, slot, rule->count_fields) :
			       0;
	return aggregate(&r, slot, rule->actions, rule->count_fields, rule->hist_field);
}

#endif
