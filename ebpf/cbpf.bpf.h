/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * A classic BPF interpreter for pcap-filter programs compiled by libpcap.
 * Its semantics are a contract with the Rust interpreter
 * (engine/core/src/pcap/interp.rs, itself held to libpcap's bpf_filter),
 * checked against it by engine/kernel/tests/kernel_cbpf.rs through
 * ferret_test_cbpf:
 *
 *   A, X and M[16] start at 0 (M lives in cbpf_scratch, per nesting level). A packet load of 1, 2 or 4 bytes at
 *   (X +) k that does not fit in the captured length rejects (returns 0);
 *   loads are big-endian. `len` loads the wire length. ldx 4*([k]&0xf) is a
 *   byte load. Division or modulo by 0 rejects; a shift by 32 or more
 *   gives 0. `ja` adds k to pc as a signed offset (32-bit wrap); a pc
 *   outside the program rejects, as does running out of steps: a run takes
 *   at most `steps` steps (the program's length, which is all a program
 *   with forward jumps only can take, or validate.rs's budget for one that
 *   loops back, like protochain).
 *   Unknown opcodes reject.
 *
 * Packet bytes: where the kernel has bpf_rdonly_cast (direct.bpf.h), each
 * load reads the packet with fault-safe plain loads, no helper call: a
 * non-matching program touches a few bytes, and one helper call costs as
 * much as the rest of the run. Elsewhere the first FERRET_CBPF_WINDOW
 * bytes (or fewer, the captured length) are copied once into a per-CPU
 * window with one bpf_probe_read_kernel, and loads inside it are plain
 * masked loads; a load past the window but inside the captured length
 * reads the packet with its own bpf_probe_read_kernel. Either way results
 * equal a capture of the whole captured length.
 *
 * The loop is bpf_loop with one callback per instruction: a bounded loop
 * over a 512-instruction program would have the verifier walk every
 * iteration.
 */
#ifndef FERRET_CBPF_BPF_H
#define FERRET_CBPF_BPF_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "compat.bpf.h"
#include <bpf/bpf_endian.h>

#include "ferret_abi.h"
#include "maps.bpf.h"
#include "direct.bpf.h"
#include "cbpf_insn.bpf.h"

#ifndef FERRET_NO_BPF_LOOP
/* bpf_loop callback: one instruction; 1 ends the run with st->ret. */
static long cbpf_step(__u32 i, void *data)
{
	struct cbpf_state *st = data;
	const struct ferret_cbpf_insn *in;
	__u32 pc = st->pc, k, v = 0;
	__u16 code;

	if (pc >= st->len || pc >= FERRET_CBPF_MAX_INSNS)
		return 1;
	in = &st->prog->insns[pc];
	code = in->code;
	k = in->k;
	st->pc = pc + 1;
	switch (CBPF_CLASS(code)) {
	case CBPF_RET:
		st->ret = CBPF_RVAL(code) == CBPF_RVAL_A ? st->a :
			  CBPF_RVAL(code) == CBPF_RVAL_X ? st->x :
							   k;
		return 1;
	case CBPF_LD:
		switch (CBPF_MODE(code)) {
		case CBPF_ABS:
			if (!cbpf_load(st, k, cbpf_load_size(code), &v))
				return 1;
			break;
		case CBPF_IND:
			if (!cbpf_load(st, (__u64)st->x + k, cbpf_load_size(code), &v))
				return 1;
			break;
		case CBPF_IMM:
			v = k;
			break;
		case CBPF_MEM:
			v = st->mem[k & (FERRET_CBPF_MEM_WORDS - 1)];
			break;
		case CBPF_LEN:
			v = st->wirelen;
			break;
		default:
			return 1;
		}
		st->a = v;
		return 0;
	case CBPF_LDX:
		switch (CBPF_MODE(code)) {
		case CBPF_IMM:
			v = k;
			break;
		case CBPF_MEM:
			v = st->mem[k & (FERRET_CBPF_MEM_WORDS - 1)];
			break;
		case CBPF_LEN:
			v = st->wirelen;
			break;
		case CBPF_MSH:
			if (!cbpf_load(st, k, 1, &v))
				return 1;
			v = (v & 0xf) << 2;
			break;
		default:
			return 1;
		}
		st->x = v;
		return 0;
	case CBPF_ST:
		st->mem[k & (FERRET_CBPF_MEM_WORDS - 1)] = st->a;
		return 0;
	case CBPF_STX:
		st->mem[k & (FERRET_CBPF_MEM_WORDS - 1)] = st->x;
		return 0;
	case CBPF_ALU:
		return !cbpf_alu(st, code, k);
	case CBPF_JMP:
		return !cbpf_jump(st, code, in->jt, in->jf, k);
	default:
		if ((code & 0xf8) == CBPF_TXA)
			st->a = st->x;
		else
			st->x = st->a;
		return 0;
	}
}
#endif

#ifdef FERRET_NO_BPF_LOOP
/*
 * No interpreter without bpf_loop: the loader refuses pcap-filter rules on
 * such kernels (a 512-instruction bounded loop is past what the verifier
 * walks), so every program here rejects.
 */
static __always_inline __u32 cbpf_run(__u32 index, __u64 pkt, __u32 caplen, __u32 wirelen)
{
	return 0;
}
#else
/*
 * Runs the program in pcap_progs slot `index` on the packet at kernel
 * address `pkt`, of which `caplen` bytes may be read and which was
 * `wirelen` long on the wire. Returns the program's `ret` value: 0
 * rejects (so does a missing or empty slot). Global, so every caller
 * shares one verified copy. Its frame is on the deepest call chain (see
 * struct cbpf_state): it holds the state and nothing else.
 */
FERRET_SUBPROG __u32 cbpf_run(__u32 index, __u64 pkt, __u32 caplen, __u32 wirelen)
{
	struct cbpf_state st = {};
	const struct ferret_cbpf_prog *prog;
	struct cbpf_scratch *s;
	__u32 level, n, steps;

	/* The arguments go into the state before the calls clobber their
	 * registers (a spill would take stack of its own), and the keys live
	 * in st.ret, which the run sets last. */
	st.pkt = pkt;
	st.caplen = caplen;
	st.wirelen = wirelen;
	st.ret = index;
	prog = bpf_map_lookup_elem(&pcap_progs, &st.ret);
	if (!prog)
		return 0;
	st.len = prog->len;
	if (st.len == 0 || st.len > FERRET_CBPF_MAX_INSNS)
		return 0;
	/* The validator's budget: the length, or more for a program that
	 * loops back (protochain); a run that uses it up rejects. */
	steps = prog->steps;
	if (steps < st.len || steps > FERRET_CBPF_MAX_STEPS)
		steps = st.len;
	st.prog = prog;
	st.ret = 0;
	s = bpf_map_lookup_elem(&cbpf_scratch, &st.ret);
	if (!s)
		return 0;
	/*
	 * pc starts at 0, read from memory so that the verifier does not know
	 * it: a known pc would grow by one constant per callback iteration
	 * and the verifier would walk all 512 of them, never finding a state
	 * it had seen.
	 */
	st.pc = s->zero;
	/*
	 * A softirq may run another ferret program on this CPU in the middle
	 * of this one: each nesting level has its own scratch. Nesting deeper
	 * than CBPF_LEVELS (process, softirq, hardirq, NMI) does not happen on
	 * the hooks ferret uses; such a run would reject.
	 */
	level = s->depth;
	if (level >= CBPF_LEVELS)
		return 0;
	s->depth = level + 1;
	/* Masked too: older verifiers do not carry the bound above to the
	 * register the index is computed in. */
	level &= CBPF_LEVELS - 1;
	st.mem = s->mem[level];
	__builtin_memset(st.mem, 0, sizeof(s->mem[0]));
	st.ret = 0;
	if (ferret_have_rdonly_cast) {
		st.window = NULL;
	} else {
		/* Stored before the call, so that nothing needs a spill slot. */
		st.window = s->window[level];
		n = st.caplen < FERRET_CBPF_WINDOW ? st.caplen : FERRET_CBPF_WINDOW;
		if (bpf_probe_read_kernel((void *)st.window, n, (const void *)st.pkt) == 0)
			st.copied = n;
	}
	bpf_loop(steps, cbpf_step, &st, 0);
	s->depth = level;
	return st.ret;
}
#endif /* FERRET_NO_BPF_LOOP */

#endif
