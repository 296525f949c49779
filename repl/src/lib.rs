//! ferret's REPL: type rules while the trace runs. Each line is a rule to
//! add or a command (`list`, `del N`, `pause N`, `stats`, ...); rules reach
//! the kernel as map entries and probes come and go with the rules that
//! need them.
//!
//! Threads: the terminal thread runs rustyline (completion, hints,
//! validation, history) and sends each accepted line to the session
//! thread, which owns the [`ferret_session::session::Session`] (it is not
//! `Sync`), runs the [`Interpreter`], pumps events and prints everything —
//! events and answers alike — through rustyline's external printer, so
//! output appears above the prompt in order and the line being typed stays
//! intact. The session ends with `quit`, Ctrl-D or the end of input, or
//! by itself (a signal, a failed output): [`run`] then returns at once,
//! without waiting for a line being edited, and the caller ends the process.

pub mod command;
pub mod complete;
mod consumer;
mod helper;
pub mod history;
pub mod interp;
mod messages;
mod output;
mod owner;
mod render;
mod terminal;
pub mod vocab;

pub use ferret_session::control::{RuleControl, RuleView};
pub use interp::{Interpreter, Reply};
pub use terminal::run;
pub use vocab::Vocabulary;

use ferret_core::summary::Summary;
use ferret_session::driver::EndReason;
use ferret_session::error::SessionError;
use std::path::PathBuf;

/// How a REPL session ended, for the caller's exit status.
#[derive(Debug)]
pub struct Ending {
    /// The summary, already shown.
    pub summary: Summary,
    /// [`EndReason::Quit`], or what ended the session by itself: a signal,
    /// or a failure.
    pub ended_by: EndReason,
    /// A failure ended the session (the events could not be written, or
    /// the kernel's counters could not be read); it was shown before the
    /// summary.
    pub failed: bool,
}

#[derive(Debug, Clone)]
pub struct ReplOptions {
    /// Line editing, completion and history (input is a terminal); else
    /// lines are read from standard input as they come.
    pub interactive: bool,
    /// Events as JSON lines instead of the table.
    pub json: bool,
    /// Events to this file (created 0600) instead of the screen.
    pub output: Option<PathBuf>,
    pub ring_bytes: u32,
    pub verbose: bool,
    /// Print the `count`/`hist` tables this often too.
    pub interval: Option<std::time::Duration>,
    /// `load` also takes files other users can change (refused as root).
    pub allow_unsafe_files: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplError {
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error("the output file: {source}")]
    Output {
        #[from]
        source: ferret_core::outfile::OutFileError,
    },
    #[error("the terminal failed: {source}")]
    Terminal {
        source: rustyline::error::ReadlineError,
    },
    #[error("cannot start the session thread: {source}")]
    Thread { source: std::io::Error },
    #[error("cannot start the event loop: {source}")]
    Runtime { source: std::io::Error },
    #[error("the session thread stopped unexpectedly; this is a bug, please report it")]
    Died,
}
