//! Applies a new rules file to a running session as rule-table changes:
//! a rule whose text is unchanged keeps its kernel slot and so its counts
//! and tables; new rules are added, rules gone from the file removed. New
//! rules go in first, so a rule the kernel refuses leaves the running set
//! exactly as it was.

use crate::rules_file::NamedRule;
use ferret_session::control::RuleControl;

/// A rule the agent runs: its id in the session, and what it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningRule {
    pub id: usize,
    pub name: String,
    pub text: String,
    /// A `count` or `hist` rule (its tables are metrics).
    pub aggregates: bool,
}

/// What one reload changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadReport {
    pub kept: usize,
    pub added: usize,
    pub removed: usize,
}

impl std::fmt::Display for ReloadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} kept, {} added, {} removed",
            self.kept, self.added, self.removed
        )
    }
}

/// A reload the session refused; the rules that ran before still run.
#[derive(Debug, thiserror::Error)]
#[error("cannot add `{text}`: {source}; the running rules stay")]
pub struct ReloadError<E: std::error::Error + 'static> {
    pub text: String,
    pub source: E,
}

/// Makes `running` (the session's rules) what `wanted` says.
pub fn apply<C: RuleControl>(
    control: &mut C,
    running: &mut Vec<RunningRule>,
    wanted: Vec<NamedRule>,
) -> Result<ReloadReport, ReloadError<C::Error>> {
    // Match by text, each running rule at most once (a file may hold the
    // same rule twice).
    let mut unmatched: Vec<Option<&RunningRule>> = running.iter().map(Some).collect();
    let mut next = Vec::with_capacity(wanted.len());
    let mut to_add = Vec::new();
    for rule in wanted {
        let found = unmatched
            .iter_mut()
            .find(|r| r.is_some_and(|r| r.text == rule.plan.text))
            .and_then(Option::take);
        match found {
            Some(r) => next.push(RunningRule {
                name: rule.name,
                ..r.clone()
            }),
            None => to_add.push(rule),
        }
    }
    let to_remove: Vec<usize> = unmatched.iter().flatten().map(|r| r.id).collect();
    let report = ReloadReport {
        kept: next.len(),
        added: to_add.len(),
        removed: to_remove.len(),
    };
    let mut added = Vec::new();
    for rule in to_add {
        let text = rule.plan.text.clone();
        let aggregates = rule.plan.aggregates();
        match control.add_rule(rule.plan) {
            Ok(id) => added.push(RunningRule {
                id,
                name: rule.name,
                text,
                aggregates,
            }),
            Err(source) => {
                for r in &added {
                    let _ = control.remove_rule(r.id);
                }
                return Err(ReloadError { text, source });
            }
        }
    }
    for id in to_remove {
        // A rule that cannot be removed is kept in the list: it still runs.
        if control.remove_rule(id).is_err() {
            if let Some(r) = running.iter().find(|r| r.id == id) {
                next.push(r.clone());
            }
        }
    }
    next.extend(added);
    next.sort_by_key(|r| r.id);
    *running = next;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules_file::compile;
    use ferret_session::system::SystemFacts;
    use ferret_session::testing::FakeTracer;
    use std::path::Path;

    fn rules(text: &str) -> Vec<NamedRule> {
        let facts = SystemFacts {
            reasons: Ok(ferret_core::reasons::DropReasons::from_pairs([(
                "NETFILTER_DROP",
                12,
            )])),
            funcs: ferret_core::hooks::HookNames::tracepoints(),
            kernel: Default::default(),
        };
        compile(Path::new("r"), text, &facts).unwrap().rules
    }

    #[test]
    fn unchanged_rules_keep_their_slot_and_counts() {
        let mut t = FakeTracer::default();
        let mut running = Vec::new();
        let r = apply(
            &mut t,
            &mut running,
            rules("on drop count by reason\non recv where udp print\n"),
        )
        .unwrap();
        assert_eq!(
            r,
            ReloadReport {
                kept: 0,
                added: 2,
                removed: 0
            }
        );
        let counted = running[0].id;
        let slot = t.slot_of(counted);
        t.set_counters(counted, 7, 0, 0, 0);

        let r = apply(
            &mut t,
            &mut running,
            rules("# name: drops\non drop count by reason\non xmit where tcp print\n"),
        )
        .unwrap();
        assert_eq!(
            r,
            ReloadReport {
                kept: 1,
                added: 1,
                removed: 1
            }
        );
        assert_eq!(running[0].id, counted);
        assert_eq!(
            running[0].name, "drops",
            "a new name applies to the kept rule"
        );
        assert_eq!(t.slot_of(counted), slot);
        let stats = t.stats().unwrap();
        let kept = stats.iter().find(|s| s.rule == counted).unwrap();
        assert_eq!(kept.matched, 7, "the kept rule's counters continue");
        let texts: Vec<String> = t.rule_list().into_iter().map(|v| v.text).collect();
        assert_eq!(
            texts,
            ["on drop count by reason", "on xmit where tcp print"]
        );
    }

    #[test]
    fn a_refused_rule_leaves_the_running_set_as_it_was() {
        let mut t = FakeTracer::default();
        let mut running = Vec::new();
        apply(&mut t, &mut running, rules("on drop count by reason\n")).unwrap();
        let before = running.clone();
        t.kernel.refuse_attach = true;
        let e = apply(
            &mut t,
            &mut running,
            rules("on recv where udp print\non free where tcp print\n"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("the running rules stay"), "{e}");
        assert_eq!(running, before);
        let texts: Vec<String> = t.rule_list().into_iter().map(|v| v.text).collect();
        assert_eq!(texts, ["on drop count by reason"]);
    }

    #[test]
    fn a_rule_given_twice_runs_twice() {
        let mut t = FakeTracer::default();
        let mut running = Vec::new();
        let two = "on drop print\non drop print\n";
        apply(&mut t, &mut running, rules(two)).unwrap();
        let r = apply(&mut t, &mut running, rules(two)).unwrap();
        assert_eq!(
            r,
            ReloadReport {
                kept: 2,
                added: 0,
                removed: 0
            }
        );
        let r = apply(&mut t, &mut running, rules("on drop print\n")).unwrap();
        assert_eq!(
            r,
            ReloadReport {
                kept: 1,
                added: 0,
                removed: 1
            }
        );
        assert_eq!(t.rule_list().len(), 1);
    }
}
