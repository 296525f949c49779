//! The live rule table: which rule sits in which kernel slot, which hooks
//! are attached, what the kernel config says. Adding, deleting, pausing a
//! rule writes map entries; a hook is attached when a rule first needs it
//! and detached when none does. The same logic serves a one-shot trace and
//! the REPL, against the real kernel or a fake backend in tests.

mod attached_text;
pub use attached_text::detached_text;
mod func_rules;
mod hooks_attach;
mod prog_rules;

use ferret_core::abi;
use ferret_core::hooks::TRACEPOINT_TRIGGERS;
use ferret_core::plan::RulePlan;
use ferret_kernel::func_catalog::FuncCatalog;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

pub use crate::backend::Backend;
pub use ferret_kernel::AttachKind;

/// The function probes of a table, for the ready line and the summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FuncStatus {
    pub backend: Option<&'static str>,
    pub attached: usize,
    /// (function, why not attached), every attach call together.
    pub skipped: Vec<(String, String)>,
    pub attach_time: Duration,
    pub detach_time: Duration,
    /// Why clones cannot inherit tracking, when a rule tracks.
    pub clone_tracking: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveRule {
    /// The number users see (`del N`); never reused in a session.
    pub id: usize,
    pub plan: RulePlan,
    pub paused: bool,
    /// Hook bits of the `tp` slots its tracepoint triggers were given.
    pub tp_hooks: u32,
}

impl LiveRule {
    fn entry(&self) -> abi::Rule {
        let mut e = self.plan.to_abi(self.tp_hooks);
        if self.paused {
            e.state = abi::RULE_PAUSED;
        }
        e
    }
}

/// Why the rule table refuses a change, whatever the backend.
#[derive(Debug, thiserror::Error)]
pub enum RuleTableError {
    #[error("the rule table is full ({max} rules); delete a rule first")]
    Full { max: usize },
    #[error("there is no rule {id}")]
    NoSuchRule { id: usize },
    #[error("at most {max} different `tp` tracepoints can be traced at once")]
    NoTracepointSlot { max: usize },
    #[error("no traceable kernel function matches `{globs}`; `ferret funcs GLOB` lists them")]
    NoFunctions { globs: String },
    #[error(
        "no {kind} program{} is loaded on this machine{}; `bpftool prog` lists them",
        if .globs == "*" { String::new() } else { format!(" named `{}`", .globs) },
        prog_rules::skipped_text(.skipped)
    )]
    NoPrograms {
        kind: &'static str,
        globs: String,
        /// (program, why it cannot be traced) of those that matched.
        skipped: Vec<(String, String)>,
    },
    #[error("pcap-filter `{text}`: {source}")]
    PcapProgram {
        text: String,
        source: ferret_core::pcap::InvalidProgram,
    },
}

/// A change the table refused, or one the backend failed.
#[derive(Debug, thiserror::Error)]
pub enum RulesError<E: std::error::Error + 'static> {
    #[error(transparent)]
    Table(RuleTableError),
    #[error(transparent)]
    Backend(#[from] E),
}

#[derive(Debug)]
pub struct RuleTable {
    slots: Vec<Option<LiveRule>>,
    /// The tracepoint (`category:name`) each `tp` slot serves.
    tp_slots: Vec<Option<String>>,
    next_id: usize,
    attached: Vec<(u32, AttachKind)>,
    wakeup_bytes: u32,
    functions: Option<Arc<FuncCatalog>>,
    /// Functions with a probe, and the rule masks last written for them.
    func_attached: BTreeSet<u32>,
    func_masks: BTreeMap<u32, u64>,
    /// Functions the kernel refused: not tried again.
    func_failed: BTreeSet<u32>,
    func_status: FuncStatus,
    clone_tracking_tried: bool,
    /// tc/XDP programs traced (by ferret's id), and their masks last written.
    progs: BTreeMap<u32, ferret_kernel::TracedProg>,
    prog_masks: BTreeMap<u32, u64>,
}

impl RuleTable {
    pub fn new(wakeup_bytes: u32) -> RuleTable {
        RuleTable {
            slots: vec![None; abi::MAX_RULES],
            tp_slots: vec![None; abi::TP_SLOTS as usize],
            next_id: 1,
            attached: Vec::new(),
            wakeup_bytes,
            functions: None,
            func_attached: BTreeSet::new(),
            func_masks: BTreeMap::new(),
            func_failed: BTreeSet::new(),
            func_status: FuncStatus::default(),
            clone_tracking_tried: false,
            progs: BTreeMap::new(),
            prog_masks: BTreeMap::new(),
        }
    }

    /// Adds a rule; returns its id. Its hooks are attached if needed.
    pub fn add<B: Backend>(
        &mut self,
        backend: &mut B,
        mut plan: RulePlan,
    ) -> Result<usize, RulesError<B::Error>> {
        let slot = self
            .slots
            .iter()
            .position(Option::is_none)
            .ok_or(RulesError::Table(RuleTableError::Full {
                max: abi::MAX_RULES,
            }))?;
        self.check_functions(&plan).map_err(RulesError::Table)?;
        let tp_hooks = self.tp_hooks_for(&plan).map_err(RulesError::Table)?;
        let id = self.next_id;
        plan.number = id;
        let rule = LiveRule {
            id,
            plan,
            paused: false,
            tp_hooks,
        };
        write_pcap_programs(backend, slot, &rule.plan.pcap)?;
        backend.set_rule(slot, &rule.entry())?;
        self.slots[slot] = Some(rule);
        if let Err(e) = self.sync(backend) {
            // A rule whose probe the kernel refuses must not stay behind
            // half-added: every later change would retry that probe.
            self.slots[slot] = None;
            let _ = backend.clear_rule(slot);
            let _ = self.sync(backend);
            return Err(e);
        }
        self.next_id += 1;
        Ok(id)
    }

    pub fn remove<B: Backend>(
        &mut self,
        backend: &mut B,
        id: usize,
    ) -> Result<(), RulesError<B::Error>> {
        let slot = self
            .slot_of(id)
            .ok_or(RulesError::Table(RuleTableError::NoSuchRule { id }))?;
        backend.clear_rule(slot)?;
        self.slots[slot] = None;
        self.sync(backend)
    }

    pub fn set_paused<B: Backend>(
        &mut self,
        backend: &mut B,
        id: usize,
        paused: bool,
    ) -> Result<(), RulesError<B::Error>> {
        let slot = self
            .slot_of(id)
            .ok_or(RulesError::Table(RuleTableError::NoSuchRule { id }))?;
        let rule = self.slots[slot]
            .as_mut()
            .expect("slot_of finds occupied slots");
        rule.paused = paused;
        backend.set_rule(slot, &rule.entry())?;
        let result = self.sync(backend);
        if result.is_err() && !paused {
            // Resuming needed a probe the kernel refused: stay paused.
            if let Some(rule) = self.slots[slot].as_mut() {
                rule.paused = true;
                let _ = backend.set_rule(slot, &rule.entry());
            }
            let _ = self.sync(backend);
        }
        result
    }

    pub fn rules(&self) -> impl Iterator<Item = (usize, &LiveRule)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(slot, r)| r.as_ref().map(|r| (slot, r)))
    }

    pub fn ids(&self) -> Vec<usize> {
        self.rules().map(|(_, r)| r.id).collect()
    }

    fn slot_of(&self, id: usize) -> Option<usize> {
        self.slots
            .iter()
            .position(|r| r.as_ref().is_some_and(|r| r.id == id))
    }

    /// The rule in a kernel slot (events name slots).
    pub fn by_slot(&self, slot: usize) -> Option<&LiveRule> {
        self.slots.get(slot).and_then(Option::as_ref)
    }

    /// The tracepoint (`category:name`) a `tp` slot hook serves.
    pub fn tracepoint_of(&self, hook: u32) -> Option<&str> {
        let slot = hook.checked_sub(abi::hook::TP0)? as usize;
        self.tp_slots.get(slot).and_then(Option::as_deref)
    }

    /// A hook as users name it: `drop`, or `tp skb:kfree_skb`.
    pub fn hook_label(&self, hook: u32) -> String {
        if let Some((name, _, _)) = TRACEPOINT_TRIGGERS.iter().find(|(_, h, _)| *h == hook) {
            return (*name).to_string();
        }
        let slot = hook.wrapping_sub(abi::hook::TP0) as usize;
        match self.tp_slots.get(slot).and_then(Option::as_deref) {
            Some(tp) => format!("tp {tp}"),
            None => format!("hook {hook}"),
        }
    }

    /// Hooks attached now, with how.
    pub fn attached(&self) -> &[(u32, AttachKind)] {
        &self.attached
    }
}

#[cfg(test)]
mod tests;

/// The programs of a rule's pcap-filter parts, beside its slot; a part
/// libpcap could not compile without a link layer gets an empty program,
/// which rejects.
fn write_pcap_programs<B: Backend>(
    backend: &mut B,
    slot: usize,
    units: &[ferret_core::ir::PcapUnit],
) -> Result<(), RulesError<B::Error>> {
    let kernel_prog = |u: &ferret_core::ir::PcapUnit, prog: &ferret_core::pcap::Program| {
        abi::CbpfProg::new(prog).map_err(|source| {
            RulesError::Table(RuleTableError::PcapProgram {
                text: u.text.clone(),
                source,
            })
        })
    };
    for (i, u) in units.iter().enumerate() {
        let ether = kernel_prog(u, &u.ether)?;
        let raw = match &u.raw {
            Some(insns) => kernel_prog(u, insns)?,
            None => abi::CbpfProg::default(),
        };
        backend.set_pcap_prog(abi::pcap_prog_index(slot, i, false), &ether)?;
        backend.set_pcap_prog(abi::pcap_prog_index(slot, i, true), &raw)?;
    }
    Ok(())
}
