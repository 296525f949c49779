//! Reading recordings needs no root: the recording made by ferret 0.1
//! (format 1) kept in tests/fixtures is read, printed and filtered
//! offline, and cut or damaged copies give a clear error after what comes
//! before the damage.
//!
//! The fixture: `ferret -w` of three rules in a two-namespace lab, two UDP
//! datagrams to a closed port 9 and two TCP SYNs to a closed port 443 of
//! namespace `rtest-b` (four NO_SOCKET drops, the SYNs captured).

use serde_json::Value;
use std::process::Command;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/recording-v1.pcapng"
);

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

fn events(lines: &[Value]) -> Vec<&Value> {
    lines.iter().filter(|v| v["type"] == "event").collect()
}

#[test]
fn the_format_1_fixture_reads_back_as_it_was_recorded() {
    let (lines, err, code) = ferret(&["-r", FIXTURE, "--json"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("format 1;"), "{err}");
    let evs = events(&lines);
    assert_eq!(evs.len(), 4, "{err}");
    assert!(
        evs.iter()
            .all(|e| e["reason"] == "NO_SOCKET" && e["stack"].is_array()),
        "{evs:?}"
    );
    let captured = evs
        .iter()
        .filter(|e| e["capture"]["link"].is_string())
        .count();
    assert_eq!(captured, 2);
    let count = lines
        .iter()
        .find(|v| v["type"] == "count")
        .expect("the recorded table");
    assert_eq!(count["rows"].as_array().unwrap().len(), 2, "{count}");
    let summary = lines
        .iter()
        .find(|v| v["type"] == "summary")
        .expect("summary");
    assert_eq!(summary["rules"][0]["matched"], 4);
}

#[test]
fn the_fixture_filters_offline_with_the_recorded_names() {
    let (lines, err, _) = ferret(&[
        "-r",
        FIXTURE,
        "--json",
        "on drop where proto == udp and dport == 9",
    ]);
    assert_eq!(events(&lines).len(), 2, "{err}");
    // pcap-filter text reads packet bytes; the fixture kept none of its UDP
    // packets, and says so rather than match nothing in silence.
    let (lines, err, _) = ferret(&["-r", FIXTURE, "--json", "on drop where udp and dport == 9"]);
    assert_eq!(events(&lines).len(), 0, "{err}");
    assert!(
        err.contains("2 events were recorded without packet bytes"),
        "{err}"
    );
    // `rtest-b` resolves to the inode it had on the recording machine.
    let (lines, err, _) = ferret(&[
        "-r",
        FIXTURE,
        "--json",
        "on drop where netns == \"rtest-b\" and reason == NO_SOCKET",
    ]);
    assert_eq!(events(&lines).len(), 4, "{err}");
    let (lines, err, _) = ferret(&["-r", FIXTURE, "--json", "on drop where tcp count by dport"]);
    let count = lines
        .iter()
        .find(|v| v["type"] == "count")
        .expect("count table");
    assert_eq!(count["rows"][0]["count"], 2, "{count} {err}");
    let (_, err, code) = ferret(&["-r", FIXTURE, "on drop where reason == NO_SUCH_REASON"]);
    assert_eq!(code, 1, "{err}");
    // What offline rules select is recorded again, and reads back.
    let again = std::env::temp_dir().join(format!("ferret-again-{}.pcapng", std::process::id()));
    let (_, err, code) = ferret(&[
        "-r",
        FIXTURE,
        "-w",
        again.to_str().unwrap(),
        "on drop where tcp capture",
    ]);
    assert_eq!(code, 0, "{err}");
    let (lines, err, _) = ferret(&["-r", again.to_str().unwrap(), "--json"]);
    let evs = events(&lines);
    assert_eq!(evs.len(), 2, "{err}");
    assert!(
        evs.iter()
            .all(|e| e["capture"]["bytes"] == 74 && e["rules"] == serde_json::json!([1])),
        "{evs:?}"
    );
    let _ = std::fs::remove_file(&again);
    let (_, err, code) = ferret(&["-r", FIXTURE, "--duration", "1s"]);
    assert_eq!(code, 2, "live-only options are refused: {err}");
}

#[test]
fn cut_and_damaged_recordings_show_what_comes_before_and_say_where() {
    let bytes = std::fs::read(FIXTURE).unwrap();
    let dir = std::env::temp_dir().join(format!("ferret-cli-rec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cut = dir.join("cut.pcapng");
    std::fs::write(&cut, &bytes[..bytes.len() * 3 / 4]).unwrap();
    let (lines, err, code) = ferret(&["-r", cut.to_str().unwrap(), "--json"]);
    assert_eq!(
        code, 4,
        "an incomplete recording exits as a lossy trace: {err}"
    );
    assert!(err.contains("cut short at byte"), "{err}");
    let n = events(&lines).len();
    assert!((1..4).contains(&n), "{n} events before the cut; {err}");

    let mut damaged = bytes.clone();
    // The first block after the section header: break its length.
    let shb = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
    damaged[shb + 4] ^= 0x03;
    let bad = dir.join("bad.pcapng");
    std::fs::write(&bad, &damaged).unwrap();
    let (_, err, code) = ferret(&["-r", bad.to_str().unwrap()]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("damaged at byte") || err.contains("cut short"),
        "{err}"
    );

    let (_, err, code) = ferret(&["-r", "/nonexistent/x.pcapng"]);
    assert_eq!(code, 3);
    assert!(err.contains("cannot read"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_playbook_reads_the_fixture_without_root() {
    let out = Command::new(env!("CARGO_BIN_EXE_ferret"))
        .args([
            "run",
            concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/why-dropped.rhai"),
            "-r",
            FIXTURE,
            "--json",
        ])
        .output()
        .expect("ferret runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "why-dropped exits 1 when it finds drops: {stderr}"
    );
    let report: Value = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["type"] == "report")
        .expect("a report line");
    assert_eq!(report["drops"], 4, "{report}");
    assert_eq!(report["groups"].as_array().unwrap().len(), 2, "{report}");
    assert!(
        stderr.contains("end-of-recording") || stdout.contains("end-of-recording"),
        "{stdout}{stderr}"
    );
}

#[test]
fn a_playbook_reads_count_and_hist_tables_from_tables() {
    let dir = std::env::temp_dir().join(format!("ferret-tables-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("tables.rhai");
    std::fs::write(
        &script,
        r#"rule("on drop count by reason");
rule("on drop where proto == udp hist len");
fn on_end() {
    let t = tables();
    report(#{ tables: t.len(), reason: t[0].rows[0].key.reason, count: t[0].rows[0].count, values: t[1].total });
}
"#,
    )
    .unwrap();
    let (lines, err, code) = ferret(&[
        "run",
        script.to_str().unwrap(),
        "-r",
        FIXTURE,
        "--json",
        "--allow-unsafe-files",
    ]);
    assert_eq!(code, 0, "{err}");
    let report = lines
        .iter()
        .find(|v| v["type"] == "report")
        .unwrap_or_else(|| panic!("no report: {err}"));
    assert_eq!(
        (report["tables"].as_i64(), report["reason"].as_str()),
        (Some(2), Some("NO_SOCKET")),
        "{report}"
    );
    assert_eq!(
        (report["count"].as_i64(), report["values"].as_i64()),
        (Some(4), Some(2)),
        "{report}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_playbook_captures_to_pcap_over_the_fixture_and_needs_the_file() {
    let dir = std::env::temp_dir().join(format!("ferret-pbcap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("capture.rhai");
    std::fs::write(&script, "rule(\"on drop where tcp capture\");\n").unwrap();
    let pcap = dir.join("out.pcapng");
    let (s, p) = (script.to_str().unwrap(), pcap.to_str().unwrap());
    let (lines, err, code) = ferret(&[
        "run",
        s,
        "-r",
        FIXTURE,
        "--pcap",
        p,
        "--json",
        "--allow-unsafe-files",
    ]);
    assert_eq!(code, 0, "{err}");
    let summary = lines
        .iter()
        .find(|v| v["type"] == "summary")
        .expect("summary");
    assert_eq!(summary["pcap"]["packets"], 2, "{summary}");
    assert!(std::fs::metadata(&pcap).unwrap().len() > 100);
    let (_, err, code) = ferret(&["run", s, "-r", FIXTURE, "--allow-unsafe-files"]);
    assert_eq!(code, 5, "capture without --pcap is a script error: {err}");
    assert!(err.contains("run the playbook with --pcap FILE"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The fixture with its clock stretched a thousandfold: the drops come
/// 0, 100.1, 202.4 and 250.4 ms after the first instead of microseconds.
fn stretched_fixture(path: &std::path::Path) {
    use ferret_core::recording::{self, Item, RecordingWriter};
    let mut reader = recording::open(std::path::Path::new(FIXTURE)).expect("fixture");
    let out = std::fs::File::create(path).unwrap();
    let mut w = RecordingWriter::new(out, reader.context()).unwrap();
    let mut first = None;
    while let Some(item) = reader.next_item() {
        if let Item::Event(r) = item.expect("the fixture reads") {
            let mut ev = r.event.clone();
            let t0 = *first.get_or_insert(ev.meta.ts_ns);
            ev.meta.ts_ns = t0 + (ev.meta.ts_ns - t0) * 1000;
            w.event(&ev, reader.stack(&r), reader.names()).unwrap();
        }
    }
    w.flush().unwrap();
}

/// A directory of the test's own holding the stretched fixture.
fn stretched_in(tag: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("ferret-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let recording = dir.join("stretched.pcapng");
    stretched_fixture(&recording);
    (dir, recording)
}

#[test]
fn playbook_timers_run_on_the_recording_clock() {
    // A 60 ms timer has fired 0, 1, 3 and 4 times when each drop arrives,
    // and never after the last.
    let (dir, recording) = stretched_in("timers");
    let script = dir.join("timers.rhai");
    std::fs::write(
        &script,
        r#"let ticks = 0;
let seen = [];
every(60, "tick");
rule("on drop call on_drop");
fn tick() { ticks += 1; }
fn on_drop(ev) { seen.push(ticks); }
fn on_end() { report(#{ seen: seen, ticks: ticks }); }
"#,
    )
    .unwrap();
    let (lines, err, code) = ferret(&[
        "run",
        script.to_str().unwrap(),
        "-r",
        recording.to_str().unwrap(),
        "--json",
        "--allow-unsafe-files",
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, 0, "{err}");
    let report = lines
        .iter()
        .find(|v| v["type"] == "report")
        .unwrap_or_else(|| panic!("no report: {err}"));
    assert_eq!(report["seen"], serde_json::json!([0, 1, 3, 4]), "{report}");
    assert_eq!(report["ticks"], 4, "{report}");
}

#[test]
fn interval_tables_come_on_the_recording_clock() {
    // Drops at 0, 100.1, 202.4 and 250.4 ms: after 60, 120, 180 and 240 ms
    // the table holds 1, 2, 2 and 3 drops, then all 4 at the end.
    let (dir, recording) = stretched_in("interval");
    let (lines, err, code) = ferret(&[
        "-r",
        recording.to_str().unwrap(),
        "on drop count by reason",
        "--interval",
        "60ms",
        "--json",
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, 0, "{err}");
    let tables: Vec<(u64, bool, u64)> = lines
        .iter()
        .filter(|v| v["type"] == "count")
        .map(|v| {
            let n = v["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["count"].as_u64().unwrap())
                .sum();
            (v["elapsed_ms"].as_u64().unwrap(), v["final"] == true, n)
        })
        .collect();
    assert_eq!(
        tables,
        vec![
            (60, false, 1),
            (120, false, 2),
            (180, false, 2),
            (240, false, 3),
            (tables.last().map_or(0, |t| t.0), true, 4)
        ],
        "{err}"
    );
    let (_, err, code) = ferret(&["-r", FIXTURE, "--interval", "1s"]);
    assert_eq!(code, 2, "--interval without rules is refused: {err}");
    assert!(err.contains("--interval without rules"), "{err}");
}
