/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * A classic BPF interpreter for pcap-filter programs compiled by libpcap.
 * Its semantics are a contract with the Rust interpreter
 * (engine/core/src/pcap/interp.rs, itself held to libpcap's bpf_filter),
 * checked against it by engine/kernel/tests/kernel_cbpf.rs through
 * ferret_test_cbpf:
 *
 *   A, X and M[16] start at 0. A packet load of 1, 2 or 4 bytes at
 *   (X +) k that does not fit in the captured length rejects (returns 0);
 *   loads are big-endian. `len` loads the wire length. ldx 4*([k]&0xf) is a
 *   byte load. Division or modulo by 0 rejects; a shift by 32 or more
 *   gives 0. `ja` adds k to pc as a signed offset (32-bit wrap); a pc
 *   outside the program rejects, as does running out of steps: a run takes
 *   at most `len` steps, which is all a program with forward jumps only
 *   can take (validate.rs refuses any other before userspace writes it).
 *   Unknown opcodes reject.
 *
 * Packet bytes: the first FERRET_CBPF_WINDOW bytes (or fewer, the captured
 * length) are copied once into a per-CPU window with one
 * bpf_probe_read_kernel, and loads inside it are plain masked loads; a
 * load past the window but inside the captured length reads the packet
 * with its own bpf_probe_read_kernel, so results equal a capture of the
 * whole captured length. libpcap's programs read fixed offsets up to
 * about 114 bytes; only variable offsets behind long headers go further.
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

#define CBPF_WINDOW_MASK (FERRET_CBPF_WINDOW - 1)

/* Fields of a classic BPF opcode (linux/filter.h, pcap/bpf.h). */
#define CBPF_CLASS(c) ((c) & 0x07)
#define CBPF_SIZE(c) ((c) & 0x18)
#define CBPF_MODE(c) ((c) & 0xe0)
#define CBPF_OP(c) ((c) & 0xf0)
#define CBPF_SRC_X(c) ((c) & 0x08)
#define CBPF_RVAL(c) ((c) & 0x18)

enum cbpf_class {
	CBPF_LD = 0x00,
	CBPF_LDX = 0x01,
	CBPF_ST = 0x02,
	CBPF_STX = 0x03,
	CBPF_ALU = 0x04,
	CBPF_JMP = 0x05,
	CBPF_RET = 0x06,
	CBPF_MISC = 0x07,
};

enum cbpf_size { CBPF_W = 0x00, CBPF_H = 0x08 };

enum cbpf_mode {
	CBPF_IMM = 0x00,
	CBPF_ABS = 0x20,
	CBPF_IND = 0x40,
	CBPF_MEM = 0x60,
	CBPF_LEN = 0x80,
	CBPF_MSH = 0xa0,
};

enum cbpf_op {
	CBPF_ADD = 0x00,
	CBPF_SUB = 0x10,
	CBPF_MUL = 0x20,
	CBPF_DIV = 0x30,
	CBPF_OR = 0x40,
	CBPF_AND = 0x50,
	CBPF_LSH = 0x60,
	CBPF_RSH = 0x70,
	CBPF_NEG = 0x80,
	CBPF_MOD = 0x90,
	CBPF_XOR = 0xa0,
};

enum cbpf_jmp { CBPF_JA = 0x00, CBPF_JEQ = 0x10, CBPF_JGT = 0x20, CBPF_JGE = 0x30, CBPF_JSET = 0x40 };

/* ret's operand: K is 0x00. */
enum cbpf_rval { CBPF_RVAL_X = 0x08, CBPF_RVAL_A = 0x10 };

/* misc: tax is 0x00 */
#define CBPF_TXA 0x80

struct cbpf_state {
	const struct ferret_cbpf_prog *prog; /* a pcap_progs value */
	const __u8 *window;                  /* this run's level of cbpf_scratch */
	__u64 pkt;                           /* kernel address of packet byte 0 */
	__u32 len;                           /* instructions, <= FERRET_CBPF_MAX_INSNS */
	__u32 caplen;
	__u32 wirelen;
	__u32 copied; /* bytes in the window, <= FERRET_CBPF_WINDOW */
	__u32 pc;
	__u32 a;
	__u32 x;
	__u32 ret;
	__u32 *mem; /* M[]: this level's row of cbpf_scratch.mem */
};

/* A big-endian load of `size` (1, 2 or 4) bytes at `off`; 0 when it does
 * not fit in the captured length (the run rejects then). */
static __always_inline int cbpf_load(const struct cbpf_state *st, __u64 off, __u32 size,
				     __u32 *out)
{
	const __u8 *w = st->window;
	__u32 i = (__u32)off;

	if (off + size > st->caplen)
		return 0;
	if (off + size <= st->copied) {
		if (size == 4)
			*out = (__u32)w[i & CBPF_WINDOW_MASK] << 24 |
			       (__u32)w[(i + 1) & CBPF_WINDOW_MASK] << 16 |
			       (__u32)w[(i + 2) & CBPF_WINDOW_MASK] << 8 |
			       w[(i + 3) & CBPF_WINDOW_MASK];
		else if (size == 2)
			*out = (__u32)w[i & CBPF_WINDOW_MASK] << 8 | w[(i + 1) & CBPF_WINDOW_MASK];
		else
			*out = w[i & CBPF_WINDOW_MASK];
		return 1;
	}
	/* Past the window: read the packet itself. */
	if (size == 4) {
		__u32 v;

		if (bpf_probe_read_kernel(&v, 4, (const void *)(st->pkt + off)))
			return 0;
		*out = bpf_ntohl(v);
	} else if (size == 2) {
		__u16 v;

		if (bpf_probe_read_kernel(&v, 2, (const void *)(st->pkt + off)))
			return 0;
		*out = bpf_ntohs(v);
	} else {
		__u8 v;

		if (bpf_probe_read_kernel(&v, 1, (const void *)(st->pkt + off)))
			return 0;
		*out = v;
	}
	return 1;
}

static __always_inline __u32 cbpf_load_size(__u16 code)
{
	switch (CBPF_SIZE(code)) {
	case CBPF_W:
		return 4;
	case CBPF_H:
		return 2;
	default:
		return 1;
	}
}

/* Returns 0 when the instruction rejects (division by 0, unknown op). */
static __always_inline int cbpf_alu(struct cbpf_state *st, __u16 code, __u32 k)
{
	__u32 a = st->a, v = CBPF_SRC_X(code) ? st->x : k;

	switch (CBPF_OP(code)) {
	case CBPF_ADD:
		a += v;
		break;
	case CBPF_SUB:
		a -= v;
		break;
	case CBPF_MUL:
		a *= v;
		break;
	case CBPF_DIV:
		if (v == 0)
			return 0;
		a /= v;
		break;
	case CBPF_MOD:
		if (v == 0)
			return 0;
		a %= v;
		break;
	case CBPF_AND:
		a &= v;
		break;
	case CBPF_OR:
		a |= v;
		break;
	case CBPF_XOR:
		a ^= v;
		break;
	case CBPF_LSH:
		a = v >= 32 ? 0 : a << v;
		break;
	case CBPF_RSH:
		a = v >= 32 ? 0 : a >> v;
		break;
	case CBPF_NEG:
		a = -a;
		break;
	default:
		return 0;
	}
	st->a = a;
	return 1;
}

/* Returns 0 when the jump's operation is unknown; moves pc otherwise. */
static __always_inline int cbpf_jump(struct cbpf_state *st, __u16 code, __u8 jt, __u8 jf,
				     __u32 k)
{
	__u32 v = CBPF_SRC_X(code) ? st->x : k;
	int taken;

	switch (CBPF_OP(code)) {
	case CBPF_JA:
		/* Signed: adding k wraps the same way, and a pc outside the
		 * program ends the run at the next step. */
		st->pc += k;
		return 1;
	case CBPF_JEQ:
		taken = st->a == v;
		break;
	case CBPF_JGT:
		taken = st->a > v;
		break;
	case CBPF_JGE:
		taken = st->a >= v;
		break;
	case CBPF_JSET:
		taken = (st->a & v) != 0;
		break;
	default:
		return 0;
	}
	st->pc += taken ? jt : jf;
	return 1;
}

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
static __always_inline __u32 cbpf_run(const struct ferret_cbpf_prog *prog, __u64 pkt,
				      __u32 caplen, __u32 wirelen)
{
	return 0;
}
#else
/*
 * Runs `prog` on the packet at kernel address `pkt`, of which `caplen`
 * bytes may be read and which was `wirelen` long on the wire. Returns the
 * program's `ret` value: 0 rejects. Global, so every caller shares one
 * verified copy.
 */
FERRET_SUBPROG __u32 cbpf_run(const struct ferret_cbpf_prog *prog, __u64 pkt, __u32 caplen,
			  __u32 wirelen)
{
	struct cbpf_state st = {};
	struct cbpf_scratch *s;
	__u32 zero = 0, level, row, n;

	if (!prog)
		return 0;
	st.len = prog->len;
	if (st.len == 0 || st.len > FERRET_CBPF_MAX_INSNS)
		return 0;
	s = bpf_map_lookup_elem(&cbpf_scratch, &zero);
	if (!s)
		return 0;
	st.prog = prog;
	st.pkt = pkt;
	st.caplen = caplen;
	st.wirelen = wirelen;
	/*
	 * pc starts at 0, read from memory so that the verifier does not know
	 * it: a known pc would grow by one constant per callback iteration
	 * and the verifier would walk all 512 of them, never finding a state
	 * it had seen.
	 */
	st.pc = s->zero;
	level = s->depth;
	/* Masked after the compiler forgets the comparison: older verifiers
	 * do not carry a bound learned on one register to its copy. */
	row = level < CBPF_LEVELS ? level : CBPF_LEVELS;
	barrier_var(row);
	st.mem = s->mem[row & (CBPF_MEM_ROWS - 1)];
	__builtin_memset(st.mem, 0, sizeof(s->mem[0]));
	if (level < CBPF_LEVELS) {
		n = caplen < FERRET_CBPF_WINDOW ? caplen : FERRET_CBPF_WINDOW;
		if (bpf_probe_read_kernel(s->window[level], n, (const void *)pkt) == 0)
			st.copied = n;
		st.window = s->window[level];
		s->depth = level + 1;
	} else {
		/* Nested deeper than the levels: every load reads the packet. */
		st.window = s->window[0];
	}
	bpf_loop(st.len, cbpf_step, &st, 0);
	if (level < CBPF_LEVELS)
		s->depth = level;
	return st.ret;
}
#endif /* FERRET_NO_BPF_LOOP */

#endif
