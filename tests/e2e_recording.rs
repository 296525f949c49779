//! End to end: a session recorded with -w in a namespace lab (nftables
//! drops of HTTPS, closed UDP ports), read back with -r. The differential
//! test: each filter rule ran in the kernel during the recording (its bit
//! in each event's `rules`), and the same rule run offline over the
//! recording must select exactly those events.

mod common;

use common::{root_or_skip, Trace};
use ferret_lab::{self as lab, Lab, ADDR_B};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// `ferret ARGS..`: (stdout JSON lines, stderr, exit code).
fn ferret(args: &[&str]) -> (Vec<Value>, String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_ferret"))
        .args(args)
        .output()
        .expect("ferret runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    (
        lines,
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

fn of_type<'a>(lines: &'a [Value], kind: &str) -> Vec<&'a Value> {
    lines.iter().filter(|v| v["type"] == kind).collect()
}

/// An event's identity across outputs: time and skb.
fn ids<'a>(events: impl IntoIterator<Item = &'a Value>) -> BTreeSet<(u64, String)> {
    events
        .into_iter()
        .map(|e| {
            (
                e["ts"].as_u64().unwrap(),
                e["skb"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn tshark_packets(path: &Path) -> Option<Vec<String>> {
    let out = Command::new("tshark")
        .args([
            "-r",
            path.to_str()?,
            "-T",
            "fields",
            "-e",
            "frame.comment",
            "-e",
            "tcp.dstport",
        ])
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect(),
    )
}

#[test]
fn a_recorded_lab_reads_back_and_offline_rules_agree_with_the_kernel() {
    if !root_or_skip("a_recorded_lab_reads_back") {
        return;
    }
    let lab = Lab::create("rec").expect("lab");
    lab.nft(&lab.b, lab::DROP_HTTPS).expect("nft rule");
    let dir = std::env::temp_dir().join(format!("ferret-rec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("lab.pcapng");
    let ns = format!("netns == \"{}\"", lab.b);
    let filters = [
        format!("on drop where {ns} and dport == 443"),
        format!("on drop where {ns} and proto == udp"),
        format!("on drop where {ns} and reason == NETFILTER_DROP and tcpflags has syn"),
        format!("on drop where {ns} and len > 60"),
        // pcap-filter text reads the bytes the capture rule below recorded.
        format!("on drop where {ns} and tcp dst port 443 and tcp[tcpflags] & tcp-syn != 0"),
    ];
    let mut rules = vec![format!("on drop where {ns} print stack")];
    rules.extend(filters.iter().cloned());
    rules.push(format!("on drop where {ns} and dport == 443 capture"));
    rules.push(format!("on drop where {ns} count by reason"));
    let text = rules.join("\n");
    let trace = Trace::start(&["-w", file.to_str().unwrap(), &text]);
    lab.tcp_attempts(ADDR_B.into(), 443, 3, Duration::from_millis(500))
        .unwrap();
    assert_eq!(lab.udp_send(ADDR_B.into(), 9, 5, 100).unwrap(), 5);
    let live = trace.stop();
    assert_eq!(live.code, Some(0), "{}", live.stderr);
    assert!(live.events.is_empty(), "-w prints no events");
    assert!(live.stderr.contains("recorded "), "{}", live.stderr);
    let path = file.to_str().unwrap();

    // Read back as the session printed it: every drop of the namespace
    // (the lab's own IPv6 chatter too), their stacks, the table.
    let (lines, err, code) = ferret(&["-r", path, "--json"]);
    assert_eq!(code, 0, "{err}");
    let events = of_type(&lines, "event");
    let summary = of_type(&lines, "summary");
    assert_eq!(
        Some(events.len() as u64),
        summary[0]["rules"][0]["matched"].as_u64(),
        "{err}"
    );
    assert!(events.len() >= 8, "{err}");
    assert!(
        events
            .iter()
            .all(|e| e["stack"].as_array().is_some_and(|s| !s.is_empty())),
        "{events:?}"
    );
    let table = of_type(&lines, "count");
    assert_eq!(table.len(), 1, "{lines:?}");
    assert!(err.contains("format 1"), "{err}");

    // The differential: rule k's kernel verdicts against the evaluator's.
    for (k, rule) in filters.iter().enumerate() {
        let kernel = ids(events.iter().copied().filter(|e| {
            e["rules"]
                .as_array()
                .unwrap()
                .contains(&(k as u64 + 2).into())
        }));
        let (off, err, code) = ferret(&["-r", path, "--json", rule]);
        assert_eq!(code, 0, "{rule}: {err}");
        assert_eq!(ids(of_type(&off, "event")), kernel, "{rule}");
    }
    let by_kernel = |r: usize| {
        events
            .iter()
            .filter(|e| e["rules"].as_array().unwrap().contains(&r.into()))
            .count()
    };
    assert_eq!((by_kernel(2), by_kernel(3)), (3, 5));

    // count by offline gives the kernel's table.
    let (off, err, _) = ferret(&[
        "-r",
        path,
        "--json",
        &format!("on drop where {ns} count by reason"),
    ]);
    let rows = |t: &Value| t["rows"].clone();
    assert_eq!(rows(of_type(&off, "count")[0]), rows(table[0]), "{err}");

    // A filter that matches nothing, stop after, and a rule the recording cannot answer.
    let (off, _, code) = ferret(&["-r", path, "--json", "on drop where dport == 444"]);
    assert_eq!((of_type(&off, "event").len(), code), (0, 0));
    let (off, _, _) = ferret(&["-r", path, "--json", "on drop stop after 2"]);
    assert_eq!(of_type(&off, "event").len(), 2);
    let (_, err, code) = ferret(&["-r", path, "on recv where dport == 443"]);
    assert_eq!(code, 1);
    assert!(err.contains("no `recv` events"), "{err}");

    // Per packet: every path ends in its drop.
    let (paths, err, _) = ferret(&["-r", path, "--json", "--by-skb"]);
    let paths = of_type(&paths, "path");
    assert_eq!(paths.len(), events.len(), "{err}");
    let reasons: BTreeSet<&str> = paths
        .iter()
        .map(|p| p["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons.contains("NETFILTER_DROP") && reasons.contains("NO_SOCKET"),
        "{reasons:?}"
    );
    assert!(paths.iter().all(|p| p["end"] == "drop"));

    // tshark opens the recording and the offline capture to a new file.
    let again = dir.join("again.pcapng");
    let (_, err, code) = ferret(&[
        "-r",
        path,
        "--pcap",
        again.to_str().unwrap(),
        "on drop where dport == 443 capture",
    ]);
    assert_eq!(code, 0, "{err}");
    match (tshark_packets(&file), tshark_packets(&again)) {
        (Some(rec), Some(cap)) => {
            assert_eq!(rec.len(), 3, "{rec:?}");
            assert!(
                rec.iter()
                    .all(|l| l.contains("reason=NETFILTER_DROP") && l.ends_with("443")),
                "{rec:?}"
            );
            assert_eq!(cap.len(), 3, "{cap:?}");
        }
        _ if std::env::var_os("CI").is_some() => {
            panic!("tshark is missing (tools/deps.sh installs it)")
        }
        _ => eprintln!("tshark checks skipped: tshark is not installed"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The report of a playbook: its `"type": "report"` line.
fn report_of(lines: &[Value]) -> Option<Value> {
    lines.iter().find(|v| v["type"] == "report").cloned()
}

#[test]
fn why_dropped_over_a_recording_reports_as_it_did_live() {
    if !root_or_skip("why_dropped_over_a_recording") {
        return;
    }
    let lab = Lab::create("recpb").expect("lab");
    lab.nft(&lab.b, lab::DROP_HTTPS).expect("nft rule");
    let file = std::env::temp_dir().join(format!("ferret-recpb-{}.pcapng", std::process::id()));
    // IPv4 only: the lab's own IPv6 chatter comes at moments the two
    // sessions, started one after the other, may not both see.
    let filter = format!("netns == \"{}\" and family == ip4", lab.b);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/why-dropped.rhai");
    // The same drops, seen by the playbook live and by a recording at once.
    let live = Trace::start_exact(&["run", "--json", script, "--", &filter], &[]);
    let recording = Trace::start(&[
        "-w",
        file.to_str().unwrap(),
        &format!("on drop where {filter} print stack"),
    ]);
    lab.tcp_attempts(ADDR_B.into(), 443, 3, Duration::from_millis(500))
        .unwrap();
    assert_eq!(lab.udp_send(ADDR_B.into(), 9, 4, 64).unwrap(), 4);
    let recorded = recording.stop();
    let live = live.stop();
    assert_eq!(recorded.code, Some(0), "{}", recorded.stderr);
    let live_report =
        report_of(&live.events).unwrap_or_else(|| panic!("no live report: {}", live.stderr));
    let (lines, err, code) = ferret(&["run", script, "-r", file.to_str().unwrap(), "--json"]);
    assert_eq!(code, 1, "{err}");
    let offline_report = report_of(&lines).unwrap_or_else(|| panic!("no report: {err}"));
    assert_eq!(live_report["drops"], 7, "{live_report}");
    // Live, `explain` adds what it found (the closed port's sockets); a
    // recording holds no verdicts, so the replay answers without them.
    assert!(
        live_report["summary"]
            .as_str()
            .unwrap()
            .contains("nothing listens on udp 198.18.0.2:9"),
        "{live_report}"
    );
    assert!(offline_report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .all(|g| g["explained"] == serde_json::json!([])));
    assert_eq!(
        without_verdicts(&offline_report),
        without_verdicts(&live_report)
    );
    let _ = std::fs::remove_file(&file);
}

/// A why-dropped report without what `explain` contributed: the advice
/// (and the summary quoting it) and the explanations.
fn without_verdicts(report: &serde_json::Value) -> serde_json::Value {
    let mut r = report.clone();
    r["summary"] = serde_json::Value::Null;
    for g in r["groups"].as_array_mut().unwrap() {
        let g = g.as_object_mut().unwrap();
        g.remove("explained");
        g.remove("advice");
    }
    r
}

#[test]
fn a_live_playbook_captures_to_pcap() {
    if !root_or_skip("a_live_playbook_captures_to_pcap") {
        return;
    }
    let lab = Lab::create("pbcap").expect("lab");
    lab.nft(&lab.b, lab::DROP_HTTPS).expect("nft rule");
    let dir = std::env::temp_dir().join(format!("ferret-pbcap-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("capture.rhai");
    let rule = format!("on drop where netns == \\\"{}\\\" and tcp capture", lab.b);
    std::fs::write(&script, format!("rule(\"{rule}\");\n")).unwrap();
    let pcap = dir.join("syn.pcapng");
    let (s, p) = (script.to_str().unwrap(), pcap.to_str().unwrap());
    let trace = Trace::start_exact(
        &["run", "--json", s, "--pcap", p, "--allow-unsafe-files"],
        &[],
    );
    lab.tcp_attempts(ADDR_B.into(), 443, 2, Duration::from_millis(500))
        .unwrap();
    let out = trace.stop();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let summary = out.summary.as_ref().expect("summary");
    assert_eq!(summary["pcap"]["packets"], 2, "{summary}");
    if let Some(packets) = tshark_packets(&pcap) {
        assert!(
            packets.len() == 2 && packets.iter().all(|l| l.ends_with("443")),
            "{packets:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
