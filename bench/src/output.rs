//! What a tracer's output lines are, and their tally: events delivered,
//! loss the tracer itself reported, and its final account.

use crate::tool::Tool;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line {
    Ready,
    Event,
    /// bpftrace's "Lost N events" (perf buffer overflow).
    Lost(u64),
    /// ferret's JSON summary object.
    Summary,
    /// bpftrace printing a map at exit.
    Map,
    Other,
    Blank,
}

pub fn classify(tool: Tool, line: &str) -> Line {
    if line.trim().is_empty() {
        return Line::Blank;
    }
    match tool {
        Tool::Ferret => {
            if line.starts_with("ferret: ready:") {
                Line::Ready
            } else if line.starts_with('{') && line.contains("\"type\":\"event\"") {
                Line::Event
            } else if line.starts_with('{') && line.contains("\"type\":\"summary\"") {
                Line::Summary
            } else {
                Line::Other
            }
        }
        Tool::Bpftrace => {
            if line == "ready" {
                Line::Ready
            } else if let Some(n) = bpftrace_lost(line) {
                Line::Lost(n)
            } else if line.starts_with('@') {
                Line::Map
            } else if line.starts_with("Attaching ")
                || line.starts_with("ERROR:")
                || line.starts_with("WARNING:")
            {
                Line::Other
            } else {
                Line::Event
            }
        }
    }
}

fn bpftrace_lost(line: &str) -> Option<u64> {
    line.trim()
        .strip_prefix("Lost ")?
        .strip_suffix(" events")?
        .parse()
        .ok()
}

/// ferret's per-rule account, summed over its rules.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct FerretAccount {
    pub seen: u64,
    pub matched: u64,
    pub emitted: u64,
    pub lost_ring_full: u64,
    pub rate_limited: u64,
    pub delivered: u64,
}

#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub events: u64,
    /// Loss the tracer reported while running (bpftrace).
    pub lost_reported: u64,
    pub account: Option<FerretAccount>,
    /// Diagnostics, for error messages (the first few).
    pub other: Vec<String>,
}

const KEEP_OTHER: usize = 40;

impl Tally {
    pub fn add(&mut self, kind: Line, text: &str) {
        match kind {
            Line::Event => self.events += 1,
            Line::Lost(n) => self.lost_reported += n,
            Line::Summary => self.account = parse_summary(text),
            Line::Other if self.other.len() < KEEP_OTHER => self.other.push(text.to_owned()),
            _ => {}
        }
    }

    pub fn stderr_text(&self) -> String {
        self.other.join("\n")
    }

    /// Loss the tracer admits to: bpftrace's lost lines, ferret's ring_full.
    pub fn reported_loss(&self) -> u64 {
        self.lost_reported + self.account.map_or(0, |a| a.lost_ring_full)
    }
}

fn parse_summary(text: &str) -> Option<FerretAccount> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let mut acc = FerretAccount::default();
    for r in v.get("rules")?.as_array()? {
        let n = |k: &str| r.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
        acc.seen += n("seen");
        acc.matched += n("matched");
        acc.emitted += n("emitted");
        acc.lost_ring_full += n("lost_ring_full");
        acc.rate_limited += n("rate_limited");
        acc.delivered += n("delivered");
    }
    Some(acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ferret_lines() {
        let f = |l| classify(Tool::Ferret, l);
        assert_eq!(
            f("ferret: ready: 1 rule on drop (tp_btf); Ctrl-C to stop"),
            Line::Ready
        );
        assert_eq!(f(r#"{"comm":"x","type":"event","x":1}"#), Line::Event);
        assert_eq!(f(r#"{"rules":[],"type":"summary"}"#), Line::Summary);
        assert_eq!(f("RULE SEEN MATCHED"), Line::Other);
        assert_eq!(f("  "), Line::Blank);
    }

    #[test]
    fn bpftrace_lines() {
        let b = |l| classify(Tool::Bpftrace, l);
        assert_eq!(b("ready"), Line::Ready);
        assert_eq!(b("Lost 1234 events"), Line::Lost(1234));
        assert_eq!(b("@[3]: 1000"), Line::Map);
        assert_eq!(b("Attaching 2 probes..."), Line::Other);
        assert_eq!(b("python3 198.18.0.1 47001 3"), Line::Event);
        assert_eq!(b("Lost many events"), Line::Event);
    }

    #[test]
    fn ferret_summary_is_summed_over_rules() {
        let mut t = Tally::default();
        let text = r#"{"type":"summary","rules":[{"seen":10,"matched":4,"emitted":3,"lost_ring_full":1,"rate_limited":0,"delivered":3},{"seen":10,"matched":0,"emitted":0,"lost_ring_full":0,"rate_limited":0,"delivered":0}]}"#;
        t.add(Line::Summary, text);
        let a = t.account.unwrap();
        assert_eq!(
            (a.seen, a.matched, a.emitted, a.lost_ring_full),
            (20, 4, 3, 1)
        );
        assert_eq!(t.reported_loss(), 1);
        t.add(Line::Lost(5), "Lost 5 events");
        assert_eq!(t.reported_loss(), 6);
    }
}
