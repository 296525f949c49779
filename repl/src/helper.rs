//! rustyline's hooks: Tab completion, grey hints, and validation — a line
//! with an error is not accepted; its caret diagnostic shows under it
//! until it is fixed (or Ctrl-C drops it).

use crate::command;
use crate::complete::{complete, Completion};
use crate::vocab::Vocabulary;
use ferret_session::system::SystemFacts;
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::{Hinter, HistoryHinter};
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{
    Cmd, ConditionalEventHandler, Context, Event, EventContext, Helper, Movement, RepeatCount,
};
use std::borrow::Cow;
use std::sync::Arc;

pub struct FerretHelper {
    vocab: Arc<Vocabulary>,
    facts: SystemFacts,
    files: FilenameCompleter,
    history: HistoryHinter,
    color: bool,
}

impl std::fmt::Debug for FerretHelper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FerretHelper").finish_non_exhaustive()
    }
}

impl FerretHelper {
    pub fn new(vocab: Arc<Vocabulary>, facts: SystemFacts, color: bool) -> FerretHelper {
        FerretHelper {
            vocab,
            facts,
            files: FilenameCompleter::new(),
            history: HistoryHinter::new(),
            color,
        }
    }

    /// Why a line cannot be accepted, as the CLI would say it; `None` when
    /// it can.
    pub fn check_line(&self, line: &str) -> Option<String> {
        if command::is_rule_text(line) {
            let (plan, diags) = ferret_core::compile(line, &self.facts.env());
            if plan.is_none() {
                let text = ferret_core::diag::render("<repl>", line, &diags, self.color);
                return Some(text.trim_end().to_string());
            }
            return None;
        }
        command::parse(line).err().map(|e| format!("error: {e}"))
    }

    /// The rest of the only word that completes what is typed, if there is
    /// exactly one and it extends the word as typed.
    fn completion_hint(&self, line: &str, pos: usize) -> Option<String> {
        let Completion::Words { start, words } = complete(line, pos, &self.vocab) else {
            return None;
        };
        let typed = &line[start..pos];
        match words.as_slice() {
            [only] if !typed.is_empty() && only.len() > typed.len() && only.starts_with(typed) => {
                Some(only[typed.len()..].to_string())
            }
            _ => None,
        }
    }
}

impl Completer for FerretHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        match complete(line, pos, &self.vocab) {
            Completion::Path => self.files.complete(line, pos, ctx),
            Completion::Words { start, words } => Ok((
                start,
                words
                    .into_iter()
                    .map(|w| Pair {
                        display: w.clone(),
                        replacement: w,
                    })
                    .collect(),
            )),
        }
    }
}

impl Hinter for FerretHelper {
    type Hint = String;

    fn hint(&self, line: &str, pos: usize, ctx: &Context<'_>) -> Option<String> {
        if pos < line.len() || line.trim().is_empty() {
            return None;
        }
        self.completion_hint(line, pos)
            .or_else(|| self.history.hint(line, pos, ctx))
    }
}

impl Highlighter for FerretHelper {
    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        if self.color {
            Cow::Owned(format!("\x1b[2m{hint}\x1b[0m"))
        } else {
            Cow::Borrowed(hint)
        }
    }
}

impl Validator for FerretHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        Ok(match self.check_line(ctx.input()) {
            Some(why) => ValidationResult::Invalid(Some(format!("\n{why}"))),
            None => ValidationResult::Valid(None),
        })
    }
}

impl Helper for FerretHelper {}

/// Ctrl-C on a line with text drops the text, as in a shell; on an empty
/// line it is an interrupt (the REPL pauses the rules to stop the output).
#[derive(Debug)]
pub struct CtrlC;

impl ConditionalEventHandler for CtrlC {
    fn handle(&self, _: &Event, _: RepeatCount, _: bool, ctx: &EventContext) -> Option<Cmd> {
        (!ctx.line().is_empty()).then_some(Cmd::Kill(Movement::WholeBuffer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferret_core::hooks::HookNames;
    use ferret_core::reasons::DropReasons;

    fn helper() -> FerretHelper {
        let facts = SystemFacts {
            reasons: Ok(DropReasons::from_pairs([("NETFILTER_DROP", 12)])),
            funcs: HookNames::tracepoints(),
            kernel: Default::default(),
        };
        let vocab = Arc::new(Vocabulary::fixed(&["NETFILTER_DROP"], &[]));
        FerretHelper::new(vocab, facts, false)
    }

    #[test]
    fn lines_with_errors_are_held_with_their_caret() {
        let h = helper();
        let why = h.check_line("on drop where dprt == 443").unwrap();
        assert!(why.contains("^^^^ did you mean `dport`?"), "{why}");
        let why = h
            .check_line("on drop where reason == NETFILTER_DORP")
            .unwrap();
        assert!(why.contains("NETFILTER_DROP"), "{why}");
        let why = h.check_line("on drop where (dport == 443").unwrap();
        assert!(why.contains("error"), "{why}");
        assert!(h
            .check_line("lsit")
            .unwrap()
            .contains("did you mean `list`?"));
        assert_eq!(h.check_line("on drop where dport == 443 print"), None);
        assert_eq!(h.check_line("del 1"), None);
        assert_eq!(h.check_line(""), None);
    }

    #[test]
    fn a_unique_completion_is_the_hint() {
        let h = helper();
        assert_eq!(
            h.completion_hint("on drop where reason == NETF", 28),
            Some("ILTER_DROP".into())
        );
        assert_eq!(h.completion_hint("on drop where d", 15), None, "two fields");
        assert_eq!(
            h.completion_hint("on drop where reason == netf", 28),
            None,
            "no hint that would not match the typed case"
        );
    }
}
