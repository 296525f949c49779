//! The text of the REPL's answers: rule lists, counters, help.

use crate::command::COMMANDS;
use ferret_core::reasons::DropReasons;
use ferret_core::summary::RuleSummary;
use ferret_session::control::RuleView;
use std::fmt::Write;

/// At most this many names from `funcs`; the count of the rest is shown.
const MAX_FUNCS_SHOWN: usize = 200;

fn state(paused: bool) -> &'static str {
    if paused {
        "paused"
    } else {
        "active"
    }
}

pub fn list(rules: &[RuleView]) -> String {
    if rules.is_empty() {
        return "no rules; type one, e.g. `on drop where dport == 443 print`".into();
    }
    let mut out = String::new();
    for r in rules {
        let _ = writeln!(out, "{:>4}  {:<6}  {}", r.id, state(r.paused), r.text);
    }
    out
}

pub fn stats(stats: &[RuleSummary], rules: &[RuleView]) -> String {
    if rules.is_empty() {
        return "no rules".into();
    }
    let mut out = format!(
        "{:>4}  {:<6} {:>10} {:>10} {:>10} {:>10} {:>10}  TEXT\n",
        "RULE", "STATE", "MATCHED", "EMITTED", "SHOWN", "LOST", "LIMITED"
    );
    for r in rules {
        let s = stats
            .iter()
            .find(|s| s.rule == r.id)
            .cloned()
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{:>4}  {:<6} {:>10} {:>10} {:>10} {:>10} {:>10}  {}",
            r.id,
            state(r.paused),
            s.matched,
            s.emitted,
            s.delivered,
            s.lost_ring_full,
            s.rate_limited,
            r.text
        );
    }
    let lost: u64 = stats.iter().map(|s| s.lost_ring_full).sum();
    if lost > 0 {
        out.push_str("LOST: the ring buffer was full; restart with --ring-mib 64, narrow the filter or add `limit N/s`\n");
    }
    let failed: u64 = stats.iter().map(|s| s.agg_failed).sum();
    if failed > 0 {
        let _ = writeln!(out, "{failed} matches not counted: the count map was full; count by fewer fields or narrow the filter");
    }
    out.push_str("MATCHED and EMITTED count in the kernel; SHOWN is what reached this screen (or the -o file)");
    out
}

pub fn fields() -> String {
    let mut out = String::new();
    for f in ferret_core::catalog::FIELDS {
        let _ = writeln!(out, "{:<10} {}", f.name, f.doc);
    }
    out.push_str("and all of pcap-filter(7), as tcpdump reads it: host, net, port, portrange, src, dst, tcp, udp, ether, vlan, tcp[tcpflags] & tcp-syn != 0, ...");
    out
}

pub fn funcs(glob: &str, functions: Result<&[String], &str>) -> String {
    let names = match functions {
        Ok(names) => names,
        Err(why) => return format!("error: cannot list kernel functions: {why}"),
    };
    let matching: Vec<&String> = names
        .iter()
        .filter(|n| ferret_core::hooks::glob_match(glob, n))
        .collect();
    let mut out = String::new();
    for name in matching.iter().take(MAX_FUNCS_SHOWN) {
        let _ = writeln!(out, "{name}");
    }
    if matching.len() > MAX_FUNCS_SHOWN {
        let _ = writeln!(
            out,
            "... and {} more; narrow the glob",
            matching.len() - MAX_FUNCS_SHOWN
        );
    }
    let _ = write!(
        out,
        "{} of {} kernel functions that take an skb match `{glob}`",
        matching.len(),
        names.len()
    );
    out
}

pub fn reasons<E: std::fmt::Display>(reasons: &Result<DropReasons, E>) -> String {
    match reasons {
        Ok(r) => {
            let mut out = String::new();
            for name in r.names() {
                let _ = writeln!(out, "{:>4}  {name}", r.value_of(name).unwrap_or_default());
            }
            out.push_str(
                "use them as `reason == NAME` (case does not matter; SKB_DROP_REASON_ is optional)",
            );
            out
        }
        Err(why) => format!("error: the kernel's drop reasons are unknown: {why}"),
    }
}

pub fn help() -> String {
    let mut out = String::from(
        "Type a rule to add it, e.g.\n  on drop where dport == 443 print\n  on recv, xmit where host 198.18.0.2 and tcp port 80\nCommands:\n",
    );
    for (name, args, what) in COMMANDS {
        let usage = if args.is_empty() {
            name.to_string()
        } else {
            format!("{name} {args}")
        };
        let _ = writeln!(out, "  {usage:<14} {what}");
    }
    out.push_str(
        "Keys: Tab completes keywords, fields, reasons, functions; Up/Down and Ctrl-R search history;\n  Ctrl-C pauses every rule (stops the output), Ctrl-D quits, Ctrl-L clears the screen.\nThe language: docs/language.md",
    );
    out
}

/// What `save` writes: a rule file `load` and `ferret run` read back.
pub fn rule_file(rules: &[RuleView]) -> String {
    let mut out = String::from("# ferret rules, saved from the REPL\n");
    for r in rules {
        if r.paused {
            let _ = writeln!(out, "# rule {} was paused when saved", r.id);
        }
        let _ = writeln!(out, "{}", r.text);
    }
    out
}
