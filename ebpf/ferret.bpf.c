// SPDX-License-Identifier: GPL-2.0
/*
 * ferret's kernel side: generic programs that interpret rules from maps.
 *
 * Every trigger has a tp_btf program and a raw_tp twin (the loader tries
 * tp_btf first); both call handle(). Rules change by map writes only.
 *
 * Needs bpf_loop (5.17+): the filter interpreter hands instructions past
 * the second to it. Kernels 5.10..5.16 would need that tail rewritten as
 * a bounded loop; not done.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "ferret_abi.h"
#include "kernel_types.h"
#include "ferret_maps.h"
#include "ferret_run.h"
#include "ferret_skb.h"
#include "ferret_parse.h"
#include "ferret_direct.h"
#include "ferret_guard.h"
#include "ferret_interp.h"
#include "ferret_emit.h"
#include "ferret_agg.h"

char LICENSE[] SEC("license") = "GPL";

#define NSEC_PER_SEC 1000000000ull

/* True when this match may be delivered under the rule's `limit N/s`. */
static __always_inline int within_limit(__u32 idx, __u64 limit, __u64 now)
{
	struct ferret_limit *l = bpf_map_lookup_elem(&limits, &idx);
	__u64 start;

	if (!l)
		return 1;
	start = l->window_start_ns;
	/* Signed: another CPU may have opened the window a hair "later". */
	if ((__s64)(now - start) >= (__s64)NSEC_PER_SEC &&
	    __sync_val_compare_and_swap(&l->window_start_ns, start, now) == start) {
		/* This CPU opened the new window; its own event is the first. */
		__sync_lock_test_and_set(&l->count, 1);
		return 1;
	}
	return __sync_fetch_and_add(&l->count, 1) < limit;
}

static __always_inline int is_tracked(struct run *r, __u64 bit)
{
	__u64 *bits;

	if (!r->track_loaded) {
		/* The key is copied to the stack: inside a global function `r`
		 * is plain memory, which map helpers refuse as a key before 6.3. */
		__u64 key = r->meta.skb;

		r->track_loaded = 1;
		bits = bpf_map_lookup_elem(&track, &key);
		if (bits)
			r->tracked = *bits;
	}
	return (r->tracked & bit) != 0;
}

static __always_inline int func_selects(__u32 func_id, __u64 bit)
{
	__u64 *mask = bpf_map_lookup_elem(&func_rules, &func_id);

	return mask && (*mask & bit);
}

/*
 * One rule slot against the event; returns 1 past the last slot. Global, so
 * the verifier checks it once rather than for every state of the caller.
 */
__noinline int eval_rule(struct run *r, __u32 idx)
{
	struct ferret_rule *rule;
	struct ferret_counters *cnt;
	__u64 bit = 1ull << (idx & 63);
	__u32 actions, snap;
	int hit = 0;

	if (!r)
		return 1;
	rule = bpf_map_lookup_elem(&rules, &idx);
	if (!rule)
		return 1;
	if (rule->state != FERRET_RULE_ACTIVE)
		return 0;
	actions = rule->actions;
	if (actions & FERRET_ACT_TRACK)
		r->any_track = 1;
	if (!(rule->hooks & (1u << (r->hook & 31))))
		return 0;
	/* A function event counts only for the rules that selected it. */
	if (r->hook == FERRET_HOOK_FUNC && !func_selects(r->meta.func_id, bit))
		return 0;
	cnt = bpf_map_lookup_elem(&counters, &idx);
	if (cnt)
		cnt->seen++;
	/* Only a TRACK rule honours its bit, so a bit left by an earlier rule
	 * in this slot cannot make an unrelated rule match. */
	if (actions & FERRET_ACT_TRACK)
		hit = is_tracked(r, bit);
	if (!hit)
		hit = run_filter(rule, &r->meta);
	if (!hit)
		return 0;
	if (cnt)
		cnt->matched++;
	r->matched |= bit;
	if (actions & FERRET_ACT_TRACK)
		r->new_track |= bit;
	/* Before the rate limit: counts and histograms see every match. */
	if ((actions & (FERRET_ACT_COUNT | FERRET_ACT_HIST)) &&
	    aggregate(r, idx, actions, rule->count_fields, rule->hist_field) && cnt)
		cnt->agg_failed++;
	if (!(actions & FERRET_ACT_DELIVER))
		return 0;
	/* The clock is read only when something needs it. */
	if (rule->limit_per_sec && !r->meta.ts_ns)
		r->meta.ts_ns = bpf_ktime_get_ns();
	if (rule->limit_per_sec && !within_limit(idx, rule->limit_per_sec, r->meta.ts_ns)) {
		if (cnt)
			cnt->rate_limited++;
		return 0;
	}
	r->deliver |= bit;
	r->actions |= actions;
	if (actions & FERRET_ACT_CAPTURE) {
		/* snaplen 0 asks for as much as there is, like tcpdump -s 0. */
		snap = rule->snaplen ? rule->snaplen : FERRET_MAX_SNAPLEN;
		if (snap > r->snaplen)
			r->snaplen = snap;
	}
	return 0;
}

/*
 * Every rule slot in turn. A bounded loop rather than bpf_loop: the helper
 * costs ~10 ns a call plus its callback's per iteration, as much as the
 * rest of a non-matching call. eval_rule being global, the verifier walks
 * this loop with a small body.
 */
static __always_inline void run_rules(struct run *r)
{
#pragma clang loop unroll(disable)
	for (__u32 i = 0; i < FERRET_MAX_RULES; i++) {
		if (i >= r->nrules || eval_rule(r, i))
			break;
	}
}

static __always_inline void update_track(struct run *r)
{
	__u64 *bits;

	/* A freed skb's address will be reused: forget it. */
	if ((r->hook == FERRET_HOOK_DROP || r->hook == FERRET_HOOK_FREE) && r->any_track) {
		bpf_map_delete_elem(&track, &r->meta.skb);
		return;
	}
	if (!(r->new_track & ~r->tracked))
		return;
	bits = bpf_map_lookup_elem(&track, &r->meta.skb);
	if (bits)
		__sync_fetch_and_or(bits, r->new_track);
	else
		bpf_map_update_elem(&track, &r->meta.skb, &r->new_track, BPF_ANY);
}

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
	__u8 groups = ((needs & NEED_DEV) ? 1 : 0) | ((needs & NEED_TASK) ? 2 : 0) |
		      ((needs & NEED_NET) ? 4 : 0);

	return (groups & ~r->filled) != 0;
}

/*
 * A call the pre-check let through: every rule against it. `btf` is a
 * compile-time constant: 1 when `skb` is a typed pointer (tp_btf), whose
 * fields are then read with plain loads (the JIT makes each a fault-safe
 * load, ~1 ns) instead of helper calls (~25 ns each); 0 when only the
 * address is known (raw_tp, kprobes).
 */
static __always_inline int handle_rules(void *ctx, const int btf, struct sk_buff *skb,
					__u64 skb_addr, __u32 hook, __u32 func_id, __u32 reason,
					int has_reason, __u64 location,
					const struct ferret_config *cfg)
{
	struct run r = {};
	__u32 nrules;

	nrules = cfg->nrules < FERRET_MAX_RULES ? cfg->nrules : FERRET_MAX_RULES;
	r.hook = hook;
	r.nrules = nrules;
	r.wakeup_bytes = cfg->wakeup_bytes;
	r.net_off = HDR_UNSET;
	r.mac_off = HDR_UNSET;
	r.meta.skb = skb_addr;
	r.meta.location = location;
	r.meta.cpu = bpf_get_smp_processor_id();
	r.meta.reason = reason;
	r.meta.func_id = func_id;
	/* Every program names its source in func_id (engine/src/funcs.rs). */
	r.meta.present = FIELD_BIT(FERRET_F_CPU) | FIELD_BIT(FERRET_F_FUNC);
	if (has_reason)
		r.meta.present |= FIELD_BIT(FERRET_F_REASON);
	if (btf) {
		read_skb_direct(&r, skb);
		if (cfg->needs & NEED_DEV)
			fill_dev_direct(&r, skb);
		if (cfg->needs & NEED_NET)
			fill_net_direct(&r);
	} else {
		read_skb(&r);
	}
	if (needs_more(&r, cfg->needs))
		fill_meta(&r, cfg->needs);

	run_rules(&r);

	if (r.new_track || r.any_track)
		update_track(&r);
	if (r.deliver) {
		/* Userspace prints every field, whatever the filters read. */
		if (btf) {
			fill_dev_direct(&r, skb);
			if (!(r.filled & 4))
				fill_net_direct(&r);
		}
		fill_meta(&r, NEED_ALL);
		if (!r.meta.ts_ns)
			r.meta.ts_ns = bpf_ktime_get_ns();
		deliver(ctx, &r);
	}
	return 0;
}

/*
 * The body of every hook. The pre-check comes before anything else (the
 * per-event state above is 240 bytes to zero): most calls of a busy hook
 * are turned away there.
 */
static __always_inline int handle(void *ctx, const int btf, struct sk_buff *skb, __u64 skb_addr,
				  __u32 hook, __u32 func_id, __u32 reason, int has_reason,
				  __u64 location)
{
	const struct ferret_config *cfg = hook_config(hook);

	if (!cfg || !skb_addr)
		return 0;
	if (btf && guard_rejects(cfg, hook, skb, reason, has_reason)) {
		count_guard_skip(hook);
		return 0;
	}
	return handle_rules(ctx, btf, skb, skb_addr, hook, func_id, reason, has_reason, location,
			    cfg);
}

/* A hook that knows only the skb's address. */
static __always_inline int handle_skb(void *ctx, __u64 skb_addr, __u32 hook, __u32 func_id,
				      __u32 reason, int has_reason, __u64 location)
{
	return handle(ctx, 0, NULL, skb_addr, hook, func_id, reason, has_reason, location);
}

#include "ferret_progs.h"
