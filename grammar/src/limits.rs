//! Bounds on one rule, checked before and after pest runs, so that no input
//! — a 1 MB line, ten thousand parentheses, a chain of `not`s — can exhaust
//! the stack of the recursive stages behind the parser. Each is far beyond
//! what a rule can use anyway: a rule lowers to at most 32 comparisons.

use crate::ast::Span;
use crate::Diagnostic;

/// Bytes in one rule.
pub const MAX_RULE_BYTES: usize = 16 * 1024;
/// Depth of `(` and `{` nesting.
pub const MAX_NESTING: usize = 32;
/// Comparisons, primitives and `not`s in one filter.
pub const MAX_FILTER_NODES: usize = 512;

/// Refuses a statement that is too long or nested too deeply.
pub(crate) fn check_text(text: &str, offset: usize) -> Result<(), Diagnostic> {
    if text.len() > MAX_RULE_BYTES {
        let head = text.char_indices().nth(2).map_or(text.len(), |(i, _)| i);
        return Err(Diagnostic::error(
            format!(
                "this rule is {} bytes long; a rule can be at most {MAX_RULE_BYTES} bytes",
                text.len()
            ),
            Span::new(offset, offset + head),
        )
        .with_label("the rule starts here")
        .with_note("split it into several rules: rules on the same trigger act like `or`"));
    }
    let mut depth = 0usize;
    let mut in_string = false;
    for (i, c) in text.char_indices() {
        match c {
            '"' => in_string = !in_string,
            '(' | '{' if !in_string => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(Diagnostic::error(
                        format!("parentheses are nested more than {MAX_NESTING} deep"),
                        Span::new(offset + i, offset + i + 1),
                    )
                    .with_label("too deep here")
                    .with_note("flatten the filter: `a and (b or c)` needs no further nesting"));
                }
            }
            ')' | '}' if !in_string => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Refuses a filter with more nodes than any rule can use.
pub(crate) fn check_nodes(nodes: usize, span: Span) -> Result<(), Diagnostic> {
    if nodes > MAX_FILTER_NODES {
        return Err(Diagnostic::error(format!("this filter has {nodes} comparisons and operators; at most {MAX_FILTER_NODES} are accepted"), span)
            .with_label("too complex")
            .with_note("a rule lowers to at most 32 comparisons: split the filter into several rules"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::parse_program;

    #[test]
    fn a_megabyte_rule_is_one_clear_error() {
        let text = format!("on drop where {}", "dport == 1 or ".repeat(80_000));
        let (_, diags) = parse_program(&text);
        assert_eq!(diags.len(), 1);
        assert!(
            diags[0].message.contains("a rule can be at most"),
            "{}",
            diags[0].message
        );
        assert!(diags[0].span.end - diags[0].span.start < 10);
    }

    #[test]
    fn deep_nesting_is_refused_before_pest_recurses() {
        let text = format!(
            "on drop where {}dport == 1{}",
            "(".repeat(5000),
            ")".repeat(5000)
        );
        let (_, diags) = parse_program(&text);
        assert!(
            diags[0].message.contains("nested more than"),
            "{}",
            diags[0].message
        );
    }

    #[test]
    fn long_chains_of_not_are_refused() {
        let text = format!("on drop where {}dport == 1", "not ".repeat(2000));
        let (_, diags) = parse_program(&text);
        assert!(
            diags[0].message.contains("comparisons and operators"),
            "{}",
            diags[0].message
        );
    }

    #[test]
    fn ordinary_rules_are_far_from_the_limits() {
        let (p, diags) = parse_program(
            "on drop where (dport == 1 or (sport == 2 and not tcp)) and host 10.0.0.1",
        );
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(p.rules.len(), 1);
    }
}
