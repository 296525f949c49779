//! Per-CPU map chores that several tables share: reading one array entry
//! on every CPU, zeroing it, summing a count hash, and dropping a rule
//! slot's keys from one.

use crate::maps::Named;
use crate::wire::Wire;
use crate::KernelError;
use aya::maps::{MapData, PerCpuArray, PerCpuHashMap, PerCpuValues};
use ferret_core::abi::Plain;

impl<T: Plain> Named<PerCpuArray<MapData, Wire<T>>> {
    /// Entry `idx`, one value per CPU.
    pub(crate) fn values(&self, idx: u32) -> Result<Vec<T>, KernelError> {
        let values = self.map.get(&idx, 0).map_err(|e| self.error(e))?;
        Ok(values.iter().map(|w| w.0).collect())
    }

    /// Sets entry `idx` to `T::default()` on every CPU.
    pub(crate) fn zero(&mut self, idx: u32) -> Result<(), KernelError>
    where
        T: Default,
    {
        let cpus =
            aya::util::nr_cpus().map_err(|(path, source)| KernelError::Cpus { path, source })?;
        let zeros = PerCpuValues::try_from(vec![Wire(T::default()); cpus]).map_err(|source| {
            KernelError::Cpus {
                path: "/sys/devices/system/cpu/possible",
                source,
            }
        })?;
        self.map.set(idx, zeros, 0).map_err(|e| self.error(e))
    }
}

impl<K: Plain> Named<PerCpuHashMap<MapData, Wire<K>, u64>> {
    /// Every entry of a per-CPU count hash, summed over CPUs.
    pub(crate) fn sums(&self) -> Result<Vec<(K, u64)>, KernelError> {
        self.map
            .iter()
            .map(|entry| {
                let (key, per_cpu) = entry.map_err(|e| self.error(e))?;
                Ok((key.0, per_cpu.iter().sum()))
            })
            .collect()
    }

    /// Removes the entries whose key `slot_of` says belong to rule slot
    /// `slot`. The map is walked in userspace: this happens only when a
    /// rule is deleted.
    pub(crate) fn remove_slot_keys(
        &mut self,
        slot: usize,
        slot_of: impl Fn(&K) -> u32,
    ) -> Result<(), KernelError> {
        let stale: Vec<Wire<K>> = self
            .map
            .keys()
            .filter_map(Result::ok)
            .filter(|k| slot_of(&k.0) as usize == slot)
            .collect();
        for key in stale {
            // An entry that is already gone is no error.
            let _ = self.map.remove(&key);
        }
        Ok(())
    }
}
