//! The agent's event stream: one JSON object per event, as `--json`
//! writes it, with two fields in front that make several nodes' streams
//! one: `node` (whose event it is) and `time_ns` (wall-clock time:
//! the kernel's monotonic `ts` plus this node's CLOCK_REALTIME −
//! CLOCK_MONOTONIC, read again every second so a clock step is followed).
//! Lines are gathered over a pump and written at once, to standard output
//! or a rotated file.

use crate::rotate::{RotatingFile, Rotation};
use ferret_core::event::Event;
use ferret_core::output::{JsonSink, Names, Sink};
use ferret_session::driver::EventTarget;
use ferret_session::session::Flow;
use std::io::{self, Write};
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(Debug)]
enum Out {
    Stdout,
    File(RotatingFile),
}

#[derive(Debug)]
pub struct EventLines {
    out: Out,
    node: String,
    /// `"node":"NAME",` ready to splice in.
    node_field: String,
    batch: Vec<u8>,
    line: Vec<u8>,
    clock: WallClock,
    pub written: u64,
    pub write_error: Option<io::Error>,
}

impl EventLines {
    /// Events to `path` (rotated as `rotation` says), or standard output.
    pub fn open(
        path: Option<&Path>,
        rotation: Option<Rotation>,
        node: &str,
    ) -> io::Result<EventLines> {
        let out = match path {
            Some(p) => Out::File(RotatingFile::create(p, rotation)?),
            None => Out::Stdout,
        };
        Ok(EventLines {
            out,
            node: node.to_string(),
            node_field: format!("\"node\":{},", serde_json::Value::from(node)),
            batch: Vec::with_capacity(64 * 1024),
            line: Vec::with_capacity(1024),
            clock: WallClock::default(),
            written: 0,
            write_error: None,
        })
    }

    /// Adds one event's line to the batch.
    fn push(&mut self, ev: &Event, stack: Option<&[String]>, names: &Names) -> io::Result<()> {
        self.line.clear();
        JsonSink::new(&mut self.line).event(ev, stack, names)?;
        let offset = self.clock.offset_ns();
        let Some(rest) = self.line.strip_prefix(b"{") else {
            return Err(io::Error::other("an event line is not a JSON object"));
        };
        self.batch.push(b'{');
        self.batch.extend_from_slice(self.node_field.as_bytes());
        let wall = (i128::from(ev.meta.ts_ns) + offset).max(0);
        write!(self.batch, "\"time_ns\":{wall},")?;
        self.batch.extend_from_slice(rest);
        if !self.batch.ends_with(b"\n") {
            self.batch.push(b'\n');
        }
        self.written += 1;
        Ok(())
    }

    /// A line of the agent's own (the summary at the end), node included.
    pub fn own_line(&mut self, mut obj: serde_json::Value) {
        obj["node"] = self.node.clone().into();
        self.batch.extend_from_slice(obj.to_string().as_bytes());
        self.batch.push(b'\n');
    }

    /// Writes the batch; the first error is kept for the caller.
    pub fn flush(&mut self) {
        if self.batch.is_empty() || self.write_error.is_some() {
            self.batch.clear();
            return;
        }
        let result = match &mut self.out {
            Out::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(&self.batch).and_then(|()| out.flush())
            }
            Out::File(f) => f.write_lines(&self.batch),
        };
        self.batch.clear();
        if let Err(e) = result {
            self.write_error = Some(e);
        }
    }

    /// Files started so far (1 without rotation; 0 on standard output).
    pub fn files_opened(&self) -> u64 {
        match &self.out {
            Out::Stdout => 0,
            Out::File(f) => f.opened,
        }
    }
}

impl EventTarget for EventLines {
    fn event(
        &mut self,
        ev: &Event,
        _rules: &[usize],
        stack: Option<&[String]>,
        names: &Names,
    ) -> Flow {
        match self.push(ev, stack, names) {
            Ok(()) => Flow::Continue,
            Err(e) => {
                self.write_error = Some(e);
                Flow::Stop
            }
        }
    }
}

/// CLOCK_REALTIME − CLOCK_MONOTONIC, re-read once a second.
#[derive(Debug, Default)]
struct WallClock {
    read_at: Option<Instant>,
    offset: i128,
}

impl WallClock {
    fn offset_ns(&mut self) -> i128 {
        if self
            .read_at
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
        {
            self.offset = ferret_core::output::pcap::clock_offset_ns();
            self.read_at = Some(Instant::now());
        }
        self.offset
    }
}

/// This machine's host name, the default `--node`.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".into();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferret_core::testing::tcp_drop;

    #[test]
    fn event_lines_carry_the_node_and_wall_clock_time() {
        let dir = std::env::temp_dir().join(format!("ferret-events-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        let path = dir.join("e.json");
        let mut lines = EventLines::open(Some(&path), None, "node-\"a\"").unwrap();
        let names = Names::default();
        let ev = tcp_drop(vec![1]);
        assert_eq!(lines.event(&ev, &[1], None, &names), Flow::Continue);
        lines.own_line(serde_json::json!({"type": "summary"}));
        lines.flush();
        let text = std::fs::read_to_string(&path).unwrap();
        let objs: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(objs[0]["node"], "node-\"a\"");
        assert_eq!(objs[0]["type"], "event");
        assert_eq!(objs[0]["ts"], ev.meta.ts_ns);
        let wall = objs[0]["time_ns"].as_u64().unwrap() as i128;
        let expected = i128::from(ev.meta.ts_ns) + ferret_core::output::pcap::clock_offset_ns();
        assert!(
            (wall - expected).abs() < 1_000_000_000,
            "{wall} vs {expected}"
        );
        assert_eq!(objs[1]["node"], "node-\"a\"");
        assert_eq!(lines.written, 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_host_name_is_known() {
        assert!(!hostname().is_empty());
    }
}
