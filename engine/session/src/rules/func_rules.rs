//! Function triggers (`func GLOB`, `any`): which kernel functions the
//! active rules select, the per-function rule masks, and attaching and
//! detaching their probes as rules come and go.

use super::{Backend, FuncStatus, RuleTable, RuleTableError, RulesError};
use ferret_core::ir::TriggerIr;
use ferret_core::plan::RulePlan;
use ferret_kernel::func_catalog::{FuncCatalog, FuncEntry};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Whether every selected function serves the same rules, so a call the
/// function pre-check turns away is one every function rule would have seen.
pub(super) fn one_selection(wanted: &BTreeMap<u32, u64>) -> bool {
    let mut masks = wanted.values();
    masks.next().is_none_or(|first| masks.all(|m| m == first))
}

impl RuleTable {
    /// The functions `func`/`any` triggers choose from.
    pub fn set_functions(&mut self, catalog: Arc<FuncCatalog>) {
        self.functions = Some(catalog);
    }

    pub fn has_functions(&self) -> bool {
        self.functions.is_some()
    }

    pub fn func_status(&self) -> &FuncStatus {
        &self.func_status
    }

    /// Detaches every function probe (end of a session), timing it.
    pub fn detach_all_functions<B: Backend>(
        &mut self,
        backend: &mut B,
    ) -> Result<(), RulesError<B::Error>> {
        let ids: Vec<u32> = std::mem::take(&mut self.func_attached)
            .into_iter()
            .collect();
        if !ids.is_empty() {
            self.func_status.detach_time += backend.detach_functions(&ids)?;
        }
        Ok(())
    }

    /// A function trigger must select at least one function.
    pub(super) fn check_functions(&self, plan: &RulePlan) -> Result<(), RuleTableError> {
        for t in &plan.triggers {
            let TriggerIr::Func { globs } = t else {
                continue;
            };
            let any = self
                .functions
                .as_ref()
                .is_some_and(|c| c.select(globs).next().is_some());
            if !any {
                return Err(RuleTableError::NoFunctions {
                    globs: globs.join(", "),
                });
            }
        }
        Ok(())
    }

    /// Function id → rule slots, over the active rules' function triggers.
    pub(super) fn wanted_functions(&self) -> BTreeMap<u32, u64> {
        let mut wanted = BTreeMap::new();
        let Some(catalog) = &self.functions else {
            return wanted;
        };
        for (slot, r) in self.rules().filter(|(_, r)| !r.paused) {
            for t in &r.plan.triggers {
                if let TriggerIr::Func { globs } = t {
                    for f in catalog.select(globs) {
                        *wanted.entry(f.id).or_insert(0u64) |= 1 << slot;
                    }
                }
            }
        }
        wanted
    }

    /// Masks first (so new probes find their rules), then the new probes.
    pub(super) fn sync_functions<B: Backend>(
        &mut self,
        backend: &mut B,
        wanted: &BTreeMap<u32, u64>,
    ) -> Result<(), RulesError<B::Error>> {
        let mut writes: Vec<(u32, u64)> = wanted
            .iter()
            .filter(|(id, m)| self.func_masks.get(id) != Some(m))
            .map(|(id, m)| (*id, *m))
            .collect();
        writes.extend(
            self.func_masks
                .keys()
                .filter(|id| !wanted.contains_key(id))
                .map(|id| (*id, 0)),
        );
        if !writes.is_empty() {
            backend.set_func_rules(&writes)?;
            self.func_masks = wanted.clone();
        }
        let Some(catalog) = &self.functions else {
            return Ok(());
        };
        let new: Vec<FuncEntry> = wanted
            .keys()
            .filter(|id| !self.func_attached.contains(id) && !self.func_failed.contains(id))
            .filter_map(|id| catalog.get(*id).cloned())
            .collect();
        if new.is_empty() {
            return Ok(());
        }
        let report = backend.attach_functions(&new)?;
        let st = &mut self.func_status;
        st.backend = Some(report.backend.name());
        st.attach_time += report.elapsed;
        self.func_attached.extend(report.attached.iter().copied());
        st.attached = self.func_attached.len();
        let attached: BTreeSet<u32> = report.attached.iter().copied().collect();
        self.func_failed
            .extend(new.iter().map(|f| f.id).filter(|id| !attached.contains(id)));
        st.skipped.extend(report.skipped);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_selection_needs_the_same_rules_on_every_function() {
        assert!(one_selection(&BTreeMap::new()));
        assert!(one_selection(&BTreeMap::from([(1, 0b11), (2, 0b11)])));
        assert!(!one_selection(&BTreeMap::from([(1, 0b11), (2, 0b01)])));
    }
}
