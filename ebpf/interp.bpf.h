/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The branch-program interpreter. Its semantics are a contract with the Rust
 * reference evaluator (engine/core/src/plan/eval.rs), checked against each
 * other by engine/kernel/tests/kernel_filter.rs through ferret_test_filter, which calls
 * run_filter() below exactly as the hook programs do:
 *
 *   pc = 0; while pc < ninsns: insn = insns[pc];
 *     field absent (present bit clear, or id >= 32) -> pc = jf
 *     else load (hi, lo): addresses/names = 16 raw bytes, bytes 0..8 as a
 *       host-order u64 in hi, 8..16 in lo; numbers: hi = 0, lo = value.
 *     hm = hi & mask_hi; lm = lo & mask_lo
 *     EQ: hm == value_hi && lm == value_lo; NE: !EQ;
 *     LT/LE/GT/GE: lm against value_lo, unsigned; unknown op: false
 *     pc = result ? jt : jf
 *   target MATCH -> match; NOMATCH -> no match; a target <= pc -> no match
 *   (forward-only jumps are what bound the loop); running off the end ->
 *   no match; ninsns == 0 -> match.
 */
#ifndef FERRET_INTERP_BPF_H
#define FERRET_INTERP_BPF_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "compat.bpf.h"

#include "ferret_abi.h"

/* Fields with a presence bit: `present` is a u32. */
#define FIELD_IDS 32

static __always_inline __u64 load_bytes_u64(const __u8 *p)
{
	/* meta's byte fields are 8-aligned (the ABI test pins the offsets). */
	return *(const __u64 *)p;
}

/* Returns 0 when the packet does not carry `field`. */
static __always_inline int load_field(const struct ferret_meta *m, __u32 field, __u64 *hi,
				      __u64 *lo)
{
	const __u8 *bytes;

	if (field >= FIELD_IDS || !(m->present & (1u << field)))
		return 0;
	*hi = 0;
	switch (field) {
	case FERRET_F_SADDR:
		bytes = m->saddr;
		break;
	case FERRET_F_DADDR:
		bytes = m->daddr;
		break;
	case FERRET_F_IFNAME:
		bytes = (const __u8 *)m->ifname;
		break;
	case FERRET_F_COMM:
		bytes = (const __u8 *)m->comm;
		break;
	case FERRET_F_SPORT:
		*lo = m->sport;
		return 1;
	case FERRET_F_DPORT:
		*lo = m->dport;
		return 1;
	case FERRET_F_PROTO:
		*lo = m->proto;
		return 1;
	case FERRET_F_FAMILY:
		*lo = m->family;
		return 1;
	case FERRET_F_LEN:
		*lo = m->len;
		return 1;
	case FERRET_F_MARK:
		*lo = m->mark;
		return 1;
	case FERRET_F_IFINDEX:
		*lo = m->ifindex;
		return 1;
	case FERRET_F_NETNS:
		*lo = m->netns;
		return 1;
	case FERRET_F_PID:
		*lo = m->pid;
		return 1;
	case FERRET_F_TCPFLAGS:
		*lo = m->tcpflags;
		return 1;
	case FERRET_F_TTL:
		*lo = m->ttl;
		return 1;
	case FERRET_F_REASON:
		*lo = m->reason;
		return 1;
	case FERRET_F_FUNC:
		*lo = m->func_id;
		return 1;
	case FERRET_F_CPU:
		*lo = m->cpu;
		return 1;
	case FERRET_F_PCAP:
		*lo = m->pcap;
		return 1;
	default:
		/* A presence bit for a field with no storage: nothing to compare. */
		return 0;
	}
	*hi = load_bytes_u64(bytes);
	*lo = load_bytes_u64(bytes + 8);
	return 1;
}

static __always_inline int compare(const struct ferret_insn *in, __u64 hi, __u64 lo)
{
	__u64 hm = hi & in->mask_hi, lm = lo & in->mask_lo;
	__u64 v = in->value_lo;

	switch (in->op) {
	case FERRET_OP_EQ:
		return hm == in->value_hi && lm == v;
	case FERRET_OP_NE:
		return !(hm == in->value_hi && lm == v);
	case FERRET_OP_LT:
		return lm < v;
	case FERRET_OP_LE:
		return lm <= v;
	case FERRET_OP_GT:
		return lm > v;
	case FERRET_OP_GE:
		return lm >= v;
	default:
		return 0;
	}
}

/* step(): the instruction at *pc decided the verdict (0 or 1), or CONTINUE. */
#define CONTINUE -1

static __always_inline int step(const struct ferret_insn *insns, const struct ferret_meta *meta,
				__u32 ninsns, __u32 *pc)
{
	const struct ferret_insn *in;
	__u32 at = *pc, next;
	__u64 hi = 0, lo = 0;

	if (at >= ninsns || at >= FERRET_MAX_INSNS)
		return 0;
	in = &insns[at];
	if (load_field(meta, in->field, &hi, &lo) && compare(in, hi, lo))
		next = in->jt;
	else
		next = in->jf;
	if (next == FERRET_TARGET_MATCH)
		return 1;
	if (next <= at || next == FERRET_TARGET_NOMATCH)
		return 0;
	*pc = next;
	return CONTINUE;
}

#ifndef FERRET_NO_BPF_LOOP
struct interp {
	const struct ferret_insn *insns; /* points into a `rules` map value */
	const struct ferret_meta *meta;
	__u32 ninsns;
	__u32 pc;
	__u32 verdict;
};

/* bpf_loop callback: one instruction per call; 1 stops the loop. */
static long interp_step(__u32 i, void *data)
{
	struct interp *st = data;
	int v = step(st->insns, st->meta, st->ninsns, &st->pc);

	if (v == CONTINUE)
		return 0;
	st->verdict = v == 1;
	return 1;
}
#endif

#ifdef FERRET_NO_BPF_LOOP
/*
 * Without bpf_loop: a bounded loop whose counter is the instruction index,
 * from `pc` on. Jumps are forward-only, so every instruction the program
 * runs comes up in order, and the others are passed over. The index is
 * a constant in each iteration (constant offsets into the rule), and
 * nothing the verifier tracks precisely depends on the path through a
 * step, so the paths of one iteration merge at the next: the verifier
 * walks each iteration's branches about once.
 */
static __always_inline int run_bounded(const struct ferret_rule *rule,
				       const struct ferret_meta *meta, __u32 ninsns, __u32 pc)
{
	for (__u32 i = 0; i < FERRET_MAX_INSNS; i++) {
		const struct ferret_insn *in = &rule->insns[i];
		__u64 hi = 0, lo = 0;
		__u32 next;

		if (i >= ninsns)
			return 0;
		if (i != pc)
			continue;
		if (load_field(meta, in->field, &hi, &lo) && compare(in, hi, lo))
			next = in->jt;
		else
			next = in->jf;
		if (next == FERRET_TARGET_MATCH)
			return 1;
		if (next <= i || next == FERRET_TARGET_NOMATCH)
			return 0;
		pc = next;
	}
	/* Past the last instruction: no match. */
	return 0;
}
#endif

/*
 * The one entry point of the interpreter, for hooks and tests alike. Global,
 * so both call the very same verified BPF function.
 *
 * Most filters decide within their first two instructions, which run
 * inline; bpf_loop (a helper call, then a callback per instruction, about
 * as costly as the rest of a non-matching event) only takes over past
 * them. A bounded loop instead would cost the verifier ~13k instructions
 * per program, which every program pays again at startup.
 */
FERRET_SUBPROG int run_filter(const struct ferret_rule *rule, const struct ferret_meta *meta)
{
#ifndef FERRET_NO_BPF_LOOP
	struct interp st;
	int v;
#endif
	__u32 pc = 0, ninsns;

	if (!rule || !meta)
		return 0;
	ninsns = rule->ninsns;
	if (ninsns == 0)
		return 1;
#ifdef FERRET_NO_BPF_LOOP
	return run_bounded(rule, meta, ninsns, pc);
#else
	v = step(rule->insns, meta, ninsns, &pc);
	if (v != CONTINUE)
		return v;
	v = step(rule->insns, meta, ninsns, &pc);
	if (v != CONTINUE)
		return v;
	/* Set up only here: most calls never get this far. */
	st.insns = rule->insns;
	st.meta = meta;
	st.ninsns = ninsns;
	st.pc = pc;
	st.verdict = 0;
	/* Forward-only jumps visit each instruction at most once. */
	bpf_loop(FERRET_MAX_INSNS, interp_step, &st, 0);
	return st.verdict;
#endif
}

#endif
