//! The reference evaluator of branch programs: what the kernel interpreter
//! in ebpf/ must compute, written the way the kernel reads its inputs (raw
//! bytes loaded as host-order words). The differential test runs both.

use crate::abi::{op, Insn, Meta, MAX_INSNS, TARGET_MATCH};
use crate::meta_access::FieldValue;

/// The field as the kernel loads it: (hi, lo), or `None` when absent.
pub fn load_field(meta: &Meta, id: u8) -> Option<(u64, u64)> {
    if id >= 32 || meta.present & (1u32 << id) == 0 {
        return None;
    }
    let words = |b: &[u8; 16]| {
        (
            u64::from_ne_bytes(b[..8].try_into().expect("8 bytes")),
            u64::from_ne_bytes(b[8..].try_into().expect("8 bytes")),
        )
    };
    Some(match meta.field(id)? {
        FieldValue::Bytes(b) => words(&b),
        FieldValue::Number(n) => (0, n),
    })
}

fn compare(insn: &Insn, hi: u64, lo: u64) -> bool {
    let (hm, lm) = (hi & insn.mask_hi, lo & insn.mask_lo);
    let eq = hm == insn.value_hi && lm == insn.value_lo;
    match insn.op {
        op::EQ => eq,
        op::NE => !eq,
        op::LT => lm < insn.value_lo,
        op::LE => lm <= insn.value_lo,
        op::GT => lm > insn.value_lo,
        op::GE => lm >= insn.value_lo,
        _ => false,
    }
}

/// Runs a branch program on packet metadata: true when it reaches MATCH.
/// An empty program matches; a backward or out-of-range jump, or running
/// off the end, does not.
pub fn eval_insns(insns: &[Insn], meta: &Meta) -> bool {
    if insns.is_empty() {
        return true;
    }
    let mut pc = 0usize;
    for _ in 0..MAX_INSNS {
        let Some(insn) = insns.get(pc) else {
            return false;
        };
        let holds = load_field(meta, insn.field).is_some_and(|(hi, lo)| compare(insn, hi, lo));
        let target = if holds { insn.jt } else { insn.jf };
        if target == TARGET_MATCH {
            return true;
        }
        let next = usize::from(target);
        if next <= pc || next >= insns.len() {
            return false;
        }
        pc = next;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::{field, TARGET_MATCH, TARGET_NOMATCH};

    fn dport_is(v: u64, jt: u8, jf: u8) -> Insn {
        Insn {
            field: field::DPORT,
            op: op::EQ,
            jt,
            jf,
            value_lo: v,
            mask_lo: 0xffff,
            ..Insn::default()
        }
    }

    #[test]
    fn empty_program_matches_and_absent_fields_take_the_false_branch() {
        let meta = Meta::default();
        assert!(eval_insns(&[], &meta));
        assert!(!eval_insns(
            &[dport_is(0, TARGET_MATCH, TARGET_NOMATCH)],
            &meta
        ));
        assert!(eval_insns(
            &[dport_is(0, TARGET_NOMATCH, TARGET_MATCH)],
            &meta
        ));
    }

    #[test]
    fn backward_jumps_do_not_match() {
        let meta = Meta {
            dport: 1,
            present: 1 << field::DPORT,
            ..Meta::default()
        };
        let code = [
            dport_is(1, 1, TARGET_NOMATCH),
            dport_is(1, 0, TARGET_NOMATCH),
        ];
        assert!(!eval_insns(&code, &meta));
    }
}
