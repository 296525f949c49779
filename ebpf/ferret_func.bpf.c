// SPDX-License-Identifier: GPL-2.0
/*
 * Function triggers (`func GLOB`, `any`): the kprobe and fentry entry
 * programs, in an object of their own over the same body (handle.bpf.h)
 * and the same maps (maps.bpf.h) as ferret.bpf.c.
 *
 * Why a second object: aya 0.14 refuses a whole object that has a
 * `kprobe.multi` section, and cannot load a program with the expected attach
 * type BPF_TRACE_KPROBE_MULTI that a kprobe.multi link requires. So this
 * object is never given to aya: engine/kernel/src/funcload.rs parses it with
 * aya-obj, points its map references at the maps aya created for the main
 * object (same definitions, same names), and loads the programs below with
 * BPF_PROG_LOAD itself, with the attach type the chosen backend needs. The
 * sections are plain "kprobe" because the attach type is the loader's
 * choice, not the section's.
 *
 * One program per argument position serves every function whose first
 * `struct sk_buff *` parameter sits there; the function's id (its index in
 * engine/kernel/src/func_catalog.rs's table) is the link's BPF cookie, with
 * the position of a drop function's reason argument beside it.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <asm/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "ferret_abi.h"
#include "maps.bpf.h"
#include "handle.bpf.h"
#include "abi_types.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/*
 * The link's cookie (engine/kernel/src/func_catalog.rs, FuncEntry::cookie):
 * the function id in the low half; in the high half the position (1..5) of
 * the function's `enum skb_drop_reason` argument, 0 for functions that are
 * not drops. Drop functions are found in the kernel's BTF by that argument's
 * type, so no name is known here.
 */
#define COOKIE_FUNC_ID(c) ((__u32)(c))
#define COOKIE_REASON_ARG(c) ((__u32)((c) >> 32))

/*
 * Argument `n` (1..5) of a probed function, from the kprobe's registers.
 * Each register is loaded at its constant offset and hidden from the
 * compiler before the choice: otherwise clang loads through a pointer it
 * computed from `n`, which the verifier refuses for a context.
 */
static __always_inline __u64 kprobe_arg(struct pt_regs *ctx, __u32 n)
{
	__u64 a1 = PT_REGS_PARM1(ctx), a2 = PT_REGS_PARM2(ctx), a3 = PT_REGS_PARM3(ctx);
	__u64 a4 = PT_REGS_PARM4(ctx), a5 = PT_REGS_PARM5(ctx);

	barrier_var(a1);
	barrier_var(a2);
	barrier_var(a3);
	barrier_var(a4);
	barrier_var(a5);
	return n == 1 ? a1 : n == 2 ? a2 : n == 3 ? a3 : n == 4 ? a4 : a5;
}

/*
 * The function hook's pre-check (guard.bpf.h), before the per-event state
 * is set up: with bpf_rdonly_cast (6.2+) the skb's fields are plain loads
 * through a typed pointer, as in the tp_btf programs. Without it the code
 * is dead (the flag is a constant the verifier sees) and every call takes
 * the full path, which reads the skb through helpers.
 */
static __always_inline int func_guard_rejects(const struct hook_call *call)
{
	const struct ferret_config *cfg;

	if (!ferret_have_rdonly_cast || !call->skb_addr)
		return 0;
	cfg = hook_config(FERRET_HOOK_FUNC);
	if (!cfg)
		return 0;
	if (!guard_rejects(cfg, FERRET_GUARD_FUNC, SKB_AT(call->skb_addr), call->reason,
			   call->has_reason))
		return 0;
	count_guard_skip(FERRET_GUARD_FUNC);
	return 1;
}

static __always_inline int on_func(struct pt_regs *ctx, __u64 skb)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u32 id = COOKIE_FUNC_ID(cookie);
	__u32 reason_arg = COOKIE_REASON_ARG(cookie);
	__u64 *mask = bpf_map_lookup_elem(&func_rules, &id);
	struct hook_call call = {
		.ctx = ctx,
		.skb_addr = skb,
		.hook = FERRET_HOOK_FUNC,
		.func_id = id,
	};

	/* Probes of functions that no rule selects now stay cheap. */
	if (!mask || !*mask)
		return 0;
	if (reason_arg) {
		call.reason = (__u32)kprobe_arg(ctx, reason_arg);
		call.has_reason = 1;
	}
	if (func_guard_rejects(&call))
		return 0;
	return handle(&call, 0);
}

#define FUNC_ARG(n)                                                                                \
	SEC("kprobe")                                                                              \
	int ferret_kprobe_arg##n(struct pt_regs *ctx)                                              \
	{                                                                                          \
		return on_func(ctx, (__u64)PT_REGS_PARM##n(ctx));                                  \
	}

FUNC_ARG(1)
FUNC_ARG(2)
FUNC_ARG(3)
FUNC_ARG(4)
FUNC_ARG(5)

/*
 * `track` follows clones and copies: skb_clone and the skb_copy family all
 * call __copy_skb_header(new, old) before the new skb is used, so the new
 * skb inherits the old one's tracking bits here.
 */
SEC("kprobe")
int ferret_kprobe_clone(struct pt_regs *ctx)
{
	__u64 new_skb = (__u64)PT_REGS_PARM1(ctx);
	__u64 old_skb = (__u64)PT_REGS_PARM2(ctx);
	__u64 *bits = bpf_map_lookup_elem(&track, &old_skb);
	__u64 copy;

	if (!bits || !*bits)
		return 0;
	copy = *bits;
	bpf_map_update_elem(&track, &new_skb, &copy, BPF_ANY);
	return 0;
}

/*
 * fentry: for kernels where kprobes are missing but BPF trampolines work.
 * A trampoline program is verified for one target function, so the loader
 * loads one of these per function (attach_btf_id), in parallel; the context
 * is the argument array, and the function id is the link's cookie.
 */
static __always_inline int on_func_tracing(void *ctx, __u64 skb)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u32 id = COOKIE_FUNC_ID(cookie);
	__u32 reason_arg = COOKIE_REASON_ARG(cookie);
	__u64 *mask = bpf_map_lookup_elem(&func_rules, &id);
	struct hook_call call = {
		.ctx = ctx,
		.skb_addr = skb,
		.hook = FERRET_HOOK_FUNC,
		.func_id = id,
	};
	__u64 reason;

	if (!mask || !*mask)
		return 0;
	/*
	 * The context admits only constant indexes below the target's argument
	 * count, and one program serves drop and other functions alike: the
	 * helper (5.17+, older than the cookies fentry already needs) checks a
	 * runtime index instead.
	 */
	if (reason_arg && !bpf_get_func_arg(ctx, reason_arg - 1, &reason)) {
		call.reason = (__u32)reason;
		call.has_reason = 1;
	}
	if (func_guard_rejects(&call))
		return 0;
	return handle(&call, 0);
}

#define FENTRY_ARG(n)                                                                              \
	SEC("fentry")                                                                              \
	int ferret_fentry_arg##n(__u64 *ctx)                                                       \
	{                                                                                          \
		return on_func_tracing(ctx, ctx[n - 1]);                                           \
	}

FENTRY_ARG(1)
FENTRY_ARG(2)
FENTRY_ARG(3)
FENTRY_ARG(4)
FENTRY_ARG(5)

/*
 * `on tc` and `on xdp`: fentry and fexit on the tc and XDP BPF programs of
 * the machine. The loader loads these once per traced program, with that
 * program as the target (attach_prog_fd, and attach_btf_id = its main
 * function in its own BTF); the cookie is the id ferret gave the program
 * (FERRET_PROG_ID0 + i, engine/kernel/src/prog_probes.rs). The kernel hands
 * the target's context over as it runs: a tc program's `struct __sk_buff *`
 * is the `struct sk_buff *`, an XDP program's `struct xdp_md *` the
 * `struct xdp_buff *`. fexit sees the return value, the verdict, after the
 * one argument.
 */
static __always_inline int on_prog(void *ctx, __u64 pkt, __u32 hook, __u16 at, __s32 ret,
				   const int xdp)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u32 id = COOKIE_FUNC_ID(cookie);
	__u64 *mask = bpf_map_lookup_elem(&func_rules, &id);
	struct hook_call call = {
		.ctx = ctx,
		.skb_addr = pkt,
		.hook = hook,
		.func_id = id,
		.prog_at = at,
		.ret = ret,
		.xdp = xdp,
	};

	if (!mask || !*mask)
		return 0;
	return handle(&call, 0);
}

SEC("fentry")
int ferret_tc_enter(__u64 *ctx)
{
	return on_prog(ctx, ctx[0], FERRET_HOOK_TC, FERRET_AT_ENTER, 0, 0);
}

SEC("fexit")
int ferret_tc_leave(__u64 *ctx)
{
	return on_prog(ctx, ctx[0], FERRET_HOOK_TC, FERRET_AT_LEAVE, (__s32)ctx[1], 0);
}

SEC("fentry")
int ferret_xdp_enter(__u64 *ctx)
{
	return on_prog(ctx, ctx[0], FERRET_HOOK_XDP, FERRET_AT_ENTER, 0, 1);
}

SEC("fexit")
int ferret_xdp_leave(__u64 *ctx)
{
	return on_prog(ctx, ctx[0], FERRET_HOOK_XDP, FERRET_AT_LEAVE, (__s32)ctx[1], 1);
}

/*
 * A tc program for `ferret features` to try fentry on: the question is
 * whether this kernel lets a trampoline attach to a BPF program, which
 * needs some program with BTF to attach to.
 */
SEC("classifier")
int ferret_tc_target(void *skb)
{
	return 0;
}
