//! In-kernel aggregation: the keys and values of the `count by` maps
//! (`struct ferret_agg_key`, `struct ferret_compact_key`, `struct
//! ferret_dense`) and of `hist` (`struct ferret_hist`).

use super::event::Meta;
use super::rule::field;

/// Capacity of the `count by` map (`FERRET_AGG_ENTRIES`), all rules together.
pub const AGG_ENTRIES: u32 = 16384;
/// How many `count by` keys a session holds, all rules together: the
/// capacity of the big-key and compact maps alike.
pub const COUNT_CAPACITY: u32 = AGG_ENTRIES;
const _: () = assert!(COMPACT_ENTRIES == COUNT_CAPACITY);
/// Log2 buckets of a `hist` (`FERRET_HIST_BUCKETS`).
pub const HIST_BUCKETS: usize = 33;

/// Key of the `count by` map (`struct ferret_agg_key`): the rule slot and
/// the chosen fields the packet carried (bits in `present`), zero elsewhere.
#[repr(C, align(8))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AggKey {
    pub slot: u32,
    pub present: u32,
    pub saddr: [u8; 16],
    pub daddr: [u8; 16],
    pub ifname: [u8; 16],
    pub comm: [u8; 16],
    pub netns: u32,
    pub ifindex: u32,
    pub mark: u32,
    pub len: u32,
    pub pid: u32,
    pub reason: u32,
    pub func_id: u32,
    pub cpu: u32,
    pub family: u16,
    pub sport: u16,
    pub dport: u16,
    pub proto: u8,
    pub tcpflags: u8,
    pub ttl: u8,
    pub pad1: u8,
    pub pad2: u16,
    pub pad3: u32,
}

impl AggKey {
    /// The key's fields as an event's metadata, so the field catalog can
    /// read them (`FieldDef::value_in`).
    pub fn as_meta(&self) -> Meta {
        Meta {
            present: self.present,
            saddr: self.saddr,
            daddr: self.daddr,
            ifname: self.ifname,
            comm: self.comm,
            netns: self.netns,
            ifindex: self.ifindex,
            mark: self.mark,
            len: self.len,
            pid: self.pid,
            reason: self.reason,
            func_id: self.func_id,
            cpu: self.cpu,
            family: self.family,
            sport: self.sport,
            dport: self.dport,
            proto: self.proto,
            tcpflags: self.tcpflags,
            ttl: self.ttl,
            ..Meta::default()
        }
    }
}

/// Fields whose `count by` counts in the dense array when a rule's key is
/// that one field (`FERRET_DENSE_FIELDS`); an empty key counts there too.
pub const DENSE_FIELDS: u32 = 1 << field::PROTO
    | 1 << field::TCPFLAGS
    | 1 << field::TTL
    | 1 << field::REASON
    | 1 << field::CPU;
/// Values below this count in the dense array (`FERRET_DENSE_VALUES`).
pub const DENSE_VALUES: usize = 256;
/// The entry for a packet without the field, or a key without fields
/// (`FERRET_DENSE_ABSENT`).
pub const DENSE_ABSENT: usize = DENSE_VALUES;

/// One rule slot of the `agg_dense` per-CPU array (`struct ferret_dense`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dense {
    pub counts: [u64; DENSE_VALUES + 1],
}

impl Default for Dense {
    fn default() -> Self {
        Dense {
            counts: [0; DENSE_VALUES + 1],
        }
    }
}

impl Dense {
    pub fn add(&mut self, other: &Dense) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
    }
}

/// `count by` fields one byte wide in the compact key (`FERRET_COMPACT_W1`).
pub const COMPACT_W1: u32 = 1 << field::PROTO | 1 << field::TCPFLAGS | 1 << field::TTL;
/// Two bytes wide (`FERRET_COMPACT_W2`).
pub const COMPACT_W2: u32 = 1 << field::SPORT | 1 << field::DPORT | 1 << field::FAMILY;
/// Four bytes wide (`FERRET_COMPACT_W4`).
pub const COMPACT_W4: u32 = 1 << field::LEN
    | 1 << field::MARK
    | 1 << field::IFINDEX
    | 1 << field::NETNS
    | 1 << field::PID
    | 1 << field::REASON
    | 1 << field::FUNC
    | 1 << field::CPU;
/// The fields a compact key can hold (`FERRET_COMPACT_FIELDS`).
pub const COMPACT_FIELDS: u32 = COMPACT_W1 | COMPACT_W2 | COMPACT_W4;
/// Their widths together may not exceed this (`FERRET_COMPACT_BYTES`).
pub const COMPACT_BYTES: u32 = 8;
/// Capacity of the compact count map (`FERRET_COMPACT_ENTRIES`).
pub const COMPACT_ENTRIES: u32 = 16384;

/// Key of the compact count map (`struct ferret_compact_key`): the present
/// fields' values packed in ascending field id from bit 0 (crate::agg_compact).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CompactKey {
    pub slot: u32,
    pub present: u32,
    pub packed: u64,
}

/// One rule's `hist` (`struct ferret_hist`): bucket 0 is the value 0,
/// bucket k >= 1 holds [2^(k-1), 2^k).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hist {
    pub missing: u64,
    pub buckets: [u64; HIST_BUCKETS],
}

impl Default for Hist {
    fn default() -> Self {
        Hist {
            missing: 0,
            buckets: [0; HIST_BUCKETS],
        }
    }
}

impl Hist {
    pub fn add(&mut self, other: &Hist) {
        self.missing += other.missing;
        for (a, b) in self.buckets.iter_mut().zip(other.buckets.iter()) {
            *a += b;
        }
    }

    /// The bucket a value falls in, as the kernel side computes it.
    pub fn bucket_of(value: u32) -> usize {
        if value == 0 {
            0
        } else {
            32 - value.leading_zeros() as usize
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hist_buckets_are_powers_of_two() {
        assert_eq!(Hist::bucket_of(0), 0);
        assert_eq!(Hist::bucket_of(1), 1);
        assert_eq!(Hist::bucket_of(2), 2);
        assert_eq!(Hist::bucket_of(3), 2);
        assert_eq!(Hist::bucket_of(4), 3);
        assert_eq!(Hist::bucket_of(1023), 10);
        assert_eq!(Hist::bucket_of(1024), 11);
        assert_eq!(Hist::bucket_of(u32::MAX), HIST_BUCKETS - 1);
    }
}
