//! End to end: `explain` on drops no firewall rule made reports the facts
//! of the drop's namespace behind them (rp_filter and route lookups, a
//! full socket receive buffer, a qdisc's drops), checked against what the
//! lab set up; `why-dropped.rhai` turns them into its advice.

mod common;

use common::{root_or_skip, Trace};
use ferret_lab::{Lab, ADDR_A, ADDR_B};
use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

/// A source address of lab side a that side b has no route back to.
const STRAY: Ipv4Addr = Ipv4Addr::new(198, 18, 9, 1);

/// Side a reaches b's MAC without asking (an ARP request from a stray
/// source would itself be filtered).
fn resolve_b(lab: &Lab) {
    let link = lab
        .ip(&lab.b, &["-br", "link", "show", "fb0"])
        .unwrap()
        .stdout;
    let link = String::from_utf8_lossy(&link);
    let mac = link.split_whitespace().nth(2).expect("fb0's address");
    lab.ip(
        &lab.a,
        &[
            "neigh",
            "replace",
            &ADDR_B.to_string(),
            "lladdr",
            mac,
            "dev",
            "fa0",
        ],
    )
    .unwrap();
}

/// `count` datagrams from a, sent from `from` (bound there) to `to:port`.
fn udp_from(lab: &Lab, from: Ipv4Addr, to: Ipv4Addr, port: u16, count: usize) {
    lab.in_ns(&lab.a, move || {
        let sock = std::net::UdpSocket::bind((from, 0)).expect("bind");
        for _ in 0..count {
            sock.send_to(b"stray", (to, port)).expect("send");
            std::thread::sleep(Duration::from_millis(50));
        }
    })
    .unwrap();
}

fn sysctl(lab: &Lab, ns: &str, setting: &str) {
    lab.exec(ns, &["sysctl", "-qw", setting]).expect("sysctl");
}

fn only_verdicts<'a>(events: &'a [Value], reason: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["reason"] == reason)
        .map(|e| &e["verdict"])
        .collect()
}

#[test]
fn rp_filter_drop_names_the_setting_in_force_and_the_missing_route_back() {
    if !root_or_skip("explain rp_filter") {
        return;
    }
    let lab = Lab::create("xrpf").expect("lab");
    lab.ip(
        &lab.a,
        &["addr", "add", &format!("{STRAY}/32"), "dev", "fa0"],
    )
    .unwrap();
    resolve_b(&lab);
    // Strict through `all`; the device's own setting stays 0: the larger
    // one is in force.
    sysctl(&lab, &lab.b, "net.ipv4.conf.all.rp_filter=1");
    sysctl(&lab, &lab.b, "net.ipv4.conf.fb0.rp_filter=0");
    let rule = format!(
        "on drop where netns == \"{}\" and udp dst port 7200 explain",
        lab.b
    );
    let trace = Trace::start(&[&rule]);
    udp_from(&lab, STRAY, ADDR_B, 7200, 2);
    std::thread::sleep(Duration::from_millis(300));
    let out = trace.stop();
    let verdicts = only_verdicts(&out.events, "IP_RPFILTER");
    assert_eq!(verdicts.len(), 2, "{:?}\n{}", out.events, out.stderr);
    for v in verdicts {
        assert_eq!(v["by"], "routing", "{v}");
        assert_eq!(v["reason"], "IP_RPFILTER");
        let rp = &v["rp_filter"];
        assert_eq!(
            (
                &rp["all"],
                &rp["device"],
                &rp["device_value"],
                &rp["in_force"]
            ),
            (&1.into(), &"fb0".into(), &0.into(), &1.into()),
            "{v}"
        );
        let lookups = v["lookups"].as_array().expect("lookups");
        assert_eq!(lookups.len(), 2, "{v}");
        assert_eq!(
            lookups[0]["query"],
            format!("{ADDR_B} from {STRAY} iif fb0"),
            "{v}"
        );
        assert_eq!(lookups[1]["query"], STRAY.to_string());
        assert_eq!(lookups[1]["error"], "Network is unreachable", "{v}");
        assert!(lookups[1]["route"].is_null());
    }
}

#[test]
fn a_forwarded_packet_without_a_route_shows_the_failed_input_lookup() {
    if !root_or_skip("explain no input route") {
        return;
    }
    let lab = Lab::create("xinr").expect("lab");
    sysctl(&lab, &lab.b, "net.ipv4.ip_forward=1");
    // a sends 198.18.200.0/24 through b, which has no route there.
    lab.ip(
        &lab.a,
        &[
            "route",
            "add",
            "198.18.200.0/24",
            "via",
            &ADDR_B.to_string(),
        ],
    )
    .unwrap();
    let rule = format!(
        "on drop where netns == \"{}\" and udp dst port 7201 explain",
        lab.b
    );
    let trace = Trace::start(&[&rule]);
    udp_from(&lab, ADDR_A, Ipv4Addr::new(198, 18, 200, 1), 7201, 2);
    std::thread::sleep(Duration::from_millis(300));
    let out = trace.stop();
    let verdicts = only_verdicts(&out.events, "IP_INNOROUTES");
    assert_eq!(verdicts.len(), 2, "{:?}\n{}", out.events, out.stderr);
    for v in verdicts {
        assert_eq!(v["by"], "routing", "{v}");
        assert_eq!(v["rp_filter"]["in_force"], 0, "{v}");
        let lookup = &v["lookups"][0];
        assert_eq!(
            lookup["query"],
            format!("198.18.200.1 from {ADDR_A} iif fb0"),
            "{v}"
        );
        assert_eq!(lookup["error"], "Network is unreachable", "{v}");
    }
}

#[test]
fn an_output_drop_without_a_route_lists_the_table_when_it_has_no_address() {
    if !root_or_skip("explain no output route") {
        return;
    }
    let lab = Lab::create("xonr").expect("lab");
    let port = 7202;
    let listener = lab
        .in_ns(&lab.b, move || std::net::TcpListener::bind((ADDR_B, port)))
        .unwrap()
        .expect("listener");
    let rule = format!(
        "on drop where netns == \"{}\" and reason == IP_OUTNOROUTES explain",
        lab.a
    );
    let trace = Trace::start(&[&rule]);
    let a = lab.a.clone();
    // A connection, then its route goes: TCP's next segment finds none
    // (before its IP header is written, so the event has no addresses).
    lab.in_ns(&lab.a, move || {
        use std::io::Write;
        let mut s = std::net::TcpStream::connect((IpAddr::from(ADDR_B), port)).expect("connect");
        let gone = std::process::Command::new("ip")
            .args(["-n", &a, "route", "del", "198.18.0.0/24", "dev", "fa0"])
            .status()
            .expect("ip");
        assert!(gone.success());
        s.write_all(b"after the route went").expect("write");
        std::thread::sleep(Duration::from_millis(700));
    })
    .unwrap();
    drop(listener);
    let out = trace.stop();
    let verdicts = only_verdicts(&out.events, "IP_OUTNOROUTES");
    assert!(!verdicts.is_empty(), "{:?}\n{}", out.events, out.stderr);
    for v in verdicts {
        assert_eq!(v["by"], "routing", "{v}");
        assert!(v.get("rp_filter").is_none(), "output: no rp_filter: {v}");
        assert_eq!(v["lookups"], serde_json::json!([]), "{v}");
        let routes = v["routes"].as_array().expect("the main table");
        assert!(
            routes
                .iter()
                .all(|r| !r.as_str().unwrap().contains("198.18.0.0/24")),
            "{v}"
        );
    }
}

/// Sets SO_RCVBUF and returns what the kernel made of it (it doubles the
/// value and has a floor).
fn small_receive_buffer(sock: &std::net::UdpSocket) -> u64 {
    use std::os::fd::AsRawFd;
    let fd = sock.as_raw_fd();
    let want: libc::c_int = 1024;
    let size = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: an open socket and an int of the size given.
    let set = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&want as *const libc::c_int).cast(),
            size,
        )
    };
    assert_eq!(set, 0, "setsockopt");
    let mut got: libc::c_int = 0;
    let mut len = size;
    // SAFETY: as above, with room for the int.
    let read = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&mut got as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    assert_eq!(read, 0, "getsockopt");
    got as u64
}

#[test]
fn a_full_udp_receive_buffer_shows_the_sockets_memory_and_limit() {
    if !root_or_skip("explain receive buffer") {
        return;
    }
    let lab = Lab::create("xrcv").expect("lab");
    let port = 7210;
    let rule = format!(
        "on drop where netns == \"{}\" and udp dst port {port} explain",
        lab.b
    );
    let trace = Trace::start(&[&rule]);
    // Nobody reads the socket; loopback floods it.
    let (receiver, limit) = lab
        .in_ns(&lab.b, move || {
            let r = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).expect("bind");
            let limit = small_receive_buffer(&r);
            let s = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
            for _ in 0..40 {
                s.send_to(&[7u8; 200], (Ipv4Addr::LOCALHOST, port))
                    .expect("send");
            }
            (r, limit)
        })
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let out = trace.stop();
    drop(receiver);
    let verdicts = only_verdicts(&out.events, "SOCKET_RCVBUFF");
    assert!(!verdicts.is_empty(), "{:?}\n{}", out.events, out.stderr);
    for v in verdicts {
        assert_eq!(v["by"], "socket_buffer", "{v}");
        assert_eq!((&v["proto"], &v["port"]), (&"udp".into(), &port.into()));
        let s = &v["socket"];
        assert_eq!(s["local"], format!("127.0.0.1:{port}"), "{v}");
        assert_eq!(s["rcvbuf"], limit, "{v}");
        assert!(s["drops"].as_u64().unwrap() >= 1, "{v}");
        assert!(s["queued"].as_u64().unwrap() > 0, "{v}");
    }
}

#[test]
fn a_qdisc_drop_shows_the_devices_qdisc_with_its_limit_and_drops() {
    if !root_or_skip("explain qdisc") {
        return;
    }
    let lab = Lab::create("xqd").expect("lab");
    // A FIFO of no packets drops every one (and cannot be bypassed).
    resolve_b(&lab);
    lab.exec(
        &lab.a,
        &[
            "tc", "qdisc", "replace", "dev", "fa0", "root", "pfifo", "limit", "0",
        ],
    )
    .expect("tc");
    let port = 7211;
    let rule = format!(
        "on drop where netns == \"{}\" and udp dst port {port} explain",
        lab.a
    );
    let trace = Trace::start(&[&rule]);
    udp_from(&lab, ADDR_A, ADDR_B, port, 3);
    std::thread::sleep(Duration::from_millis(300));
    let out = trace.stop();
    let verdicts = only_verdicts(&out.events, "QDISC_DROP");
    assert_eq!(verdicts.len(), 3, "{:?}\n{}", out.events, out.stderr);
    for v in verdicts {
        assert_eq!(
            (&v["by"], &v["device"]),
            (&"qdisc".into(), &"fa0".into()),
            "{v}"
        );
        let q = &v["qdiscs"][0];
        assert_eq!(
            (&q["kind"], &q["parent"], &q["limit"]),
            (&"pfifo".into(), &"root".into(), &0.into()),
            "{v}"
        );
        assert!(q["drops"].as_u64().unwrap() >= 1, "{v}");
        assert_eq!(q["packets"], 0, "{v}");
    }
}

/// `ferret run --json scripts/why-dropped.rhai -- FILTER`: its report's
/// group of drops for `reason`.
fn why_dropped_group(run: impl FnOnce(), filter: &str, reason: &str) -> Value {
    let script = format!("{}/scripts/why-dropped.rhai", env!("CARGO_MANIFEST_DIR"));
    let trace = Trace::start_exact(&["run", "--json", &script, "--", filter], &[]);
    run();
    std::thread::sleep(Duration::from_millis(300));
    let out = trace.stop();
    let report = out
        .events
        .iter()
        .find(|v| v["type"] == "report")
        .unwrap_or_else(|| panic!("no report; stderr:\n{}", out.stderr));
    report["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["reason"] == reason)
        .unwrap_or_else(|| panic!("no {reason} group: {report}"))
        .clone()
}

#[test]
fn why_dropped_gives_the_routing_and_qdisc_facts_as_advice() {
    if !root_or_skip("why-dropped routing and qdisc") {
        return;
    }
    let lab = Lab::create("xpb").expect("lab");
    lab.ip(
        &lab.a,
        &["addr", "add", &format!("{STRAY}/32"), "dev", "fa0"],
    )
    .unwrap();
    resolve_b(&lab);
    sysctl(&lab, &lab.b, "net.ipv4.conf.fb0.rp_filter=1");
    let filter = format!("netns == \"{}\" and udp dst port 7250", lab.b);
    let g = why_dropped_group(
        || udp_from(&lab, STRAY, ADDR_B, 7250, 2),
        &filter,
        "IP_RPFILTER",
    );
    let advice = g["advice"].as_str().unwrap();
    assert!(
        advice.starts_with(&format!(
            "rp_filter 1 is in force on fb0; ip route get {ADDR_B} from {STRAY} iif fb0: "
        )) && advice.ends_with(&format!("; ip route get {STRAY}: Network is unreachable")),
        "{g}"
    );
    lab.exec(
        &lab.a,
        &[
            "tc", "qdisc", "replace", "dev", "fa0", "root", "pfifo", "limit", "0",
        ],
    )
    .expect("tc");
    let filter = format!("netns == \"{}\" and udp dst port 7251", lab.a);
    let g = why_dropped_group(
        || udp_from(&lab, ADDR_A, ADDR_B, 7251, 2),
        &filter,
        "QDISC_DROP",
    );
    let advice = g["advice"].as_str().unwrap();
    assert!(
        advice.starts_with("the qdisc of fa0 dropped it (pfifo ")
            && advice.contains(" limit 0, ")
            && advice.ends_with(" dropped)"),
        "{g}"
    );
}
