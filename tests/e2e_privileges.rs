//! End to end: what ferret writes and which privileges it keeps. `--user`
//! drops root after the ready line (read back from /proc while the
//! trace runs, events still arrive, the summary is whole), the REPL adds
//! rules after the drop, a run without root on ambient capabilities, and
//! a planted symlink that is not followed. Traffic: UDP to loopback.

mod common;

use common::{root_or_skip, Trace};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const NOBODY: u32 = 65534;
const CAP_NET_ADMIN: u64 = 1 << 12;
const CAP_PERFMON: u64 = 1 << 38;
const CAP_BPF: u64 = 1 << 39;

/// A loopback port of this test process, `k` apart for each test.
fn port(k: u16) -> u16 {
    41000 + (std::process::id() % 1000) as u16 * 8 + k
}

fn rule(port: u16) -> String {
    format!("on xmit where udp and dport == {port}")
}

fn send_udp(port: u16, n: usize) {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..n {
        sock.send_to(b"ferret", ("127.0.0.1", port)).unwrap();
    }
}

/// `Key: value` lines of /proc/PID/task/TID/status, for every thread.
fn thread_status(pid: u32) -> Vec<Vec<(String, String)>> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap();
    tasks
        .map(|t| {
            let text = std::fs::read_to_string(t.unwrap().path().join("status")).unwrap();
            text.lines()
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.to_string(), v.trim().to_string()))
                .collect()
        })
        .collect()
}

fn field<'a>(status: &'a [(String, String)], key: &str) -> &'a str {
    &status.iter().find(|(k, _)| k == key).unwrap().1
}

fn caps(status: &[(String, String)], key: &str) -> u64 {
    u64::from_str_radix(field(status, key), 16).unwrap()
}

/// Every thread of `pid` runs as nobody with exactly `cap_eff`.
fn assert_nobody_with(pid: u32, cap_eff: u64) {
    for status in thread_status(pid) {
        let ids = format!("{NOBODY}\t{NOBODY}\t{NOBODY}\t{NOBODY}");
        assert_eq!(field(&status, "Uid"), ids, "{status:?}");
        assert_eq!(field(&status, "Gid"), ids, "{status:?}");
        assert_eq!(caps(&status, "CapEff"), cap_eff, "{status:?}");
        assert_eq!(caps(&status, "CapPrm"), cap_eff, "{status:?}");
        assert_eq!(caps(&status, "CapAmb"), 0, "{status:?}");
    }
}

/// A fresh directory anyone may create files in, as /tmp (mode 1777).
fn sticky_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ferret-priv-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
    dir
}

fn summary_rule(summary: &Value) -> &Value {
    &summary["rules"][0]
}

#[test]
fn user_nobody_is_unprivileged_after_ready_and_the_trace_completes() {
    if !root_or_skip("user_nobody_is_unprivileged_after_ready_and_the_trace_completes") {
        return;
    }
    let p = port(0);
    let trace = Trace::start(&["--user", "nobody", &rule(p)]);
    assert_nobody_with(trace.pid(), 0);
    send_udp(p, 3);
    let done = trace.stop();
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let events: Vec<_> = done.events.iter().filter(|e| e["dport"] == p).collect();
    assert_eq!(events.len(), 3, "{}", done.stderr);
    let summary = done.summary.expect("a summary");
    assert_eq!(summary["ended_by"], "signal");
    assert_eq!(summary_rule(&summary)["matched"], 3, "{summary}");
    assert_eq!(summary_rule(&summary)["emitted"], 3, "{summary}");
    assert_eq!(summary_rule(&summary)["lost_ring_full"], 0, "{summary}");
}

#[test]
fn the_output_file_is_the_users_and_private() {
    if !root_or_skip("the_output_file_is_the_users_and_private") {
        return;
    }
    let dir = sticky_dir("output");
    let out = dir.join("out.json");
    let p = port(1);
    let trace = Trace::start(&["-Z", "nobody", "-o", out.to_str().unwrap(), &rule(p)]);
    send_udp(p, 2);
    let done = trace.stop();
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let meta = std::fs::metadata(&out).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (NOBODY, NOBODY));
    assert_eq!(meta.permissions().mode() & 0o7777, 0o600);
    let text = std::fs::read_to_string(&out).unwrap();
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["type"], "summary");
    assert_eq!(summary_rule(&last)["emitted"], 2, "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn through_sudo_the_caller_is_the_default_and_user_root_stays_root() {
    if !root_or_skip("through_sudo_the_caller_is_the_default_and_user_root_stays_root") {
        return;
    }
    let sudo = [("SUDO_UID", "65534"), ("SUDO_GID", "65534")];
    let trace = Trace::start_with_env(&[&rule(port(2))], &sudo);
    assert_nobody_with(trace.pid(), 0);
    assert_eq!(trace.stop().code, Some(0));

    let trace = Trace::start_with_env(&["--user", "root", &rule(port(2))], &sudo);
    let status = &thread_status(trace.pid())[0];
    assert!(field(status, "Uid").starts_with("0\t"), "{status:?}");
    assert_ne!(caps(status, "CapEff") & CAP_BPF, 0, "{status:?}");
    assert_eq!(trace.stop().code, Some(0));
}

#[test]
fn a_planted_symlink_is_not_followed() {
    if !root_or_skip("a_planted_symlink_is_not_followed") {
        return;
    }
    let dir = sticky_dir("symlink");
    let victim = dir.join("victim");
    std::fs::write(&victim, "precious").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    let evil = dir.join("evil.json");
    std::os::unix::fs::symlink(&victim, &evil).unwrap();
    for flag in ["-o", "--pcap"] {
        let o = Command::new(env!("CARGO_BIN_EXE_ferret"))
            .args([
                "--json",
                "--duration",
                "200ms",
                flag,
                evil.to_str().unwrap(),
            ])
            .arg("on drop capture")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(3), "{flag}: {stderr}");
        assert!(stderr.contains("symbolic link"), "{flag}: {stderr}");
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert_eq!(
        std::fs::metadata(&victim).unwrap().permissions().mode() & 0o777,
        0o644
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A child whose stderr lines arrive on a channel.
struct Running {
    child: Child,
    stderr: mpsc::Receiver<String>,
}

impl Running {
    fn spawn(cmd: &mut Command) -> Running {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Running { child, stderr: rx }
    }

    fn wait_stderr(&self, what: &str) {
        let mut seen = Vec::new();
        while let Ok(line) = self.stderr.recv_timeout(Duration::from_secs(30)) {
            if line.contains(what) {
                return;
            }
            seen.push(line);
        }
        panic!("no `{what}` on stderr:\n{}", seen.join("\n"));
    }

    /// SIGINT, then stdout and the rest of stderr.
    fn stop(self) -> (Option<i32>, String, String) {
        std::thread::sleep(Duration::from_millis(400));
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let out = self.child.wait_with_output().unwrap();
        let rest: Vec<String> = self.stderr.try_iter().collect();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            rest.join("\n"),
        )
    }
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
fn without_root_ambient_capabilities_are_enough() {
    if !root_or_skip("without_root_ambient_capabilities_are_enough") {
        return;
    }
    let caps = "+bpf,+perfmon,+net_admin";
    let p = port(3);
    let run = Running::spawn(
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .args(["--inh-caps", caps, "--ambient-caps", caps])
            .arg(env!("CARGO_BIN_EXE_ferret"))
            .args(["--json", &rule(p)]),
    );
    run.wait_stderr("ready");
    // A fixed rule set needs no capability once attached. Without a change
    // of user, capabilities go thread by thread: the main one at once; the
    // symbol reader, started before the ready line, keeps its own until it
    // has read the file it holds and ends.
    let pid = run.child.id();
    let main = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/status")).unwrap();
    assert!(main.contains("\nCapEff:\t0000000000000000\n"), "{main}");
    assert!(main.contains("\nCapAmb:\t0000000000000000\n"), "{main}");
    for _ in 0..100 {
        if thread_status(pid).len() == 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_nobody_with(pid, 0);
    send_udp(p, 2);
    let (code, stdout, stderr) = run.stop();
    assert_eq!(code, Some(0), "{stderr}");
    let lines = json_lines(&stdout);
    assert_eq!(
        lines.iter().filter(|e| e["dport"] == p).count(),
        2,
        "{stdout}"
    );
    let summary = lines
        .iter()
        .find(|v| v["type"] == "summary")
        .expect("summary");
    assert_eq!(summary_rule(summary)["emitted"], 2, "{summary}");
}

#[test]
fn the_repl_adds_rules_after_dropping_root() {
    if !root_or_skip("the_repl_adds_rules_after_dropping_root") {
        return;
    }
    let p = port(4);
    let mut run = Running::spawn(
        Command::new(env!("CARGO_BIN_EXE_ferret")).args(["repl", "--json", "--user", "nobody"]),
    );
    let mut stdin = run.child.stdin.take().unwrap();
    writeln!(stdin, "{}", rule(p)).unwrap();
    let mut stdout = BufReader::new(run.child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert!(line.starts_with("rule 1 added"), "{line}");
    assert_nobody_with(run.child.id(), CAP_BPF | CAP_PERFMON | CAP_NET_ADMIN);
    // A second rule, loaded and attached with only those capabilities.
    writeln!(stdin, "{}", rule(p + 1)).unwrap();
    let mut answers = String::new();
    while !answers.contains("rule 2 added") {
        line.clear();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "{answers}");
        answers.push_str(&line);
    }
    send_udp(p, 1);
    send_udp(p + 1, 2);
    std::thread::sleep(Duration::from_millis(400));
    writeln!(stdin, "quit").unwrap();
    drop(stdin);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let status = run.child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{rest}");
    let lines = json_lines(&rest);
    let count = |port: u16| lines.iter().filter(|e| e["dport"] == port).count();
    assert_eq!((count(p), count(p + 1)), (1, 2), "{rest}");
    let summary = lines
        .iter()
        .find(|v| v["type"] == "summary")
        .expect("summary");
    assert_eq!(summary["rules"].as_array().unwrap().len(), 2, "{summary}");
}

#[test]
fn the_repl_without_root_refuses_explain_and_says_what_to_do() {
    if !root_or_skip("the_repl_without_root_refuses_explain_and_says_what_to_do") {
        return;
    }
    let p = port(6);
    let mut run = Running::spawn(
        Command::new(env!("CARGO_BIN_EXE_ferret")).args(["repl", "--json", "--user", "nobody"]),
    );
    let mut stdin = run.child.stdin.take().unwrap();
    writeln!(stdin, "on drop where udp dst port {p} explain").unwrap();
    let mut stdout = BufReader::new(run.child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert!(
        line.contains("rule not added") && line.contains("--user root"),
        "{line}"
    );
    // The refusal leaves the session as it was: the next rule is rule 1.
    writeln!(stdin, "{}", rule(p)).unwrap();
    let mut answers = String::new();
    while !answers.contains(" added") {
        line.clear();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "{answers}");
        answers.push_str(&line);
    }
    assert!(answers.contains("rule 1 added"), "{answers}");
    writeln!(stdin, "quit").unwrap();
    drop(stdin);
    assert_eq!(run.child.wait().unwrap().code(), Some(0));
}
