//! Reading the aggregation maps (`count by`, `hist`) and summing their
//! per-CPU values. The kernel side only ever adds; userspace reads whole
//! maps at the end of a session and every `--interval`, and removes a
//! rule's entries when its slot is cleared.
//!
//! `count` and `count by` one small field are counted in the `agg_dense`
//! array rather than the hash (ferret_core::agg_dense), keys of numbers that fit
//! 8 bytes in the `agg_compact` hash (ferret_core::agg_compact);
//! [`Kernel::counts`] turns both into big-key entries, so callers see one
//! map.

use super::{check_slot, Kernel, KernelError};
use crate::wire::Wire;
use ferret_core::abi::{self, AggKey, Dense, Hist};
use ferret_core::{agg_compact, agg_dense};

impl Kernel {
    /// Every `count by` entry of every rule slot, summed over CPUs. Keys
    /// name their slot in `AggKey::slot`.
    pub fn counts(&self) -> Result<Vec<(AggKey, u64)>, KernelError> {
        let mut rows = self.maps.counts.sums()?;
        agg_dense::merge(&mut rows, agg_compact::rows(self.compact_counts()?));
        for (slot, fields) in self.dense_rules()? {
            let dense = self.dense(slot)?;
            agg_dense::merge(&mut rows, agg_dense::rows(slot as u32, fields, &dense));
        }
        Ok(rows)
    }

    /// The dense counters of a rule slot (`agg_dense`), summed over CPUs;
    /// [`Kernel::counts`] already includes them as keys.
    pub fn dense(&self, slot: usize) -> Result<Dense, KernelError> {
        check_slot(slot)?;
        let per_cpu = self.maps.dense.values(slot as u32)?;
        Ok(per_cpu.iter().fold(Dense::default(), |mut sum, d| {
            sum.add(d);
            sum
        }))
    }

    /// The slots whose rule the kernel counts in `agg_dense`, with their
    /// `count by` fields. Read from the rule table itself, so the answer is
    /// the kernel's, whoever wrote the rules.
    fn dense_rules(&self) -> Result<Vec<(usize, u64)>, KernelError> {
        let mut out = Vec::new();
        for slot in 0..abi::MAX_RULES {
            let Wire(rule) = self.maps.rules.get(slot as u32)?;
            if rule.actions & abi::act::COUNT != 0 && agg_dense::is_dense(rule.count_fields) {
                out.push((slot, rule.count_fields));
            }
        }
        Ok(out)
    }

    /// The histogram of a rule slot, summed over CPUs.
    pub fn hist(&self, slot: usize) -> Result<Hist, KernelError> {
        check_slot(slot)?;
        let per_cpu = self.maps.hists.values(slot as u32)?;
        Ok(per_cpu.iter().fold(Hist::default(), |mut sum, h| {
            sum.add(h);
            sum
        }))
    }

    /// Forgets a slot's counts (hashed, compact and dense) and histogram, so that the next rule in the
    /// slot starts from zero. The count map is walked in userspace: this
    /// happens only when a rule is deleted.
    pub(super) fn clear_aggregates(&mut self, slot: usize) -> Result<(), KernelError> {
        check_slot(slot)?;
        self.maps.hists.zero(slot as u32)?;
        self.maps.dense.zero(slot as u32)?;
        self.maps
            .counts
            .remove_slot_keys(slot, |k: &AggKey| k.slot)?;
        self.clear_compact(slot)
    }
}

/// Capacity of a count map, for messages about it filling up: the
/// 120-byte-key map and the compact one hold as many keys each.
pub use abi::COUNT_CAPACITY;
