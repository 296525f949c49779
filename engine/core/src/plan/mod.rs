//! The kernel plan: per rule, the hooks it needs, its action flags and its
//! branch program — pure data, what the kernel stage writes into maps.

pub mod eval;
mod frame_eval;
pub mod guard;
pub mod guard_pcap;
mod lower;
mod render;
mod render_pcap;

pub use lower::{join, lower_filter, split, LowerError};

use crate::abi::{self, Insn};
use crate::ir::{ActionsIr, CheckedRule, TriggerIr};
use crate::{catalog, ir};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub rules: Vec<RulePlan>,
    /// Union of fields the filters read: bit (1 << field id).
    pub needs: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RulePlan {
    pub number: usize,
    pub text: String,
    pub triggers: Vec<TriggerIr>,
    /// Hook bits of the built-in tracepoints and function triggers; `tp`
    /// triggers get their slot bit when the kernel stage attaches them.
    pub hooks: u32,
    pub actions: ActionsIr,
    pub action_flags: u32,
    #[serde(serialize_with = "render::serialize_insns")]
    pub insns: Vec<Insn>,
    /// Fields this rule reads in the kernel: its filter, `count by` keys
    /// and `hist` field (the kernel parses only what some rule reads).
    pub needs: u32,
    #[serde(skip)]
    pub filter: ir::Filter,
    /// pcap-filter parts: their programs go to `pcap_progs` beside the
    /// rule's slot.
    pub pcap: Vec<ir::PcapUnit>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rule {rule}: {source}")]
pub struct PlanError {
    pub rule: usize,
    pub span: ferret_grammar::ast::Span,
    pub source: LowerError,
}

impl PlanError {
    pub fn diagnostic(&self) -> ferret_grammar::Diagnostic {
        ferret_grammar::Diagnostic::error(self.source.to_string(), self.span)
            .with_label("this filter is too long for one rule")
            .with_note("split it into several rules: `on drop where A` and `on drop where B` act like `A or B`")
    }
}

pub fn plan(rules: &[CheckedRule]) -> Result<Plan, PlanError> {
    let rules = rules.iter().map(plan_rule).collect::<Result<Vec<_>, _>>()?;
    let needs = rules.iter().fold(0, |m, r| m | r.needs);
    Ok(Plan { rules, needs })
}

pub fn plan_rule(rule: &CheckedRule) -> Result<RulePlan, PlanError> {
    let insns = lower_filter(&rule.filter).map_err(|source| PlanError {
        rule: rule.number,
        span: rule.span,
        source,
    })?;
    let hooks = rule.triggers.iter().fold(0u32, |m, t| match t {
        TriggerIr::Hook { hook, .. } => m | 1 << hook,
        TriggerIr::Func { .. } => m | 1 << abi::hook::FUNC,
        TriggerIr::Prog { prog, .. } => m | 1 << prog.hook(),
        TriggerIr::Tracepoint { .. } => m,
    });
    Ok(RulePlan {
        number: rule.number,
        text: rule.text.clone(),
        triggers: rule.triggers.clone(),
        hooks,
        action_flags: rule.actions.flags(),
        actions: rule.actions.clone(),
        insns,
        needs: rule.filter.fields() | aggregated_fields(&rule.actions),
        filter: rule.filter.clone(),
        pcap: rule.pcap.clone(),
    })
}

/// Bit (1 << field) of each field a `count by` key names (`rule` is the
/// slot, always in the key) and of the `hist` field.
pub fn aggregated_fields(actions: &ActionsIr) -> u32 {
    let hist = actions.hist.as_deref().and_then(catalog::lookup);
    hist.map_or(0, |f| 1 << f.id) | key_fields(actions.count_by.as_deref().unwrap_or_default())
}

fn key_fields(keys: &[ir::KeyField]) -> u32 {
    keys.iter()
        .filter_map(|k| match k {
            ir::KeyField::Field(name) => catalog::lookup(name),
            ir::KeyField::Rule => None,
        })
        .fold(0, |m, f| m | 1 << f.id)
}

impl RulePlan {
    /// The rule-table entry; `extra_hooks` adds the bits of `tp` slots.
    pub fn to_abi(&self, extra_hooks: u32) -> abi::Rule {
        let mut r = abi::Rule {
            state: abi::RULE_ACTIVE,
            hooks: self.hooks | extra_hooks,
            actions: self.action_flags,
            ninsns: self.insns.len() as u32,
            limit_per_sec: self.actions.limit_per_sec.unwrap_or(0),
            count_fields: self.count_fields().into(),
            hist_field: self
                .actions
                .hist
                .as_deref()
                .and_then(catalog::lookup)
                .map_or(0, |f| f.id.into()),
            snaplen: self.actions.capture.unwrap_or(0),
            pcap_units: self.pcap.len() as u32,
            ..abi::Rule::default()
        };
        r.insns[..self.insns.len()].copy_from_slice(&self.insns);
        r
    }

    /// Bit (1 << field) of each field in the `count by` key.
    pub fn count_fields(&self) -> u32 {
        key_fields(self.actions.count_by.as_deref().unwrap_or_default())
    }

    /// Sends each match to userspace as an event (`print`, `stack`,
    /// `capture`, `call`); a rule that does not only counts in the kernel.
    pub fn delivers(&self) -> bool {
        self.action_flags & abi::act::DELIVER != 0
    }

    /// Prints its matches (`print`, also implied by `stack` and `track`).
    pub fn prints(&self) -> bool {
        self.action_flags & abi::act::PRINT != 0
    }

    /// Keeps a `count by` table in the kernel.
    pub fn counts(&self) -> bool {
        self.action_flags & abi::act::COUNT != 0
    }

    /// Keeps a `hist` table in the kernel.
    pub fn hists(&self) -> bool {
        self.action_flags & abi::act::HIST != 0
    }

    /// Keeps a `count` or `hist` table: the rules whose tables are shown.
    pub fn aggregates(&self) -> bool {
        self.counts() || self.hists()
    }

    /// Copies packet bytes for `--pcap`.
    pub fn captures(&self) -> bool {
        self.action_flags & abi::act::CAPTURE != 0
    }

    /// Follows its packets (`track`) through the track map.
    pub fn tracks(&self) -> bool {
        self.action_flags & abi::act::TRACK != 0
    }

    /// Names the verdict behind each matching drop (`explain`).
    pub fn explains(&self) -> bool {
        self.actions.explain
    }

    /// What the reference evaluator says about a packet: the oracle.
    pub fn matches(&self, meta: &abi::Meta) -> bool {
        eval::eval_insns(&self.insns, meta)
    }
}

impl Plan {
    pub fn render_text(&self) -> String {
        render::plan_text(self)
    }
}

#[cfg(test)]
mod tests {
    fn rule(text: &str) -> super::RulePlan {
        crate::testing::compile_ok(text).rules.remove(0)
    }

    #[test]
    fn what_a_rule_does_is_read_from_its_actions() {
        let quiet = rule("on drop count by dport");
        assert!(quiet.counts() && quiet.aggregates());
        assert!(!quiet.delivers() && !quiet.prints() && !quiet.hists());
        let hist = rule("on drop hist len");
        assert!(hist.hists() && hist.aggregates() && !hist.counts());
        let explained = rule("on drop where dport == 443 count explain");
        assert!(explained.explains() && explained.delivers() && explained.prints());
        assert!(!rule("on drop print").explains());
        let text = crate::testing::compile_ok("on drop explain").render_text();
        assert!(text.contains("actions: print, explain"), "{text}");
        assert!(text.contains("changes: firewall state"), "{text}");
        let tracked = rule("on recv where dport == 443 track");
        assert!(tracked.tracks() && tracked.prints() && tracked.delivers());
        let captured = rule("on drop capture");
        assert!(captured.captures() && captured.delivers() && !captured.aggregates());
        let plain = rule("on drop");
        assert!(plain.prints() && !plain.tracks() && !plain.captures());
    }
}
