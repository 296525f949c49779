//! `ferret features --json` on the machine running the tests: each fact
//! held against what the machine itself says (sysfs, procfs, `ferret
//! reasons`, the error a function trigger meets), not against constants.

mod common;

use common::root_or_skip;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn features_json(cmd: &mut Command) -> Value {
    let out = cmd
        .args(["features", "--json"])
        .output()
        .expect("ferret runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

fn ferret() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ferret"))
}

fn sysctl(name: &str) -> i64 {
    let text = std::fs::read_to_string(format!("/proc/sys/kernel/{name}")).unwrap();
    text.trim().parse().unwrap()
}

#[test]
fn features_as_root_match_what_the_machine_says() {
    if !root_or_skip("features_as_root_match_what_the_machine_says") {
        return;
    }
    let v = features_json(&mut ferret());
    let has_btf = Path::new("/sys/kernel/btf/vmlinux").exists();
    assert_eq!(v["btf"]["vmlinux"], has_btf, "{v:#}");
    let modules = std::fs::read_dir("/sys/kernel/btf").unwrap().count() - usize::from(has_btf);
    assert_eq!(v["btf"]["modules"], modules);
    assert_eq!(
        v["not_probed"],
        serde_json::json!([]),
        "root probes everything"
    );

    if has_btf {
        let reasons = ferret().arg("reasons").output().unwrap();
        let listed = String::from_utf8_lossy(&reasons.stdout).lines().count();
        assert_eq!(v["drop_reasons"]["count"], listed, "{v:#}");
        assert!(listed > 50, "this host's kernel names many reasons");
        for trigger in ["drop", "free", "recv", "xmit", "queue"] {
            assert_eq!(v["triggers"][trigger], "tp_btf", "{trigger}: {v:#}");
        }
    }

    let kallsyms = std::fs::read_to_string("/proc/kallsyms").unwrap();
    let bpf_loop = kallsyms.lines().any(|l| l.ends_with(" bpf_loop"));
    assert_eq!(v["helpers"]["bpf_loop"], bpf_loop);
    // Every trace reads events from a ring buffer: root on a kernel that
    // runs ferret at all has them.
    assert_eq!(v["helpers"]["ringbuf"], true);
    assert_eq!(
        v["limits"]["unprivileged_bpf_disabled"],
        sysctl("unprivileged_bpf_disabled")
    );
    assert_eq!(
        v["limits"]["perf_event_paranoid"],
        sysctl("perf_event_paranoid")
    );

    let backends = &v["functions"]["backends"];
    let has_kprobes = Path::new("/sys/bus/event_source/devices/kprobe").exists();
    assert_eq!(backends["kprobe"]["usable"], has_kprobes, "{v:#}");
    // The automatic choice is the first usable one, in the session's order.
    let first_usable = ["kprobe.multi", "kprobe", "fentry"]
        .into_iter()
        .find(|b| backends[b]["usable"] == true);
    assert_eq!(v["functions"]["backend"].as_str(), first_usable, "{v:#}");
    if first_usable.is_none() {
        // The same refusals a function trigger meets, word for word.
        let trace = ferret()
            .args(["--duration", "1s", "on func ip_rcv"])
            .output()
            .unwrap();
        let error = String::from_utf8_lossy(&trace.stderr);
        for b in ["kprobe.multi", "kprobe", "fentry"] {
            let why = backends[b]["why"].as_str().unwrap();
            assert!(error.contains(why), "{b}: {why:?} not in {error}");
        }
        assert_eq!(v["paths"]["functions"], "not available");
    }
}

#[test]
fn features_without_privilege_say_what_was_not_probed() {
    if !root_or_skip("features_without_privilege_say_what_was_not_probed") {
        return;
    }
    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all",
        env!("CARGO_BIN_EXE_ferret"),
    ]);
    let probe = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .args([env!("CARGO_BIN_EXE_ferret"), "--version"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: nobody cannot run the test binary here (or no setpriv)");
        return;
    }
    let v = features_json(&mut cmd);
    let facts: Vec<&str> = v["not_probed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["fact"].as_str().unwrap())
        .collect();
    assert!(facts.contains(&"ringbuf"), "{v:#}");
    assert!(facts.contains(&"functions"), "{v:#}");
    assert_eq!(v["helpers"]["ringbuf"], Value::Null);
    assert_eq!(v["functions"]["backend"], Value::Null);
    let missing = v["limits"]["capabilities"]["missing_for_tracing"]
        .as_array()
        .unwrap();
    assert!(!missing.is_empty(), "{v:#}");
    // What needs no privilege is still there.
    assert_eq!(
        v["btf"]["vmlinux"],
        Path::new("/sys/kernel/btf/vmlinux").exists()
    );
}
