//! Rule control: what the REPL's interpreter and a playbook's host need
//! from a tracing session — add, delete and pause rules, list them, read
//! their counters and tables. The real one is [`Session`]; tests drive the
//! same callers over the rule table and a fake kernel
//! (`testing::FakeTracer`, with the `testing` feature).

use crate::error::SessionError;
use crate::rules::LiveRule;
use crate::session::Session;
use ferret_core::plan::RulePlan;
use ferret_core::summary::RuleSummary;

/// A rule as `list`, `save` and a playbook's `rules()` show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleView {
    pub id: usize,
    pub text: String,
    pub paused: bool,
}

impl RuleView {
    pub fn of(rule: &LiveRule) -> RuleView {
        RuleView {
            id: rule.id,
            text: rule.plan.text.clone(),
            paused: rule.paused,
        }
    }
}

pub trait RuleControl {
    type Error: std::error::Error + 'static;
    /// Adds a rule (attaching the hooks it needs); returns the id events
    /// carry in `rules`.
    fn add_rule(&mut self, rule: RulePlan) -> Result<usize, Self::Error>;
    /// Deletes a rule (detaching hooks no rule needs any more).
    fn remove_rule(&mut self, id: usize) -> Result<(), Self::Error>;
    fn set_paused(&mut self, id: usize, paused: bool) -> Result<(), Self::Error>;
    /// Every rule in the table.
    fn rule_list(&self) -> Vec<RuleView>;
    /// What the kernel counted for each rule so far (seen, matched, limited..).
    fn stats(&self) -> Result<Vec<RuleSummary>, Self::Error>;
    /// What is attached, e.g. "drop (tp_btf)", or "no hooks".
    fn attached_text(&self) -> String;
    /// The `count`/`hist` tables so far, as text: of every rule, or of one.
    fn tables_text(&self, only: Option<usize>) -> Result<String, Self::Error>;
    /// The `count`/`hist` tables so far as `--json` writes them (one
    /// object per table): what a playbook's `tables()` returns.
    fn tables_json(&self) -> Result<Vec<serde_json::Value>, Self::Error>;
}

impl RuleControl for Session {
    type Error = SessionError;

    fn add_rule(&mut self, rule: RulePlan) -> Result<usize, SessionError> {
        Session::add_rule(self, rule)
    }

    fn remove_rule(&mut self, id: usize) -> Result<(), SessionError> {
        Session::remove_rule(self, id)
    }

    fn set_paused(&mut self, id: usize, paused: bool) -> Result<(), SessionError> {
        Session::set_paused(self, id, paused)
    }

    fn rule_list(&self) -> Vec<RuleView> {
        self.rules().map(RuleView::of).collect()
    }

    fn stats(&self) -> Result<Vec<RuleSummary>, SessionError> {
        Ok(self.summary("")?.rules)
    }

    fn attached_text(&self) -> String {
        Session::attached_text(self)
    }

    fn tables_text(&self, only: Option<usize>) -> Result<String, SessionError> {
        if !self
            .rules()
            .any(|r| only.is_none_or(|id| id == r.id) && r.plan.aggregates())
        {
            return Ok(String::new());
        }
        // `last`: totals without the "after N s" line the periodic tables carry.
        let mut aggs = self.aggregates(true)?;
        if let Some(id) = only {
            aggs.counts.retain(|t| t.rule == id);
            aggs.hists.retain(|h| h.rule == id);
        }
        Ok(aggs.render_text(self.names()))
    }

    fn tables_json(&self) -> Result<Vec<serde_json::Value>, SessionError> {
        if !self.aggregating() {
            return Ok(Vec::new());
        }
        Ok(self.aggregates(true)?.to_json(self.names()))
    }
}
