//! Crediting the calls a hook's pre-check turned away to the rules it
//! turned them away for, so each rule's `seen` still counts every hook call
//! that could have reached it.
//!
//! The kernel counts turned-away calls per hook only (`guard_skips`): one
//! counter bump instead of one per rule. Which rules were active on a hook
//! changes only through this process's map writes, so a ledger settles the
//! counts at each such write, crediting what accumulated to the rules that
//! were active meanwhile. A call in flight during a write may be credited to
//! the rule set on either side of it.

use super::{Kernel, KernelError};
use ferret_core::abi::{self, Config, Rule, GUARD_HOOKS, MAX_RULES};

#[derive(Debug, Clone)]
pub(super) struct SkipLedger {
    /// Hook bits of each active rule slot, as last written.
    active_hooks: [u32; MAX_RULES],
    /// Pre-check slots that are on, from the last config written.
    guarded: u32,
    /// `guard_skips` when last settled.
    base: [u64; GUARD_HOOKS],
    /// Turned-away calls credited to each slot so far.
    credited: [u64; MAX_RULES],
}

impl Default for SkipLedger {
    fn default() -> Self {
        SkipLedger {
            active_hooks: [0; MAX_RULES],
            guarded: 0,
            base: [0; GUARD_HOOKS],
            credited: [0; MAX_RULES],
        }
    }
}

impl SkipLedger {
    /// What `slot` is owed at `now` (the kernel's counts): settled credit
    /// plus its share of what accumulated since.
    pub(super) fn owed(&self, slot: usize, now: &[u64; GUARD_HOOKS]) -> u64 {
        let Some(&hooks) = self.active_hooks.get(slot) else {
            return 0;
        };
        let pending: u64 = (0..GUARD_HOOKS)
            .filter(|h| self.guarded & (1 << h) != 0 && hooks & (1 << abi::guard_hook(*h)) != 0)
            .map(|h| now[h].saturating_sub(self.base[h]))
            .sum();
        self.credited[slot] + pending
    }

    /// Credits what accumulated up to `now` to the rules active meanwhile.
    pub(super) fn settle(&mut self, now: &[u64; GUARD_HOOKS]) {
        for slot in 0..MAX_RULES {
            self.credited[slot] = self.owed(slot, now);
        }
        self.base = *now;
    }

    /// Call after settling: `rule` now sits in `slot`.
    pub(super) fn rule_written(&mut self, slot: usize, rule: &Rule) {
        if let Some(h) = self.active_hooks.get_mut(slot) {
            *h = if rule.state == abi::RULE_ACTIVE {
                rule.hooks
            } else {
                0
            };
        }
    }

    /// Call after settling: the slot was emptied, its counters with it.
    pub(super) fn slot_cleared(&mut self, slot: usize) {
        if slot < MAX_RULES {
            self.active_hooks[slot] = 0;
            self.credited[slot] = 0;
        }
    }

    /// Call after settling: `cfg` is the config now.
    pub(super) fn config_written(&mut self, cfg: &Config) {
        self.guarded = cfg
            .guards
            .iter()
            .enumerate()
            .filter(|(_, g)| g.field != 0)
            .fold(0, |m, (h, _)| m | 1 << h);
    }
}

impl Kernel {
    /// Calls each guardable hook's pre-check turned away, summed over CPUs.
    pub fn guard_skips(&self) -> Result<[u64; GUARD_HOOKS], KernelError> {
        let mut out = [0; GUARD_HOOKS];
        for (hook, total) in out.iter_mut().enumerate() {
            *total = self.maps.guard_skips.values(hook as u32)?.iter().sum();
        }
        Ok(out)
    }

    /// Settles the ledger before a write changes which rules are active.
    pub(super) fn settle_skips(&mut self) -> Result<(), KernelError> {
        let now = self.guard_skips()?;
        self.skips.settle(&now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferret_core::abi::{hook, Guard};

    fn rule(hooks: u32) -> Rule {
        Rule {
            state: abi::RULE_ACTIVE,
            hooks,
            ..Rule::default()
        }
    }

    fn guarded(hooks: &[u32]) -> Config {
        let mut cfg = Config::default();
        for &h in hooks {
            cfg.guards[h as usize] = Guard {
                field: abi::field::DPORT.into(),
                nranges: 1,
                ..Guard::default()
            };
        }
        cfg
    }

    fn skips(drop: u64, recv: u64) -> [u64; GUARD_HOOKS] {
        let mut s = [0; GUARD_HOOKS];
        s[hook::DROP as usize] = drop;
        s[hook::RECV as usize] = recv;
        s
    }

    #[test]
    fn skips_are_credited_to_the_rules_active_on_the_hook_at_the_time() {
        let mut l = SkipLedger::default();
        l.rule_written(0, &rule(1 << hook::DROP));
        l.config_written(&guarded(&[hook::DROP]));
        assert_eq!(l.owed(0, &skips(10, 99)), 10, "recv is not rule 0's hook");

        // Rule 1 arrives on drop and recv; recv gets a pre-check too.
        l.settle(&skips(10, 99));
        l.rule_written(1, &rule(1 << hook::DROP | 1 << hook::RECV));
        l.config_written(&guarded(&[hook::DROP, hook::RECV]));
        let now = skips(15, 102);
        assert_eq!(l.owed(0, &now), 15);
        assert_eq!(l.owed(1, &now), 5 + 3, "only what came after it");

        // Pausing rule 0 stops its credit; clearing slot 1 forgets it.
        l.settle(&now);
        let mut paused = rule(1 << hook::DROP);
        paused.state = abi::RULE_PAUSED;
        l.rule_written(0, &paused);
        l.slot_cleared(1);
        let later = skips(40, 200);
        assert_eq!(l.owed(0, &later), 15);
        assert_eq!(l.owed(1, &later), 0);
    }

    #[test]
    fn function_skips_go_to_the_function_rules() {
        let mut l = SkipLedger::default();
        l.rule_written(0, &rule(1 << hook::FUNC));
        l.rule_written(1, &rule(1 << hook::DROP));
        let mut cfg = Config::default();
        cfg.guards[abi::GUARD_FUNC].field = abi::field::DPORT.into();
        l.config_written(&cfg);
        let mut now = [0; GUARD_HOOKS];
        now[abi::GUARD_FUNC] = 12;
        assert_eq!(l.owed(0, &now), 12);
        assert_eq!(l.owed(1, &now), 0, "drop has no pre-check here");
    }

    #[test]
    fn hooks_without_a_precheck_credit_nothing() {
        let mut l = SkipLedger::default();
        l.rule_written(0, &rule(1 << hook::DROP));
        l.config_written(&Config::default());
        assert_eq!(l.owed(0, &skips(7, 0)), 0);
        assert_eq!(l.owed(MAX_RULES, &skips(7, 0)), 0);
    }
}
