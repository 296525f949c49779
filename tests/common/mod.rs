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
        let mut child = Command::new(env!("CARGO_BIN_EXE_ferret"))
            .arg("--json")
            .args(args)
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
                    return Trace {
                        child,
                        stderr_lines: rx,
                        ready_line: line,
                    }
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
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        self.wait()
    }

    /// Waits for the process to end by itself (duration, stop after).
    pub fn wait(mut self) -> Finished {
        let mut out = String::new();
        self.child
            .stdout
            .take()
            .expect("piped stdout")
            .read_to_string(&mut out)
            .expect("stdout readable");
        let status = self.child.wait().expect("ferret exits");
        let stderr: Vec<String> = self.stderr_lines.try_iter().collect();
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
