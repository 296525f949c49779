// SPDX-License-Identifier: GPL-2.0
/*
 * What single operations cost in a program on ferret's drop tracepoint:
 * `ferret-bench --phases profile` attaches these one at a time, in turns,
 * and reports each one's cost above op_empty.
 * The results explain where ferret's own cost per call goes
 * (BENCHMARKS.md, "Where the time goes").
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "kernel_types.bpf.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} per_cpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} shared SEC(".maps");

/* Results go here so that the compiler keeps the work. */
volatile __u64 sink;

SEC("tp_btf/kfree_skb")
int op_empty(__u64 *ctx)
{
	return 0;
}

SEC("tp_btf/kfree_skb")
int op_skb_loads(__u64 *ctx)
{
	struct sk_buff *skb = (struct sk_buff *)ctx[0];

	sink = skb->len + skb->mark + skb->protocol + skb->network_header +
	       skb->transport_header + (__u64)skb->head + skb->tail + skb->mac_header;
	return 0;
}

SEC("tp_btf/kfree_skb")
int op_maps(__u64 *ctx)
{
	__u32 zero = 0;
	__u64 *c = bpf_map_lookup_elem(&shared, &zero);
	__u64 *n;

	if (!c)
		return 0;
	n = bpf_map_lookup_elem(&per_cpu, &zero);
	if (n)
		(*n)++;
	return 0;
}

SEC("tp_btf/kfree_skb")
int op_cpu_id(__u64 *ctx)
{
	sink = bpf_get_smp_processor_id();
	return 0;
}

SEC("tp_btf/kfree_skb")
int op_probe_read4(__u64 *ctx)
{
	struct sk_buff *skb = (struct sk_buff *)ctx[0];
	__u8 buf[4];

	bpf_probe_read_kernel(buf, 4, skb->head + skb->transport_header);
	sink = buf[2] + buf[3];
	return 0;
}

SEC("tp_btf/kfree_skb")
int op_probe_read64(__u64 *ctx)
{
	struct sk_buff *skb = (struct sk_buff *)ctx[0];
	__u8 buf[64];

	bpf_probe_read_kernel(buf, 64, skb->head + skb->network_header);
	sink = buf[9] + buf[22];
	return 0;
}

SEC("tp_btf/kfree_skb")
int op_ktime(__u64 *ctx)
{
	sink = bpf_ktime_get_ns();
	return 0;
}

SEC("tp_btf/kfree_skb")
int op_pid_comm(__u64 *ctx)
{
	char comm[16];

	bpf_get_current_comm(comm, sizeof(comm));
	sink = bpf_get_current_pid_tgid() + comm[0];
	return 0;
}

static long add_step(__u32 i, void *data)
{
	*(__u64 *)data += i;
	return 0;
}

SEC("tp_btf/kfree_skb")
int op_bpf_loop4(__u64 *ctx)
{
	__u64 acc = 0;

	bpf_loop(4, add_step, &acc, 0);
	sink = acc;
	return 0;
}

struct big {
	__u64 a[32];
};

static __noinline int use_big(struct big *b)
{
	return b ? b->a[sink & 31] : 0;
}

SEC("tp_btf/kfree_skb")
int op_zero_call(__u64 *ctx)
{
	struct big b = {};

	sink = use_big(&b);
	return 0;
}
