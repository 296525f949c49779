//! End to end: what `explain` adds to an nftables verdict when the rule
//! is about connection tracking (the flow's conntrack entry, or that
//! there is none), checked in namespace labs.

mod common;

use common::{root_or_skip, wait_for_ruleset, Trace};
use ferret_lab::{Lab, ADDR_A, ADDR_B};
use serde_json::Value;
use std::net::IpAddr;
use std::time::Duration;

fn have(tool: &str) -> bool {
    let found = std::process::Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("skipped: {tool} is not installed on this machine (tools/deps.sh installs it)");
    }
    found
}

fn named(events: &[Value]) -> Vec<&Value> {
    events
        .iter()
        .map(|e| &e["verdict"])
        .filter(|v| v["by"] == "nftables")
        .collect()
}

#[test]
fn ct_state_invalid_drop_says_the_flow_has_no_conntrack_entry() {
    if !root_or_skip("explain ct invalid") || !have("conntrack") {
        return;
    }
    let lab = Lab::create("xcti").expect("lab");
    lab.nft(
        &lab.b,
        "table inet state {\n chain input {\n  type filter hook input priority 0; policy accept;\n  ct state invalid counter drop\n }\n}\n",
    )
    .expect("nft");
    // Without loose pickup, a segment of a connection conntrack does not
    // know is invalid.
    lab.exec(
        &lab.b,
        &["sysctl", "-qw", "net.netfilter.nf_conntrack_tcp_loose=0"],
    )
    .expect("sysctl");
    let port = 7230;
    let listener = lab
        .in_ns(&lab.b, move || std::net::TcpListener::bind((ADDR_B, port)))
        .unwrap()
        .expect("listener");
    let rule = format!(
        "on drop where netns == \"{}\" and tcp dst port {port} explain",
        lab.b
    );
    let trace = Trace::start(&[&rule]);
    let b = lab.b.clone();
    lab.in_ns(&lab.a, move || {
        use std::io::Write;
        let mut s = std::net::TcpStream::connect((IpAddr::from(ADDR_B), port)).expect("connect");
        // b forgets the connection: its next segments are invalid.
        let flushed = std::process::Command::new("ip")
            .args(["netns", "exec", &b, "conntrack", "-F"])
            .output()
            .expect("conntrack");
        assert!(flushed.status.success(), "{flushed:?}");
        s.write_all(b"after the flush").expect("write");
        let sport = s.local_addr().unwrap().port();
        wait_for_ruleset(&b, &format!(". {sport} . {port}"));
        // Retransmissions, with the trace in place.
        std::thread::sleep(Duration::from_millis(1500));
    })
    .unwrap();
    let out = trace.stop();
    drop(listener);
    let named = named(&out.events);
    assert!(!named.is_empty(), "{:?}\n{}", out.events, out.stderr);
    for v in named {
        assert_eq!(v["rule"], "ct state invalid counter drop", "{v}");
        let ct = &v["ct"];
        assert_eq!(ct["found"], false, "{v}");
        assert!(ct["original"].is_null() && ct["reply"].is_null(), "{v}");
        assert!(ct["tried"].as_str().unwrap().contains("no entry"), "{v}");
    }
}

#[test]
fn a_rule_on_a_tracked_flow_shows_its_entry_and_both_tuples() {
    if !root_or_skip("explain ct entry") || !have("conntrack") {
        return;
    }
    let lab = Lab::create("xcte").expect("lab");
    lab.nft(
        &lab.b,
        "table inet budget {\n chain input {\n  type filter hook input priority 0; policy accept;\n  udp dport 7231 ct original packets > 2 drop\n }\n}\n",
    )
    .expect("nft");
    let rule = format!(
        "on drop where netns == \"{}\" and reason == NETFILTER_DROP and udp dst port 7231 explain",
        lab.b
    );
    let trace = Trace::start(&[&rule]);
    let b = lab.b.clone();
    let sport = lab
        .in_ns(&lab.a, move || {
            let sock = std::net::UdpSocket::bind((ADDR_A, 0)).expect("bind");
            // Two pass and make the entry; the third is dropped and has
            // its flow traced; three more are explained.
            for _ in 0..3 {
                sock.send_to(b"q", (ADDR_B, 7231)).expect("send");
                std::thread::sleep(Duration::from_millis(50));
            }
            let sport = sock.local_addr().unwrap().port();
            wait_for_ruleset(&b, &format!(". {sport} . 7231"));
            std::thread::sleep(Duration::from_millis(100));
            for _ in 0..3 {
                sock.send_to(b"q", (ADDR_B, 7231)).expect("send");
                std::thread::sleep(Duration::from_millis(100));
            }
            sport
        })
        .unwrap();
    let out = trace.stop();
    let named = named(&out.events);
    assert_eq!(named.len(), 3, "{:?}\n{}", out.events, out.stderr);
    for v in named {
        let ct = &v["ct"];
        assert_eq!(ct["found"], true, "{v}");
        assert!(ct["state"].is_null(), "UDP has no state: {v}");
        assert_eq!(
            ct["original"],
            format!("src={ADDR_A} dst={ADDR_B} sport={sport} dport=7231"),
            "{v}"
        );
        assert_eq!(
            ct["reply"],
            format!("src={ADDR_B} dst={ADDR_A} sport=7231 dport={sport}"),
            "{v}"
        );
        assert!(
            ct["status"]
                .as_array()
                .unwrap()
                .contains(&"UNREPLIED".into()),
            "{v}"
        );
    }
}

#[test]
fn an_iptables_legacy_drop_is_unknown_and_says_why() {
    if !root_or_skip("explain iptables-legacy") || !have("iptables-legacy") {
        return;
    }
    let lab = Lab::create("xleg").expect("lab");
    let port = "7240";
    lab.exec(
        &lab.b,
        &[
            "iptables-legacy",
            "-A",
            "INPUT",
            "-p",
            "udp",
            "--dport",
            port,
            "-j",
            "DROP",
        ],
    )
    .expect("iptables-legacy");
    let rule = format!(
        "on drop where netns == \"{}\" and udp dst port {port} explain",
        lab.b
    );
    let trace = Trace::start(&[&rule]);
    let b = lab.b.clone();
    lab.in_ns(&lab.a, move || {
        let sock = std::net::UdpSocket::bind((ADDR_A, 0)).expect("bind");
        sock.send_to(b"x", (ADDR_B, 7240)).expect("send");
        let sport = sock.local_addr().unwrap().port();
        wait_for_ruleset(&b, &format!(". {sport} . 7240"));
        for _ in 0..3 {
            std::thread::sleep(Duration::from_millis(200));
            sock.send_to(b"x", (ADDR_B, 7240)).expect("send");
        }
    })
    .unwrap();
    let out = trace.stop();
    assert_eq!(out.events.len(), 4, "{:?}\n{}", out.events, out.stderr);
    // Under load the monitor's echo of the flow's element can come late:
    // until it does, a drop is pending (said so); after it, never.
    let finals: Vec<&Value> = out.events[1..]
        .iter()
        .map(|ev| &ev["verdict"])
        .skip_while(|v| v["pending"] == true)
        .collect();
    assert!(!finals.is_empty(), "{:?}", out.events);
    for v in finals {
        assert_eq!(
            (&v["by"], &v["pending"]),
            (&"unknown".into(), &false.into()),
            "{v}"
        );
        let tried = v["tried"].as_str().unwrap();
        assert!(
            tried.contains("iptables-legacy: filter")
                && tried.contains("cannot be traced or resolved"),
            "{tried}"
        );
    }
}

/// A namespace of the test's own, deleted on drop.
struct ExtraNetns(String);

impl Drop for ExtraNetns {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &self.0])
            .status();
    }
}

fn ip(args: &[&str]) {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .expect("ip");
    assert!(out.status.success(), "ip {args:?}: {out:?}");
}

#[test]
fn a_bridge_family_rule_is_named_when_bridged_packets_pass_the_ip_hooks() {
    if root_or_skip("explain bridge") {
        bridge_drop_is_named("xbr", true);
    }
}

#[test]
fn a_bridge_family_rule_is_named_without_br_netfilter() {
    if root_or_skip("explain bridge without br_netfilter") {
        bridge_drop_is_named("xbq", false);
    }
}

/// A bridge-family rule in b, which switches between a and a third
/// namespace c, drops UDP to 7260; with `br_netfilter` bridged packets
/// also pass the IP hooks, without it only the bridge's own.
fn bridge_drop_is_named(tag: &str, br_netfilter: bool) {
    let lab = Lab::create(tag).expect("lab");
    let c = ExtraNetns(format!("{}-c", lab.b));
    ip(&["netns", "add", &c.0]);
    ip(&[
        "link", "add", "fc0", "netns", &c.0, "type", "veth", "peer", "name", "fb1", "netns", &lab.b,
    ]);
    ip(&["-n", &lab.b, "addr", "flush", "dev", "fb0"]);
    ip(&["-n", &lab.b, "link", "add", "br0", "type", "bridge"]);
    for dev in ["fb0", "fb1"] {
        ip(&["-n", &lab.b, "link", "set", dev, "master", "br0"]);
    }
    for dev in ["fb1", "br0"] {
        ip(&["-n", &lab.b, "link", "set", dev, "up"]);
    }
    let addr_c = "198.18.0.3";
    ip(&[
        "-n",
        &c.0,
        "addr",
        "add",
        &format!("{addr_c}/24"),
        "dev",
        "fc0",
    ]);
    ip(&["-n", &c.0, "link", "set", "fc0", "up"]);
    let setting = format!(
        "net.bridge.bridge-nf-call-iptables={}",
        u8::from(br_netfilter)
    );
    let through = lab.exec(&lab.b, &["sysctl", "-qw", &setting]);
    // Without the module there is no setting, and no IP hook for bridged
    // packets either: that is the case without br_netfilter.
    if through.is_err() && br_netfilter {
        eprintln!("skipped explain bridge: no br_netfilter on this kernel");
        return;
    }
    lab.nft(
        &lab.b,
        "table bridge switch {\n chain passing {\n  type filter hook forward priority 0; policy accept;\n  udp dport 7260 counter drop\n }\n}\n",
    )
    .expect("nft");
    let rule = format!(
        "on drop where netns == \"{}\" and udp dst port 7260 explain",
        lab.b
    );
    let trace = Trace::start(&[&rule]);
    let b = lab.b.clone();
    lab.in_ns(&lab.a, move || {
        let sock = std::net::UdpSocket::bind((ADDR_A, 0)).expect("bind");
        let to: std::net::Ipv4Addr = addr_c.parse().unwrap();
        // The first datagram waits for ARP, which the bridge passes.
        sock.send_to(b"x", (to, 7260)).expect("send");
        let sport = sock.local_addr().unwrap().port();
        wait_for_ruleset(&b, &format!(". {sport} . 7260"));
        std::thread::sleep(Duration::from_millis(100));
        for _ in 0..3 {
            sock.send_to(b"x", (to, 7260)).expect("send");
            std::thread::sleep(Duration::from_millis(100));
        }
    })
    .unwrap();
    let out = trace.stop();
    let named = named(&out.events);
    assert_eq!(named.len(), 3, "{:?}\n{}", out.events, out.stderr);
    for v in named {
        assert_eq!(
            (&v["family"], &v["table"], &v["chain"]),
            (&"bridge".into(), &"switch".into(), &"passing".into()),
            "{v}"
        );
        assert_eq!(v["rule"], "udp dport 7260 counter drop", "{v}");
    }
}

#[test]
fn a_drop_after_dnat_is_named_by_the_rewritten_tuple() {
    if !root_or_skip("explain after dnat") || !have("conntrack") {
        return;
    }
    // b rewrites UDP to port 7250 into port 7251, which its input drops.
    let lab = Lab::create("xdnat").expect("lab");
    lab.nft(
        &lab.b,
        &format!(
            "table ip nat {{\n chain pre {{\n  type nat hook prerouting priority dstnat;\n  udp dport 7250 dnat to {ADDR_B}:7251\n }}\n}}\n\
             table inet guard {{\n chain input {{\n  type filter hook input priority 0; policy accept;\n  udp dport 7251 counter drop\n }}\n}}\n"
        ),
    )
    .expect("nft");
    let rule = format!(
        "on drop where netns == \"{}\" and udp dst port 7251 explain",
        lab.b
    );
    let trace = Trace::start(&[&rule]);
    lab.in_ns(&lab.a, move || {
        let sock = std::net::UdpSocket::bind((ADDR_A, 0)).expect("bind");
        // The first drop sets up the trace; the next ones are explained.
        for _ in 0..5 {
            sock.send_to(b"n", (ADDR_B, 7250)).expect("send");
            std::thread::sleep(Duration::from_millis(300));
        }
    })
    .unwrap();
    let out = trace.stop();
    let drops: Vec<&Value> = out.events.iter().filter(|e| e["dport"] == 7251).collect();
    assert!(drops.len() >= 4, "{:?}\n{}", out.events, out.stderr);
    let named = named(&out.events);
    assert!(named.len() >= 3, "{:?}\n{}", out.events, out.stderr);
    for v in named {
        assert_eq!(
            (&v["chain"], &v["rule"]),
            (&"input".into(), &"udp dport 7251 counter drop".into()),
            "{v}"
        );
        // Every packet of the flow is dropped before conntrack confirms
        // it, so there is no entry to show the original tuple from.
        assert!(v["ct"].is_null(), "{v}");
    }
}
