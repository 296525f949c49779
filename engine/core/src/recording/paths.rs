//! `--by-skb`: events grouped per packet into a path, like Retis's
//! `sort`. One path per skb address, in the order its events came; a path
//! ends at the skb's end (the `drop` or `free` tracepoint, or
//! `kfree_skbmem` in function mode), after which the address may come back
//! as another packet. Each step shows the time since the previous one and
//! where the packet was when it changed device or namespace.

use crate::abi::hook;
use crate::event::Event;
use crate::output::{iface_text, tuple_text, Names};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::fmt::Write;

/// One packet's events, as indices into the events given to [`group`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketPath {
    pub skb: u64,
    pub steps: Vec<usize>,
    /// The skb's end was seen (drop or free).
    pub ended: bool,
}

fn ends_skb(ev: &Event, names: &Names) -> bool {
    ev.hook == hook::DROP
        || ev.hook == hook::FREE
        || (ev.hook == hook::FUNC && names.funcs.name(ev.meta.func_id) == Some("kfree_skbmem"))
}

/// Groups events (in time order) into paths, ordered by their first event.
pub fn group(events: &[&Event], names: &Names) -> Vec<PacketPath> {
    let mut paths: Vec<PacketPath> = Vec::new();
    let mut open: HashMap<u64, usize> = HashMap::new();
    for (i, ev) in events.iter().enumerate() {
        let at = *open.entry(ev.meta.skb).or_insert_with(|| {
            paths.push(PacketPath {
                skb: ev.meta.skb,
                steps: Vec::new(),
                ended: false,
            });
            paths.len() - 1
        });
        paths[at].steps.push(i);
        if ends_skb(ev, names) {
            paths[at].ended = true;
            open.remove(&ev.meta.skb);
        }
    }
    paths
}

/// The drop of a path, if it has one: its last drop event.
fn drop_of<'e>(path: &PacketPath, events: &[&'e Event]) -> Option<&'e Event> {
    path.steps
        .iter()
        .rev()
        .map(|i| events[*i])
        .find(|e| e.is_drop())
}

fn end_word(path: &PacketPath, events: &[&Event]) -> &'static str {
    match (drop_of(path, events), path.ended) {
        (Some(_), _) => "drop",
        (None, true) => "free",
        (None, false) => "open",
    }
}

/// `12ns`, `3.4us`, `1.2ms`, `2.0s`.
pub fn span_text(ns: u64) -> String {
    match ns {
        0..1_000 => format!("{ns}ns"),
        1_000..1_000_000 => format!("{:.1}us", ns as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1}ms", ns as f64 / 1e6),
        _ => format!("{:.1}s", ns as f64 / 1e9),
    }
}

/// The text form: a header line per packet, then one line per step.
pub fn render_text(paths: &[PacketPath], events: &[&Event], names: &Names) -> String {
    let mut out = String::new();
    for p in paths {
        let first = events[p.steps[0]];
        let last = events[*p.steps.last().unwrap_or(&p.steps[0])];
        let total = last.meta.ts_ns.saturating_sub(first.meta.ts_ns);
        let end = match drop_of(p, events) {
            Some(d) => format!("dropped: {}", names.reason_name(d.meta.reason)),
            None if p.ended => "freed".into(),
            None => "no end seen".into(),
        };
        let _ = writeln!(
            out,
            "skb {:#x} {} — {} event{} in {}, {end}",
            p.skb,
            tuple_text(first),
            p.steps.len(),
            if p.steps.len() == 1 { "" } else { "s" },
            span_text(total)
        );
        let mut prev: Option<&Event> = None;
        for i in &p.steps {
            let ev = events[*i];
            let dt = prev.map_or(0, |q| ev.meta.ts_ns.saturating_sub(q.meta.ts_ns));
            let moved = prev
                .is_none_or(|q| (q.meta.netns, q.meta.ifindex) != (ev.meta.netns, ev.meta.ifindex));
            let place = if moved {
                format!(
                    "{} netns {}",
                    iface_text(ev.ifname(), ev.meta.ifindex),
                    ev.meta.netns
                )
            } else {
                String::new()
            };
            let mark = if ev.is_drop() { "  <- DROP" } else { "" };
            let _ = writeln!(
                out,
                "  {:>9}  {:<48} {place}{mark}",
                format!("+{}", span_text(dt)),
                names.func_text(ev)
            );
            if ev.is_drop() && ev.meta.location != 0 {
                let _ = writeln!(
                    out,
                    "  {:>9}  at {}",
                    "",
                    names.kallsyms.describe(ev.meta.location)
                );
            }
            prev = Some(ev);
        }
        out.push('\n');
    }
    out
}

/// One JSON object per path (`"type": "path"`).
pub fn to_json(path: &PacketPath, events: &[&Event], names: &Names) -> Value {
    let first = events[path.steps[0]];
    let mut prev_ts = first.meta.ts_ns;
    let steps: Vec<Value> = path
        .steps
        .iter()
        .map(|i| {
            let ev = events[*i];
            let dt = ev.meta.ts_ns.saturating_sub(prev_ts);
            prev_ts = ev.meta.ts_ns;
            json!({
                "ts": ev.meta.ts_ns, "dt_ns": dt,
                "func": names.funcs.name(ev.meta.func_id).unwrap_or("?"),
                "ifname": ev.ifname(), "ifindex": ev.meta.ifindex, "netns": ev.meta.netns,
                "drop": ev.is_drop(),
            })
        })
        .collect();
    let drop = drop_of(path, events);
    json!({
        "type": "path",
        "skb": format!("{:#x}", path.skb),
        "tuple": tuple_text(first),
        "end": end_word(path, events),
        "reason": drop.map(|d| names.reason_name(d.meta.reason)),
        "location": drop.filter(|d| d.meta.location != 0).map(|d| names.kallsyms.describe(d.meta.location)),
        "duration_ns": prev_ts.saturating_sub(first.meta.ts_ns),
        "steps": steps,
    })
}
