//! End to end: the REPL on a real pseudo-terminal (tmux), typed at as a
//! person would, against drops in a namespace lab.

mod common;

use common::root_or_skip;
use ferret_lab::{self as lab, Lab, ADDR_B};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// `ferret repl` in a detached tmux session on a server of its own; the
/// server (and so ferret) is killed when this is dropped.
struct Terminal {
    socket: String,
    data_home: PathBuf,
}

impl Terminal {
    /// Runs `ferret ARGS` (no arguments: the REPL, as on any terminal).
    fn start(args: &str) -> Terminal {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let socket = format!("ferret-e2e-{}-{n}", std::process::id());
        let data_home = std::env::temp_dir().join(&socket);
        std::fs::create_dir_all(&data_home).unwrap();
        let command = format!(
            // After ferret: its status, and whether the terminal is back in
            // line mode (`icanon`) rather than left raw (`-icanon`).
            "env XDG_DATA_HOME='{}' '{}' {args}; echo \"EXIT $? $(stty -a | tr ' ' '\\n' | grep -x -e icanon -e -icanon)\"; sleep 300",
            data_home.display(),
            env!("CARGO_BIN_EXE_ferret")
        );
        let term = Terminal { socket, data_home };
        term.tmux(&["new-session", "-d", "-x", "230", "-y", "60", &command]);
        term.wait_for("the prompt", |s| s.contains("ferret> "));
        term
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux runs (tools/deps.sh installs it)");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Types `text` as it is (no key names).
    fn type_text(&self, text: &str) {
        self.tmux(&["send-keys", "-l", text]);
    }

    fn key(&self, key: &str) {
        self.tmux(&["send-keys", key]);
    }

    /// Types a line and presses Enter.
    fn line(&self, text: &str) {
        self.type_text(text);
        self.key("Enter");
    }

    /// Everything on the terminal so far, wrapped lines joined.
    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-J", "-S", "-"])
    }

    /// The line being edited (the last non-empty one).
    fn current_line(&self) -> String {
        let screen = self.screen();
        screen
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or("")
            .to_string()
    }

    /// Waits (at most 30 s) until the screen satisfies `ok`.
    fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "waited 30 s for {what}; the terminal shows:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The ferret process running in the terminal.
    fn ferret_pid(&self) -> i32 {
        let shell: i32 = self
            .tmux(&["list-panes", "-F", "#{pane_pid}"])
            .trim()
            .parse()
            .unwrap();
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .find(|pid| {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                // pid (comm) state ppid ...
                let Some((_, rest)) = stat.rsplit_once(") ") else {
                    return false;
                };
                stat.contains("(ferret)") && rest.split(' ').nth(1) == Some(&shell.to_string())
            })
            .expect("ferret runs in the terminal")
    }

    fn history(&self) -> PathBuf {
        self.data_home.join("ferret/history")
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
        let _ = std::fs::remove_dir_all(&self.data_home);
    }
}

fn count(screen: &str, needle: &str) -> usize {
    screen.lines().filter(|l| l.contains(needle)).count()
}

const HTTPS_DROP: &str = "->198.18.0.2:443(tcp)";
const UDP_9: &str = "->198.18.0.2:9(udp)";

#[test]
fn rules_typed_at_the_prompt_start_and_stop_events() {
    if !root_or_skip("rules_typed_at_the_prompt_start_and_stop_events") {
        return;
    }
    let lab = Lab::create("repl").expect("lab");
    lab.nft(&lab.b, lab::DROP_HTTPS).expect("nft");
    let t = Terminal::start("");
    let ns = &lab.b;

    t.line(&format!(
        "on drop where netns == \"{ns}\" and dport == 443 print"
    ));
    t.wait_for("rule 1", |s| {
        s.contains("rule 1 added") && s.contains("probes: drop")
    });
    lab.tcp_attempts(ADDR_B.into(), 443, 2, Duration::from_millis(500))
        .unwrap();
    let screen = t.wait_for("two HTTPS drops", |s| count(s, HTTPS_DROP) >= 2);
    assert!(
        screen
            .lines()
            .filter(|l| l.contains(HTTPS_DROP))
            .all(|l| l.ends_with("kfree_skb_reason(SKB_DROP_REASON_NETFILTER_DROP)")),
        "{screen}"
    );
    let before = count(&screen, HTTPS_DROP);

    t.line("del 1");
    t.wait_for("the deletion", |s| s.contains("rule 1 deleted"));
    assert!(t.screen().contains("probes: none attached"));
    // A second rule on UDP port 9 is the barrier: the ring is in order, so
    // once its event shows, any HTTPS drop made before it would have too.
    t.line(&format!(
        "on drop where netns == \"{ns}\" and udp dst port 9"
    ));
    t.wait_for("rule 2", |s| s.contains("rule 2 added"));
    lab.tcp_attempts(ADDR_B.into(), 443, 2, Duration::from_millis(500))
        .unwrap();
    lab.udp_send(ADDR_B.into(), 9, 1, 16).unwrap();
    let screen = t.wait_for("the UDP drop", |s| count(s, UDP_9) >= 1);
    assert_eq!(
        count(&screen, HTTPS_DROP),
        before,
        "no HTTPS drop after `del 1`:\n{screen}"
    );

    // Events arrive while a line is half typed: it stays as typed.
    t.type_text("list 2");
    t.wait_for("the typed text", |_| {
        t.current_line().starts_with("ferret> list 2")
    });
    lab.udp_send(ADDR_B.into(), 9, 1, 16).unwrap();
    t.wait_for("a second UDP drop", |s| count(s, UDP_9) >= 2);
    assert!(
        t.current_line().starts_with("ferret> list 2"),
        "the line being typed survives the event:\n{}",
        t.screen()
    );
    t.key("C-u");

    t.line("quit");
    let screen = t.wait_for("the end", |s| s.contains("EXIT 0 icanon"));
    assert!(screen.contains("session ended (quit)"), "{screen}");
    check_history(&t.history(), ns);
}

fn check_history(path: &Path, ns: &str) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("history {}: {e}", path.display()))
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "history is private");
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(&format!("netns == \"{ns}\"")), "{text}");
    assert!(text.contains("del 1"), "{text}");
}

#[test]
fn tab_completes_drop_reasons_and_errors_keep_the_line() {
    if !root_or_skip("tab_completes_drop_reasons_and_errors_keep_the_line") {
        return;
    }
    let t = Terminal::start("repl");
    t.type_text("on drop where reason == netfilter_dr");
    t.key("Tab");
    t.wait_for("the completed reason", |_| {
        t.current_line()
            .starts_with("ferret> on drop where reason == NETFILTER_DROP")
    });
    t.key("C-u");

    // A wrong field: the line is not accepted, the caret shows why.
    t.line("on drop where dprt == 443");
    let screen = t.wait_for("the diagnostic", |s| s.contains("did you mean `dport`?"));
    assert!(screen.contains("^^^^ did you mean `dport`?"), "{screen}");
    assert!(!screen.contains("rule 1 added"), "{screen}");
    t.key("C-c");
    // Two lines typed at once: the second is kept for the next prompt.
    t.tmux(&["send-keys", "list", "Enter", "help", "Enter"]);
    t.wait_for("both answers", |s| {
        s.contains("no rules; type one") && s.contains("Keys: Tab completes")
    });

    t.key("C-d");
    t.wait_for("the end", |s| s.contains("EXIT 0 icanon"));
}

#[test]
fn piped_input_is_read_line_by_line() {
    if !root_or_skip("piped_input_is_read_line_by_line") {
        return;
    }
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferret"))
        .arg("repl")
        .env(
            "XDG_DATA_HOME",
            std::env::temp_dir().join("ferret-e2e-unused"),
        )
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"on drop where dport == 1\nlsit\nlist\npause all\nstats\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("rule 1 added: on drop where dport == 1"),
        "{stdout}"
    );
    assert!(stdout.contains("did you mean `list`?"), "{stdout}");
    assert!(
        stdout.contains("   1  active  on drop where dport == 1"),
        "{stdout}"
    );
    assert!(stdout.contains("rule 1 paused"), "{stdout}");
    assert!(
        stdout.contains("session ended (quit)"),
        "the end of input ends the session: {stdout}"
    );
    assert!(
        !std::env::temp_dir().join("ferret-e2e-unused").exists(),
        "no history without a terminal"
    );
}

#[test]
fn quit_is_the_end_the_json_summary_reports() {
    if !root_or_skip("quit_is_the_end_the_json_summary_reports") {
        return;
    }
    for input in [
        "on drop where dport == 1\nquit\n",
        "on drop where dport == 1\n",
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_ferret"))
            .args(["repl", "--json"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child.stdin.take().unwrap().write_all(input.as_bytes())?;
                child.wait_with_output()
            })
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{input:?}: {stdout}");
        let summary: serde_json::Value = stdout
            .lines()
            .rev()
            .find_map(|l| serde_json::from_str(l).ok())
            .unwrap_or_else(|| panic!("{input:?}: no JSON summary in {stdout}"));
        assert_eq!(summary["type"], "summary", "{input:?}: {stdout}");
        assert_eq!(summary["ended_by"], "quit", "{input:?}: {stdout}");
    }
}

#[test]
fn one_shot_options_are_refused_with_what_to_do_instead() {
    for (flag, value, says) in [
        ("--duration", "5s", "ferret --duration 10s 'RULES'"),
        ("--cmd", "true", "ferret --cmd 'COMMAND' 'RULES'"),
        (
            "--pcap",
            "/nonexistent/x.pcapng",
            "ferret --pcap FILE 'RULES'",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_ferret"))
            .args(["repl", flag, value])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag}: {stderr}");
        assert!(stderr.contains(says), "{flag}: {stderr}");
    }
}

#[test]
fn sigterm_mid_line_gives_the_terminal_back_with_a_summary() {
    if !root_or_skip("sigterm_mid_line_gives_the_terminal_back_with_a_summary") {
        return;
    }
    let t = Terminal::start("repl");
    t.line("on drop where dport == 1");
    t.wait_for("rule 1", |s| s.contains("rule 1 added"));
    t.type_text("on fr");
    t.wait_for("the typed text", |_| {
        t.current_line().starts_with("ferret> on fr")
    });
    // SAFETY: signalling a process this test started.
    unsafe { libc::kill(t.ferret_pid(), libc::SIGTERM) };
    let screen = t.wait_for("the end", |s| s.contains("EXIT 0 icanon"));
    assert!(screen.contains("session ended (signal)"), "{screen}");
    assert!(screen.contains("on drop where dport == 1"), "{screen}");
}
