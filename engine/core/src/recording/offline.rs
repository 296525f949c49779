//! Rules applied to a recording with the kernel's semantics: a rule sees
//! the events of its triggers (a function event only when one of its globs
//! names the function), follows `track`ed skbs, filters with the reference
//! evaluator the kernel interpreter is tested against, counts and
//! histograms every match before `limit N/s` (a one-second window opened
//! by the first event past the last window, as in ebpf/rules.bpf.h), and
//! ends after `stop after N` delivered events.

pub use super::offline_check::{check, OfflineError};
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

#[derive(Debug, Default)]
struct RuleState {
    counts: RuleSummary,
    window_start: Option<u64>,
    window_count: u64,
    rows: HashMap<AggKey, u64>,
    hist: Hist,
    /// Events its pcap-filter text could not read: recorded without bytes.
    pcap_unread: u64,
}

/// A rule of the offline session and what it has counted.
#[derive(Debug)]
struct OfflineRule {
    plan: RulePlan,
    state: RuleState,
    paused: bool,
}

/// The offline session: feed it events in order. Rules may be added,
/// removed and paused between events, as a playbook does live.
#[derive(Debug)]
pub struct Offline {
    rules: Vec<OfflineRule>,
    names: Names,
    tracked: HashMap<u64, u64>,
    stopped: bool,
    first_ts: Option<u64>,
    last_ts: u64,
}

impl Offline {
    pub fn new(plan: &Plan, names: &Names) -> Offline {
        let mut off = Offline {
            rules: Vec::new(),
            names: names.clone(),
            tracked: HashMap::new(),
            stopped: false,
            first_ts: None,
            last_ts: 0,
        };
        for r in &plan.rules {
            off.add(r.clone());
        }
        off
    }

    /// Adds a rule; events name it by its `number`.
    pub fn add(&mut self, plan: RulePlan) {
        let counts = RuleSummary {
            rule: plan.number,
            text: plan.text.clone(),
            ..RuleSummary::default()
        };
        let state = RuleState {
            counts,
            ..RuleState::default()
        };
        self.rules.push(OfflineRule {
            plan,
            state,
            paused: false,
        });
    }

    /// Removes rule `number`; false when there is none.
    pub fn remove(&mut self, number: usize) -> bool {
        let before = self.rules.len();
        self.rules.retain(|r| r.plan.number != number);
        self.rules.len() != before
    }

    /// Pauses or resumes rule `number`; false when there is none.
    pub fn set_paused(&mut self, number: usize, paused: bool) -> bool {
        let rule = self.rules.iter_mut().find(|r| r.plan.number == number);
        rule.map(|r| r.paused = paused).is_some()
    }

    /// The rules, with whether each is paused.
    /// Per rule with pcap-filter text: the events it saw that were
    /// recorded without packet bytes, which that text could not accept.
    pub fn pcap_unread(&self) -> Vec<(usize, u64)> {
        self.rules
            .iter()
            .filter(|r| r.state.pcap_unread > 0)
            .map(|r| (r.plan.number, r.state.pcap_unread))
            .collect()
    }

    pub fn rules(&self) -> impl Iterator<Item = (&RulePlan, bool)> {
        self.rules.iter().map(|r| (&r.plan, r.paused))
    }

    /// Names grow as a recording is read: the latest ones.
    pub fn set_names(&mut self, names: &Names) {
        self.names = names.clone();
    }

    /// The names events are read with (functions, reasons, symbols).
    pub fn names(&self) -> &Names {
        &self.names
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
        for r in self.rules.iter_mut().filter(|r| !r.paused) {
            let (rule, st) = (&r.plan, &mut r.state);
            let bit = 1u64 << ((rule.number - 1) % abi::MAX_RULES);
            if !listens(rule, ev, &self.names) {
                continue;
            }
            st.counts.seen += 1;
            // pcap-filter parts read the recorded packet bytes, from where
            // the capture started; an event recorded without bytes gives
            // them nothing to accept.
            let meta = match rule.pcap.is_empty() {
                true => ev.meta,
                false => {
                    st.pcap_unread += u64::from(ev.capture.is_empty());
                    rule.with_pcap(&ev.meta, &ev.capture, ev.wire_len, !ev.capture_l2)
                }
            };
            let hit = (rule.tracks() && tracked & bit != 0) || eval::eval_insns(&rule.insns, &meta);
            if !hit {
                continue;
            }
            st.counts.matched += 1;
            if rule.tracks() {
                new_track |= bit;
            }
            aggregate(st, rule, (rule.number - 1) as u32, ev);
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
        for OfflineRule {
            plan: rule,
            state: st,
            ..
        } in &self.rules
        {
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
            rules: self.rules.iter().map(|r| r.state.counts.clone()).collect(),
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
        TriggerIr::Prog { prog, globs } => {
            ev.hook == prog.hook()
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
