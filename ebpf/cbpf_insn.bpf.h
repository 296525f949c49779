/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The parts of one classic BPF instruction for the interpreter of
 * cbpf.bpf.h (which states the semantics): opcode fields, the run's state,
 * packet loads, ALU operations and jumps.
 */
#ifndef FERRET_CBPF_INSN_BPF_H
#define FERRET_CBPF_INSN_BPF_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "ferret_abi.h"
#include "direct.bpf.h"

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

/*
 * 64 bytes, the whole of cbpf_run's frame: the verifier rounds every frame
 * of a call chain up to 32 bytes, and the deepest chain (a function
 * trigger's program → eval_rule → run_pcap → cbpf_run → cbpf_step) must
 * fit in 512.
 */
struct cbpf_state {
	const struct ferret_cbpf_prog *prog; /* a pcap_progs value */
	const __u8 *window; /* this run's level of cbpf_scratch; NULL: loads read
			     * the packet through bpf_rdonly_cast */
	__u64 pkt;                           /* kernel address of packet byte 0 */
	__u32 *mem; /* this run's level of cbpf_scratch.mem, zeroed */
	__u32 len;                           /* instructions, <= FERRET_CBPF_MAX_INSNS */
	__u32 caplen;
	__u32 wirelen;
	__u32 copied; /* bytes in the window, <= FERRET_CBPF_WINDOW */
	__u32 pc;
	__u32 a;
	__u32 x;
	__u32 ret; /* also the map keys' storage before the run */
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
	if (!w) {
		const struct ethhdr *h = BYTES_AT(st->pkt + off);

		if (size == 4)
			*out = (__u32)h->h_dest[0] << 24 | (__u32)h->h_dest[1] << 16 |
			       (__u32)h->h_dest[2] << 8 | h->h_dest[3];
		else if (size == 2)
			*out = (__u32)h->h_dest[0] << 8 | h->h_dest[1];
		else
			*out = h->h_dest[0];
		return 1;
	}
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

#endif
