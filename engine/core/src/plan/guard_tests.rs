use super::*;
use crate::abi::{hook, Meta, TARGET_NOMATCH};
use crate::plan::eval::eval_insns;
use proptest::prelude::*;

fn entries(text: &str) -> Vec<Rule> {
    let plan = crate::testing::compile_ok(text);
    plan.rules.iter().map(|r| r.to_abi(0)).collect()
}

fn drop_guard(text: &str) -> Guard {
    hook_guards(&entries(text), &[])[hook::DROP as usize]
}

fn ranges(g: &Guard) -> Vec<(u64, u64)> {
    (0..g.nranges as usize)
        .map(|i| (g.lo[i], g.hi[i]))
        .collect()
}

#[test]
fn a_port_test_becomes_that_port() {
    let g = drop_guard("on drop where dport == 443 print");
    assert_eq!(g.field, u32::from(field::DPORT));
    assert_eq!(ranges(&g), vec![(443, 443)]);
}

#[test]
fn sixteen_neighbouring_ports_become_one_range() {
    let text: Vec<String> = (47002..47018)
        .map(|p| format!("on drop where dport == {p}"))
        .collect();
    let g = drop_guard(&text.join("\n"));
    assert_eq!(g.field, u32::from(field::DPORT));
    assert_eq!(ranges(&g), vec![(47002, 47017)]);
}

#[test]
fn too_many_ranges_fill_the_smallest_gaps() {
    let g = drop_guard("on drop where dport in {10, 20, 22, 1000, 5000, 9000}");
    assert_eq!(
        ranges(&g),
        vec![(10, 22), (1000, 1000), (5000, 5000), (9000, 9000)]
    );
}

#[test]
fn the_most_selective_field_wins() {
    let g = drop_guard("on drop where reason == NETFILTER_DROP and dport in 1..1000");
    assert_eq!(g.field, u32::from(field::REASON));
    assert_eq!(ranges(&g), vec![(9, 9)]);
    let g = drop_guard("on drop where proto == tcp and dport == 80");
    assert_eq!(g.field, u32::from(field::DPORT));
}

#[test]
fn ranges_and_comparisons_bound_the_values() {
    let g = drop_guard("on drop where dport > 1024 and dport <= 2048");
    assert_eq!(ranges(&g), vec![(1025, 2048)]);
    let g = drop_guard("on drop where sport in 100..200 or sport == 7");
    assert_eq!(g.field, u32::from(field::SPORT));
    assert_eq!(ranges(&g), vec![(7, 7), (100, 200)]);
}

#[test]
fn no_precheck_when_some_rule_needs_no_common_field() {
    for text in [
        "on drop",
        "on drop where not dport == 80",
        "on drop where dport == 1 or sport == 2",
        "on drop where dport == 443\non drop where saddr == 198.18.0.1",
        "on drop where dport == 443\non recv where dport == 1 track",
    ] {
        assert_eq!(drop_guard(text).field, 0, "{text}");
    }
}

#[test]
fn only_active_rules_on_the_hook_count() {
    let mut rules = entries("on drop where dport == 443\non recv where sport == 1");
    let g = hook_guards(&rules, &[]);
    assert_eq!(ranges(&g[hook::DROP as usize]), vec![(443, 443)]);
    assert_eq!(ranges(&g[hook::RECV as usize]), vec![(1, 1)]);
    assert_eq!(g[hook::XMIT as usize].field, 0);
    rules[0].state = abi::RULE_PAUSED;
    assert_eq!(hook_guards(&rules, &[])[hook::DROP as usize].field, 0);
}

#[test]
fn function_rules_get_the_function_slot() {
    let g = hook_guards(
        &entries("on any where dport == 47002\non drop where sport == 1"),
        &[],
    );
    assert_eq!(g[abi::GUARD_FUNC].field, u32::from(field::DPORT));
    assert_eq!(ranges(&g[abi::GUARD_FUNC]), vec![(47002, 47002)]);
    assert_eq!(ranges(&g[hook::DROP as usize]), vec![(1, 1)]);
    // The tracepoint slots above the built-in hooks are not function slots.
    assert_eq!(abi::guard_hook(abi::GUARD_FUNC), hook::FUNC);
    assert_eq!(abi::guard_hook(hook::DROP as usize), hook::DROP);
}

fn program() -> impl Strategy<Value = Vec<Insn>> {
    let fields = prop::sample::select(vec![
        field::DPORT,
        field::SPORT,
        field::PROTO,
        field::REASON,
        field::LEN,
        field::TTL,
        field::SADDR,
        40,
    ]);
    let insn = (
        fields,
        0u8..7,
        prop::sample::select(vec![0u64, 1, 5, 6, 80, 443, 65535, 70000]),
        prop::sample::select(vec![u64::MAX, 0xffff, 0xff, 0xf0, 0]),
        any::<u8>(),
        any::<u8>(),
    );
    let address = (
        prop::sample::select(vec![ADDR_A, ADDR_B, ADDR_V6]),
        prop::sample::select(vec![
            u128::MAX,
            u128::MAX << 8,
            u128::MAX << 32,
            0xffff_0000,
        ]),
        any::<bool>(),
    );
    (
        prop::collection::vec(insn, 0..8),
        prop::collection::vec(address, 8),
    )
        .prop_map(|(raw, addrs)| {
            let n = raw.len();
            raw.into_iter()
                .enumerate()
                .map(|(pc, (field, op, value_lo, mask_lo, jt, jf))| {
                    // Mostly forward jumps, sometimes MATCH / NOMATCH / stray.
                    let target = |r: u8| match r % 8 {
                        0 => TARGET_MATCH,
                        1 => TARGET_NOMATCH,
                        2 => pc as u8,
                        _ => (pc + 1 + usize::from(r) % (n - pc + 1)) as u8,
                    };
                    let mut insn = Insn {
                        field,
                        op,
                        jt: target(jt),
                        jf: target(jf),
                        value_lo,
                        mask_lo,
                        ..Insn::default()
                    };
                    if field == field::SADDR {
                        // Addresses as the checker lowers them: bytes, masked.
                        let (value, mask, eq) = addrs[pc % addrs.len()];
                        let def = crate::catalog::by_id(field::SADDR).unwrap();
                        (insn.value_hi, insn.value_lo) = crate::plan::split(def, value & mask);
                        (insn.mask_hi, insn.mask_lo) = crate::plan::split(def, mask);
                        insn.op = if eq { op::EQ } else { op::NE };
                    }
                    insn
                })
                .collect()
        })
}

const ADDR_A: u128 = 0xffff_c612_0001; // ::ffff:198.18.0.1
const ADDR_B: u128 = 0xffff_c612_0102; // ::ffff:198.18.1.2
const ADDR_V6: u128 = 0x2001_0002 << 96 | 1; // 2001:2::1

fn packet() -> impl Strategy<Value = Meta> {
    (
        any::<u32>(),
        prop::sample::select(vec![0u16, 1, 5, 80, 443, 65535]),
        prop::sample::select(vec![0u16, 6, 80, 443]),
        prop::sample::select(vec![0u8, 6, 17]),
        prop::sample::select(vec![0u32, 5, 6, 80]),
        prop::sample::select(vec![ADDR_A, ADDR_B, ADDR_A + 7, ADDR_V6, 0]),
    )
        .prop_map(|(present, sport, dport, proto, reason, saddr)| Meta {
            present,
            sport,
            dport,
            proto,
            reason,
            len: reason + 1,
            ttl: proto,
            saddr: saddr.to_be_bytes(),
            ..Meta::default()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// The pre-check never turns away a packet some rule would match.
    #[test]
    fn the_precheck_admits_whatever_a_rule_matches(
        programs in prop::collection::vec(program(), 1..4),
        packets in prop::collection::vec(packet(), 16),
    ) {
        let refs: Vec<&[Insn]> = programs.iter().map(Vec::as_slice).collect();
        let guard = guard_for(&refs).unwrap_or_default();
        prop_assert!(guard.nranges as usize <= GUARD_RANGES);
        for meta in &packets {
            if refs.iter().any(|p| eval_insns(p, meta)) {
                prop_assert!(admits(&guard, meta), "{guard:?} turns away {meta:?}");
            }
        }
    }
}

#[test]
fn ipv4_addresses_and_blocks_become_ranges_in_network_order() {
    let g = drop_guard("on drop where daddr == 198.18.0.0/24 or daddr == 10.0.0.1");
    assert_eq!(g.field, u32::from(field::DADDR));
    assert_eq!(
        ranges(&g),
        vec![(0x0a00_0001, 0x0a00_0001), (0xc612_0000, 0xc612_00ff)]
    );
    let g = drop_guard("on drop where saddr == 198.18.0.1 and dport == 443");
    assert_eq!(
        g.field,
        u32::from(field::SADDR),
        "one address beats one port"
    );
}

#[test]
fn ipv6_addresses_turn_every_ipv4_packet_away() {
    // An IPv4 packet's address is ::ffff:a.b.c.d: it never equals 2001:2::1.
    let g = drop_guard("on drop where daddr == 2001:2::1");
    assert_eq!(g.field, u32::from(field::DADDR));
    assert_eq!(g.nranges, 0);
    let mut v6 = Meta {
        present: 1 << field::DADDR,
        ..Meta::default()
    };
    v6.daddr[..2].copy_from_slice(&[0x20, 0x01]);
    assert!(admits(&g, &v6), "IPv6 packets are left to the rules");
}
