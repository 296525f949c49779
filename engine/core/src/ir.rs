//! The checked form of a rule: fields resolved to ids, literals to 128-bit
//! values and masks, primitives expanded, triggers to hooks. This is what
//! lowering compiles, and `Filter::eval` is the direct meaning of a filter
//! that the branch program must agree with.

use crate::abi::{self, op};
use crate::catalog;
use ferret_grammar::ast::Span;
use serde::Serialize;

/// One comparison: `(field & mask) OP value`, false when the field is absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Atom {
    pub field: u8,
    pub op: u8,
    pub value: u128,
    pub mask: u128,
    #[serde(skip)]
    pub span: Span,
}

impl Atom {
    /// `field == value` over the field's full width.
    pub fn eq(def: &catalog::FieldDef, value: u128, span: Span) -> Atom {
        Atom {
            field: def.id,
            op: op::EQ,
            value,
            mask: def.full_mask(),
            span,
        }
    }

    pub fn with_op(def: &catalog::FieldDef, cmp: u8, value: u128, span: Span) -> Atom {
        Atom {
            op: cmp,
            ..Atom::eq(def, value, span)
        }
    }

    /// The comparison on a present field value.
    pub fn holds(&self, field_value: u128) -> bool {
        let v = field_value & self.mask;
        match self.op {
            op::EQ => v == self.value,
            op::NE => v != self.value,
            op::LT => v < self.value,
            op::LE => v <= self.value,
            op::GT => v > self.value,
            op::GE => v >= self.value,
            _ => false,
        }
    }

    pub fn eval(&self, meta: &abi::Meta) -> bool {
        let def = catalog::by_id(self.field).expect("atoms name catalog fields");
        def.value_in(meta).is_some_and(|v| self.holds(v))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Filter {
    True,
    False,
    Atom(Atom),
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
}

impl Filter {
    pub fn eval(&self, meta: &abi::Meta) -> bool {
        match self {
            Filter::True => true,
            Filter::False => false,
            Filter::Atom(a) => a.eval(meta),
            Filter::And(items) => items.iter().all(|f| f.eval(meta)),
            Filter::Or(items) => items.iter().any(|f| f.eval(meta)),
            Filter::Not(inner) => !inner.eval(meta),
        }
    }

    /// Bitmask (1 << field) of the fields the filter reads.
    pub fn fields(&self) -> u32 {
        match self {
            Filter::True | Filter::False => 0,
            Filter::Atom(a) => 1 << a.field,
            Filter::And(items) | Filter::Or(items) => items.iter().fold(0, |m, f| m | f.fields()),
            Filter::Not(inner) => inner.fields(),
        }
    }
}

/// Where a rule listens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum TriggerIr {
    /// One of the built-in tracepoint triggers (drop, free, recv, xmit, queue).
    Hook {
        hook: u32,
        name: &'static str,
        tracepoint: &'static str,
    },
    /// `tp CATEGORY:NAME`.
    Tracepoint { category: String, name: String },
    /// `func GLOB, ..`; `any` is `func *`.
    Func { globs: Vec<String> },
    /// `tc GLOB, ..`, `xdp GLOB, ..`: BPF programs by name (`tc` alone is
    /// `tc *`), traced on entry and exit.
    Prog {
        prog: crate::bpf_prog::ProgKind,
        globs: Vec<String>,
    },
}

/// A `count by` key or `print` column: a field, or the rule number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyField {
    Field(String),
    Rule,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ActionsIr {
    pub print: bool,
    /// Chosen `print` columns; empty means the default columns.
    pub print_fields: Vec<String>,
    pub stack: bool,
    pub count_by: Option<Vec<KeyField>>,
    pub hist: Option<String>,
    pub capture: Option<u32>,
    pub track: bool,
    /// `explain`: each matching drop carries the verdict behind it. Done
    /// in userspace (an nftables trace table while the session runs), so
    /// no kernel flag; it implies delivering events.
    pub explain: bool,
    pub call: Option<String>,
    pub limit_per_sec: Option<u64>,
    pub stop_after: Option<u64>,
}

impl ActionsIr {
    pub fn flags(&self) -> u32 {
        let mut f = 0;
        let mut set = |cond: bool, bit: u32| {
            if cond {
                f |= bit;
            }
        };
        set(self.print, abi::act::PRINT);
        set(self.stack, abi::act::STACK);
        set(self.count_by.is_some(), abi::act::COUNT);
        set(self.hist.is_some(), abi::act::HIST);
        set(self.capture.is_some(), abi::act::CAPTURE);
        set(self.track, abi::act::TRACK);
        set(self.call.is_some(), abi::act::CALL);
        f
    }
}

/// A rule that passed the checker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckedRule {
    /// 1-based, in the order written.
    pub number: usize,
    pub text: String,
    #[serde(skip)]
    pub span: Span,
    pub triggers: Vec<TriggerIr>,
    pub filter: Filter,
    /// The pcap-filter parts of the filter; part `i` is bit `i` of
    /// `Meta::pcap` (the atoms on field `PCAP`).
    pub pcap: Vec<PcapUnit>,
    pub actions: ActionsIr,
}

/// One pcap-filter part of a filter, compiled by libpcap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PcapUnit {
    /// The text libpcap compiled.
    pub text: String,
    #[serde(skip)]
    pub span: Span,
    /// For packets seen from an Ethernet header; validated for the kernel.
    #[serde(skip)]
    pub ether: crate::pcap::Program,
    /// For packets seen from the IP header; `None` when libpcap refuses the
    /// text without a link layer (`ether host`, `vlan`): false there.
    #[serde(skip)]
    pub raw: Option<crate::pcap::Program>,
    /// libpcap's reason when `raw` is `None`.
    pub raw_refused: Option<String>,
    /// The packet keys either program can accept: the hook pre-check's
    /// values (pcap::prefilter).
    #[serde(skip)]
    pub keys: Vec<crate::pcap::prefilter::KeyRange>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_field_is_false_and_not_of_it_true() {
        let dport = catalog::lookup("dport").unwrap();
        let f = Filter::Atom(Atom::eq(dport, 80, Span::default()));
        let icmp = abi::Meta::default();
        assert!(!f.eval(&icmp));
        assert!(Filter::Not(Box::new(f.clone())).eval(&icmp));
        let ne = Filter::Atom(Atom::with_op(dport, op::NE, 80, Span::default()));
        assert!(
            !ne.eval(&icmp),
            "!= on an absent field is false, as in pcap-filter"
        );
    }
}
