//! Rust mirror of `ebpf/ferret_abi.h`, the one contract with the kernel side.
//!
//! Every struct is `#[repr(C)]` with the same layout as its C twin; the tests
//! below pin the sizes and offsets so the two cannot drift apart silently.

pub const MAX_RULES: usize = 64;
pub const MAX_INSNS: usize = 32;
pub const MAX_SNAPLEN: u32 = 1500;
pub const TP_SLOTS: u32 = 8;
/// Rule slot reserved for `BPF_PROG_TEST_RUN` of the filter (`FERRET_TEST_SLOT`).
pub const TEST_SLOT: usize = MAX_RULES;

pub const TARGET_MATCH: u8 = 0xfe;
pub const TARGET_NOMATCH: u8 = 0xff;

/// Filter field ids (`enum ferret_field`).
pub mod field {
    pub const SADDR: u8 = 1;
    pub const DADDR: u8 = 2;
    pub const SPORT: u8 = 3;
    pub const DPORT: u8 = 4;
    pub const PROTO: u8 = 5;
    pub const FAMILY: u8 = 6;
    pub const LEN: u8 = 7;
    pub const MARK: u8 = 8;
    pub const IFNAME: u8 = 9;
    pub const IFINDEX: u8 = 10;
    pub const NETNS: u8 = 11;
    pub const PID: u8 = 12;
    pub const COMM: u8 = 13;
    pub const TCPFLAGS: u8 = 14;
    pub const TTL: u8 = 15;
    pub const REASON: u8 = 16;
    pub const FUNC: u8 = 17;
    pub const CPU: u8 = 18;
    pub const COUNT: u8 = 19;
}

/// Comparison operators (`enum ferret_op`).
pub mod op {
    pub const EQ: u8 = 0;
    pub const NE: u8 = 1;
    pub const LT: u8 = 2;
    pub const LE: u8 = 3;
    pub const GT: u8 = 4;
    pub const GE: u8 = 5;
}

/// Hook ids (`enum ferret_hook`).
pub mod hook {
    pub const DROP: u32 = 0;
    pub const FREE: u32 = 1;
    pub const RECV: u32 = 2;
    pub const XMIT: u32 = 3;
    pub const QUEUE: u32 = 4;
    pub const TP0: u32 = 8;
    pub const FUNC: u32 = 16;
}

/// Action flags (`FERRET_ACT_*`).
pub mod act {
    pub const PRINT: u32 = 1 << 0;
    pub const STACK: u32 = 1 << 1;
    pub const COUNT: u32 = 1 << 2;
    pub const HIST: u32 = 1 << 3;
    pub const CAPTURE: u32 = 1 << 4;
    pub const TRACK: u32 = 1 << 5;
    pub const CALL: u32 = 1 << 6;
    pub const DELIVER: u32 = PRINT | STACK | CAPTURE | CALL;
}

pub const RULE_EMPTY: u32 = 0;
pub const RULE_ACTIVE: u32 = 1;
pub const RULE_PAUSED: u32 = 2;

pub const TCP_FIN: u8 = 0x01;
pub const TCP_SYN: u8 = 0x02;
pub const TCP_RST: u8 = 0x04;
pub const TCP_PSH: u8 = 0x08;
pub const TCP_ACK: u8 = 0x10;
pub const TCP_URG: u8 = 0x20;

pub const EVENT_PACKET: u32 = 1;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Insn {
    pub field: u8,
    pub op: u8,
    pub jt: u8,
    pub jf: u8,
    pub pad: u32,
    pub value_hi: u64,
    pub value_lo: u64,
    pub mask_hi: u64,
    pub mask_lo: u64,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub state: u32,
    pub hooks: u32,
    pub actions: u32,
    pub ninsns: u32,
    pub limit_per_sec: u64,
    pub count_fields: u64,
    pub hist_field: u32,
    pub snaplen: u32,
    pub insns: [Insn; MAX_INSNS],
}

impl Default for Rule {
    fn default() -> Self {
        Rule {
            state: RULE_EMPTY,
            hooks: 0,
            actions: 0,
            ninsns: 0,
            limit_per_sec: 0,
            count_fields: 0,
            hist_field: 0,
            snaplen: 0,
            insns: [Insn::default(); MAX_INSNS],
        }
    }
}

/// Hooks that can have a pre-check: the built-in tracepoint triggers.
pub const GUARD_HOOKS: usize = 8;
/// Value ranges one pre-check can hold.
pub const GUARD_RANGES: usize = 4;

/// A hook's pre-check (`struct ferret_guard`): the packet must carry
/// `field` with a value in one of the first `nranges` inclusive ranges, or
/// no rule on the hook can match. `field == 0` turns it off.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Guard {
    pub field: u32,
    pub nranges: u32,
    pub lo: [u64; GUARD_RANGES],
    pub hi: [u64; GUARD_RANGES],
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Config {
    pub nrules: u32,
    pub needs: u32,
    pub hooks: u32,
    pub wakeup_bytes: u32,
    pub guards: [Guard; GUARD_HOOKS],
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Meta {
    pub skb: u64,
    pub ts_ns: u64,
    pub location: u64,
    pub cpu: u32,
    pub pid: u32,
    pub tid: u32,
    pub netns: u32,
    pub ifindex: u32,
    pub mark: u32,
    pub len: u32,
    pub mtu: u32,
    pub reason: u32,
    pub func_id: u32,
    pub present: u32,
    pub family: u16,
    pub proto: u8,
    pub tcpflags: u8,
    pub ttl: u8,
    pub pad1: u8,
    pub sport: u16,
    pub dport: u16,
    pub pad2: u16,
    pub saddr: [u8; 16],
    pub daddr: [u8; 16],
    pub ifname: [u8; 16],
    pub comm: [u8; 16],
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventHeader {
    pub kind: u32,
    pub hook: u32,
    pub rules: u64,
    pub stack_id: i32,
    pub cap_len: u32,
    pub cap_l2: u32,
    /// Packet length from where the capture starts (pcap-ng original length).
    pub wire_len: u32,
    pub meta: Meta,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub seen: u64,
    pub matched: u64,
    pub emitted: u64,
    pub ring_full: u64,
    pub rate_limited: u64,
    pub agg_failed: u64,
}

impl Counters {
    pub fn add(&mut self, other: &Counters) {
        self.seen += other.seen;
        self.matched += other.matched;
        self.emitted += other.emitted;
        self.ring_full += other.ring_full;
        self.rate_limited += other.rate_limited;
        self.agg_failed += other.agg_failed;
    }
}

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

/// `limit N/s` state of one rule slot (`struct ferret_limit`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limit {
    pub window_start_ns: u64,
    pub count: u64,
}

/// Plain old data shared with the C side: any bit pattern is a valid
/// value and there are no implicit padding bytes, so a value can be viewed
/// as bytes and read back from them (the kernel crate lends this to aya's
/// `Pod` for its maps).
///
/// # Safety
/// Implement only for `repr(C)` types made of integers and integer arrays,
/// with explicit padding fields.
pub unsafe trait Plain: Copy + 'static {}

// SAFETY: every type below is repr(C), made only of integers and integer
// arrays, with explicit padding fields, so every bit pattern is valid and
// there are no implicit padding bytes.
unsafe impl Plain for Insn {}
unsafe impl Plain for Rule {}
unsafe impl Plain for Config {}
unsafe impl Plain for Guard {}
unsafe impl Plain for Meta {}
unsafe impl Plain for Counters {}
unsafe impl Plain for Limit {}
unsafe impl Plain for EventHeader {}
unsafe impl Plain for AggKey {}
unsafe impl Plain for Hist {}
unsafe impl Plain for Dense {}
unsafe impl Plain for CompactKey {}
unsafe impl Plain for u32 {}
unsafe impl Plain for u64 {}

/// Views a plain-old-data value as bytes (for `BPF_PROG_TEST_RUN` inputs).
pub fn bytes_of<T: Plain>(value: &T) -> &[u8] {
    // SAFETY: T is Plain (no padding, every byte initialised).
    unsafe { std::slice::from_raw_parts((value as *const T).cast::<u8>(), size_of::<T>()) }
}

/// Reads a plain-old-data value from the front of `bytes`, if long enough.
pub fn read_pod<T: Plain>(bytes: &[u8]) -> Option<T> {
    if bytes.len() < size_of::<T>() {
        return None;
    }
    // SAFETY: length checked; T is Plain so any bytes are a valid T;
    // read_unaligned because ring buffer records are only 8-aligned.
    Some(unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<T>()) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::offset_of;

    #[test]
    fn layouts_match_the_c_header() {
        assert_eq!(size_of::<Insn>(), 40);
        assert_eq!(size_of::<Rule>(), 40 + 40 * MAX_INSNS);
        assert_eq!(size_of::<Guard>(), 8 + 16 * GUARD_RANGES);
        assert_eq!(size_of::<Config>(), 16 + GUARD_HOOKS * size_of::<Guard>());
        assert_eq!(offset_of!(Config, guards), 16);
        assert_eq!(size_of::<Meta>(), 144);
        assert_eq!(offset_of!(Meta, family), 68);
        assert_eq!(offset_of!(Meta, saddr), 80);
        assert_eq!(offset_of!(Meta, comm), 128);
        assert_eq!(size_of::<EventHeader>(), 32 + 144);
        assert_eq!(size_of::<Counters>(), 48);
        assert_eq!(size_of::<Limit>(), 16);
        assert_eq!(size_of::<AggKey>(), 120);
        assert_eq!(align_of::<AggKey>(), 8);
        assert_eq!(offset_of!(AggKey, saddr), 8);
        assert_eq!(offset_of!(AggKey, netns), 72);
        assert_eq!(offset_of!(AggKey, family), 104);
        assert_eq!(offset_of!(AggKey, proto), 110);
        assert_eq!(size_of::<Hist>(), 8 * (1 + HIST_BUCKETS));
        assert_eq!(size_of::<Dense>(), 8 * 257);
        assert_eq!(size_of::<CompactKey>(), 16);
        assert_eq!(offset_of!(CompactKey, packed), 8);
        assert_eq!(offset_of!(EventHeader, wire_len), 28);
        assert_eq!(TEST_SLOT, MAX_RULES);
    }

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

    #[test]
    fn read_pod_refuses_short_input() {
        let m = Meta {
            len: 7,
            ..Meta::default()
        };
        let bytes = bytes_of(&m);
        assert_eq!(read_pod::<Meta>(bytes), Some(m));
        assert_eq!(read_pod::<Meta>(&bytes[..100]), None);
    }
}
