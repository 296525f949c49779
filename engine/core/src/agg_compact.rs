//! The userspace half of the compact `count by` tier (`count_compact` in
//! ebpf/agg.bpf.h). A rule whose key fields are all numbers of at most
//! 8 bytes together (`dport`; `sport, dport`; `reason, dport`; `mark`...)
//! counts under a 16-byte key, the slot, the present bits and one packed
//! u64, instead of the 120-byte [`AggKey`]: hashing and comparing it is
//! what the saving is. Here: which rules qualify, the packing (a mirror of
//! the kernel's, for tests), and the key turned back into the very `AggKey`
//! the big-key path would have built, so no table, JSON line or playbook
//! can tell the paths apart.
//!
//! Only the fields the packet carried take room, lowest field id in the
//! lowest bits, so a key unpacks without knowing its rule.

use crate::abi::{self, field, AggKey, CompactKey, Meta};

/// Bytes field `f` takes in a compact key, or `None` when it cannot be in
/// one (addresses, names).
pub fn width(f: u8) -> Option<u32> {
    let bit = 1u32.checked_shl(f.into())?;
    if abi::COMPACT_W1 & bit != 0 {
        Some(1)
    } else if abi::COMPACT_W2 & bit != 0 {
        Some(2)
    } else if abi::COMPACT_W4 & bit != 0 {
        Some(4)
    } else {
        None
    }
}

/// Whether the kernel can count a rule with these `count by` fields under a
/// compact key (it still tries the dense array first, crate::agg_dense).
pub fn is_compact(count_fields: u64) -> bool {
    if count_fields & !u64::from(abi::COMPACT_FIELDS) != 0 {
        return false;
    }
    let bytes: u32 = fields_of(count_fields as u32)
        .map(|f| width(f).unwrap_or(u32::MAX))
        .sum();
    bytes <= abi::COMPACT_BYTES
}

/// The compact key a match on `meta` counts under, as the kernel packs it;
/// `None` when the rule does not qualify.
pub fn pack(slot: u32, count_fields: u64, meta: &Meta) -> Option<CompactKey> {
    if !is_compact(count_fields) {
        return None;
    }
    let kept = count_fields as u32 & meta.present;
    let mut packed = 0u64;
    let mut at = 0;
    for f in fields_of(kept) {
        packed |= read(meta, f) << at;
        at += 8 * width(f)?;
    }
    Some(CompactKey {
        slot,
        present: kept,
        packed,
    })
}

/// The big-key path's key for a compact key: the present fields with their
/// values, everything else zero.
pub fn unpack(key: &CompactKey) -> AggKey {
    let mut out = AggKey {
        slot: key.slot,
        present: key.present & abi::COMPACT_FIELDS,
        ..AggKey::default()
    };
    let mut rest = key.packed;
    for f in fields_of(out.present) {
        let bits = 8 * width(f).unwrap_or(0);
        out.set_number(f, rest & ((1u64 << bits) - 1));
        rest >>= bits;
    }
    out
}

/// Compact entries as big-key rows.
pub fn rows(entries: impl IntoIterator<Item = (CompactKey, u64)>) -> Vec<(AggKey, u64)> {
    entries.into_iter().map(|(k, n)| (unpack(&k), n)).collect()
}

/// The key `fill_agg_key` in ebpf/agg.bpf.h builds: every chosen field
/// the packet carries, zero elsewhere. The reference the other paths are
/// tested against.
pub fn big_key(slot: u32, count_fields: u64, meta: &Meta) -> AggKey {
    let kept = count_fields as u32 & meta.present;
    let mut key = AggKey {
        slot,
        present: kept,
        ..AggKey::default()
    };
    let has = |f: u8| kept & (1 << f) != 0;
    let bytes = |f: u8, v: [u8; 16]| if has(f) { v } else { [0; 16] };
    key.saddr = bytes(field::SADDR, meta.saddr);
    key.daddr = bytes(field::DADDR, meta.daddr);
    key.ifname = bytes(field::IFNAME, meta.ifname);
    key.comm = bytes(field::COMM, meta.comm);
    for f in fields_of(kept & abi::COMPACT_FIELDS) {
        key.set_number(f, read(meta, f));
    }
    key
}

/// The set bits of `fields`, lowest first.
fn fields_of(fields: u32) -> impl Iterator<Item = u8> {
    (0..32u8).filter(move |f| fields & (1 << f) != 0)
}

/// Numeric field `f` of a packet, zero-extended (0 for the others).
fn read(m: &Meta, f: u8) -> u64 {
    m.number(f).unwrap_or(0)
}

#[cfg(test)]
#[path = "agg_compact_tests.rs"]
mod tests;
