//! IR filter → branch program. Short-circuit code generation with labels
//! that are always placed after every jump to them, so all jumps go forward
//! and the kernel's bounded loop terminates.

use crate::abi::{self, Insn, MAX_INSNS, TARGET_MATCH, TARGET_NOMATCH};
use crate::catalog;
use crate::ir::{Atom, Filter};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LowerError {
    #[error("the filter needs {needed} comparisons; a rule holds at most {max}")]
    TooLong { needed: usize, max: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Match,
    NoMatch,
    Label(usize),
}

struct Gen {
    code: Vec<(Atom, Target, Target)>,
    /// Instruction index of each label, once placed.
    labels: Vec<Option<usize>>,
}

impl Gen {
    fn label(&mut self) -> usize {
        self.labels.push(None);
        self.labels.len() - 1
    }

    fn place(&mut self, label: usize) {
        self.labels[label] = Some(self.code.len());
    }

    fn emit(&mut self, f: &Filter, t: Target, e: Target) {
        match f {
            Filter::True => self.jump(t),
            Filter::False => self.jump(e),
            Filter::Atom(a) => self.code.push((*a, t, e)),
            Filter::Not(inner) => self.emit(inner, e, t),
            Filter::And(items) | Filter::Or(items) if items.is_empty() => {
                self.jump(if matches!(f, Filter::And(_)) { t } else { e })
            }
            Filter::And(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i + 1 == items.len() {
                        self.emit(item, t, e);
                    } else {
                        let next = self.label();
                        self.emit(item, Target::Label(next), e);
                        self.place(next);
                    }
                }
            }
            Filter::Or(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i + 1 == items.len() {
                        self.emit(item, t, e);
                    } else {
                        let next = self.label();
                        self.emit(item, t, Target::Label(next));
                        self.place(next);
                    }
                }
            }
        }
    }

    /// An unconditional jump: a comparison that always holds (`len & 0 == 0`
    /// on a field every packet carries).
    fn jump(&mut self, to: Target) {
        let always = Atom {
            field: abi::field::LEN,
            op: abi::op::EQ,
            value: 0,
            mask: 0,
            span: Default::default(),
        };
        self.code.push((always, to, to));
    }
}

/// Compiles a filter; `Filter::True` is the empty program (always matches).
pub fn lower_filter(f: &Filter) -> Result<Vec<Insn>, LowerError> {
    if *f == Filter::True {
        return Ok(Vec::new());
    }
    let mut g = Gen {
        code: Vec::new(),
        labels: Vec::new(),
    };
    g.emit(f, Target::Match, Target::NoMatch);
    if g.code.len() > MAX_INSNS {
        return Err(LowerError::TooLong {
            needed: g.code.len(),
            max: MAX_INSNS,
        });
    }
    let resolve = |t: Target, g: &Gen| -> u8 {
        match t {
            Target::Match => TARGET_MATCH,
            Target::NoMatch => TARGET_NOMATCH,
            // A label placed at the very end means "fell off the program".
            Target::Label(l) => match g.labels[l].expect("every label is placed") {
                i if i >= g.code.len() => TARGET_NOMATCH,
                i => i as u8,
            },
        }
    };
    Ok(g.code
        .iter()
        .map(|(a, t, e)| {
            let def = catalog::by_id(a.field).expect("atoms name catalog fields");
            let (value_hi, value_lo) = split(def, a.value);
            let (mask_hi, mask_lo) = split(def, a.mask);
            Insn {
                field: a.field,
                op: a.op,
                jt: resolve(*t, &g),
                jf: resolve(*e, &g),
                pad: 0,
                value_hi,
                value_lo,
                mask_hi,
                mask_lo,
            }
        })
        .collect())
}

/// The kernel's view of a 128-bit checker value: byte fields as their 16
/// bytes loaded in host order (hi = bytes 0..8), numbers in `lo`.
pub fn split(def: &catalog::FieldDef, v: u128) -> (u64, u64) {
    if def.is_bytes() {
        let b = v.to_be_bytes();
        let hi = u64::from_ne_bytes(b[..8].try_into().expect("8 bytes"));
        let lo = u64::from_ne_bytes(b[8..].try_into().expect("8 bytes"));
        (hi, lo)
    } else {
        (0, v as u64)
    }
}

/// The checker value a kernel word pair stands for: the inverse of [`split`].
pub fn join(def: &catalog::FieldDef, hi: u64, lo: u64) -> u128 {
    if def.is_bytes() {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&hi.to_ne_bytes());
        b[8..].copy_from_slice(&lo.to_ne_bytes());
        u128::from_be_bytes(b)
    } else {
        u128::from(lo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferret_grammar::ast::Span;

    fn atom(name: &str, v: u128) -> Filter {
        Filter::Atom(Atom::eq(catalog::lookup(name).unwrap(), v, Span::default()))
    }

    #[test]
    fn jumps_only_go_forward() {
        let f = Filter::Or(vec![
            Filter::And(vec![atom("sport", 1), atom("dport", 2)]),
            Filter::Not(Box::new(Filter::And(vec![
                atom("proto", 6),
                atom("ttl", 3),
            ]))),
        ]);
        let code = lower_filter(&f).unwrap();
        assert_eq!(code.len(), 4);
        for (i, insn) in code.iter().enumerate() {
            for t in [insn.jt, insn.jf] {
                assert!(
                    t == TARGET_MATCH || t == TARGET_NOMATCH || usize::from(t) > i,
                    "insn {i} jumps to {t}"
                );
            }
        }
    }

    #[test]
    fn too_long_a_filter_is_refused_with_its_size() {
        let f = Filter::Or((0..40).map(|p| atom("dport", p)).collect());
        assert_eq!(
            lower_filter(&f),
            Err(LowerError::TooLong {
                needed: 40,
                max: MAX_INSNS
            })
        );
    }
}
