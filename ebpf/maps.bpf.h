/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Every map of the ferret objects. Userspace (engine/kernel) finds them by
 * these names, so a rename here is a rename there; the function object
 * (ferret_func.bpf.c) defines the same maps and is pointed at the main
 * object's.
 */
#ifndef FERRET_MAPS_BPF_H
#define FERRET_MAPS_BPF_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "ferret_abi.h"

/* Default ring size; the loader overrides max_entries before creating it. */
#define FERRET_RING_BYTES (8u << 20)
#define FERRET_TRACK_ENTRIES 65536
#define FERRET_STACK_ENTRIES 16384
#define FERRET_STACK_DEPTH 127 /* PERF_MAX_STACK_DEPTH */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ferret_config);
} config SEC(".maps");

/* One slot more than the rule loop visits: FERRET_TEST_SLOT. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FERRET_MAX_RULES + 1);
	__type(key, __u32);
	__type(value, struct ferret_rule);
} rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FERRET_MAX_RULES);
	__type(key, __u32);
	__type(value, struct ferret_counters);
} counters SEC(".maps");

/* Calls turned away by a hook's pre-check (key = hook), per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FERRET_GUARD_HOOKS);
	__type(key, __u32);
	__type(value, __u64);
} guard_skips SEC(".maps");

/* Shared across CPUs on purpose: a rate is a global property of a rule. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FERRET_MAX_RULES);
	__type(key, __u32);
	__type(value, struct ferret_limit);
} limits SEC(".maps");

/* skb address -> bitmask of the rules that tracked it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, FERRET_TRACK_ENTRIES);
	__type(key, __u64);
	__type(value, __u64);
} track SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, FERRET_RING_BYTES);
} ring SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, FERRET_STACK_ENTRIES);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, FERRET_STACK_DEPTH * sizeof(__u64));
} stacks SEC(".maps");

/* `count by` results: (rule slot, key) -> count, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, FERRET_AGG_ENTRIES);
	__type(key, struct ferret_agg_key);
	__type(value, __u64);
} agg_counts SEC(".maps");

/* `count by` results whose key fits FERRET_COMPACT_BYTES: (rule slot,
 * present fields, packed values) -> count, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, FERRET_COMPACT_ENTRIES);
	__type(key, struct ferret_compact_key);
	__type(value, __u64);
} agg_compact SEC(".maps");

/* `count` and one-small-field `count by` results: rule slot -> a counter
 * per value, per CPU (struct ferret_dense). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FERRET_MAX_RULES);
	__type(key, __u32);
	__type(value, struct ferret_dense);
} agg_dense SEC(".maps");

/* `hist` results: rule slot -> log2 buckets, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FERRET_MAX_RULES);
	__type(key, __u32);
	__type(value, struct ferret_hist);
} agg_hists SEC(".maps");

/* Which raw tracepoint argument holds the skb, per `tp` slot
 * (0..FERRET_TP_SKB_ARG_MAX). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FERRET_TP_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} tp_slot_arg SEC(".maps");

/*
 * Function id -> bitmask of the rule slots whose `func`/`any` triggers
 * select that function. A probe whose entry is 0 returns at once, so
 * probes of functions no rule wants any more cost almost nothing.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FERRET_MAX_FUNCS);
	__type(key, __u32);
	__type(value, __u64);
} func_rules SEC(".maps");

/* Input of ferret_test_filter. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ferret_meta);
} test_meta SEC(".maps");

/* Classic BPF programs (pcap filters), by slot; see cbpf.bpf.h. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FERRET_CBPF_PROGS);
	__type(key, __u32);
	__type(value, struct ferret_cbpf_prog);
} pcap_progs SEC(".maps");

/*
 * The classic BPF interpreter's copy of a packet's first bytes, per CPU. A
 * program can be interrupted by a softirq that runs another ferret program
 * on the same CPU, so each nesting level has its own window; `depth` says
 * which are in use.
 */
#define CBPF_LEVELS 4
/* Rows of mem: the levels, one for deeper runs, and padding to a power of
 * two (cbpf_run masks the row with it). */
struct cbpf_scratch {
	__u32 depth;
	__u32 zero; /* never written: see cbpf_run */
	/* The scratch words M[] of each level's run: off the stack, which the
	 * call chain down to the interpreter has little of. */
	__u32 mem[CBPF_LEVELS][FERRET_CBPF_MEM_WORDS];
	__u8 window[CBPF_LEVELS][FERRET_CBPF_WINDOW];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cbpf_scratch);
} cbpf_scratch SEC(".maps");

/* Input of ferret_test_cbpf. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ferret_cbpf_frame);
} cbpf_test_frame SEC(".maps");

#endif
