use super::*;
use crate::abi::{hook, Meta};
use crate::pcap::frames::{self, FrameLink};
use crate::plan::guard::hook_guards;

fn recv_guard(text: &str) -> Guard {
    let plan = crate::testing::compile_ok(text);
    let entries: Vec<abi::Rule> = plan.rules.iter().map(|r| r.to_abi(0)).collect();
    let pcap: Vec<&[PcapUnit]> = plan.rules.iter().map(|r| &r.pcap[..]).collect();
    hook_guards(&entries, &pcap)[hook::RECV as usize]
}

/// Ethernet IPv4 with protocol `proto`, 60 bytes.
fn ipv4(proto: u8) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14] = 0x45;
    f[23] = proto;
    f
}

#[test]
fn a_pcap_filter_rule_gets_the_keys_of_its_part() {
    let g = recv_guard("on recv where tcp port 443");
    assert_eq!(g.field, u32::from(field::PCAP));
    assert!(admits_frame(&g, &ipv4(6), false));
    assert!(!admits_frame(&g, &ipv4(17), false));
    // Raw IP: an IPv4 header first.
    assert!(admits_frame(&g, &ipv4(6)[14..], true));
    assert!(!admits_frame(&g, &ipv4(17)[14..], true));
}

#[test]
fn rules_on_one_hook_join_their_keys() {
    let g = recv_guard("on recv where tcp port 443\non recv where udp port 53");
    assert_eq!(g.field, u32::from(field::PCAP));
    assert!(admits_frame(&g, &ipv4(6), false) && admits_frame(&g, &ipv4(17), false));
    assert!(!admits_frame(&g, &ipv4(1), false));
}

#[test]
fn a_field_every_rule_tests_comes_first() {
    let g = recv_guard("on recv where dport == 443 and tcp");
    assert_eq!(g.field, u32::from(field::DPORT));
}

#[test]
fn no_pre_check_where_a_rule_can_match_without_its_part() {
    for text in [
        "on recv where tcp port 443 or mark == 7",
        "on recv where not (tcp and mark == 1)",
        "on recv where tcp port 443\non recv where mark == 7",
        "on recv print",
    ] {
        assert_eq!(recv_guard(text).field, 0, "{text}");
    }
}

#[test]
fn function_triggers_get_no_pcap_filter_pre_check() {
    let plan = crate::testing::compile_ok("on any where tcp port 443");
    let entries: Vec<abi::Rule> = plan.rules.iter().map(|r| r.to_abi(0)).collect();
    let pcap: Vec<&[PcapUnit]> = plan.rules.iter().map(|r| &r.pcap[..]).collect();
    assert_eq!(hook_guards(&entries, &pcap)[abi::GUARD_FUNC].field, 0);
}

#[test]
fn a_part_needed_on_every_way_is_enough() {
    let g = recv_guard("on recv where not tcp");
    assert_eq!(g.field, u32::from(field::PCAP), "`not tcp` is one part");
    // Its keys are every class but TCP's: more than a pre-check holds,
    // so it widens, and lets more through, never less.
    assert!(admits_frame(&g, &ipv4(17), false));
    let g = recv_guard("on recv where tcp and (mark == 1 or len > 5)");
    assert_eq!(g.field, u32::from(field::PCAP));
}

#[test]
fn a_rule_that_matches_a_frame_always_passes_the_pre_check() {
    let texts = [
        "on recv where tcp port 443",
        "on recv where tcp[tcpflags] & tcp-syn != 0 and tcp dst port 443",
        "on recv where (udp or icmp) and mark == 0",
        "on recv where ip6 and ip6 proto 58 or arp",
        "on recv where vlan and tcp",
        "on recv where not udp and (tcp or ip6)",
        "on recv where len > 100 and tcp and not src net 10.0.0.0/8",
    ];
    let ether = frames::with_cuts(FrameLink::Ethernet, 0x6a7d, 800, 20);
    let raw = frames::with_cuts(FrameLink::RawIp, 0x6a7e, 400, 10);
    let mut turned_away = 0;
    for text in texts {
        let plan = crate::testing::compile_ok(text);
        let g = recv_guard(text);
        for (frames, raw_ip) in [(&ether, false), (&raw, true)] {
            for f in frames.iter() {
                let matched =
                    plan.rules[0].matches_frame(&Meta::default(), &f.data, f.wirelen, raw_ip);
                let admitted = admits_frame(&g, &f.data, raw_ip);
                assert!(
                    !matched || admitted,
                    "`{text}` matches {} but its pre-check turns it away",
                    f.label
                );
                turned_away += usize::from(!admitted);
            }
        }
    }
    assert!(
        turned_away > 1000,
        "the pre-checks turned only {turned_away} away"
    );
}
