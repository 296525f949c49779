//! Real packets through the real hook programs: stacks, captures, `limit`,
//! `track`, and IPv4/IPv6/TCP parsing across network namespaces. Traffic
//! stays on loopback or inside a throwaway lab (`ferret_lab`).
//! Needs root; skips (and says so) without.

mod kernel_common;

use ferret_core::abi::{self, act, field, hook, Config, Rule};
use ferret_core::event::{decode, Event};
use ferret_kernel::{AttachKind, EventStream, Kernel, LoadOptions};
use ferret_lab::{self as lab, Lab};
use kernel_common::{closed_port, cmp, dport_is, have_root, rule, send_udp};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Loads, installs `rules` in slots 0.., attaches their hooks.
fn kernel_with(rules: &[Rule], needs: u32) -> Kernel {
    let mut k = Kernel::load(&LoadOptions::default()).expect("load");
    let hooks = rules.iter().fold(0, |m, r| m | r.hooks);
    for (slot, r) in rules.iter().enumerate() {
        k.set_rule(slot, r).unwrap();
    }
    k.set_config(&Config {
        nrules: rules.len() as u32,
        needs,
        hooks,
        wakeup_bytes: 4096,
        ..Config::default()
    })
    .unwrap();
    for h in [hook::DROP, hook::FREE, hook::RECV, hook::XMIT, hook::QUEUE] {
        if hooks & (1 << h) != 0 {
            k.attach(h).unwrap();
        }
    }
    k
}

/// Events whose ports are `dport`, until `enough` says so or 3 s pass.
async fn gather(
    events: &mut EventStream,
    dport: u16,
    enough: impl Fn(&[Event]) -> bool,
) -> Vec<Event> {
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut got = Vec::new();
    while !enough(&got) && Instant::now() < deadline {
        events.wait(Duration::from_millis(20)).await;
        events.drain(|record| {
            let ev = decode(record).expect("well-formed record");
            if ev.dport() == Some(dport) {
                got.push(ev);
            }
        });
    }
    got
}

#[tokio::test]
async fn stack_and_capture_come_with_the_event() {
    if !have_root("stack_and_capture_come_with_the_event") {
        return;
    }
    let port = closed_port();
    let mut short = rule(
        1 << hook::DROP,
        act::STACK | act::CAPTURE,
        &[dport_is(port)],
    );
    short.snaplen = 64;
    let mut k = kernel_with(&[short], 1 << field::DPORT);
    let mut events = k.take_events().unwrap();
    send_udp(port, 1, 100);
    let got = gather(&mut events, port, |v| !v.is_empty()).await;
    let ev = got.first().expect("an event for our datagram");
    let ips = k.stack(ev.stack_id.expect("a stack id")).unwrap();
    assert!(
        !ips.is_empty() && ips.iter().all(|ip| *ip > 0xffff_0000_0000_0000),
        "{ips:x?}"
    );
    // Loopback frames carry an Ethernet header: L2 capture, cut at snaplen.
    assert!(ev.capture_l2);
    assert_eq!(ev.capture.len(), 64);
    assert_eq!(&ev.capture[12..14], &[0x08, 0x00]);
    assert_eq!(ev.capture[14] >> 4, 4);
    assert_eq!(&ev.capture[14 + 20 + 2..14 + 20 + 4], &port.to_be_bytes());

    // A second rule without snaplen (0: everything) widens the capture.
    let whole = rule(1 << hook::DROP, act::CAPTURE, &[dport_is(port)]);
    k.set_rule(1, &whole).unwrap();
    k.set_config(&Config {
        nrules: 2,
        needs: 1 << field::DPORT,
        hooks: 1 << hook::DROP,
        wakeup_bytes: 0,
        ..Config::default()
    })
    .unwrap();
    send_udp(port, 1, 100);
    let got = gather(&mut events, port, |v| !v.is_empty()).await;
    let ev = got.first().expect("an event for the second datagram");
    assert_eq!(ev.rules, vec![1, 2]);
    assert_eq!(ev.capture.len(), 14 + 20 + 8 + 100);
}

#[tokio::test]
async fn limit_suppresses_and_counts_the_excess() {
    if !have_root("limit_suppresses_and_counts_the_excess") {
        return;
    }
    let port = closed_port();
    let mut limited = rule(1 << hook::DROP, act::PRINT, &[dport_is(port)]);
    limited.limit_per_sec = 2;
    let k = &mut kernel_with(&[limited], 1 << field::DPORT);
    let mut events = k.take_events().unwrap();
    send_udp(port, 10, 10);
    let got = gather(&mut events, port, |v| v.len() > 2).await;
    assert_eq!(got.len(), 2, "two per second get through");
    let c = k.counters().unwrap()[0];
    assert_eq!((c.matched, c.emitted, c.rate_limited), (10, 2, 8), "{c:?}");
}

#[tokio::test]
async fn a_tracked_skb_matches_after_its_headers_stop_matching() {
    if !have_root("a_tracked_skb_matches_after_its_headers_stop_matching") {
        return;
    }
    // At recv skb->len is the IP datagram; at the UDP drop it is the UDP
    // part only. So `len == ip_len` holds at recv and not at drop.
    let (port, payload) = (closed_port(), 33usize);
    let ip_len = (20 + 8 + payload) as u64;
    let len_is = cmp(field::LEN, ip_len, 1, abi::TARGET_NOMATCH);
    let filter = [len_is, dport_is(port)];
    let hooks = 1 << hook::RECV | 1 << hook::DROP;
    let tracking = rule(hooks, act::PRINT | act::TRACK, &filter);
    let plain = rule(hooks, act::PRINT, &filter);
    let mut k = kernel_with(&[tracking, plain], 1 << field::DPORT | 1 << field::LEN);
    let mut events = k.take_events().unwrap();
    send_udp(port, 1, payload);
    let got = gather(&mut events, port, |v| {
        v.iter().any(|e| e.hook == hook::DROP)
    })
    .await;
    let at = |h: u32| {
        got.iter()
            .find(|e| e.hook == h)
            .unwrap_or_else(|| panic!("no event at hook {h}: {got:?}"))
    };
    assert_eq!(at(hook::RECV).rules, vec![1, 2]);
    assert_eq!(
        at(hook::DROP).rules,
        vec![1],
        "only the tracking rule follows the skb"
    );
    assert_ne!(at(hook::DROP).meta.len as u64, ip_len);
}

#[tokio::test]
async fn ipv6_udp_and_ipv4_tcp_across_namespaces_parse_fully() {
    if !have_root("ipv6_udp_and_ipv4_tcp_across_namespaces_parse_fully") {
        return;
    }
    let lab = Lab::create("kev").expect("lab (iproute2 installed?)");
    let (udp_port, tcp_port) = (40_001u16, 40_002u16);
    let either = [
        cmp(field::DPORT, udp_port.into(), abi::TARGET_MATCH, 1),
        dport_is(tcp_port),
    ];
    let mut k = kernel_with(
        &[rule(1 << hook::DROP, act::PRINT, &either)],
        1 << field::DPORT,
    );
    let mut events = k.take_events().unwrap();
    lab.udp_send(lab::ADDR6_B.into(), udp_port, 1, 20).unwrap();
    let udp = gather(&mut events, udp_port, |v| !v.is_empty()).await;
    lab.tcp_attempts(lab::ADDR_B.into(), tcp_port, 1, Duration::from_millis(300))
        .unwrap();
    let tcp = gather(&mut events, tcp_port, |v| !v.is_empty()).await;

    let netns_b = lab.netns_inode(&lab.b).expect("lab namespace inode");
    let ev = udp.first().expect("the IPv6 datagram's drop");
    assert_eq!(ev.meta.family, 0x86dd);
    assert_eq!(ev.saddr(), Some(IpAddr::from(lab::ADDR6_A)));
    assert_eq!(ev.daddr(), Some(IpAddr::from(lab::ADDR6_B)));
    assert_eq!((ev.proto(), ev.meta.ttl), (Some(17), 64));
    assert_eq!((ev.ifname(), ev.meta.netns), ("fb0", netns_b));
    assert!(ev.has(field::IFINDEX) && ev.has(field::PID) && ev.has(field::COMM));

    let ev = tcp.first().expect("the TCP SYN's drop");
    assert_eq!(ev.meta.family, 0x0800);
    assert_eq!(ev.saddr(), Some(IpAddr::from(lab::ADDR_A)));
    assert_eq!(ev.proto(), Some(6));
    assert_eq!(ev.meta.tcpflags & 0x3f, abi::TCP_SYN);
    assert_eq!(ev.meta.netns, netns_b);
}

#[tokio::test]
async fn the_raw_tp_twin_and_a_tp_slot_see_the_same_drop() {
    if !have_root("the_raw_tp_twin_and_a_tp_slot_see_the_same_drop") {
        return;
    }
    let port = closed_port();
    let on_drop = rule(1 << hook::DROP, act::PRINT, &[dport_is(port)]);
    let on_slot = rule(1 << (hook::TP0 + 3), act::PRINT, &[dport_is(port)]);
    let mut k = Kernel::load(&LoadOptions::default()).expect("load");
    k.set_rule(0, &on_drop).unwrap();
    k.set_rule(1, &on_slot).unwrap();
    let hooks = on_drop.hooks | on_slot.hooks;
    let cfg = Config {
        nrules: 2,
        needs: 1 << field::DPORT,
        hooks,
        wakeup_bytes: 0,
        ..Config::default()
    };
    k.set_config(&cfg).unwrap();
    k.attach_as(hook::DROP, AttachKind::RawTp).unwrap();
    k.attach_tp(3, "skb:kfree_skb", 0).unwrap();
    let mut events = k.take_events().unwrap();
    send_udp(port, 1, 8);
    let got = gather(&mut events, port, |v| v.len() >= 2).await;
    let raw = got
        .iter()
        .find(|e| e.hook == hook::DROP)
        .expect("raw_tp drop event");
    let slot = got
        .iter()
        .find(|e| e.hook == hook::TP0 + 3)
        .expect("tp slot event");
    assert_eq!(
        (raw.rules.as_slice(), slot.rules.as_slice()),
        (&[1][..], &[2][..])
    );
    assert!(raw.has(field::REASON) && !slot.has(field::REASON));
    assert_eq!(slot.meta.func_id, hook::TP0 + 3, "func_id names the source");
    assert_eq!(raw.meta.skb, slot.meta.skb, "the same skb");
    assert_eq!(raw.meta.sport, slot.meta.sport);
}
