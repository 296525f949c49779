/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The two builds of each object. The default build is for kernels with
 * bpf_loop (Linux 5.17+); the build with FERRET_NO_BPF_LOOP defined (the
 * loader picks it when the running kernel has no bpf_loop) runs on 5.10+:
 *
 * - No bpf_loop: its callbacks are referenced by BPF_PSEUDO_FUNC, which
 *   kernels before 5.13 do not count as subprograms ("number of funcs in
 *   func_info doesn't match number of subprogs"). The branch-program
 *   interpreter is a bounded loop instead; classic BPF (pcap-filter text)
 *   has no interpreter, and the loader refuses such rules.
 * - Subprograms are static: global functions take only scalars and the
 *   context before 5.12, and ours take pointers. A static subprogram is
 *   verified in every caller's state, which costs verifier time, not
 *   correctness.
 * - No fetching or bitwise atomics (5.12+): the rate limit and the track
 *   bits use plain read-modify-writes there (see their uses).
 */
#ifndef FERRET_COMPAT_BPF_H
#define FERRET_COMPAT_BPF_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "run.bpf.h"

#ifdef FERRET_NO_BPF_LOOP
#define FERRET_SUBPROG static __noinline
#else
#define FERRET_SUBPROG __noinline
#endif

#ifdef FERRET_NO_BPF_LOOP
/*
 * Before 5.12 a global function takes only scalars (and the context), and
 * a static eval_rule would be verified once per slot of the loop below,
 * far past the verifier's limits. So on those kernels the per-event state
 * lives in a per-CPU map instead of the stack, one level per context that
 * can interrupt another on the same CPU (task, softirq), and the global
 * functions (eval_rule_at, read_skb_at, fill_meta_at, emit_at) find it by
 * its level. Each is verified once, as the global functions of the
 * default build are.
 */
#define RUN_LEVELS 2

struct run_levels {
	struct run runs[RUN_LEVELS];
	__u32 depth; /* levels in use on this CPU */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct run_levels);
} run_levels SEC(".maps");

static __always_inline struct run_levels *run_levels_here(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&run_levels, &zero);
}

/* Constant offsets only: older verifiers check them more simply. */
static __always_inline struct run *run_at(struct run_levels *levels, __u32 level)
{
	return level ? &levels->runs[1] : &levels->runs[0];
}

/* The state of `level` on this CPU, or NULL. */
static __always_inline struct run *run_of_level(__u32 level)
{
	struct run_levels *levels = run_levels_here();

	if (!levels || level >= RUN_LEVELS)
		return NULL;
	return run_at(levels, level);
}
#endif

#endif
