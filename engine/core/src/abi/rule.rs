//! The rule table: a rule is a branch program of instructions over packet
//! fields, plus its hooks and actions (`struct ferret_rule`).

pub const MAX_RULES: usize = 64;
pub const MAX_INSNS: usize = 32;
pub const MAX_SNAPLEN: u32 = 1500;
/// Rule slot reserved for `BPF_PROG_TEST_RUN` of the filter (`FERRET_TEST_SLOT`).
pub const TEST_SLOT: usize = MAX_RULES;

pub const TARGET_MATCH: u8 = 0xfe;
pub const TARGET_NOMATCH: u8 = 0xff;

/// Filter field ids (`enum ferret_field`).
pub mod field {
    /// No field: a pre-check that is off (`FERRET_F_NONE`).
    pub const NONE: u8 = 0;
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
    /// Not in the catalog: bit i is set when pcap-filter part i of the
    /// rule being evaluated accepts the packet (`Meta::pcap`).
    pub const PCAP: u8 = 20;
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

/// Action flags (`enum ferret_action`).
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
    /// pcap-filter parts, at most [`super::PCAP_UNITS`]; their programs
    /// are in `pcap_progs` at [`super::pcap_prog_index`].
    pub pcap_units: u32,
    pub pad: u32,
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
            pcap_units: 0,
            pad: 0,
            insns: [Insn::default(); MAX_INSNS],
        }
    }
}

/// Per-rule, per-CPU counters (`struct ferret_counters`, index = rule slot).
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

/// `limit N/s` state of one rule slot (`struct ferret_limit`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limit {
    pub window_start_ns: u64,
    pub count: u64,
}
