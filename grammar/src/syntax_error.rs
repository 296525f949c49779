//! Turns a pest failure into a diagnostic a person can act on: what was
//! expected in words, what was found, and the nearest keyword.

use crate::ast::Span;
use crate::pest_parser::R;
use crate::Diagnostic;

pub(crate) const TRIGGER_WORDS: &[&str] = &[
    "drop", "free", "recv", "xmit", "queue", "any", "func", "tp", "tc", "xdp",
];
pub(crate) const PRIMITIVE_WORDS: &[&str] = &[
    "not",
    "ether",
    "vlan",
    "proto",
    "less",
    "greater",
    "host",
    "net",
    "port",
    "portrange",
    "src",
    "dst",
    "tcp",
    "udp",
    "icmp",
    "icmp6",
    "sctp",
    "ip",
    "ip6",
    "arp",
];
pub(crate) const ACTION_WORDS: &[&str] = &[
    "print", "stack", "count", "hist", "capture", "track", "explain", "call", "limit", "stop",
];

const FIELD_NAME: &str = "a field name (like `dport` or `reason`)";

/// What a grammar rule means to a user, and which keywords could start it.
fn describe(grammar_rule: R) -> Option<(&'static str, &'static [&'static str])> {
    use crate::pest_parser::Rule::*;
    Some(match grammar_rule {
        kw_on => ("`on`", &["on"]),
        triggers | trigger | simple_trigger | func_trigger | tp_trigger | kw_func | kw_tp
        | prog_trigger | prog_kind => (
            "a trigger (drop, free, recv, xmit, queue, any, func GLOB, tp CATEGORY:NAME, tc, xdp)",
            TRIGGER_WORDS,
        ),
        kw_where => ("`where`", &["where"]),
        filter | seq | unary | group | not_op | kw_not | pcap | pcap_arith | comparison => (
            "a filter (a comparison like `dport == 443`, or pcap-filter like `host 10.0.0.1`)",
            PRIMITIVE_WORDS,
        ),
        op_rhs | in_rhs | cmp_op | kw_in | field_mask => (
            "a comparison operator (==, !=, <, <=, >, >=, in, has)",
            &["in", "has"],
        ),
        // Alone (after `count by`, `print`, `hist`) a field is what is
        // missing; beside the filter alternatives it is folded into those.
        field => (FIELD_NAME, &[]),
        value | string | cidr | addr | number | word | set | range | value_range_end => {
            ("a value", &[])
        }
        count_value => ("a whole number", &[]),
        close_paren => ("`)`", &[]),
        rate_sep => ("`/s` (as in `limit 10/s`)", &[]),
        // Separately: after the triggers only `or` may follow, not `and`.
        kw_and => ("`and`", &["and"]),
        kw_or | trigger_sep => ("`or`", &["or"]),
        actions | action | print_action | stack_action | count_action | hist_action
        | capture_action | track_action | explain_action | call_action | limit_action | stop_action | kw_print
        | kw_stack | kw_count | kw_hist | kw_capture | kw_track | kw_explain | kw_call | kw_limit | kw_stop
        | field_list => (
            "an action (print, stack, count, hist, capture, track, explain, call, limit, stop after)",
            ACTION_WORDS,
        ),
        func_glob => ("a kernel function name or glob, like `ip_*`", &[]),
        tp_name | tp_part => ("a tracepoint as CATEGORY:NAME, like `skb:kfree_skb`", &[]),
        handler => ("the name of a Rhai handler", &[]),
        kw_by => ("`by`", &["by"]),
        kw_after => ("`after` (as in `stop after 1`)", &["after"]),
        kw_snaplen => ("`snaplen`", &["snaplen"]),
        rate_unit => ("a rate unit, as in `limit 10/s`", &["s"]),
        EOI => ("the end of the rule", &[]),
        _ => return None,
    })
}

pub(crate) fn from_pest(err: &pest::error::Error<R>, text: &str, offset: usize) -> Diagnostic {
    let pos = match err.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((s, _)) => s,
    };
    let (tok_start, tok_end) = token_at(text, pos);
    let found = &text[tok_start..tok_end];
    let span = Span::new(tok_start + offset, tok_end.max(tok_start) + offset);

    let positives: Vec<R> = match &err.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => positives.clone(),
        pest::error::ErrorVariant::CustomError { .. } => Vec::new(),
    };
    let mut wanted: Vec<&'static str> = Vec::new();
    let mut candidates: Vec<&'static str> = Vec::new();
    for (what, words) in positives.iter().filter_map(|r| describe(*r)) {
        if !wanted.contains(&what) {
            wanted.push(what);
        }
        candidates.extend(words.iter().copied());
    }
    // A filter continues with either operator.
    if positives.contains(&R::bool_op) {
        for w in ["`and`", "`or`"] {
            if !wanted.contains(&w) {
                wanted.push(w);
            }
        }
        candidates.extend(["and", "or"]);
    }
    if wanted.iter().any(|w| w.starts_with("a filter")) {
        wanted.retain(|w| *w != FIELD_NAME);
    }
    // Say the likeliest continuation first, the end of the rule last.
    wanted.sort_by_key(|w| {
        (
            w.starts_with("the end"),
            *w == "`and`" || *w == "`or`",
            *w == "`or`",
        )
    });
    let found_text = if found.is_empty() {
        "the end of the rule".to_string()
    } else {
        format!("`{found}`")
    };
    let message = match wanted.len() {
        0 => format!("unexpected {found_text}"),
        _ => format!("expected {}, found {found_text}", join_or(&wanted)),
    };
    let mut diag = Diagnostic::error(message, span);
    if !found.is_empty() {
        diag = diag.suggesting(found, candidates.iter().copied());
    }
    if diag.label.is_empty() {
        diag.label = if found.is_empty() {
            "the rule ends here".into()
        } else {
            "unexpected here".into()
        };
    }
    if found == "\"" && !text[tok_end..].contains('"') {
        diag.label = "this string is never closed".into();
        diag = diag.with_note("a string ends with `\"` on the same line, as in \"eth0\"");
    }
    if positives.contains(&R::kw_where) && looks_like_filter(found) {
        diag = diag.with_note("a filter starts with `where`, as in `on drop where dport == 443`");
    }
    if positives.contains(&R::kw_on) && pos == 0 {
        diag = diag.with_note("every rule starts with `on`, as in `on drop print`");
    }
    diag
}

fn looks_like_filter(word: &str) -> bool {
    let w = word.to_ascii_lowercase();
    !w.is_empty()
        && !ACTION_WORDS.contains(&w.as_str())
        && w.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
}

/// The extent of the token that starts at `pos` (a word, or one symbol).
fn token_at(text: &str, pos: usize) -> (usize, usize) {
    let pos = pos.min(text.len());
    let rest = &text[pos..];
    let trimmed = rest.trim_start_matches([' ', '\t']);
    let start = pos + (rest.len() - trimmed.len());
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return (start, start);
    }
    let word_len = trimmed
        .char_indices()
        .find(|(_, c)| !(c.is_alphanumeric() || matches!(c, '_' | '.' | ':' | '*' | '/')))
        .map_or(trimmed.len(), |(i, _)| i);
    let len = if word_len == 0 {
        trimmed.chars().next().map_or(0, char::len_utf8)
    } else {
        word_len
    };
    (start, start + len)
}

fn join_or(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}
