//! Rules applied to a recording with the kernel's semantics: a rule sees
//! the events of its triggers (a function event only when one of its globs
//! names the function), follows `track`ed skbs, filters with the reference
//! evaluator the kernel interpreter is tested against, counts and
//! histograms every match before `limit N/s` (a one-second window opened
//! by the first event past the last window, as in ebpf/rules.bpf.h), and
//! ends after `stop after N` delivered events.

use super::Context;
use crate::abi::{self, hook, AggKey, Hist};
use crate::agg_compact::big_key;
use crate::catalog;
use crate::event::Event;
use crate::hooks::glob_match;
use crate::ir::TriggerIr;
use crate::output::agg::{sort_rows, Aggregates, CountTable, HistTable};
use crate::output::Names;
use crate::plan::{eval, Plan, RulePlan};
use crate::summary::{RuleSummary, Summary};
use std::collections::HashMap;

/// A rule asks for something the recording does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OfflineError {
    #[error(
        "rule {rule}: the recording holds no `{trigger}` events; it was made with: {recorded}"
    )]
    Trigger {
        rule: usize,
        trigger: String,
        recorded: String,
    },
    #[error("rule {rule}: the recording does not hold the field `{field}`")]
    Field { rule: usize, field: &'static str },
    #[error("rule {rule}: `stack` asks for stacks, but the recording kept none (no recorded rule had `stack`)")]
    Stack { rule: usize },
    #[error("rule {rule}: `capture` asks for packet bytes, but the recording holds none (no recorded rule had `capture`)")]
    Capture { rule: usize },
}

/// Every reason `plan` cannot be answered from a recording made in `ctx`.
pub fn check(plan: &Plan, ctx: &Context) -> Vec<OfflineError> {
    let recorded = || ctx.rules_text().replace('\n', "; ");
    let mut errors = Vec::new();
    for r in &plan.rules {
        for t in &r.triggers {
            let (bit, name) = match t {
                TriggerIr::Hook { hook, name, .. } => (1 << hook, name.to_string()),
                TriggerIr::Func { globs } => {
                    (1 << hook::FUNC, format!("func {}", globs.join(", ")))
                }
                TriggerIr::Tracepoint { .. } => continue,
            };
            if ctx.hooks() & bit == 0 {
                errors.push(OfflineError::Trigger {
                    rule: r.number,
                    trigger: name,
                    recorded: recorded(),
                });
            }
        }
        let missing = r.needs & !ctx.fields;
        if let Some(f) = catalog::FIELDS.iter().find(|f| missing & (1 << f.id) != 0) {
            errors.push(OfflineError::Field {
                rule: r.number,
                field: f.name,
            });
        }
        if r.actions.stack && !ctx.rules.iter().any(|x| x.stack) {
            errors.push(OfflineError::Stack { rule: r.number });
        }
        if r.captures() && !ctx.rules.iter().any(|x| x.capture) {
            errors.push(OfflineError::Capture { rule: r.number });
        }
    }
    errors
}

#[derive(Debug, Default)]
struct RuleState {
    counts: RuleSummary,
    window_start: Option<u64>,
    window_count: u64,
    rows: HashMap<AggKey, u64>,
    hist: Hist,
}

/// The offline session: feed it events in order.
#[derive(Debug)]
pub struct Offline<'a> {
    plan: &'a Plan,
    names: &'a Names,
    rules: Vec<RuleState>,
    tracked: HashMap<u64, u64>,
    stopped: bool,
    first_ts: Option<u64>,
    last_ts: u64,
}

impl<'a> Offline<'a> {
    pub fn new(plan: &'a Plan, names: &'a Names) -> Offline<'a> {
        let rules = plan
            .rules
            .iter()
            .map(|r| RuleState {
                counts: RuleSummary {
                    rule: r.number,
                    text: r.text.clone(),
                    ..RuleSummary::default()
                },
                ..RuleState::default()
            })
            .collect();
        Offline {
            plan,
            names,
            rules,
            tracked: HashMap::new(),
            stopped: false,
            first_ts: None,
            last_ts: 0,
        }
    }

    /// The numbers of the rules that deliver this event (print, stack,
    /// capture, call); empty when none does.
    pub fn event(&mut self, ev: &Event) -> Vec<usize> {
        if self.stopped {
            return Vec::new();
        }
        let ts = ev.meta.ts_ns;
        self.first_ts.get_or_insert(ts);
        self.last_ts = self.last_ts.max(ts);
        let mut deliver = Vec::new();
        let mut new_track = 0u64;
        let tracked = self.tracked.get(&ev.meta.skb).copied().unwrap_or(0);
        for (i, rule) in self.plan.rules.iter().enumerate() {
            let bit = 1u64 << (i % abi::MAX_RULES);
            if !listens(rule, ev, self.names) {
                continue;
            }
            let st = &mut self.rules[i];
            st.counts.seen += 1;
            let hit =
                (rule.tracks() && tracked & bit != 0) || eval::eval_insns(&rule.insns, &ev.meta);
            if !hit {
                continue;
            }
            st.counts.matched += 1;
            if rule.tracks() {
                new_track |= bit;
            }
            aggregate(st, rule, i as u32, ev);
            if !rule.delivers() {
                continue;
            }
            if let Some(limit) = rule.actions.limit_per_sec {
                if !within_limit(st, limit, ts) {
                    st.counts.rate_limited += 1;
                    continue;
                }
            }
            st.counts.emitted += 1;
            st.counts.delivered += 1;
            deliver.push(rule.number);
            if rule
                .actions
                .stop_after
                .is_some_and(|n| st.counts.delivered >= n)
            {
                self.stopped = true;
            }
        }
        if new_track != 0 {
            *self.tracked.entry(ev.meta.skb).or_default() |= new_track;
        }
        deliver
    }

    /// A `stop after N` was reached: the offline session is over.
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// The `count`/`hist` tables of the rules that keep them.
    pub fn aggregates(&self) -> Aggregates {
        let mut out = Aggregates {
            elapsed_ms: self.elapsed_ms(),
            last: true,
            ..Aggregates::default()
        };
        for (rule, st) in self.plan.rules.iter().zip(&self.rules) {
            if let Some(by) = &rule.actions.count_by {
                let mut rows: Vec<(AggKey, u64)> = st.rows.iter().map(|(k, n)| (*k, *n)).collect();
                sort_rows(&mut rows);
                out.counts.push(CountTable {
                    rule: rule.number,
                    text: rule.text.clone(),
                    by: by.clone(),
                    rows,
                    failed: 0,
                });
            }
            if let Some(field) = &rule.actions.hist {
                out.hists.push(HistTable {
                    rule: rule.number,
                    text: rule.text.clone(),
                    field: field.clone(),
                    hist: st.hist,
                });
            }
        }
        out
    }

    /// The account, as a live session gives it (`seen` counts the
    /// recorded events of the rule's triggers).
    pub fn summary(&self) -> Summary {
        Summary {
            rules: self.rules.iter().map(|r| r.counts.clone()).collect(),
            duration_ms: self.elapsed_ms(),
            ended_by: if self.stopped {
                "stop-after"
            } else {
                "end-of-recording"
            }
            .into(),
            ..Summary::default()
        }
    }

    fn elapsed_ms(&self) -> u64 {
        self.first_ts.map_or(0, |f| (self.last_ts - f) / 1_000_000)
    }
}

/// Whether the rule's triggers take this event.
fn listens(rule: &RulePlan, ev: &Event, names: &Names) -> bool {
    rule.triggers.iter().any(|t| match t {
        TriggerIr::Hook { hook, .. } => ev.hook == *hook,
        TriggerIr::Func { globs } => {
            ev.hook == hook::FUNC
                && names
                    .funcs
                    .name(ev.meta.func_id)
                    .is_some_and(|n| globs.iter().any(|g| glob_match(g, n)))
        }
        TriggerIr::Tracepoint { name, .. } => {
            (hook::TP0..hook::FUNC).contains(&ev.hook)
                && names.funcs.name(ev.meta.func_id) == Some(name)
        }
    })
}

fn aggregate(st: &mut RuleState, rule: &RulePlan, slot: u32, ev: &Event) {
    if rule.counts() {
        *st.rows
            .entry(big_key(slot, rule.count_fields().into(), &ev.meta))
            .or_default() += 1;
    }
    if let Some(f) = rule.actions.hist.as_deref().and_then(catalog::lookup) {
        match eval::load_field(&ev.meta, f.id) {
            Some((_, lo)) => st.hist.buckets[Hist::bucket_of(lo as u32)] += 1,
            None => st.hist.missing += 1,
        }
    }
}

/// The kernel's fixed window: the first event a second or more after the
/// window opened opens the next one and is its first.
fn within_limit(st: &mut RuleState, limit: u64, now: u64) -> bool {
    match st.window_start {
        Some(start) if (now as i64).wrapping_sub(start as i64) < 1_000_000_000 => {
            st.window_count += 1;
            st.window_count <= limit
        }
        _ => {
            st.window_start = Some(now);
            st.window_count = 1;
            true
        }
    }
}
