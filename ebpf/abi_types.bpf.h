/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Keeps every type of the contract (ferret_abi.h) in an object's BTF, where
 * the engine's abi_btf test reads them. Clang emits BTF for the parameter
 * types of every global function, called or not, while an enum no variable
 * has as its type would not be there at all. The function is never called,
 * so no program contains it and it costs nothing at load time; it adds no
 * map or global data either. Each entry file includes this once.
 */
#ifndef FERRET_ABI_TYPES_BPF_H
#define FERRET_ABI_TYPES_BPF_H

#include "ferret_abi.h"

struct ferret_abi_types {
	enum ferret_rule_limits rule_limits;
	enum ferret_field field;
	enum ferret_op op;
	enum ferret_target target;
	enum ferret_hook hook;
	enum ferret_trigger_limits trigger_limits;
	enum ferret_prog_at prog_at;
	enum ferret_action action;
	enum ferret_rule_state rule_state;
	enum ferret_guard_limits guard_limits;
	enum ferret_tcp_flag tcp_flag;
	enum ferret_event_kind event_kind;
	enum ferret_agg_limits agg_limits;
	enum ferret_dense_layout dense_layout;
	enum ferret_compact_layout compact_layout;
	enum ferret_cbpf_limits cbpf_limits;
	struct ferret_insn insn;
	struct ferret_rule rule;
	struct ferret_guard guard;
	struct ferret_config config;
	struct ferret_meta meta;
	struct ferret_event event;
	struct ferret_counters counters;
	struct ferret_agg_key agg_key;
	struct ferret_dense dense;
	struct ferret_compact_key compact_key;
	struct ferret_hist hist;
	struct ferret_limit limit;
	struct ferret_cbpf_insn cbpf_insn;
	struct ferret_cbpf_prog cbpf_prog;
	struct ferret_cbpf_frame cbpf_frame;
};

int ferret_abi_types(const struct ferret_abi_types *types)
{
	return 0;
}

#endif
