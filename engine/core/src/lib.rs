//! ferret's pure stages: the language's catalog, the checker, IR, plans,
//! the reference evaluator, event decoding and the outputs (table, JSON
//! lines, pcap-ng), with the C/Rust ABI they share with the kernel programs.
//!
//! Nothing here makes a syscall beyond reading files it is handed and
//! opening the files ferret writes ([`outfile`]), and nothing needs clang: [`compile`] goes from text to a [`plan::Plan`] and
//! every diagnostic, without touching the system beyond what
//! [`check::CheckEnv`] hands it.

pub mod abi;
pub mod agg_compact;
pub mod agg_dense;
pub mod bpf_prog;
pub mod catalog;
pub mod check;
pub mod diag;
pub mod event;
pub mod hooks;
pub mod ir;
pub mod kallsyms;
pub mod meta_access;
pub mod outfile;
pub mod output;
pub mod pcap;
pub mod plan;
pub mod reasons;
pub mod recording;
pub mod summary;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod verdict;

use ferret_grammar::Diagnostic;

/// Text → plan, with every diagnostic of the input (warnings included).
/// The plan is `None` when any rule has an error.
pub fn compile(text: &str, env: &check::CheckEnv<'_>) -> (Option<plan::Plan>, Vec<Diagnostic>) {
    let (program, mut diags) = ferret_grammar::parse_program(text);
    let checked = check::check_program(&program, env);
    diags.extend(checked.diagnostics.iter().cloned());
    diags.sort_by_key(|d| d.span.start);
    if diags.iter().any(Diagnostic::is_error) {
        return (None, diags);
    }
    if program.rules.is_empty() {
        let span = ferret_grammar::ast::Span::new(0, text.len());
        diags.push(
            Diagnostic::error("no rules given", span)
                .with_label("nothing to trace")
                .with_note("write a rule like `on drop where dport == 443 print stack`"),
        );
        return (None, diags);
    }
    match plan::plan(&checked.rules) {
        Ok(p) => (Some(p), diags),
        Err(e) => {
            diags.push(e.diagnostic());
            (None, diags)
        }
    }
}
