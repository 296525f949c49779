//! Hooks: giving `tp` triggers their slots, and bringing the kernel's
//! config and attached probes in line with the active rules.

use super::{Backend, RuleTable, RuleTableError, RulesError};
use ferret_core::abi;
use ferret_core::hooks::TRACEPOINT_TRIGGERS;
use ferret_core::ir::TriggerIr;
use ferret_core::plan::RulePlan;

impl RuleTable {
    /// Gives each tracepoint trigger of `plan` a `tp` slot (shared with
    /// rules on the same tracepoint); returns their hook bits.
    pub(super) fn tp_hooks_for(&mut self, plan: &RulePlan) -> Result<u32, RuleTableError> {
        let mut bits = 0;
        for t in &plan.triggers {
            let TriggerIr::Tracepoint { category, name } = t else {
                continue;
            };
            let full = format!("{category}:{name}");
            let slot = match self
                .tp_slots
                .iter()
                .position(|s| s.as_deref() == Some(full.as_str()))
            {
                Some(slot) => slot,
                None => {
                    let free = self.tp_slots.iter().position(Option::is_none).ok_or(
                        RuleTableError::NoTracepointSlot {
                            max: abi::TP_SLOTS as usize,
                        },
                    )?;
                    self.tp_slots[free] = Some(full);
                    free
                }
            };
            bits |= 1 << (abi::hook::TP0 + slot as u32);
        }
        Ok(bits)
    }

    /// Brings config and attachments in line with the active rules:
    /// attach before the config names a hook, detach after it no longer does.
    pub(super) fn sync<B: Backend>(&mut self, backend: &mut B) -> Result<(), RulesError<B::Error>> {
        let active = || self.rules().filter(|(_, r)| !r.paused);
        let mut hooks = active().fold(0u32, |m, (_, r)| m | r.plan.hooks | r.tp_hooks);
        // Freed skbs leave the track map on the drop and free hooks, so
        // those run whenever a rule tracks, whatever its own triggers.
        let tracking = active().any(|(_, r)| r.plan.tracks());
        if tracking {
            hooks |= 1 << abi::hook::DROP | 1 << abi::hook::FREE;
        }
        let needs = active().fold(0u32, |m, (_, r)| m | r.plan.needs);
        let nrules = self.rules().map(|(slot, _)| slot + 1).max().unwrap_or(0) as u32;
        for (_, hook, _) in TRACEPOINT_TRIGGERS {
            let wanted = hooks & (1 << hook) != 0;
            let have = self.attached.iter().any(|(h, _)| h == hook);
            if wanted && !have {
                let kind = backend.attach(*hook)?;
                self.attached.push((*hook, kind));
            }
        }
        for (slot, tp) in self.tp_slots.iter().enumerate() {
            let hook = abi::hook::TP0 + slot as u32;
            let (Some(tp), true) = (tp, hooks & (1 << hook) != 0) else {
                continue;
            };
            if !self.attached.iter().any(|(h, _)| *h == hook) {
                let kind = backend.attach_tracepoint(slot as u32, tp)?;
                self.attached.push((hook, kind));
            }
        }
        let wanted = self.wanted_functions();
        self.sync_functions(backend, &wanted)?;
        self.sync_programs(backend)?;
        if self.func_attached.iter().any(|id| wanted.contains_key(id)) {
            hooks |= 1 << abi::hook::FUNC;
        }
        if tracking && !self.clone_tracking_tried {
            self.clone_tracking_tried = true;
            self.func_status.clone_tracking = backend.enable_clone_tracking();
        }
        let entries: Vec<abi::Rule> = self.rules().map(|(_, r)| r.entry()).collect();
        let pcap: Vec<&[ferret_core::ir::PcapUnit]> =
            self.rules().map(|(_, r)| &r.plan.pcap[..]).collect();
        let mut guards = ferret_core::plan::guard::hook_guards(&entries, &pcap);
        // The calls a pre-check turns away are credited to every rule on its
        // hook (each rule's `seen`); for function rules that is exact only
        // when they all select the same functions.
        if !super::func_rules::one_selection(&wanted) {
            guards[abi::GUARD_FUNC] = abi::Guard::default();
        }
        backend.set_config(&abi::Config {
            nrules,
            needs,
            hooks,
            wakeup_bytes: self.wakeup_bytes,
            guards,
        })?;
        let stale: Vec<u32> = self
            .attached
            .iter()
            .map(|(h, _)| *h)
            .filter(|h| hooks & (1 << h) == 0)
            .collect();
        for hook in stale {
            backend.detach(hook)?;
            self.attached.retain(|(h, _)| *h != hook);
        }
        let gone: Vec<u32> = self
            .func_attached
            .iter()
            .copied()
            .filter(|id| !wanted.contains_key(id))
            .collect();
        if !gone.is_empty() {
            self.func_status.detach_time += backend.detach_functions(&gone)?;
            for id in &gone {
                self.func_attached.remove(id);
            }
            self.func_status.attached = self.func_attached.len();
        }
        // A `tp` slot no rule names any more is free for another tracepoint.
        let used = self.rules().fold(0u32, |m, (_, r)| m | r.tp_hooks);
        for (slot, tp) in self.tp_slots.iter_mut().enumerate() {
            if used & (1 << (abi::hook::TP0 + slot as u32)) == 0 {
                *tp = None;
            }
        }
        Ok(())
    }
}
