/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The body every hook program shares: the hook's pre-check, the per-event
 * state, the parse the rules need, the rule loop, tracking and delivery.
 * Both objects (ferret.bpf.c, ferret_func.bpf.c) build their entry points
 * on handle() and handle_skb().
 */
#ifndef FERRET_HANDLE_BPF_H
#define FERRET_HANDLE_BPF_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "kernel_types.bpf.h"
#include "maps.bpf.h"
#include "run.bpf.h"
#include "skb.bpf.h"
#include "xdp.bpf.h"
#include "parse.bpf.h"
#include "direct.bpf.h"
#include "guard.bpf.h"
#include "interp.bpf.h"
#include "emit.bpf.h"
#include "agg.bpf.h"
#include "rules.bpf.h"

/*
 * What a hook program knows about one call. Built on the program's stack
 * and read by always-inline code only, so the compiler keeps its members in
 * registers (constants stay constants) and it costs no stack.
 */
struct hook_call {
	void *ctx;           /* the program's own context (bpf_get_stackid) */
	struct sk_buff *skb; /* typed pointer (tp_btf), else NULL */
	__u64 skb_addr;
	__u64 location; /* drop: the address that freed the skb */
	__u32 hook;
	__u32 func_id; /* tracepoint programs: their hook id; functions: theirs */
	__u32 reason;
	int has_reason;
	__u16 prog_at; /* tc/XDP programs: FERRET_AT_ENTER or FERRET_AT_LEAVE */
	__s32 ret;     /* leaving a tc/XDP program: its return value */
	int xdp;       /* skb_addr is a struct xdp_buff (read_xdp), not an skb */
};

/* The config, or NULL when no rule listens on `hook`: the cheap early exit. */
static __always_inline const struct ferret_config *hook_config(__u32 hook)
{
	__u32 zero = 0;
	const struct ferret_config *cfg = bpf_map_lookup_elem(&config, &zero);

	if (!cfg || !(cfg->hooks & (1u << hook)))
		return NULL;
	return cfg;
}

/* Whether `needs` asks for a parse group that is not filled yet. */
static __always_inline int needs_more(const struct run *r, __u32 needs)
{
	__u8 groups = ((needs & NEED_DEV) ? FILLED_DEV : 0) |
		      ((needs & NEED_TASK) ? FILLED_TASK : 0) | ((needs & NEED_NET) ? FILLED_NET : 0);

	return (groups & ~r->filled) != 0;
}

/*
 * A call the pre-check let through: every rule against it. `btf` is a
 * compile-time constant: 1 when `call->skb` is a typed pointer (tp_btf),
 * whose fields are then read with plain loads (the JIT makes each a
 * fault-safe load, ~1 ns) instead of helper calls (~25 ns each); 0 when
 * only the address is known (raw_tp, kprobes).
 */
static __always_inline int handle_rules(const struct hook_call *call, const int btf,
					const struct ferret_config *cfg)
{
	struct sk_buff *skb = call->skb;
	/* Read up front: tested through `call` below, clang keeps an early
	 * dead store of meta.present (one more instruction per program). */
	int has_reason = call->has_reason;
	__u32 nrules;
#ifdef FERRET_NO_BPF_LOOP
	struct run_levels *levels = run_levels_here();
	struct run *r;
	__u32 level;

	if (!levels)
		return 0;
	level = levels->depth;
	if (level >= RUN_LEVELS)
		return 0;
	levels->depth = level + 1;
	r = run_at(levels, level);
	__builtin_memset(r, 0, sizeof(*r));
#else
	struct run state = {};
	struct run *r = &state;
	const __u32 level = 0;
#endif

	nrules = cfg->nrules < FERRET_MAX_RULES ? cfg->nrules : FERRET_MAX_RULES;
	r->hook = call->hook;
	r->nrules = nrules;
	r->wakeup_bytes = cfg->wakeup_bytes;
	r->net_off = HDR_UNSET;
	r->mac_off = HDR_UNSET;
	r->meta.skb = call->skb_addr;
	r->meta.location = call->location;
	r->meta.cpu = bpf_get_smp_processor_id();
	r->meta.reason = call->reason;
	r->meta.func_id = call->func_id;
	r->meta.prog_at = call->prog_at;
	if (call->prog_at == FERRET_AT_LEAVE)
		r->meta.location = (__u32)call->ret;
	/* Every program names its source in func_id (engine/core/src/hooks.rs). */
	r->meta.present = FIELD_BIT(FERRET_F_CPU) | FIELD_BIT(FERRET_F_FUNC);
	if (has_reason)
		r->meta.present |= FIELD_BIT(FERRET_F_REASON);
	if (btf) {
		read_skb_direct(r, skb);
		if (cfg->needs & NEED_DEV)
			fill_dev_direct(r, skb);
		if (cfg->needs & NEED_NET)
			fill_net_direct(r);
	} else if (call->xdp) {
		read_xdp(r, call->skb_addr);
	} else {
		READ_SKB(r, level);
	}
	if (needs_more(r, cfg->needs))
		FILL_META(r, level, cfg->needs);

	run_rules(r, level);

	if (r->new_track || r->any_track)
		update_track(r);
	if (r->deliver) {
		/* Userspace prints every field, whatever the filters read. */
		if (btf) {
			fill_dev_direct(r, skb);
			if (!(r->filled & FILLED_NET))
				fill_net_direct(r);
		}
		FILL_META(r, level, NEED_ALL);
		if (!r->meta.ts_ns)
			r->meta.ts_ns = bpf_ktime_get_ns();
		deliver(call->ctx, r, level);
	}
#ifdef FERRET_NO_BPF_LOOP
	levels->depth = level;
#endif
	return 0;
}

/*
 * The body of every hook. The pre-check comes before anything else (the
 * per-event state above is 240 bytes to zero): most calls of a busy hook
 * are turned away there.
 */
static __always_inline int handle(const struct hook_call *call, const int btf)
{
	const struct ferret_config *cfg = hook_config(call->hook);

	if (!cfg || !call->skb_addr)
		return 0;
	/* The slot of a built-in hook is its id (FERRET_GUARD_FUNC and up are not). */
	if (btf && call->hook < FERRET_GUARD_FUNC &&
	    guard_rejects(cfg, call->hook, call->skb, call->reason, call->has_reason)) {
		count_guard_skip(call->hook);
		return 0;
	}
	return handle_rules(call, btf, cfg);
}

/* A hook that knows only the skb's address. */
static __always_inline int handle_skb(void *ctx, __u64 skb_addr, __u32 hook, __u32 func_id)
{
	struct hook_call call = {
		.ctx = ctx,
		.skb_addr = skb_addr,
		.hook = hook,
		.func_id = func_id,
	};

	return handle(&call, 0);
}

#endif
