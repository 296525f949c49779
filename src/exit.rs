//! Exit statuses, distinct so scripts can tell what happened.

use ferret_core::summary::Summary;
use ferret_repl::Ending;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done, nothing wrong.
    Ok,
    /// A rule has errors (diagnostics printed).
    RuleError,
    /// Wrong command-line usage (clap's own code).
    Usage,
    /// The system refused: not root, no BTF, a trigger the kernel lacks,
    /// the verifier, a file that cannot be read.
    System,
    /// Events were lost (ring full) — the trace is incomplete.
    Lost,
    /// `--cmd`: the command's own exit status.
    Command(i32),
    /// A playbook failed: syntax, a runtime error, the operation limit.
    Script,
    /// The status a playbook chose with `stop(code)` (its finding).
    Playbook(i32),
}

impl Exit {
    pub fn code(self) -> i32 {
        match self {
            Exit::Ok => 0,
            Exit::RuleError => 1,
            Exit::Usage => 2,
            Exit::System => 3,
            Exit::Lost => 4,
            Exit::Command(status) => status,
            Exit::Script => 5,
            Exit::Playbook(code) => code,
        }
    }
}

/// How each kind of session ended, as an exit status. The library reports
/// the outcome; the status is decided here only.
impl Exit {
    /// A one-shot trace: an incomplete trace outranks the command's status,
    /// so a script can tell that the counts are not whole.
    pub fn after_trace(summary: &Summary) -> Exit {
        match (summary.lost(), summary.command_status) {
            (1.., _) => Exit::Lost,
            (0, Some(status)) => Exit::Command(status),
            (0, None) => Exit::Ok,
        }
    }

    /// A playbook that ran to its end: its finding (`stop(code)`) first,
    /// as that is what a CI gate asks, then an incomplete trace, then the
    /// command's own status.
    pub fn after_playbook(stop_code: i32, summary: &Summary) -> Exit {
        match (stop_code, summary.lost(), summary.command_status) {
            (1.., _, _) => Exit::Playbook(stop_code),
            (_, 1.., _) => Exit::Lost,
            (_, 0, Some(status)) if status != 0 => Exit::Command(status),
            _ => Exit::Ok,
        }
    }

    /// The REPL: a failure that ended it (already shown), else as a trace
    /// without a command.
    pub fn after_repl(ending: &Ending) -> Exit {
        if ending.failed {
            Exit::System
        } else if ending.summary.lost() > 0 {
            Exit::Lost
        } else {
            Exit::Ok
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferret_core::summary::RuleSummary;
    use ferret_session::driver::EndReason;

    fn summary(lost: u64, command_status: Option<i32>) -> Summary {
        Summary {
            rules: vec![RuleSummary {
                lost_ring_full: lost,
                ..RuleSummary::default()
            }],
            command_status,
            ..Summary::default()
        }
    }

    #[test]
    fn lost_events_outrank_the_command_status_of_a_trace() {
        assert_eq!(Exit::after_trace(&summary(0, None)), Exit::Ok);
        assert_eq!(Exit::after_trace(&summary(0, Some(7))).code(), 7);
        assert_eq!(Exit::after_trace(&summary(3, Some(7))), Exit::Lost);
    }

    #[test]
    fn a_playbook_finding_comes_first() {
        assert_eq!(Exit::after_playbook(9, &summary(3, Some(7))).code(), 9);
        assert_eq!(Exit::after_playbook(0, &summary(3, Some(7))), Exit::Lost);
        assert_eq!(Exit::after_playbook(0, &summary(0, Some(7))).code(), 7);
        assert_eq!(Exit::after_playbook(0, &summary(0, Some(0))), Exit::Ok);
    }

    #[test]
    fn a_repl_that_failed_exits_as_a_system_error() {
        let ending = |failed, lost| Ending {
            summary: summary(lost, None),
            ended_by: EndReason::Signal,
            failed,
        };
        assert_eq!(Exit::after_repl(&ending(true, 5)).code(), 3);
        assert_eq!(Exit::after_repl(&ending(false, 5)).code(), 4);
        assert_eq!(Exit::after_repl(&ending(false, 0)).code(), 0);
    }
}
