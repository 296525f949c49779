//! Exit statuses, distinct so scripts can tell what happened.

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
