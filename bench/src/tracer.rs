//! Running a tracer as its user would: spawn it, wait for its ready line,
//! let it stream, stop it with SIGINT, and account for its output.
//!
//! ferret runs with `--json` and its ready line on stderr; bpftrace runs a
//! script whose BEGIN probe prints `ready` (BEGIN fires after every probe is
//! attached). Output is read from a pipe line by line, so both tracers pay
//! for writing their events and the bench only counts them.

use crate::output::{classify, Line, Tally};
use crate::tool::Tool;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const READY_TIMEOUT: Duration = Duration::from_secs(30);
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// A tracer and what it runs: ferret rules or a bpftrace script.
#[derive(Debug, Clone)]
pub struct Spec {
    pub tool: Tool,
    pub program: String,
}

/// Where the tracers are.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub ferret: PathBuf,
    pub bpftrace: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum TracerError {
    #[error(
        "bpftrace is not installed (apt-get install bpftrace, or run tools/bench.sh --install)"
    )]
    NoBpftrace,
    #[error("cannot start {tool:?}: {source}")]
    Spawn { tool: Tool, source: std::io::Error },
    #[error("{tool:?} exited before it was ready ({status}): {stderr}")]
    Died {
        tool: Tool,
        status: String,
        stderr: String,
    },
    #[error("{tool:?} printed no ready line within {secs}s")]
    NotReady { tool: Tool, secs: u64 },
}

/// A started tracer that printed its ready line.
#[derive(Debug)]
pub struct Running {
    tool: Tool,
    child: Child,
    tally: Arc<Mutex<Tally>>,
    readers: Vec<JoinHandle<()>>,
    stalled: Arc<AtomicBool>,
    /// From spawn to the ready line.
    pub startup: Duration,
}

/// What a tracer left when stopped.
#[derive(Debug, Clone, Default)]
pub struct Finished {
    pub tally: Tally,
    pub exit: Option<i32>,
}

impl Spec {
    pub fn start(&self, bins: &Binaries) -> Result<Running, TracerError> {
        let mut cmd = match self.tool {
            Tool::Ferret => {
                let mut c = Command::new(&bins.ferret);
                c.arg("--json").arg(&self.program);
                c
            }
            Tool::Bpftrace => {
                let bin = bins.bpftrace.as_ref().ok_or(TracerError::NoBpftrace)?;
                let mut c = Command::new(bin);
                // Line buffering: the ready line must not sit in a buffer.
                c.args(["-B", "line", "-e"]).arg(&self.program);
                c
            }
        };
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let spawned = Instant::now();
        let mut child = cmd.spawn().map_err(|source| TracerError::Spawn {
            tool: self.tool,
            source,
        })?;
        let tally = Arc::new(Mutex::new(Tally::default()));
        let (ready_tx, ready_rx) = mpsc::channel();
        let stalled = Arc::new(AtomicBool::new(false));
        let readers = vec![
            reader(
                child.stdout.take(),
                self.tool,
                tally.clone(),
                ready_tx.clone(),
                Some(stalled.clone()),
            ),
            reader(
                child.stderr.take(),
                self.tool,
                tally.clone(),
                ready_tx,
                None,
            ),
        ];
        let mut running = Running {
            tool: self.tool,
            child,
            tally,
            readers,
            stalled,
            startup: Duration::ZERO,
        };
        match ready_rx.recv_timeout(READY_TIMEOUT) {
            Ok(at) => {
                running.startup = at - spawned;
                Ok(running)
            }
            Err(_) => {
                let tool = self.tool;
                let done = running.stop();
                Err(match done.exit {
                    Some(code) => TracerError::Died {
                        tool,
                        status: format!("exit status {code}"),
                        stderr: done.tally.stderr_text(),
                    },
                    None => TracerError::NotReady {
                        tool,
                        secs: READY_TIMEOUT.as_secs(),
                    },
                })
            }
        }
    }
}

fn reader(
    pipe: Option<impl Read + Send + 'static>,
    tool: Tool,
    tally: Arc<Mutex<Tally>>,
    ready: mpsc::Sender<Instant>,
    stalled: Option<Arc<AtomicBool>>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let Some(pipe) = pipe else { return };
        let mut lines = BufReader::with_capacity(1 << 20, pipe);
        let mut buf = String::new();
        loop {
            while stalled.as_ref().is_some_and(|s| s.load(Ordering::Relaxed)) {
                std::thread::sleep(Duration::from_millis(5));
            }
            buf.clear();
            match lines.read_line(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let line = classify(tool, buf.trim_end());
            if line == Line::Ready {
                let _ = ready.send(Instant::now());
            }
            tally
                .lock()
                .expect("no reader panics")
                .add(line, buf.trim_end());
        }
    })
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops (or resumes) reading the tracer's standard output: a stalled
    /// consumer, such as a pipe into a slow program. The pipe fills, the
    /// tracer blocks writing, its kernel buffer fills.
    pub fn stall_output(&self, stalled: bool) {
        self.stalled.store(stalled, Ordering::Relaxed);
    }

    /// SIGINT (what Ctrl-C sends), then SIGKILL if it does not end in time.
    pub fn stop(mut self) -> Finished {
        self.stall_output(false);
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: signalling our own child by its pid; it is not reaped yet,
        // so the pid cannot belong to another process.
        unsafe { libc::kill(pid, libc::SIGINT) };
        let deadline = Instant::now() + STOP_TIMEOUT;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(s)) => break Some(s),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                _ => {
                    let _ = self.child.kill();
                    break self.child.wait().ok();
                }
            }
        };
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        let tally = self.tally.lock().expect("no reader panics").clone();
        let _ = self.tool;
        Finished {
            tally,
            exit: status.and_then(|s| s.code()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // A bench that fails half-way must not leave a tracer attached.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
