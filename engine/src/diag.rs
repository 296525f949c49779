//! The one place diagnostics become text: codespan-reporting, with ASCII
//! borders so the output is the same in every terminal, log and golden file.

use codespan_reporting::diagnostic::{Diagnostic as Report, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, termcolor};
use ferret_grammar::{Diagnostic, Severity};

/// Renders diagnostics against `source`, which is named `name` (a file
/// path, or `<rules>` for `-e`). With `color`, ANSI colours are used.
pub fn render(name: &str, source: &str, diags: &[Diagnostic], color: bool) -> String {
    let file = SimpleFile::new(name, source);
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
        let report = report
            .with_message(&d.message)
            .with_labels(vec![Label::primary((), start..end).with_message(&d.label)])
            .with_notes(d.notes.clone());
        term::emit(&mut buffer, &config, &file, &report).expect("rendering to memory cannot fail");
    }
    String::from_utf8_lossy(buffer.as_slice()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferret_grammar::ast::Span;

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
