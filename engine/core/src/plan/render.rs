//! How a plan reads: as text for people (`ferret check`) and as JSON.

use super::Plan;
use crate::abi::{self, Insn, TARGET_MATCH, TARGET_NOMATCH};
use crate::catalog::{self, FieldKind};
use crate::ir::{KeyField, TriggerIr};
use serde::ser::{SerializeSeq, Serializer};
use std::fmt::Write;

/// What `check` says of `tc`/`xdp` triggers, which it cannot try.
const PROG_TRACING_NEEDS: &str = "a kernel that allows fentry/fexit on BPF programs \
     (`ferret features` says whether this one does)";

pub(super) fn plan_text(plan: &Plan) -> String {
    let mut out = String::new();
    for r in &plan.rules {
        let _ = writeln!(out, "rule {}: {}", r.number, r.text);
        let hooks: Vec<String> = r
            .triggers
            .iter()
            .map(|t| match t {
                TriggerIr::Hook {
                    name, tracepoint, ..
                } => format!("{name} (tracepoint {tracepoint})"),
                TriggerIr::Tracepoint { category, name } => format!("tracepoint {category}:{name}"),
                TriggerIr::Func { globs } => format!("functions {}", globs.join(", ")),
                TriggerIr::Prog { prog, globs } => format!(
                    "{} programs {} (fentry/fexit)",
                    prog.name(),
                    globs.join(", ")
                ),
            })
            .collect();
        let _ = writeln!(out, "  hooks:   {}", hooks.join(", "));
        if r.triggers
            .iter()
            .any(|t| matches!(t, TriggerIr::Prog { .. }))
        {
            let _ = writeln!(out, "  needs:   {PROG_TRACING_NEEDS}");
        }
        let _ = writeln!(out, "  actions: {}", actions_text(&r.actions));
        if r.actions.explain {
            let _ = writeln!(out, "  changes: {EXPLAIN_CHANGES}");
        }
        let needs: Vec<&str> = catalog::FIELDS
            .iter()
            .filter(|f| r.needs & (1 << f.id) != 0)
            .map(|f| f.name)
            .collect();
        if !needs.is_empty() {
            let _ = writeln!(out, "  reads:   {}", needs.join(", "));
        }
        if r.insns.is_empty() {
            let _ = writeln!(out, "  filter:  none (every event matches)");
        } else {
            let _ = writeln!(
                out,
                "  filter:  {} of {} instructions",
                r.insns.len(),
                abi::MAX_INSNS
            );
            for (i, insn) in r.insns.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "    {i:>2}: {:<34} ? {} : {}",
                    insn_text(insn),
                    target(insn.jt),
                    target(insn.jf)
                );
            }
        }
        super::render_pcap::units_text(&r.pcap, &mut out);
    }
    prechecks_text(plan, &mut out);
    out
}

/// `443`, `1000..2000`; IPv4 addresses as `198.18.0.0/24` where a block.
fn precheck_range(address: bool, lo: u64, hi: u64) -> String {
    if !address {
        return if lo == hi {
            lo.to_string()
        } else {
            format!("{lo}..{hi}")
        };
    }
    let ip = |v: u64| std::net::Ipv4Addr::from(v as u32);
    let span = hi - lo + 1;
    match span.trailing_zeros() {
        0 if span == 1 => ip(lo).to_string(),
        bits if span.is_power_of_two() && lo % span == 0 => format!("{}/{}", ip(lo), 32 - bits),
        _ => format!("{}..{}", ip(lo), ip(hi)),
    }
}

/// The hooks' pre-checks this rule set gets when it runs alone.
fn prechecks_text(plan: &Plan, out: &mut String) {
    let entries: Vec<abi::Rule> = plan.rules.iter().map(|r| r.to_abi(0)).collect();
    let pcap: Vec<&[crate::ir::PcapUnit]> = plan.rules.iter().map(|r| &r.pcap[..]).collect();
    let guards = super::guard::hook_guards(&entries, &pcap);
    for (name, hook, _) in crate::hooks::TRACEPOINT_TRIGGERS {
        let g = &guards[*hook as usize];
        let Some(def) = catalog::by_id(g.field as u8).filter(|_| g.field != 0) else {
            continue;
        };
        let address = def.id == abi::field::SADDR || def.id == abi::field::DADDR;
        let ranges: Vec<String> = (0..g.nranges as usize)
            .map(|i| match def.id {
                abi::field::PCAP => crate::pcap::prefilter::range_text(g.lo[i], g.hi[i]),
                _ => precheck_range(address, g.lo[i], g.hi[i]),
            })
            .collect();
        let _ = match (ranges.is_empty(), address) {
            (true, true) => writeln!(
                out,
                "pre-check on {name}: {} is never an IPv4 address (IPv4 packets skip every rule)",
                def.name
            ),
            (true, false) => writeln!(out, "pre-check on {name}: every call skips every rule"),
            (false, _) => writeln!(
                out,
                "pre-check on {name}: {} in {{{}}} (other calls skip every rule)",
                def.name,
                ranges.join(", ")
            ),
        };
    }
}

fn actions_text(a: &crate::ir::ActionsIr) -> String {
    let mut parts = Vec::new();
    if a.print {
        parts.push(if a.print_fields.is_empty() {
            "print".to_string()
        } else {
            format!("print {}", a.print_fields.join(", "))
        });
    }
    if a.stack {
        parts.push("stack".into());
    }
    if let Some(keys) = &a.count_by {
        let keys: Vec<&str> = keys
            .iter()
            .map(|k| match k {
                KeyField::Field(f) => f.as_str(),
                KeyField::Rule => "rule",
            })
            .collect();
        parts.push(if keys.is_empty() {
            "count".into()
        } else {
            format!("count by {}", keys.join(", "))
        });
    }
    if let Some(h) = &a.hist {
        parts.push(format!("hist {h}"));
    }
    if let Some(n) = a.capture {
        parts.push(format!("capture snaplen {n}"));
    }
    if a.track {
        parts.push("track".into());
    }
    if a.explain {
        parts.push("explain".into());
    }
    if let Some(c) = &a.call {
        parts.push(format!("call {c}"));
    }
    if let Some(n) = a.limit_per_sec {
        parts.push(format!("limit {n}/s"));
    }
    if let Some(n) = a.stop_after {
        parts.push(format!("stop after {n}"));
    }
    parts.join(", ")
}

/// What `explain` does to the system, said before it runs.
pub const EXPLAIN_CHANGES: &str = "firewall state: while the session runs, `explain` adds \
nftables tables `inet` and `bridge ferret_explain_<pid>` that set nftrace for the flows of matching \
NETFILTER_DROP drops, in each network namespace where one happens (only there); \
it is removed when ferret ends, and a later start removes one left by a killed ferret; \
for other drops it only reads (ip route get, ss, tc, conntrack -L, iptables-nft-save)";

fn target(t: u8) -> String {
    match t {
        TARGET_MATCH => "match".into(),
        TARGET_NOMATCH => "no match".into(),
        n => format!("{n}"),
    }
}

fn op_text(op: u8) -> &'static str {
    ["==", "!=", "<", "<=", ">", ">="]
        .get(usize::from(op))
        .copied()
        .unwrap_or("?")
}

/// One instruction as a person reads it: `daddr == 10.0.0.0/8`.
pub fn insn_text(insn: &Insn) -> String {
    let Some(def) = catalog::by_id(insn.field) else {
        return format!("field {} ?", insn.field);
    };
    if insn.mask_hi == 0 && insn.mask_lo == 0 {
        return "always".into();
    }
    if insn.field == abi::field::PCAP && insn.mask_lo.is_power_of_two() {
        let part = insn.mask_lo.trailing_zeros();
        let not = if (insn.op == abi::op::EQ) == (insn.value_lo != 0) {
            ""
        } else {
            "not "
        };
        return format!("{not}pcap-filter #{part}");
    }
    let (value, mask) = (
        super::join(def, insn.value_hi, insn.value_lo),
        super::join(def, insn.mask_hi, insn.mask_lo),
    );
    let op = op_text(insn.op);
    match def.kind {
        FieldKind::Addr => {
            let prefix = mask.leading_ones();
            let shown = crate::check::addr_text(value);
            let v4 = value >> 32 == 0xffff && prefix >= 96;
            match (prefix, v4) {
                (128, _) => format!("{} {op} {shown}", def.name),
                (p, true) => format!("{} {op} {shown}/{}", def.name, p - 96),
                (p, false) => format!("{} {op} {shown}/{p}", def.name),
            }
        }
        FieldKind::Name => {
            let bytes = value.to_be_bytes();
            let text: String = bytes
                .iter()
                .take_while(|b| **b != 0)
                .map(|b| char::from(*b))
                .collect();
            let exact = mask.to_be_bytes().iter().filter(|b| **b != 0).count() > text.len();
            format!(
                "{} {op} \"{text}{}\"",
                def.name,
                if exact { "" } else { "*" }
            )
        }
        _ if mask != def.full_mask() => format!("{} & {mask:#x} {op} {value:#x}", def.name),
        _ => format!("{} {op} {value}", def.name),
    }
}

pub(super) fn serialize_insns<S: Serializer>(insns: &[Insn], s: S) -> Result<S::Ok, S::Error> {
    #[derive(serde::Serialize)]
    struct InsnJson<'a> {
        field: &'a str,
        op: &'a str,
        value: String,
        mask: String,
        jump_true: String,
        jump_false: String,
        text: String,
    }
    let mut seq = s.serialize_seq(Some(insns.len()))?;
    for i in insns {
        seq.serialize_element(&InsnJson {
            field: catalog::by_id(i.field).map_or("?", |f| f.name),
            op: op_text(i.op),
            value: format!("{:#018x}{:016x}", i.value_hi, i.value_lo),
            mask: format!("{:#018x}{:016x}", i.mask_hi, i.mask_lo),
            jump_true: target(i.jt),
            jump_false: target(i.jf),
            text: insn_text(i),
        })?;
    }
    seq.end()
}
