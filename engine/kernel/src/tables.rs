//! Rule slots, the config, counters and stacks: map contents that userspace
//! writes and reads. Every call is a plain map syscall; nothing is reloaded.

use super::{check_slot, Kernel, KernelError};
use crate::error::StackMiss;
use crate::wire::Wire;
use ferret_core::abi::{self, Config, Counters, Limit, Rule};

impl Kernel {
    pub fn set_rule(&mut self, slot: usize, rule: &Rule) -> Result<(), KernelError> {
        check_slot(slot)?;
        self.settle_skips()?;
        self.write_rule(slot, rule)?;
        self.skips.rule_written(slot, rule);
        Ok(())
    }

    /// Empties a slot and forgets what its rule left behind (counters, rate
    /// window, track bits, counts and histogram), so the next rule there
    /// starts clean.
    pub fn clear_rule(&mut self, slot: usize) -> Result<(), KernelError> {
        check_slot(slot)?;
        let Wire(old) = self.maps.rules.get(slot as u32)?;
        self.settle_skips()?;
        self.write_rule(slot, &Rule::default())?;
        self.skips.slot_cleared(slot);
        self.maps.counters.zero(slot as u32)?;
        self.maps.limits.set(slot as u32, Wire(Limit::default()))?;
        if old.actions & abi::act::TRACK != 0 {
            self.scrub_track_bit(slot)?;
        }
        if old.actions & (abi::act::COUNT | abi::act::HIST) != 0 {
            self.clear_aggregates(slot)?;
        }
        Ok(())
    }

    pub fn set_config(&mut self, cfg: &Config) -> Result<(), KernelError> {
        self.settle_skips()?;
        self.maps.config.set(0, Wire(*cfg))?;
        self.skips.config_written(cfg);
        Ok(())
    }

    /// Counters per rule slot (all `abi::MAX_RULES` of them), summed over
    /// CPUs. `seen` includes the calls a hook's pre-check turned away while
    /// the rule was active there.
    pub fn counters(&self) -> Result<Vec<Counters>, KernelError> {
        let skipped = self.guard_skips()?;
        (0..abi::MAX_RULES as u32)
            .map(|slot| {
                let per_cpu = self.maps.counters.values(slot)?;
                let mut sum = per_cpu.iter().fold(Counters::default(), |mut sum, c| {
                    sum.add(c);
                    sum
                });
                sum.seen += self.skips.owed(slot as usize, &skipped);
                Ok(sum)
            })
            .collect()
    }

    /// A kernel stack recorded for an event: instruction pointers, innermost first.
    pub fn stack(&self, stack_id: i32) -> Result<Vec<u64>, KernelError> {
        let id = u32::try_from(stack_id).map_err(|_| KernelError::NoStack {
            stack_id,
            miss: StackMiss::NotRecorded,
        })?;
        let trace = self
            .maps
            .stacks
            .map
            .get(&id, 0)
            .map_err(|e| KernelError::NoStack {
                stack_id,
                miss: StackMiss::Lookup {
                    source: Box::new(e),
                },
            })?;
        Ok(trace.frames().iter().map(|f| f.ip).collect())
    }

    fn write_rule(&mut self, slot: usize, rule: &Rule) -> Result<(), KernelError> {
        self.maps.rules.set(slot as u32, Wire(*rule))
    }

    /// Userspace walk of the track map: only when a TRACK rule leaves.
    fn scrub_track_bit(&mut self, slot: usize) -> Result<(), KernelError> {
        let bit = 1u64 << slot;
        let track = &mut self.maps.track.map;
        let tracked: Vec<(u64, u64)> = track
            .iter()
            .filter_map(Result::ok)
            .filter(|(_, bits)| bits & bit != 0)
            .collect();
        for (skb, bits) in tracked {
            // Entries may vanish meanwhile (freed skbs, LRU): not an error.
            let _ = match bits & !bit {
                0 => track.remove(&skb),
                rest => track.insert(skb, rest, 0),
            };
        }
        Ok(())
    }
}
