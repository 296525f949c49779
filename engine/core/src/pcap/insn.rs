//! Classic BPF instructions as libpcap lays them out (`struct bpf_insn`),
//! with the opcode fields the interpreter and the validator decode.

use std::fmt;

/// One classic BPF instruction: `code`, the two conditional jump offsets
/// and the constant, exactly libpcap's `struct bpf_insn`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

impl Insn {
    pub const fn new(code: u16, jt: u8, jf: u8, k: u32) -> Insn {
        Insn { code, jt, jf, k }
    }

    /// Instruction class (`BPF_CLASS`).
    pub const fn class(self) -> u16 {
        self.code & 0x07
    }

    /// Load size (`BPF_SIZE`).
    pub const fn size(self) -> u16 {
        self.code & 0x18
    }

    /// Load addressing mode (`BPF_MODE`).
    pub const fn mode(self) -> u16 {
        self.code & 0xe0
    }

    /// ALU or jump operation (`BPF_OP`).
    pub const fn op(self) -> u16 {
        self.code & 0xf0
    }

    /// Operand source, constant or X (`BPF_SRC`).
    pub const fn src(self) -> u16 {
        self.code & 0x08
    }

    /// Whether this instruction ends the program.
    pub const fn is_ret(self) -> bool {
        self.class() == class::RET
    }
}

/// Instruction classes.
pub mod class {
    pub const LD: u16 = 0x00;
    pub const LDX: u16 = 0x01;
    pub const ST: u16 = 0x02;
    pub const STX: u16 = 0x03;
    pub const ALU: u16 = 0x04;
    pub const JMP: u16 = 0x05;
    pub const RET: u16 = 0x06;
    pub const MISC: u16 = 0x07;
}

/// Load sizes.
pub mod size {
    pub const W: u16 = 0x00;
    pub const H: u16 = 0x08;
    pub const B: u16 = 0x10;
}

/// Load addressing modes.
pub mod mode {
    pub const IMM: u16 = 0x00;
    pub const ABS: u16 = 0x20;
    pub const IND: u16 = 0x40;
    pub const MEM: u16 = 0x60;
    pub const LEN: u16 = 0x80;
    pub const MSH: u16 = 0xa0;
}

/// ALU and jump operations (they share the `BPF_OP` bits).
pub mod op {
    pub const ADD: u16 = 0x00;
    pub const SUB: u16 = 0x10;
    pub const MUL: u16 = 0x20;
    pub const DIV: u16 = 0x30;
    pub const OR: u16 = 0x40;
    pub const AND: u16 = 0x50;
    pub const LSH: u16 = 0x60;
    pub const RSH: u16 = 0x70;
    pub const NEG: u16 = 0x80;
    pub const MOD: u16 = 0x90;
    pub const XOR: u16 = 0xa0;

    pub const JA: u16 = 0x00;
    pub const JEQ: u16 = 0x10;
    pub const JGT: u16 = 0x20;
    pub const JGE: u16 = 0x30;
    pub const JSET: u16 = 0x40;
}

/// Operand sources; for `ret`, `A` shares the bits of `X`.
pub mod src {
    pub const K: u16 = 0x00;
    pub const X: u16 = 0x08;
    pub const A: u16 = 0x10;
}

/// `misc` operations.
pub mod misc {
    pub const TAX: u16 = 0x00;
    pub const TXA: u16 = 0x80;
}

/// The number of scratch words (`BPF_MEMWORDS`).
pub const MEM_WORDS: usize = 16;

/// The conventional text of an instruction, like `tcpdump -d` prints it
/// (jump targets are relative here: `+jt`/`+jf`).
impl fmt::Display for Insn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Insn { code, jt, jf, k } = *self;
        let sz = match self.size() {
            size::W => "",
            size::H => "h",
            _ => "b",
        };
        let alu = |o: u16| match o {
            op::ADD => "add",
            op::SUB => "sub",
            op::MUL => "mul",
            op::DIV => "div",
            op::OR => "or",
            op::AND => "and",
            op::LSH => "lsh",
            op::RSH => "rsh",
            op::NEG => "neg",
            op::MOD => "mod",
            op::XOR => "xor",
            _ => "alu?",
        };
        let jmp = |o: u16| match o {
            op::JEQ => "jeq",
            op::JGT => "jgt",
            op::JGE => "jge",
            op::JSET => "jset",
            _ => "j?",
        };
        let x_or_k = |s: u16| {
            if s == src::X {
                "x".to_string()
            } else {
                format!("#{k:#x}")
            }
        };
        match self.class() {
            class::LD | class::LDX => {
                let reg = if self.class() == class::LD {
                    "ld"
                } else {
                    "ldx"
                };
                match self.mode() {
                    mode::IMM => write!(f, "{reg} #{k:#x}"),
                    mode::ABS => write!(f, "{reg}{sz} [{k}]"),
                    mode::IND => write!(f, "{reg}{sz} [x + {k}]"),
                    mode::MEM => write!(f, "{reg} M[{k}]"),
                    mode::LEN => write!(f, "{reg} #pktlen"),
                    mode::MSH => write!(f, "{reg} 4*([{k}]&0xf)"),
                    _ => write!(f, "unknown {code:#06x}"),
                }
            }
            class::ST => write!(f, "st M[{k}]"),
            class::STX => write!(f, "stx M[{k}]"),
            class::ALU if self.op() == op::NEG => write!(f, "neg"),
            class::ALU => write!(f, "{} {}", alu(self.op()), x_or_k(self.src())),
            class::JMP if self.op() == op::JA => write!(f, "ja +{k}"),
            class::JMP => write!(
                f,
                "{} {} jt +{jt} jf +{jf}",
                jmp(self.op()),
                x_or_k(self.src())
            ),
            class::RET if self.code & 0x18 == src::A => write!(f, "ret a"),
            class::RET if self.code & 0x18 == src::X => write!(f, "ret x"),
            class::RET => write!(f, "ret #{k}"),
            _ if self.code & 0xf8 == misc::TXA => write!(f, "txa"),
            _ => write!(f, "tax"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_decode_libpcaps_encoding() {
        // ldh [12] is BPF_LD|BPF_H|BPF_ABS.
        let i = Insn::new(0x28, 0, 0, 12);
        assert_eq!(
            (i.class(), i.size(), i.mode()),
            (class::LD, size::H, mode::ABS)
        );
        assert_eq!(i.to_string(), "ldh [12]");
        // jeq #0x800 is BPF_JMP|BPF_JEQ|BPF_K.
        let j = Insn::new(0x15, 0, 3, 0x800);
        assert_eq!((j.class(), j.op(), j.src()), (class::JMP, op::JEQ, src::K));
        assert_eq!(j.to_string(), "jeq #0x800 jt +0 jf +3");
        assert!(Insn::new(0x06, 0, 0, 262144).is_ret());
        assert_eq!(Insn::new(0xb1, 0, 0, 14).to_string(), "ldx 4*([14]&0xf)");
    }
}
