/* SPDX-License-Identifier: (MIT OR Apache-2.0) */
/*
 * The one contract between the C eBPF programs and the Rust engine: the
 * structs both sides read and write, and the numbers both sides agree on.
 * Nothing kernel-only lives here (that is the .bpf.h headers in ebpf/).
 * ferret_abi_cbpf.h, included at the end, holds the classic BPF part.
 *
 * engine/core/src/abi/ mirrors every item. Every number is an enumerator,
 * so it reaches the objects' BTF (abi_types.bpf.h keeps the types there);
 * the kernel crate's abi_btf test reads that BTF and compares every struct's
 * size and member offsets and every enumerator with the Rust side. The
 * _Static_asserts below pin the C layouts on their own, so a change of a
 * struct that moves a member fails the C build first.
 *
 * Userspace lowers every rule to a `struct ferret_rule` (a branch program of
 * `struct ferret_insn`) and writes it into the rule table; the kernel side
 * only interprets. No program is reloaded to change a rule.
 */
#ifndef FERRET_ABI_H
#define FERRET_ABI_H

#include <linux/types.h>

/* Sizes of the rule table. */
enum ferret_rule_limits {
	FERRET_MAX_RULES = 64, /* rule numbers fit a u64 bitmask */
	FERRET_MAX_INSNS = 32, /* branch program length per rule */
	FERRET_MAX_SNAPLEN = 1500,
	/* Extra rule slot for BPF_PROG_TEST_RUN of the filter; never in the rule loop. */
	FERRET_TEST_SLOT = FERRET_MAX_RULES,
};

/* Filter fields. Presence of a field in a packet is bit (1 << id). */
enum ferret_field {
	FERRET_F_NONE = 0,
	FERRET_F_SADDR = 1,
	FERRET_F_DADDR = 2,
	FERRET_F_SPORT = 3,
	FERRET_F_DPORT = 4,
	FERRET_F_PROTO = 5,
	FERRET_F_FAMILY = 6,
	FERRET_F_LEN = 7,
	FERRET_F_MARK = 8,
	FERRET_F_IFNAME = 9,
	FERRET_F_IFINDEX = 10,
	FERRET_F_NETNS = 11,
	FERRET_F_PID = 12,
	FERRET_F_COMM = 13,
	FERRET_F_TCPFLAGS = 14,
	FERRET_F_TTL = 15,
	FERRET_F_REASON = 16,
	FERRET_F_FUNC = 17,
	FERRET_F_CPU = 18,
	FERRET_F_COUNT = 19,
	/* Not a field of the language: Meta's `pcap` bits (see ferret_rule). */
	FERRET_F_PCAP = 20,
};

/*
 * Comparison: the field is read as 128 bits (hi, lo), masked, compared.
 * Addresses and names are raw bytes (bytes 0..8 -> hi, 8..16 -> lo, loaded
 * in host order), so only EQ/NE are meaningful for them. Numbers live in lo
 * with hi == 0, and the ordered ops compare lo.
 */
enum ferret_op {
	FERRET_OP_EQ = 0,
	FERRET_OP_NE = 1,
	FERRET_OP_LT = 2,
	FERRET_OP_LE = 3,
	FERRET_OP_GT = 4,
	FERRET_OP_GE = 5,
};

/* Jump targets: an instruction index (always forward), or one of these. */
enum ferret_target {
	FERRET_TARGET_MATCH = 0xfe,
	FERRET_TARGET_NOMATCH = 0xff,
};

struct ferret_insn {
	__u8 field;
	__u8 op;
	__u8 jt; /* target if the comparison holds */
	__u8 jf; /* target if it does not, or the field is absent */
	__u32 pad;
	__u64 value_hi;
	__u64 value_lo;
	__u64 mask_hi;
	__u64 mask_lo;
};

/*
 * Hook ids; a rule listens on the hooks whose bit is set in `hooks`. The
 * built-in triggers (below FERRET_HOOK_TP0) are listed once, in
 * engine/core/src/hooks.rs; their programs take their id from here by name
 * (FERRET_HOOK_<NAME>), and the abi_btf test compares the two.
 */
enum ferret_hook {
	FERRET_HOOK_DROP = 0,
	FERRET_HOOK_FREE = 1,
	FERRET_HOOK_RECV = 2,
	FERRET_HOOK_XMIT = 3,
	FERRET_HOOK_QUEUE = 4,
	FERRET_HOOK_TP0 = 8, /* .. FERRET_HOOK_TP0 + FERRET_TP_SLOTS - 1 */
	FERRET_HOOK_FUNC = 16,
	FERRET_HOOK_TC = 17,  /* fentry/fexit on tc (clsact, tcx) BPF programs */
	FERRET_HOOK_XDP = 18, /* fentry/fexit on XDP BPF programs */
};

/*
 * `tp CAT:NAME` triggers at once, and the last tracepoint argument that may
 * hold the skb. Function ids: the built-in and `tp` hooks use ids below
 * FERRET_FUNC_ID0; kernel functions get FERRET_FUNC_ID0 + i
 * (engine/kernel/src/func_catalog.rs), up to FERRET_MAX_FUNCS, the entries
 * of the func_rules map.
 */
enum ferret_trigger_limits {
	FERRET_TP_SLOTS = 8,
	FERRET_TP_SKB_ARG_MAX = 4,
	FERRET_FUNC_ID0 = 1024,
	FERRET_MAX_FUNCS = 65536,
	FERRET_PROG_ID0 = 256, /* traced tc/XDP programs (kernel/src/prog_probes.rs) */
	FERRET_MAX_PROGS = 768,
};

/* meta.prog_at: entering or leaving a traced tc/XDP program; on leave the
 * low 32 bits of meta.location hold its return value (the verdict). */
enum ferret_prog_at { FERRET_AT_NONE = 0, FERRET_AT_ENTER = 1, FERRET_AT_LEAVE = 2 };

/* Action flags. */
enum ferret_action {
	FERRET_ACT_PRINT = 1u << 0,
	FERRET_ACT_STACK = 1u << 1,
	FERRET_ACT_COUNT = 1u << 2,
	FERRET_ACT_HIST = 1u << 3,
	FERRET_ACT_CAPTURE = 1u << 4,
	FERRET_ACT_TRACK = 1u << 5,
	FERRET_ACT_CALL = 1u << 6,
	/* Actions that need the event in userspace. */
	FERRET_ACT_DELIVER =
		FERRET_ACT_PRINT | FERRET_ACT_STACK | FERRET_ACT_CAPTURE | FERRET_ACT_CALL,
};

enum ferret_rule_state {
	FERRET_RULE_EMPTY = 0,
	FERRET_RULE_ACTIVE = 1,
	FERRET_RULE_PAUSED = 2,
};

struct ferret_rule {
	__u32 state;
	__u32 hooks;
	__u32 actions;
	__u32 ninsns;
	__u64 limit_per_sec; /* 0: unlimited */
	__u64 count_fields;  /* bitmask of fields in a `count by` key */
	__u32 hist_field;
	__u32 snaplen; /* capture: bytes to keep; 0 means FERRET_MAX_SNAPLEN */
	__u32 pcap_units; /* pcap-filter parts, <= FERRET_PCAP_UNITS (programs in pcap_progs) */
	__u32 pad;
	struct ferret_insn insns[FERRET_MAX_INSNS];
};

/*
 * A hook's pre-check: a field every active rule on the hook needs, with a
 * value in one of `nranges` inclusive ranges, else the call is turned away
 * before any per-event state (counted in `guard_skips`). Userspace derives
 * it (engine/core/src/plan/guard.rs); FERRET_F_NONE: none. Slots 0..7 are
 * the built-in hooks' (slot = hook id), FERRET_GUARD_FUNC the functions'.
 */
enum ferret_guard_limits {
	FERRET_GUARD_FUNC = 8, /* the slot of FERRET_HOOK_FUNC */
	FERRET_GUARD_HOOKS = 9, /* slots 0..7: the built-in tracepoint triggers; 8: functions */
	FERRET_GUARD_RANGES = 4,
};

struct ferret_guard {
	__u32 field;
	__u32 nranges;
	__u64 lo[FERRET_GUARD_RANGES];
	__u64 hi[FERRET_GUARD_RANGES];
};

/* Global settings, entry 0 of the config array. */
struct ferret_config {
	__u32 nrules;       /* highest used rule slot + 1 */
	__u32 needs;        /* union of fields that any rule reads; bit (1 << field) */
	__u32 hooks;        /* union of the hooks of active rules */
	__u32 wakeup_bytes; /* wake the reader once this much data is pending */
	struct ferret_guard guards[FERRET_GUARD_HOOKS];
};

/*
 * Per-packet metadata, filled by the kernel side and copied into events.
 * IPv4 addresses are stored IPv4-mapped (::ffff:a.b.c.d) so one 128-bit
 * comparison serves both families.
 */
struct ferret_meta {
	__u64 skb;
	__u64 ts_ns;
	__u64 location; /* drop: the address that freed the skb; prog leave: the verdict */
	__u32 cpu;
	__u32 pid; /* tgid */
	__u32 tid;
	__u32 netns;
	__u32 ifindex;
	__u32 mark;
	__u32 len;
	__u32 mtu;
	__u32 reason;
	__u32 func_id; /* tracepoint programs: their hook id */
	__u32 present; /* bit (1 << field) for every field the packet carries */
	__u16 family;  /* ethertype, host order */
	__u8 proto;
	__u8 tcpflags;
	__u8 ttl;
	__u8 pcap; /* bit i: pcap-filter part i of the rule being evaluated accepted */
	__u16 sport; /* host order */
	__u16 dport;
	__u16 prog_at; /* enum ferret_prog_at */
	__u8 saddr[16];
	__u8 daddr[16];
	char ifname[16];
	char comm[16];
};

/* TCP flag bits as in the TCP header's flags byte. */
enum ferret_tcp_flag {
	FERRET_TCP_FIN = 0x01,
	FERRET_TCP_SYN = 0x02,
	FERRET_TCP_RST = 0x04,
	FERRET_TCP_PSH = 0x08,
	FERRET_TCP_ACK = 0x10,
	FERRET_TCP_URG = 0x20,
};

enum ferret_event_kind {
	FERRET_EVENT_PACKET = 1,
};

/* Ring buffer record; `cap_len` packet bytes follow it. */
struct ferret_event {
	__u32 kind;
	__u32 hook;
	__u64 rules; /* matched rules that asked for delivery */
	__s32 stack_id; /* -1: none; other negatives: the -errno of bpf_get_stackid */
	__u32 cap_len;
	__u32 cap_l2; /* 1: capture starts at the MAC header (Ethernet), 0: network header */
	__u32 wire_len; /* packet length from where the capture starts (pcap-ng original length) */
	struct ferret_meta meta;
};

/* Per-rule, per-CPU counters (index = rule slot). */
struct ferret_counters {
	__u64 seen;        /* hook calls that evaluated this rule */
	__u64 matched;     /* filter matched */
	__u64 emitted;     /* events written to the ring */
	__u64 ring_full;   /* events lost: ring buffer full */
	__u64 rate_limited;/* events suppressed by `limit N/s` */
	__u64 agg_failed;  /* count/hist map updates that failed (map full) */
};

/*
 * `count by`: one entry of the `agg_counts` per-CPU hash per rule slot and
 * key. Every chosen field the packet carries is copied and its bit set in
 * `present`; everything else stays zero, so one fixed layout serves every
 * choice of keys. The value is a __u64 count per CPU.
 *
 * `hist FIELD`: per rule slot (index of the `agg_hists` per-CPU array),
 * bucket 0 counts the value 0 and bucket k >= 1 the values in
 * [2^(k-1), 2^k); fields are at most 32 bits wide, so 33 buckets.
 */
enum ferret_agg_limits {
	FERRET_AGG_ENTRIES = 16384,
	FERRET_HIST_BUCKETS = 33,
};

struct ferret_agg_key {
	__u32 slot;
	__u32 present; /* bit (1 << field) of the chosen fields the packet carried */
	__u8 saddr[16];
	__u8 daddr[16];
	char ifname[16];
	char comm[16];
	__u32 netns;
	__u32 ifindex;
	__u32 mark;
	__u32 len;
	__u32 pid;
	__u32 reason;
	__u32 func_id;
	__u32 cpu;
	__u16 family;
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 tcpflags;
	__u8 ttl;
	__u8 pad1;
	__u16 pad2;
	__u32 pad3;
} __attribute__((aligned(8)));

/*
 * The dense path of `count`: a rule whose key is empty (`count`, `count by
 * rule`) or exactly one of FERRET_DENSE_FIELDS counts into its slot of the
 * `agg_dense` per-CPU array instead of the hash: entry v for the value v
 * (< FERRET_DENSE_VALUES), entry FERRET_DENSE_ABSENT when the packet lacks
 * the field or the key has none. A larger value (a drop reason of a
 * subsystem, a CPU id >= 256) goes to the hash as before, so userspace
 * merges both. Whether a rule qualifies follows from `count_fields` alone.
 */
enum ferret_dense_layout {
	FERRET_DENSE_FIELDS = (1u << FERRET_F_PROTO) | (1u << FERRET_F_TCPFLAGS) |
			      (1u << FERRET_F_TTL) | (1u << FERRET_F_REASON) | (1u << FERRET_F_CPU),
	FERRET_DENSE_VALUES = 256,
	FERRET_DENSE_ABSENT = FERRET_DENSE_VALUES,
};

struct ferret_dense {
	__u64 counts[FERRET_DENSE_VALUES + 1];
};

/*
 * The compact tier of `count by`: a rule whose key is made of numbers only
 * (FERRET_COMPACT_FIELDS), FERRET_COMPACT_BYTES at most together, counts
 * in the `agg_compact` per-CPU hash under this 16-byte key instead of the
 * 120-byte one (cheaper to hash and compare). `present` is as in the big
 * key; `packed` holds the values of the present fields only, in ascending
 * field id from bit 0 up, each at its width (FERRET_COMPACT_W1/W2/W4
 * bytes), so the key describes itself. Whether a rule qualifies follows
 * from `count_fields` alone; the dense path still comes first.
 */
enum ferret_compact_layout {
	FERRET_COMPACT_W1 = (1u << FERRET_F_PROTO) | (1u << FERRET_F_TCPFLAGS) | (1u << FERRET_F_TTL),
	FERRET_COMPACT_W2 = (1u << FERRET_F_SPORT) | (1u << FERRET_F_DPORT) | (1u << FERRET_F_FAMILY),
	FERRET_COMPACT_W4 = (1u << FERRET_F_LEN) | (1u << FERRET_F_MARK) | (1u << FERRET_F_IFINDEX) |
			    (1u << FERRET_F_NETNS) | (1u << FERRET_F_PID) | (1u << FERRET_F_REASON) |
			    (1u << FERRET_F_FUNC) | (1u << FERRET_F_CPU),
	FERRET_COMPACT_FIELDS = FERRET_COMPACT_W1 | FERRET_COMPACT_W2 | FERRET_COMPACT_W4,
	FERRET_COMPACT_BYTES = 8,
	FERRET_COMPACT_ENTRIES = 16384,
};

struct ferret_compact_key {
	__u32 slot;
	__u32 present;
	__u64 packed;
};

struct ferret_hist {
	__u64 missing; /* matches whose packet did not carry the field */
	__u64 buckets[FERRET_HIST_BUCKETS];
};

/* `limit N/s` state of one rule slot: a fixed one-second window. */
struct ferret_limit {
	__u64 window_start_ns;
	__u64 count; /* deliveries attempted in the window */
};

/*
 * The layouts on their own: no implicit padding anywhere (Rust reads these
 * as plain bytes), and the byte fields of meta and the agg key 8-aligned
 * (the interpreter and fill_agg_key load them as u64 words).
 */
#define FERRET_ABI_OFFSET(type, member) __builtin_offsetof(struct type, member)
_Static_assert(sizeof(struct ferret_insn) == 40, "ferret_insn layout");
_Static_assert(sizeof(struct ferret_rule) == 48 + 40 * FERRET_MAX_INSNS, "ferret_rule layout");
_Static_assert(FERRET_ABI_OFFSET(ferret_rule, insns) == 48, "ferret_rule layout");
_Static_assert(sizeof(struct ferret_guard) == 8 + 16 * FERRET_GUARD_RANGES, "ferret_guard layout");
_Static_assert(FERRET_ABI_OFFSET(ferret_config, guards) == 16, "ferret_config layout");
_Static_assert(sizeof(struct ferret_config) == 16 + FERRET_GUARD_HOOKS * sizeof(struct ferret_guard),
	       "ferret_config layout");
_Static_assert(sizeof(struct ferret_meta) == 144, "ferret_meta layout");
_Static_assert(FERRET_ABI_OFFSET(ferret_meta, family) == 68, "ferret_meta layout");
_Static_assert(FERRET_ABI_OFFSET(ferret_meta, saddr) == 80, "ferret_meta layout");
_Static_assert(FERRET_ABI_OFFSET(ferret_meta, daddr) == 96, "ferret_meta layout");
_Static_assert(FERRET_ABI_OFFSET(ferret_meta, ifname) == 112, "ferret_meta layout");
_Static_assert(FERRET_ABI_OFFSET(ferret_meta, comm) == 128, "ferret_meta layout");
_Static_assert(sizeof(struct ferret_event) == 32 + sizeof(struct ferret_meta), "ferret_event layout");
_Static_assert(FERRET_ABI_OFFSET(ferret_event, wire_len) == 28, "ferret_event layout");
_Static_assert(sizeof(struct ferret_counters) == 48, "ferret_counters layout");
_Static_assert(sizeof(struct ferret_agg_key) == 120, "ferret_agg_key layout");
_Static_assert(_Alignof(struct ferret_agg_key) == 8, "ferret_agg_key layout");
_Static_assert(FERRET_ABI_OFFSET(ferret_agg_key, saddr) == 8, "ferret_agg_key layout");
_Static_assert(FERRET_ABI_OFFSET(ferret_agg_key, netns) == 72, "ferret_agg_key layout");
_Static_assert(FERRET_ABI_OFFSET(ferret_agg_key, family) == 104, "ferret_agg_key layout");
_Static_assert(FERRET_ABI_OFFSET(ferret_agg_key, proto) == 110, "ferret_agg_key layout");
_Static_assert(sizeof(struct ferret_dense) == 8 * (FERRET_DENSE_VALUES + 1), "ferret_dense layout");
_Static_assert(sizeof(struct ferret_compact_key) == 16, "ferret_compact_key layout");
_Static_assert(FERRET_ABI_OFFSET(ferret_compact_key, packed) == 8, "ferret_compact_key layout");
_Static_assert(sizeof(struct ferret_hist) == 8 * (1 + FERRET_HIST_BUCKETS), "ferret_hist layout");
_Static_assert(sizeof(struct ferret_limit) == 16, "ferret_limit layout");
#undef FERRET_ABI_OFFSET

/* The classic BPF (pcap filter) part of the contract. */
#include "ferret_abi_cbpf.h"

#endif
