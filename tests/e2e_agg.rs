//! End to end: in-kernel aggregation (`count by`, `hist`), pcap-ng capture
//! read back by tshark, `--cmd` and `stop after` on a count rule — the real
//! binary against real drops in namespace labs, checked against what was
//! sent and against the kernel's own counters.

mod common;

use common::{root_or_skip, Finished, Trace};
use ferret_lab::{self as lab, Lab, ADDR6_A, ADDR6_B, ADDR_A, ADDR_B};
use serde_json::{json, Value};
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::Duration;

/// The final table of `kind` ("count" or "hist") for a rule.
fn table<'a>(out: &'a Finished, kind: &str, rule: u64) -> &'a Value {
    out.events
        .iter()
        .find(|v| v["type"] == kind && v["final"] == true && v["rule"] == rule)
        .unwrap_or_else(|| {
            panic!(
                "no final {kind} table of rule {rule}; stderr:\n{}",
                out.stderr
            )
        })
}

/// `(key, count)` rows of a count table, in the order printed.
fn rows(t: &Value) -> Vec<(Value, u64)> {
    t["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| (r["key"].clone(), r["count"].as_u64().unwrap()))
        .collect()
}

/// `Udp: RcvbufErrors` of a namespace, from its /proc/net/snmp.
fn udp_rcvbuf_errors(lab: &Lab, ns: &str) -> u64 {
    let out = lab.exec(ns, &["cat", "/proc/net/snmp"]).expect("snmp");
    let text = String::from_utf8(out.stdout).unwrap();
    let udp: Vec<&str> = text.lines().filter(|l| l.starts_with("Udp: ")).collect();
    assert_eq!(udp.len(), 2, "a header and a value line:\n{text}");
    let names = udp[0].split_whitespace();
    let values = udp[1].split_whitespace();
    names
        .zip(values)
        .find(|(n, _)| *n == "RcvbufErrors")
        .map(|(_, v)| v.parse().unwrap())
        .expect("RcvbufErrors in /proc/net/snmp")
}

/// A UDP socket in namespace b, on `port`, with the smallest receive
/// buffer the kernel allows; it is never read.
fn deaf_socket(lab: &Lab, port: u16) -> UdpSocket {
    lab.in_ns(&lab.b, move || {
        let sock = UdpSocket::bind((ADDR_B, port)).expect("bind in lab");
        let one: libc::c_int = 1;
        // SAFETY: setsockopt on an open socket with a valid int option.
        let rc = unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&one as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0, "SO_RCVBUF");
        sock
    })
    .expect("enter lab namespace")
}

#[test]
fn count_by_reason_equals_the_kernels_rcvbuf_errors() {
    if !root_or_skip("count_by_reason_equals_the_kernels_rcvbuf_errors") {
        return;
    }
    let lab = Lab::create("agg").expect("lab");
    let port = 5300;
    let _deaf = deaf_socket(&lab, port);
    let before = udp_rcvbuf_errors(&lab, &lab.b);
    let rule = format!(
        "on drop where netns == \"{}\" and udp dst port {port} count by reason",
        lab.b
    );
    let trace = Trace::start(&[&rule]);
    assert_eq!(lab.udp_send(ADDR_B.into(), port, 200, 512).unwrap(), 200);
    let out = trace.stop();
    let delta = udp_rcvbuf_errors(&lab, &lab.b) - before;
    assert!(delta > 100, "the burst overflowed the buffer: {delta}");
    assert_eq!(
        rows(table(&out, "count", 1)),
        [(json!({"reason": "SOCKET_RCVBUFF"}), delta)],
        "stderr:\n{}",
        out.stderr
    );
    assert_eq!(out.rule(1)["agg_failed"], 0);
    assert_eq!(out.rule(1)["emitted"], 0, "a count rule sends no events");
    assert!(out.events.iter().all(|e| e["type"] != "event"));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}

#[test]
fn count_by_dport_equals_what_was_sent_and_hist_buckets_the_lengths() {
    if !root_or_skip("count_by_dport_equals_what_was_sent") {
        return;
    }
    let lab = Lab::create("agg").expect("lab");
    let ns = &lab.b;
    let rules = format!(
        "on drop where netns == \"{ns}\" and udp count by dport\n\
         on drop where netns == \"{ns}\" and udp dst port 12 hist len"
    );
    let trace = Trace::start(&[&rules]);
    for (port, n) in [(9, 4), (10, 7), (11, 2)] {
        assert_eq!(lab.udp_send(ADDR_B.into(), port, n, 16).unwrap(), n);
    }
    // skb->len at this drop is the UDP part (8 + payload): 208 and 1108
    // stay in their power-of-two buckets whichever header len counts from.
    lab.udp_send(ADDR_B.into(), 12, 4, 200).unwrap();
    lab.udp_send(ADDR_B.into(), 12, 6, 1100).unwrap();
    let out = trace.stop();
    assert_eq!(
        rows(table(&out, "count", 1)),
        [
            (json!({"dport": 12}), 10),
            (json!({"dport": 10}), 7),
            (json!({"dport": 9}), 4),
            (json!({"dport": 11}), 2),
        ],
        "stderr:\n{}",
        out.stderr
    );
    let hist = table(&out, "hist", 2);
    assert_eq!(
        hist["buckets"],
        json!([
            {"lo": 128, "hi": 256, "count": 4},
            {"lo": 1024, "hi": 2048, "count": 6},
        ])
    );
    assert_eq!(
        (hist["field"].as_str(), hist["missing"].as_u64()),
        (Some("len"), Some(0))
    );
}

/// `tshark -r FILE` with these fields, one `|`-separated line per packet.
fn tshark_fields(file: &std::path::Path, fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r")
        .arg(file)
        .args(["-T", "fields", "-E", "separator=|"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd
        .output()
        .expect("tshark runs (tools/deps.sh installs the tshark package)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split('|').map(str::to_string).collect())
        .collect()
}

#[test]
fn capture_writes_pcapng_that_tshark_reads_with_comments() {
    if !root_or_skip("capture_writes_pcapng_that_tshark_reads") {
        return;
    }
    let lab = Lab::create("agg").expect("lab");
    lab.nft(&lab.b, lab::DROP_HTTPS).unwrap();
    let dir = std::env::temp_dir().join(format!("ferret-pcap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("drops.pcapng");
    let rule = format!(
        "on drop where netns == \"{}\" and (udp dst port 9 or tcp dst port 443) capture",
        lab.b
    );
    let trace = Trace::start(&[&rule, "--pcap", file.to_str().unwrap()]);
    assert_eq!(lab.udp_send(ADDR_B.into(), 9, 3, 32).unwrap(), 3);
    lab.tcp_attempts(ADDR6_B.into(), 443, 2, Duration::from_millis(500))
        .unwrap();
    let out = trace.stop();
    assert!(
        out.events.is_empty(),
        "a capture-only rule writes to the file, not stdout"
    );
    let pcap = &out.summary.as_ref().expect("summary")["pcap"];
    assert_eq!(pcap["packets"], 5, "stderr:\n{}", out.stderr);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    let fields = [
        "frame.interface_name",
        "ip.src",
        "ip.dst",
        "ipv6.src",
        "ipv6.dst",
        "udp.dstport",
        "tcp.dstport",
        "tcp.flags.syn",
        "frame.comment",
    ];
    let lines = tshark_fields(&file, &fields);
    assert_eq!(lines.len(), 5, "{lines:?}");
    let (udp, tcp): (Vec<_>, Vec<_>) = lines.iter().partition(|l| l[5] == "9");
    assert_eq!((udp.len(), tcp.len()), (3, 2), "{lines:?}");
    for l in &udp {
        assert_eq!(l[0], "fb0");
        assert_eq!(
            (l[1].as_str(), l[2].as_str()),
            (ADDR_A.to_string().as_str(), ADDR_B.to_string().as_str())
        );
        assert!(
            l[8].starts_with("func=kfree_skb reason=NO_SOCKET location=")
                && l[8].ends_with(" rules=1"),
            "{l:?}"
        );
    }
    for l in &tcp {
        assert_eq!(
            (l[3].as_str(), l[4].as_str()),
            (ADDR6_A.to_string().as_str(), ADDR6_B.to_string().as_str())
        );
        assert_eq!((l[6].as_str(), l[7].as_str()), ("443", "1"), "{l:?}");
        assert!(l[8].contains("reason=NETFILTER_DROP"), "{l:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--cmd` that drops `n` datagrams to port 9 of namespace b, then exits
/// with `status`.
fn dropping_command(lab: &Lab, n: usize, status: i32) -> String {
    format!(
        "ip netns exec {} bash -c 'for i in $(seq {n}); do echo x > /dev/udp/{ADDR_B}/9; done; exit {status}'",
        lab.a
    )
}

#[test]
fn cmd_ends_the_session_with_an_exact_table_and_its_exit_status() {
    if !root_or_skip("cmd_ends_the_session") {
        return;
    }
    let lab = Lab::create("agg").expect("lab");
    let rule = format!(
        "on drop where netns == \"{}\" and udp count by reason, func",
        lab.b
    );
    let cmd = dropping_command(&lab, 5, 3);
    let out = Trace::start(&[&rule, "--cmd", &cmd, "--duration", "60s"]).wait();
    assert_eq!(out.code, Some(3), "the command's status; {}", out.stderr);
    let summary = out.summary.as_ref().expect("summary");
    assert_eq!(summary["ended_by"], "command");
    assert_eq!(summary["command_status"], 3);
    assert_eq!(
        rows(table(&out, "count", 1)),
        [(json!({"reason": "NO_SOCKET", "func": "kfree_skb"}), 5)]
    );

    // The same as a person reads it: the table on stdout.
    let text = Command::new(env!("CARGO_BIN_EXE_ferret"))
        .args([rule.as_str(), "--cmd", &dropping_command(&lab, 4, 0)])
        .output()
        .unwrap();
    assert_eq!(text.status.code(), Some(0));
    let stdout = String::from_utf8(text.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[1..3],
        ["  COUNT  REASON     FUNC", "      4  NO_SOCKET  kfree_skb"],
        "{stdout}"
    );
    assert!(lines[0].ends_with("(4 matches, 1 key)"), "{stdout}");
}

#[test]
fn stop_after_ends_a_count_only_session() {
    if !root_or_skip("stop_after_ends_a_count_only_session") {
        return;
    }
    let lab = Lab::create("agg").expect("lab");
    let rule = format!(
        "on drop where netns == \"{}\" and udp dst port 9 count stop after 3",
        lab.b
    );
    let trace = Trace::start(&[&rule, "--duration", "30s"]);
    lab.udp_send(ADDR_B.into(), 9, 10, 16).unwrap();
    let out = trace.wait();
    assert_eq!(
        out.summary.as_ref().expect("summary")["ended_by"],
        "stop-after"
    );
    let total = table(&out, "count", 1)["total"].as_u64().unwrap();
    assert!((3..=10).contains(&total), "{total}");
}

#[test]
fn interval_prints_running_totals_until_the_final_table() {
    if !root_or_skip("interval_prints_running_totals") {
        return;
    }
    let lab = Lab::create("agg").expect("lab");
    let rule = format!(
        "on drop where netns == \"{}\" and udp dst port 9 count",
        lab.b
    );
    // Drops, a pause longer than the interval, more drops.
    let cmd = format!(
        "{} ; sleep 1; {}",
        dropping_command(&lab, 3, 0),
        dropping_command(&lab, 2, 0)
    );
    let out = Trace::start(&[&rule, "--interval", "200ms", "--cmd", &cmd]).wait();
    let totals: Vec<(bool, u64)> = out
        .events
        .iter()
        .filter(|v| v["type"] == "count")
        .map(|v| (v["final"] == true, v["total"].as_u64().unwrap()))
        .collect();
    let (last, running) = totals.split_last().expect("tables");
    assert_eq!(*last, (true, 5), "{totals:?}");
    assert!(!running.is_empty(), "interval tables came: {totals:?}");
    assert!(running.iter().all(|(fin, n)| !fin && *n <= 5), "{totals:?}");
    assert!(
        running.windows(2).all(|w| w[0].1 <= w[1].1),
        "totals since the start never shrink: {totals:?}"
    );
}

#[test]
fn capture_without_pcap_describes_each_packet() {
    if !root_or_skip("capture_without_pcap_describes_each_packet") {
        return;
    }
    let lab = Lab::create("agg").expect("lab");
    let rule = format!(
        "on drop where netns == \"{}\" and udp dst port 9 capture snaplen 64",
        lab.b
    );
    let trace = Trace::start(&[&rule]);
    lab.udp_send(ADDR_B.into(), 9, 2, 100).unwrap();
    let out = trace.stop();
    let events: Vec<&Value> = out.events.iter().filter(|e| e["type"] == "event").collect();
    assert_eq!(events.len(), 2, "stderr:\n{}", out.stderr);
    for ev in events {
        let c = &ev["capture"];
        assert_eq!(
            (c["bytes"].as_u64(), c["link"].as_str()),
            (Some(64), Some("ethernet"))
        );
        assert_eq!(c["wire_len"], 14 + 20 + 8 + 100);
        let summary = c["summary"].as_str().unwrap();
        let tuple = format!(
            "IP {ADDR_A}.{} > {ADDR_B}.9: UDP, length 100 [64 of 142 bytes captured]",
            ev["sport"]
        );
        assert!(summary.ends_with(&tuple), "{summary}");
    }
}
