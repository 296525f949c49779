//! What the interpreter needs from a tracing session. The real one is
//! [`Session`]; tests drive the same interpreter over a fake kernel, so the
//! REPL's logic is checked without root.

use ferret_core::plan::RulePlan;
use ferret_core::summary::RuleSummary;
use ferret_session::session::{Session, SessionError};

/// A rule as `list` and `save` show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleView {
    pub id: usize,
    pub text: String,
    pub paused: bool,
}

pub trait Tracer {
    type Error: std::error::Error + 'static;
    /// Adds a rule (attaching the hooks it needs); returns its number.
    fn add(&mut self, rule: RulePlan) -> Result<usize, Self::Error>;
    /// Deletes a rule (detaching hooks no rule needs any more).
    fn remove(&mut self, id: usize) -> Result<(), Self::Error>;
    fn set_paused(&mut self, id: usize, paused: bool) -> Result<(), Self::Error>;
    fn rules(&self) -> Vec<RuleView>;
    /// The kernel's counters of every rule now in the table.
    fn stats(&self) -> Result<Vec<RuleSummary>, Self::Error>;
    /// What is attached, e.g. "drop (tp_btf)".
    fn attached(&self) -> String;
    /// The `count`/`hist` tables so far, as text: of every rule, or of one.
    fn tables(&self, only: Option<usize>) -> Result<String, Self::Error>;
}

impl Tracer for Session {
    type Error = SessionError;

    fn add(&mut self, rule: RulePlan) -> Result<usize, SessionError> {
        self.add_rule(rule)
    }

    fn remove(&mut self, id: usize) -> Result<(), SessionError> {
        self.remove_rule(id)
    }

    fn set_paused(&mut self, id: usize, paused: bool) -> Result<(), SessionError> {
        Session::set_paused(self, id, paused)
    }

    fn rules(&self) -> Vec<RuleView> {
        Session::rules(self)
            .map(|r| RuleView {
                id: r.id,
                text: r.plan.text.clone(),
                paused: r.paused,
            })
            .collect()
    }

    fn stats(&self) -> Result<Vec<RuleSummary>, SessionError> {
        Ok(self.summary("")?.rules)
    }

    fn attached(&self) -> String {
        self.attached_text()
    }

    fn tables(&self, only: Option<usize>) -> Result<String, SessionError> {
        if !Session::rules(self).any(|r| {
            only.is_none_or(|id| id == r.id)
                && (r.plan.actions.count_by.is_some() || r.plan.actions.hist.is_some())
        }) {
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
}
