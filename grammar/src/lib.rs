//! The ferret rule language: the pest grammar, the syntax tree (a span on
//! every node) and parse diagnostics. No kernel, no I/O.
//!
//! ```
//! let program = ferret_grammar::parse("on drop where dport == 443 print stack").unwrap();
//! assert_eq!(program.rules.len(), 1);
//! ```

pub mod ast;
mod diagnostic;
mod filter;
pub mod limits;
mod parse;
mod pest_parser;
mod program;
mod syntax_error;

pub use diagnostic::{closest, edit_distance, Diagnostic, Severity};
pub use program::{parse, parse_program, statements};

/// Words a trigger may start with, for completion and suggestions.
pub const TRIGGER_WORDS: &[&str] = syntax_error::TRIGGER_WORDS;
/// tcpdump primitive words and `not`, for completion and suggestions.
pub const PRIMITIVE_WORDS: &[&str] = syntax_error::PRIMITIVE_WORDS;
/// Words an action may start with.
pub const ACTION_WORDS: &[&str] = syntax_error::ACTION_WORDS;
