//! The hook pre-check for rules that need a pcap-filter part: when every
//! active rule on a hook can only match a packet one of its pcap-filter
//! parts accepts, the keys those parts can accept (pcap::prefilter) are the
//! pre-check (field `PCAP`). The kernel computes a packet's key from the
//! bytes the part would see, with a few loads, and turns the call away
//! before it sets up an event, walks the rules or runs libpcap's program.

use crate::abi::{self, field, op, Guard, Insn, GUARD_RANGES, TARGET_MATCH};
use crate::ir::PcapUnit;
use crate::pcap::prefilter::{self, fit, KeyRange};

/// The pre-check for these rules (branch program and pcap-filter parts of
/// each), when each of them needs one of its parts on every way it matches.
pub fn pcap_guard(rules: &[(&[Insn], &[PcapUnit])]) -> Option<Guard> {
    if rules.is_empty() {
        return None;
    }
    let mut all: Vec<KeyRange> = Vec::new();
    for (insns, units) in rules {
        let needed = needed_units(insns);
        // Of the parts the rule needs, the one that admits the fewest keys.
        let keys = units
            .iter()
            .enumerate()
            .filter(|(i, _)| needed & (1 << i) != 0)
            .map(|(_, u)| &u.keys)
            .min_by(|a, b| coverage(a).total_cmp(&coverage(b)))?;
        all.extend(keys.iter().copied());
    }
    let ranges = fit(prefilter::merge(all), GUARD_RANGES);
    let mut g = Guard {
        field: field::PCAP.into(),
        nranges: ranges.len() as u32,
        ..Guard::default()
    };
    for (i, (lo, hi)) in ranges.into_iter().enumerate() {
        g.lo[i] = lo;
        g.hi[i] = hi;
    }
    Some(g)
}

fn coverage(keys: &[KeyRange]) -> f64 {
    keys.iter().map(|(lo, hi)| (hi - lo) as f64 + 1.0).sum()
}

/// The pcap-filter parts (bits of `Meta::pcap`) that every way through
/// `insns` to MATCH has found accepting. A part is proven only by taking
/// the true edge of its own atom (`pcap & bit == bit`).
fn needed_units(insns: &[Insn]) -> u8 {
    if insns.is_empty() {
        return 0;
    }
    // Per instruction, the parts proven on every way that reaches it.
    let mut incoming: Vec<Option<u8>> = vec![None; insns.len()];
    incoming[0] = Some(0);
    let mut at_match: Option<u8> = None;
    let join = |slot: &mut Option<u8>, s: u8| *slot = Some(slot.map_or(s, |p| p & s));
    for (pc, insn) in insns.iter().enumerate() {
        let Some(s) = incoming[pc] else {
            continue;
        };
        let proves = insn.field == field::PCAP
            && insn.op == op::EQ
            && insn.mask_lo == insn.value_lo
            && insn.mask_lo.is_power_of_two()
            && insn.mask_lo < 1 << abi::PCAP_UNITS;
        let on_true = if proves { s | insn.mask_lo as u8 } else { s };
        for (target, state) in [(insn.jt, on_true), (insn.jf, s)] {
            if target == TARGET_MATCH {
                join(&mut at_match, state);
            } else if usize::from(target) > pc && usize::from(target) < insns.len() {
                join(&mut incoming[usize::from(target)], state);
            }
        }
    }
    // A rule that can never match proves nothing: the hook gets no pre-check.
    at_match.unwrap_or(0)
}

/// Whether a packet whose bytes, as its pcap-filter parts see them, are
/// `frame` passes a `PCAP` pre-check, as the kernel decides it.
pub fn admits_frame(guard: &Guard, frame: &[u8], raw_ip: bool) -> bool {
    if guard.field != u32::from(field::PCAP) {
        return true;
    }
    let ranges: Vec<KeyRange> = (0..guard.nranges as usize)
        .map(|i| (guard.lo[i], guard.hi[i]))
        .collect();
    prefilter::admits(&ranges, prefilter::frame_key(frame, raw_ip))
}

#[cfg(test)]
#[path = "guard_pcap_tests.rs"]
mod tests;
