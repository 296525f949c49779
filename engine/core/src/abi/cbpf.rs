//! Classic BPF programs for the in-kernel interpreter (`ebpf/cbpf.bpf.h`):
//! the `pcap_progs` map's values and the test frame
//! (`struct ferret_cbpf_prog`, `struct ferret_cbpf_frame`). An instruction
//! is libpcap's `struct bpf_insn`, [`crate::pcap::Insn`]
//! (`struct ferret_cbpf_insn`).

use crate::pcap::{Insn, InvalidProgram, Limits, Program};

/// Program slots of the `pcap_progs` map.
pub const CBPF_PROGS: usize = 64;
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
        && !Limits::KERNEL.backward_jumps
        && CBPF_WINDOW.is_power_of_two()
);

/// A program as the kernel reads it; `len == 0` is an empty slot (rejects).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CbpfProg {
    pub len: u32,
    pub pad: u32,
    pub insns: [Insn; CBPF_MAX_INSNS],
}

impl Default for CbpfProg {
    fn default() -> Self {
        CbpfProg {
            len: 0,
            pad: 0,
            insns: [Insn::default(); CBPF_MAX_INSNS],
        }
    }
}

impl CbpfProg {
    /// The kernel's copy of `prog`, which must pass [`Limits::KERNEL`]
    /// (the kernel bounds a run by the program's length, so a backward
    /// jump would cut runs short where libpcap loops).
    pub fn new(prog: &Program) -> Result<CbpfProg, InvalidProgram> {
        let checked = Program::new(prog.insns().to_vec(), &Limits::KERNEL)?;
        let mut out = CbpfProg {
            len: checked.insns().len() as u32,
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
    fn a_program_with_a_backward_jump_is_refused() {
        // ld #0; ja -2 (back to 0); ret #0
        let insns = vec![
            Insn::new(0x00, 0, 0, 0),
            Insn::new(0x05, 0, 0, (-2i32) as u32),
            Insn::new(0x06, 0, 0, 0),
        ];
        let loops = Limits {
            backward_jumps: true,
            ..Limits::KERNEL
        };
        let prog = Program::new(insns, &loops).expect("valid where loops are");
        assert_eq!(
            CbpfProg::new(&prog),
            Err(InvalidProgram::BackwardJump { pc: 1 })
        );
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
