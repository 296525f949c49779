//! What can go wrong in a session, from loading the kernel side to
//! writing the output.

use crate::rules::{RuleTableError, RulesError};
use ferret_kernel::KernelError;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Kernel(#[from] KernelError),
    #[error("rule {rule}: `{action}` is not available yet: {why}")]
    Unsupported {
        rule: usize,
        action: &'static str,
        why: &'static str,
    },
    #[error("rule {rule}: `call {name}` runs a Rhai handler, which only a playbook has: define `fn {name}(ev)` in a playbook that adds this rule and run it with `ferret run PLAYBOOK.rhai`")]
    CallOutsidePlaybook { rule: usize, name: String },
    #[error("rule {rule}: `explain` runs nft in network namespaces while the trace runs, which needs root, and this session gave up root after loading its programs: start it with `--user root`, or give the rule on the command line (`sudo ferret 'RULE'`), where ferret keeps root for it")]
    ExplainWithoutRoot { rule: usize },
    #[error(transparent)]
    Rules(#[from] RuleTableError),
    #[error("cannot list the kernel's functions for `func`/`any`: {source}")]
    FunctionDiscovery {
        source: ferret_kernel::kernel_btf::KbtfError,
    },
    #[error("{got} rules given; at most {max} can be traced at once — merge rules with `or`, or split the session")]
    PlanTooBig { got: usize, max: usize },
    #[error("cannot write output: {source}")]
    Output { source: std::io::Error },
    #[error("cannot install signal handlers: {source}")]
    Signals { source: std::io::Error },
    #[error(transparent)]
    Pcap(#[from] ferret_core::output::pcap::PcapError),
    #[error(transparent)]
    Command(#[from] crate::command::CommandError),
}

/// The table's refusals are wrapped; the kernel's errors stay
/// [`SessionError::Kernel`], wherever they happened.
impl From<RulesError<KernelError>> for SessionError {
    fn from(e: RulesError<KernelError>) -> SessionError {
        match e {
            RulesError::Table(t) => SessionError::Rules(t),
            RulesError::Backend(k) => SessionError::Kernel(k),
        }
    }
}
