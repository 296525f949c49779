//! Classic BPF programs for the in-kernel interpreter (`ebpf/cbpf.bpf.h`):
//! the `pcap_progs` map's values and the test frame
//! (`struct ferret_cbpf_prog`, `struct ferret_cbpf_frame`). An instruction
//! is libpcap's `struct bpf_insn`, [`crate::pcap::Insn`]
//! (`struct ferret_cbpf_insn`).

use crate::pcap::{Insn, InvalidProgram, Limits, Program};

/// pcap-filter parts one rule may hold (`Rule::pcap_units`).
pub const PCAP_UNITS: usize = 4;
/// Program slots of the `pcap_progs` map: per rule slot (and the test
/// slot), per part, one program for each link layer.
pub const CBPF_PROGS: usize = (super::MAX_RULES + 1) * PCAP_UNITS * 2;
/// Steps a looping program (`protochain`) may take before it rejects.
pub const CBPF_MAX_STEPS: u32 = 4096;

/// The `pcap_progs` slot of part `unit` of the rule in `rule_slot`:
/// `raw_ip` picks the program for packets seen from their IP header.
pub const fn pcap_prog_index(rule_slot: usize, unit: usize, raw_ip: bool) -> usize {
    (rule_slot * PCAP_UNITS + unit) * 2 + raw_ip as usize
}
/// Longest program the kernel runs: [`Limits::KERNEL`]'s.
pub const CBPF_MAX_INSNS: usize = 512;
pub const CBPF_MEM_WORDS: usize = 16;
/// Leading packet bytes the kernel copies once and loads from.
pub const CBPF_WINDOW: usize = 256;
/// Bytes of the test entry point's frame.
pub const CBPF_TEST_BYTES: usize = 4096;

// The kernel runs what the validator's kernel limits admit, and masks
// window offsets.
const _: () = assert!(
    CBPF_MAX_INSNS == Limits::KERNEL.max_insns
        && CBPF_MAX_STEPS == Limits::KERNEL.max_steps
        && CBPF_WINDOW.is_power_of_two()
);

/// A program as the kernel reads it; `len == 0` is an empty slot (rejects).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CbpfProg {
    pub len: u32,
    /// Steps one run may take: `len` without backward jumps, else the
    /// validator's budget; a run that uses them up rejects.
    pub steps: u32,
    pub insns: [Insn; CBPF_MAX_INSNS],
}

impl Default for CbpfProg {
    fn default() -> Self {
        CbpfProg {
            len: 0,
            steps: 0,
            insns: [Insn::default(); CBPF_MAX_INSNS],
        }
    }
}

impl CbpfProg {
    /// The kernel's copy of `prog`, which must pass [`Limits::KERNEL`]
    /// (the kernel bounds a run by its step budget).
    pub fn new(prog: &Program) -> Result<CbpfProg, InvalidProgram> {
        let checked = Program::new(prog.insns().to_vec(), &Limits::KERNEL)?;
        let mut out = CbpfProg {
            len: checked.insns().len() as u32,
            steps: checked.max_steps(),
            ..CbpfProg::default()
        };
        out.insns[..checked.insns().len()].copy_from_slice(checked.insns());
        Ok(out)
    }
}

/// The frame `ferret_test_cbpf` runs a program over.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CbpfFrame {
    /// Bytes of `data` captured, at most [`CBPF_TEST_BYTES`].
    pub caplen: u32,
    /// Length on the wire, what `len` loads.
    pub wirelen: u32,
    pub data: [u8; CBPF_TEST_BYTES],
}

impl Default for CbpfFrame {
    fn default() -> Self {
        CbpfFrame {
            caplen: 0,
            wirelen: 0,
            data: [0; CBPF_TEST_BYTES],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_looping_program_gets_the_step_budget_and_a_straight_one_its_length() {
        // ld #0; ja -2 (back to 0); ret #0
        let insns = vec![
            Insn::new(0x00, 0, 0, 0),
            Insn::new(0x05, 0, 0, (-2i32) as u32),
            Insn::new(0x06, 0, 0, 0),
        ];
        let prog = Program::new(insns, &Limits::KERNEL).expect("loops are admitted");
        assert_eq!(CbpfProg::new(&prog).unwrap().steps, CBPF_MAX_STEPS);
        let straight = Program::new(vec![Insn::new(0x06, 0, 0, 1)], &Limits::KERNEL).unwrap();
        assert_eq!(CbpfProg::new(&straight).unwrap().steps, 1);
    }

    #[test]
    fn every_rule_slot_has_its_own_programs() {
        let all: std::collections::HashSet<usize> = (0..=crate::abi::MAX_RULES)
            .flat_map(|s| {
                (0..PCAP_UNITS).flat_map(move |u| [false, true].map(|r| pcap_prog_index(s, u, r)))
            })
            .collect();
        assert_eq!(all.len(), CBPF_PROGS);
        assert!(all.iter().all(|&i| i < CBPF_PROGS));
    }

    #[test]
    fn a_program_keeps_its_instructions_and_length() {
        let insns = vec![
            Insn::new(0x15, 0, 1, 7),
            Insn::new(0x06, 0, 0, 1),
            Insn::new(0x06, 0, 0, 0),
        ];
        let prog = Program::new(insns.clone(), &Limits::KERNEL).unwrap();
        let k = CbpfProg::new(&prog).unwrap();
        assert_eq!(k.len, 3);
        assert_eq!(&k.insns[..3], &insns[..]);
        assert_eq!(k.insns[3], Insn::default());
    }
}
