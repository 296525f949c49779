//! `ferret repl`, and `ferret` alone on a terminal: the interactive session.

use crate::cli::OutputArgs;
use crate::exit::Exit;
use crate::trace_cmd::{require_root, ring_bytes};
use ferret_repl::{ReplError, ReplOptions};
use ferret_session::error::SessionError;
use std::io::IsTerminal;

/// Both ends on a terminal: a person is there to type.
pub fn on_a_terminal() -> bool {
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

pub fn run(args: &OutputArgs) -> anyhow::Result<Exit> {
    let refused = [
        (args.duration.is_some(), "--duration does not apply; the REPL runs until `quit` or Ctrl-D (for a timed trace: ferret --duration 10s 'RULES')"),
        (args.cmd.is_some(), "--cmd does not apply; the REPL runs until `quit` or Ctrl-D (to trace a command: ferret --cmd 'COMMAND' 'RULES')"),
        (args.pcap.is_some(), "--pcap is not available in the REPL yet; there, `capture` rules print each packet's description (for a pcap-ng file: ferret --pcap FILE 'RULES')"),
    ];
    if let Some((_, why)) = refused.iter().find(|(given, _)| *given) {
        eprintln!("ferret repl: {why}");
        return Ok(Exit::Usage);
    }
    let opts = ReplOptions {
        interactive: std::io::stdin().is_terminal(),
        json: args.json,
        output: args.output.clone(),
        ring_bytes: ring_bytes(args.ring_mib)?,
        verbose: args.verbose,
        interval: args.interval,
        allow_unsafe_files: args.allow_unsafe_files,
    };
    if let Err(exit) = require_root() {
        return Ok(exit);
    }
    // Rules come later, one by one: give up root now, keeping what loading
    // them takes; every thread of the REPL starts from here.
    let mut privileges =
        crate::privdrop::plan(args.user.as_deref(), crate::privdrop::Needs::LoadingRules)?;
    if let Some(home) = privileges.home() {
        // The history is kept where the user ferret becomes can write it;
        // sudo often leaves HOME at root's. No other thread runs yet.
        std::env::set_var("HOME", home);
    }
    privileges.after_ready();
    match ferret_repl::run(&opts) {
        Ok(ending) => Ok(Exit::after_repl(&ending)),
        Err(ReplError::Session(SessionError::Kernel(e))) => {
            eprintln!("ferret: error: {e}");
            if let Some(hint) = crate::caps::eperm_hint(&e) {
                eprintln!("ferret: {hint}");
            }
            if let Some(log) = e.verifier_log() {
                if args.verbose {
                    eprintln!("{log}");
                } else {
                    eprintln!("ferret: run with -v for the full verifier log");
                }
            }
            Ok(Exit::System)
        }
        Err(e) => {
            eprintln!("ferret: error: {e}");
            Ok(Exit::System)
        }
    }
}
