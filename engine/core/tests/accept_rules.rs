//! Acceptance: valid rules covering every row of LANGUAGE.md compile to a
//! plan, and the plan means what the contract says. Filters are checked by
//! running the lowered branch program (and the IR) on hand-built packets.

use ferret_core::abi::{self, act, field, hook, Meta};
use ferret_core::check::{CheckEnv, NetnsError, NetnsResolver};
use ferret_core::hooks::HookNames;
use ferret_core::ir::{KeyField, TriggerIr};
use ferret_core::plan::{Plan, RulePlan};
use ferret_core::reasons::DropReasons;

const NETFILTER_DROP: u32 = 12;
const NO_SOCKET: u32 = 3;

/// One named namespace, so that `netns == blue` has something to resolve.
struct FakeNetns;

impl NetnsResolver for FakeNetns {
    fn resolve(&self, name: &str) -> Result<u32, NetnsError> {
        match name {
            "blue" | "/run/netns/blue" => Ok(4_026_532_999),
            _ => Err(NetnsError::Unknown {
                name: name.to_string(),
            }),
        }
    }
}

fn compile(text: &str) -> Plan {
    let reasons = DropReasons::from_pairs([
        ("NOT_SPECIFIED", 2),
        ("NO_SOCKET", NO_SOCKET),
        ("SOCKET_RCVBUFF", 6),
        ("NETFILTER_DROP", NETFILTER_DROP),
        ("IP_RPFILTER", 20),
    ]);
    let funcs = HookNames::tracepoints();
    let env = CheckEnv {
        reasons: Ok(&reasons),
        funcs: &funcs,
        netns: &FakeNetns,
    };
    let (plan, diags) = ferret_core::compile(text, &env);
    assert!(
        diags.is_empty(),
        "`{text}` should compile cleanly:\n{}",
        ferret_core::diag::render("<rules>", text, &diags, false)
    );
    plan.unwrap_or_else(|| panic!("`{text}` produced no plan"))
}

/// Compiles a one-rule program.
fn rule(text: &str) -> RulePlan {
    let mut plan = compile(text);
    assert_eq!(plan.rules.len(), 1, "`{text}` is one rule");
    plan.rules.remove(0)
}

/// Asserts that the branch program and the IR agree with `want` on `m`,
/// whose pcap-filter parts see the Ethernet frame that `m` describes.
fn assert_match(r: &RulePlan, m: &Meta, want: bool) {
    let frame = frame_of(m);
    let m = &r.with_pcap(m, &frame, frame.len() as u32, false);
    assert_eq!(r.filter.eval(m), want, "IR of `{}` on {m:?}", r.text);
    assert_eq!(r.matches(m), want, "insns of `{}` on {m:?}", r.text);
}

/// The Ethernet frame of a packet with `m`'s fields: family, protocol,
/// addresses, TTL, ports and TCP flags where present.
fn frame_of(m: &Meta) -> Vec<u8> {
    let has = |id: u8| m.present & (1 << id) != 0;
    let mut f = vec![0u8; 12];
    f.extend_from_slice(&m.family.to_be_bytes());
    let l4_at = match m.family {
        0x0800 => {
            let start = f.len();
            f.extend_from_slice(&[0x45, 0, 0, 0, 0, 0, 0, 0, m.ttl, m.proto, 0, 0]);
            f.extend_from_slice(&m.saddr[12..]);
            f.extend_from_slice(&m.daddr[12..]);
            Some(start + 20)
        }
        0x86dd => {
            f.extend_from_slice(&[0x60, 0, 0, 0, 0, 0, m.proto, m.ttl]);
            f.extend_from_slice(&m.saddr);
            f.extend_from_slice(&m.daddr);
            Some(f.len())
        }
        0x0806 => {
            f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1, 0, 0, 0, 0, 0, 0]);
            f.extend_from_slice(&m.saddr[12..]);
            f.extend_from_slice(&[0; 6]);
            f.extend_from_slice(&m.daddr[12..]);
            None
        }
        _ => None,
    };
    if let Some(at) = l4_at {
        f.resize(at + 20, 0);
        if has(field::SPORT) {
            f[at..at + 2].copy_from_slice(&m.sport.to_be_bytes());
            f[at + 2..at + 4].copy_from_slice(&m.dport.to_be_bytes());
        }
        f[at + 12] = 0x50;
        f[at + 13] = m.tcpflags;
    }
    f
}

// ------------------------------------------------------------ packets

fn v4(a: [u8; 4]) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[10] = 0xff;
    b[11] = 0xff;
    b[12..].copy_from_slice(&a);
    b
}

fn v6(text: &str) -> [u8; 16] {
    text.parse::<std::net::Ipv6Addr>()
        .expect("test address")
        .octets()
}

fn name(s: &str) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..s.len()].copy_from_slice(s.as_bytes());
    b
}

/// Builds packets field by field, setting each field's presence bit.
#[derive(Clone, Copy, Default)]
struct Pkt(Meta);

impl Pkt {
    fn set(mut self, id: u8, f: impl FnOnce(&mut Meta)) -> Pkt {
        f(&mut self.0);
        self.0.present |= 1 << id;
        self
    }
    /// An IPv4 TCP packet 10.0.0.1:40000 → 192.168.1.2:443 on eth0.
    fn tcp4() -> Pkt {
        Pkt::default()
            .family(0x0800)
            .proto(6)
            .saddr(v4([10, 0, 0, 1]))
            .daddr(v4([192, 168, 1, 2]))
            .sport(40000)
            .dport(443)
            .set(field::LEN, |m| m.len = 60)
            .set(field::TTL, |m| m.ttl = 64)
            .set(field::TCPFLAGS, |m| m.tcpflags = abi::TCP_SYN)
            .set(field::IFNAME, |m| m.ifname = name("eth0"))
            .set(field::IFINDEX, |m| m.ifindex = 2)
            .set(field::MARK, |m| m.mark = 0x1234)
            .set(field::PID, |m| m.pid = 1000)
            .set(field::COMM, |m| m.comm = name("curl"))
            .set(field::CPU, |m| m.cpu = 1)
            .set(field::NETNS, |m| m.netns = 4_026_531_840)
            .set(field::FUNC, |m| m.func_id = hook::RECV)
    }
    /// An IPv6 UDP DNS query fd00::1:5353 → fd00::53:53.
    fn udp6() -> Pkt {
        Pkt::default()
            .family(0x86dd)
            .proto(17)
            .saddr(v6("fd00::1"))
            .daddr(v6("fd00::53"))
            .sport(5353)
            .dport(53)
            .set(field::LEN, |m| m.len = 80)
            .set(field::TTL, |m| m.ttl = 255)
    }
    /// An IPv4 ICMP packet: no ports.
    fn icmp4() -> Pkt {
        Pkt::default()
            .family(0x0800)
            .proto(1)
            .saddr(v4([10, 0, 0, 1]))
            .daddr(v4([10, 0, 0, 2]))
            .set(field::LEN, |m| m.len = 84)
    }
    fn arp() -> Pkt {
        Pkt::default()
            .family(0x0806)
            .set(field::LEN, |m| m.len = 42)
    }
    fn family(self, v: u16) -> Pkt {
        self.set(field::FAMILY, |m| m.family = v)
    }
    fn proto(self, v: u8) -> Pkt {
        self.set(field::PROTO, |m| m.proto = v)
    }
    fn saddr(self, v: [u8; 16]) -> Pkt {
        self.set(field::SADDR, |m| m.saddr = v)
    }
    fn daddr(self, v: [u8; 16]) -> Pkt {
        self.set(field::DADDR, |m| m.daddr = v)
    }
    fn sport(self, v: u16) -> Pkt {
        self.set(field::SPORT, |m| m.sport = v)
    }
    fn dport(self, v: u16) -> Pkt {
        self.set(field::DPORT, |m| m.dport = v)
    }
    fn dropped(self, reason: u32) -> Pkt {
        self.set(field::REASON, |m| m.reason = reason)
            .set(field::FUNC, |m| m.func_id = hook::DROP)
    }
    fn with(self, f: impl FnOnce(&mut Meta)) -> Pkt {
        let mut p = self;
        f(&mut p.0);
        p
    }
    fn m(self) -> Meta {
        self.0
    }
}

/// Asserts `text` matches every packet of `yes` and none of `no`.
fn filter_case(text: &str, yes: &[Pkt], no: &[Pkt]) -> RulePlan {
    let r = rule(text);
    assert!(!r.insns.is_empty(), "`{text}` has a filter");
    for p in yes {
        assert_match(&r, &p.m(), true);
    }
    for p in no {
        assert_match(&r, &p.m(), false);
    }
    r
}

// ------------------------------------------------------------ triggers

#[test]
fn each_builtin_trigger_has_its_hook() {
    for (word, h, tp) in [
        ("drop", hook::DROP, "skb:kfree_skb"),
        ("free", hook::FREE, "skb:consume_skb"),
        ("recv", hook::RECV, "net:netif_receive_skb"),
        ("xmit", hook::XMIT, "net:net_dev_start_xmit"),
        ("queue", hook::QUEUE, "net:net_dev_queue"),
    ] {
        let r = rule(&format!("on {word}"));
        assert_eq!(r.hooks, 1 << h, "{word}");
        assert!(
            matches!(&r.triggers[..], [TriggerIr::Hook { tracepoint, .. }] if *tracepoint == tp),
            "{word}: {:?}",
            r.triggers
        );
        // No filter, no action: every event matches and is printed.
        assert!(r.insns.is_empty());
        assert_eq!(r.action_flags, act::PRINT);
    }
}

#[test]
fn func_trigger_takes_several_globs() {
    let r = rule("on func ip_*, tcp_v4_rcv, __dev_queue_xmit");
    assert_eq!(r.hooks, 1 << hook::FUNC);
    assert_eq!(
        r.triggers,
        [TriggerIr::Func {
            globs: vec![
                "ip_*".into(),
                "tcp_v4_rcv".into(),
                "__dev_queue_xmit".into()
            ]
        }]
    );
}

#[test]
fn any_is_every_function() {
    let r = rule("on any where port https");
    assert_eq!(
        r.triggers,
        [TriggerIr::Func {
            globs: vec!["*".into()]
        }]
    );
    assert_eq!(r.hooks, 1 << hook::FUNC);
}

#[test]
fn tp_trigger_names_a_tracepoint() {
    let r = rule("on tp skb:kfree_skb");
    assert_eq!(
        r.triggers,
        [TriggerIr::Tracepoint {
            category: "skb".into(),
            name: "kfree_skb".into()
        }]
    );
    // `tp` slots get their hook bit when the kernel stage attaches them.
    assert_eq!(r.hooks, 0);
}

#[test]
fn triggers_join_with_comma_and_or() {
    let r = rule("on xmit, recv where host 10.0.0.1 and tcp port 80");
    assert_eq!(r.hooks, 1 << hook::XMIT | 1 << hook::RECV);
    let r = rule("on drop or free");
    assert_eq!(r.hooks, 1 << hook::DROP | 1 << hook::FREE);
    let r = rule("on drop, func ip_rcv or tp net:netif_rx, queue");
    assert_eq!(r.triggers.len(), 4);
    assert_eq!(
        r.hooks,
        1 << hook::DROP | 1 << hook::FUNC | 1 << hook::QUEUE
    );
    // The same trigger twice is one hook.
    assert_eq!(rule("on drop, drop").triggers.len(), 1);
}

// ------------------------------------------------------------ fields

#[test]
fn addresses_v4_and_v6() {
    filter_case(
        "on recv where saddr == 10.0.0.1",
        &[Pkt::tcp4(), Pkt::icmp4()],
        &[Pkt::udp6(), Pkt::arp()],
    );
    filter_case(
        "on recv where daddr == fd00::53",
        &[Pkt::udp6()],
        &[Pkt::tcp4()],
    );
    filter_case(
        "on recv where daddr != 192.168.1.2",
        &[Pkt::icmp4(), Pkt::udp6()],
        // != on an absent field is false, as in pcap-filter.
        &[Pkt::tcp4(), Pkt::arp()],
    );
}

#[test]
fn cidr_with_in_and_eq_v4_and_v6() {
    let yes = [Pkt::tcp4(), Pkt::icmp4()];
    let no = [Pkt::udp6(), Pkt::tcp4().saddr(v4([11, 0, 0, 1]))];
    filter_case("on recv where saddr in 10.0.0.0/8", &yes, &no);
    filter_case("on recv where saddr == 10.0.0.0/8", &yes, &no);
    filter_case(
        "on recv where daddr in fd00::/16",
        &[Pkt::udp6()],
        &[Pkt::tcp4(), Pkt::udp6().daddr(v6("fe80::1"))],
    );
    filter_case(
        "on recv where saddr in {10.0.0.1, fd00::1}",
        &[Pkt::tcp4(), Pkt::udp6()],
        &[Pkt::arp()],
    );
}

#[test]
fn ports_numbers_and_service_names() {
    filter_case(
        "on drop where dport == 443",
        &[Pkt::tcp4()],
        &[Pkt::udp6(), Pkt::icmp4()],
    );
    filter_case(
        "on drop where dport == https",
        &[Pkt::tcp4()],
        &[Pkt::udp6()],
    );
    filter_case(
        "on drop where sport == 5353 or dport == dns",
        &[Pkt::udp6()],
        &[Pkt::tcp4()],
    );
}

#[test]
fn every_comparison_operator() {
    let p = |len: u32| Pkt::arp().with(|m| m.len = len);
    filter_case("on recv where len == 100", &[p(100)], &[p(99), p(101)]);
    filter_case("on recv where len = 100", &[p(100)], &[p(99)]);
    filter_case("on recv where len != 100", &[p(99), p(101)], &[p(100)]);
    filter_case("on recv where len < 100", &[p(0), p(99)], &[p(100)]);
    filter_case("on recv where len <= 100", &[p(100)], &[p(101)]);
    filter_case("on recv where len > 1400", &[p(1401)], &[p(1400)]);
    filter_case("on recv where len >= 1400", &[p(1400)], &[p(1399)]);
    filter_case(
        "on recv where len in 100..200",
        &[p(100), p(150), p(200)],
        &[p(99), p(201)],
    );
    filter_case(
        "on recv where len in {60, 0x54, 1500,}",
        &[p(60), p(84), p(1500)],
        &[p(61)],
    );
}

#[test]
fn proto_and_family_by_name_and_number() {
    filter_case(
        "on recv where proto == tcp",
        &[Pkt::tcp4()],
        &[Pkt::udp6(), Pkt::arp()],
    );
    filter_case("on recv where proto == 17", &[Pkt::udp6()], &[Pkt::tcp4()]);
    filter_case(
        "on recv where proto in {icmp, icmp6, sctp}",
        &[Pkt::icmp4()],
        &[Pkt::tcp4()],
    );
    filter_case(
        "on recv where family == ip6",
        &[Pkt::udp6()],
        &[Pkt::tcp4()],
    );
    filter_case(
        "on recv where family == 0x0806",
        &[Pkt::arp()],
        &[Pkt::tcp4()],
    );
    filter_case(
        "on recv where family != ip4",
        &[Pkt::udp6(), Pkt::arp()],
        &[Pkt::tcp4()],
    );
}

#[test]
fn mark_plain_and_masked() {
    let mark = |v: u32| Pkt::tcp4().with(|m| m.mark = v);
    filter_case("on recv where mark == 0x1234", &[mark(0x1234)], &[mark(0)]);
    filter_case(
        "on recv where mark & 0xff == 0x34",
        &[mark(0x1234), mark(0xab34)],
        &[mark(0x1235)],
    );
    filter_case(
        "on recv where mark & 0xff00 in {0x1200, 0x5600}",
        &[mark(0x12ff), mark(0x5600)],
        &[mark(0x3400)],
    );
}

#[test]
fn ifname_exact_and_prefix_glob() {
    let dev = |n: &str| Pkt::tcp4().set(field::IFNAME, |m| m.ifname = name(n));
    filter_case(
        "on recv where ifname == \"eth0\"",
        &[dev("eth0")],
        // Exact means exact: the NUL after the name is compared too.
        &[dev("eth01"), dev("eth")],
    );
    filter_case(
        "on recv where ifname == \"veth*\"",
        &[dev("veth"), dev("veth1234abcd"), dev("vethxxxxxxxxxxx")],
        &[dev("eth0"), dev("vet")],
    );
    filter_case("on recv where ifname == eth0", &[dev("eth0")], &[dev("lo")]);
}

#[test]
fn task_and_device_numbers() {
    filter_case(
        "on recv where ifindex == 2 and pid == 1000 and cpu < 2",
        &[Pkt::tcp4()],
        &[Pkt::tcp4().with(|m| m.cpu = 3), Pkt::udp6()],
    );
    filter_case(
        "on recv where comm == \"curl\"",
        &[Pkt::tcp4()],
        &[Pkt::tcp4().with(|m| m.comm = name("wget"))],
    );
    filter_case(
        "on recv where comm == \"cu*\"",
        &[Pkt::tcp4()],
        &[Pkt::udp6()],
    );
}

#[test]
fn netns_by_inode_and_by_name() {
    let ns = |ino: u32| Pkt::tcp4().with(|m| m.netns = ino);
    filter_case(
        "on recv where netns == 4026531840",
        &[ns(4_026_531_840)],
        &[ns(4_026_532_999)],
    );
    filter_case(
        "on recv where netns == blue",
        &[ns(4_026_532_999)],
        &[ns(4_026_531_840)],
    );
    filter_case(
        "on recv where netns == \"/run/netns/blue\"",
        &[ns(4_026_532_999)],
        &[ns(1)],
    );
}

#[test]
fn tcpflags_has_and_ttl() {
    let flags = |f: u8| Pkt::tcp4().with(|m| m.tcpflags = f);
    filter_case(
        "on recv where tcpflags has syn",
        &[flags(abi::TCP_SYN), flags(abi::TCP_SYN | abi::TCP_ACK)],
        &[flags(abi::TCP_ACK), Pkt::udp6()],
    );
    filter_case(
        "on recv where tcpflags has syn and not tcpflags has ack",
        &[flags(abi::TCP_SYN)],
        &[flags(abi::TCP_SYN | abi::TCP_ACK)],
    );
    filter_case(
        "on recv where ttl <= 64",
        &[Pkt::tcp4()],
        &[Pkt::udp6(), Pkt::arp()],
    );
}

#[test]
fn reason_in_all_three_spellings_and_as_a_number() {
    let nf = Pkt::tcp4().dropped(NETFILTER_DROP);
    let nosock = Pkt::tcp4().dropped(NO_SOCKET);
    let mut insns = Vec::new();
    for spelling in [
        "NETFILTER_DROP",
        "netfilter_drop",
        "SKB_DROP_REASON_NETFILTER_DROP",
        "Skb_Drop_Reason_Netfilter_Drop",
        "12",
    ] {
        let r = filter_case(
            &format!("on drop where reason == {spelling}"),
            &[nf],
            &[nosock, Pkt::tcp4()],
        );
        insns.push(r.insns);
    }
    assert!(insns.windows(2).all(|w| w[0] == w[1]), "same program");
    filter_case(
        "on drop where reason in {NO_SOCKET, netfilter_drop}",
        &[nf, nosock],
        &[Pkt::tcp4().dropped(2)],
    );
}

/// Calls of drop functions carry their reason; other functions' calls have
/// none, so a comparison on it is false there.
#[test]
fn reason_filters_and_counts_on_function_triggers() {
    let nf = Pkt::tcp4().dropped(NETFILTER_DROP);
    filter_case(
        "on func kfree_skb_reason, sk_skb_reason_drop where reason == NETFILTER_DROP",
        &[nf],
        &[Pkt::tcp4().dropped(NO_SOCKET), Pkt::tcp4()],
    );
    filter_case(
        "on any where reason != NETFILTER_DROP",
        &[Pkt::tcp4().dropped(NO_SOCKET)],
        &[nf, Pkt::tcp4()],
    );
    let r = rule("on func sk_skb_reason_drop count by reason");
    assert_eq!(r.action_flags, act::COUNT);
    assert_eq!(
        r.actions.count_by,
        Some(vec![KeyField::Field("reason".into())])
    );
}

/// Once the kernel's functions are known, `reason` on a function trigger
/// that names no drop function can never match, and says so.
#[test]
fn reason_needs_a_drop_function_among_the_known_functions() {
    let reasons = DropReasons::from_pairs([("NETFILTER_DROP", NETFILTER_DROP)]);
    let mut funcs = HookNames::tracepoints();
    funcs.insert_function(1024, "ip_rcv", false);
    funcs.insert_function(1025, "kfree_skb_reason", true);
    let env = CheckEnv {
        reasons: Ok(&reasons),
        funcs: &funcs,
        netns: &FakeNetns,
    };
    let errors = |text: &str| {
        let (_, diags) = ferret_core::compile(text, &env);
        diags
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.message.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        errors("on func ip_rcv where reason == NETFILTER_DROP"),
        ["`reason` is only set on `drop` events"]
    );
    for ok in [
        "on func ip_rcv, kfree_skb_reason where reason == NETFILTER_DROP",
        "on func kfree_* where reason == NETFILTER_DROP",
        "on any where reason == NETFILTER_DROP",
        "on func ip_rcv or drop where reason == NETFILTER_DROP",
    ] {
        assert_eq!(errors(ok), Vec::<String>::new(), "{ok}");
    }
}

#[test]
fn func_field_is_a_glob_over_names() {
    filter_case(
        "on drop, recv where func == kfree_skb",
        &[Pkt::tcp4().dropped(2)],
        &[Pkt::tcp4()],
    );
    filter_case(
        "on any where func == \"netif_*\"",
        &[Pkt::tcp4()],
        &[Pkt::tcp4().dropped(2)],
    );
}

// ------------------------------------------------------------ pcap-filter words
// (their meaning is held to libpcap's by tests/pcap_rules.rs; here, the
// words that tcpdump users type most, on the frames the packets describe)

#[test]
fn host_and_net_primitives_with_direction() {
    let from = |a: [u8; 4]| Pkt::icmp4().saddr(v4(a)).daddr(v4([1, 1, 1, 1]));
    let to = |a: [u8; 4]| Pkt::icmp4().daddr(v4(a)).saddr(v4([1, 1, 1, 1]));
    let x = [10, 9, 9, 9];
    filter_case(
        "on recv where host 10.9.9.9",
        &[from(x), to(x)],
        &[from([10, 9, 9, 8])],
    );
    filter_case("on recv where src host 10.9.9.9", &[from(x)], &[to(x)]);
    filter_case("on recv where dst host 10.9.9.9", &[to(x)], &[from(x)]);
    filter_case(
        "on recv where net 10.0.0.0/8",
        &[from(x), to(x)],
        &[from([11, 0, 0, 0]), Pkt::udp6()],
    );
    filter_case("on recv where src net 10.9.0.0/16", &[from(x)], &[to(x)]);
    filter_case(
        "on recv where ip6 host fd00::53",
        &[Pkt::udp6()],
        &[Pkt::tcp4()],
    );
}

#[test]
fn port_primitives_with_protocol_and_direction() {
    filter_case(
        "on recv where port 443",
        &[Pkt::tcp4(), Pkt::tcp4().sport(443).dport(1)],
        &[Pkt::udp6(), Pkt::icmp4()],
    );
    filter_case(
        "on recv where dst port 443",
        &[Pkt::tcp4()],
        &[Pkt::tcp4().sport(443).dport(1)],
    );
    filter_case(
        "on recv where src port 40000",
        &[Pkt::tcp4()],
        &[Pkt::udp6()],
    );
    filter_case(
        "on recv where tcp port 443",
        &[Pkt::tcp4()],
        &[Pkt::tcp4().proto(17)],
    );
    filter_case(
        "on recv where udp dst port domain",
        &[Pkt::udp6()],
        &[Pkt::udp6().proto(6), Pkt::tcp4()],
    );
    filter_case(
        "on recv where portrange 400-500",
        &[Pkt::tcp4()],
        &[Pkt::udp6()],
    );
    filter_case(
        "on recv where src portrange 5000-6000",
        &[Pkt::udp6()],
        &[Pkt::tcp4()],
    );
    filter_case(
        "on recv where sctp portrange 1-65535",
        &[Pkt::tcp4().proto(132)],
        &[Pkt::tcp4()],
    );
}

#[test]
fn protocol_primitives() {
    for (prim, yes, no) in [
        ("tcp", Pkt::tcp4(), Pkt::udp6()),
        ("udp", Pkt::udp6(), Pkt::tcp4()),
        ("icmp", Pkt::icmp4(), Pkt::tcp4()),
        ("icmp6", Pkt::udp6().proto(58), Pkt::icmp4()),
        ("sctp", Pkt::tcp4().proto(132), Pkt::tcp4()),
        ("ip", Pkt::tcp4(), Pkt::udp6()),
        ("ip6", Pkt::udp6(), Pkt::tcp4()),
        ("arp", Pkt::arp(), Pkt::tcp4()),
    ] {
        let r = filter_case(&format!("on recv where {prim}"), &[yes], &[no]);
        assert_eq!(r.insns.len(), 1, "{prim} is one pcap-filter test");
        assert_eq!(r.pcap.len(), 1, "{prim} is one pcap-filter part");
    }
}

// ------------------------------------------------------------ boolean structure

/// All combinations of three independent conditions a, b, c as packets:
/// a = `dport == 1`, b = `sport == 2`, c = `len == 3`.
fn abc_packets() -> Vec<(bool, bool, bool, Meta)> {
    let mut out = Vec::new();
    for bits in 0..8u8 {
        let (a, b, c) = (bits & 1 != 0, bits & 2 != 0, bits & 4 != 0);
        let m = Pkt::tcp4()
            .dport(if a { 1 } else { 10 })
            .sport(if b { 2 } else { 20 })
            .with(|m| m.len = if c { 3 } else { 30 })
            .m();
        out.push((a, b, c, m));
    }
    out
}

fn assert_shape(text: &str, truth: impl Fn(bool, bool, bool) -> bool) {
    let r = rule(text);
    for (a, b, c, m) in abc_packets() {
        assert_match(&r, &m, truth(a, b, c));
    }
}

#[test]
fn and_binds_tighter_than_or() {
    let a_or_bc = |a: bool, b: bool, c: bool| a || (b && c);
    assert_shape(
        "on recv where dport == 1 or sport == 2 and len == 3",
        a_or_bc,
    );
    assert_shape(
        "on recv where dport == 1 or (sport == 2 and len == 3)",
        a_or_bc,
    );
    assert_shape(
        "on recv where dport == 1 || sport == 2 && len == 3",
        a_or_bc,
    );
    assert_shape(
        "on recv where dport == 1 and sport == 2 or len == 3",
        |a, b, c| (a && b) || c,
    );
    // Parentheses override: (a or b) and c differs from the above.
    assert_shape(
        "on recv where (dport == 1 or sport == 2) and len == 3",
        |a, b, c| (a || b) && c,
    );
}

#[test]
fn not_binds_tightest() {
    assert_shape("on recv where not dport == 1 and sport == 2", |a, b, _| {
        !a && b
    });
    assert_shape("on recv where ! dport == 1 || len == 3", |a, _, c| !a || c);
    assert_shape("on recv where not (dport == 1 or sport == 2)", |a, b, _| {
        !(a || b)
    });
    assert_shape(
        "on recv where not not dport == 1 AND NOT len != 3",
        |a, _, c| a && c,
    );
    assert_shape("on recv where !(dport == 1) && !len == 3", |a, _, c| {
        !a && !c
    });
}

#[test]
fn not_of_an_absent_field_is_true() {
    filter_case(
        "on recv where not port 80",
        &[Pkt::icmp4(), Pkt::tcp4()],
        &[Pkt::tcp4().dport(80)],
    );
}

// ------------------------------------------------------------ programs

#[test]
fn several_rules_with_semicolons_newlines_and_comments() {
    let text = "# watch the web\n\
                on drop where dport == 443 print stack   # drops first\n\
                \n\
                on recv where tcp; on xmit count by rule ; on queue \\\n  where len > 1000\n\
                # the end";
    let plan = compile(text);
    let numbers: Vec<usize> = plan.rules.iter().map(|r| r.number).collect();
    assert_eq!(numbers, [1, 2, 3, 4]);
    assert_eq!(plan.rules[0].action_flags, act::PRINT | act::STACK);
    assert_eq!(plan.rules[2].action_flags, act::COUNT);
    assert_eq!(plan.rules[3].hooks, 1 << hook::QUEUE);
    assert_eq!(plan.rules[3].insns.len(), 1);
    // The union of what the filters read.
    assert_eq!(
        plan.needs,
        1 << field::DPORT | 1 << field::PCAP | 1 << field::LEN
    );
}

#[test]
fn strings_may_hold_semicolons_and_hashes() {
    let plan = compile("on recv where comm == \"a;b#c\"; on drop");
    assert_eq!(plan.rules.len(), 2);
    let r = &plan.rules[0];
    assert_match(r, &Pkt::tcp4().with(|m| m.comm = name("a;b#c")).m(), true);
}

#[test]
fn keywords_are_case_insensitive() {
    // ferret's words in any case; pcap-filter's in lower case, as tcpdump.
    let r = rule("ON Drop WHERE dport == 443 AND NOT tcp port 80 Print STACK Stop After 1");
    assert_eq!(r.action_flags, act::PRINT | act::STACK);
    assert_eq!(r.actions.stop_after, Some(1));
    assert_match(&r, &Pkt::tcp4().m(), true);
}

// ------------------------------------------------------------ actions

#[test]
fn print_with_fields_and_print_stack() {
    let r = rule("on drop print saddr, dport, reason");
    assert_eq!(r.action_flags, act::PRINT);
    assert_eq!(r.actions.print_fields, ["saddr", "dport", "reason"]);
    let r = rule("on drop print stack");
    assert_eq!(r.action_flags, act::PRINT | act::STACK);
    assert!(r.actions.print_fields.is_empty());
    // `stack` alone implies printing.
    assert_eq!(rule("on drop stack").action_flags, act::PRINT | act::STACK);
}

#[test]
fn count_and_hist_aggregate_without_printing() {
    let r = rule("on drop count by rule, reason");
    assert_eq!(r.action_flags, act::COUNT);
    assert_eq!(
        r.actions.count_by,
        Some(vec![KeyField::Rule, KeyField::Field("reason".into())])
    );
    let r = rule("on drop count");
    assert_eq!(r.actions.count_by, Some(vec![]));
    let r = rule("on recv where len > 1400 hist len");
    assert_eq!(r.action_flags, act::HIST);
    assert_eq!(r.actions.hist.as_deref(), Some("len"));
    assert_eq!(r.to_abi(0).hist_field, u32::from(field::LEN));
}

#[test]
fn capture_with_and_without_snaplen() {
    let r = rule("on drop capture snaplen 128");
    assert_eq!(r.action_flags, act::CAPTURE);
    assert_eq!(r.actions.capture, Some(128));
    assert_eq!(r.to_abi(0).snaplen, 128);
    let r = rule("on drop capture");
    assert_eq!(r.actions.capture, Some(abi::MAX_SNAPLEN));
}

#[test]
fn track_call_limit_and_stop() {
    let r = rule("on func ip_* where daddr in 10.0.0.0/8 track print");
    assert_eq!(r.action_flags, act::TRACK | act::PRINT);
    let r = rule("on drop where reason == NETFILTER_DROP call alert limit 10/s");
    assert_eq!(r.action_flags, act::CALL);
    assert_eq!(r.actions.call.as_deref(), Some("alert"));
    assert_eq!(r.actions.limit_per_sec, Some(10));
    assert_eq!(r.to_abi(0).limit_per_sec, 10);
    let r = rule("on drop where dport == 443 stop after 3");
    assert_eq!(r.actions.stop_after, Some(3));
    assert_eq!(r.action_flags, act::PRINT);
    // `track` alone still prints: a rule with no output would be silent.
    assert_eq!(rule("on drop track").action_flags, act::TRACK | act::PRINT);
}

#[test]
fn every_action_at_once() {
    let r = rule(
        "on drop where tcp print saddr, daddr stack count by reason hist len \
         capture snaplen 64 track call seen limit 100/s stop after 5",
    );
    assert_eq!(
        r.action_flags,
        act::PRINT | act::STACK | act::COUNT | act::HIST | act::CAPTURE | act::TRACK | act::CALL
    );
    let a = r.to_abi(1 << hook::TP0);
    assert_eq!(a.hooks, 1 << hook::DROP | 1 << hook::TP0);
    assert_eq!(a.ninsns, 1);
    assert_eq!(a.state, abi::RULE_ACTIVE);
}

// ------------------------------------------------------------ the examples of LANGUAGE.md

#[test]
fn the_contract_examples_compile() {
    let text = "\
on drop where dport == 443 print stack
on drop count by reason, func
on xmit, recv where host 10.0.0.1 and tcp port 80
on any where port https                       # pwru's `pwru port https`
on func ip_* where daddr in 10.0.0.0/8 track print
on drop where reason == NETFILTER_DROP call alert limit 10/s
on recv where len > 1400 hist len
on drop where dport == 443 stop after 1        # playbooks and CI
";
    let plan = compile(text);
    assert_eq!(plan.rules.len(), 8);
    let web = &plan.rules[2];
    assert_match(
        web,
        &Pkt::tcp4().daddr(v4([10, 0, 0, 1])).dport(80).m(),
        true,
    );
    assert_match(web, &Pkt::tcp4().m(), false);
}

#[test]
fn thirty_two_comparisons_fit_one_rule() {
    let set: Vec<String> = (1..=32).map(|p| p.to_string()).collect();
    let r = rule(&format!("on drop where dport in {{{}}}", set.join(", ")));
    assert_eq!(r.insns.len(), abi::MAX_INSNS);
    assert_match(&r, &Pkt::tcp4().dport(32).m(), true);
    assert_match(&r, &Pkt::tcp4().dport(33).m(), false);
}
