//! A classic BPF program run on what is known of a packet instead of on a
//! packet: a few bytes (whole or in part), one load whose value is known
//! to be none of a set, and an upper bound on the captured length. It
//! answers one question, soundly: can the program accept some packet with
//! those facts? "No" must be true for every such packet; "yes" may be
//! wrong (the hook pre-check then only lets more through).
//!
//! Values are tracked bit by bit (known ones, known zeros, unknown), and
//! where a branch cannot be decided both ways are followed, with the
//! visited (pc, registers, scratch) states remembered. A run that needs
//! more than [`STEP_BUDGET`] steps answers "yes". The semantics followed
//! are interp.rs's (libpcap's `bpf_filter`): a load past the captured
//! bytes rejects, division by zero rejects.

use super::abstract_value::{Bits, Val};
use super::insn::{class, misc, mode, op, size, src, Insn, MEM_WORDS};
use super::validate::Program;
use std::collections::HashSet;

/// Abstract steps one run may take before it gives up (and answers "yes").
const STEP_BUDGET: usize = 20_000;

/// What is known of the packets a run stands for.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Bytes known in part or whole: (offset, value, mask of the known bits).
    pub bytes: Vec<(u32, u8, u8)>,
    /// A load of exactly this place whose value is none of these.
    pub excluded: Option<Excluded>,
    /// The captured length is at most this: a load that ends past it fails.
    pub max_len: Option<u32>,
}

/// A load (offset, size in bytes) known to give none of `values`.
#[derive(Debug, Clone)]
pub struct Excluded {
    pub offset: u32,
    pub bytes: u32,
    pub values: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct State {
    pc: usize,
    a: Val,
    x: Val,
    mem: [Val; MEM_WORDS],
}

/// Whether `prog` can accept some packet the facts describe ("yes" when unsure).
pub fn may_accept(prog: &Program, facts: &Facts) -> bool {
    let insns = prog.insns();
    let start = State {
        pc: 0,
        a: Val::known(0),
        x: Val::known(0),
        // The validator does not prove scratch written before it is read.
        mem: [Val::ANY; MEM_WORDS],
    };
    let mut seen: HashSet<State> = HashSet::new();
    let mut todo = vec![start];
    let mut steps = 0usize;
    while let Some(s) = todo.pop() {
        steps += 1;
        if steps > STEP_BUDGET {
            return true;
        }
        if !seen.insert(s.clone()) {
            continue;
        }
        let Some(&insn) = insns.get(s.pc) else {
            continue; // off the end: rejects, as interp.rs does
        };
        match step(&s, insn, facts) {
            Step::Accept => return true,
            Step::Reject => {}
            Step::Next(next) => todo.extend(next),
        }
    }
    false
}

enum Step {
    Accept,
    Reject,
    Next(Vec<State>),
}

fn step(s: &State, insn: Insn, facts: &Facts) -> Step {
    let Insn { code, jt, jf, k } = insn;
    let mut n = s.clone();
    n.pc += 1;
    match insn.class() {
        class::RET => {
            let v = match code & 0x18 {
                src::A => s.a.bits,
                src::X => s.x.bits,
                _ => Bits::known(k),
            };
            if v.max() == 0 {
                Step::Reject
            } else {
                Step::Accept
            }
        }
        class::LD => {
            n.a = match insn.mode() {
                mode::ABS => match load(facts, u64::from(k), insn.size()) {
                    Some(v) => v,
                    None => return Step::Reject,
                },
                mode::IND => match load_ind(facts, s.x.bits, k, insn.size()) {
                    Some(v) => v,
                    None => return Step::Reject,
                },
                mode::IMM => Val::known(k),
                mode::MEM => s.mem[k as usize % MEM_WORDS],
                mode::LEN => Val::ANY,
                _ => return Step::Reject,
            };
            Step::Next(vec![n])
        }
        class::LDX => {
            n.x = match insn.mode() {
                mode::IMM => Val::known(k),
                mode::MEM => s.mem[k as usize % MEM_WORDS],
                mode::LEN => Val::ANY,
                mode::MSH => match load(facts, u64::from(k), size::B) {
                    Some(b) => Val::of(b.bits.and(Bits::known(0xf)).shift(2, true)),
                    None => return Step::Reject,
                },
                _ => return Step::Reject,
            };
            Step::Next(vec![n])
        }
        class::ST => {
            n.mem[k as usize % MEM_WORDS] = s.a;
            Step::Next(vec![n])
        }
        class::STX => {
            n.mem[k as usize % MEM_WORDS] = s.x;
            Step::Next(vec![n])
        }
        class::ALU => {
            let v = if insn.src() == src::X {
                s.x.bits
            } else {
                Bits::known(k)
            };
            match alu(insn.op(), s.a.bits, v) {
                Some(a) => {
                    n.a = Val::of(a);
                    Step::Next(vec![n])
                }
                None => Step::Reject,
            }
        }
        class::JMP => {
            if insn.op() == op::JA {
                n.pc = n.pc.wrapping_add_signed(k as i32 as isize);
                return Step::Next(vec![n]);
            }
            let v = if insn.src() == src::X {
                s.x
            } else {
                Val::known(k)
            };
            let (can_true, can_false) = branches(insn.op(), s.a, v, facts);
            let mut out = Vec::with_capacity(2);
            if can_true {
                out.push(State {
                    pc: n.pc + usize::from(jt),
                    ..n.clone()
                });
            }
            if can_false {
                out.push(State {
                    pc: n.pc + usize::from(jf),
                    ..n
                });
            }
            Step::Next(out)
        }
        _ => {
            if code & 0xf8 == misc::TXA {
                n.a = s.x;
            } else {
                n.x = s.a;
            }
            Step::Next(vec![n])
        }
    }
}

/// A's new value, or `None` when the operation surely rejects.
fn alu(o: u16, a: Bits, v: Bits) -> Option<Bits> {
    let exact = a.exact().zip(v.exact());
    Some(match o {
        op::AND => a.and(v),
        op::OR => a.or(v),
        op::LSH | op::RSH => match v.exact() {
            Some(by) => a.shift(by, o == op::LSH),
            None => Bits::ANY,
        },
        op::DIV | op::MOD if v.exact() == Some(0) => return None,
        op::NEG => a
            .exact()
            .map_or(Bits::ANY, |a| Bits::known(a.wrapping_neg())),
        op::ADD | op::SUB | op::MUL | op::DIV | op::MOD | op::XOR => match exact {
            Some((a, v)) => Bits::known(match o {
                op::ADD => a.wrapping_add(v),
                op::SUB => a.wrapping_sub(v),
                op::MUL => a.wrapping_mul(v),
                op::DIV => a / v,
                op::MOD => a % v,
                _ => a ^ v,
            }),
            None => Bits::ANY,
        },
        _ => return None,
    })
}

/// Which ways a conditional jump can go: (true, false).
fn branches(o: u16, a: Val, v: Val, facts: &Facts) -> (bool, bool) {
    let (ab, vb) = (a.bits, v.bits);
    if let (Some(x), Some(y)) = (ab.exact(), vb.exact()) {
        let taken = match o {
            op::JEQ => x == y,
            op::JGT => x > y,
            op::JGE => x >= y,
            _ => x & y != 0,
        };
        return (taken, !taken);
    }
    match o {
        op::JEQ => {
            let excluded = |val: Val, other: Bits| {
                val.excluded
                    && other.exact().is_some_and(|c| {
                        facts
                            .excluded
                            .as_ref()
                            .is_some_and(|e| e.values.contains(&c))
                    })
            };
            let differ = (ab.value ^ vb.value) & !(ab.unknown | vb.unknown) != 0;
            if differ || excluded(a, vb) || excluded(v, ab) {
                (false, true)
            } else {
                (true, true)
            }
        }
        op::JGT if ab.min() > vb.max() => (true, false),
        op::JGT if ab.max() <= vb.min() => (false, true),
        op::JGE if ab.min() >= vb.max() => (true, false),
        op::JGE if ab.max() < vb.min() => (false, true),
        op::JSET if ab.value & vb.value != 0 => (true, false),
        op::JSET if ab.max() & vb.max() == 0 => (false, true),
        _ => (true, true),
    }
}

fn width(sz: u16) -> u32 {
    match sz {
        size::W => 4,
        size::H => 2,
        _ => 1,
    }
}

/// A packet load: `None` when it surely fails, else what is known of it.
fn load(facts: &Facts, off: u64, sz: u16) -> Option<Val> {
    let n = width(sz);
    if facts
        .max_len
        .is_some_and(|max| off + u64::from(n) > u64::from(max))
    {
        return None;
    }
    if let Some(e) = &facts.excluded {
        if u64::from(e.offset) == off && e.bytes == n {
            return Some(Val {
                bits: Bits::ANY.and(Bits::known(mask_of(n))),
                excluded: true,
            });
        }
    }
    let mut bits = Bits::known(0);
    for i in 0..u64::from(n) {
        let byte = facts
            .bytes
            .iter()
            .find(|(at, _, _)| u64::from(*at) == off + i)
            .map_or(
                Bits {
                    value: 0,
                    unknown: 0xff,
                },
                |&(_, v, m)| Bits {
                    value: u32::from(v & m),
                    unknown: u32::from(!m),
                },
            );
        bits = bits.shift(8, true).or(byte);
    }
    Some(Val::of(bits))
}

/// A load at X + k: exact when X is, else unknown (and failing surely
/// only when even the smallest X puts it past the captured bytes).
fn load_ind(facts: &Facts, x: Bits, k: u32, sz: u16) -> Option<Val> {
    let off = |x: u32| u64::from(x) + u64::from(k);
    match x.exact() {
        Some(x) => load(facts, off(x), sz),
        None => {
            let end = off(x.min()) + u64::from(width(sz));
            if facts.max_len.is_some_and(|max| end > u64::from(max)) {
                None
            } else {
                Some(Val::of(Bits::ANY.and(Bits::known(mask_of(width(sz))))))
            }
        }
    }
}

fn mask_of(bytes: u32) -> u32 {
    if bytes >= 4 {
        u32::MAX
    } else {
        (1u32 << (8 * bytes)) - 1
    }
}

#[cfg(test)]
#[path = "abstract_run_tests.rs"]
mod tests;
