//! `ferret serve` and `ferret merge` held wrong: clear messages and the
//! usual exit statuses, before anything is loaded (no root needed).

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

fn ferret(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferret"))
        .args(args)
        .output()
        .expect("ferret runs")
}

fn temp(tag: &str, name: &str, content: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!("ferret-cli-serve-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    p.display().to_string()
}

#[test]
fn a_broken_rules_file_is_refused_at_start_with_its_diagnostics() {
    let bad = temp("bad", "rules.ferret", b"on drop where dprt == 443\n");
    let o = ferret(&["serve", "-f", &bad]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("did you mean `dport`?"), "{err}");
}

#[test]
fn rotation_needs_an_events_file() {
    let ok = temp("rot", "rules.ferret", b"on drop count by reason\n");
    let o = ferret(&["serve", "-f", &ok, "-C", "5"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--output"));
}

#[test]
fn merge_takes_one_kind_of_file() {
    let json = temp("mix", "a.json", b"{\"type\":\"event\",\"time_ns\":1}\n");
    let pcap = temp("mix", "b.pcapng", &[0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0]);
    let o = ferret(&["merge", &json, &pcap]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not both"));
    let o = ferret(&["merge", &json]);
    assert_eq!(o.status.code(), Some(0));
    let line = String::from_utf8_lossy(&o.stdout);
    assert!(line.contains("\"node\":\"a\""), "{line}");
}
