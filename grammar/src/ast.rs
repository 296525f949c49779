//! The syntax tree. Every node carries the byte span it came from, as
//! offsets into the whole input (not into its statement), so diagnostics of
//! any later stage point at the text the user wrote.

use serde::Serialize;

/// Byte offsets `[start, end)` into the program text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// The smallest span that covers both.
    pub fn join(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// A piece of text with where it was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ident {
    pub text: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Program {
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    /// The rule's own text, as written (for plans and `list`).
    pub text: String,
    pub span: Span,
    pub triggers: Vec<Trigger>,
    pub filter: Option<Expr>,
    pub actions: Vec<Action>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trigger {
    pub kind: TriggerKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerKind {
    Drop,
    Free,
    Recv,
    Xmit,
    Queue,
    Any,
    Func {
        globs: Vec<Ident>,
    },
    /// `tc [GLOB, ..]` (`xdp: false`) or `xdp [GLOB, ..]`: BPF programs by
    /// name; no globs means every one.
    Prog {
        xdp: bool,
        globs: Vec<Ident>,
    },
    Tp {
        category: Ident,
        name: Ident,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExprKind {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Compare(Comparison),
    /// pcap-filter(7) text, handed to libpcap whole.
    Pcap(PcapText),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Has,
}

impl CmpOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Has => "has",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub field: Ident,
    /// `mark & 0xff == 1`: the mask applied to the field before comparing.
    pub mask: Option<Value>,
    pub rhs: Rhs,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rhs {
    Op {
        op: CmpOp,
        op_span: Span,
        value: Value,
    },
    InSet {
        values: Vec<Value>,
        span: Span,
    },
    InRange {
        low: Value,
        high: Value,
        span: Span,
    },
    /// `in VALUE` with a single value (a CIDR, usually).
    InValue {
        value: Value,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Value {
    pub kind: ValueKind,
    pub text: String,
    pub span: Span,
}

/// The lexical class of a literal; the checker interprets it by field type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueKind {
    Number,
    Addr,
    Cidr,
    String,
    Word,
}

/// A run of pcap-filter words (`tcp[tcpflags] & tcp-syn != 0`, `host A or
/// B`), as libpcap will read it: its tokens joined by single spaces, with
/// comments and line continuations left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PcapText {
    pub text: String,
    /// Each token's span, in order: libpcap reports no positions, so a
    /// later stage that blames a word finds it here.
    pub tokens: Vec<(String, Span)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Action {
    pub kind: ActionKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// `print` with its chosen columns (empty: the default columns).
    Print {
        fields: Vec<Ident>,
    },
    Stack,
    Count {
        by: Vec<Ident>,
    },
    Hist {
        field: Ident,
    },
    Capture {
        snaplen: Option<Value>,
    },
    Track,
    /// Names the firewall rule behind each matching drop (`verdict`).
    Explain,
    Call {
        handler: Ident,
    },
    Limit {
        rate: Value,
        unit: Ident,
    },
    StopAfter {
        count: Value,
    },
}
