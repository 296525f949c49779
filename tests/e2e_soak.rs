//! Overload: a flood of drops with a matching `print` rule and a small
//! ring. ferret must keep its memory flat, account for every match
//! (delivered or counted as lost), and stop promptly when asked.
//! FERRET_SOAK_SECS sets the length (default 60 s).

mod common;

use common::{root_or_skip, Trace};
use ferret_lab::{self as lab, Lab, ADDR_B};
use std::io::BufRead;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status readable");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS line");
    line.split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("a number")
}

#[test]
fn a_flood_is_delivered_or_counted_and_memory_stays_flat() {
    if !root_or_skip("soak") {
        return;
    }
    let secs: u64 = std::env::var("FERRET_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let lab = Lab::create("soak").expect("lab");
    let rule = format!("on drop where netns == \"{}\" and udp dst port 9", lab.b);
    let mut trace = Trace::start(&[&rule, "--ring-mib", "1"]);
    let pid = trace.pid();

    // Read events as fast as they come, counting them.
    let lines = Arc::new(AtomicU64::new(0));
    let mut stdout = trace.take_stdout().expect("stdout");
    let counted = Arc::clone(&lines);
    let reader = std::thread::spawn(move || {
        let mut line = String::new();
        let mut summary = None;
        while stdout.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
            if line.contains("\"type\":\"summary\"") {
                summary =
                    Some(serde_json::from_str::<serde_json::Value>(&line).expect("summary JSON"));
            } else {
                counted.fetch_add(1, Ordering::Relaxed);
            }
            line.clear();
        }
        summary
    });

    // Flood from namespace a until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let flood_stop = Arc::clone(&stop);
    let ns = lab.a.clone();
    let flood = std::thread::spawn(move || {
        lab::in_netns(&ns, move || {
            let sock = std::net::UdpSocket::bind("0.0.0.0:0").expect("socket");
            let mut sent = 0u64;
            while !flood_stop.load(Ordering::Relaxed) {
                if sock.send_to(&[0u8; 32], (ADDR_B, 9)).is_ok() {
                    sent += 1;
                }
            }
            sent
        })
        .expect("flood runs in the lab")
    });

    std::thread::sleep(Duration::from_secs(5));
    let rss_early = rss_kib(pid);
    std::thread::sleep(Duration::from_secs(secs.saturating_sub(5)));
    let rss_late = rss_kib(pid);
    stop.store(true, Ordering::Relaxed);
    let sent = flood.join().unwrap();
    // Let the last drops reach the ring, then end the session.
    std::thread::sleep(Duration::from_millis(500));
    let asked = Instant::now();
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(pid as i32, libc::SIGINT) };
    let summary = reader.join().unwrap().expect("a summary line");
    let out = trace.wait();
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "ferret took {:?} to stop",
        asked.elapsed()
    );
    assert!(matches!(out.code, Some(0) | Some(4)), "{}", out.stderr);

    let r = &summary["rules"][0];
    let get = |k: &str| r[k].as_u64().unwrap_or_else(|| panic!("{k} in {r}"));
    let delivered = lines.load(Ordering::Relaxed);
    eprintln!("soak: {secs}s, sent {sent}, matched {}, emitted {}, lost {}, delivered {delivered}, rss {rss_early} KiB -> {rss_late} KiB", get("matched"), get("emitted"), get("lost_ring_full"));
    assert!(
        get("matched") > 10_000,
        "the flood was too weak to test anything: {r}"
    );
    assert_eq!(
        get("matched"),
        get("emitted") + get("lost_ring_full") + get("rate_limited"),
        "every match is emitted or counted: {r}"
    );
    assert_eq!(
        delivered,
        get("emitted"),
        "every emitted event reached the output"
    );
    assert_eq!(get("delivered"), delivered);
    if get("lost_ring_full") > 0 {
        assert_eq!(
            out.code,
            Some(4),
            "a lossy session says so in its exit status"
        );
        assert!(
            out.stderr
                .contains("events lost because the ring buffer was full"),
            "{}",
            out.stderr
        );
    }
    assert!(
        rss_late < rss_early + 16 * 1024,
        "memory grew from {rss_early} KiB to {rss_late} KiB"
    );
}
