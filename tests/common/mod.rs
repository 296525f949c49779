//! Harness for end-to-end tests: run the real `ferret` binary as a user
//! does, wait for its ready line, make traffic in a lab, stop it, read JSON.

#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Privileged tests skip, with the reason printed, only when not root.
pub fn root_or_skip(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    eprintln!("skipped {test}: needs root to load eBPF programs and make network namespaces");
    false
}

pub struct Trace {
    child: Child,
    stderr_lines: mpsc::Receiver<String>,
    pub ready_line: String,
    stdout: Option<BufReader<std::process::ChildStdout>>,
    /// Lines already taken with `read_line`.
    seen_stdout: String,
}

pub struct Finished {
    pub events: Vec<Value>,
    pub summary: Option<Value>,
    pub stderr: String,
    pub code: Option<i32>,
}

impl Trace {
    /// Starts `ferret --json ARGS..` and waits (at most 30 s) for "ready".
    pub fn start(args: &[&str]) -> Trace {
        Trace::start_with_env(args, &[])
    }

    /// As `start`, with extra environment variables.
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Trace {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        Trace::start_exact(&all, env)
    }

    /// Starts `ferret ARGS..` exactly as given (a subcommand first, e.g.
    /// `run --json PLAYBOOK`) and waits (at most 30 s) for "ready".
    pub fn start_exact(args: &[&str], env: &[(&str, &str)]) -> Trace {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ferret"))
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ferret starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = Vec::new();
        loop {
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(line) if line.contains("ready") => {
                    let stdout = child.stdout.take().map(BufReader::new);
                    return Trace {
                        child,
                        stderr_lines: rx,
                        ready_line: line,
                        stdout,
                        seen_stdout: String::new(),
                    };
                }
                Ok(line) => seen.push(line),
                Err(_) => {
                    let _ = child.kill();
                    panic!("ferret did not become ready; stderr:\n{}", seen.join("\n"));
                }
            }
        }
    }

    /// Lets pending events arrive, sends SIGINT, collects the output.
    pub fn stop(self) -> Finished {
        std::thread::sleep(Duration::from_millis(400));
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        self.wait()
    }

    /// Sends SIGTERM and collects the output.
    pub fn terminate(self) -> Finished {
        self.signal(libc::SIGTERM)
    }

    /// Sends `signal` and collects the output.
    pub fn signal(self, signal: i32) -> Finished {
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(self.child.id() as i32, signal) };
        self.wait()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// One line of standard output, as it comes.
    pub fn read_line(&mut self, timeout: Duration) -> Option<String> {
        let mut reader = self.stdout.take()?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send((line, reader));
        });
        let (line, reader) = rx.recv_timeout(timeout).ok()?;
        self.stdout = Some(reader);
        self.seen_stdout.push_str(&line);
        Some(line)
    }

    /// Hands standard output to the caller (who then reads it all).
    pub fn take_stdout(&mut self) -> Option<BufReader<std::process::ChildStdout>> {
        self.stdout.take()
    }

    /// Closes our end of ferret's standard output, as `| head -1` does.
    pub fn close_stdout(&mut self) {
        self.stdout = None;
    }

    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Waits for the process to end by itself (duration, stop after).
    pub fn wait(mut self) -> Finished {
        let mut out = std::mem::take(&mut self.seen_stdout);
        if let Some(mut reader) = self.stdout.take() {
            reader.read_to_string(&mut out).expect("stdout readable");
        }
        let status = self.child.wait().expect("ferret exits");
        // The reader thread ends at EOF, after the process has exited.
        let stderr: Vec<String> = self.stderr_lines.iter().collect();
        let mut events = Vec::new();
        let mut summary = None;
        for line in out.lines() {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("bad JSON line {line:?}: {e}"));
            match v["type"].as_str() {
                Some("summary") => summary = Some(v),
                _ => events.push(v),
            }
        }
        Finished {
            events,
            summary,
            stderr: stderr.join("\n"),
            code: status.code(),
        }
    }
}

impl Finished {
    /// The summary's entry for a rule number.
    pub fn rule(&self, n: u64) -> &Value {
        let s = self
            .summary
            .as_ref()
            .unwrap_or_else(|| panic!("no summary; stderr:\n{}", self.stderr));
        s["rules"]
            .as_array()
            .expect("rules")
            .iter()
            .find(|r| r["rule"] == n)
            .expect("rule in summary")
    }
}

/// Waits (at most 10 s) until `nft list ruleset` in namespace `ns`
/// contains `text`.
pub fn wait_for_ruleset(ns: &str, text: &str) {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < until {
        let out = std::process::Command::new("ip")
            .args(["netns", "exec", ns, "nft", "list", "ruleset"])
            .output()
            .expect("nft");
        if String::from_utf8_lossy(&out.stdout).contains(text) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("`{text}` did not appear in the ruleset of {ns}");
}
