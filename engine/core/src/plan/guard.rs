//! Hook pre-checks: for each built-in hook, one field that every active
//! rule on it needs, and the values it must have for any of them to match.
//! The kernel side turns a call away on that test alone (ebpf/guard.bpf.h)
//! before it sets up an event or walks the rules, which is most of what a
//! non-matching call costs.
//!
//! The values are read off the rules' branch programs, the very code the
//! kernel interprets: every path that reaches MATCH must pass a comparison
//! on the field that holds (which also proves the field present), and the
//! ranges those comparisons allow, joined over all paths and rules, are the
//! pre-check. Where that cannot be shown, the hook gets none. Widening (a
//! hull instead of many ranges) only lets more through, never less.

use crate::abi::{self, field, op, Guard, Insn, Rule, GUARD_HOOKS, GUARD_RANGES, TARGET_MATCH};
use crate::ir::PcapUnit;
use crate::pcap::prefilter::{fit, merge};

/// Fields the kernel side can read before an event is set up, cheapest
/// first (ties go to the first), with the largest value each can hold.
/// Addresses are pre-checked for IPv4 packets only, as the address in
/// network byte order (so a CIDR block is one range); the kernel leaves
/// other packets to the full path.
const CANDIDATES: [(u8, u64); 8] = [
    (field::REASON, u32::MAX as u64),
    (field::LEN, u32::MAX as u64),
    (field::MARK, u32::MAX as u64),
    (field::PROTO, u8::MAX as u64),
    (field::DPORT, u16::MAX as u64),
    (field::SPORT, u16::MAX as u64),
    (field::DADDR, u32::MAX as u64),
    (field::SADDR, u32::MAX as u64),
];

fn is_address(id: u8) -> bool {
    id == field::SADDR || id == field::DADDR
}

/// An IPv4 address is stored as `::ffff:a.b.c.d`: these are its upper 96 bits.
const V4_MAPPED: u128 = 0xffff << 32;

/// Path states kept per instruction before they are widened to a hull.
const MAX_STATES: usize = 64;

/// An inclusive range of values; `None` on a path means "not tested yet",
/// so the field may even be absent there.
type Range = (u64, u64);

/// The pre-check of every guardable hook for these kernel rule entries;
/// `pcap[i]` are the pcap-filter parts of `rules[i]` (none where missing).
/// A field every rule tests comes first; else, when every rule needs a
/// pcap-filter part, the keys those parts admit (guard_pcap.rs).
/// A tracking rule anywhere turns them all off: a tracked packet matches
/// whatever its fields, and freed packets must leave the track map.
pub fn hook_guards(rules: &[Rule], pcap: &[&[PcapUnit]]) -> [Guard; GUARD_HOOKS] {
    let mut guards = [Guard::default(); GUARD_HOOKS];
    let active: Vec<(&Rule, &[PcapUnit])> = rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.state == abi::RULE_ACTIVE)
        .map(|(i, r)| (r, pcap.get(i).copied().unwrap_or_default()))
        .collect();
    if active.iter().any(|(r, _)| r.actions & abi::act::TRACK != 0) {
        return guards;
    }
    for (slot, guard) in guards.iter_mut().enumerate() {
        let hook = abi::guard_hook(slot);
        let on_hook: Vec<(&[Insn], &[PcapUnit])> = active
            .iter()
            .filter(|(r, _)| r.hooks & (1 << hook) != 0)
            .map(|(r, units)| (&r.insns[..(r.ninsns as usize).min(abi::MAX_INSNS)], *units))
            .collect();
        let programs: Vec<&[Insn]> = on_hook.iter().map(|(p, _)| *p).collect();
        // The pcap-filter pre-check reads the device of the packet's view,
        // which tracepoints give typed; function triggers get none.
        let pcap_guard = || {
            (slot != abi::GUARD_FUNC)
                .then(|| super::guard_pcap::pcap_guard(&on_hook))
                .flatten()
        };
        if let Some(g) = guard_for(&programs).or_else(pcap_guard) {
            *guard = g;
        }
    }
    guards
}

/// The most selective pre-check all of `programs` allow, if any.
pub fn guard_for(programs: &[&[Insn]]) -> Option<Guard> {
    if programs.is_empty() {
        return None;
    }
    let mut best: Option<(f64, Guard)> = None;
    for (id, max) in CANDIDATES {
        let per_program: Option<Vec<_>> = programs
            .iter()
            .map(|p| matching_values(p, id, max))
            .collect();
        let Some(per_program) = per_program else {
            continue;
        };
        let all = per_program.into_iter().flatten().collect();
        let ranges = fit(merge(all), GUARD_RANGES);
        let covered: f64 = ranges.iter().map(|(lo, hi)| (hi - lo) as f64 + 1.0).sum();
        let share = covered / (max as f64 + 1.0);
        if best.as_ref().is_none_or(|(s, _)| share < *s) {
            let mut g = Guard {
                field: id.into(),
                nranges: ranges.len() as u32,
                ..Guard::default()
            };
            for (i, (lo, hi)) in ranges.into_iter().enumerate() {
                g.lo[i] = lo;
                g.hi[i] = hi;
            }
            best = Some((share, g));
        }
    }
    best.map(|(_, g)| g)
}

/// Values of `id` with which `insns` can reach MATCH, a range per path
/// class; `None` when some path matches without testing the field (an
/// empty program matches everything).
fn matching_values(insns: &[Insn], id: u8, max: u64) -> Option<Vec<Range>> {
    // Passing a test (a comparison that holds) is the only thing that
    // narrows a path; failing one says nothing (the field may be absent).
    let mut incoming: Vec<Vec<Option<Range>>> = vec![Vec::new(); insns.len()];
    let mut matched: Vec<Option<Range>> = Vec::new();
    if insns.is_empty() {
        return None;
    }
    incoming[0].push(None);
    for pc in 0..insns.len() {
        let states = widen(std::mem::take(&mut incoming[pc]));
        let insn = &insns[pc];
        let passed = passing_range(insn, id, max);
        for s in states {
            let on_true = match passed {
                Pass::Never => None,
                Pass::Unrelated => Some(s),
                Pass::Within(r) => intersect(s, r).map(Some),
            };
            for (target, state) in [(insn.jt, on_true), (insn.jf, Some(s))] {
                let Some(state) = state else {
                    continue;
                };
                if target == TARGET_MATCH {
                    matched.push(state);
                } else if usize::from(target) > pc && usize::from(target) < insns.len() {
                    incoming[usize::from(target)].push(state);
                }
                // Anything else (NOMATCH, a backward jump, off the end)
                // cannot match: the kernel and eval.rs agree on that.
            }
        }
    }
    // One untested path (None) is enough to match without the field.
    matched.into_iter().collect()
}

enum Pass {
    /// The comparison cannot hold (unknown op, impossible high word).
    Never,
    /// It tests another field.
    Unrelated,
    /// When it holds, the field is present with a value in this range.
    Within(Range),
}

/// What it takes for `insn` to hold, as a statement about field `id`.
fn passing_range(insn: &Insn, id: u8, max: u64) -> Pass {
    if insn.field >= 32 || !(op::EQ..=op::GE).contains(&insn.op) {
        return Pass::Never;
    }
    if insn.field != id {
        return Pass::Unrelated;
    }
    if is_address(id) {
        return address_range(insn);
    }
    let any = (0, max);
    // A mask that drops bits the field can have hides the value: only
    // the field's presence is known then.
    if insn.mask_lo & max != max {
        return Pass::Within(any);
    }
    let v = insn.value_lo;
    let exact = |lo: u64, hi: u64| {
        if lo > hi || lo > max {
            Pass::Never
        } else {
            Pass::Within((lo, hi.min(max)))
        }
    };
    match insn.op {
        // Numbers load with hi == 0: equality with another high word never holds.
        op::EQ if insn.value_hi != 0 => Pass::Never,
        op::EQ => exact(v, v),
        op::LT if v == 0 => Pass::Never,
        op::LT => exact(0, v - 1),
        op::LE => exact(0, v),
        op::GT if v == u64::MAX => Pass::Never,
        op::GT => exact(v + 1, max),
        op::GE => exact(v, max),
        _ => Pass::Within(any), // NE: present, any value but one
    }
}

/// What an address comparison that holds says about an IPv4 packet's
/// address (network byte order): the kernel loads the 16 stored bytes as
/// two host-order words and compares them masked (eval.rs).
fn address_range(insn: &Insn) -> Pass {
    let any = Pass::Within((0, u32::MAX as u64));
    let Some(def) = crate::catalog::by_id(insn.field) else {
        return any;
    };
    let value = super::join(def, insn.value_hi, insn.value_lo);
    let mask = super::join(def, insn.mask_hi, insn.mask_lo);
    if insn.op != op::EQ {
        return any;
    }
    // An IPv4 packet's upper 96 bits are V4_MAPPED.
    if (V4_MAPPED & mask) >> 32 != value >> 32 {
        return Pass::Never;
    }
    let (v, m) = (value as u32, mask as u32);
    if v & !m != 0 {
        return Pass::Never;
    }
    // A prefix mask (ones, then zeros) leaves one block of addresses.
    if m.leading_ones() + m.trailing_zeros() == 32 {
        Pass::Within((v.into(), (v | !m).into()))
    } else {
        any
    }
}

fn intersect(s: Option<Range>, r: Range) -> Option<Range> {
    let Some((lo, hi)) = s else {
        return Some(r);
    };
    let (lo, hi) = (lo.max(r.0), hi.min(r.1));
    (lo <= hi).then_some((lo, hi))
}

/// Deduplicated states; past MAX_STATES the ranges become their hull.
fn widen(mut states: Vec<Option<Range>>) -> Vec<Option<Range>> {
    states.sort_unstable();
    states.dedup();
    if states.len() <= MAX_STATES {
        return states;
    }
    let untested = states.iter().any(Option::is_none);
    let ranges: Vec<Range> = states.into_iter().flatten().collect();
    let hull = ranges.iter().fold(None, |h: Option<Range>, &(lo, hi)| {
        Some(h.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))))
    });
    let mut out = Vec::new();
    if untested {
        out.push(None);
    }
    out.extend(hull.map(Some));
    out
}

/// Whether a packet passes `guard`, as the kernel decides it: the oracle
/// of the tests. Addresses that are not IPv4 are left to the rules.
pub fn admits(guard: &Guard, meta: &abi::Meta) -> bool {
    if guard.field == 0 {
        return true;
    }
    let id = guard.field as u8;
    if id == field::PCAP {
        // Decided on the packet's bytes: guard_pcap::admits_frame.
        return true;
    }
    if meta.present & (1 << id) == 0 {
        return false;
    }
    let v = match (id, super::eval::load_field(meta, id)) {
        (field::SADDR, _) => ipv4_of(&meta.saddr),
        (field::DADDR, _) => ipv4_of(&meta.daddr),
        (_, Some((_, v))) => Some(v),
        (_, None) => return false,
    };
    let Some(v) = v else {
        return true;
    };
    (0..guard.nranges as usize).any(|i| guard.lo[i] <= v && v <= guard.hi[i])
}

fn ipv4_of(addr: &[u8; 16]) -> Option<u64> {
    let a = u128::from_be_bytes(*addr);
    (a >> 32 == V4_MAPPED >> 32).then_some(u64::from(a as u32))
}

#[cfg(test)]
#[path = "guard_tests.rs"]
mod tests;
