//! End to end: the real binary traces real drops in a namespace lab.
//! Every rule filters on the lab's namespace so parallel tests don't mix.

mod common;

use common::{root_or_skip, Trace};
use ferret_lab::{self as lab, Lab, ADDR6_A, ADDR6_B, ADDR_A, ADDR_B};
use std::time::Duration;

fn lab_with_https_drop() -> Lab {
    let lab = Lab::create("e2e").expect("lab");
    lab.nft(&lab.b, lab::DROP_HTTPS).expect("nft rule");
    lab
}

#[test]
fn nftables_drop_of_https_is_reported_with_reason_tuple_and_count() {
    if !root_or_skip("nftables_drop_of_https") {
        return;
    }
    let lab = lab_with_https_drop();
    let rule = format!(
        "on drop where netns == \"{}\" and dport == 443 print stack",
        lab.b
    );
    let trace = Trace::start(&[&rule]);
    // 500 ms is under TCP's 1 s initial retransmit timer: one SYN each.
    let failed = lab
        .tcp_attempts(ADDR_B.into(), 443, 3, Duration::from_millis(500))
        .unwrap();
    assert_eq!(failed, 3, "the firewall must block every attempt");
    let out = trace.stop();
    assert_eq!(
        out.events.len(),
        3,
        "one drop per SYN; stderr:\n{}",
        out.stderr
    );
    for ev in &out.events {
        assert_eq!(ev["reason"], "NETFILTER_DROP");
        assert_eq!(ev["saddr"], ADDR_A.to_string());
        assert_eq!(ev["daddr"], ADDR_B.to_string());
        assert_eq!(ev["dport"], 443);
        assert_eq!(ev["proto"], "tcp");
        assert_eq!(ev["family"], "ip4");
        assert_eq!(ev["netns"], lab.netns_inode(&lab.b).unwrap());
        assert_eq!(ev["rules"], serde_json::json!([1]));
        // The netfilter code that dropped it (nf_hook_slow, or nft_do_chain
        // on kernels where nf_tables frees the skb itself).
        assert!(ev["location"].as_str().unwrap().starts_with("nf"), "{ev}");
        let stack = ev["stack"].as_array().expect("stack requested");
        assert!(
            stack
                .iter()
                .any(|f| f.as_str().unwrap().starts_with("nf_hook_slow")),
            "{ev}"
        );
    }
    assert_eq!(out.rule(1)["matched"], 3);
    assert_eq!(out.rule(1)["lost_ring_full"], 0);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}

#[test]
fn closed_ports_drop_with_no_socket_for_udp_and_tcp() {
    if !root_or_skip("closed_ports_drop_with_no_socket") {
        return;
    }
    let lab = Lab::create("e2e").expect("lab");
    let rule = format!(
        "on drop where netns == \"{}\" and (udp dst port 9 or tcp dst port 81)",
        lab.b
    );
    let trace = Trace::start(&[&rule]);
    assert_eq!(lab.udp_send(ADDR_B.into(), 9, 20, 64).unwrap(), 20);
    let refused = lab
        .tcp_attempts(ADDR_B.into(), 81, 2, Duration::from_millis(500))
        .unwrap();
    assert_eq!(refused, 2);
    let out = trace.stop();
    let udp: Vec<_> = out.events.iter().filter(|e| e["proto"] == "udp").collect();
    let tcp: Vec<_> = out.events.iter().filter(|e| e["proto"] == "tcp").collect();
    assert_eq!(
        udp.len(),
        20,
        "count of events equals datagrams sent; stderr:\n{}",
        out.stderr
    );
    assert_eq!(tcp.len(), 2, "one SYN per refused connection");
    assert!(
        out.events.iter().all(|e| e["reason"] == "NO_SOCKET"),
        "{:?}",
        out.events
    );
}

#[test]
fn a_rule_that_must_not_match_produces_no_event() {
    if !root_or_skip("a_rule_that_must_not_match") {
        return;
    }
    let lab = lab_with_https_drop();
    let rule = format!("on drop where netns == \"{}\" and dport == 444", lab.b);
    let trace = Trace::start(&[&rule]);
    lab.tcp_attempts(ADDR_B.into(), 443, 2, Duration::from_millis(500))
        .unwrap();
    let out = trace.stop();
    assert!(out.events.is_empty(), "{:?}", out.events);
    assert_eq!(out.rule(1)["matched"], 0);
    assert!(
        out.rule(1)["seen"].as_u64().unwrap() >= 2,
        "the rule was evaluated on the drops"
    );
}

#[test]
fn ipv6_drops_carry_ipv6_addresses() {
    if !root_or_skip("ipv6_drops") {
        return;
    }
    let lab = lab_with_https_drop();
    let rule = format!(
        "on drop where netns == \"{}\" and ip6 and tcp dst port https",
        lab.b
    );
    let trace = Trace::start(&[&rule]);
    lab.tcp_attempts(ADDR6_B.into(), 443, 2, Duration::from_millis(500))
        .unwrap();
    let out = trace.stop();
    assert_eq!(out.events.len(), 2, "stderr:\n{}", out.stderr);
    for ev in &out.events {
        assert_eq!(ev["family"], "ip6");
        assert_eq!(ev["saddr"], ADDR6_A.to_string());
        assert_eq!(ev["daddr"], ADDR6_B.to_string());
        assert_eq!(ev["reason"], "NETFILTER_DROP");
    }
}

#[test]
fn limit_is_honoured_and_the_excess_reported() {
    if !root_or_skip("limit_is_honoured") {
        return;
    }
    let lab = Lab::create("e2e").expect("lab");
    let rule = format!(
        "on drop where netns == \"{}\" and udp dst port 9 limit 5/s",
        lab.b
    );
    let trace = Trace::start(&[&rule]);
    assert_eq!(lab.udp_send(ADDR_B.into(), 9, 50, 32).unwrap(), 50);
    let out = trace.stop();
    let shown = out.events.len() as u64;
    // A burst can straddle two one-second windows: at most 2 x 5.
    assert!((1..=10).contains(&shown), "shown {shown}");
    assert_eq!(out.rule(1)["matched"], 50);
    assert_eq!(
        out.rule(1)["rate_limited"].as_u64().unwrap(),
        50 - shown,
        "every suppressed event is counted"
    );
    assert!(
        out.stderr.contains("suppressed by `limit`"),
        "{}",
        out.stderr
    );
}

#[test]
fn stop_after_ends_the_session_after_the_first_match() {
    if !root_or_skip("stop_after") {
        return;
    }
    let lab = Lab::create("e2e").expect("lab");
    let rule = format!(
        "on drop where netns == \"{}\" and udp dst port 9 stop after 1",
        lab.b
    );
    let trace = Trace::start(&[&rule, "--duration", "20s"]);
    lab.udp_send(ADDR_B.into(), 9, 5, 32).unwrap();
    let started = std::time::Instant::now();
    let out = trace.wait();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "ended by stop after, not the duration"
    );
    assert_eq!(out.events.len(), 1);
    assert_eq!(out.summary.as_ref().unwrap()["ended_by"], "stop-after");
}
