//! Filter expressions: comparisons become IR atoms (pcap-filter text is
//! in [`super::pcap`]).

use super::values::{self, Operand};
use super::CheckEnv;
use crate::abi::op;
use crate::catalog::{self, FieldDef, FieldKind};
use crate::ir::{Atom, Filter};
use ferret_grammar::ast::*;
use ferret_grammar::Diagnostic;

pub(super) struct FilterCheck<'e, 'd> {
    pub env: &'e CheckEnv<'e>,
    pub diags: &'d mut Vec<Diagnostic>,
    /// The rule listens on `drop` or on functions (drop functions carry
    /// their reason), so `reason` can be set.
    pub carries_reason: bool,
    /// The rule's pcap-filter parts so far.
    pub pcap_units: Vec<crate::ir::PcapUnit>,
}

impl FilterCheck<'_, '_> {
    pub fn expr(&mut self, e: &Expr) -> Filter {
        match &e.kind {
            ExprKind::And(l, r) => Filter::And(vec![self.expr(l), self.expr(r)]),
            ExprKind::Or(l, r) => Filter::Or(vec![self.expr(l), self.expr(r)]),
            ExprKind::Not(inner) => Filter::Not(Box::new(self.expr(inner))),
            ExprKind::Compare(c) => self.comparison(c, e.span),
            ExprKind::Pcap(p) => self.pcap(p, e.span),
        }
    }

    fn comparison(&mut self, c: &Comparison, span: Span) -> Filter {
        let Some(def) = catalog::lookup(&c.field.text) else {
            super::known_field(&c.field, self.diags);
            return Filter::False;
        };
        if def.drop_only && !self.carries_reason {
            self.diags.push(
                Diagnostic::error(
                    format!("`{}` is only set on `drop` events", def.name),
                    c.field.span,
                )
                .with_label(
                    "this rule listens on neither `drop` nor a drop function, so it can never match",
                )
                .with_note(
                    "add the trigger: `on drop where ...`, or a drop function: \
                     `on func kfree_skb_reason where ...`",
                ),
            );
            return Filter::False;
        }
        let mask = match &c.mask {
            None => def.full_mask(),
            Some(m) if matches!(def.kind, FieldKind::Uint | FieldKind::TcpFlags) => {
                match values::number(m, def) {
                    Ok(n) => n,
                    Err(d) => return self.fail(d),
                }
            }
            Some(m) => {
                return self.fail(
                    Diagnostic::error(format!("`{}` cannot be masked with `&`", def.name), m.span)
                        .with_label("masks apply to integer fields like `mark`"),
                );
            }
        };
        match &c.rhs {
            Rhs::Op {
                op: cmp,
                op_span,
                value,
            } => self.op_comparison(def, *cmp, *op_span, value, mask, span),
            Rhs::InSet { values, .. } => {
                let items = values.iter().map(|v| {
                    self.operands(def, v)
                        .map(|ops| any_eq(def, &ops, mask, span))
                });
                let items: Vec<Filter> = items.collect::<Option<_>>().unwrap_or_default();
                Filter::Or(items)
            }
            Rhs::InRange {
                low,
                high,
                span: range_span,
            } => {
                if !def.is_ordered() {
                    return self.fail(
                        Diagnostic::error(
                            format!("`{}` has no order, so it has no ranges", def.name),
                            *range_span,
                        )
                        .with_label("use `in {A, B}` or `==`"),
                    );
                }
                let (Some(lo), Some(hi)) = (self.single(def, low), self.single(def, high)) else {
                    return Filter::False;
                };
                if lo > hi {
                    return self.fail(Diagnostic::error("empty range", *range_span).with_label(
                        format!(
                            "{} is greater than {}, so this can never match",
                            low.text, high.text
                        ),
                    ));
                }
                Filter::And(vec![
                    Filter::Atom(Atom {
                        mask,
                        ..Atom::with_op(def, op::GE, lo, span)
                    }),
                    Filter::Atom(Atom {
                        mask,
                        ..Atom::with_op(def, op::LE, hi, span)
                    }),
                ])
            }
            Rhs::InValue { value } => {
                if def.kind != FieldKind::Addr {
                    return self.fail(
                        Diagnostic::error(
                            format!("`in` needs a set or a range for `{}`", def.name),
                            value.span,
                        )
                        .with_label(
                            "write `in {80, 443}` or `in 1000..2000`; `in CIDR` is for addresses",
                        ),
                    );
                }
                self.operands(def, value)
                    .map_or(Filter::False, |ops| any_eq(def, &ops, mask, span))
            }
        }
    }

    fn op_comparison(
        &mut self,
        def: &FieldDef,
        cmp: CmpOp,
        op_span: Span,
        value: &Value,
        mask: u128,
        span: Span,
    ) -> Filter {
        let allowed = match cmp {
            CmpOp::Eq | CmpOp::Ne => true,
            CmpOp::Has => def.kind == FieldKind::TcpFlags,
            _ => def.is_ordered(),
        };
        if !allowed {
            let hint = match (cmp, def.kind) {
                (CmpOp::Has, _) => "`has` tests TCP flags: `tcpflags has syn`".to_string(),
                (_, FieldKind::Addr) => {
                    "addresses compare with `==`, `!=` or `in CIDR`".to_string()
                }
                _ => format!("`{}` takes `==`, `!=` or `in {{..}}`", def.name),
            };
            return self.fail(
                Diagnostic::error(
                    format!("`{}` cannot be compared with `{}`", def.name, cmp.symbol()),
                    op_span,
                )
                .with_label(hint),
            );
        }
        let Some(ops) = self.operands(def, value) else {
            return Filter::False;
        };
        if let Some(o) = ops.iter().find(|o| o.value & !mask != 0) {
            return self.fail(
                Diagnostic::error("this comparison can never hold", value.span).with_label(
                    format!("{:#x} has bits outside the mask {mask:#x}", o.value),
                ),
            );
        }
        if ops.len() > 1 && !matches!(cmp, CmpOp::Eq | CmpOp::Ne) {
            return self.fail(
                Diagnostic::error(
                    format!("`{}` names several functions", value.text),
                    value.span,
                )
                .with_label("only `==` and `!=` work with a glob"),
            );
        }
        if def.kind == FieldKind::Addr
            && ops.iter().any(|o| o.mask != u128::MAX)
            && !matches!(cmp, CmpOp::Eq | CmpOp::Ne)
        {
            return self.fail(Diagnostic::error("a network has no order", value.span));
        }
        match cmp {
            CmpOp::Eq => any_eq(def, &ops, mask, span),
            // A glob's functions have neighbouring ids: one range test
            // negated, rather than hundreds of `!=`.
            CmpOp::Ne if def.kind == FieldKind::Func => {
                Filter::Not(Box::new(any_eq(def, &ops, mask, span)))
            }
            // An address of the other family is another address.
            CmpOp::Ne if def.kind == FieldKind::Addr => Filter::And(
                std::iter::once(Filter::Atom(Atom {
                    mask: 0,
                    ..Atom::eq(def, 0, span)
                }))
                .chain(ops.iter().map(|o| {
                    Filter::Not(Box::new(any_eq(def, std::slice::from_ref(o), mask, span)))
                }))
                .collect(),
            ),
            CmpOp::Ne => Filter::And(
                ops.iter()
                    .map(|o| Filter::Atom(masked(def, op::NE, o, mask, span)))
                    .collect(),
            ),
            CmpOp::Has => {
                let bits = ops[0].value;
                Filter::Atom(Atom {
                    field: def.id,
                    op: op::EQ,
                    value: bits,
                    mask: bits & mask,
                    span,
                })
            }
            _ => {
                let code = match cmp {
                    CmpOp::Lt => op::LT,
                    CmpOp::Le => op::LE,
                    CmpOp::Gt => op::GT,
                    _ => op::GE,
                };
                Filter::Atom(Atom {
                    mask,
                    ..Atom::with_op(def, code, ops[0].value, span)
                })
            }
        }
    }

    pub(super) fn single(&mut self, def: &FieldDef, v: &Value) -> Option<u128> {
        self.operands(def, v).map(|ops| ops[0].value)
    }

    pub(super) fn operands(&mut self, def: &FieldDef, v: &Value) -> Option<Vec<Operand>> {
        let mut warnings = Vec::new();
        let r = values::operands(def, v, self.env, &mut warnings);
        self.diags.extend(warnings);
        r.map_err(|d| self.diags.push(d)).ok()
    }

    fn fail(&mut self, d: Diagnostic) -> Filter {
        self.diags.push(d);
        Filter::False
    }
}

pub(super) fn masked(def: &FieldDef, code: u8, o: &Operand, mask: u128, span: Span) -> Atom {
    // Callers have refused values with bits outside a user mask; CIDR
    // operands arrive already reduced to their network.
    let mask = o.mask & mask;
    Atom {
        field: def.id,
        op: code,
        value: o.value & mask,
        mask,
        span,
    }
}

fn any_eq(def: &FieldDef, ops: &[Operand], mask: u128, span: Span) -> Filter {
    if def.kind == FieldKind::Func && mask == def.full_mask() {
        return func_ranges(def, ops, span);
    }
    let atoms: Vec<Filter> = ops
        .iter()
        .map(|o| {
            let atom = Filter::Atom(masked(def, op::EQ, o, mask, span));
            match o.ipv6 {
                Some(v6) => Filter::And(vec![family_of(v6, span), atom]),
                None => atom,
            }
        })
        .collect();
    match atoms.len() {
        0 => Filter::False,
        1 => atoms.into_iter().next().expect("one"),
        _ => Filter::Or(atoms),
    }
}

/// IPv4 addresses are stored mapped into IPv6 (`::ffff:a.b.c.d`), so the
/// packet's family tells an IPv4 packet (or ARP) from an IPv6 packet whose
/// address lies in the mapped range.
fn family_of(ipv6: bool, span: Span) -> Filter {
    let family = catalog::lookup("family").expect("family is a field");
    let cmp = if ipv6 { op::EQ } else { op::NE };
    Filter::Atom(Atom::with_op(family, cmp, 0x86dd, span))
}

/// Function ids are given in name order, so the functions a glob like
/// `ip_*` names are runs of neighbouring ids: each run of three or more
/// becomes one `>= lo and <= hi` test, which keeps `func == GLOB` within
/// the branch program's length even for hundreds of functions.
fn func_ranges(def: &FieldDef, ops: &[Operand], span: Span) -> Filter {
    let mut ids: Vec<u128> = ops.iter().map(|o| o.value).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut items = Vec::new();
    let mut i = 0;
    while i < ids.len() {
        let mut j = i;
        while j + 1 < ids.len() && ids[j + 1] == ids[j] + 1 {
            j += 1;
        }
        if j - i >= 2 {
            items.push(Filter::And(vec![
                Filter::Atom(Atom::with_op(def, op::GE, ids[i], span)),
                Filter::Atom(Atom::with_op(def, op::LE, ids[j], span)),
            ]));
        } else {
            items.extend((i..=j).map(|k| Filter::Atom(Atom::eq(def, ids[k], span))));
        }
        i = j + 1;
    }
    match items.len() {
        0 => Filter::False,
        1 => items.pop().expect("one"),
        _ => Filter::Or(items),
    }
}
