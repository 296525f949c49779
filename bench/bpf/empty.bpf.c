// SPDX-License-Identifier: GPL-2.0
/*
 * The floor of the cost table: programs on ferret's drop tracepoint that do
 * nothing, so the kernel's own dispatch and bpf_stats bookkeeping can be told
 * apart from what ferret's code costs.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/kfree_skb")
int empty_drop_btf(__u64 *ctx)
{
	return 0;
}

SEC("raw_tp/kfree_skb")
int empty_drop_raw(void *ctx)
{
	return 0;
}
