//! Generators for the kernel differential test (kernel_filter.rs): rules
//! and packet metadata whose values come from small shared pools, so that
//! comparisons hit as well as miss, plus out-of-contract inputs (unknown
//! fields and ops, backward and out-of-range jumps, overlong ninsns).

use ferret_core::abi::{self, field, Insn, Meta, Rule, MAX_INSNS};
use proptest::prelude::*;
use std::net::IpAddr;

const PORTS: [u16; 5] = [0, 22, 80, 443, 65535];
const BYTES: [u8; 5] = [0, 1, 6, 17, 255];
const WORDS: [u32; 5] = [0, 1, 1500, 0xf000_0000, u32::MAX];
const ADDRS: [&str; 7] = [
    "10.0.0.1",
    "10.0.0.2",
    "192.168.1.1",
    "127.0.0.1",
    "2001:db8::1",
    "fe80::1",
    "::1",
];
const NAMES: [&str; 5] = ["lo", "eth0", "veth0", "ferret", "curl"];
/// Fields the kernel stores, then ids it has no storage for.
const KNOWN: std::ops::RangeInclusive<u8> = 1..=18;
const UNKNOWN: [u8; 5] = [0, 19, 31, 32, 200];

/// An address as the kernel stores it: IPv4 mapped into IPv6.
pub fn addr(s: &str) -> [u8; 16] {
    match s.parse::<IpAddr>().unwrap() {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

pub fn name(s: &str) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..s.len()].copy_from_slice(s.as_bytes());
    b
}

/// (hi, lo) the way both evaluators load 16 raw bytes.
pub fn words(b: [u8; 16]) -> (u64, u64) {
    let hi = u64::from_ne_bytes(b[..8].try_into().unwrap());
    let lo = u64::from_ne_bytes(b[8..].try_into().unwrap());
    (hi, lo)
}

fn pick<T: Clone + std::fmt::Debug + 'static>(pool: &[T]) -> impl Strategy<Value = T> {
    prop::sample::select(pool.to_vec())
}

fn port() -> impl Strategy<Value = u16> {
    prop_oneof![3 => pick(&PORTS), 1 => any::<u16>()]
}
fn byte() -> impl Strategy<Value = u8> {
    prop_oneof![3 => pick(&BYTES), 1 => any::<u8>()]
}
fn word() -> impl Strategy<Value = u32> {
    prop_oneof![3 => pick(&WORDS), 1 => any::<u32>()]
}
fn address() -> impl Strategy<Value = [u8; 16]> {
    prop_oneof![4 => pick(&ADDRS).prop_map(addr), 1 => any::<[u8; 16]>()]
}
fn label() -> impl Strategy<Value = [u8; 16]> {
    prop_oneof![4 => pick(&NAMES).prop_map(name), 1 => any::<[u8; 16]>()]
}

fn present() -> impl Strategy<Value = u32> {
    let known: u32 = KNOWN.fold(0, |m, f| m | 1 << f);
    prop_oneof![
        3 => any::<u32>().prop_map(move |bits| bits & known),
        1 => Just(known),
        1 => any::<u32>(),
    ]
}

pub fn meta() -> impl Strategy<Value = Meta> {
    let nums = (
        port(),
        port(),
        byte(),
        byte(),
        byte(),
        pick(&[0x0800u16, 0x86dd, 0x0806, 0]),
    );
    let words4 = (
        word(),
        word(),
        word(),
        word(),
        word(),
        word(),
        word(),
        word(),
        word(),
    );
    let bytes = (address(), address(), label(), label(), present());
    (nums, words4, bytes).prop_map(|(n, w, b)| Meta {
        sport: n.0,
        dport: n.1,
        proto: n.2,
        tcpflags: n.3,
        ttl: n.4,
        family: n.5,
        len: w.0,
        mark: w.1,
        ifindex: w.2,
        netns: w.3,
        pid: w.4,
        reason: w.5,
        func_id: w.6,
        cpu: w.7,
        tid: w.8,
        saddr: b.0,
        daddr: b.1,
        ifname: b.2,
        comm: b.3,
        present: b.4,
        ..Meta::default()
    })
}

/// A (value, mask) pair shaped for the field: raw bytes with prefix masks
/// for addresses and names, a zero-extended number otherwise.
fn operand(f: u8) -> BoxedStrategy<((u64, u64), (u64, u64))> {
    let bytes = match f {
        field::SADDR | field::DADDR => Some(address().boxed()),
        field::IFNAME | field::COMM => Some(label().boxed()),
        _ => None,
    };
    match bytes {
        Some(value) => {
            let prefix = (0u32..=128)
                .prop_map(|p| words((u128::MAX.checked_shl(128 - p).unwrap_or(0)).to_be_bytes()));
            let mask =
                prop_oneof![2 => Just((u64::MAX, u64::MAX)), 2 => prefix, 1 => any::<(u64, u64)>()];
            (value.prop_map(words), mask).boxed()
        }
        None => {
            let number = prop_oneof![
                3 => word().prop_map(u64::from),
                2 => port().prop_map(u64::from),
                2 => byte().prop_map(u64::from),
                1 => any::<u64>(),
            ];
            let hi = prop_oneof![4 => Just(0u64), 1 => any::<u64>()];
            let mask = prop_oneof![4 => Just(u64::MAX), 1 => Just(0xffff), 1 => any::<u64>()];
            let mask_hi = prop_oneof![4 => Just(u64::MAX), 1 => any::<u64>()];
            ((hi, number), (mask_hi, mask)).boxed()
        }
    }
}

/// Where a jump goes, relative to the instruction's own index.
#[derive(Debug, Clone)]
enum Target {
    Forward(u8),
    Match,
    NoMatch,
    Back(u8),
    Raw(u8),
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        6 => (0u8..4).prop_map(Target::Forward),
        3 => Just(Target::Match),
        3 => Just(Target::NoMatch),
        1 => (0u8..3).prop_map(Target::Back),
        1 => any::<u8>().prop_map(Target::Raw),
    ]
}

fn resolve(t: &Target, pc: usize) -> u8 {
    match *t {
        Target::Forward(d) => (pc + 1 + usize::from(d)).min(0xfd) as u8,
        Target::Match => abi::TARGET_MATCH,
        Target::NoMatch => abi::TARGET_NOMATCH,
        Target::Back(d) => pc.saturating_sub(usize::from(d)) as u8,
        Target::Raw(x) => x,
    }
}

fn insn() -> impl Strategy<Value = (Insn, Target, Target)> {
    let f = prop_oneof![12 => KNOWN, 1 => pick(&UNKNOWN)];
    let o = prop_oneof![12 => 0u8..=5, 1 => 6u8..=255];
    (f, o)
        .prop_flat_map(|(f, o)| (Just(f), Just(o), operand(f), target(), target()))
        .prop_map(
            |(field, op, ((value_hi, value_lo), (mask_hi, mask_lo)), jt, jf)| {
                let insn = Insn {
                    field,
                    op,
                    value_hi,
                    value_lo,
                    mask_hi,
                    mask_lo,
                    ..Insn::default()
                };
                (insn, jt, jf)
            },
        )
}

pub fn rule() -> impl Strategy<Value = Rule> {
    let len = prop_oneof![1 => Just(0usize), 8 => 1usize..=8, 2 => 9usize..=MAX_INSNS];
    // Sometimes ninsns claims more than the array holds: both sides cap it.
    let overclaim = prop_oneof![9 => Just(0u32), 1 => 1u32..=10];
    (
        len.prop_flat_map(|n| prop::collection::vec(insn(), n)),
        overclaim,
    )
        .prop_map(|(code, extra)| {
            let mut rule = Rule {
                state: abi::RULE_ACTIVE,
                ninsns: code.len() as u32,
                ..Rule::default()
            };
            for (pc, (mut insn, jt, jf)) in code.into_iter().enumerate() {
                insn.jt = resolve(&jt, pc);
                insn.jf = resolve(&jf, pc);
                rule.insns[pc] = insn;
            }
            if rule.ninsns == MAX_INSNS as u32 {
                rule.ninsns += extra;
            }
            rule
        })
}
