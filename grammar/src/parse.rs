//! One statement of text → one `ast::Rule`, through the pest grammar.
//! Spans are shifted by the statement's offset so they index the whole input.

use crate::ast::*;
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
    let rule = Builder { offset }.rule(rule);
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
            ExprKind::Compare(_) | ExprKind::Primitive(_) => {}
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

    fn rule(&self, p: P<'_>) -> crate::ast::Rule {
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
                R::filter => filter = Some(self.or_expr(inner1(part))),
                R::actions => actions = part.into_inner().flat_map(|a| self.action(a)).collect(),
                _ => {}
            }
        }
        crate::ast::Rule {
            text,
            span,
            triggers,
            filter,
            actions,
        }
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

    fn or_expr(&self, p: P<'_>) -> Expr {
        let mut items = p
            .into_inner()
            .filter(|a| a.as_rule() == R::and_expr)
            .map(|a| self.and_expr(a));
        let first = items.next().expect("or_expr has an operand");
        items.fold(first, |l, r| binary(l, r, ExprKind::Or))
    }

    fn and_expr(&self, p: P<'_>) -> Expr {
        let mut items = p
            .into_inner()
            .filter(|a| a.as_rule() == R::not_expr)
            .map(|a| self.not_expr(a));
        let first = items.next().expect("and_expr has an operand");
        items.fold(first, |l, r| binary(l, r, ExprKind::And))
    }

    fn not_expr(&self, p: P<'_>) -> Expr {
        let mut nots = Vec::new();
        let mut atom = None;
        for part in p.into_inner() {
            match part.as_rule() {
                R::not_op => nots.push(self.span(&part)),
                R::close_paren => {}
                R::or_expr => atom = Some(self.or_expr(part)),
                R::primitive => atom = Some(self.primitive(part)),
                _ => atom = Some(self.comparison(part)),
            }
        }
        let mut e = atom.expect("not_expr has an atom");
        for not_span in nots.into_iter().rev() {
            let span = not_span.join(e.span);
            e = Expr {
                kind: ExprKind::Not(Box::new(e)),
                span,
            };
        }
        e
    }

    fn primitive(&self, p: P<'_>) -> Expr {
        let span = self.span(&p);
        let mut proto = None;
        let mut direction = None;
        let mut test = None;
        for part in p.into_inner() {
            match part.as_rule() {
                R::proto_prim => {
                    let proto = ProtoName::parse(part.as_str())
                        .expect("grammar admits only protocol names");
                    return Expr {
                        kind: ExprKind::Primitive(Primitive::Proto { proto }),
                        span,
                    };
                }
                R::proto_qual => {
                    proto = ProtoName::parse(part.as_str()).map(|n| (n, self.span(&part)));
                }
                R::direction => {
                    direction = Some(if part.as_str().eq_ignore_ascii_case("src") {
                        Direction::Src
                    } else {
                        Direction::Dst
                    })
                }
                R::host_prim => test = Some(PrimTest::Host(self.value(last(part)))),
                R::net_prim => test = Some(PrimTest::Net(self.value(last(part)))),
                R::port_prim => test = Some(PrimTest::Port(self.value(last(part)))),
                _ => {
                    let range = last(part);
                    let mut ends = range.into_inner();
                    let low = self.ident(&ends.next().expect("low end"));
                    let high = self.ident(&ends.next().expect("high end"));
                    test = Some(PrimTest::PortRange { low, high });
                }
            }
        }
        let test = test.expect("qualified primitive has a test");
        Expr {
            kind: ExprKind::Primitive(Primitive::Qualified {
                proto,
                direction,
                test,
            }),
            span,
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

fn binary(l: Expr, r: Expr, make: fn(Box<Expr>, Box<Expr>) -> ExprKind) -> Expr {
    let span = l.span.join(r.span);
    Expr {
        kind: make(Box::new(l), Box::new(r)),
        span,
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
