//! Grouping a filter read flat (operands and operators in written order)
//! into a tree. Two readings meet here:
//!
//! - pcap-filter text means what libpcap makes of it, and libpcap gives
//!   `and` and `or` the same precedence, left to right, with implicit
//!   repetition (`port 80 or 443`). So a run of pcap-filter operands
//!   joined by operators becomes one [`PcapText`], and libpcap reads it
//!   whole: a filter of pcap-filter words alone means exactly what tcpdump
//!   means.
//! - Between ferret comparisons and such runs, `and` binds before `or`.
//!
//! Where the two would group a filter differently (a run with both `and`
//! and `or`, or a run with `or` beside an `and` that joins it to a ferret
//! comparison), the filter is refused and the user is asked to add
//! parentheses rather than be given one reading silently.

use crate::ast::{Expr, ExprKind, PcapText, Span};
use crate::Diagnostic;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BoolOp {
    And,
    Or,
}

/// One operator as written (`and`, `&&`, `or`, `||`).
#[derive(Debug, Clone)]
pub(crate) struct Op {
    pub op: BoolOp,
    pub text: String,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub(crate) enum Operand {
    /// `( .. )` around a sequence; `open`/`close` are the parentheses.
    Group { seq: Seq, open: Span, close: Span },
    /// A ferret comparison, already built.
    Compare(Expr),
    /// pcap-filter tokens, parentheses included.
    Pcap(Vec<(String, Span)>),
}

#[derive(Debug, Clone)]
pub(crate) struct Unary {
    /// The `not`s and `!`s before the operand, as written.
    pub nots: Vec<(String, Span)>,
    pub operand: Operand,
}

/// Operands and the operators between them: `ops[k]` joins `items[k]`
/// and `items[k + 1]`.
#[derive(Debug, Clone)]
pub(crate) struct Seq {
    pub items: Vec<Unary>,
    pub ops: Vec<Op>,
}

impl Unary {
    fn pcap_only(&self) -> bool {
        match &self.operand {
            Operand::Pcap(_) => true,
            Operand::Compare(_) => false,
            Operand::Group { seq, .. } => seq.items.iter().all(Unary::pcap_only),
        }
    }

    /// Its tokens as libpcap reads them (only for pcap-only operands).
    fn tokens(&self, out: &mut Vec<(String, Span)>) {
        // ferret's own keywords are case-insensitive, libpcap's are not.
        out.extend(self.nots.iter().map(|(t, s)| (t.to_ascii_lowercase(), *s)));
        match &self.operand {
            Operand::Pcap(tokens) => out.extend(tokens.iter().cloned()),
            Operand::Group { seq, open, close } => {
                out.push(("(".into(), *open));
                seq.tokens(0, seq.items.len(), out);
                out.push((")".into(), *close));
            }
            Operand::Compare(_) => unreachable!("only pcap-only operands are joined"),
        }
    }
}

impl Seq {
    /// Tokens of items `from..to` and the operators between them.
    fn tokens(&self, from: usize, to: usize, out: &mut Vec<(String, Span)>) {
        for i in from..to {
            if i > from {
                let op = &self.ops[i - 1];
                out.push((op.text.to_ascii_lowercase(), op.span));
            }
            self.items[i].tokens(out);
        }
    }

    fn pcap(&self, from: usize, to: usize) -> Expr {
        let mut tokens = Vec::new();
        self.tokens(from, to, &mut tokens);
        let span = tokens
            .iter()
            .map(|(_, s)| *s)
            .reduce(Span::join)
            .expect("a run has a token");
        let text = tokens
            .iter()
            .map(|(t, _)| t.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        Expr {
            kind: ExprKind::Pcap(PcapText { text, tokens }),
            span,
        }
    }

    /// The tree of this sequence.
    pub(crate) fn build(&self) -> Result<Expr, Diagnostic> {
        let n = self.items.len();
        if self.items.iter().all(Unary::pcap_only) {
            return Ok(self.pcap(0, n));
        }
        // Operands (ferret comparisons, mixed groups, pcap runs) and the
        // operators between them.
        let mut units = Vec::new();
        let mut unit_ops: Vec<BoolOp> = Vec::new();
        let mut i = 0;
        while i < n {
            let mut j = i;
            if self.items[i].pcap_only() {
                while j + 1 < n && self.items[j + 1].pcap_only() {
                    j += 1;
                }
                self.check_run(i, j)?;
                units.push(self.pcap(i, j + 1));
            } else {
                units.push(unary(&self.items[i])?);
            }
            if j + 1 < n {
                unit_ops.push(self.ops[j].op);
            }
            i = j + 1;
        }
        Ok(precedence(units, &unit_ops))
    }

    /// Refuses a run of pcap-filter operands `from..=to` that libpcap and
    /// ferret would group differently.
    fn check_run(&self, from: usize, to: usize) -> Result<(), Diagnostic> {
        let inside = &self.ops[from..to];
        let has_or = inside.iter().any(|o| o.op == BoolOp::Or);
        let has_and = inside.iter().any(|o| o.op == BoolOp::And);
        let before = from.checked_sub(1).map(|k| &self.ops[k]);
        let after = self.ops.get(to);
        let and_beside = [before, after]
            .into_iter()
            .flatten()
            .find(|o| o.op == BoolOp::And);
        let blame = if has_or && has_and {
            inside.iter().find(|o| o.op == BoolOp::Or)
        } else if has_or {
            and_beside
        } else {
            None
        };
        let Some(op) = blame else { return Ok(()) };
        let run = self.pcap(from, to + 1);
        Err(Diagnostic::error(
            "this filter mixes `and` and `or` around pcap-filter words without parentheses",
            op.span,
        )
        .with_label("group this with parentheses")
        .with_note(format!(
            "tcpdump reads `and` and `or` left to right, ferret binds `and` before `or`; \
             to keep tcpdump's reading, write `({})` (or put the parentheses where you mean them)",
            pcap_text(&run)
        )))
    }
}

fn pcap_text(e: &Expr) -> &str {
    match &e.kind {
        ExprKind::Pcap(p) => &p.text,
        _ => "",
    }
}

/// A ferret comparison or a mixed group, with its `not`s.
fn unary(u: &Unary) -> Result<Expr, Diagnostic> {
    let mut e = match &u.operand {
        Operand::Compare(e) => e.clone(),
        Operand::Group { seq, .. } => seq.build()?,
        Operand::Pcap(_) => unreachable!("pcap operands are joined into runs"),
    };
    for (_, span) in u.nots.iter().rev() {
        let span = span.join(e.span);
        e = Expr {
            kind: ExprKind::Not(Box::new(e)),
            span,
        };
    }
    Ok(e)
}

/// `and` before `or`, each left-associative.
fn precedence(units: Vec<Expr>, ops: &[BoolOp]) -> Expr {
    let mut units = units.into_iter();
    let mut ors: Vec<Expr> = Vec::new();
    let mut current = units.next().expect("a sequence has an operand");
    for (op, next) in ops.iter().zip(units) {
        match op {
            BoolOp::And => current = binary(current, next, ExprKind::And),
            BoolOp::Or => ors.push(std::mem::replace(&mut current, next)),
        }
    }
    ors.push(current);
    let mut ors = ors.into_iter();
    let first = ors.next().expect("at least one operand");
    ors.fold(first, |l, r| binary(l, r, ExprKind::Or))
}

fn binary(l: Expr, r: Expr, f: fn(Box<Expr>, Box<Expr>) -> ExprKind) -> Expr {
    let span = l.span.join(r.span);
    Expr {
        kind: f(Box::new(l), Box::new(r)),
        span,
    }
}

#[cfg(test)]
mod tests {
    use crate::ast::{Expr, ExprKind};

    /// The filter's tree: pcap runs as `{text}`, comparisons by field.
    fn shape(filter: &str) -> String {
        let rule = crate::parse(&format!("on drop where {filter}"))
            .map_err(|d| d[0].message.clone())
            .map(|mut p| p.rules.remove(0));
        match rule {
            Ok(r) => show(r.filter.as_ref().expect("a filter")),
            Err(e) => format!("error: {e}"),
        }
    }

    fn show(e: &Expr) -> String {
        match &e.kind {
            ExprKind::And(l, r) => format!("({} & {})", show(l), show(r)),
            ExprKind::Or(l, r) => format!("({} | {})", show(l), show(r)),
            ExprKind::Not(i) => format!("!{}", show(i)),
            ExprKind::Compare(c) => c.field.text.clone(),
            ExprKind::Pcap(p) => format!("{{{}}}", p.text),
        }
    }

    #[test]
    fn a_filter_of_pcap_words_alone_is_one_text_for_libpcap() {
        assert_eq!(shape("port 80 or 443 and tcp"), "{port 80 or 443 and tcp}");
        assert_eq!(
            shape("tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn"),
            "{tcp[tcpflags] & ( tcp-syn|tcp-ack ) == tcp-syn}"
        );
        assert_eq!(
            shape("(ip[0] & 0xf) * 4 > 20"),
            "{( ip[0] & 0xf ) * 4 > 20}"
        );
        assert_eq!(
            shape("not (host 192.0.2.1 or 192.0.2.2)"),
            "{not ( host 192.0.2.1 or 192.0.2.2 )}"
        );
        assert_eq!(
            shape("host (192.0.2.1 or 192.0.2.2)"),
            "{host ( 192.0.2.1 or 192.0.2.2 )}"
        );
        assert_eq!(shape("ip[0]&0xf!=5&&port 80"), "{ip[0]&0xf!=5 && port 80}");
        assert_eq!(shape("ip proto 6 # a comment"), "{ip proto 6}");
    }

    #[test]
    fn ferret_comparisons_split_the_runs_with_and_before_or() {
        assert_eq!(
            shape("reason == 2 and (port 80 or 443)"),
            "(reason & {( port 80 or 443 )})"
        );
        assert_eq!(
            shape("reason == 2 or port 80 or 443"),
            "(reason | {port 80 or 443})"
        );
        assert_eq!(
            shape("reason == 2 or port 80 and tcp"),
            "(reason | {port 80 and tcp})"
        );
        assert_eq!(
            shape("(port 80 or 443) and len > 100"),
            "({( port 80 or 443 )} & len)"
        );
        assert_eq!(
            shape("dport == 1 or sport == 2 and mark == 3"),
            "(dport | (sport & mark))"
        );
        assert_eq!(
            shape("not (reason == 2 or tcp) and ip6"),
            "(!(reason | {tcp}) & {ip6})"
        );
    }

    #[test]
    fn groupings_libpcap_and_ferret_would_read_differently_are_refused() {
        for f in [
            "port 80 or port 443 and reason == 2",
            "reason == 2 and port 80 or port 443",
            "reason == 2 or port 80 or 443 and tcp",
            "len > 10 and tcp or udp",
        ] {
            let got = shape(f);
            assert!(got.starts_with("error: this filter mixes"), "{f}: {got}");
        }
    }

    #[test]
    fn a_filter_ends_at_the_actions() {
        let p = crate::parse("on drop where tcp port 443 print stack").unwrap();
        assert!(!p.rules[0].actions.is_empty());
        assert_eq!(show(p.rules[0].filter.as_ref().unwrap()), "{tcp port 443}");
    }
}
