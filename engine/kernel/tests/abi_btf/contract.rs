//! The Rust side of the contract, written out for comparison: every shared
//! struct's layout (from `size_of` and `offset_of!`) and every shared number,
//! each under the name of its C twin.

use ferret_core::abi::{
    self, act, field, hook, op, AggKey, CbpfFrame, CbpfProg, CompactKey, Config, Counters, Dense,
    EventHeader, Guard, Hist, Insn, Limit, Meta, Rule,
};
use ferret_kernel::func_catalog;
use std::mem::offset_of;

/// A Rust struct as the compiler laid it out.
pub struct RustStruct {
    pub c_name: &'static str,
    pub size: usize,
    /// (member, byte offset, byte size).
    pub members: Vec<(&'static str, usize, usize)>,
}

/// `layout!(Type => "c_name" { member, .. })`: the size of `Type` and the
/// offset and size of each member.
macro_rules! layout {
    ($ty:ty => $c:literal { $($member:ident),* $(,)? }) => {{
        let value = <$ty>::default();
        RustStruct {
            c_name: $c,
            size: size_of::<$ty>(),
            members: vec![$((
                stringify!($member),
                offset_of!($ty, $member),
                size_of_val(&value.$member),
            )),*],
        }
    }};
}

/// Every struct shared with the C side.
pub fn structs() -> Vec<RustStruct> {
    vec![
        layout!(Insn => "ferret_insn" {
            field, op, jt, jf, pad, value_hi, value_lo, mask_hi, mask_lo,
        }),
        layout!(Rule => "ferret_rule" {
            state, hooks, actions, ninsns, limit_per_sec, count_fields, hist_field, snaplen,
            pcap_units, pad, insns,
        }),
        layout!(Guard => "ferret_guard" { field, nranges, lo, hi }),
        layout!(Config => "ferret_config" { nrules, needs, hooks, wakeup_bytes, guards }),
        layout!(Meta => "ferret_meta" {
            skb, ts_ns, location, cpu, pid, tid, netns, ifindex, mark, len, mtu, reason,
            func_id, present, family, proto, tcpflags, ttl, pcap, sport, dport, prog_at, saddr,
            daddr, ifname, comm,
        }),
        layout!(EventHeader => "ferret_event" {
            kind, hook, rules, stack_id, cap_len, cap_l2, wire_len, meta,
        }),
        layout!(Counters => "ferret_counters" {
            seen, matched, emitted, ring_full, rate_limited, agg_failed,
        }),
        layout!(Limit => "ferret_limit" { window_start_ns, count }),
        layout!(AggKey => "ferret_agg_key" {
            slot, present, saddr, daddr, ifname, comm, netns, ifindex, mark, len, pid, reason,
            func_id, cpu, family, sport, dport, proto, tcpflags, ttl, pad1, pad2, pad3,
        }),
        layout!(CompactKey => "ferret_compact_key" { slot, present, packed }),
        layout!(Dense => "ferret_dense" { counts }),
        layout!(Hist => "ferret_hist" { missing, buckets }),
        layout!(ferret_core::pcap::Insn => "ferret_cbpf_insn" { code, jt, jf, k }),
        layout!(CbpfProg => "ferret_cbpf_prog" { len, steps, insns }),
        layout!(CbpfFrame => "ferret_cbpf_frame" { caplen, wirelen, data }),
    ]
}

/// `numbers![C_NAME => rust_value, ..]`
macro_rules! numbers {
    ($($c:ident => $rust:expr),* $(,)?) => {
        vec![$((stringify!($c), u64::try_from($rust).expect("a contract number is unsigned"))),*]
    };
}

/// Every enumerator of the contract, by its C name, with the Rust value.
pub fn numbers() -> Vec<(&'static str, u64)> {
    numbers![
        // enum ferret_rule_limits
        FERRET_MAX_RULES => abi::MAX_RULES,
        FERRET_MAX_INSNS => abi::MAX_INSNS,
        FERRET_MAX_SNAPLEN => abi::MAX_SNAPLEN,
        FERRET_TEST_SLOT => abi::TEST_SLOT,
        // enum ferret_field
        FERRET_F_NONE => field::NONE,
        FERRET_F_SADDR => field::SADDR,
        FERRET_F_DADDR => field::DADDR,
        FERRET_F_SPORT => field::SPORT,
        FERRET_F_DPORT => field::DPORT,
        FERRET_F_PROTO => field::PROTO,
        FERRET_F_FAMILY => field::FAMILY,
        FERRET_F_LEN => field::LEN,
        FERRET_F_MARK => field::MARK,
        FERRET_F_IFNAME => field::IFNAME,
        FERRET_F_IFINDEX => field::IFINDEX,
        FERRET_F_NETNS => field::NETNS,
        FERRET_F_PID => field::PID,
        FERRET_F_COMM => field::COMM,
        FERRET_F_TCPFLAGS => field::TCPFLAGS,
        FERRET_F_TTL => field::TTL,
        FERRET_F_REASON => field::REASON,
        FERRET_F_FUNC => field::FUNC,
        FERRET_F_CPU => field::CPU,
        FERRET_F_COUNT => field::COUNT,
        FERRET_F_PCAP => field::PCAP,
        // enum ferret_op
        FERRET_OP_EQ => op::EQ,
        FERRET_OP_NE => op::NE,
        FERRET_OP_LT => op::LT,
        FERRET_OP_LE => op::LE,
        FERRET_OP_GT => op::GT,
        FERRET_OP_GE => op::GE,
        // enum ferret_target
        FERRET_TARGET_MATCH => abi::TARGET_MATCH,
        FERRET_TARGET_NOMATCH => abi::TARGET_NOMATCH,
        // enum ferret_hook
        FERRET_HOOK_DROP => hook::DROP,
        FERRET_HOOK_FREE => hook::FREE,
        FERRET_HOOK_RECV => hook::RECV,
        FERRET_HOOK_XMIT => hook::XMIT,
        FERRET_HOOK_QUEUE => hook::QUEUE,
        FERRET_HOOK_TP0 => hook::TP0,
        FERRET_HOOK_FUNC => hook::FUNC,
        FERRET_HOOK_TC => hook::TC,
        FERRET_HOOK_XDP => hook::XDP,
        // enum ferret_trigger_limits
        FERRET_TP_SLOTS => abi::TP_SLOTS,
        FERRET_TP_SKB_ARG_MAX => abi::TP_SKB_ARG_MAX,
        FERRET_FUNC_ID0 => func_catalog::FUNC_ID0,
        FERRET_MAX_FUNCS => func_catalog::MAX_FUNCS,
        FERRET_PROG_ID0 => abi::PROG_ID0,
        FERRET_MAX_PROGS => abi::MAX_PROGS,
        // enum ferret_prog_at
        FERRET_AT_NONE => abi::prog_at::NONE,
        FERRET_AT_ENTER => abi::prog_at::ENTER,
        FERRET_AT_LEAVE => abi::prog_at::LEAVE,
        // enum ferret_action
        FERRET_ACT_PRINT => act::PRINT,
        FERRET_ACT_STACK => act::STACK,
        FERRET_ACT_COUNT => act::COUNT,
        FERRET_ACT_HIST => act::HIST,
        FERRET_ACT_CAPTURE => act::CAPTURE,
        FERRET_ACT_TRACK => act::TRACK,
        FERRET_ACT_CALL => act::CALL,
        FERRET_ACT_DELIVER => act::DELIVER,
        // enum ferret_rule_state
        FERRET_RULE_EMPTY => abi::RULE_EMPTY,
        FERRET_RULE_ACTIVE => abi::RULE_ACTIVE,
        FERRET_RULE_PAUSED => abi::RULE_PAUSED,
        // enum ferret_guard_limits
        FERRET_GUARD_FUNC => abi::GUARD_FUNC,
        FERRET_GUARD_HOOKS => abi::GUARD_HOOKS,
        FERRET_GUARD_RANGES => abi::GUARD_RANGES,
        // enum ferret_tcp_flag
        FERRET_TCP_FIN => abi::TCP_FIN,
        FERRET_TCP_SYN => abi::TCP_SYN,
        FERRET_TCP_RST => abi::TCP_RST,
        FERRET_TCP_PSH => abi::TCP_PSH,
        FERRET_TCP_ACK => abi::TCP_ACK,
        FERRET_TCP_URG => abi::TCP_URG,
        // enum ferret_event_kind
        FERRET_EVENT_PACKET => abi::EVENT_PACKET,
        // enum ferret_agg_limits
        FERRET_AGG_ENTRIES => abi::AGG_ENTRIES,
        FERRET_HIST_BUCKETS => abi::HIST_BUCKETS,
        // enum ferret_dense_layout
        FERRET_DENSE_FIELDS => abi::DENSE_FIELDS,
        FERRET_DENSE_VALUES => abi::DENSE_VALUES,
        FERRET_DENSE_ABSENT => abi::DENSE_ABSENT,
        // enum ferret_compact_layout
        FERRET_COMPACT_W1 => abi::COMPACT_W1,
        FERRET_COMPACT_W2 => abi::COMPACT_W2,
        FERRET_COMPACT_W4 => abi::COMPACT_W4,
        FERRET_COMPACT_FIELDS => abi::COMPACT_FIELDS,
        FERRET_COMPACT_BYTES => abi::COMPACT_BYTES,
        FERRET_COMPACT_ENTRIES => abi::COMPACT_ENTRIES,
        // enum ferret_cbpf_limits
        FERRET_PCAP_UNITS => abi::PCAP_UNITS,
        FERRET_CBPF_PROGS => abi::CBPF_PROGS,
        FERRET_CBPF_MAX_STEPS => abi::CBPF_MAX_STEPS,
        FERRET_CBPF_MAX_INSNS => abi::CBPF_MAX_INSNS,
        FERRET_CBPF_MEM_WORDS => abi::CBPF_MEM_WORDS,
        FERRET_CBPF_WINDOW => abi::CBPF_WINDOW,
        FERRET_CBPF_TEST_BYTES => abi::CBPF_TEST_BYTES,
    ]
}
