//! The numbers ferret must reach (issue 8), judged against one run.

use crate::cost::Row;
use crate::delivery::Ladder;
use crate::startup::Startup;
use crate::tool::Tool;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Verdict {
    pub target: &'static str,
    pub want: String,
    pub got: String,
    /// None: not measurable in this run (say why in `got`).
    pub met: Option<bool>,
}

/// What the targets read from a run.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub cost: &'a [Row],
    pub delivery: &'a [Ladder],
    pub startup: &'a [Startup],
    pub decode_json_per_s: Option<f64>,
}

impl Inputs<'_> {
    fn ns(&self, key: &str, tool: Tool) -> Option<f64> {
        self.row(key, tool)?.ns_per_call
    }
    fn row(&self, key: &str, tool: Tool) -> Option<&Row> {
        self.cost.iter().find(|r| r.key == key && r.tool == tool)
    }
    fn why_not(&self, key: &str, tool: Tool) -> String {
        match self.row(key, tool).and_then(|r| r.note.clone()) {
            Some(n) => format!("not measurable: {n}"),
            None => "not measured".into(),
        }
    }
}

fn verdict(
    target: &'static str,
    want: String,
    got: Option<(String, bool)>,
    why: String,
) -> Verdict {
    match got {
        Some((got, met)) => Verdict {
            target,
            want,
            got,
            met: Some(met),
        },
        None => Verdict {
            target,
            want,
            got: why,
            met: None,
        },
    }
}

/// `a / b` against `limit`, shown as a ratio.
fn ratio_at_most(a: Option<f64>, b: Option<f64>, limit: f64) -> Option<(String, bool)> {
    ratio_vs(a, b, |r| r <= limit)
}

fn ratio_below(a: Option<f64>, b: Option<f64>, limit: f64) -> Option<(String, bool)> {
    ratio_vs(a, b, |r| r < limit)
}

fn ratio_vs(a: Option<f64>, b: Option<f64>, ok: impl Fn(f64) -> bool) -> Option<(String, bool)> {
    let (a, b) = (a?, b?);
    let r = a / b;
    Some((format!("{a:.0} / {b:.0} ns = {r:.2}x"), ok(r)))
}

pub fn judge(i: Inputs<'_>) -> Vec<Verdict> {
    use Tool::{Bpftrace as B, Ferret as F};
    let mut v = Vec::new();
    let miss = i.ns("miss", F);
    v.push(verdict(
        "no-match rule vs empty program",
        "<= 1.5x".into(),
        ratio_at_most(miss, i.ns("empty", F), 1.5),
        i.why_not("miss", F),
    ));
    v.push(verdict(
        "no-match rule vs bpftrace's filter",
        "<= 0.5x".into(),
        ratio_at_most(miss, i.ns("miss", B), 0.5),
        i.why_not("miss", B),
    ));
    let path = i.row("miss", F).and_then(|r| r.udp_ratio);
    v.push(verdict(
        "packet rate with a no-match rule",
        ">= 0.95 of baseline".into(),
        path.map(|r| (format!("{r:.3}"), r >= 0.95)),
        i.why_not("miss", F),
    ));
    let print = i.ns("print", F);
    v.push(verdict(
        "matching print, per call",
        "<= 600 ns".into(),
        print.map(|p| (format!("{p:.0} ns"), p <= 600.0)),
        i.why_not("print", F),
    ));
    v.push(verdict(
        "matching print vs bpftrace printf",
        "<= 0.1x".into(),
        ratio_at_most(print, i.ns("print", B), 0.1),
        i.why_not("print", B),
    ));
    let count = i.ns("count", F);
    v.push(verdict(
        "count by vs a streamed event",
        "< 0.5x".into(),
        ratio_below(count, print, 0.5),
        i.why_not("count", F),
    ));
    v.push(verdict(
        "count by vs bpftrace count()",
        "< 1x".into(),
        ratio_below(count, i.ns("count", B), 1.0),
        i.why_not("count", F),
    ));
    let ladder = i.delivery.iter().find(|l| l.tool == F);
    v.push(verdict(
        "unreported loss, any rate",
        "0".into(),
        ladder
            .filter(|l| !l.steps.is_empty())
            .map(|l| (l.worst_unreported.to_string(), l.worst_unreported == 0)),
        ladder
            .and_then(|l| l.note.clone())
            .unwrap_or_else(|| "not measured".into()),
    ));
    v.push(verdict(
        "decode + JSON format, per core",
        ">= 1,000,000 events/s".into(),
        i.decode_json_per_s
            .map(|r| (format!("{r:.0} events/s"), r >= 1e6)),
        "not measured".into(),
    ));
    let start = i.startup.iter().find(|s| s.tool == F);
    v.push(verdict(
        "ready, tracepoint rule",
        "<= 150 ms".into(),
        start
            .and_then(|s| s.median_ms)
            .map(|m| (format!("{m:.0} ms"), m <= 150.0)),
        start
            .and_then(|s| s.note.clone())
            .unwrap_or_else(|| "not measured".into()),
    ));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: &str, tool: Tool, ns: Option<f64>) -> Row {
        Row {
            key: key.into(),
            label: key.into(),
            tool,
            trials: Vec::new(),
            note: ns
                .is_none()
                .then(|| "`count` is not available yet".to_string()),
            ns_per_call: ns,
            udp_ratio: Some(0.97),
            tcp_ratio: Some(1.0),
        }
    }

    #[test]
    fn targets_are_judged_from_the_rows_and_unmeasurable_ones_say_why() {
        let cost = vec![
            row("empty", Tool::Ferret, Some(60.0)),
            row("miss", Tool::Ferret, Some(80.0)),
            row("miss", Tool::Bpftrace, Some(320.0)),
            row("print", Tool::Ferret, Some(700.0)),
            row("print", Tool::Bpftrace, Some(10_000.0)),
            row("count", Tool::Ferret, None),
        ];
        let v = judge(Inputs {
            cost: &cost,
            delivery: &[],
            startup: &[],
            decode_json_per_s: Some(2e6),
        });
        let met = |name: &str| v.iter().find(|x| x.target == name).unwrap().met;
        assert_eq!(met("no-match rule vs empty program"), Some(true));
        assert_eq!(met("no-match rule vs bpftrace's filter"), Some(true));
        assert_eq!(met("packet rate with a no-match rule"), Some(true));
        assert_eq!(met("matching print, per call"), Some(false));
        assert_eq!(met("matching print vs bpftrace printf"), Some(true));
        assert_eq!(met("count by vs a streamed event"), None);
        assert_eq!(met("decode + JSON format, per core"), Some(true));
        assert_eq!(met("ready, tracepoint rule"), None);
        let count = v
            .iter()
            .find(|x| x.target == "count by vs a streamed event")
            .unwrap();
        assert!(count.got.contains("not available yet"), "{}", count.got);
    }
}
