//! One scrape: the session's `count` and `hist` tables and its account
//! turned into metric families. `count`/`count by` rules become
//! `ferret_matches_total{rule, <by fields>}`, `hist` rules
//! `ferret_hist{rule, field}` histograms; every rule has its own figures
//! (seen, matched, emitted, lost, rate-limited, delivered), and the agent
//! its own (events written, reloads, probes, map fill, the series cap).

use super::cap::{SeriesCap, OTHER};
use super::family::{Family, Labels, Value};
use crate::reconcile::RunningRule;
use ferret_core::abi::{COUNT_CAPACITY, HIST_BUCKETS};
use ferret_core::ir::KeyField;
use ferret_core::output::agg::{bucket_range, key_text, Aggregates, CountTable, HistTable};
use ferret_core::output::Names;
use ferret_core::summary::Summary;
use std::collections::{BTreeMap, HashMap, HashSet};

/// What the agent knows of itself at a scrape.
#[derive(Debug, Clone, Default)]
pub struct AgentFigures {
    pub node: String,
    pub probes_attached: bool,
    pub reloads_ok: u64,
    pub reloads_failed: u64,
    pub events_written: u64,
    pub event_files: u64,
    /// What rules since removed by a reload had lost, so that the totals
    /// never go down.
    pub removed_lost: Lost,
}

/// Losses, by why.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Lost {
    pub ring_full: u64,
    pub count_map_full: u64,
}

impl Lost {
    /// What the rules of `summary` lost.
    pub fn of<'a>(rules: impl IntoIterator<Item = &'a ferret_core::summary::RuleSummary>) -> Lost {
        rules.into_iter().fold(Lost::default(), |l, r| Lost {
            ring_full: l.ring_full + r.lost_ring_full,
            count_map_full: l.count_map_full + r.agg_failed,
        })
    }

    pub fn plus(self, other: Lost) -> Lost {
        Lost {
            ring_full: self.ring_full + other.ring_full,
            count_map_full: self.count_map_full + other.count_map_full,
        }
    }
}

/// Everything a scrape reads.
#[derive(Debug)]
pub struct ScrapeInput<'a> {
    pub aggs: &'a Aggregates,
    pub summary: &'a Summary,
    pub names: &'a Names,
    pub rules: &'a [RunningRule],
    pub agent: &'a AgentFigures,
}

fn rule_label(name: &str) -> Labels {
    vec![("rule".into(), name.into())]
}

/// The families of one scrape; `cap` keeps its sticky choice of keys.
pub fn families(input: &ScrapeInput<'_>, cap: &mut SeriesCap) -> Vec<Family> {
    let name_of: HashMap<usize, &str> = input
        .rules
        .iter()
        .map(|r| (r.id, r.name.as_str()))
        .collect();
    let name = |id: usize| name_of.get(&id).copied().unwrap_or("?").to_string();
    cap.retain(&input.rules.iter().map(|r| r.id).collect::<HashSet<_>>());

    let mut matches = Family::new("ferret_matches", "Matches of a count rule, by its `count by` fields (in-kernel counts; keys past the cap are summed under `other`).");
    let mut keys = Family::new(
        "ferret_count_keys",
        "Keys a count rule's table holds in the kernel.",
    );
    let mut folded = Family::new(
        "ferret_count_keys_folded",
        "Keys of a count rule summed into its `other` series (the series cap).",
    );
    let mut map_keys = 0usize;
    for t in &input.aggs.counts {
        let rule = name(t.rule);
        let (labels, rows) = count_rows(t, input.names);
        map_keys += t.rows.len();
        let capped = cap.apply(t.rule, rows);
        for (values, n) in capped.shown {
            matches.add(with_rule(&rule, &labels, values), Value::Counter(n));
        }
        if let Some(n) = capped.other {
            let values = vec![OTHER.to_string(); labels.len()];
            matches.add(with_rule(&rule, &labels, values), Value::Counter(n));
        }
        keys.add(rule_label(&rule), Value::Gauge(capped.keys as i64));
        folded.add(rule_label(&rule), Value::Gauge(capped.folded as i64));
    }
    let mut hists = Family::new("ferret_hist", "Values of a hist rule's field, in the kernel's power-of-two buckets (le is the bucket's largest integer; _sum is estimated from bucket midpoints).");
    let mut missing = Family::new(
        "ferret_hist_missing",
        "Matches of a hist rule whose packet did not carry the field.",
    );
    for h in &input.aggs.hists {
        let labels = vec![
            ("rule".into(), name(h.rule)),
            ("field".into(), h.field.clone()),
        ];
        hists.add(labels.clone(), histogram(h));
        missing.add(labels, Value::Counter(h.hist.missing));
    }
    let mut families = vec![matches, keys, folded, hists, missing];
    families.extend(rule_figures(input.summary, &name));
    families.extend(agent_figures(input, map_keys, cap.cap));
    families
}

/// The by-label names of a table and its rows as label values (rows whose
/// values read the same are summed).
fn count_rows(t: &CountTable, names: &Names) -> (Vec<String>, BTreeMap<Vec<String>, u64>) {
    let fields: Vec<&KeyField> =
        t.by.iter()
            .filter(|k| matches!(k, KeyField::Field(_)))
            .collect();
    let labels = fields
        .iter()
        .map(|k| match k {
            KeyField::Field(f) => f.clone(),
            KeyField::Rule => unreachable!("filtered out above"),
        })
        .collect();
    let mut rows = BTreeMap::new();
    for (key, n) in &t.rows {
        let values: Vec<String> = fields
            .iter()
            .map(|k| key_text(key, k, t.rule, names).unwrap_or_else(|| "-".into()))
            .collect();
        *rows.entry(values).or_insert(0) += n;
    }
    (labels, rows)
}

fn with_rule(rule: &str, labels: &[String], values: Vec<String>) -> Labels {
    std::iter::once(("rule".to_string(), rule.to_string()))
        .chain(labels.iter().cloned().zip(values))
        .collect()
}

/// Buckets up to the highest one used (which never moves down, so the
/// bucket set of a series only grows), then `+Inf`.
fn histogram(h: &HistTable) -> Value {
    let b = &h.hist.buckets;
    let top = (0..HIST_BUCKETS).rev().find(|i| b[*i] > 0).unwrap_or(0);
    let mut buckets: Vec<(f64, u64)> = (0..=top)
        .map(|i| (bucket_range(i).1 as f64 - 1.0, b[i]))
        .collect();
    buckets.push((f64::MAX, 0));
    let sum = (0..HIST_BUCKETS)
        .map(|i| {
            let (lo, hi) = bucket_range(i);
            (lo + hi - 1) as f64 / 2.0 * b[i] as f64
        })
        .sum();
    Value::Histogram {
        sum,
        count: b.iter().sum(),
        buckets,
    }
}

fn rule_figures(summary: &Summary, name: &dyn Fn(usize) -> String) -> Vec<Family> {
    let mut seen = Family::new("ferret_rule_seen", "Hook calls that evaluated the rule.");
    let mut matched = Family::new("ferret_rule_matched", "Packets the rule matched.");
    let mut emitted = Family::new(
        "ferret_rule_emitted",
        "Events the kernel wrote to the ring for the rule.",
    );
    let mut delivered = Family::new(
        "ferret_rule_delivered",
        "Events of the rule the agent wrote out.",
    );
    let mut lost = Family::new("ferret_rule_lost", "What the rule lost: events when the ring was full (why=ring_full), matches the full count map could not count (why=count_map_full).");
    let mut limited = Family::new(
        "ferret_rule_rate_limited",
        "Events suppressed by the rule's `limit N/s`.",
    );
    for r in &summary.rules {
        let l = rule_label(&name(r.rule));
        seen.add(l.clone(), Value::Counter(r.seen));
        matched.add(l.clone(), Value::Counter(r.matched));
        emitted.add(l.clone(), Value::Counter(r.emitted));
        delivered.add(l.clone(), Value::Counter(r.delivered));
        limited.add(l.clone(), Value::Counter(r.rate_limited));
        for (why, n) in [
            ("ring_full", r.lost_ring_full),
            ("count_map_full", r.agg_failed),
        ] {
            let mut l = l.clone();
            l.push(("why".into(), why.into()));
            lost.add(l, Value::Counter(n));
        }
    }
    vec![seen, matched, emitted, delivered, lost, limited]
}

fn gauge(name: &'static str, help: &'static str, v: i64) -> Family {
    let mut f = Family::new(name, help);
    f.add(Labels::new(), Value::Gauge(v));
    f
}

fn counter(name: &'static str, help: &'static str, labels: Labels, n: u64) -> Family {
    let mut f = Family::new(name, help);
    f.add(labels, Value::Counter(n));
    f
}

fn agent_figures(input: &ScrapeInput<'_>, map_keys: usize, cap: usize) -> Vec<Family> {
    let a = input.agent;
    let mut info = Family::new("ferret_agent", "The agent: its node name and version.");
    info.add(
        vec![
            ("node".into(), a.node.clone()),
            ("version".into(), env!("CARGO_PKG_VERSION").into()),
        ],
        Value::Info,
    );
    let mut reloads = Family::new("ferret_reloads", "Reloads of the rules file, by result.");
    reloads.add(
        vec![("result".into(), "ok".into())],
        Value::Counter(a.reloads_ok),
    );
    reloads.add(
        vec![("result".into(), "error".into())],
        Value::Counter(a.reloads_failed),
    );
    let lost = Lost::of(&input.summary.rules).plus(a.removed_lost);
    let mut lost_total = Family::new("ferret_lost", "What every rule lost since the agent started, rules since removed included: events when the ring was full, matches the full count map could not count.");
    lost_total.add(
        vec![("why".into(), "ring_full".into())],
        Value::Counter(lost.ring_full),
    );
    lost_total.add(
        vec![("why".into(), "count_map_full".into())],
        Value::Counter(lost.count_map_full),
    );
    let mut out = vec![
        info,
        reloads,
        lost_total,
        gauge("ferret_rules", "Rules running.", input.rules.len() as i64),
        gauge("ferret_probes_attached", "1 when the rules' probes are attached.", i64::from(a.probes_attached)),
        counter("ferret_events_written", "Event lines the agent wrote.", Labels::new(), a.events_written),
        counter("ferret_decode_errors", "Ring records that could not be decoded.", Labels::new(), input.summary.decode_errors),
        gauge("ferret_count_map_keys", "Keys the count rules' tables hold.", map_keys as i64),
        gauge("ferret_count_map_capacity", "Keys the kernel's count map can hold, for all rules together.", i64::from(COUNT_CAPACITY)),
        gauge("ferret_series_cap", "Keys of one count rule shown as series of their own; the rest are summed under `other`.", cap as i64),
    ];
    if let Some(t) = &input.summary.track {
        out.push(gauge(
            "ferret_track_map_entries",
            "Packets the track map follows.",
            t.tracked as i64,
        ));
        out.push(gauge(
            "ferret_track_map_capacity",
            "Packets the track map can follow.",
            t.capacity as i64,
        ));
    }
    out
}

#[cfg(test)]
#[path = "scrape_tests.rs"]
mod tests;
