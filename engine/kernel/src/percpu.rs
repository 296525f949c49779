//! Per-CPU map chores that several tables share: reading one array entry
//! on every CPU, zeroing it, summing a count hash, and dropping a rule
//! slot's keys from one.

use super::{Kernel, KernelError};
use crate::wire::Wire;
use aya::maps::{MapData, PerCpuArray, PerCpuHashMap, PerCpuValues};
use ferret_core::abi::Plain;

impl Kernel {
    /// Entry `idx` of the per-CPU array `name`, one value per CPU.
    pub(super) fn percpu_values<T: Plain>(
        &self,
        name: &'static str,
        idx: u32,
    ) -> Result<Vec<T>, KernelError> {
        let map: PerCpuArray<&MapData, Wire<T>> =
            PerCpuArray::try_from(self.map(name)?).map_err(|e| KernelError::map(name, e))?;
        let values = map.get(&idx, 0).map_err(|e| KernelError::map(name, e))?;
        Ok(values.iter().map(|w| w.0).collect())
    }

    /// Sets entry `idx` of the per-CPU array `name` to `T::default()` on
    /// every CPU.
    pub(super) fn zero_percpu<T: Plain + Default>(
        &mut self,
        name: &'static str,
        idx: u32,
    ) -> Result<(), KernelError> {
        let cpus =
            aya::util::nr_cpus().map_err(|(path, source)| KernelError::Cpus { path, source })?;
        let zeros = PerCpuValues::try_from(vec![Wire(T::default()); cpus]).map_err(|source| {
            KernelError::Cpus {
                path: "/sys/devices/system/cpu/possible",
                source,
            }
        })?;
        let mut map: PerCpuArray<&mut MapData, Wire<T>> =
            PerCpuArray::try_from(self.map_mut(name)?).map_err(|e| KernelError::map(name, e))?;
        map.set(idx, zeros, 0)
            .map_err(|e| KernelError::map(name, e))
    }

    /// Every entry of the per-CPU count hash `name`, summed over CPUs.
    pub(super) fn percpu_hash_sums<K: Plain>(
        &self,
        name: &'static str,
    ) -> Result<Vec<(K, u64)>, KernelError> {
        let map: PerCpuHashMap<&MapData, Wire<K>, u64> =
            PerCpuHashMap::try_from(self.map(name)?).map_err(|e| KernelError::map(name, e))?;
        map.iter()
            .map(|entry| {
                let (key, per_cpu) = entry.map_err(|e| KernelError::map(name, e))?;
                Ok((key.0, per_cpu.iter().sum()))
            })
            .collect()
    }

    /// Removes the entries of the per-CPU hash `name` whose key `slot_of`
    /// says belong to rule slot `slot`. The map is walked in userspace:
    /// this happens only when a rule is deleted.
    pub(super) fn remove_slot_keys<K: Plain>(
        &mut self,
        name: &'static str,
        slot: usize,
        slot_of: impl Fn(&K) -> u32,
    ) -> Result<(), KernelError> {
        let mut map: PerCpuHashMap<&mut MapData, Wire<K>, u64> =
            PerCpuHashMap::try_from(self.map_mut(name)?).map_err(|e| KernelError::map(name, e))?;
        let stale: Vec<Wire<K>> = map
            .keys()
            .filter_map(Result::ok)
            .filter(|k| slot_of(&k.0) as usize == slot)
            .collect();
        for key in stale {
            // An entry that is already gone is no error.
            let _ = map.remove(&key);
        }
        Ok(())
    }
}
