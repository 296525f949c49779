//! Finds filters that can never match. The filter is expanded into a
//! disjunction of conjunctions (bounded; a larger one is not analysed) and a
//! conjunction is impossible when its constraints on one field contradict,
//! including what a field's presence implies (ports exist only in TCP, UDP
//! and SCTP packets). Only certain contradictions are reported: when in
//! doubt, the rule is left alone.

use crate::abi::{field, op};
use crate::catalog;
use crate::ir::{Atom, Filter};

const MAX_CONJUNCTS: usize = 256;

#[derive(Debug, Clone, Copy)]
struct Lit {
    atom: Atom,
    positive: bool,
}

/// `Some(why)` when no packet can satisfy the filter.
pub(super) fn never_matches(f: &Filter, source: &str, offset: usize) -> Option<String> {
    let dnf = dnf(f, true)?;
    if dnf.is_empty() {
        return Some("the filter is always false".into());
    }
    let mut first_reason = None;
    for conj in &dnf {
        match conflict(conj, source, offset) {
            None => return None,
            Some(why) => {
                first_reason.get_or_insert(why);
            }
        }
    }
    first_reason
}

fn dnf(f: &Filter, positive: bool) -> Option<Vec<Vec<Lit>>> {
    Some(match (f, positive) {
        (Filter::True, true) | (Filter::False, false) => vec![vec![]],
        (Filter::True, false) | (Filter::False, true) => vec![],
        (Filter::Atom(atom), _) => vec![vec![Lit {
            atom: *atom,
            positive,
        }]],
        (Filter::Not(inner), _) => dnf(inner, !positive)?,
        (Filter::And(items), true) | (Filter::Or(items), false) => {
            let mut acc = vec![vec![]];
            for item in items {
                let part = dnf(item, positive)?;
                let mut next = Vec::new();
                for a in &acc {
                    for b in &part {
                        next.push(a.iter().chain(b).copied().collect::<Vec<Lit>>());
                    }
                }
                if next.len() > MAX_CONJUNCTS {
                    return None;
                }
                acc = next;
            }
            acc
        }
        (Filter::Or(items), true) | (Filter::And(items), false) => {
            let mut acc = Vec::new();
            for item in items {
                acc.extend(dnf(item, positive)?);
                if acc.len() > MAX_CONJUNCTS {
                    return None;
                }
            }
            acc
        }
    })
}

fn conflict(conj: &[Lit], source: &str, offset: usize) -> Option<String> {
    let text = |a: &Atom| {
        let (s, e) = (
            a.span.start.saturating_sub(offset),
            a.span.end.saturating_sub(offset),
        );
        source
            .get(s..e)
            .map_or_else(|| "a comparison".to_string(), |t| format!("`{t}`"))
    };
    let present = |id: u8| conj.iter().any(|l| l.positive && l.atom.field == id);
    // What the presence of a field implies about proto and family.
    let mut implied: Vec<(u8, &[u128], &str, &Atom)> = Vec::new();
    for l in conj.iter().filter(|l| l.positive) {
        let a = &l.atom;
        // The literal's own family first: it names the closer reason.
        if a.op == op::EQ
            && matches!(a.field, field::SADDR | field::DADDR)
            && a.mask >> 32 == u128::MAX >> 32
        {
            let v4 = a.value >> 32 == 0xffff;
            implied.push((
                field::FAMILY,
                if v4 { &[0x0800, 0x0806] } else { &[0x86dd] },
                if v4 {
                    "an IPv4 or ARP packet"
                } else {
                    "an IPv6 packet"
                },
                a,
            ));
        }
        match a.field {
            field::SPORT | field::DPORT => {
                implied.push((field::PROTO, &[6, 17, 132], "a TCP, UDP or SCTP packet", a))
            }
            field::TCPFLAGS => implied.push((field::PROTO, &[6], "a TCP packet", a)),
            field::TTL | field::PROTO => implied.push((
                field::FAMILY,
                &[0x0800, 0x86dd],
                "an IPv4 or IPv6 packet",
                a,
            )),
            // ARP's sender and target addresses fill them too.
            field::SADDR | field::DADDR => implied.push((
                field::FAMILY,
                &[0x0800, 0x86dd, 0x0806],
                "an IPv4, IPv6 or ARP packet",
                a,
            )),
            _ => {}
        }
        if a.op == op::EQ && a.field == field::PROTO && a.mask == 0xff {
            match a.value {
                1 => implied.push((field::FAMILY, &[0x0800], "an IPv4 packet", a)),
                58 => implied.push((field::FAMILY, &[0x86dd], "an IPv6 packet", a)),
                _ => {}
            }
        }
    }
    let forced = |id: u8| present(id) || implied.iter().any(|(f, ..)| *f == id);
    // Constraints per field, for fields that must be present.
    for def in catalog::FIELDS {
        if !forced(def.id) {
            continue;
        }
        let lits: Vec<&Lit> = conj.iter().filter(|l| l.atom.field == def.id).collect();
        let holds = |x: u128| lits.iter().all(|l| l.atom.holds(x) == l.positive);
        for (_, set, needs, because) in implied.iter().filter(|(f, ..)| *f == def.id) {
            if !set.iter().any(|x| holds(*x)) {
                let blocker = lits
                    .iter()
                    .find(|l| !set.iter().any(|x| l.atom.holds(*x) == l.positive))
                    .map(|l| text(&l.atom));
                let by = blocker.map_or_else(String::new, |b| format!(", which {b} rules out"));
                return Some(format!("{} needs {needs}{by}", text(because)));
            }
        }
        if let Some(why) = field_conflict(def, &lits, &text) {
            return Some(why);
        }
    }
    None
}

/// Contradictions among the literals on one present field.
fn field_conflict(
    def: &catalog::FieldDef,
    lits: &[&Lit],
    text: &dyn Fn(&Atom) -> String,
) -> Option<String> {
    let full = def.full_mask();
    // Positive `==` (and negated `!=`) pin bits; fold them.
    let mut pinned: Option<(u128, u128, &Atom)> = None;
    for l in lits {
        let a = &l.atom;
        let pins = (a.op == op::EQ && l.positive) || (a.op == op::NE && !l.positive);
        if !pins {
            continue;
        }
        if let Some((v, m, other)) = pinned {
            let common = m & a.mask;
            if v & common != a.value & common {
                return Some(format!("{} and {} cannot both hold", text(other), text(a)));
            }
            pinned = Some((v | a.value, m | a.mask, other));
        } else {
            pinned = Some((a.value, a.mask, a));
        }
    }
    let holds = |x: u128| lits.iter().find(|l| l.atom.holds(x) != l.positive);
    match pinned {
        Some((v, m, first)) if m & full == full => {
            holds(v).map(|l| format!("{} and {} cannot both hold", text(first), text(&l.atom)))
        }
        Some(_) => None,
        None => {
            // Only plain orderings and exclusions: is the interval empty?
            if lits.iter().any(|l| l.atom.mask != full) {
                return None;
            }
            let (mut lo, mut hi) = (0u128, full);
            let mut excluded = Vec::new();
            for l in lits {
                let code = if l.positive {
                    l.atom.op
                } else {
                    negate(l.atom.op)
                };
                let v = l.atom.value;
                match code {
                    op::LT if v == 0 => {
                        return Some(format!(
                            "{} can never hold: `{}` is never below 0",
                            text(&l.atom),
                            def.name
                        ))
                    }
                    op::LT => hi = hi.min(v - 1),
                    op::LE => hi = hi.min(v),
                    op::GT if v >= full => {
                        return Some(format!(
                            "{} can never hold: `{}` is at most {full}",
                            text(&l.atom),
                            def.name
                        ))
                    }
                    op::GT => lo = lo.max(v + 1),
                    op::GE => lo = lo.max(v),
                    _ => excluded.push(v),
                }
            }
            excluded.sort_unstable();
            excluded.dedup();
            let inside = excluded.iter().filter(|x| (lo..=hi).contains(*x)).count() as u128;
            if lo > hi || hi - lo < inside {
                let names: Vec<String> = lits.iter().map(|l| text(&l.atom)).collect();
                return Some(format!(
                    "no value of `{}` satisfies {}",
                    def.name,
                    names.join(" and ")
                ));
            }
            None
        }
    }
}

fn negate(code: u8) -> u8 {
    match code {
        op::EQ => op::NE,
        op::NE => op::EQ,
        op::LT => op::GE,
        op::LE => op::GT,
        op::GT => op::LE,
        _ => op::LT,
    }
}
