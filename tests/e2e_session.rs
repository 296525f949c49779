//! End to end: tracking, files, errors a user can act on, signals.

mod common;

use common::{root_or_skip, Trace};
use ferret_lab::{self as lab, Lab, ADDR_B};
use std::process::Command;
use std::time::Duration;

/// nftables in namespace b marks TCP 443 in prerouting (after `recv`) and
/// drops it in input, so at the drop the packet no longer has mark 0.
const MARK_THEN_DROP: &str = "table inet ferret_track {
  chain pre {
    type filter hook prerouting priority -300;
    tcp dport 443 meta mark set 0x42
  }
  chain input {
    type filter hook input priority 0;
    tcp dport 443 drop
  }
}
";

#[test]
fn tracked_skbs_keep_matching_after_their_metadata_changes() {
    if !root_or_skip("tracked_skbs_keep_matching") {
        return;
    }
    let lab = Lab::create("e2e").expect("lab");
    lab.nft(&lab.b, MARK_THEN_DROP).expect("nft");
    let ns = &lab.b;
    let tracked =
        format!("on recv, drop where netns == \"{ns}\" and mark == 0 and dport == 443 track");
    let untracked = format!("on recv, drop where netns == \"{ns}\" and mark == 0 and dport == 443");
    let trace = Trace::start(&[&format!("{tracked}\n{untracked}")]);
    lab.tcp_attempts(ADDR_B.into(), 443, 2, Duration::from_millis(500))
        .unwrap();
    let out = trace.stop();
    let drops: Vec<_> = out
        .events
        .iter()
        .filter(|e| e["hook"] == "kfree_skb")
        .collect();
    assert_eq!(
        drops.len(),
        2,
        "the tracked rule follows both SYNs to their drop; stderr:\n{}",
        out.stderr
    );
    for d in &drops {
        assert_eq!(
            d["mark"], 0x42,
            "nftables marked the packet before the drop"
        );
        assert_eq!(
            d["rules"],
            serde_json::json!([1]),
            "only the tracking rule matches the marked packet"
        );
    }
    let track = &out.summary.as_ref().expect("summary")["track"];
    assert_eq!(track["capacity"], 65536, "{track}");
    assert_eq!(
        track["tracked"], 0,
        "dropped skbs leave the track map: {track}"
    );
    let recvs = out
        .events
        .iter()
        .filter(|e| e["hook"] == "netif_receive_skb")
        .count();
    assert_eq!(recvs, 2, "both rules match at recv, one event each");
}

#[test]
fn output_file_is_created_private() {
    if !root_or_skip("output_file_is_created_private") {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("ferret-out-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("events.json");
    let status = Command::new(env!("CARGO_BIN_EXE_ferret"))
        .args(["--json", "--duration", "300ms", "-o"])
        .arg(&path)
        .arg("on drop where dport == 1")
        .status()
        .unwrap();
    assert!(status.success());
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.lines()
            .last()
            .unwrap()
            .contains("\"type\":\"summary\""),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sigterm_ends_the_session_with_a_summary() {
    if !root_or_skip("sigterm_ends_the_session") {
        return;
    }
    let lab = Lab::create("e2e").expect("lab");
    lab.nft(&lab.b, lab::DROP_HTTPS).unwrap();
    let trace = Trace::start(&[&format!(
        "on drop where netns == \"{}\" and dport == 443",
        lab.b
    )]);
    lab.tcp_attempts(ADDR_B.into(), 443, 1, Duration::from_millis(300))
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let out = trace.terminate();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.summary.as_ref().expect("summary")["ended_by"], "signal");
    assert_eq!(out.events.len(), 1);
}

#[test]
fn a_closed_output_pipe_ends_the_session() {
    if !root_or_skip("a_closed_output_pipe") {
        return;
    }
    // `ferret ... | head -1`: the reader goes away after one line.
    let lab = Lab::create("e2e").expect("lab");
    let script = format!(
        "{} --json 'on drop where netns == \"{}\"' | head -1",
        env!("CARGO_BIN_EXE_ferret"),
        lab.b
    );
    let mut child = Command::new("bash")
        .args(["-c", &script])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    lab.udp_send(ADDR_B.into(), 9, 200, 16).unwrap();
    let started = std::time::Instant::now();
    let out = loop {
        if let Some(_status) = child.try_wait().unwrap() {
            break child.wait_with_output().unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "ferret kept running after its reader left"
        );
        lab.udp_send(ADDR_B.into(), 9, 10, 16).unwrap();
        std::thread::sleep(Duration::from_millis(200));
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("output closed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn tp_trigger_finds_the_skb_argument_from_btf() {
    if !root_or_skip("tp_trigger_finds_the_skb_argument") {
        return;
    }
    let lab = Lab::create("e2e").expect("lab");
    let rule = format!(
        "on tp skb:kfree_skb where netns == \"{}\" and udp dst port 9",
        lab.b
    );
    let trace = Trace::start(&[&rule]);
    assert!(
        trace.ready_line.contains("tp skb:kfree_skb (raw_tp)"),
        "{}",
        trace.ready_line
    );
    lab.udp_send(ADDR_B.into(), 9, 4, 16).unwrap();
    let out = trace.stop();
    assert_eq!(out.events.len(), 4, "stderr:\n{}", out.stderr);
    assert!(out
        .events
        .iter()
        .all(|e| e["func"] == "skb:kfree_skb" && e["dport"] == 9));
}

#[test]
fn tp_on_a_tracepoint_without_an_skb_is_refused_clearly() {
    if !root_or_skip("tp_without_an_skb") {
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_ferret"))
        .args(["--duration", "1s", "on tp sched:sched_switch"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("has no `struct sk_buff *` argument"),
        "{stderr}"
    );
}
