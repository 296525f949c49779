//! ferret's REPL: type rules while the trace runs. Each line is a rule to
//! add or a command (`list`, `del N`, `pause N`, `stats`, ...); rules reach
//! the kernel as map entries and probes come and go with the rules that
//! need them.
//!
//! Threads: the terminal thread runs rustyline (completion, hints,
//! validation, history) and sends each accepted line to the session
//! thread, which owns the [`ferret_engine::session::Session`] (it is not
//! `Sync`), runs the [`Interpreter`], pumps events and prints everything —
//! events and answers alike — through rustyline's external printer, so
//! output appears above the prompt in order and the line being typed stays
//! intact.

pub mod command;
pub mod interp;
mod render;
pub mod tracer;
pub mod vocab;

#[cfg(test)]
mod fake;

pub use interp::{Interpreter, Reply};
pub use tracer::{RuleView, Tracer};
pub use vocab::Vocabulary;
