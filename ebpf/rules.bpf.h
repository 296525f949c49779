/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The rule loop: every active rule slot against one event, with what a
 * match asks for on the spot (counters, tracking bits, `limit N/s`,
 * aggregation); delivery to userspace comes after it (handle.bpf.h).
 */
#ifndef FERRET_RULES_BPF_H
#define FERRET_RULES_BPF_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "compat.bpf.h"

#include "agg.bpf.h"
#include "interp.bpf.h"
#include "maps.bpf.h"
#include "pcap.bpf.h"
#include "run.bpf.h"

#define NSEC_PER_SEC 1000000000ull
/* Hook ids as a bit of a u32 mask (rule.hooks, config.hooks). */
#define HOOK_BIT_MASK 31

/* True when this match may be delivered under the rule's `limit N/s`. */
static __always_inline int within_limit(__u32 idx, __u64 limit, __u64 now)
{
	struct ferret_limit *l = bpf_map_lookup_elem(&limits, &idx);
	__u64 start;

	if (!l)
		return 1;
	start = l->window_start_ns;
#ifdef FERRET_NO_BPF_LOOP
	/*
	 * Kernels before 5.12 have no compare-and-swap or fetching atomics: a
	 * plain window reset, and an add whose result is read back. Two CPUs
	 * at a window's edge may both pass; the limit stays approximate by a
	 * few events, never unbounded.
	 */
	if ((__s64)(now - start) >= (__s64)NSEC_PER_SEC) {
		l->window_start_ns = now;
		l->count = 1;
		return 1;
	}
	__sync_fetch_and_add(&l->count, 1);
	return l->count <= limit;
#else
	/* Signed: another CPU may have opened the window a hair "later". */
	if ((__s64)(now - start) >= (__s64)NSEC_PER_SEC &&
	    __sync_val_compare_and_swap(&l->window_start_ns, start, now) == start) {
		/* This CPU opened the new window; its own event is the first. */
		__sync_lock_test_and_set(&l->count, 1);
		return 1;
	}
	return __sync_fetch_and_add(&l->count, 1) < limit;
#endif
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

#ifdef FERRET_NO_BPF_LOOP
/* run_filter() of slot `idx` on the state of `level` (compat.bpf.h). */
__noinline int run_filter_at(__u32 level, __u32 idx)
{
	struct run *r = run_of_level(level);
	const struct ferret_rule *rule = bpf_map_lookup_elem(&rules, &idx);

	return r && rule ? run_filter(rule, &r->meta) : 0;
}
#define RUN_FILTER(rule, r, level, idx) run_filter_at(level, idx)
/* eval_rule passes its level on; the default build has none (clang
 * leaves an unused argument of a global function unset, and the verifier
 * refuses the call). */
#define LEVEL_PARAM , __u32 level
#define LEVEL_ARG(level) , level
#else
#define LEVEL_PARAM
#define LEVEL_ARG(level)
#define RUN_FILTER(rule, r, level, idx) run_filter(rule, &(r)->meta)
#endif

/* eval_rule's answer when the rule's pcap-filter parts have to run first. */
#define EVAL_NEEDS_PCAP 2

/*
 * One rule slot against the event; returns 1 past the last slot. `level`:
 * the state's level in run_levels, where that map is used. Global, so
 * the verifier checks it once rather than for every state of the caller.
 */
FERRET_SUBPROG int eval_rule(struct run *r, __u32 idx LEVEL_PARAM)
{
	struct ferret_rule *rule;
	struct ferret_counters *cnt;
	__u64 bit = 1ull << (idx & (FERRET_MAX_RULES - 1));
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
	if (!(rule->hooks & (1u << (r->hook & HOOK_BIT_MASK))))
		return 0;
	/* A function or tc/XDP program event counts only for the rules that
	 * selected that function or program. */
	if (r->hook >= FERRET_HOOK_FUNC && !func_selects(r->meta.func_id, bit))
		return 0;
#ifndef FERRET_NO_BPF_LOOP
	/* The rule loop runs the pcap-filter parts, then asks again. */
	if (rule->pcap_units && r->pcap_for != idx + 1)
		return EVAL_NEEDS_PCAP;
#endif
	cnt = bpf_map_lookup_elem(&counters, &idx);
	if (cnt)
		cnt->seen++;
	/* Only a TRACK rule honours its bit, so a bit left by an earlier rule
	 * in this slot cannot make an unrelated rule match. */
	if (actions & FERRET_ACT_TRACK)
		hit = is_tracked(r, bit);
	if (!hit)
		hit = RUN_FILTER(rule, r, level, idx);
	if (!hit)
		return 0;
	if (cnt)
		cnt->matched++;
	r->matched |= bit;
	if (actions & FERRET_ACT_TRACK)
		r->new_track |= bit;
	/* Before the rate limit: counts and histograms see every match. */
	if ((actions & (FERRET_ACT_COUNT | FERRET_ACT_HIST)) &&
	    AGGREGATE(r, level, idx, actions, rule->count_fields, rule->hist_field) && cnt)
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

#ifdef FERRET_NO_BPF_LOOP
/* eval_rule on the state of `level` on this CPU; 1 ends the loop. */
__noinline int eval_rule_at(__u32 idx, __u32 level)
{
	struct run *r = run_of_level(level);

	return r ? eval_rule(r, idx LEVEL_ARG(level)) : 1;
}
#endif

/*
 * Every rule slot in turn. A bounded loop rather than bpf_loop: the helper
 * costs ~10 ns a call plus its callback's per iteration, as much as the
 * rest of a non-matching call. eval_rule being global, the verifier walks
 * this loop with a small body. `level` is the state's level in run_levels
 * where that map is used (FERRET_NO_BPF_LOOP).
 */
static __always_inline void run_rules(struct run *r, __u32 level)
{
#pragma clang loop unroll(disable)
	for (__u32 i = 0; i < FERRET_MAX_RULES; i++) {
		if (i >= r->nrules)
			break;
#ifdef FERRET_NO_BPF_LOOP
		if (eval_rule_at(i, level))
			break;
#else
		int v = eval_rule(r, i);

		if (v == EVAL_NEEDS_PCAP) {
			run_pcap(r, i);
			v = eval_rule(r, i);
		}
		if (v)
			break;
#endif
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
#ifdef FERRET_NO_BPF_LOOP
	/* No atomic OR before 5.12; one skb is rarely on two CPUs at once. */
	if (bits)
		*bits |= r->new_track;
#else
	if (bits)
		__sync_fetch_and_or(bits, r->new_track);
#endif
	else
		bpf_map_update_elem(&track, &r->meta.skb, &r->new_track, BPF_ANY);
}

#endif
