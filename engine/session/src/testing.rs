//! A fake kernel for tests: it records what the maps and probes would
//! hold, and a [`FakeTracer`] runs the real rule table over it, so the
//! rule table, the REPL and playbooks are tested without root. Compiled
//! for this crate's tests and, with the `testing` feature, for others'.

use crate::backend::Backend;
use crate::control::{RuleControl, RuleView};
use crate::rules::{RuleTable, RulesError};
use ferret_core::abi;
use ferret_core::bpf_prog::ProgKind;
use ferret_core::plan::RulePlan;
use ferret_core::summary::RuleSummary;
use ferret_kernel::func_catalog::FuncEntry;
use ferret_kernel::{AttachKind, FuncAttachReport, FuncBackend, ProgTraceReport, TracedProg};
use std::collections::BTreeMap;
use std::time::Duration;

/// Records what a kernel would hold.
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
    /// The next attach of a hook or a tracepoint fails (a kernel that
    /// refuses a probe).
    pub refuse_attach: bool,
    /// Functions with a probe.
    pub funcs: Vec<u32>,
    /// The rule mask written for each function.
    pub func_rules: BTreeMap<u32, u64>,
    /// `pcap_progs` entries written: index → program length.
    pub pcap_progs: BTreeMap<usize, u32>,
}

#[derive(Debug, thiserror::Error)]
#[error("the fake kernel refused to attach hook {hook}")]
pub struct FakeError {
    pub hook: u32,
}

impl FakeKernel {
    fn refuse(&mut self, hook: u32) -> Result<(), FakeError> {
        match std::mem::take(&mut self.refuse_attach) {
            true => Err(FakeError { hook }),
            false => Ok(()),
        }
    }
}

impl Backend for FakeKernel {
    type Error = FakeError;
    fn set_rule(&mut self, slot: usize, rule: &abi::Rule) -> Result<(), FakeError> {
        self.rules.insert(slot, *rule);
        Ok(())
    }
    fn set_pcap_prog(&mut self, index: usize, prog: &abi::CbpfProg) -> Result<(), FakeError> {
        self.pcap_progs.insert(index, prog.len);
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
        self.refuse(hook)?;
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
        self.refuse(abi::hook::TP0 + slot)?;
        self.attached.push(abi::hook::TP0 + slot);
        self.log.push(format!("tp {slot} {tp}"));
        Ok(AttachKind::RawTp)
    }
    /// Refuses functions named `*refused*`, attaches the others.
    fn attach_functions(&mut self, targets: &[FuncEntry]) -> Result<FuncAttachReport, FakeError> {
        let (bad, good): (Vec<&FuncEntry>, Vec<&FuncEntry>) =
            targets.iter().partition(|t| t.name.contains("refused"));
        self.funcs.extend(good.iter().map(|t| t.id));
        self.log.push(format!("attach {} functions", good.len()));
        Ok(FuncAttachReport {
            backend: FuncBackend::Kprobe,
            attached: good.iter().map(|t| t.id).collect(),
            skipped: bad
                .iter()
                .map(|t| (t.name.clone(), "refused".to_string()))
                .collect(),
            elapsed: Duration::ZERO,
        })
    }
    fn detach_functions(&mut self, ids: &[u32]) -> Result<Duration, FakeError> {
        self.funcs.retain(|id| !ids.contains(id));
        self.log.push(format!("detach {} functions", ids.len()));
        Ok(Duration::ZERO)
    }
    fn set_func_rules(&mut self, masks: &[(u32, u64)]) -> Result<(), FakeError> {
        self.func_rules.extend(masks.iter().copied());
        Ok(())
    }
    fn enable_clone_tracking(&mut self) -> Option<String> {
        self.log.push("clone tracking".into());
        None
    }
    /// Two loaded programs: tc `drop_tcp` and XDP `drop_udp`, traced with
    /// ids PROG_ID0 and PROG_ID0 + 1; tc `no_btf` cannot be traced.
    fn trace_programs(
        &mut self,
        kind: ProgKind,
        globs: &[String],
    ) -> Result<ProgTraceReport, FakeError> {
        let loaded = [
            (ProgKind::Tc, "drop_tcp", Some(abi::PROG_ID0)),
            (ProgKind::Xdp, "drop_udp", Some(abi::PROG_ID0 + 1)),
            (ProgKind::Tc, "no_btf", None),
        ];
        let mut report = ProgTraceReport::default();
        for (k, name, id) in loaded {
            if k != kind
                || !globs
                    .iter()
                    .any(|g| ferret_core::hooks::glob_match(g, name))
            {
                continue;
            }
            match id {
                Some(id) => report.traced.push(TracedProg {
                    id,
                    kind,
                    name: name.into(),
                    prog_id: id + 1000,
                }),
                None => report
                    .skipped
                    .push((name.into(), "loaded without BTF".into())),
            }
        }
        self.log.push(format!("trace {} programs", kind.name()));
        Ok(report)
    }
}

/// The real rule table over a [`FakeKernel`].
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

    /// Sets what the kernel's counters say about rule `id`.
    pub fn set_counters(&mut self, id: usize, matched: u64, emitted: u64, lost: u64, limited: u64) {
        let slot = self.slot_of(id);
        self.kernel
            .counters
            .insert(slot, (matched, emitted, lost, limited));
    }
}

impl RuleControl for FakeTracer {
    type Error = RulesError<FakeError>;

    fn add_rule(&mut self, rule: RulePlan) -> Result<usize, Self::Error> {
        self.table.add(&mut self.kernel, rule)
    }
    fn remove_rule(&mut self, id: usize) -> Result<(), Self::Error> {
        self.table.remove(&mut self.kernel, id)
    }
    fn set_paused(&mut self, id: usize, paused: bool) -> Result<(), Self::Error> {
        self.table.set_paused(&mut self.kernel, id, paused)
    }
    fn rule_list(&self) -> Vec<RuleView> {
        self.table.rules().map(|(_, r)| RuleView::of(r)).collect()
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
    /// A line per table instead of the kernel's rows.
    fn tables_text(&self, only: Option<usize>) -> Result<String, Self::Error> {
        Ok(self
            .table
            .rules()
            .filter(|(_, r)| only.is_none_or(|id| id == r.id) && r.plan.aggregates())
            .map(|(_, r)| format!("table of rule {}\n", r.id))
            .collect())
    }
    /// One object per table naming its rule, instead of the kernel's rows.
    fn tables_json(&self) -> Result<Vec<serde_json::Value>, Self::Error> {
        Ok(self
            .table
            .rules()
            .filter(|(_, r)| r.plan.aggregates())
            .map(|(_, r)| serde_json::json!({ "rule": r.id, "text": r.plan.text }))
            .collect())
    }
    fn attached_text(&self) -> String {
        self.table.attached_text()
    }
}
