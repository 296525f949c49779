//! End to end: `ferret serve` as an agent without Prometheus — events as
//! JSON lines carrying the node and wall-clock time, a broken rules file
//! on SIGHUP refused while the running rules go on, /healthz, the summary
//! as the last line, and `ferret merge` ordering two nodes' files.

mod common;

use common::{root_or_skip, Trace};
use ferret_lab::{Lab, ADDR_B};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

fn health(addr: SocketAddr) -> (String, Value) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "GET /healthz HTTP/1.0\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    (
        head.lines().next().unwrap().to_string(),
        serde_json::from_str(body).unwrap(),
    )
}

fn lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn serve_writes_node_events_survives_a_broken_reload_and_merges() {
    if !root_or_skip("serve_writes_node_events") {
        return;
    }
    let lab = Lab::create("serve").expect("lab");
    let dir = std::env::temp_dir().join(format!("ferret-serve-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("rules.ferret");
    std::fs::write(
        &rules,
        format!("on drop where netns == \"{}\" and udp print\n", lab.b),
    )
    .unwrap();
    let events = dir.join("node-a.json");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let metrics: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let trace = Trace::start_exact(
        &[
            "serve",
            "-f",
            rules.to_str().unwrap(),
            "-o",
            events.to_str().unwrap(),
            "--metrics",
            &metrics.to_string(),
            "--node",
            "node-a",
        ],
        &[],
    );
    assert_eq!(lab.udp_send(ADDR_B.into(), 9, 3, 32).unwrap(), 3);
    std::fs::write(&rules, "on drop where dprt == 9 print\n").unwrap();
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(trace.pid() as i32, libc::SIGHUP) };
    std::thread::sleep(Duration::from_millis(1500));
    let (status, h) = health(metrics);
    assert!(status.contains(" 200 "), "{status}");
    assert_eq!(h["last_reload"]["ok"], false, "{h}");
    assert_eq!(h["rules"], 1, "the running rule stays: {h}");
    assert_eq!(lab.udp_send(ADDR_B.into(), 9, 2, 32).unwrap(), 2);
    std::thread::sleep(Duration::from_millis(300));
    let out = trace.terminate();
    assert_eq!(out.code, Some(0), "stderr:\n{}", out.stderr);
    assert!(
        out.stderr.contains("unknown field `dprt`"),
        "{}",
        out.stderr
    );

    let a = lines(&events);
    let (evs, rest) = a.split_at(a.len() - 1);
    assert_eq!(evs.len(), 5, "{a:?}");
    assert!(evs
        .iter()
        .all(|e| e["node"] == "node-a" && e["time_ns"].as_u64().is_some()));
    assert_eq!(rest[0]["type"], "summary");
    assert_eq!(rest[0]["node"], "node-a");

    // A second node's file, its events between node-a's.
    let t0 = evs[0]["time_ns"].as_u64().unwrap();
    let b = dir.join("node-b.json");
    std::fs::write(
        &b,
        format!(
            "{{\"type\":\"event\",\"node\":\"node-b\",\"time_ns\":{}}}\n",
            t0 + 1
        ),
    )
    .unwrap();
    let merged = Command::new(env!("CARGO_BIN_EXE_ferret"))
        .args(["merge", events.to_str().unwrap(), b.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(merged.status.success());
    let m: Vec<Value> = String::from_utf8(merged.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(m.len(), 7);
    assert_eq!(m[1]["node"], "node-b", "{m:?}");
    let times: Vec<u64> = m[..6]
        .iter()
        .map(|v| v["time_ns"].as_u64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert_eq!(m[6]["type"], "summary");
    let _ = std::fs::remove_dir_all(&dir);
}

/// What the systemd unit does: no root, the four ambient capabilities; a
/// reload after the ready line still loads and attaches a new rule.
#[test]
fn serve_runs_on_the_units_capabilities_and_reloads_without_root() {
    if !root_or_skip("serve_runs_on_the_units_capabilities") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("ferret-serve-caps-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let closed = {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap().port()
    };
    let rules = dir.join("rules.ferret");
    std::fs::write(
        &rules,
        format!("on drop where udp and dport == {closed} count by reason\n"),
    )
    .unwrap();
    std::fs::set_permissions(&rules, std::fs::Permissions::from_mode(0o644)).unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let metrics: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    // CAP_SYS_RESOURCE matters only before 5.11, and some sandboxes keep it
    // out of the bounding set: grant it where it can be granted.
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let bounding = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0);
    let caps = if bounding & (1 << 24) != 0 {
        "+bpf,+perfmon,+net_admin,+sys_resource"
    } else {
        "+bpf,+perfmon,+net_admin"
    };
    let child = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .args(["--inh-caps", caps, "--ambient-caps", caps])
        .arg(env!("CARGO_BIN_EXE_ferret"))
        .args([
            "serve",
            "-f",
            rules.to_str().unwrap(),
            "--metrics",
            &metrics.to_string(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let scrape = || -> String {
        let mut s = TcpStream::connect(metrics).unwrap();
        write!(s, "GET /metrics HTTP/1.0\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    let wait_for = |what: &str| {
        for _ in 0..100 {
            if TcpStream::connect(metrics).is_ok() && scrape().contains(what) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("never saw {what:?} in\n{}", scrape());
    };
    wait_for("ferret_probes_attached 1");
    for _ in 0..2 {
        udp.send_to(b"x", ("127.0.0.1", closed)).unwrap();
    }
    wait_for("ferret_matches_total{rule=\"on drop where udp and dport == ");
    std::fs::write(
        &rules,
        format!("on drop where udp and dport == {closed} count by reason\n# name: sent\non xmit where udp and dport == {closed} count\n"),
    )
    .unwrap();
    wait_for("ferret_reloads_total{result=\"ok\"} 1");
    udp.send_to(b"x", ("127.0.0.1", closed)).unwrap();
    wait_for("ferret_matches_total{rule=\"sent\"} 1");
    assert!(scrape().contains("reason=\"NO_SOCKET\"} 3"), "{}", scrape());
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two recordings (`--pcap`) merged into one pcap-ng that tshark reads:
/// one interface per node and device, packets in time order.
#[test]
fn merge_puts_two_pcapng_recordings_into_one_file() {
    if !root_or_skip("merge_puts_two_pcapng_recordings_into_one_file") {
        return;
    }
    let lab = Lab::create("mrgp").expect("lab");
    let dir = std::env::temp_dir().join(format!("ferret-mergep-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let rule = format!(
        "on drop where netns == \"{}\" and udp dst port 9 capture",
        lab.b
    );
    for (node, n) in [("node-a", 2), ("node-b", 3)] {
        let file = dir.join(format!("{node}.pcapng"));
        let trace = Trace::start(&[&rule, "--pcap", file.to_str().unwrap()]);
        assert_eq!(lab.udp_send(ADDR_B.into(), 9, n, 32).unwrap(), n);
        let out = trace.stop();
        assert_eq!(
            out.summary.unwrap()["pcap"]["packets"],
            n as u64,
            "{}",
            out.stderr
        );
    }
    let merged = dir.join("all.pcapng");
    let status = Command::new(env!("CARGO_BIN_EXE_ferret"))
        .args(["merge", "-o", merged.to_str().unwrap()])
        .arg(dir.join("node-b.pcapng"))
        .arg(dir.join("node-a.pcapng"))
        .status()
        .unwrap();
    assert!(status.success());
    let out = Command::new("tshark")
        .args([
            "-r",
            merged.to_str().unwrap(),
            "-T",
            "fields",
            "-E",
            "separator=|",
        ])
        .args([
            "-e",
            "frame.interface_name",
            "-e",
            "frame.time_epoch",
            "-e",
            "frame.comment",
        ])
        .output()
        .expect("tshark runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('|').collect()).collect();
    let ifaces: Vec<&str> = rows.iter().map(|r| r[0]).collect();
    assert_eq!(
        ifaces,
        [
            "node-a:fb0",
            "node-a:fb0",
            "node-b:fb0",
            "node-b:fb0",
            "node-b:fb0"
        ],
        "node-a was recorded first, so its packets come first: {text}"
    );
    let times: Vec<f64> = rows.iter().map(|r| r[1].parse().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert!(
        rows.iter().all(|r| r[2].starts_with("node=node-")),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `-C 1 -W 2`: files of at most 1 MB, cut between lines, two kept.
#[test]
fn serve_rotates_its_events_by_size_and_count() {
    if !root_or_skip("serve_rotates_its_events_by_size_and_count") {
        return;
    }
    let lab = Lab::create("rot").expect("lab");
    let dir = std::env::temp_dir().join(format!("ferret-rotate-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("rules.ferret");
    std::fs::write(
        &rules,
        format!("on drop where netns == \"{}\" and udp print\n", lab.b),
    )
    .unwrap();
    let events = dir.join("ev.json");
    let trace = Trace::start_exact(
        &[
            "serve",
            "-f",
            rules.to_str().unwrap(),
            "-o",
            events.to_str().unwrap(),
            "-C",
            "1",
            "-W",
            "2",
        ],
        &[],
    );
    // ~400 bytes a line: 8,000 lines make about three files' worth.
    for _ in 0..8 {
        assert_eq!(lab.udp_send(ADDR_B.into(), 9, 1000, 16).unwrap(), 1000);
        std::thread::sleep(Duration::from_millis(60));
    }
    let out = trace.stop();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(!dir.join("ev.json.2").exists(), "-W 2 keeps two files");
    let mut total = 0;
    for f in [dir.join("ev.json.1"), events.clone()] {
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(
            text.len() <= 1_000_000,
            "{} is {} bytes",
            f.display(),
            text.len()
        );
        let full = f.ends_with("ev.json.1");
        assert!(
            !text.is_empty() && (!full || text.len() > 990_000),
            "a rotated file is full to within a line: {} is {} bytes",
            f.display(),
            text.len()
        );
        for line in text.lines() {
            let v: Value = serde_json::from_str(line).expect("whole lines only");
            if v["type"] == "event" {
                total += 1;
            }
        }
    }
    assert!(
        total < 8000,
        "the oldest file was deleted: {total} events kept"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
