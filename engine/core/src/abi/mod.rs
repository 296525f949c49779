//! Rust mirror of `ebpf/include/ferret_abi.h`, the one contract with the
//! kernel side.
//!
//! Every struct is `#[repr(C)]` with the same layout as its C twin, and
//! every number has the C enumerator's value. They cannot drift apart
//! silently: the kernel crate's `abi_btf` test reads the BTF of the compiled
//! objects and compares each struct's size and member offsets, and each
//! enumerator, with the items here.
//!
//! By topic: [`rule`] (the rule table and its branch programs), [`config`]
//! (hooks, global settings, pre-checks), [`event`] (per-packet metadata and
//! ring records), [`agg`] (counters and aggregation maps), [`pod`] (viewing
//! the types as bytes).

pub mod agg;
pub mod cbpf;
pub mod config;
pub mod event;
pub mod pod;
pub mod rule;

pub use agg::*;
pub use cbpf::*;
pub use config::*;
pub use event::*;
pub use pod::*;
pub use rule::*;

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::offset_of;

    // Sizes and offsets are compared with the compiled C by the kernel
    // crate's abi_btf test; these are the properties the kernel code relies
    // on whatever the numbers are.
    #[test]
    fn byte_fields_are_word_aligned_for_the_kernel_loads() {
        // The interpreter and fill_agg_key load 16-byte fields as two u64.
        for off in [
            offset_of!(Meta, saddr),
            offset_of!(Meta, daddr),
            offset_of!(Meta, ifname),
            offset_of!(Meta, comm),
            offset_of!(AggKey, saddr),
            offset_of!(AggKey, daddr),
            offset_of!(AggKey, ifname),
            offset_of!(AggKey, comm),
        ] {
            assert_eq!(off % 8, 0, "offset {off}");
        }
        assert_eq!(align_of::<AggKey>(), 8);
    }

    #[test]
    fn the_test_slot_is_one_past_the_rule_loop() {
        assert_eq!(TEST_SLOT, MAX_RULES);
        // Rule numbers are bits of a u64 mask.
        assert_eq!(MAX_RULES, u64::BITS as usize);
    }
}
