//! A program is rules separated by newlines or `;`. Each statement is parsed
//! on its own so that one broken rule does not hide the errors of the next.

use crate::ast::{Program, Span};
use crate::parse::parse_statement;
use crate::Diagnostic;

/// Parses every rule of `text`; returns the rules that parsed and the
/// diagnostics of those that did not (all of them, not just the first).
pub fn parse_program(text: &str) -> (Program, Vec<Diagnostic>) {
    let mut rules = Vec::new();
    let mut diags = Vec::new();
    for stmt in statements(text) {
        match parse_statement(&text[stmt.start..stmt.end], stmt.start) {
            Ok(rule) => rules.push(rule),
            Err(d) => diags.push(d),
        }
    }
    (Program { rules }, diags)
}

/// Parses a program and fails with its diagnostics if any rule is broken.
pub fn parse(text: &str) -> Result<Program, Vec<Diagnostic>> {
    match parse_program(text) {
        (program, diags) if diags.is_empty() => Ok(program),
        (_, diags) => Err(diags),
    }
}

/// The statement spans of `text`: cut at newlines (not escaped by `\`) and
/// at `;`, outside quotes and comments; blank and comment-only parts dropped.
pub fn statements(text: &str) -> Vec<Span> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_string = false;
    let mut in_comment = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'"' if !in_comment => in_string = !in_string,
            b'#' if !in_string => in_comment = true,
            b'\\' if !in_string && bytes.get(i + 1) == Some(&b'\n') => i += 1,
            // A `;` inside a string or a comment is text; a newline always
            // ends the statement (strings do not span lines).
            b';' if in_string || in_comment => {}
            b'\n' | b';' => {
                push_statement(text, start, i, &mut out);
                start = i + 1;
                in_string = false;
                in_comment = false;
            }
            _ => {}
        }
        i += 1;
    }
    push_statement(text, start, text.len(), &mut out);
    out
}

fn push_statement(text: &str, start: usize, end: usize, out: &mut Vec<Span>) {
    let part = &text[start..end];
    let code = part.split('#').next().unwrap_or("");
    if code.trim().is_empty() {
        return;
    }
    let lead = part.len() - part.trim_start().len();
    let trail = part.len() - part.trim_end().len();
    out.push(Span::new(start + lead, end - trail));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(src: &str) -> Vec<&str> {
        statements(src)
            .iter()
            .map(|s| &src[s.start..s.end])
            .collect()
    }

    #[test]
    fn splits_at_newlines_and_semicolons() {
        assert_eq!(
            texts("on drop\n\n  on free ; on recv\n"),
            ["on drop", "on free", "on recv"]
        );
    }

    #[test]
    fn comments_and_blank_lines_are_not_statements() {
        assert_eq!(
            texts("# only a comment\non drop # trailing\n   \n"),
            ["on drop # trailing"]
        );
    }

    #[test]
    fn semicolon_in_a_comment_or_string_does_not_split() {
        assert_eq!(
            texts("on drop # a; b\non recv where comm == \"a;b\""),
            ["on drop # a; b", "on recv where comm == \"a;b\""]
        );
    }

    #[test]
    fn backslash_newline_continues_a_rule() {
        assert_eq!(
            texts("on drop \\\n where dport == 1\non free"),
            ["on drop \\\n where dport == 1", "on free"]
        );
    }
}
