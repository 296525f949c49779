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

#include <bpf/bpf_helpers.h>

#ifdef FERRET_NO_BPF_LOOP
#define FERRET_SUBPROG static __noinline
#else
#define FERRET_SUBPROG __noinline
#endif

#endif
