//! The compact count map (`agg_compact`, ferret_core::agg_compact): `count by`
//! keys of numbers that fit 8 bytes. [`Kernel::counts`] already includes
//! its entries as big keys; the raw entries are for tests and diagnostics.

use super::{Kernel, KernelError};
use ferret_core::abi::CompactKey;

impl Kernel {
    /// The compact map's entries as the kernel keyed them, summed over CPUs.
    pub fn compact_counts(&self) -> Result<Vec<(CompactKey, u64)>, KernelError> {
        self.maps.compact.sums()
    }

    /// Removes a slot's compact entries (a rule was deleted).
    pub(super) fn clear_compact(&mut self, slot: usize) -> Result<(), KernelError> {
        self.maps
            .compact
            .remove_slot_keys(slot, |k: &CompactKey| k.slot)
    }
}
