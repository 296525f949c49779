/* SPDX-License-Identifier: (MIT OR Apache-2.0) */
/*
 * The contract's classic BPF part, included by ferret_abi.h (include that):
 * mirrored by engine/core/src/abi/cbpf.rs and checked like the rest by the
 * kernel crate's abi_btf test.
 */
#ifndef FERRET_ABI_CBPF_H
#define FERRET_ABI_CBPF_H

#include <linux/types.h>

/*
 * Classic BPF programs (pcap-filter expressions compiled by libpcap) for the
 * in-kernel interpreter (cbpf.bpf.h): the `pcap_progs` array holds
 * FERRET_CBPF_PROGS of them, written by userspace after
 * engine/core/src/pcap/validate.rs accepted them with Limits::KERNEL
 * (at most FERRET_CBPF_MAX_INSNS; backward jumps only within a step budget). An instruction is
 * libpcap's `struct bpf_insn`. FERRET_CBPF_WINDOW is how many leading
 * packet bytes the interpreter copies once and loads from; loads past it
 * read the packet itself. FERRET_CBPF_TEST_BYTES bounds the frame of the
 * test entry point (`cbpf_test_frame`).
 */
enum ferret_cbpf_limits {
	/* pcap-filter parts per rule; slot of part U of rule slot S for link
	 * layer L (0 Ethernet, 1 raw IP): (S * FERRET_PCAP_UNITS + U) * 2 + L */
	FERRET_PCAP_UNITS = 4,
	FERRET_CBPF_PROGS = (FERRET_MAX_RULES + 1) * FERRET_PCAP_UNITS * 2,
	FERRET_CBPF_MAX_STEPS = 4096,
	FERRET_CBPF_MAX_INSNS = 512,
	FERRET_CBPF_MEM_WORDS = 16,
	FERRET_CBPF_WINDOW = 256,
	FERRET_CBPF_TEST_BYTES = 4096,
};

struct ferret_cbpf_insn {
	__u16 code;
	__u8 jt;
	__u8 jf;
	__u32 k;
};

struct ferret_cbpf_prog {
	__u32 len;   /* instructions in use; 0: an empty slot, which rejects */
	__u32 steps; /* steps a run may take, <= FERRET_CBPF_MAX_STEPS; then it rejects */
	struct ferret_cbpf_insn insns[FERRET_CBPF_MAX_INSNS];
};

/* Input of ferret_test_cbpf: a frame as a capture would see it. */
struct ferret_cbpf_frame {
	__u32 caplen;  /* bytes of `data` captured (at most FERRET_CBPF_TEST_BYTES) */
	__u32 wirelen; /* length on the wire, what `len` loads */
	__u8 data[FERRET_CBPF_TEST_BYTES];
};

_Static_assert(sizeof(struct ferret_cbpf_insn) == 8, "ferret_cbpf_insn layout");
_Static_assert(sizeof(struct ferret_cbpf_prog) == 8 + 8 * FERRET_CBPF_MAX_INSNS,
	       "ferret_cbpf_prog layout");
_Static_assert(sizeof(struct ferret_cbpf_frame) == 8 + FERRET_CBPF_TEST_BYTES,
	       "ferret_cbpf_frame layout");
_Static_assert((FERRET_CBPF_WINDOW & (FERRET_CBPF_WINDOW - 1)) == 0, "a power of two");

#endif
