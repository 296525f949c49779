//! `ferret merge`: the JSON lines of several nodes as one time-ordered
//! stream. Events are ordered by `time_ns`, the wall-clock time `ferret
//! serve` writes (the kernel's monotonic time plus that node's
//! CLOCK_REALTIME − CLOCK_MONOTONIC): across nodes the order is only as
//! good as their clocks agree (NTP: typically within milliseconds; PTP:
//! microseconds), and events closer than that may appear in either order.
//! Lines from `ferret --json` have no `time_ns`; their `ts` counts from
//! that machine's boot, so a file of them is ordered within itself but
//! cannot be placed among other nodes' events: it is merged by `ts` and
//! reported. Lines without a time (summaries, tables) follow the events,
//! in the order of the files. Every line gets `node` (the file's name
//! without its extension when it has none). All lines are held in memory and sorted, so events a
//! node wrote out of order (CPUs share one ring) come out in order too.

use serde_json::Value;
use std::io::{self, BufRead, Write};

/// One input: a name (for messages), the node its lines are of when they
/// do not say, and its lines.
pub struct Input<R: BufRead> {
    pub name: String,
    pub node: String,
    pub reader: R,
}

impl<R: BufRead> std::fmt::Debug for Input<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Input").field("name", &self.name).finish()
    }
}

/// What a merge did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MergeReport {
    pub events: u64,
    pub other_lines: u64,
    /// Inputs whose events had no `time_ns` (ordered by their own `ts`).
    pub unaligned: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("{name}:{line}: not a JSON object: {source}")]
    Parse {
        name: String,
        line: u64,
        source: serde_json::Error,
    },
    #[error("cannot read {name}: {source}")]
    Read { name: String, source: io::Error },
    #[error("cannot write the merged stream: {source}")]
    Write { source: io::Error },
}

pub fn merge<R: BufRead>(
    inputs: Vec<Input<R>>,
    out: &mut dyn Write,
) -> Result<MergeReport, MergeError> {
    let mut timed: Vec<(u64, usize, u64, Value)> = Vec::new();
    let mut untimed: Vec<Value> = Vec::new();
    let mut report = MergeReport::default();
    for (index, input) in inputs.into_iter().enumerate() {
        let mut unaligned = false;
        for (n, line) in input.reader.lines().enumerate() {
            let line = line.map_err(|source| MergeError::Read {
                name: input.name.clone(),
                source,
            })?;
            if line.trim().is_empty() {
                continue;
            }
            let mut obj: Value =
                serde_json::from_str(&line).map_err(|source| MergeError::Parse {
                    name: input.name.clone(),
                    line: n as u64 + 1,
                    source,
                })?;
            if obj.get("node").is_none_or(Value::is_null) {
                obj["node"] = input.node.clone().into();
            }
            let time = obj.get("time_ns").and_then(Value::as_u64);
            let ts = obj.get("ts").and_then(Value::as_u64);
            match (time, ts) {
                (Some(t), _) => timed.push((t, index, n as u64, obj)),
                (None, Some(t)) => {
                    unaligned = true;
                    timed.push((t, index, n as u64, obj));
                }
                (None, None) => untimed.push(obj),
            }
        }
        if unaligned {
            report.unaligned.push(input.name);
        }
    }
    timed.sort_by_key(|(t, file, line, _)| (*t, *file, *line));
    let write = |out: &mut dyn Write, v: &Value| {
        writeln!(out, "{v}").map_err(|source| MergeError::Write { source })
    };
    for (.., obj) in &timed {
        write(out, obj)?;
    }
    for obj in &untimed {
        write(out, obj)?;
    }
    out.flush().map_err(|source| MergeError::Write { source })?;
    report.events = timed.len() as u64;
    report.other_lines = untimed.len() as u64;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: &str, text: &'static str) -> Input<&'static [u8]> {
        Input {
            name: name.into(),
            node: name.trim_end_matches(".json").into(),
            reader: text.as_bytes(),
        }
    }

    #[test]
    fn events_of_several_nodes_come_out_in_time_order() {
        let a = "{\"type\":\"event\",\"node\":\"a\",\"time_ns\":30,\"ts\":5}\n{\"type\":\"event\",\"node\":\"a\",\"time_ns\":10,\"ts\":3}\n{\"type\":\"summary\",\"node\":\"a\"}\n";
        let b = "{\"type\":\"event\",\"node\":\"b\",\"time_ns\":20,\"ts\":900}\n";
        let mut out = Vec::new();
        let r = merge(vec![input("a.json", a), input("b.json", b)], &mut out).unwrap();
        let lines: Vec<Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let order: Vec<(String, Option<u64>)> = lines
            .iter()
            .map(|v| {
                (
                    v["node"].as_str().unwrap().to_string(),
                    v["time_ns"].as_u64(),
                )
            })
            .collect();
        assert_eq!(
            order,
            [
                ("a".into(), Some(10)),
                ("b".into(), Some(20)),
                ("a".into(), Some(30)),
                ("a".into(), None)
            ]
        );
        assert_eq!((r.events, r.other_lines), (3, 1));
        assert!(r.unaligned.is_empty());
    }

    #[test]
    fn lines_without_wall_time_are_named_and_reported() {
        let plain = "{\"type\":\"event\",\"ts\":7}\n";
        let mut out = Vec::new();
        let r = merge(vec![input("old", plain)], &mut out).unwrap();
        assert_eq!(r.unaligned, ["old"]);
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["node"], "old");
        let e = merge(vec![input("bad", "{\n")], &mut Vec::new()).unwrap_err();
        assert!(e.to_string().starts_with("bad:1:"), "{e}");
    }
}
