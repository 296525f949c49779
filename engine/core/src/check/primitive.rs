//! tcpdump primitives (`tcp`, `host H`, `src net N`, `port P`,
//! `portrange A-B`) become the same IR atoms as comparisons.

use super::filter::{field, masked, FilterCheck};
use crate::abi::op;
use crate::catalog::FieldDef;
use crate::ir::{Atom, Filter};
use ferret_grammar::ast::*;
use ferret_grammar::Diagnostic;

impl FilterCheck<'_, '_> {
    pub(super) fn primitive(&mut self, p: &Primitive, span: Span) -> Filter {
        match p {
            Primitive::Proto { proto } => proto_filter(*proto, span),
            Primitive::Qualified {
                proto,
                direction,
                test,
            } => {
                let (src, dst) = match test {
                    PrimTest::Host(_) | PrimTest::Net(_) => ("saddr", "daddr"),
                    _ => ("sport", "dport"),
                };
                let fields: Vec<&FieldDef> = match direction {
                    Some(Direction::Src) => vec![field(src)],
                    Some(Direction::Dst) => vec![field(dst)],
                    None => vec![field(src), field(dst)],
                };
                let Some(test) = self.prim_test(test, &fields, span) else {
                    return Filter::False;
                };
                match proto {
                    Some((p, pspan)) => Filter::And(vec![proto_filter(*p, *pspan), test]),
                    None => test,
                }
            }
        }
    }

    fn prim_test(&mut self, test: &PrimTest, fields: &[&FieldDef], span: Span) -> Option<Filter> {
        let per_field: Vec<Filter> = match test {
            PrimTest::Host(v) | PrimTest::Net(v) => {
                let is_net = matches!(test, PrimTest::Net(_));
                if !is_net && v.kind == ValueKind::Cidr {
                    self.diags.push(
                        Diagnostic::error(format!("`{}` is a network, not a host", v.text), v.span)
                            .with_label("use `net` for a network: `net 10.0.0.0/8`"),
                    );
                    return None;
                }
                let o = self.operands(fields[0], v)?[0];
                fields
                    .iter()
                    .map(|f| Filter::Atom(masked(f, op::EQ, &o, u128::MAX, span)))
                    .collect()
            }
            PrimTest::Port(v) => {
                let o = self.operands(fields[0], v)?[0];
                fields
                    .iter()
                    .map(|f| Filter::Atom(Atom::eq(f, o.value, span)))
                    .collect()
            }
            PrimTest::PortRange { low, high } => {
                let (lo, hi) = (
                    self.port_end(low, fields[0])?,
                    self.port_end(high, fields[0])?,
                );
                if lo > hi {
                    self.diags.push(
                        Diagnostic::error("empty port range", low.span.join(high.span)).with_label(
                            format!(
                                "{} is greater than {}, so this can never match",
                                low.text, high.text
                            ),
                        ),
                    );
                    return None;
                }
                fields
                    .iter()
                    .map(|f| {
                        Filter::And(vec![
                            Filter::Atom(Atom::with_op(f, op::GE, lo, span)),
                            Filter::Atom(Atom::with_op(f, op::LE, hi, span)),
                        ])
                    })
                    .collect()
            }
        };
        Some(if per_field.len() == 1 {
            per_field.into_iter().next().expect("one")
        } else {
            Filter::Or(per_field)
        })
    }

    fn port_end(&mut self, end: &Ident, def: &FieldDef) -> Option<u128> {
        let kind = if end.text.bytes().all(|b| b.is_ascii_digit()) {
            ValueKind::Number
        } else {
            ValueKind::Word
        };
        let v = Value {
            kind,
            text: end.text.clone(),
            span: end.span,
        };
        self.single(def, &v)
    }
}

fn proto_filter(p: ProtoName, span: Span) -> Filter {
    let (name, value) = match p {
        ProtoName::Tcp => ("proto", 6),
        ProtoName::Udp => ("proto", 17),
        ProtoName::Icmp => ("proto", 1),
        ProtoName::Icmp6 => ("proto", 58),
        ProtoName::Sctp => ("proto", 132),
        ProtoName::Ip => ("family", 0x0800),
        ProtoName::Ip6 => ("family", 0x86dd),
        ProtoName::Arp => ("family", 0x0806),
    };
    Filter::Atom(Atom::eq(field(name), value, span))
}
