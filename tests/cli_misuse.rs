//! Every way to hold the command line wrong gets a clear message and a
//! distinct exit status, never a crash or a hang.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output};

fn ferret(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferret"))
        .args(args)
        .output()
        .expect("ferret runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("ferret-misuse-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        TempDir(p)
    }

    fn file(&self, name: &str, content: &[u8], mode: u32) -> String {
        let p = self.0.join(name);
        std::fs::write(&p, content).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p.display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn unknown_flags_and_bad_flag_values_are_usage_errors() {
    for args in [
        vec!["--no-such-flag", "on drop"],
        vec!["--duration", "soon", "on drop"],
        vec!["--duration", "0s", "on drop"],
        vec!["--ring-mib", "lots", "on drop"],
        vec!["--interval", "often", "on drop count"],
        vec!["--cmd"],
        vec!["check", "--bogus"],
        vec!["frobnicate", "x", "y"],
    ] {
        let o = ferret(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("error"), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn a_ring_size_that_is_not_a_power_of_two_is_refused_before_anything_loads() {
    let o = ferret(&["--ring-mib", "3", "on drop"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("power of two"), "{}", stderr(&o));
}

#[test]
fn missing_and_unreadable_files_say_which_file() {
    let dir = TempDir::new("files");
    let not_utf8 = dir.file("binary.ferret", &[0xff, 0xfe, 0x00, 0x80], 0o644);
    for path in [
        "/nonexistent/rules.ferret".to_string(),
        dir.0.display().to_string(),
        not_utf8,
    ] {
        for args in [vec!["check", path.as_str()], vec!["run", path.as_str()]] {
            let o = ferret(&args);
            assert_eq!(o.status.code(), Some(3), "{args:?}: {}", stderr(&o));
            assert!(stderr(&o).contains(&path), "{args:?}: {}", stderr(&o));
        }
    }
}

#[test]
fn empty_input_is_a_rule_error_that_shows_an_example() {
    for args in [
        vec!["check", "-e", ""],
        vec!["check", "-e", "# only a comment\n\n"],
        vec![""],
    ] {
        let o = ferret(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("no rules given"), "{}", stderr(&o));
        assert!(stderr(&o).contains("on drop where"), "{}", stderr(&o));
    }
}

#[test]
fn ten_thousand_rules_check_but_do_not_trace() {
    let dir = TempDir::new("many");
    let text: String = (0..10_000)
        .map(|i| format!("on drop where dport == {}\n", i % 65536))
        .collect();
    let path = dir.file("many.ferret", text.as_bytes(), 0o644);
    let o = ferret(&["check", &path]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("rule 10000:"));
    if is_root() {
        let o = ferret(&["run", &path]);
        assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("10000 rules given; at most 64"),
            "{}",
            stderr(&o)
        );
    }
}

#[test]
fn a_megabyte_rule_gets_one_short_error() {
    let rule = format!("on drop where {}", "dport == 1 or ".repeat(75_000));
    let dir = TempDir::new("huge");
    let path = dir.file("huge.ferret", rule.as_bytes(), 0o644);
    let o = ferret(&["check", &path]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("a rule can be at most"),
        "{}",
        stderr(&o)
    );
    assert!(
        o.stderr.len() < 2000,
        "the diagnostic is {} bytes",
        o.stderr.len()
    );
}

#[test]
fn files_others_can_change_are_refused_when_root() {
    if !is_root() {
        eprintln!(
            "skipped files_others_can_change_are_refused_when_root: only root runs are guarded"
        );
        return;
    }
    let dir = TempDir::new("unsafe");
    let path = dir.file("open.ferret", b"on drop where dport == 1\n", 0o666);
    let o = ferret(&["run", &path, "--duration", "200ms"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("writable by other users"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("--allow-unsafe-files"),
        "{}",
        stderr(&o)
    );
    let o = ferret(&["run", &path, "--duration", "200ms", "--allow-unsafe-files"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = ferret(&["check", &path]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "checking runs nothing, so it is allowed: {}",
        stderr(&o)
    );
}

#[test]
fn without_privileges_tracing_is_refused_with_what_to_do() {
    if !is_root() {
        let o = ferret(&["on drop"]);
        assert_eq!(o.status.code(), Some(3));
        assert!(stderr(&o).contains("needs root"), "{}", stderr(&o));
        return;
    }
    // As root, drop to nobody for this one run.
    let o = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            env!("CARGO_BIN_EXE_ferret"),
            "on drop",
        ])
        .output()
        .expect("setpriv (util-linux) runs");
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("needs root"), "{}", stderr(&o));
    assert!(stderr(&o).contains("CAP_BPF"), "{}", stderr(&o));
}

#[test]
fn an_output_file_that_cannot_be_created_is_named() {
    if !is_root() {
        eprintln!("skipped an_output_file_that_cannot_be_created_is_named: needs root to get past the privilege check");
        return;
    }
    let o = ferret(&["-o", "/nonexistent-dir/out.json", "on drop"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("/nonexistent-dir/out.json"),
        "{}",
        stderr(&o)
    );
}
