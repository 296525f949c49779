//! One statement of text → one `ast::Rule`, through the pest grammar.
//! Spans are shifted by the statement's offset so they index the whole input.

use crate::ast::*;
use crate::filter::{BoolOp, Op, Operand, Seq, Unary};
use crate::pest_parser::{FerretParser, R};
use crate::syntax_error::from_pest;
use crate::Diagnostic;
use pest::iterators::Pair;
use pest::Parser;

type P<'i> = Pair<'i, R>;

/// Parses one rule statement; `offset` is where `text` starts in the input.
pub(crate) fn parse_statement(text: &str, offset: usize) -> Result<crate::ast::Rule, Diagnostic> {
    crate::limits::check_text(text, offset)?;
    let mut pairs =
        FerretParser::parse(R::statement, text).map_err(|e| from_pest(&e, text, offset))?;
    let statement = pairs.next().expect("statement always yields one pair");
    let rule = statement
        .into_inner()
        .next()
        .expect("statement holds a rule");
    let rule = Builder { offset }.rule(rule)?;
    if let Some(filter) = &rule.filter {
        crate::limits::check_nodes(count_nodes(filter), filter.span)?;
    }
    Ok(rule)
}

/// Nodes of a filter tree, counted without recursion (the tree may be deep).
fn count_nodes(root: &Expr) -> usize {
    let mut stack = vec![root];
    let mut n = 0;
    while let Some(e) = stack.pop() {
        n += 1;
        match &e.kind {
            ExprKind::And(l, r) | ExprKind::Or(l, r) => {
                stack.push(l);
                stack.push(r);
            }
            ExprKind::Not(inner) => stack.push(inner),
            ExprKind::Compare(_) | ExprKind::Pcap(_) => {}
        }
    }
    n
}

struct Builder {
    offset: usize,
}

impl Builder {
    fn span(&self, p: &P<'_>) -> Span {
        let s = p.as_span();
        Span::new(s.start() + self.offset, s.end() + self.offset)
    }

    fn ident(&self, p: &P<'_>) -> Ident {
        Ident {
            text: p.as_str().to_string(),
            span: self.span(p),
        }
    }

    fn rule(&self, p: P<'_>) -> Result<crate::ast::Rule, Diagnostic> {
        let span = self.span(&p);
        let text = p.as_str().trim_end().to_string();
        let mut triggers = Vec::new();
        let mut filter = None;
        let mut actions = Vec::new();
        for part in p.into_inner() {
            match part.as_rule() {
                R::triggers => {
                    triggers = part
                        .into_inner()
                        .filter(|t| t.as_rule() == R::trigger)
                        .map(|t| self.trigger(t))
                        .collect()
                }
                R::filter => filter = Some(self.seq(inner1(part)).build()?),
                R::actions => actions = part.into_inner().flat_map(|a| self.action(a)).collect(),
                _ => {}
            }
        }
        Ok(crate::ast::Rule {
            text,
            span,
            triggers,
            filter,
            actions,
        })
    }

    fn trigger(&self, p: P<'_>) -> Trigger {
        let span = self.span(&p);
        let t = inner1(p);
        let kind = match t.as_rule() {
            R::simple_trigger => match t.as_str().to_ascii_lowercase().as_str() {
                "drop" => TriggerKind::Drop,
                "free" => TriggerKind::Free,
                "recv" => TriggerKind::Recv,
                "xmit" => TriggerKind::Xmit,
                "queue" => TriggerKind::Queue,
                _ => TriggerKind::Any,
            },
            R::func_trigger => TriggerKind::Func {
                globs: t
                    .into_inner()
                    .filter(|g| g.as_rule() == R::func_glob)
                    .map(|g| self.ident(&g))
                    .collect(),
            },
            R::prog_trigger => {
                let mut parts = t.into_inner();
                let kind = parts.next().expect("tc or xdp");
                TriggerKind::Prog {
                    xdp: kind.as_str().eq_ignore_ascii_case("xdp"),
                    globs: parts
                        .filter(|g| g.as_rule() == R::prog_glob)
                        .map(|g| self.ident(&g))
                        .collect(),
                }
            }
            _ => {
                let name = t
                    .into_inner()
                    .find(|x| x.as_rule() == R::tp_name)
                    .expect("tp has a name");
                let mut parts = name.into_inner();
                let category = self.ident(&parts.next().expect("category"));
                let name = self.ident(&parts.next().expect("name"));
                TriggerKind::Tp { category, name }
            }
        };
        Trigger { kind, span }
    }

    /// A filter read flat; [`Seq::build`] groups it.
    fn seq(&self, p: P<'_>) -> Seq {
        let mut items = Vec::new();
        let mut ops = Vec::new();
        for part in p.into_inner() {
            match part.as_rule() {
                R::unary => items.push(self.unary(part)),
                _ => {
                    let text = part.as_str().to_string();
                    let op = if text == "&&" || text.eq_ignore_ascii_case("and") {
                        BoolOp::And
                    } else {
                        BoolOp::Or
                    };
                    ops.push(Op {
                        op,
                        text,
                        span: self.span(&part),
                    });
                }
            }
        }
        Seq { items, ops }
    }

    fn unary(&self, p: P<'_>) -> Unary {
        let mut nots = Vec::new();
        let mut operand = None;
        for part in p.into_inner() {
            match part.as_rule() {
                R::not_op => nots.push((part.as_str().to_string(), self.span(&part))),
                R::group => {
                    let open = self.span(&part);
                    let mut inner = part.into_inner();
                    let seq = self.seq(inner.next().expect("group holds a sequence"));
                    let close = self.span(&inner.next().expect("group closes"));
                    operand = Some(Operand::Group {
                        seq,
                        open: Span::new(open.start, open.start + 1),
                        close,
                    });
                }
                R::pcap | R::pcap_arith => {
                    let mut tokens = Vec::new();
                    self.pcap_tokens(part, &mut tokens);
                    operand = Some(Operand::Pcap(tokens));
                }
                _ => operand = Some(Operand::Compare(self.comparison(part))),
            }
        }
        Unary {
            nots,
            operand: operand.expect("unary has an operand"),
        }
    }

    /// The tokens of pcap-filter text, parentheses included, in order.
    fn pcap_tokens(&self, p: P<'_>, out: &mut Vec<(String, Span)>) {
        for part in p.into_inner() {
            match part.as_rule() {
                R::pcap_group => {
                    let span = self.span(&part);
                    out.push(("(".into(), Span::new(span.start, span.start + 1)));
                    self.pcap_tokens(part, out);
                }
                R::close_paren => out.push((")".into(), self.span(&part))),
                _ => out.push((part.as_str().to_string(), self.span(&part))),
            }
        }
    }

    fn comparison(&self, p: P<'_>) -> Expr {
        let span = self.span(&p);
        let mut field = None;
        let mut mask = None;
        let mut rhs = None;
        for part in p.into_inner() {
            match part.as_rule() {
                R::field => field = Some(self.ident(&part)),
                R::field_mask => mask = Some(self.value(inner1(part))),
                R::op_rhs => {
                    let mut it = part.into_inner();
                    let op_pair = it.next().expect("operator");
                    let op = match op_pair.as_str().to_ascii_lowercase().as_str() {
                        "==" | "=" => CmpOp::Eq,
                        "!=" => CmpOp::Ne,
                        "<" => CmpOp::Lt,
                        "<=" => CmpOp::Le,
                        ">" => CmpOp::Gt,
                        ">=" => CmpOp::Ge,
                        _ => CmpOp::Has,
                    };
                    let value = self.value(it.next().expect("operand"));
                    rhs = Some(Rhs::Op {
                        op,
                        op_span: self.span(&op_pair),
                        value,
                    });
                }
                _ => rhs = Some(self.in_rhs(part)),
            }
        }
        let cmp = Comparison {
            field: field.expect("comparison has a field"),
            mask,
            rhs: rhs.expect("comparison has a right side"),
        };
        Expr {
            kind: ExprKind::Compare(cmp),
            span,
        }
    }

    fn in_rhs(&self, p: P<'_>) -> Rhs {
        let target = last(p);
        let span = self.span(&target);
        match target.as_rule() {
            R::set => Rhs::InSet {
                values: target.into_inner().map(|v| self.value(v)).collect(),
                span,
            },
            R::range => {
                let mut ends = target.into_inner();
                let low = self.range_end(ends.next().expect("low"));
                let high = self.range_end(ends.next().expect("high"));
                Rhs::InRange { low, high, span }
            }
            _ => Rhs::InValue {
                value: self.value(target),
            },
        }
    }

    fn range_end(&self, p: P<'_>) -> Value {
        let kind = if p.as_str().bytes().all(|b| b.is_ascii_digit()) {
            ValueKind::Number
        } else {
            ValueKind::Word
        };
        Value {
            kind,
            text: p.as_str().to_string(),
            span: self.span(&p),
        }
    }

    fn value(&self, p: P<'_>) -> Value {
        let span = self.span(&p);
        let v = inner1(p);
        let (kind, text) = match v.as_rule() {
            R::string => (ValueKind::String, inner1(v).as_str().to_string()),
            R::cidr => (ValueKind::Cidr, v.as_str().to_string()),
            R::addr => (ValueKind::Addr, v.as_str().to_string()),
            R::number => (ValueKind::Number, v.as_str().to_string()),
            _ => (ValueKind::Word, v.as_str().to_string()),
        };
        Value { kind, text, span }
    }

    /// One parsed action; `print stack` yields two (`print` and `stack`).
    fn action(&self, p: P<'_>) -> Vec<Action> {
        let span = self.span(&p);
        let a = inner1(p);
        let kind_rule = a.as_rule();
        let parts: Vec<P<'_>> = a.into_inner().collect();
        let kind = match kind_rule {
            R::print_action => match parts.get(1) {
                Some(x) if x.as_rule() == R::kw_stack => {
                    return vec![
                        Action {
                            kind: ActionKind::Print { fields: Vec::new() },
                            span: self.span(&parts[0]),
                        },
                        Action {
                            kind: ActionKind::Stack,
                            span: self.span(x),
                        },
                    ];
                }
                Some(list) => ActionKind::Print {
                    fields: list.clone().into_inner().map(|f| self.ident(&f)).collect(),
                },
                None => ActionKind::Print { fields: Vec::new() },
            },
            R::stack_action => ActionKind::Stack,
            R::count_action => ActionKind::Count {
                by: parts
                    .iter()
                    .filter(|x| x.as_rule() == R::field)
                    .map(|f| self.ident(f))
                    .collect(),
            },
            R::hist_action => ActionKind::Hist {
                field: self.ident(&parts[1]),
            },
            R::capture_action => ActionKind::Capture {
                snaplen: parts
                    .iter()
                    .find(|x| x.as_rule() == R::count_value)
                    .map(|n| self.number(n)),
            },
            R::track_action => ActionKind::Track,
            R::explain_action => ActionKind::Explain,
            R::call_action => ActionKind::Call {
                handler: self.ident(&parts[1]),
            },
            R::limit_action => ActionKind::Limit {
                rate: self.number(&parts[1]),
                unit: self.ident(&parts[3]),
            },
            _ => ActionKind::StopAfter {
                count: self.number(&parts[2]),
            },
        };
        vec![Action { kind, span }]
    }

    fn number(&self, p: &P<'_>) -> Value {
        Value {
            kind: ValueKind::Number,
            text: p.as_str().to_string(),
            span: self.span(p),
        }
    }
}

fn inner1(p: P<'_>) -> P<'_> {
    p.into_inner()
        .next()
        .expect("grammar guarantees an inner pair")
}

fn last(p: P<'_>) -> P<'_> {
    p.into_inner()
        .last()
        .expect("grammar guarantees an inner pair")
}

#[cfg(test)]
mod prog_trigger_tests {
    use crate::ast::TriggerKind;

    fn triggers(text: &str) -> Vec<TriggerKind> {
        let program = crate::parse(text).expect("parses");
        program.rules[0]
            .triggers
            .iter()
            .map(|t| t.kind.clone())
            .collect()
    }

    fn prog(xdp: bool, globs: &[&str]) -> (bool, Vec<String>) {
        (xdp, globs.iter().map(|g| g.to_string()).collect())
    }

    fn progs(text: &str) -> Vec<(bool, Vec<String>)> {
        triggers(text)
            .into_iter()
            .filter_map(|k| match k {
                TriggerKind::Prog { xdp, globs } => {
                    Some((xdp, globs.into_iter().map(|g| g.text).collect()))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn tc_and_xdp_take_optional_program_globs() {
        assert_eq!(progs("on tc"), [prog(false, &[])]);
        assert_eq!(progs("on XDP print"), [prog(true, &[])]);
        assert_eq!(
            progs("on tc drop_*, cls_main where dport == 80"),
            [prog(false, &["drop_*", "cls_main"])]
        );
        assert_eq!(
            progs("on tc f1, xdp x1 count"),
            [prog(false, &["f1"]), prog(true, &["x1"])]
        );
        assert_eq!(progs("on xdp or tc"), [prog(true, &[]), prog(false, &[])]);
    }

    #[test]
    fn tc_mixes_with_other_triggers() {
        let kinds = triggers("on tc, drop");
        assert!(matches!(kinds[0], TriggerKind::Prog { xdp: false, .. }));
        assert_eq!(kinds[1], TriggerKind::Drop);
    }

    #[test]
    fn a_word_starting_with_tc_is_no_trigger() {
        assert!(crate::parse("on tcx").is_err());
    }
}
