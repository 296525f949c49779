//! The one place diagnostics become text: codespan-reporting, with ASCII
//! borders so the output is the same in every terminal, log and golden file.

use codespan_reporting::diagnostic::{Diagnostic as Report, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, termcolor};
use ferret_grammar::{Diagnostic, Severity};

/// Renders diagnostics against `source`, which is named `name` (a file
/// path, or `<rules>` for `-e`). With `color`, ANSI colours are used.
pub fn render(name: &str, source: &str, diags: &[Diagnostic], color: bool) -> String {
    let config = term::Config {
        chars: term::Chars::ascii(),
        ..term::Config::default()
    };
    let mut buffer = if color {
        termcolor::Buffer::ansi()
    } else {
        termcolor::Buffer::no_color()
    };
    for d in diags {
        let report = match d.severity {
            Severity::Error => Report::error(),
            Severity::Warning => Report::warning(),
        };
        let end = d.span.end.min(source.len());
        let start = d.span.start.min(end);
        let (view, start, end) = window(source, start, end);
        let file = SimpleFile::new(name, view.as_ref());
        let report = report
            .with_message(&d.message)
            .with_labels(vec![Label::primary((), start..end).with_message(&d.label)])
            .with_notes(d.notes.clone());
        term::emit(&mut buffer, &config, &file, &report).expect("rendering to memory cannot fail");
    }
    String::from_utf8_lossy(buffer.as_slice()).into_owned()
}

/// Lines longer than this are shown as a window around the span.
const MAX_SHOWN_LINE: usize = 240;
const CONTEXT: usize = 80;

/// The source as shown for one span: unchanged, or — when the span's line
/// is very long (a generated or pasted rule) — only that line's part around
/// the span, keeping the line number, so a diagnostic stays readable.
fn window(source: &str, start: usize, end: usize) -> (std::borrow::Cow<'_, str>, usize, usize) {
    let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = source[start..]
        .find('\n')
        .map_or(source.len(), |i| start + i);
    if line_end - line_start <= MAX_SHOWN_LINE {
        return (source.into(), start, end);
    }
    let floor = |mut i: usize| {
        while !source.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let from = floor(start.saturating_sub(CONTEXT).max(line_start));
    let to = floor((end.max(start + 1) + CONTEXT).min(line_end));
    let line_no = source[..line_start].matches('\n').count();
    let mut view = "\n".repeat(line_no);
    if from > line_start {
        view.push_str("...");
    }
    let shift = view.len();
    view.push_str(&source[from..to]);
    if to < line_end {
        view.push_str("...");
    }
    let new_start = shift + start - from;
    let new_end = shift + end.min(to).max(start) - from;
    (view.into(), new_start, new_end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferret_grammar::ast::Span;

    #[test]
    fn very_long_lines_are_shown_around_the_span_only() {
        let src = format!("on drop where {} dprt == 1", "dport == 1 or ".repeat(1000));
        let at = src.find("dprt").unwrap();
        let d = Diagnostic::error("unknown field `dprt`", Span::new(at, at + 4)).with_label("here");
        let text = render("<rules>", &src, &[d], false);
        assert!(text.len() < 1000, "{} bytes", text.len());
        assert!(text.contains("1 | ..."), "{text}");
        assert!(text.contains("^^^^ here"), "{text}");
    }

    #[test]
    fn renders_a_caret_under_the_span() {
        let src = "on drop where dprt == 443";
        let d = Diagnostic::error("unknown field `dprt`", Span::new(14, 18))
            .with_label("did you mean `dport`?");
        let text = render("<rules>", src, &[d], false);
        assert!(text.contains("error: unknown field `dprt`"), "{text}");
        assert!(text.contains("^^^^ did you mean `dport`?"), "{text}");
        assert!(text.contains("<rules>:1:15"), "{text}");
    }
}
