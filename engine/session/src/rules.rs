//! The live rule table: which rule sits in which kernel slot, which hooks
//! are attached, what the kernel config says. Adding, deleting, pausing a
//! rule writes map entries; a hook is attached when a rule first needs it
//! and detached when none does. The same logic serves a one-shot trace and
//! the REPL, against the real kernel or a fake backend in tests.

use ferret_core::abi;
use ferret_core::hooks::TRACEPOINT_TRIGGERS;
use ferret_core::ir::TriggerIr;
use ferret_core::plan::RulePlan;
use ferret_kernel::func_catalog::{FuncCatalog, FuncEntry};
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

#[derive(Debug, thiserror::Error)]
pub enum RulesError<E: std::error::Error + 'static> {
    #[error("the rule table is full ({max} rules); delete one first")]
    Full { max: usize },
    #[error("there is no rule {id}")]
    NoSuchRule { id: usize },
    #[error("at most {max} different `tp` tracepoints can be traced at once")]
    NoTracepointSlot { max: usize },
    #[error("no traceable kernel function matches `{globs}`; `ferret funcs GLOB` lists them")]
    NoFunctions { globs: String },
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
        }
    }

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
            .ok_or(RulesError::Full {
                max: abi::MAX_RULES,
            })?;
        self.check_functions(&plan)?;
        let tp_hooks = self.tp_hooks_for(&plan)?;
        let id = self.next_id;
        plan.number = id;
        let rule = LiveRule {
            id,
            plan,
            paused: false,
            tp_hooks,
        };
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
        let slot = self.slot_of(id).ok_or(RulesError::NoSuchRule { id })?;
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
        let slot = self.slot_of(id).ok_or(RulesError::NoSuchRule { id })?;
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

    /// Gives each tracepoint trigger of `plan` a `tp` slot (shared with
    /// rules on the same tracepoint); returns their hook bits.
    fn tp_hooks_for<E: std::error::Error>(
        &mut self,
        plan: &RulePlan,
    ) -> Result<u32, RulesError<E>> {
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
                        RulesError::NoTracepointSlot {
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

    /// A function trigger must select at least one function.
    fn check_functions<E: std::error::Error>(&self, plan: &RulePlan) -> Result<(), RulesError<E>> {
        for t in &plan.triggers {
            let TriggerIr::Func { globs } = t else {
                continue;
            };
            let any = self
                .functions
                .as_ref()
                .is_some_and(|c| c.select(globs).next().is_some());
            if !any {
                return Err(RulesError::NoFunctions {
                    globs: globs.join(", "),
                });
            }
        }
        Ok(())
    }

    /// Function id → rule slots, over the active rules' function triggers.
    fn wanted_functions(&self) -> BTreeMap<u32, u64> {
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
    fn sync_functions<B: Backend>(
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

    /// Brings config and attachments in line with the active rules:
    /// attach before the config names a hook, detach after it no longer does.
    fn sync<B: Backend>(&mut self, backend: &mut B) -> Result<(), RulesError<B::Error>> {
        let active = || self.rules().filter(|(_, r)| !r.paused);
        let mut hooks = active().fold(0u32, |m, (_, r)| m | r.plan.hooks | r.tp_hooks);
        // Freed skbs leave the track map on the drop and free hooks, so
        // those run whenever a rule tracks, whatever its own triggers.
        let tracking = active().any(|(_, r)| r.plan.action_flags & abi::act::TRACK != 0);
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
        if self.func_attached.iter().any(|id| wanted.contains_key(id)) {
            hooks |= 1 << abi::hook::FUNC;
        }
        if tracking && !self.clone_tracking_tried {
            self.clone_tracking_tried = true;
            self.func_status.clone_tracking = backend.enable_clone_tracking();
        }
        let entries: Vec<abi::Rule> = self.rules().map(|(_, r)| r.entry()).collect();
        backend.set_config(&abi::Config {
            nrules,
            needs,
            hooks,
            wakeup_bytes: self.wakeup_bytes,
            guards: ferret_core::plan::guard::hook_guards(&entries),
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

#[cfg(test)]
mod tests {
    use super::*;
    use ferret_core::check::{CheckEnv, NoNetnsNames};
    use ferret_core::hooks::HookNames;
    use ferret_kernel::func_catalog::{FuncCatalog, Traceable};
    use ferret_kernel::kernel_btf::SkbFunc;
    use ferret_kernel::FuncAttachReport;

    /// Records what a kernel would hold.
    #[derive(Debug, Default)]
    struct FakeKernel {
        rules: BTreeMap<usize, abi::Rule>,
        config: abi::Config,
        attached: Vec<u32>,
        log: Vec<String>,
        refuse_tp: bool,
        funcs: Vec<u32>,
        func_rules: BTreeMap<u32, u64>,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("fake failure")]
    struct FakeError;

    impl Backend for FakeKernel {
        type Error = FakeError;
        fn set_rule(&mut self, slot: usize, rule: &abi::Rule) -> Result<(), FakeError> {
            self.rules.insert(slot, *rule);
            Ok(())
        }
        fn clear_rule(&mut self, slot: usize) -> Result<(), FakeError> {
            self.rules.remove(&slot);
            Ok(())
        }
        fn set_config(&mut self, cfg: &abi::Config) -> Result<(), FakeError> {
            self.config = *cfg;
            Ok(())
        }
        fn attach(&mut self, hook: u32) -> Result<AttachKind, FakeError> {
            self.attached.push(hook);
            self.log.push(format!("attach {hook}"));
            Ok(AttachKind::TpBtf)
        }
        fn detach(&mut self, hook: u32) -> Result<(), FakeError> {
            self.attached.retain(|h| *h != hook);
            self.log.push(format!("detach {hook}"));
            Ok(())
        }
        fn attach_tracepoint(
            &mut self,
            slot: u32,
            tracepoint: &str,
        ) -> Result<AttachKind, FakeError> {
            if self.refuse_tp {
                return Err(FakeError);
            }
            self.attached.push(abi::hook::TP0 + slot);
            self.log.push(format!("tp {slot} {tracepoint}"));
            Ok(AttachKind::RawTp)
        }
        fn attach_functions(
            &mut self,
            targets: &[FuncEntry],
        ) -> Result<FuncAttachReport, FakeError> {
            // The fake kernel refuses functions named `*refused*`.
            let (bad, good): (Vec<&FuncEntry>, Vec<&FuncEntry>) =
                targets.iter().partition(|t| t.name.contains("refused"));
            self.funcs.extend(good.iter().map(|t| t.id));
            self.log.push(format!("attach {} functions", good.len()));
            Ok(FuncAttachReport {
                backend: ferret_kernel::FuncBackend::Kprobe,
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
            for (id, m) in masks {
                self.func_rules.insert(*id, *m);
            }
            Ok(())
        }
        fn enable_clone_tracking(&mut self) -> Option<String> {
            self.log.push("clone tracking".into());
            None
        }
    }

    fn catalog() -> Arc<FuncCatalog> {
        let funcs = ["ip_rcv", "ip_rcv_core", "ip_refused", "tcp_v4_rcv"]
            .iter()
            .map(|n| SkbFunc {
                name: n.to_string(),
                position: 1,
            })
            .collect();
        Arc::new(FuncCatalog::build(
            funcs,
            None,
            Traceable::Unchecked { why: "test".into() },
        ))
    }

    fn plan(text: &str) -> RulePlan {
        let reasons = ferret_core::reasons::DropReasons::from_pairs([("NO_SOCKET", 3)]);
        let mut funcs = HookNames::tracepoints();
        catalog().add_to(&mut funcs);
        let env = CheckEnv {
            reasons: Ok(&reasons),
            funcs: &funcs,
            netns: &NoNetnsNames,
        };
        let (plan, diags) = ferret_core::compile(text, &env);
        plan.unwrap_or_else(|| panic!("{diags:?}")).rules.remove(0)
    }

    #[test]
    fn hooks_follow_the_rules_that_need_them() {
        let mut k = FakeKernel::default();
        let mut t = RuleTable::new(4096);
        let a = t.add(&mut k, plan("on drop where dport == 443")).unwrap();
        let b = t.add(&mut k, plan("on drop, recv")).unwrap();
        assert_eq!((a, b), (1, 2));
        assert_eq!(k.attached, vec![abi::hook::DROP, abi::hook::RECV]);
        assert_eq!(k.config.nrules, 2);
        t.remove(&mut k, b).unwrap();
        assert_eq!(
            k.attached,
            vec![abi::hook::DROP],
            "recv is detached once no rule needs it"
        );
        t.set_paused(&mut k, a, true).unwrap();
        assert!(k.attached.is_empty());
        assert_eq!(k.rules[&0].state, abi::RULE_PAUSED);
        assert_eq!(k.config.hooks, 0);
        t.set_paused(&mut k, a, false).unwrap();
        assert_eq!(k.rules[&0].state, abi::RULE_ACTIVE);
        assert_eq!(k.attached, vec![abi::hook::DROP]);
    }

    #[test]
    fn prechecks_follow_live_rule_changes() {
        let mut k = FakeKernel::default();
        let mut t = RuleTable::new(4096);
        let drop = abi::hook::DROP as usize;
        let a = t.add(&mut k, plan("on drop where dport == 443")).unwrap();
        assert_eq!(k.config.guards[drop].field, u32::from(abi::field::DPORT));
        assert_eq!(
            (k.config.guards[drop].lo[0], k.config.guards[drop].hi[0]),
            (443, 443)
        );
        let b = t.add(&mut k, plan("on drop where ifindex == 3")).unwrap();
        assert_eq!(k.config.guards[drop].field, 0, "rule {b} needs no port");
        t.set_paused(&mut k, b, true).unwrap();
        assert_eq!(k.config.guards[drop].field, u32::from(abi::field::DPORT));
        t.remove(&mut k, a).unwrap();
        assert_eq!(
            k.config.guards[drop].field, 0,
            "no active rule: no pre-check"
        );
    }

    #[test]
    fn tracking_rules_keep_drop_and_free_attached_to_clean_the_track_map() {
        let mut k = FakeKernel::default();
        let mut t = RuleTable::new(4096);
        let id = t
            .add(&mut k, plan("on recv where dport == 443 track"))
            .unwrap();
        assert_eq!(
            k.attached,
            vec![abi::hook::DROP, abi::hook::FREE, abi::hook::RECV]
        );
        t.remove(&mut k, id).unwrap();
        assert!(k.attached.is_empty());
    }

    #[test]
    fn tracepoint_triggers_share_a_slot_per_tracepoint() {
        let mut k = FakeKernel::default();
        let mut t = RuleTable::new(4096);
        let a = t
            .add(&mut k, plan("on tp skb:kfree_skb where dport == 1"))
            .unwrap();
        let b = t
            .add(&mut k, plan("on tp skb:kfree_skb, tp net:netif_rx"))
            .unwrap();
        assert_eq!(k.log, ["tp 0 skb:kfree_skb", "tp 1 net:netif_rx"]);
        assert_eq!(k.rules[&0].hooks, 1 << abi::hook::TP0);
        assert_eq!(
            k.rules[&1].hooks,
            1 << abi::hook::TP0 | 1 << (abi::hook::TP0 + 1)
        );
        assert_eq!(t.hook_label(abi::hook::TP0 + 1), "tp net:netif_rx");
        t.remove(&mut k, b).unwrap();
        assert_eq!(k.attached, vec![abi::hook::TP0]);
        t.remove(&mut k, a).unwrap();
        assert!(k.attached.is_empty());
        let c = t.add(&mut k, plan("on tp net:netif_rx")).unwrap();
        assert_eq!(c, 3);
        assert_eq!(
            k.rules[&0].hooks,
            1 << abi::hook::TP0,
            "freed slots are reused"
        );
    }

    #[test]
    fn function_triggers_attach_the_union_and_mask_each_rule() {
        let mut k = FakeKernel::default();
        let mut t = RuleTable::new(4096);
        t.set_functions(catalog());
        let a = t
            .add(&mut k, plan("on func ip_rcv* where port 443"))
            .unwrap();
        assert_eq!(k.funcs, [1024, 1025], "ip_rcv, ip_rcv_core");
        assert_eq!(k.config.hooks, 1 << abi::hook::FUNC);
        let b = t.add(&mut k, plan("on any")).unwrap();
        assert_eq!(
            k.log.last().unwrap(),
            "attach 1 functions",
            "only the new one"
        );
        assert_eq!(
            t.func_status().skipped,
            [("ip_refused".into(), "refused".into())]
        );
        assert_eq!(k.func_rules[&1024], 0b11, "ip_rcv serves both rules");
        assert_eq!(k.func_rules[&1027], 0b10, "tcp_v4_rcv only `any`");
        t.remove(&mut k, b).unwrap();
        assert_eq!(k.funcs, [1024, 1025], "tcp_v4_rcv is detached");
        assert_eq!(k.func_rules[&1027], 0);
        assert_eq!(k.func_rules[&1024], 0b01);
        t.set_paused(&mut k, a, true).unwrap();
        assert!(k.funcs.is_empty());
        assert_eq!(k.config.hooks, 0);
    }

    #[test]
    fn a_function_trigger_that_selects_nothing_is_refused() {
        let mut k = FakeKernel::default();
        let mut t = RuleTable::new(4096);
        t.set_functions(catalog());
        let err = t.add(&mut k, plan("on func nosuch_*")).unwrap_err();
        assert!(matches!(err, RulesError::NoFunctions { .. }), "{err}");
        assert!(t.ids().is_empty());
    }

    #[test]
    fn tracking_asks_for_clone_tracking_once() {
        let mut k = FakeKernel::default();
        let mut t = RuleTable::new(4096);
        t.add(&mut k, plan("on recv where dport == 443 track"))
            .unwrap();
        t.add(&mut k, plan("on drop track")).unwrap();
        assert_eq!(k.log.iter().filter(|l| *l == "clone tracking").count(), 1);
    }

    #[test]
    fn a_rule_whose_probe_is_refused_leaves_nothing_behind() {
        let mut k = FakeKernel::default();
        let mut t = RuleTable::new(4096);
        k.refuse_tp = true;
        assert!(t.add(&mut k, plan("on tp sched:sched_switch")).is_err());
        assert!(t.ids().is_empty());
        assert!(k.rules.is_empty() && k.attached.is_empty());
        assert_eq!(
            t.tracepoint_of(abi::hook::TP0),
            None,
            "the tp slot is free again"
        );
        k.refuse_tp = false;
        let id = t.add(&mut k, plan("on drop")).unwrap();
        assert_eq!(id, 1, "a refused rule uses up no number");
        assert_eq!(k.log, ["attach 0"], "nothing retries the refused probe");
    }

    #[test]
    fn ids_are_never_reused_but_slots_are() {
        let mut k = FakeKernel::default();
        let mut t = RuleTable::new(4096);
        let first = t.add(&mut k, plan("on drop")).unwrap();
        t.remove(&mut k, first).unwrap();
        let second = t.add(&mut k, plan("on free")).unwrap();
        assert_eq!(second, 2);
        assert_eq!(t.by_slot(0).map(|r| r.id), Some(2));
        assert!(matches!(
            t.remove(&mut k, 1),
            Err(RulesError::NoSuchRule { id: 1 })
        ));
    }

    #[test]
    fn a_full_table_is_refused_with_its_size() {
        let mut k = FakeKernel::default();
        let mut t = RuleTable::new(4096);
        for _ in 0..abi::MAX_RULES {
            t.add(&mut k, plan("on drop")).unwrap();
        }
        assert!(matches!(
            t.add(&mut k, plan("on drop")),
            Err(RulesError::Full {
                max: abi::MAX_RULES
            })
        ));
    }
}
