/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * In-kernel aggregation: `count [by KEY, ..]` and `hist FIELD`. A matched
 * rule with these actions updates per-CPU maps here and sends nothing to
 * userspace; the engine reads the maps and sums over CPUs.
 *
 * The key is filled without branches (a mask per field): a branch per
 * optional field would give the verifier 2^fields paths to walk.
 *
 * `count` and `count by` one small field skip the key altogether: they
 * count in a per-value array (count_dense), and only values that do not
 * fit it take a hash. A key of numbers that fit 8 bytes together is packed
 * into a 16-byte key (count_compact); only the rest (addresses, names,
 * wide combinations) build the 120-byte key.
 */
#ifndef FERRET_AGG_BPF_H
#define FERRET_AGG_BPF_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "compat.bpf.h"

#include "interp.bpf.h"
#include "maps.bpf.h"
#include "run.bpf.h"

/* All ones when field `f` is in `fields`, else zero. */
#define KEEP(fields, f) ((__u64)0 - (((fields) >> (f)) & 1))

static __always_inline void keep_bytes(__u8 *dst, const __u8 *src, __u64 keep)
{
	/* Both sides are 8-aligned (the ABI pins meta's offsets, the key is
	 * aligned(8)), and the verifier wants aligned stack access. */
	((__u64 *)dst)[0] = ((const __u64 *)src)[0] & keep;
	((__u64 *)dst)[1] = ((const __u64 *)src)[1] & keep;
}

static __always_inline void fill_agg_key(struct ferret_agg_key *k, const struct ferret_meta *m,
					 __u32 slot, __u32 fields)
{
	k->slot = slot;
	k->present = fields;
	keep_bytes(k->saddr, m->saddr, KEEP(fields, FERRET_F_SADDR));
	keep_bytes(k->daddr, m->daddr, KEEP(fields, FERRET_F_DADDR));
	keep_bytes((__u8 *)k->ifname, (const __u8 *)m->ifname, KEEP(fields, FERRET_F_IFNAME));
	keep_bytes((__u8 *)k->comm, (const __u8 *)m->comm, KEEP(fields, FERRET_F_COMM));
	k->netns = m->netns & KEEP(fields, FERRET_F_NETNS);
	k->ifindex = m->ifindex & KEEP(fields, FERRET_F_IFINDEX);
	k->mark = m->mark & KEEP(fields, FERRET_F_MARK);
	k->len = m->len & KEEP(fields, FERRET_F_LEN);
	k->pid = m->pid & KEEP(fields, FERRET_F_PID);
	k->reason = m->reason & KEEP(fields, FERRET_F_REASON);
	k->func_id = m->func_id & KEEP(fields, FERRET_F_FUNC);
	k->cpu = m->cpu & KEEP(fields, FERRET_F_CPU);
	k->family = m->family & KEEP(fields, FERRET_F_FAMILY);
	k->sport = m->sport & KEEP(fields, FERRET_F_SPORT);
	k->dport = m->dport & KEEP(fields, FERRET_F_DPORT);
	k->proto = m->proto & KEEP(fields, FERRET_F_PROTO);
	k->tcpflags = m->tcpflags & KEEP(fields, FERRET_F_TCPFLAGS);
	k->ttl = m->ttl & KEEP(fields, FERRET_F_TTL);
}

/* Adds one to `k` in the per-CPU hash `map` (agg_counts or agg_compact).
 * Returns 0 when counted, 1 when the map refused a new key (full). */
static __always_inline int count_key(void *map, const void *k)
{
	__u64 one = 1, *v;
	long err;

	v = bpf_map_lookup_elem(map, k);
	if (v) {
		/* Atomic although per-CPU: a softirq may interrupt a program on
		 * this CPU and bump the same key. */
		__sync_fetch_and_add(v, 1);
		return 0;
	}
	err = bpf_map_update_elem(map, k, &one, BPF_NOEXIST);
	if (!err)
		return 0;
	/* Another CPU (or a nested program) created it meanwhile. */
	v = bpf_map_lookup_elem(map, k);
	if (v) {
		__sync_fetch_and_add(v, 1);
		return 0;
	}
	return 1;
}

/*
 * The dense path (FERRET_DENSE_FIELDS in ferret_abi.h): no key to zero and
 * fill, no hash, an array lookup the verifier inlines. Returns 1 when
 * counted, 0 when the rule's key or this value needs the hash.
 */
static __always_inline int count_dense(const struct ferret_meta *m, __u32 slot, __u64 fields)
{
	struct ferret_dense *d;
	__u64 kept, v;

	/* Two fields or more, or one whose values are not small. */
	if ((fields & (fields - 1)) || (fields & ~(__u64)FERRET_DENSE_FIELDS))
		return 0;
	kept = fields & m->present;
	/* One field at most is kept, so OR-ing them picks it, without a branch
	 * per field. */
	v = (m->reason & KEEP(kept, FERRET_F_REASON)) | (m->cpu & KEEP(kept, FERRET_F_CPU)) |
	    (m->proto & KEEP(kept, FERRET_F_PROTO)) |
	    (m->tcpflags & KEEP(kept, FERRET_F_TCPFLAGS)) | (m->ttl & KEEP(kept, FERRET_F_TTL));
	if (!kept)
		v = FERRET_DENSE_ABSENT;
	else if (v >= FERRET_DENSE_VALUES)
		return 0;
	/* A slot past the array (FERRET_TEST_SLOT) is counted in the hash. */
	d = bpf_map_lookup_elem(&agg_dense, &slot);
	if (!d)
		return 0;
	/* As in hist_add: the bound check must test the indexing register. */
	barrier_var(v);
	if (v > FERRET_DENSE_ABSENT)
		return 0;
	__sync_fetch_and_add(&d->counts[v], 1);
	return 1;
}

/* The general path: the whole key, hashed. Same return as count_key. */
static __always_inline int count_hashed(const struct ferret_meta *m, __u32 slot, __u64 fields)
{
	struct ferret_agg_key key;

	__builtin_memset(&key, 0, sizeof(key));
	fill_agg_key(&key, m, slot, (__u32)fields & m->present);
	return count_key(&agg_counts, &key);
}

/* Whether a rule's `count by` key fits the compact key: numbers only, at
 * most FERRET_COMPACT_BYTES together. The popcounts are branch-free. */
static __always_inline int compact_fits(__u64 fields)
{
	__u32 f = (__u32)fields;

	if (fields & ~(__u64)FERRET_COMPACT_FIELDS)
		return 0;
	return __builtin_popcount(f & FERRET_COMPACT_W1) +
		       2 * __builtin_popcount(f & FERRET_COMPACT_W2) +
		       4 * __builtin_popcount(f & FERRET_COMPACT_W4) <=
	       FERRET_COMPACT_BYTES;
}

/*
 * Puts field `f` (when kept) below what is packed so far, `bytes` wide.
 * Fields go in descending id, so the lowest id ends in the lowest bits,
 * and every shift is at most 32: no shift past the word, no branch.
 */
#define PACK(packed, kept, val, f, bytes)                                                          \
	do {                                                                                       \
		__u64 in_ = ((kept) >> (f)) & 1;                                                   \
		(packed) = ((packed) << (in_ * 8 * (bytes))) | ((__u64)(val) & (0 - in_));         \
		/* One field at a time: hoisting every load first would spill   \
		 * and grow this frame past the call chain's stack limit. */    \
		barrier();                                                                         \
	} while (0)

/* The compact path: a 16-byte key (struct ferret_compact_key). Same
 * return as count_key. */
static __always_inline int count_compact(const struct ferret_meta *m, __u32 slot, __u64 fields)
{
	struct ferret_compact_key key;
	__u32 kept = (__u32)fields & m->present;
	__u64 p = 0;

	PACK(p, kept, m->cpu, FERRET_F_CPU, 4);
	PACK(p, kept, m->func_id, FERRET_F_FUNC, 4);
	PACK(p, kept, m->reason, FERRET_F_REASON, 4);
	PACK(p, kept, m->ttl, FERRET_F_TTL, 1);
	PACK(p, kept, m->tcpflags, FERRET_F_TCPFLAGS, 1);
	PACK(p, kept, m->pid, FERRET_F_PID, 4);
	PACK(p, kept, m->netns, FERRET_F_NETNS, 4);
	PACK(p, kept, m->ifindex, FERRET_F_IFINDEX, 4);
	PACK(p, kept, m->mark, FERRET_F_MARK, 4);
	PACK(p, kept, m->len, FERRET_F_LEN, 4);
	PACK(p, kept, m->family, FERRET_F_FAMILY, 2);
	PACK(p, kept, m->proto, FERRET_F_PROTO, 1);
	PACK(p, kept, m->dport, FERRET_F_DPORT, 2);
	PACK(p, kept, m->sport, FERRET_F_SPORT, 2);
	key.slot = slot;
	key.present = kept;
	key.packed = p;
	return count_key(&agg_compact, &key);
}

/* floor(log2(v)) for v > 0, without loops or branches. */
static __always_inline __u32 log2_u32(__u32 v)
{
	__u32 r, s;

	r = (v > 0xffff) << 4;
	v >>= r;
	s = (v > 0xff) << 3;
	v >>= s;
	r |= s;
	s = (v > 0xf) << 2;
	v >>= s;
	r |= s;
	s = (v > 0x3) << 1;
	v >>= s;
	r |= s;
	return r | (v >> 1);
}

static __always_inline void hist_add(const struct ferret_meta *m, __u32 slot, __u32 field)
{
	struct ferret_hist *h = bpf_map_lookup_elem(&agg_hists, &slot);
	__u64 hi = 0, lo = 0;
	__u32 v, b;

	if (!h)
		return;
	if (!load_field(m, field, &hi, &lo)) {
		__sync_fetch_and_add(&h->missing, 1);
		return;
	}
	v = (__u32)lo;
	b = v ? 1 + log2_u32(v) : 0;
	/* The barrier keeps the bound check on the register that indexes:
	 * otherwise clang tests a copy and the 6.1 verifier sees an
	 * unbounded index ("R0 unbounded memory access"). */
	barrier_var(b);
	if (b < FERRET_HIST_BUCKETS)
		__sync_fetch_and_add(&h->buckets[b], 1);
}

/*
 * COUNT and HIST of one matched rule. Global, so the verifier checks it
 * once, not once per state of the rule loop. Returns how many updates
 * failed (the caller counts them in `agg_failed`).
 */
FERRET_SUBPROG int aggregate(struct run *r, __u32 slot, __u32 actions, __u64 count_fields,
			 __u32 hist_field)
{
	if (!r)
		return 0;
	if (actions & FERRET_ACT_HIST)
		hist_add(&r->meta, slot, hist_field);
	if (!(actions & FERRET_ACT_COUNT))
		return 0;
	if (count_dense(&r->meta, slot, count_fields))
		return 0;
	if (compact_fits(count_fields))
		return count_compact(&r->meta, slot, count_fields);
	return count_hashed(&r->meta, slot, count_fields);
}

#ifdef FERRET_NO_BPF_LOOP
/* aggregate() on the state of `level` (compat.bpf.h: verified once). */
__noinline int aggregate_at(__u32 level, __u32 slot, __u32 actions, __u64 count_fields,
			    __u32 hist_field)
{
	struct run *r = run_of_level(level);

	return r ? aggregate(r, slot, actions, count_fields, hist_field) : 0;
}
#define AGGREGATE(r, level, ...) aggregate_at(level, __VA_ARGS__)
#else
#define AGGREGATE(r, level, ...) aggregate(r, __VA_ARGS__)
#endif

#endif
