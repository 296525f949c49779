//! A classic BPF interpreter with libpcap's `bpf_filter` semantics, the
//! reference the in-kernel interpreter is held to.
//!
//! What libpcap does and this copies: A, X and 16 scratch words start at
//! zero; a packet load that does not fit in the captured bytes rejects the
//! packet (returns 0); `len` loads the wire length, not the captured one;
//! division or modulo by a zero X rejects; a shift by X of 32 or more gives
//! 0; `ja` takes a signed offset (libpcap's `ip6 protochain` loops back).

use super::insn::{class, misc, mode, op, size, src, Insn, MEM_WORDS};
use super::validate::Program;

/// What one run of a program gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    /// The value of the `ret` taken: 0 rejects, anything else accepts
    /// (libpcap returns the snapshot length to keep).
    pub ret: u32,
    /// Instructions executed, the `ret` included.
    pub steps: u32,
    /// The run stopped because it used the program's step budget; `ret` is 0.
    pub out_of_steps: bool,
}

impl Run {
    pub fn accepted(&self) -> bool {
        self.ret != 0
    }
}

/// Runs `prog` on the captured bytes `data` of a packet that was
/// `wirelen` bytes long on the wire (`wirelen >= data.len()` for a real
/// capture, but nothing here relies on it).
pub fn run(prog: &Program, data: &[u8], wirelen: u32) -> Run {
    let insns = prog.insns();
    let max_steps = prog.max_steps();
    let mut a: u32 = 0;
    let mut x: u32 = 0;
    // The validator keeps scratch indexes below 16; the `%` below only
    // spares a bounds check that cannot fail.
    let mut mem = [0u32; MEM_WORDS];
    let mut pc: usize = 0;
    let mut steps: u32 = 0;
    let reject = |steps| Run {
        ret: 0,
        steps,
        out_of_steps: false,
    };
    loop {
        if steps >= max_steps {
            return Run {
                ret: 0,
                steps,
                out_of_steps: true,
            };
        }
        // A validated program ends in `ret` and jumps only inside itself.
        let Some(&insn) = insns.get(pc) else {
            return reject(steps);
        };
        steps += 1;
        pc += 1;
        let Insn { code, jt, jf, k } = insn;
        match insn.class() {
            class::RET => {
                let ret = match code & 0x18 {
                    src::A => a,
                    src::X => x,
                    _ => k,
                };
                return Run {
                    ret,
                    steps,
                    out_of_steps: false,
                };
            }
            class::LD => match insn.mode() {
                mode::ABS | mode::IND => {
                    let base = if insn.mode() == mode::IND { x } else { 0 };
                    match load(data, u64::from(base) + u64::from(k), insn.size()) {
                        Some(v) => a = v,
                        None => return reject(steps),
                    }
                }
                mode::IMM => a = k,
                mode::MEM => a = mem[k as usize % MEM_WORDS],
                mode::LEN => a = wirelen,
                _ => return reject(steps),
            },
            class::LDX => match insn.mode() {
                mode::IMM => x = k,
                mode::MEM => x = mem[k as usize % MEM_WORDS],
                mode::LEN => x = wirelen,
                mode::MSH => match data.get(k as usize) {
                    Some(&b) => x = u32::from(b & 0xf) << 2,
                    None => return reject(steps),
                },
                _ => return reject(steps),
            },
            class::ST => mem[k as usize % MEM_WORDS] = a,
            class::STX => mem[k as usize % MEM_WORDS] = x,
            class::ALU => {
                let v = if insn.src() == src::X { x } else { k };
                a = match insn.op() {
                    op::ADD => a.wrapping_add(v),
                    op::SUB => a.wrapping_sub(v),
                    op::MUL => a.wrapping_mul(v),
                    op::DIV if v == 0 => return reject(steps),
                    op::DIV => a / v,
                    op::MOD if v == 0 => return reject(steps),
                    op::MOD => a % v,
                    op::AND => a & v,
                    op::OR => a | v,
                    op::XOR => a ^ v,
                    op::LSH => a.checked_shl(v).unwrap_or(0),
                    op::RSH => a.checked_shr(v).unwrap_or(0),
                    op::NEG => a.wrapping_neg(),
                    _ => return reject(steps),
                };
            }
            class::JMP => {
                let taken = match insn.op() {
                    op::JA => {
                        // Signed, as libpcap sign-extends it.
                        pc = pc.wrapping_add_signed(k as i32 as isize);
                        continue;
                    }
                    o => {
                        let v = if insn.src() == src::X { x } else { k };
                        match o {
                            op::JEQ => a == v,
                            op::JGT => a > v,
                            op::JGE => a >= v,
                            op::JSET => a & v != 0,
                            _ => return reject(steps),
                        }
                    }
                };
                pc += usize::from(if taken { jt } else { jf });
            }
            _ => {
                if code & 0xf8 == misc::TXA {
                    a = x;
                } else {
                    x = a;
                }
            }
        }
    }
}

/// A big-endian load of `sz` at `off`, or `None` when it does not fit in
/// the captured bytes.
fn load(data: &[u8], off: u64, sz: u16) -> Option<u32> {
    let n: u64 = match sz {
        size::W => 4,
        size::H => 2,
        _ => 1,
    };
    if off + n > data.len() as u64 {
        return None;
    }
    let b = &data[off as usize..(off + n) as usize];
    Some(
        b.iter()
            .fold(0u32, |acc, &byte| (acc << 8) | u32::from(byte)),
    )
}

#[cfg(test)]
#[path = "interp_tests.rs"]
mod tests;
