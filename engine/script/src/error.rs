//! Script errors as users see them: `file:line:col`, the failing source
//! line with a caret, and the chain of calls that led there. Rhai's nested
//! errors are unwrapped to the innermost one, which is where the fault is.

use rhai::{EvalAltResult, ParseError, Position};

/// One thing that went wrong in a playbook.
#[derive(Debug, thiserror::Error)]
#[error("{}{kind}", location(file, *at))]
pub struct ScriptError {
    /// The playbook (its path).
    pub file: String,
    pub kind: ScriptErrorKind,
    /// 1-based line and column in the playbook, when known.
    pub at: Option<(usize, usize)>,
    /// How the failing code was reached (calls, innermost last).
    pub notes: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ScriptErrorKind {
    #[error("cannot read the playbook: {source}")]
    Read { source: std::io::Error },
    #[error("syntax error: {message}")]
    Syntax { message: String },
    #[error("`fn {hook}` must take {want} parameter(s), it takes {found}")]
    HookSignature {
        hook: &'static str,
        want: usize,
        found: usize,
    },
    #[error("in `{hook}`: {message}")]
    Runtime { hook: String, message: String },
    #[error("in `{hook}`: stopped after {} operations in one call (an endless loop?); a hook must return; if the work is real, raise the limit with --script-ops", thousands(*limit))]
    TooManyOperations { hook: String, limit: u64 },
    #[error("cannot write the playbook's output: {source}")]
    Output { source: std::io::Error },
}

/// 10000000 → "10,000,000".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn location(file: &str, at: Option<(usize, usize)>) -> String {
    match at {
        Some((line, col)) => format!("{file}:{line}:{col}: "),
        None => format!("{file}: "),
    }
}

fn line_col(pos: Position) -> Option<(usize, usize)> {
    Some((pos.line()?, pos.position().unwrap_or(1)))
}

pub(crate) fn from_parse(file: &str, e: &ParseError) -> ScriptError {
    ScriptError {
        file: file.to_string(),
        kind: ScriptErrorKind::Syntax {
            message: e.err_type().to_string(),
        },
        at: line_col(e.position()),
        notes: vec![],
    }
}

/// A failed call of `hook`. `text` is the playbook, to place errors that
/// Rhai reports without a position at the hook's definition.
pub(crate) fn from_eval(
    file: &str,
    text: &str,
    hook: &str,
    err: &EvalAltResult,
    limit: u64,
) -> ScriptError {
    let mut inner = err;
    let mut calls: Vec<(String, Position)> = Vec::new();
    loop {
        match inner {
            EvalAltResult::ErrorInFunctionCall(name, _, e, pos) => {
                calls.push((name.clone(), *pos));
                inner = e;
            }
            EvalAltResult::ErrorInModule(name, e, pos) => {
                calls.push((format!("module {name}"), *pos));
                inner = e;
            }
            _ => break,
        }
    }
    let at = line_col(inner.position())
        .or_else(|| calls.iter().rev().find_map(|(_, p)| line_col(*p)))
        .or_else(|| find_fn(text, hook));
    let notes = calls
        .iter()
        .map(|(name, pos)| match line_col(*pos) {
            Some((l, c)) => format!("in a call of `{name}` at {file}:{l}:{c}"),
            None => format!("in a call of `{name}`"),
        })
        .collect();
    let kind = match inner {
        EvalAltResult::ErrorTooManyOperations(..) => ScriptErrorKind::TooManyOperations {
            hook: hook.to_string(),
            limit,
        },
        _ => ScriptErrorKind::Runtime {
            hook: hook.to_string(),
            message: message(inner),
        },
    };
    ScriptError {
        file: file.to_string(),
        kind,
        at,
        notes,
    }
}

/// Rhai's message without its position (shown separately), in ferret's words
/// where Rhai's would puzzle a playbook author.
fn message(err: &EvalAltResult) -> String {
    match err {
        EvalAltResult::ErrorRuntime(v, _) => v.to_string(),
        EvalAltResult::ErrorDotExpr(text, _) if text.ends_with("for type 'Event'") => {
            let field = text
                .strip_prefix("Unknown property '")
                .and_then(|t| t.split_once('\''))
                .map_or("?", |(f, _)| f);
            if text.contains("a setter") {
                return format!("events are read-only (`{field}`); copy one with `let m = ev.to_map();` to change it");
            }
            match ferret_grammar::closest(field, super::event::FIELDS.iter().copied()) {
                Some(n) => format!("events have no field `{field}`; did you mean `{n}`?"),
                None => format!("events have no field `{field}`; docs/scripting.md lists them"),
            }
        }
        other => {
            // Rhai appends " (line L, position C)"; the location is shown apart.
            let text = other.to_string();
            match text.rfind(" (line ") {
                Some(i) if text.ends_with(')') && !other.position().is_none() => {
                    text[..i].to_string()
                }
                _ => text,
            }
        }
    }
}

/// Where `fn name` is defined, 1-based.
pub(crate) fn find_fn(text: &str, name: &str) -> Option<(usize, usize)> {
    let needle = format!("fn {name}");
    text.lines().enumerate().find_map(|(i, line)| {
        let col = line.find(&needle)?;
        let after = line[col + needle.len()..].chars().next();
        (!after.is_some_and(|c| c.is_alphanumeric() || c == '_')).then_some((i + 1, col + 1))
    })
}

impl ScriptError {
    /// Multi-line rendering with the failing line of `text` and a caret.
    pub fn render(&self, text: &str, color: bool) -> String {
        let Some((line, col)) = self.at else {
            let mut out = format!("error: {self}\n");
            for n in &self.notes {
                out.push_str(&format!("  = note: {n}\n"));
            }
            return out;
        };
        let start = byte_offset(text, line, col);
        // Underline the word at the caret, or one character.
        let len = text[start..]
            .char_indices()
            .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
            .map_or(text.len() - start, |(i, _)| i)
            .max(text[start..].chars().next().map_or(0, char::len_utf8));
        let span = ferret_grammar::ast::Span::new(start, start + len);
        let mut d = ferret_grammar::Diagnostic::error(self.kind.to_string(), span);
        for n in &self.notes {
            d = d.with_note(n.clone());
        }
        ferret_core::diag::render(&self.file, text, &[d], color)
    }
}

fn byte_offset(text: &str, line: usize, col: usize) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    let rest = &text[line_start.min(text.len())..];
    let in_line = rest
        .char_indices()
        .nth(col.saturating_sub(1))
        .map_or(rest.len(), |(i, _)| i);
    (line_start + in_line).min(text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_numbers_get_separators() {
        assert_eq!(thousands(10_000_000), "10,000,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
    }

    #[test]
    fn offsets_follow_lines_and_characters() {
        let t = "ab\nçd ef\n";
        assert_eq!(byte_offset(t, 1, 1), 0);
        assert_eq!(byte_offset(t, 2, 1), 3);
        assert_eq!(byte_offset(t, 2, 4), 7);
        assert_eq!(byte_offset(t, 9, 9), t.len());
    }

    #[test]
    fn hooks_are_found_by_their_definition() {
        let t = "// fn on_end\nfn on_event_x(e) {}\n  fn on_event(ev) {}\n";
        assert_eq!(find_fn(t, "on_event"), Some((3, 3)));
        assert_eq!(find_fn(t, "on_end"), Some((1, 4)));
        assert_eq!(find_fn(t, "missing"), None);
    }

    #[test]
    fn rendering_shows_the_line_and_a_caret() {
        let text = "fn on_start() {\n    nope(1);\n}\n";
        let e = ScriptError {
            file: "x.rhai".into(),
            kind: ScriptErrorKind::Runtime {
                hook: "on_start".into(),
                message: "Function not found: nope (i64)".into(),
            },
            at: Some((2, 5)),
            notes: vec![],
        };
        let r = e.render(text, false);
        assert!(r.contains("x.rhai:2:5"), "{r}");
        assert!(r.contains("nope(1);"), "{r}");
        assert!(r.contains("^^^^"), "{r}");
        assert_eq!(
            e.to_string(),
            "x.rhai:2:5: in `on_start`: Function not found: nope (i64)"
        );
    }
}
