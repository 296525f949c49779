//! ferret's live session: the rule table (a reconciler over the
//! [`backend::Backend`] port), the system facts the checker needs, and the
//! trace loop that the CLI, playbooks and the REPL drive.

pub mod agg_read;
pub mod backend;
pub mod command;
pub mod control;
mod router;
pub mod rules;
pub mod session;
pub mod system;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod trust;
