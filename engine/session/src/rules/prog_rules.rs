//! `on tc` and `on xdp`: the tc and XDP programs the active rules select,
//! traced through the backend, and which rule slots each serves (the
//! `func_rules` map, shared with function triggers: program ids sit below
//! the functions').

use super::{Backend, RuleTable, RuleTableError, RulesError};
use ferret_core::ir::TriggerIr;
use ferret_kernel::TracedProg;
use std::collections::BTreeMap;

impl RuleTable {
    /// The programs traced so far, by ferret's id (names for events).
    pub fn traced_programs(&self) -> &BTreeMap<u32, TracedProg> {
        &self.progs
    }

    /// Traces what the active rules select and writes the masks. A rule
    /// whose trigger finds no traceable program is refused (the caller
    /// takes a new rule out again).
    pub(super) fn sync_programs<B: Backend>(
        &mut self,
        backend: &mut B,
    ) -> Result<(), RulesError<B::Error>> {
        let mut wanted: BTreeMap<u32, u64> = BTreeMap::new();
        let selections: Vec<(usize, ferret_core::bpf_prog::ProgKind, Vec<String>)> = self
            .rules()
            .filter(|(_, r)| !r.paused)
            .flat_map(|(slot, r)| {
                r.plan.triggers.iter().filter_map(move |t| match t {
                    TriggerIr::Prog { prog, globs } => Some((slot, *prog, globs.clone())),
                    _ => None,
                })
            })
            .collect();
        for (slot, kind, globs) in selections {
            let report = backend.trace_programs(kind, &globs)?;
            if report.traced.is_empty() {
                return Err(RulesError::Table(RuleTableError::NoPrograms {
                    kind: kind.name(),
                    globs: globs.join(", "),
                    skipped: report.skipped,
                }));
            }
            for t in report.traced {
                *wanted.entry(t.id).or_insert(0) |= 1 << slot;
                self.progs.insert(t.id, t);
            }
        }
        let mut writes: Vec<(u32, u64)> = wanted
            .iter()
            .filter(|(id, m)| self.prog_masks.get(id) != Some(m))
            .map(|(id, m)| (*id, *m))
            .collect();
        writes.extend(
            self.prog_masks
                .keys()
                .filter(|id| !wanted.contains_key(id))
                .map(|id| (*id, 0)),
        );
        if !writes.is_empty() {
            backend.set_func_rules(&writes)?;
            self.prog_masks = wanted;
        }
        Ok(())
    }
}

/// `: a (why), b (why)` for the programs that matched but cannot be traced.
pub(super) fn skipped_text(skipped: &[(String, String)]) -> String {
    if skipped.is_empty() {
        return String::new();
    }
    let each: Vec<String> = skipped
        .iter()
        .map(|(p, why)| format!("`{p}` {why}"))
        .collect();
    format!(" that ferret can trace ({})", each.join("; "))
}

#[cfg(test)]
mod tests {
    use crate::rules::{RuleTable, RuleTableError, RulesError};
    use crate::testing::FakeKernel;
    use ferret_core::abi;

    fn plan(text: &str) -> ferret_core::plan::RulePlan {
        let funcs = ferret_core::hooks::HookNames::tracepoints();
        let env = ferret_core::check::CheckEnv {
            reasons: Err(&NoReasons),
            funcs: &funcs,
            netns: &ferret_core::check::NoNetnsNames,
        };
        let (plan, diags) = ferret_core::compile(text, &env);
        plan.unwrap_or_else(|| panic!("{diags:?}")).rules.remove(0)
    }

    #[derive(Debug, thiserror::Error)]
    #[error("no reasons in this test")]
    struct NoReasons;

    #[test]
    fn a_program_rule_writes_masks_for_its_programs_and_listens_on_its_hook() {
        let mut k = FakeKernel::default();
        let mut t = RuleTable::new(0);
        t.add(&mut k, plan("on tc")).unwrap();
        t.add(&mut k, plan("on xdp drop_* print")).unwrap();
        assert_eq!(k.func_rules.get(&abi::PROG_ID0), Some(&0b01));
        assert_eq!(k.func_rules.get(&(abi::PROG_ID0 + 1)), Some(&0b10));
        assert_eq!(k.config.hooks, 1 << abi::hook::TC | 1 << abi::hook::XDP);
        assert_eq!(t.traced_programs()[&abi::PROG_ID0].name, "drop_tcp");
        t.remove(&mut k, 1).unwrap();
        assert_eq!(k.func_rules.get(&abi::PROG_ID0), Some(&0));
        assert_eq!(k.config.hooks, 1 << abi::hook::XDP);
    }

    #[test]
    fn a_rule_selecting_no_traceable_program_is_refused_and_taken_out() {
        let mut k = FakeKernel::default();
        let mut t = RuleTable::new(0);
        let e = t.add(&mut k, plan("on tc nothing_*")).unwrap_err();
        assert!(matches!(
            e,
            RulesError::Table(RuleTableError::NoPrograms { kind: "tc", .. })
        ));
        assert_eq!(
            e.to_string(),
            "no tc program named `nothing_*` is loaded on this machine; `bpftool prog` lists them"
        );
        let e = t.add(&mut k, plan("on tc no_btf")).unwrap_err();
        assert!(
            e.to_string()
                .contains("that ferret can trace (`no_btf` loaded without BTF)"),
            "{e}"
        );
        assert_eq!(t.rules().count(), 0);
        assert_eq!(k.config.hooks, 0);
    }
}
