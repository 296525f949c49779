//! However ferret ends — a signal, a closed output, a panic, SIGKILL — no
//! program, map or link of its survives, and the exit status says how it
//! ended. The kernel objects a run holds are read from its fdinfo while it
//! runs and looked up again with bpftool after it is gone.

mod common;

use common::{root_or_skip, Trace};
use ferret_lab::{Lab, ADDR_B};
use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::Duration;

#[derive(Debug, Default)]
struct Objects {
    progs: BTreeSet<u32>,
    maps: BTreeSet<u32>,
    links: BTreeSet<u32>,
}

/// The BPF objects process `pid` holds open (from /proc/PID/fdinfo).
fn objects_of(pid: u32) -> Objects {
    let mut o = Objects::default();
    let dir = format!("/proc/{pid}/fdinfo");
    for entry in std::fs::read_dir(&dir).expect("fdinfo readable").flatten() {
        let Ok(text) = std::fs::read_to_string(entry.path()) else {
            continue;
        };
        for line in text.lines() {
            let mut parts = line.split(':');
            let (Some(key), Some(value)) = (parts.next(), parts.next()) else {
                continue;
            };
            let Ok(id) = value.trim().parse::<u32>() else {
                continue;
            };
            match key {
                "prog_id" => o.progs.insert(id),
                "map_id" => o.maps.insert(id),
                "link_id" => o.links.insert(id),
                _ => false,
            };
        }
    }
    o
}

fn alive(kind: &str, id: u32) -> bool {
    Command::new("bpftool")
        .args([kind, "show", "id", &id.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("bpftool runs")
        .success()
}

fn assert_all_gone(o: &Objects, how: &str) {
    assert!(
        !o.progs.is_empty() && !o.maps.is_empty() && !o.links.is_empty(),
        "{how}: nothing seen while running: {o:?}"
    );
    // Freeing is asynchronous in the kernel (RCU): allow it a moment.
    for _ in 0..50 {
        let left = o.progs.iter().filter(|id| alive("prog", **id)).count()
            + o.maps.iter().filter(|id| alive("map", **id)).count()
            + o.links.iter().filter(|id| alive("link", **id)).count();
        if left == 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let progs: Vec<_> = o.progs.iter().filter(|id| alive("prog", **id)).collect();
    let maps: Vec<_> = o.maps.iter().filter(|id| alive("map", **id)).collect();
    let links: Vec<_> = o.links.iter().filter(|id| alive("link", **id)).collect();
    panic!("{how}: left behind progs {progs:?} maps {maps:?} links {links:?}");
}

fn rule_for(lab: &Lab) -> String {
    format!("on drop where netns == \"{}\" and udp dst port 9", lab.b)
}

fn ends_by_signal(signal: i32, name: &str) {
    let lab = Lab::create("exit").expect("lab");
    let trace = Trace::start(&[&rule_for(&lab)]);
    let held = objects_of(trace.pid());
    lab.udp_send(ADDR_B.into(), 9, 3, 16).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let out = trace.signal(signal);
    assert_eq!(out.code, Some(0), "{name}: {}", out.stderr);
    assert_eq!(
        out.summary.as_ref().expect("summary")["ended_by"],
        "signal",
        "{name}"
    );
    assert_eq!(
        out.events.len(),
        3,
        "{name}: events sent before the signal are delivered"
    );
    assert_all_gone(&held, name);
}

#[test]
fn sigint_sigterm_and_sighup_end_cleanly() {
    if !root_or_skip("sigint_sigterm_and_sighup_end_cleanly") {
        return;
    }
    ends_by_signal(libc::SIGINT, "SIGINT");
    ends_by_signal(libc::SIGTERM, "SIGTERM");
    ends_by_signal(libc::SIGHUP, "SIGHUP");
}

#[test]
fn sigkill_leaves_nothing_behind() {
    if !root_or_skip("sigkill_leaves_nothing_behind") {
        return;
    }
    let lab = Lab::create("exit").expect("lab");
    let trace = Trace::start(&[&rule_for(&lab)]);
    let held = objects_of(trace.pid());
    let out = trace.signal(libc::SIGKILL);
    assert_eq!(out.code, None, "killed by a signal has no exit code");
    assert_all_gone(&held, "SIGKILL");
}

#[test]
fn a_panic_exits_101_and_leaves_nothing_behind() {
    if !root_or_skip("a_panic_exits_101") {
        return;
    }
    let lab = Lab::create("exit").expect("lab");
    let trace = Trace::start_with_env(&[&rule_for(&lab)], &[("FERRET_FAULT", "panic-on-event")]);
    let held = objects_of(trace.pid());
    lab.udp_send(ADDR_B.into(), 9, 1, 16).unwrap();
    let out = trace.wait();
    assert_eq!(out.code, Some(101), "{}", out.stderr);
    assert!(
        out.stderr.contains("ferret: internal error"),
        "{}",
        out.stderr
    );
    assert_all_gone(&held, "panic");
}

#[test]
fn a_closed_output_ends_the_session_and_frees_everything() {
    if !root_or_skip("a_closed_output_ends_the_session") {
        return;
    }
    let lab = Lab::create("exit").expect("lab");
    let mut trace = Trace::start(&[&rule_for(&lab)]);
    let held = objects_of(trace.pid());
    lab.udp_send(ADDR_B.into(), 9, 1, 16).unwrap();
    let first = trace
        .read_line(Duration::from_secs(10))
        .expect("one event line");
    assert!(first.contains("\"type\":\"event\""), "{first}");
    trace.close_stdout();
    // Keep the drops coming so ferret has something to write.
    for _ in 0..50 {
        if trace.has_exited() {
            break;
        }
        lab.udp_send(ADDR_B.into(), 9, 20, 16).unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = trace.wait();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr.contains("session ended (output closed)"),
        "{}",
        out.stderr
    );
    assert_all_gone(&held, "closed output");
}
