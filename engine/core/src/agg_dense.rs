//! The userspace half of the dense `count` path (`count_dense` in
//! ebpf/agg.bpf.h). A rule whose `count by` key is empty, or exactly one
//! of [`abi::DENSE_FIELDS`], counts into its slot of a per-CPU array, one
//! counter per value, instead of hashing a 120-byte key per match. Here:
//! which rules the kernel counts that way, which matches still fall back to
//! the hash, and the counters turned back into the very `AggKey`s the hash
//! would have held, so no table, JSON line or playbook can tell the paths
//! apart.

use crate::abi::{self, AggKey, Dense, Meta, DENSE_ABSENT, DENSE_VALUES};
use std::collections::HashMap;

/// Whether the kernel counts a rule with these `count by` fields in the
/// dense array: no field, or a single one of `abi::DENSE_FIELDS`.
pub fn is_dense(count_fields: u64) -> bool {
    count_fields & count_fields.wrapping_sub(1) == 0
        && count_fields & !u64::from(abi::DENSE_FIELDS) == 0
}

/// The dense entry a match on `meta` goes to, or `None` when the kernel
/// counts it in the hash (the rule is not dense, or the value is too big,
/// e.g. a drop reason of a subsystem, whose high bits are set).
pub fn index_of(count_fields: u64, meta: &Meta) -> Option<usize> {
    if !is_dense(count_fields) {
        return None;
    }
    let Some(f) = only_field(count_fields & u64::from(meta.present)) else {
        return Some(DENSE_ABSENT);
    };
    // is_dense above: `f` is one of the dense fields, all numbers.
    let value = meta.number(f)? as usize;
    (value < DENSE_VALUES).then_some(value)
}

/// The hash path's key for entry `index` of a dense rule's slot: the slot,
/// and the field with its `present` bit unless the entry is the absent one.
pub fn key_of(slot: u32, count_fields: u64, index: usize) -> AggKey {
    let mut key = AggKey {
        slot,
        ..AggKey::default()
    };
    let Some(f) = only_field(count_fields).filter(|_| index < DENSE_VALUES) else {
        return key;
    };
    // Not a dense field: is_dense keeps such rules out of here.
    if is_dense_field(f) {
        key.present = 1 << f;
        key.set_number(f, index as u64);
    }
    key
}

/// A dense slot's nonzero counters as `(key, count)` rows.
pub fn rows(slot: u32, count_fields: u64, dense: &Dense) -> Vec<(AggKey, u64)> {
    dense
        .counts
        .iter()
        .enumerate()
        .filter(|(_, n)| **n != 0)
        .map(|(i, n)| (key_of(slot, count_fields, i), *n))
        .collect()
}

/// Adds `extra` to `rows`, summing the counts of equal keys, so a key that
/// both paths counted (never in practice: a dense rule's hash entries hold
/// only the values too big for the array) is still one row.
pub fn merge(rows: &mut Vec<(AggKey, u64)>, extra: Vec<(AggKey, u64)>) {
    if extra.is_empty() {
        return;
    }
    let mut at: HashMap<AggKey, usize> = rows.iter().enumerate().map(|(i, r)| (r.0, i)).collect();
    for (key, n) in extra {
        match at.get(&key) {
            Some(&i) => rows[i].1 += n,
            None => {
                at.insert(key, rows.len());
                rows.push((key, n));
            }
        }
    }
}

/// Whether field `f` can be a dense rule's key.
fn is_dense_field(f: u8) -> bool {
    1u64.checked_shl(f.into())
        .is_some_and(|bit| u64::from(abi::DENSE_FIELDS) & bit != 0)
}

/// The single field of `fields`, if it has exactly one.
fn only_field(fields: u64) -> Option<u8> {
    (fields != 0 && fields & (fields - 1) == 0).then(|| fields.trailing_zeros() as u8)
}

#[cfg(test)]
#[path = "agg_dense_tests.rs"]
mod tests;
