//! Why a trace ended: the `ended_by` of the summary, as a type.

/// What ended a trace. [`EndReason::as_str`] is the `ended_by` text of the
/// summary (docs/json.md lists them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndReason {
    /// `--duration` (`--for`) ran out.
    Duration,
    /// SIGINT, SIGTERM or SIGHUP.
    Signal,
    /// A rule reached its `stop after N`.
    StopAfter,
    /// The `--cmd` command exited.
    Command,
    /// Whoever reads the output went away (a closed pipe).
    OutputClosed,
    /// The REPL could not write the events.
    OutputError,
    /// A playbook called `stop()`.
    ScriptStop,
    /// A playbook failed.
    ScriptError,
    /// The REPL's `quit` (or `exit`), Ctrl-D, or the end of its input.
    Quit,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Duration => "duration",
            EndReason::Signal => "signal",
            EndReason::StopAfter => "stop-after",
            EndReason::Command => "command",
            EndReason::OutputClosed => "output closed",
            EndReason::OutputError => "output error",
            EndReason::ScriptStop => "stop",
            EndReason::ScriptError => "script error",
            EndReason::Quit => "quit",
        }
    }

    /// A failure is what the user must hear about, whatever else happened
    /// in the same round.
    fn is_failure(self) -> bool {
        matches!(
            self,
            EndReason::OutputClosed | EndReason::OutputError | EndReason::ScriptError
        )
    }
}

impl std::fmt::Display for EndReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The reason a trace is ending, once one is known: the first one given
/// wins, except that a failure outranks whatever came before it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Ending(Option<EndReason>);

impl Ending {
    pub fn record(&mut self, reason: Option<EndReason>) {
        let Some(new) = reason else { return };
        match self.0 {
            None => self.0 = Some(new),
            Some(old) if new.is_failure() && !old.is_failure() => self.0 = Some(new),
            Some(_) => {}
        }
    }

    pub fn reason(self) -> Option<EndReason> {
        self.0
    }

    pub fn is_none(self) -> bool {
        self.0.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_as_the_json_summary_spells_them() {
        let all = [
            (EndReason::Duration, "duration"),
            (EndReason::Signal, "signal"),
            (EndReason::StopAfter, "stop-after"),
            (EndReason::Command, "command"),
            (EndReason::OutputClosed, "output closed"),
            (EndReason::OutputError, "output error"),
            (EndReason::ScriptStop, "stop"),
            (EndReason::ScriptError, "script error"),
            (EndReason::Quit, "quit"),
        ];
        for (reason, text) in all {
            assert_eq!(reason.as_str(), text);
            assert_eq!(reason.to_string(), text);
        }
    }

    #[test]
    fn the_first_reason_wins_unless_a_failure_follows() {
        let mut end = Ending::default();
        end.record(None);
        assert!(end.is_none());
        end.record(Some(EndReason::StopAfter));
        end.record(Some(EndReason::Command));
        assert_eq!(end.reason(), Some(EndReason::StopAfter));
        end.record(Some(EndReason::OutputClosed));
        assert_eq!(end.reason(), Some(EndReason::OutputClosed));
        end.record(Some(EndReason::ScriptError));
        assert_eq!(end.reason(), Some(EndReason::OutputClosed));
    }
}
