//! A tracer over the real rule table and a fake kernel that records what
//! the maps and probes would hold: the REPL's logic tested without root.

use crate::tracer::{RuleView, Tracer};
use ferret_core::abi;
use ferret_core::plan::RulePlan;
use ferret_core::summary::RuleSummary;
use ferret_session::rules::{AttachKind, Backend, RuleTable, RulesError};
use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub struct FakeKernel {
    pub rules: BTreeMap<usize, abi::Rule>,
    pub config: abi::Config,
    /// Hooks attached now, in attach order.
    pub attached: Vec<u32>,
    /// Every attach and detach, in order.
    pub log: Vec<String>,
    /// Per slot: (matched, emitted, lost, rate-limited), as counters would say.
    pub counters: BTreeMap<usize, (u64, u64, u64, u64)>,
    /// The next attach fails (a kernel that refuses a probe).
    pub refuse_attach: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("the fake kernel refused to attach hook {hook}")]
pub struct FakeError {
    hook: u32,
}

impl Backend for FakeKernel {
    type Error = FakeError;
    fn set_rule(&mut self, slot: usize, rule: &abi::Rule) -> Result<(), FakeError> {
        self.rules.insert(slot, *rule);
        Ok(())
    }
    fn clear_rule(&mut self, slot: usize) -> Result<(), FakeError> {
        self.rules.remove(&slot);
        self.counters.remove(&slot);
        Ok(())
    }
    fn set_config(&mut self, cfg: &abi::Config) -> Result<(), FakeError> {
        self.config = *cfg;
        Ok(())
    }
    fn attach(&mut self, hook: u32) -> Result<AttachKind, FakeError> {
        if std::mem::take(&mut self.refuse_attach) {
            return Err(FakeError { hook });
        }
        self.attached.push(hook);
        self.log.push(format!("attach {hook}"));
        Ok(AttachKind::TpBtf)
    }
    fn detach(&mut self, hook: u32) -> Result<(), FakeError> {
        self.attached.retain(|h| *h != hook);
        self.log.push(format!("detach {hook}"));
        Ok(())
    }
    fn attach_tracepoint(&mut self, slot: u32, tp: &str) -> Result<AttachKind, FakeError> {
        self.attached.push(abi::hook::TP0 + slot);
        self.log.push(format!("tp {slot} {tp}"));
        Ok(AttachKind::RawTp)
    }
    /// Like a kernel without function backends.
    fn attach_functions(
        &mut self,
        _targets: &[ferret_kernel::func_catalog::FuncEntry],
    ) -> Result<ferret_kernel::FuncAttachReport, FakeError> {
        Err(FakeError {
            hook: abi::hook::FUNC,
        })
    }
    fn detach_functions(&mut self, _ids: &[u32]) -> Result<std::time::Duration, FakeError> {
        Ok(std::time::Duration::ZERO)
    }
    fn set_func_rules(&mut self, _masks: &[(u32, u64)]) -> Result<(), FakeError> {
        Ok(())
    }
    fn enable_clone_tracking(&mut self) -> Option<String> {
        None
    }
}

#[derive(Debug)]
pub struct FakeTracer {
    pub kernel: FakeKernel,
    pub table: RuleTable,
}

impl Default for FakeTracer {
    fn default() -> Self {
        FakeTracer {
            kernel: FakeKernel::default(),
            table: RuleTable::new(4096),
        }
    }
}

impl FakeTracer {
    /// The kernel slot of a rule id.
    pub fn slot_of(&self, id: usize) -> usize {
        self.table
            .rules()
            .find(|(_, r)| r.id == id)
            .map(|(slot, _)| slot)
            .expect("rule in table")
    }
}

impl Tracer for FakeTracer {
    type Error = RulesError<FakeError>;

    fn add(&mut self, rule: RulePlan) -> Result<usize, Self::Error> {
        self.table.add(&mut self.kernel, rule)
    }
    fn remove(&mut self, id: usize) -> Result<(), Self::Error> {
        self.table.remove(&mut self.kernel, id)
    }
    fn set_paused(&mut self, id: usize, paused: bool) -> Result<(), Self::Error> {
        self.table.set_paused(&mut self.kernel, id, paused)
    }
    fn rules(&self) -> Vec<RuleView> {
        self.table
            .rules()
            .map(|(_, r)| RuleView {
                id: r.id,
                text: r.plan.text.clone(),
                paused: r.paused,
            })
            .collect()
    }
    fn stats(&self) -> Result<Vec<RuleSummary>, Self::Error> {
        Ok(self
            .table
            .rules()
            .map(|(slot, r)| {
                let (matched, emitted, lost, limited) =
                    self.kernel.counters.get(&slot).copied().unwrap_or_default();
                RuleSummary {
                    rule: r.id,
                    text: r.plan.text.clone(),
                    seen: matched,
                    matched,
                    emitted,
                    lost_ring_full: lost,
                    rate_limited: limited,
                    delivered: emitted - lost,
                    ..RuleSummary::default()
                }
            })
            .collect())
    }
    fn tables(&self, only: Option<usize>) -> Result<String, Self::Error> {
        Ok(self
            .table
            .rules()
            .filter(|(_, r)| only.is_none_or(|id| id == r.id))
            .filter(|(_, r)| r.plan.actions.count_by.is_some() || r.plan.actions.hist.is_some())
            .map(|(_, r)| format!("table of rule {}\n", r.id))
            .collect())
    }
    fn attached(&self) -> String {
        let names: Vec<String> = self
            .table
            .attached()
            .iter()
            .map(|(h, k)| format!("{} ({})", self.table.hook_label(*h), k.name()))
            .collect();
        if names.is_empty() {
            "no hooks".into()
        } else {
            names.join(", ")
        }
    }
}
