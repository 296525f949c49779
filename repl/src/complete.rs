//! What Tab offers at the cursor, decided from the words before it: command
//! names, then inside a rule trigger words, fields, operators, values of
//! the field being compared (drop reasons, services, protocols, kernel
//! functions, namespaces) and actions. Pure: the terminal helper wraps it.

use crate::command::COMMANDS;
use crate::vocab::{self, Vocabulary};
use ferret_core::catalog::{self, FieldKind};
use ferret_grammar::{ACTION_WORDS, TRIGGER_WORDS};

/// The result of completing at a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// Replace `line[start..pos]` with one of `words`.
    Words { start: usize, words: Vec<String> },
    /// A file name starts here (`load`, `save`).
    Path,
}

const PRIMITIVES: &[&str] = ferret_grammar::PRIMITIVE_WORDS;
const OPERATORS: &[&str] = &["==", "!=", "<", "<=", ">", ">=", "in"];
const SYMBOLS: &[char] = &['(', ')', '{', '}', ',', ';', '=', '!', '<', '>', '&', '|'];

fn is_word_char(c: char) -> bool {
    !c.is_whitespace() && !SYMBOLS.contains(&c)
}

/// Words and operator symbols, in order.
fn tokens(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut i = 0;
    let bytes = text.as_bytes();
    while i < text.len() {
        let c = text[i..].chars().next().unwrap_or(' ');
        if c.is_whitespace() {
            i += c.len_utf8();
        } else if is_word_char(c) {
            let end = text[i..]
                .find(|c: char| !is_word_char(c))
                .map_or(text.len(), |n| i + n);
            out.push(&text[i..end]);
            i = end;
        } else {
            let two = bytes
                .get(i + 1)
                .is_some_and(|b| matches!(b, b'=' | b'&' | b'|'));
            let len = if two && matches!(c, '=' | '!' | '<' | '>' | '&' | '|') {
                2
            } else {
                1
            };
            out.push(&text[i..i + len]);
            i += len;
        }
    }
    out
}

fn is(token: &str, word: &str) -> bool {
    token.eq_ignore_ascii_case(word)
}

pub fn complete(line: &str, pos: usize, vocab: &Vocabulary) -> Completion {
    let pos = pos.min(line.len());
    let before = &line[..pos];
    let start = before
        .char_indices()
        .rev()
        .find(|(_, c)| !is_word_char(*c))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let word = &before[start..];
    let all = tokens(&before[..start]);
    let words = |cands: Vec<String>| Completion::Words {
        start,
        words: matching(word, cands),
    };
    let owned = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    let Some(first) = all.first() else {
        let mut cands = owned(&["on"]);
        cands.extend(COMMANDS.iter().map(|(c, ..)| c.to_string()));
        return words(cands);
    };
    if !is(first, "on") {
        let ids = || vocab.rule_ids().iter().map(|i| i.to_string()).collect();
        return match first.to_ascii_lowercase().as_str() {
            "del" | "delete" | "rm" => words(ids()),
            "pause" | "resume" => words([vec!["all".to_string()], ids()].concat()),
            "load" | "save" => Completion::Path,
            "funcs" => words(vocab.functions_if_loaded().to_vec()),
            _ => words(Vec::new()),
        };
    }
    // The statement the cursor is in (rules on one line split at `;`).
    let stmt = match all.iter().rposition(|t| *t == ";") {
        Some(i) => &all[i + 1..],
        None => &all[..],
    };
    let Some(prev) = stmt.last() else {
        return words(owned(&["on"]));
    };
    words(in_rule(stmt, prev, vocab))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Triggers,
    Filter,
    Actions,
}

fn in_rule(stmt: &[&str], prev: &str, vocab: &Vocabulary) -> Vec<String> {
    let owned = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut phase = Phase::Triggers;
    let mut last_action = "";
    for t in stmt.iter().skip(1) {
        if is(t, "where") && phase == Phase::Triggers {
            phase = Phase::Filter;
        } else if let Some(a) = ACTION_WORDS.iter().find(|a| is(t, a)) {
            phase = Phase::Actions;
            last_action = a;
        }
    }
    let fields = || catalog::names().map(str::to_string).collect::<Vec<_>>();
    let actions = || owned(ACTION_WORDS);
    let lower = prev.to_ascii_lowercase();
    match phase {
        Phase::Triggers => match lower.as_str() {
            "on" | "," | "or" => owned(TRIGGER_WORDS),
            "func" => vocab.functions_if_loaded().to_vec(),
            "tp" => Vec::new(),
            _ => [owned(&["where", "or"]), actions()].concat(),
        },
        Phase::Actions => match (lower.as_str(), last_action) {
            ("by", _) | (",", "count") => [fields(), owned(catalog::COUNT_ONLY_KEYS)].concat(),
            ("hist", _) => fields(),
            ("print", _) | (",", "print") => [fields(), actions()].concat(),
            ("stop", _) => owned(&["after"]),
            ("capture", _) => [owned(&["snaplen"]), actions()].concat(),
            ("limit" | "call" | "after" | "snaplen", _) => Vec::new(),
            _ => actions(),
        },
        Phase::Filter => in_filter(stmt, &lower, vocab),
    }
}

fn in_filter(stmt: &[&str], prev: &str, vocab: &Vocabulary) -> Vec<String> {
    let owned = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let opens_term = ["where", "and", "or", "not", "&&", "||", "!", "("];
    if opens_term.contains(&prev) {
        return [
            catalog::names().map(str::to_string).collect(),
            owned(PRIMITIVES),
        ]
        .concat();
    }
    match prev {
        "src" | "dst" => return owned(&["host", "net", "port", "portrange"]),
        "port" => return names(catalog::SERVICES),
        "host" | "net" | "portrange" => return Vec::new(),
        _ => {}
    }
    if let Some(def) = catalog::lookup(prev) {
        return if def.kind == FieldKind::TcpFlags {
            owned(&["has"])
        } else {
            owned(OPERATORS)
        };
    }
    // A value position: after an operator, `in`, `{`, `has`, or `,` in a set.
    let in_set = stmt.iter().rposition(|t| *t == "{") > stmt.iter().rposition(|t| *t == "}");
    let value_pos =
        OPERATORS.contains(&prev) || matches!(prev, "{" | "has") || (prev == "," && in_set);
    if value_pos {
        let field = stmt
            .iter()
            .rev()
            .find_map(|t| catalog::lookup(t))
            .map(|d| d.kind);
        return match field {
            Some(FieldKind::Reason) => vocab.reasons().map(<[String]>::to_vec).unwrap_or_default(),
            Some(FieldKind::Port) => names(catalog::SERVICES),
            Some(FieldKind::Proto) => names(catalog::PROTOCOLS),
            Some(FieldKind::Family) => names(catalog::FAMILIES),
            Some(FieldKind::TcpFlags) => names(catalog::TCP_FLAGS),
            Some(FieldKind::Func) => vocab.functions_if_loaded().to_vec(),
            Some(FieldKind::Netns) => vocab::netns_names()
                .into_iter()
                .map(|n| format!("\"{n}\""))
                .collect(),
            _ => Vec::new(),
        };
    }
    [owned(&["and", "or"]), owned(ACTION_WORDS)].concat()
}

fn names<T>(table: &[(&str, T)]) -> Vec<String> {
    table.iter().map(|(n, _)| n.to_string()).collect()
}

/// Candidates that start with what was typed, ignoring case (drop reasons
/// also without their `SKB_DROP_REASON_` prefix), sorted, once each.
fn matching(typed: &str, candidates: Vec<String>) -> Vec<String> {
    let upper = typed.to_ascii_uppercase();
    let short = upper.strip_prefix("SKB_DROP_REASON_").unwrap_or(&upper);
    let mut out: Vec<String> = candidates
        .into_iter()
        .filter(|c| {
            let c = c.to_ascii_uppercase();
            c.starts_with(&upper) || c.starts_with(short)
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests;
