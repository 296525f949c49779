//! JSON lines: one object per event (`"type": "event"`), `count` and
//! `hist` tables (`"type": "count"` / `"hist"`) every `--interval` and at
//! the end, then one summary object (`"type": "summary"`). The schema is
//! in docs/json.md.

use super::{Aggregates, Names, Sink};
use crate::event::{family_name, proto_name, Event};
use crate::summary::Summary;
use serde_json::{json, Value};
use std::io::{self, Write};

pub struct JsonSink<W: Write> {
    out: W,
}

impl<W: Write> std::fmt::Debug for JsonSink<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonSink").finish_non_exhaustive()
    }
}

impl<W: Write> JsonSink<W> {
    pub fn new(out: W) -> JsonSink<W> {
        JsonSink { out }
    }
}

pub fn event_json(ev: &Event, stack: Option<&[String]>, ctx: &Names) -> Value {
    let m = &ev.meta;
    let family = family_name(m.family).map_or_else(|| json!(m.family), |n| json!(n));
    let proto = ev
        .proto()
        .map(|p| proto_name(p).map_or_else(|| json!(p), |n| json!(n)));
    let drop = ev.is_drop();
    let mut obj = json!({
        "type": "event",
        "ts": m.ts_ns,
        "skb": format!("{:#x}", m.skb),
        "cpu": m.cpu,
        "pid": m.pid,
        "comm": ev.comm(),
        "netns": m.netns,
        "mark": m.mark,
        "ifindex": m.ifindex,
        "ifname": ev.ifname(),
        "mtu": m.mtu,
        "family": family,
        "proto": proto,
        "saddr": ev.saddr().map(|a| a.to_string()),
        "daddr": ev.daddr().map(|a| a.to_string()),
        "sport": ev.sport(),
        "dport": ev.dport(),
        "tcpflags": ev.has(crate::abi::field::TCPFLAGS).then_some(m.tcpflags),
        "ttl": ev.has(crate::abi::field::TTL).then_some(m.ttl),
        "len": m.len,
        "hook": ctx.funcs.name(ev.hook).unwrap_or("?"),
        "func": ctx.funcs.name(m.func_id).unwrap_or("?"),
        "reason": ev.has_reason().then(|| ctx.reason_name(m.reason)),
        "reason_code": ev.has_reason().then_some(m.reason),
        "location": (drop && m.location != 0).then(|| ctx.kallsyms.describe(m.location)),
        "rules": ev.rules,
    });
    if let Some(frames) = stack {
        obj["stack"] = json!(frames);
    }
    if !ev.capture.is_empty() {
        obj["capture"] = json!({
            "bytes": ev.capture.len(),
            "wire_len": ev.wire_len,
            "link": if ev.capture_l2 { "ethernet" } else { "ip" },
            "summary": super::packet::describe(&ev.capture, ev.capture_l2, ev.wire_len),
        });
    }
    if let Some(v) = &ev.verdict {
        obj["verdict"] = v.to_json();
    }
    if let Some((kind, point)) = ev.prog_point() {
        let ret = match point {
            crate::bpf_prog::ProgPoint::Leave { ret } => Some(ret),
            crate::bpf_prog::ProgPoint::Enter => None,
        };
        obj["prog"] = json!({
            "kind": kind.name(),
            "at": point.word(),
            "ret": ret,
            "verdict": ret.map(|r| kind.verdict_text(r)),
        });
    }
    obj
}

impl<W: Write> Sink for JsonSink<W> {
    fn event(&mut self, ev: &Event, stack: Option<&[String]>, ctx: &Names) -> io::Result<()> {
        if super::json_fast::write_event(&mut self.out, ev, stack, ctx)? {
            return Ok(());
        }
        serde_json::to_writer(&mut self.out, &event_json(ev, stack, ctx))?;
        self.out.write_all(b"\n")
    }

    fn summary(&mut self, summary: &Summary) -> io::Result<()> {
        // The text account goes to stderr first: it must reach the user
        // even when the JSON reader has gone away.
        eprint!("{}", summary.render_text());
        serde_json::to_writer(&mut self.out, &summary.to_json())?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn aggregates(&mut self, aggs: &Aggregates, ctx: &Names) -> io::Result<()> {
        for obj in aggs.to_json(ctx) {
            serde_json::to_writer(&mut self.out, &obj)?;
            self.out.write_all(b"\n")?;
        }
        self.out.flush()
    }
}
