//! End to end: `explain` names the nftables rule (or policy) behind real
//! drops in namespace labs, checked against `nft -j list ruleset`, and
//! leaves nothing behind: its table goes on SIGINT, SIGTERM and SIGKILL,
//! a killed ferret's table is removed by the next start, and a session
//! without `explain` changes nothing.

mod common;

use common::{root_or_skip, wait_for_ruleset, Trace};
use ferret_lab::{Lab, ADDR6_B, ADDR_B};
use serde_json::Value;
use std::net::IpAddr;
use std::time::Duration;

/// `nft list tables` in a lab namespace.
fn tables(lab: &Lab, ns: &str) -> String {
    let out = lab.exec(ns, &["nft", "list", "tables"]).expect("nft");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The ruleset's object (`rule` or `chain`) matching `pick`.
fn ruleset_object(lab: &Lab, ns: &str, kind: &str, pick: impl Fn(&Value) -> bool) -> Value {
    let out = lab
        .exec(ns, &["nft", "-j", "list", "ruleset"])
        .expect("nft");
    let all: Value = serde_json::from_slice(&out.stdout).expect("nft JSON");
    all["nftables"]
        .as_array()
        .expect("objects")
        .iter()
        .filter_map(|o| o.get(kind))
        .find(|o| pick(o))
        .cloned()
        .unwrap_or_else(|| panic!("no {kind} in {all}"))
}

/// One UDP socket in `ns` sends to `to:port`: one datagram, then, once
/// ferret traces the flow in namespace `traced` (the first drop's event
/// may wait for ferret's symbols), three more.
fn udp_flow(ns: &str, traced: &str, to: IpAddr, port: u16) {
    let traced = traced.to_string();
    ferret_lab::in_netns(ns, move || {
        let bind: IpAddr = if to.is_ipv4() {
            std::net::Ipv4Addr::UNSPECIFIED.into()
        } else {
            std::net::Ipv6Addr::UNSPECIFIED.into()
        };
        let sock = std::net::UdpSocket::bind((bind, 0)).expect("bind");
        let _ = sock.send_to(b"first", (to, port));
        let sport = sock.local_addr().unwrap().port();
        wait_for_ruleset(&traced, &format!(". {sport} . {port}"));
        // The echo of the element reaches ferret's monitor.
        std::thread::sleep(Duration::from_millis(100));
        for _ in 0..3 {
            let _ = sock.send_to(b"again", (to, port));
            std::thread::sleep(Duration::from_millis(100));
        }
    })
    .expect("lab thread");
}

fn verdicts(events: &[Value]) -> (Vec<&Value>, Vec<&Value>) {
    let v: Vec<&Value> = events.iter().map(|e| &e["verdict"]).collect();
    let pending = v.iter().copied().filter(|v| v["pending"] == true).collect();
    let named = v
        .iter()
        .copied()
        .filter(|v| v["by"] == "nftables")
        .collect();
    (pending, named)
}

#[test]
fn inet_input_drop_names_the_rule_and_the_table_goes_on_sigint() {
    if !root_or_skip("explain inet") {
        return;
    }
    let lab = Lab::create("explain").expect("lab");
    lab.nft(
        &lab.b,
        "table inet web {\n chain input {\n  type filter hook input priority 0; policy accept;\n  tcp dport 443 counter drop comment \"no https\"\n }\n}\n",
    )
    .expect("nft");
    let rule = format!(
        "on drop where netns == \"{}\" and dport == 443 explain",
        lab.b
    );
    let trace = Trace::start(&[&rule]);
    // A first connection sets up the trace table (its drop's event may
    // wait for ferret's symbols); then one connection: its SYN and its
    // retransmissions (from 1 s on).
    lab.tcp_attempts(ADDR_B.into(), 443, 1, Duration::from_millis(300))
        .unwrap();
    wait_for_ruleset(&lab.b, "ferret_explain_");
    lab.tcp_attempts(ADDR_B.into(), 443, 1, Duration::from_millis(1500))
        .unwrap();
    let during = tables(&lab, &lab.b);
    let out = trace.stop();
    assert!(during.contains("ferret_explain_"), "{during}");
    let (pending, named) = verdicts(&out.events);
    assert_eq!(pending.len(), 2, "the first SYNs: {:#?}", out.events);
    assert!(
        !named.is_empty() && named.len() == out.events.len() - 2,
        "the retransmissions: {:#?}\nstderr:\n{}",
        out.events,
        out.stderr
    );
    let v = named[0];
    let rule = ruleset_object(&lab, &lab.b, "rule", |r| r["comment"] == "no https");
    assert_eq!(
        (&v["family"], &v["table"], &v["chain"], &v["handle"]),
        (
            &rule["family"],
            &rule["table"],
            &rule["chain"],
            &rule["handle"]
        ),
        "{v}"
    );
    assert_eq!(v["policy"], false);
    assert_eq!(v["comment"], "no https");
    assert_eq!(
        v["rule"], "tcp dport 443 counter drop comment \"no https\"",
        "{v}"
    );
    assert!(!tables(&lab, &lab.b).contains("ferret_explain_"));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let x = &out.summary.as_ref().expect("summary")["explain"];
    assert_eq!(x["explained"], named.len() as u64, "{x}");
    assert_eq!(x["unknown"], 2, "{x}");
    assert!(x["latency_max_us"].as_u64().unwrap() > 0, "{x}");
    eprintln!("explain latency: {x}");
}

#[test]
fn ip_output_drop_with_a_comment_and_the_table_goes_on_sigterm() {
    if !root_or_skip("explain ip output") {
        return;
    }
    let lab = Lab::create("explain").expect("lab");
    lab.nft(
        &lab.a,
        "table ip filter {\n chain output {\n  type filter hook output priority 0; policy accept;\n  udp dport 5353 counter drop comment \"ufw-user-output\"\n }\n}\n",
    )
    .expect("nft");
    let rule = format!(
        "on drop where netns == \"{}\" and dport == 5353 explain",
        lab.a
    );
    let trace = Trace::start(&[&rule]);
    udp_flow(&lab.a, &lab.a, ADDR_B.into(), 5353);
    std::thread::sleep(Duration::from_millis(400));
    let out = trace.terminate();
    assert_eq!(out.events.len(), 4, "stderr:\n{}", out.stderr);
    let (pending, named) = verdicts(&out.events);
    assert_eq!(pending.len(), 1, "{:?}", out.events);
    assert_eq!(named.len(), 3, "{:?}", out.events);
    let rule = ruleset_object(&lab, &lab.a, "rule", |r| r["comment"] == "ufw-user-output");
    for v in named {
        assert_eq!(
            (&v["family"], &v["table"], &v["chain"], &v["handle"]),
            (
                &json("ip"),
                &json("filter"),
                &json("output"),
                &rule["handle"]
            ),
            "{v}"
        );
        assert_eq!(v["comment"], "ufw-user-output");
    }
    assert!(!tables(&lab, &lab.a).contains("ferret_explain_"));
}

fn json(s: &str) -> Value {
    Value::String(s.into())
}

#[test]
fn ip6_chain_policy_drop_is_reported_as_the_policy() {
    if !root_or_skip("explain policy") {
        return;
    }
    let lab = Lab::create("explain").expect("lab");
    lab.nft(
        &lab.b,
        "table ip6 guard {\n chain input {\n  type filter hook input priority 0; policy drop;\n  icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept\n }\n}\n",
    )
    .expect("nft");
    let rule = format!(
        "on drop where netns == \"{}\" and dport == 7000 explain",
        lab.b
    );
    let trace = Trace::start(&[&rule]);
    // Neighbour discovery would hold the datagrams until it resolves and
    // then deliver them at once: resolve it first.
    let link = lab
        .ip(&lab.b, &["-br", "link", "show", "fb0"])
        .unwrap()
        .stdout;
    let link = String::from_utf8_lossy(&link);
    let mac = link.split_whitespace().nth(2).expect("fb0's address");
    let b6 = ADDR6_B.to_string();
    lab.ip(
        &lab.a,
        &["neigh", "replace", &b6, "lladdr", mac, "dev", "fa0"],
    )
    .unwrap();
    udp_flow(&lab.a, &lab.b, ADDR6_B.into(), 7000);
    let out = trace.stop();
    let (pending, named) = verdicts(&out.events);
    assert_eq!(
        (out.events.len(), pending.len(), named.len()),
        (4, 1, 3),
        "{:?}\n{}",
        out.events,
        out.stderr
    );
    let chain = ruleset_object(&lab, &lab.b, "chain", |c| c["table"] == "guard");
    assert_eq!(chain["policy"], "drop");
    for v in named {
        assert_eq!(v["policy"], true, "{v}");
        assert_eq!(
            (&v["family"], &v["table"], &v["chain"]),
            (&chain["family"], &chain["table"], &chain["name"])
        );
        assert!(v["handle"].is_null() && v["rule"].is_null(), "{v}");
    }
}

#[test]
fn iptables_nft_rule_with_a_comment_is_named() {
    if !root_or_skip("explain iptables-nft") {
        return;
    }
    let found = std::process::Command::new("iptables-nft")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("skipped explain iptables-nft: iptables-nft is not installed on this machine");
        return;
    }
    let lab = Lab::create("explain").expect("lab");
    lab.exec(
        &lab.b,
        &[
            "iptables-nft",
            "-A",
            "INPUT",
            "-p",
            "udp",
            "--dport",
            "6000",
            "-m",
            "comment",
            "--comment",
            "legacy app",
            "-j",
            "DROP",
        ],
    )
    .expect("iptables-nft");
    let rule = format!(
        "on drop where netns == \"{}\" and dport == 6000 explain",
        lab.b
    );
    let trace = Trace::start(&[&rule]);
    udp_flow(&lab.a, &lab.b, ADDR_B.into(), 6000);
    let out = trace.stop();
    let (_, named) = verdicts(&out.events);
    assert_eq!(named.len(), 3, "{:?}", out.events);
    let rule = ruleset_object(&lab, &lab.b, "rule", |r| r["chain"] == "INPUT");
    for v in named {
        assert_eq!(
            (&v["family"], &v["table"], &v["chain"], &v["handle"]),
            (
                &json("ip"),
                &json("filter"),
                &json("INPUT"),
                &rule["handle"]
            )
        );
        assert_eq!(v["comment"], "legacy app", "{v}");
        assert_eq!(
            v["iptables"],
            "-A INPUT -p udp -m udp --dport 6000 -m comment --comment \"legacy app\" -j DROP",
            "as iptables-save prints it: {v}"
        );
    }
}

#[test]
fn a_killed_ferrets_table_goes_with_it_and_stale_ones_are_removed() {
    if !root_or_skip("explain cleanup") {
        return;
    }
    let lab = Lab::create("explain").expect("lab");
    lab.nft(&lab.b, ferret_lab::DROP_HTTPS).expect("nft");
    // A table as a ferret killed on a kernel without the `owner` flag
    // leaves it: the pid of a process that has ended.
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let dead = gone.id();
    gone.wait().unwrap();
    let stale = format!("ferret_explain_{dead}");
    lab.nft(&lab.b, &format!("table inet {stale} {{\n}}\n"))
        .expect("nft");
    let rule = format!(
        "on drop where netns == \"{}\" and dport == 443 explain",
        lab.b
    );
    let trace = Trace::start(&[&rule]);
    assert!(!tables(&lab, &lab.b).contains(&stale), "removed at start");
    lab.tcp_attempts(ADDR_B.into(), 443, 1, Duration::from_millis(300))
        .unwrap();
    wait_for_ruleset(&lab.b, "ferret_explain_");
    let own = format!("ferret_explain_{}", trace.pid());
    assert!(tables(&lab, &lab.b).contains(&own));
    let out = trace.signal(libc::SIGKILL);
    assert_eq!(out.code, None, "killed");
    // The kernel removes an owned table when its owner's socket closes.
    let until = std::time::Instant::now() + Duration::from_secs(3);
    while tables(&lab, &lab.b).contains(&own) && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !tables(&lab, &lab.b).contains(&own),
        "{}",
        tables(&lab, &lab.b)
    );
}

#[test]
fn without_explain_nothing_on_the_system_changes() {
    if !root_or_skip("explain off") {
        return;
    }
    let lab = Lab::create("explain").expect("lab");
    lab.nft(&lab.b, ferret_lab::DROP_HTTPS).expect("nft");
    let before = lab
        .exec(&lab.b, &["nft", "list", "ruleset"])
        .unwrap()
        .stdout;
    let rule = format!("on drop where netns == \"{}\" and dport == 443", lab.b);
    let trace = Trace::start(&[&rule]);
    lab.tcp_attempts(ADDR_B.into(), 443, 1, Duration::from_millis(1500))
        .unwrap();
    let during = lab
        .exec(&lab.b, &["nft", "list", "ruleset"])
        .unwrap()
        .stdout;
    let out = trace.stop();
    assert_eq!(out.events.len(), 2);
    assert!(out.events.iter().all(|e| e.get("verdict").is_none()));
    let text = |b: &[u8]| String::from_utf8_lossy(b).replace(char::is_numeric, "");
    assert_eq!(text(&before), text(&during), "only counters may move");
}

#[test]
fn no_socket_drops_say_what_listens_on_the_port_elsewhere() {
    if !root_or_skip("explain no socket") {
        return;
    }
    let lab = Lab::create("explain").expect("lab");
    let loopback = std::net::Ipv4Addr::LOCALHOST;
    let (udp, tcp) = lab
        .in_ns(&lab.b, move || {
            (
                std::net::UdpSocket::bind((loopback, 9)),
                std::net::TcpListener::bind((loopback, 81)),
            )
        })
        .unwrap();
    let (_udp, _tcp) = (udp.expect("udp socket"), tcp.expect("tcp listener"));
    let rule = format!(
        "on drop where netns == \"{}\" and (udp dst port 9 or tcp dst port 81) explain",
        lab.b
    );
    let trace = Trace::start(&[&rule]);
    assert_eq!(lab.udp_send(ADDR_B.into(), 9, 1, 16).unwrap(), 1);
    lab.tcp_attempts(ADDR_B.into(), 81, 1, Duration::from_millis(500))
        .unwrap();
    let out = trace.stop();
    assert_eq!(out.events.len(), 2, "{:?}\n{}", out.events, out.stderr);
    let tables_after = tables(&lab, &lab.b);
    for ev in &out.events {
        assert_eq!(ev["reason"], "NO_SOCKET");
        let v = &ev["verdict"];
        let proto = ev["proto"].as_str().unwrap();
        let port = ev["dport"].as_u64().unwrap();
        assert_eq!(v["by"], "sockets", "{v}");
        assert_eq!(v["listening"], false, "{v}");
        assert_eq!(v["address"], ADDR_B.to_string());
        assert_eq!(
            v["nearby"],
            serde_json::json!([format!("{proto} 127.0.0.1:{port}")]),
            "{v}"
        );
    }
    assert!(
        !tables_after.contains("ferret_explain_"),
        "NO_SOCKET adds no table"
    );
}

#[test]
fn a_drop_nftables_did_not_trace_is_unknown_not_guessed() {
    if !root_or_skip("explain untraced") {
        return;
    }
    let lab = Lab::create("explain").expect("lab");
    // netdev ingress runs before prerouting, where ferret sets the trace:
    // its drops are NETFILTER_DROP, with no trace to name them by.
    lab.nft(
        &lab.b,
        "table netdev edge {\n chain in {\n  type filter hook ingress device \"fb0\" priority 0;\n  udp dport 7100 drop\n }\n}\n",
    )
    .expect("nft");
    let rule = format!(
        "on drop where netns == \"{}\" and dport == 7100 explain",
        lab.b
    );
    let trace = Trace::start(&[&rule]);
    udp_flow(&lab.a, &lab.b, ADDR_B.into(), 7100);
    let out = trace.stop();
    assert_eq!(out.events.len(), 4, "{:?}\n{}", out.events, out.stderr);
    let (pending, named) = verdicts(&out.events);
    assert_eq!((pending.len(), named.len()), (1, 0), "{:?}", out.events);
    for ev in &out.events[1..] {
        assert_eq!(ev["reason"], "NETFILTER_DROP");
        let tried = ev["verdict"]["tried"].as_str().unwrap();
        assert!(
            tried.starts_with("nftables trace: no traced drop of this packet within 250 ms")
                && tried.contains("no iptables-legacy tables"),
            "{tried}"
        );
    }
}

#[test]
fn under_sudo_explain_stays_root_and_an_explicit_user_is_refused() {
    if !root_or_skip("explain privileges") {
        return;
    }
    let lab = Lab::create("explain").expect("lab");
    lab.nft(&lab.b, ferret_lab::DROP_HTTPS).expect("nft");
    let rule = format!(
        "on drop where netns == \"{}\" and dport == 443 explain",
        lab.b
    );
    let sudo = [("SUDO_UID", "65534"), ("SUDO_GID", "65534")];
    let trace = Trace::start_with_env(&[&rule], &sudo);
    lab.tcp_attempts(ADDR_B.into(), 443, 1, Duration::from_millis(300))
        .unwrap();
    wait_for_ruleset(&lab.b, "ferret_explain_");
    lab.tcp_attempts(ADDR_B.into(), 443, 1, Duration::from_millis(1500))
        .unwrap();
    // Past the ready line, where it would have become nobody.
    let status = std::fs::read_to_string(format!("/proc/{}/status", trace.pid())).unwrap();
    let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    let out = trace.stop();
    assert_eq!(uid.split_whitespace().nth(1), Some("0"), "{uid}");
    let (_, named) = verdicts(&out.events);
    assert!(!named.is_empty(), "{:?}", out.events);
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_ferret"))
        .args(["--user", "nobody", &rule])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    assert!(stderr.contains("`explain` runs nft"), "{stderr}");
}
