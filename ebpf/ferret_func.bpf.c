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
 * engine/kernel/src/func_catalog.rs's table) is the link's BPF cookie.
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

static __always_inline int on_func(struct pt_regs *ctx, __u64 skb)
{
	__u32 id = (__u32)bpf_get_attach_cookie(ctx);
	__u64 *mask = bpf_map_lookup_elem(&func_rules, &id);

	/* Probes of functions that no rule selects now stay cheap. */
	if (!mask || !*mask)
		return 0;
	return handle_skb(ctx, skb, FERRET_HOOK_FUNC, id);
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
	__u32 id = (__u32)bpf_get_attach_cookie(ctx);
	__u64 *mask = bpf_map_lookup_elem(&func_rules, &id);

	if (!mask || !*mask)
		return 0;
	return handle_skb(ctx, skb, FERRET_HOOK_FUNC, id);
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
