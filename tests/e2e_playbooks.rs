//! End to end: the shipped playbooks run as a user runs them, against real
//! drops and resets in namespace labs, and their reports are checked.
//! Also: broken scripts (endless loop, syntax error, file access) end with
//! a clear error and a clean trace, never a crash.

mod common;

use common::{root_or_skip, Finished, Trace};
use ferret_lab::{self as lab, Lab, ADDR_B};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

fn script(name: &str) -> String {
    format!("{}/scripts/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Starts `ferret run --json PLAYBOOK ARGS..` and waits for its ready line.
fn start(playbook: &str, args: &[&str]) -> Trace {
    let path = script(playbook);
    let mut all = vec!["run", "--json", path.as_str()];
    all.extend_from_slice(args);
    Trace::start_exact(&all, &[])
}

fn report(out: &Finished) -> &Value {
    out.events
        .iter()
        .find(|v| v["type"] == "report")
        .unwrap_or_else(|| panic!("no report; stderr:\n{}", out.stderr))
}

fn netns_filter(ns: &str) -> String {
    format!("netns == \"{ns}\"")
}

const SYN_WAIT: Duration = Duration::from_millis(500);

#[test]
fn why_dropped_reports_netfilter_drop_at_the_hook_with_tuple_and_advice() {
    if !root_or_skip("why_dropped_netfilter") {
        return;
    }
    let lab = Lab::create("pb").expect("lab");
    lab.nft(&lab.b, lab::DROP_HTTPS).expect("nft rule");
    // As the acceptance runs it (`--for 5s`), narrowed to the lab: the
    // machine may be busy with other drops, which the playbook's rate limit
    // would sample.
    let filter = netns_filter(&lab.b);
    let trace = start("why-dropped.rhai", &["--for", "5s", "--", &filter]);
    let failed = lab
        .tcp_attempts(ADDR_B.into(), 443, 3, SYN_WAIT)
        .expect("traffic");
    assert_eq!(failed, 3, "the firewall blocks every attempt");
    // A connection whose SYN is retransmitted: `explain` names the rule
    // behind the retransmission (the first SYNs set up the trace).
    lab.tcp_attempts(ADDR_B.into(), 443, 1, Duration::from_millis(1500))
        .expect("traffic");
    let out = trace.wait();
    assert_eq!(
        out.code,
        Some(1),
        "drops were found; stderr:\n{}",
        out.stderr
    );
    let r = report(&out);
    assert!(r["drops"].as_u64().unwrap() >= 3, "{r}");
    let groups = r["groups"].as_array().expect("groups");
    let nf = groups
        .iter()
        .find(|g| {
            g["reason"] == "NETFILTER_DROP"
                && g["namespaces"]
                    .as_array()
                    .is_some_and(|n| n.iter().any(|x| x == lab.b.as_str()))
        })
        .unwrap_or_else(|| panic!("no NETFILTER_DROP group for {}: {r}", lab.b));
    assert!(nf["count"].as_u64().unwrap() >= 3, "{r}");
    assert_eq!(
        nf["hook"], "netfilter INPUT hook (nf_hook_slow <- ip_local_deliver)",
        "{nf}"
    );
    let tuple = nf["tuple"].as_str().unwrap();
    assert!(
        tuple.starts_with("198.18.0.1:") && tuple.ends_with("->198.18.0.2:443(tcp)"),
        "{nf}"
    );
    let named =
        "dropped by the nftables rule \"tcp dport 443 drop\" (inet ferret_lab input, handle ";
    assert!(nf["advice"].as_str().unwrap().starts_with(named), "{nf}");
    assert!(
        nf["explained"][0].as_str().unwrap().starts_with(named),
        "{nf}"
    );
    assert!(
        r["summary"].as_str().unwrap().contains(named),
        "the answer names the rule: {r}"
    );
    assert!(
        nf["stack"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f.as_str().unwrap().starts_with("nf_hook_slow")),
        "{nf}"
    );
    assert_eq!(out.summary.as_ref().unwrap()["ended_by"], "duration");
}

#[test]
fn why_dropped_explains_a_closed_udp_port_as_no_socket() {
    if !root_or_skip("why_dropped_no_socket") {
        return;
    }
    let lab = Lab::create("pb").expect("lab");
    let filter = netns_filter(&lab.b);
    let trace = start("why-dropped.rhai", &["--", &filter]);
    assert_eq!(lab.udp_send(ADDR_B.into(), 9, 5, 64).unwrap(), 5);
    let out = trace.stop();
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    let r = report(&out);
    // The lab's own IPv6 chatter may add NOT_SPECIFIED multicast drops.
    let groups = r["groups"].as_array().expect("groups");
    let g = groups
        .iter()
        .find(|g| g["reason"] == "NO_SOCKET")
        .unwrap_or_else(|| panic!("no NO_SOCKET group: {r}"));
    assert!(
        groups
            .iter()
            .all(|g| g["namespaces"] == serde_json::json!([lab.b])),
        "only the lab's drops pass the filter: {r}"
    );
    assert_eq!(g["count"], 5, "{r}");
    assert!(
        g["tuple"]
            .as_str()
            .unwrap()
            .ends_with("->198.18.0.2:9(udp)"),
        "{g}"
    );
    assert_eq!(
        g["advice"],
        "nothing listens on udp 198.18.0.2:9, nor on port 9 elsewhere: is the service running?",
        "{g}"
    );
    assert!(g["function"].as_str().unwrap().contains("udp"), "{g}");
    assert!(r["summary"].as_str().unwrap().contains("NO_SOCKET"), "{r}");
}

#[test]
fn port_blocked_names_the_firewall_hook_and_the_namespace() {
    if !root_or_skip("port_blocked") {
        return;
    }
    let lab = Lab::create("pb").expect("lab");
    lab.nft(&lab.b, lab::DROP_HTTPS).expect("nft rule");
    let trace = start("port-blocked.rhai", &["443"]);
    lab.tcp_attempts(ADDR_B.into(), 443, 2, SYN_WAIT).unwrap();
    // One more, long enough for a retransmission that `explain` names.
    lab.tcp_attempts(ADDR_B.into(), 443, 1, Duration::from_millis(1500))
        .unwrap();
    let out = trace.stop();
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    let r = report(&out);
    assert_eq!(r["blocked"], true, "{r}");
    let mine = r["by"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["namespace"] == lab.b.as_str())
        .unwrap_or_else(|| panic!("no entry for {}: {r}", lab.b));
    assert_eq!(mine["reason"], "NETFILTER_DROP");
    assert_eq!(mine["netfilter_hook"], "INPUT");
    let rule = mine["rule"].as_str().unwrap_or_else(|| panic!("{mine}"));
    assert!(
        rule.starts_with("the nftables rule \"tcp dport 443 drop\" (inet ferret_lab input"),
        "{mine}"
    );
    assert!(mine["title"].as_str().unwrap().contains(rule), "{mine}");
    assert_eq!(mine["direction"], "to the port");
    assert!(mine["count"].as_u64().unwrap() >= 2, "{mine}");
    assert!(mine["example"]
        .as_str()
        .unwrap()
        .ends_with("->198.18.0.2:443(tcp)"));
    assert!(
        r["arrived"].as_u64().unwrap() >= 2,
        "the SYNs did arrive: {r}"
    );
}

#[test]
fn port_blocked_says_what_listens_when_nothing_takes_the_packet() {
    if !root_or_skip("port_no_socket") {
        return;
    }
    let lab = Lab::create("pb").expect("lab");
    let elsewhere = lab
        .in_ns(&lab.b, || {
            std::net::UdpSocket::bind((std::net::Ipv4Addr::LOCALHOST, 5398))
        })
        .unwrap()
        .expect("a socket on loopback in the lab");
    let trace = start("port-blocked.rhai", &["5398"]);
    assert_eq!(lab.udp_send(ADDR_B.into(), 5398, 2, 16).unwrap(), 2);
    let out = trace.stop();
    drop(elsewhere);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    let r = report(&out);
    let mine = r["by"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["namespace"] == lab.b.as_str())
        .unwrap_or_else(|| panic!("no entry for {}: {r}", lab.b));
    assert_eq!(mine["reason"], "NO_SOCKET", "{mine}");
    assert_eq!(
        mine["listeners"], "nothing listens on udp 198.18.0.2:5398, but udp 127.0.0.1:5398 does",
        "{mine}"
    );
}

#[test]
fn port_blocked_says_not_blocked_when_packets_arrive_and_none_drop() {
    if !root_or_skip("port_open") {
        return;
    }
    let lab = Lab::create("pb").expect("lab");
    let server = lab
        .in_ns(&lab.b, || std::net::UdpSocket::bind((ADDR_B, 5399)))
        .unwrap()
        .expect("listener in the lab");
    let trace = start("port-blocked.rhai", &["5399"]);
    assert_eq!(lab.udp_send(ADDR_B.into(), 5399, 3, 64).unwrap(), 3);
    let out = trace.stop();
    drop(server);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let r = report(&out);
    assert_eq!(r["blocked"], false, "{r}");
    assert_eq!(r["dropped"], 0, "{r}");
    assert!(r["arrived"].as_u64().unwrap() >= 3, "{r}");
}

#[test]
fn flow_path_follows_a_dropped_syn_and_says_which_backend() {
    if !root_or_skip("flow_path") {
        return;
    }
    let lab = Lab::create("pb").expect("lab");
    lab.nft(&lab.b, lab::DROP_HTTPS).expect("nft rule");
    let trace = start("flow-path.rhai", &["198.18.0.2", "443"]);
    lab.tcp_attempts(ADDR_B.into(), 443, 1, SYN_WAIT).unwrap();
    let out = trace.stop();
    assert_eq!(out.code, Some(1), "a packet was dropped; {}", out.stderr);
    let r = report(&out);
    let backend = r["backend"].as_str().unwrap();
    if std::path::Path::new("/sys/bus/event_source/devices/kprobe").exists() {
        assert!(!backend.is_empty(), "{r}");
    } else {
        assert!(backend.starts_with("tracepoints"), "{r}");
        assert!(backend.contains("CONFIG_KPROBES"), "{r}");
    }
    let shown = &r["shown"];
    assert!(
        shown["fate"]
            .as_str()
            .unwrap()
            .starts_with("dropped: NETFILTER_DROP"),
        "{r}"
    );
    let steps: Vec<&str> = shown["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["title"].as_str().unwrap())
        .collect();
    for (i, want) in ["queue", "xmit", "recv", "drop"].iter().enumerate() {
        assert!(
            steps.iter().any(|s| s.contains(&format!(". {want} ("))),
            "step {i} `{want}` missing: {steps:?}"
        );
    }
    assert!(
        steps.last().unwrap().contains("drop (kfree_skb) on fb0"),
        "{steps:?}"
    );
    let funcs: Vec<&str> = r["functions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    for f in [
        "tcp_connect",
        "veth_xmit",
        "ip_local_deliver",
        "nf_hook_slow",
    ] {
        assert!(funcs.contains(&f), "{f} not in {funcs:?}");
    }
}

#[test]
fn tcp_resets_explains_a_reset_from_a_closed_port() {
    if !root_or_skip("tcp_resets") {
        return;
    }
    let lab = Lab::create("pb").expect("lab");
    let filter = netns_filter(&lab.b);
    let trace = start("tcp-resets.rhai", &["--", &filter]);
    let refused = lab.tcp_attempts(ADDR_B.into(), 81, 2, SYN_WAIT).unwrap();
    assert_eq!(refused, 2);
    let out = trace.stop();
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    let r = report(&out);
    assert_eq!(r["sent"], 2, "b sent one reset per SYN: {r}");
    let g = &r["resets"][0];
    assert_eq!(g["direction"], "sent", "{r}");
    assert_eq!(g["from"], "198.18.0.2:81", "{r}");
    assert!(g["cause"].as_str().unwrap().starts_with("no socket"), "{r}");
    assert_eq!(g["namespace"], lab.b.as_str());
}

fn temp_script(name: &str, text: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("ferret-{}-{name}", std::process::id()));
    std::fs::write(&p, text).unwrap();
    p
}

fn run_to_end(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ferret"))
        .args(args)
        .output()
        .expect("ferret runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_syntax_error_shows_file_line_column_and_the_line_without_root() {
    let p = temp_script(
        "syntax.rhai",
        "let a = 1;\nfn on_event(ev) {\n    let x = ;\n}\n",
    );
    let (code, _, err) = run_to_end(&["run", p.to_str().unwrap()]);
    std::fs::remove_file(&p).unwrap();
    assert_eq!(code, Some(5), "{err}");
    assert!(err.contains(&format!("{}:3:", p.display())), "{err}");
    assert!(err.contains("let x = ;"), "{err}");
    assert!(err.contains("syntax error"), "{err}");
}

#[test]
fn an_endless_loop_is_stopped_reported_and_the_trace_ends_cleanly() {
    if !root_or_skip("endless_loop") {
        return;
    }
    let lab = Lab::create("pb").expect("lab");
    let text = format!(
        "rule(`on drop where netns == \"{}\" and udp dst port 9`);\n\nfn on_event(ev) {{\n    let n = 0;\n    loop {{ n += 1; }}\n}}\n",
        lab.b
    );
    let p = temp_script("loop.rhai", &text);
    let path = p.to_str().unwrap().to_string();
    let trace = Trace::start_exact(&["run", "--json", "--script-ops", "200000", &path], &[]);
    lab.udp_send(ADDR_B.into(), 9, 1, 16).unwrap();
    let out = trace.wait();
    std::fs::remove_file(&p).unwrap();
    assert_eq!(out.code, Some(5), "{}", out.stderr);
    assert!(out.stderr.contains("endless loop"), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!("{path}:3:1")),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("fn on_event(ev)"), "{}", out.stderr);
    let summary = out.summary.as_ref().expect("the summary is still written");
    assert_eq!(summary["ended_by"], "script error");
    assert_eq!(summary["rules"][0]["matched"], 1);
}

#[test]
fn touching_the_file_system_is_refused_with_a_clear_error() {
    if !root_or_skip("file_access") {
        return;
    }
    let p = temp_script(
        "files.rhai",
        "rule(\"on drop where dport == 9\");\nlet secret = read_file(\"/etc/shadow\");\n",
    );
    let (code, out, err) = run_to_end(&["run", "--json", p.to_str().unwrap(), "--for", "1s"]);
    std::fs::remove_file(&p).unwrap();
    assert_eq!(code, Some(5), "{err}");
    assert!(err.contains("no file access"), "{err}");
    assert!(err.contains("--allow-script-io"), "{err}");
    assert!(err.contains(&format!("{}:2:14", p.display())), "{err}");
    assert!(out.contains("\"type\":\"summary\""), "{out}");
}

#[test]
fn playbook_only_and_rule_only_options_are_usage_errors() {
    for args in [
        vec!["run", "rules.ferret", "443"],
        vec!["run", "rules.ferret", "--allow-script-io"],
        vec!["run", "rules.ferret", "--script-ops", "10"],
        vec!["run", "pb.rhai", "--interval", "1s"],
        vec!["run", "pb.rhai", "--for", "1s", "--duration", "1s"],
        vec!["run"],
    ] {
        let (code, _, err) = run_to_end(&args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.starts_with("ferret run: "), "{args:?}: {err}");
    }
}
