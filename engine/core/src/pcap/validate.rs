//! The checks a classic BPF program passes before anything runs it: the
//! in-kernel interpreter relies on them instead of checking as it goes.
//!
//! Accepted are exactly the opcodes libpcap's own interpreter implements
//! (anything else makes `bpf_filter` abort), scratch indexes below 16, no
//! division or modulo by a constant 0, no constant shift of 32 or more, no
//! Linux special offset,
//! jumps that land inside the program, and a final `ret`, so every path
//! ends in a `ret`. With forward jumps only a run takes at most one step
//! per instruction; libpcap's `ip6 protochain` loops back, which
//! [`Limits::backward_jumps`] admits under a step budget.

use super::insn::{class, mode, op, Insn, MEM_WORDS};

/// Bounds a program must keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest program accepted, in instructions.
    pub max_insns: usize,
    /// Whether `ja` may jump backwards (only `ip6 protochain` needs it).
    pub backward_jumps: bool,
    /// Step budget of one run when backward jumps are admitted; a run
    /// that uses it up rejects the packet.
    pub max_steps: u32,
}

impl Limits {
    /// The bounds the in-kernel interpreter is built for.
    pub const KERNEL: Limits = Limits {
        max_insns: 512,
        backward_jumps: true,
        max_steps: 4096,
    };
}

/// Why a program was refused; `pc` is the instruction's index.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidProgram {
    #[error("empty program")]
    Empty,
    #[error("{len} instructions, more than the {max} allowed")]
    TooLong { len: usize, max: usize },
    #[error("instruction {pc}: unknown opcode {code:#06x}")]
    UnknownOpcode { pc: usize, code: u16 },
    #[error("instruction {pc}: jump to {target}, outside the program")]
    JumpOutOfRange { pc: usize, target: i64 },
    #[error("instruction {pc}: backward jump")]
    BackwardJump { pc: usize },
    #[error("instruction {pc}: scratch word {k}, there are 16")]
    ScratchOutOfRange { pc: usize, k: u32 },
    #[error("instruction {pc}: division or modulo by the constant 0")]
    DivisionByZero { pc: usize },
    #[error("instruction {pc}: shift by {k}, 32 or more")]
    ShiftTooFar { pc: usize, k: u32 },
    /// Linux's negative offsets (ancillary data such as the packet type
    /// or ifindex, and the network- and link-relative loads): libpcap emits
    /// them for `inbound`, `outbound` and `ifindex` on a dead handle, where
    /// its own interpreter fails the load, while a kernel would read them.
    #[error("instruction {pc}: Linux special offset {k:#x} (`inbound`, `outbound`, `ifindex`)")]
    LinuxOffset { pc: usize, k: u32 },
    #[error("the last instruction is not a `ret`")]
    NoFinalRet,
}

/// A program that passed [`Program::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    insns: Vec<Insn>,
    max_steps: u32,
}

impl Program {
    /// Validates `insns` against `limits`.
    pub fn new(insns: Vec<Insn>, limits: &Limits) -> Result<Program, InvalidProgram> {
        if insns.is_empty() {
            return Err(InvalidProgram::Empty);
        }
        if insns.len() > limits.max_insns {
            return Err(InvalidProgram::TooLong {
                len: insns.len(),
                max: limits.max_insns,
            });
        }
        for (pc, insn) in insns.iter().enumerate() {
            check_insn(pc, *insn, insns.len(), limits.backward_jumps)?;
        }
        if !insns.last().is_some_and(|i| i.is_ret()) {
            return Err(InvalidProgram::NoFinalRet);
        }
        // Forward jumps only: a run is at most one pass over the program.
        let straight = Program {
            max_steps: insns.len() as u32,
            insns,
        };
        Ok(if straight.loops() {
            Program {
                max_steps: limits.max_steps,
                ..straight
            }
        } else {
            straight
        })
    }

    pub fn insns(&self) -> &[Insn] {
        &self.insns
    }

    /// The most instructions one run executes before it gives up.
    pub fn max_steps(&self) -> u32 {
        self.max_steps
    }

    /// Whether any `ja` jumps backwards.
    pub fn loops(&self) -> bool {
        self.insns
            .iter()
            .any(|i| i.class() == class::JMP && i.op() == op::JA && (i.k as i32) < 0)
    }
}

/// The opcodes libpcap's `bpf_filter` has a case for.
const KNOWN_CODES: &[u16] = &[
    0x06, 0x16, // ret k, ret a
    0x20, 0x28, 0x30, // ld/ldh/ldb [k]
    0x40, 0x48, 0x50, // ld/ldh/ldb [x + k]
    0x80, 0x81, // ld len, ldx len
    0xb1, // ldx 4*([k]&0xf)
    0x00, 0x01, // ld #k, ldx #k
    0x60, 0x61, 0x02, 0x03, // ld M[k], ldx M[k], st, stx
    0x05, // ja
    0x15, 0x25, 0x35, 0x45, // jeq/jgt/jge/jset #k
    0x1d, 0x2d, 0x3d, 0x4d, // jeq/jgt/jge/jset x
    0x04, 0x14, 0x24, 0x34, 0x94, 0x54, 0x44, 0xa4, 0x64, 0x74, // alu #k
    0x0c, 0x1c, 0x2c, 0x3c, 0x9c, 0x5c, 0x4c, 0xac, 0x6c, 0x7c, // alu x
    0x84, // neg
    0x07, 0x87, // tax, txa
];

/// Linux's lowest special offset, `SKF_LL_OFF` (-0x200000).
const LINUX_SPECIAL_OFFSETS: u32 = 0xffe0_0000;

fn check_insn(pc: usize, insn: Insn, len: usize, backward: bool) -> Result<(), InvalidProgram> {
    let Insn { code, jt, jf, k } = insn;
    if !KNOWN_CODES.contains(&code) {
        return Err(InvalidProgram::UnknownOpcode { pc, code });
    }
    let in_range = |target: i64| {
        if (0..len as i64).contains(&target) {
            Ok(())
        } else {
            Err(InvalidProgram::JumpOutOfRange { pc, target })
        }
    };
    let next = pc as i64 + 1;
    match insn.class() {
        class::JMP if insn.op() == op::JA => {
            let off = i64::from(k as i32);
            if off < 0 && !backward {
                return Err(InvalidProgram::BackwardJump { pc });
            }
            in_range(next + off)?;
        }
        class::JMP => {
            in_range(next + i64::from(jt))?;
            in_range(next + i64::from(jf))?;
        }
        class::LD | class::LDX
            if matches!(insn.mode(), mode::ABS | mode::IND) && k >= LINUX_SPECIAL_OFFSETS =>
        {
            return Err(InvalidProgram::LinuxOffset { pc, k })
        }
        class::ST | class::STX => scratch(pc, k)?,
        class::LD | class::LDX if insn.mode() == mode::MEM => scratch(pc, k)?,
        class::ALU if insn.src() == 0 => match insn.op() {
            op::DIV | op::MOD if k == 0 => return Err(InvalidProgram::DivisionByZero { pc }),
            op::LSH | op::RSH if k >= 32 => return Err(InvalidProgram::ShiftTooFar { pc, k }),
            _ => {}
        },
        _ => {}
    }
    Ok(())
}

fn scratch(pc: usize, k: u32) -> Result<(), InvalidProgram> {
    if (k as usize) < MEM_WORDS {
        Ok(())
    } else {
        Err(InvalidProgram::ScratchOutOfRange { pc, k })
    }
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
