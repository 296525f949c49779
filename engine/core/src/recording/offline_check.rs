//! Whether a recording can answer offline rules: a rule that needs what
//! the recording does not hold is an error, not a silent non-match.

use super::Context;
use crate::abi::hook;
use crate::catalog;
use crate::ir::TriggerIr;
use crate::plan::Plan;

/// A rule asks for something the recording does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OfflineError {
    #[error(
        "rule {rule}: the recording holds no `{trigger}` events; it was made with: {recorded}"
    )]
    Trigger {
        rule: usize,
        trigger: String,
        recorded: String,
    },
    #[error("rule {rule}: the recording does not hold the field `{field}`")]
    Field { rule: usize, field: &'static str },
    #[error("rule {rule}: `stack` asks for stacks, but the recording kept none (no recorded rule had `stack`)")]
    Stack { rule: usize },
    #[error("rule {rule}: `capture` asks for packet bytes, but the recording holds none (no recorded rule had `capture`)")]
    Capture { rule: usize },
    #[error("rule {rule}: pcap-filter text reads packet bytes, but the recording holds none; record with a rule that has `capture`, or filter on ferret's fields (`dport == 443`)")]
    PcapBytes { rule: usize },
    #[error("rule {rule}: `explain` asks the live firewall which rule dropped a packet; a recording cannot answer it (use `explain` while tracing)")]
    Explain { rule: usize },
}

/// Every reason `plan` cannot be answered from a recording made in `ctx`.
pub fn check(plan: &Plan, ctx: &Context) -> Vec<OfflineError> {
    let recorded = || ctx.rules_text().replace('\n', "; ");
    let mut errors = Vec::new();
    for r in &plan.rules {
        for t in &r.triggers {
            let (bit, name) = match t {
                TriggerIr::Hook { hook, name, .. } => (1 << hook, name.to_string()),
                TriggerIr::Func { globs } => {
                    (1 << hook::FUNC, format!("func {}", globs.join(", ")))
                }
                TriggerIr::Prog { prog, globs } => (
                    1 << prog.hook(),
                    format!("{} {}", prog.name(), globs.join(", ")),
                ),
                TriggerIr::Tracepoint { .. } => continue,
            };
            if ctx.hooks() & bit == 0 {
                errors.push(OfflineError::Trigger {
                    rule: r.number,
                    trigger: name,
                    recorded: recorded(),
                });
            }
        }
        let missing = r.needs & !ctx.fields;
        if let Some(f) = catalog::FIELDS.iter().find(|f| missing & (1 << f.id) != 0) {
            errors.push(OfflineError::Field {
                rule: r.number,
                field: f.name,
            });
        }
        if r.actions.stack && !ctx.rules.iter().any(|x| x.stack) {
            errors.push(OfflineError::Stack { rule: r.number });
        }
        if r.captures() && !ctx.rules.iter().any(|x| x.capture) {
            errors.push(OfflineError::Capture { rule: r.number });
        }
        if !r.pcap.is_empty() && !ctx.rules.iter().any(|x| x.capture) {
            errors.push(OfflineError::PcapBytes { rule: r.number });
        }
        if r.explains() {
            errors.push(OfflineError::Explain { rule: r.number });
        }
    }
    errors
}
