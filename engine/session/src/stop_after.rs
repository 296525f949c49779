//! `stop after N`: how many events of each rule were delivered, and which
//! rules are done. Counted by the driver for every front end; what a done
//! rule does (end the trace, or stop only that rule) is the front end's
//! [`StopAfter`] policy.

use crate::session::Session;
use std::collections::HashMap;

/// What reaching `stop after N` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopAfter {
    /// The trace ends (`ended_by: "stop-after"`): the CLI and playbooks.
    EndsTrace,
    /// Only that rule stops; the trace goes on (the REPL).
    StopsRule,
}

/// Events delivered per rule, counted toward their `stop after` limits.
#[derive(Debug, Default)]
pub(crate) struct Delivered {
    counts: HashMap<usize, u64>,
}

/// The `stop after` limit of each rule that has one.
pub(crate) fn limits(session: &Session) -> HashMap<usize, u64> {
    session
        .rules()
        .filter_map(|r| r.plan.actions.stop_after.map(|n| (r.id, n)))
        .collect()
}

impl Delivered {
    /// The event's rules that have not reached their limit yet; `None`
    /// when it has rules and every one of them is done (the event is not
    /// delivered: it was on its way when its rule stopped).
    pub fn live(&self, rules: &[usize], limits: &HashMap<usize, u64>) -> Option<Vec<usize>> {
        let live: Vec<usize> = rules
            .iter()
            .copied()
            .filter(|id| limits.get(id).is_none_or(|n| self.count(*id) < *n))
            .collect();
        (live.len() == rules.len() || !live.is_empty()).then_some(live)
    }

    /// Counts an event delivered for `rules`; whether one of them just
    /// reached its limit.
    pub fn add(&mut self, rules: &[usize], limits: &HashMap<usize, u64>) -> bool {
        let mut reached = false;
        for id in rules {
            let n = self.counts.entry(*id).or_default();
            *n += 1;
            reached |= limits.get(id).is_some_and(|limit| *n >= *limit);
        }
        reached
    }

    pub fn count(&self, id: usize) -> u64 {
        self.counts.get(&id).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_is_done_at_its_limit_and_its_late_events_are_dropped() {
        let limits: HashMap<usize, u64> = [(1, 2)].into();
        let mut d = Delivered::default();
        assert_eq!(d.live(&[1, 2], &limits), Some(vec![1, 2]));
        assert!(!d.add(&[1, 2], &limits));
        assert!(
            d.add(&[1], &limits),
            "the second event of rule 1 is its last"
        );
        assert_eq!(d.count(1), 2);
        // Rule 1 is done: an event of rules 1 and 2 counts for 2 only, one
        // of rule 1 alone is not delivered.
        assert_eq!(d.live(&[1, 2], &limits), Some(vec![2]));
        assert_eq!(d.live(&[1], &limits), None);
        // An event whose rules are gone is still delivered.
        assert_eq!(d.live(&[], &limits), Some(vec![]));
        assert!(!d.add(&[2], &limits), "rule 2 has no limit");
    }
}
