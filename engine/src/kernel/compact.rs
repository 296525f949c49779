//! The compact count map (`agg_compact`, crate::agg_compact): `count by`
//! keys of numbers that fit 8 bytes. [`Kernel::counts`] already includes
//! its entries as big keys; the raw entries are for tests and diagnostics.

use super::{Kernel, KernelError};
use crate::abi::CompactKey;
use aya::maps::{MapData, PerCpuHashMap};

const MAP: &str = "agg_compact";

impl Kernel {
    /// The compact map's entries as the kernel keyed them, summed over CPUs.
    pub fn compact_counts(&self) -> Result<Vec<(CompactKey, u64)>, KernelError> {
        let map: PerCpuHashMap<&MapData, CompactKey, u64> =
            PerCpuHashMap::try_from(self.map(MAP)?).map_err(|e| KernelError::map(MAP, e))?;
        map.iter()
            .map(|entry| {
                let (key, per_cpu) = entry.map_err(|e| KernelError::map(MAP, e))?;
                Ok((key, per_cpu.iter().sum()))
            })
            .collect()
    }

    /// Removes a slot's compact entries (a rule was deleted).
    pub(super) fn clear_compact(&mut self, slot: usize) -> Result<(), KernelError> {
        let mut map: PerCpuHashMap<&mut MapData, CompactKey, u64> =
            PerCpuHashMap::try_from(self.map_mut(MAP)?).map_err(|e| KernelError::map(MAP, e))?;
        let stale: Vec<CompactKey> = map
            .keys()
            .filter_map(Result::ok)
            .filter(|k| k.slot as usize == slot)
            .collect();
        for key in stale {
            // An entry that is already gone is no error.
            let _ = map.remove(&key);
        }
        Ok(())
    }
}
