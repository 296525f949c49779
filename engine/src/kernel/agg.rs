//! Reading the aggregation maps (`count by`, `hist`) and summing their
//! per-CPU values. The kernel side only ever adds; userspace reads whole
//! maps at the end of a session and every `--interval`, and removes a
//! rule's entries when its slot is cleared.

use super::{check_slot, Kernel, KernelError};
use crate::abi::{self, AggKey, Hist};
use aya::maps::{MapData, PerCpuArray, PerCpuHashMap, PerCpuValues};

impl Kernel {
    /// Every `count by` entry of every rule slot, summed over CPUs. Keys
    /// name their slot in `AggKey::slot`.
    pub fn counts(&self) -> Result<Vec<(AggKey, u64)>, KernelError> {
        let map: PerCpuHashMap<&MapData, AggKey, u64> =
            PerCpuHashMap::try_from(self.map("agg_counts")?)
                .map_err(|e| KernelError::map("agg_counts", e))?;
        map.iter()
            .map(|entry| {
                let (key, per_cpu) = entry.map_err(|e| KernelError::map("agg_counts", e))?;
                Ok((key, per_cpu.iter().sum()))
            })
            .collect()
    }

    /// The histogram of a rule slot, summed over CPUs.
    pub fn hist(&self, slot: usize) -> Result<Hist, KernelError> {
        check_slot(slot)?;
        let map: PerCpuArray<&MapData, Hist> = PerCpuArray::try_from(self.map("agg_hists")?)
            .map_err(|e| KernelError::map("agg_hists", e))?;
        let per_cpu = map
            .get(&(slot as u32), 0)
            .map_err(|e| KernelError::map("agg_hists", e))?;
        Ok(per_cpu.iter().fold(Hist::default(), |mut sum, h| {
            sum.add(h);
            sum
        }))
    }

    /// Forgets a slot's counts and histogram, so that the next rule in the
    /// slot starts from zero. The count map is walked in userspace: this
    /// happens only when a rule is deleted.
    pub(super) fn clear_aggregates(&mut self, slot: usize) -> Result<(), KernelError> {
        check_slot(slot)?;
        let cpus =
            aya::util::nr_cpus().map_err(|(path, source)| KernelError::Cpus { path, source })?;
        let zeros = PerCpuValues::try_from(vec![Hist::default(); cpus]).map_err(|source| {
            KernelError::Cpus {
                path: "/sys/devices/system/cpu/possible",
                source,
            }
        })?;
        let mut hists: PerCpuArray<&mut MapData, Hist> =
            PerCpuArray::try_from(self.map_mut("agg_hists")?)
                .map_err(|e| KernelError::map("agg_hists", e))?;
        hists
            .set(slot as u32, zeros, 0)
            .map_err(|e| KernelError::map("agg_hists", e))?;
        let mut counts: PerCpuHashMap<&mut MapData, AggKey, u64> =
            PerCpuHashMap::try_from(self.map_mut("agg_counts")?)
                .map_err(|e| KernelError::map("agg_counts", e))?;
        let stale: Vec<AggKey> = counts
            .keys()
            .filter_map(Result::ok)
            .filter(|k| k.slot as usize == slot)
            .collect();
        for key in stale {
            // An entry that is already gone is no error.
            let _ = counts.remove(&key);
        }
        Ok(())
    }
}

/// Capacity of the count map, for messages about it filling up.
pub const COUNT_CAPACITY: u32 = abi::AGG_ENTRIES;
