//! ferret's live session: the rule table (a reconciler over the
//! [`backend::Backend`] port), the system facts the checker needs, the
//! [`session::Session`] over the kernel, and the trace [`driver`] that the
//! CLI ([`oneshot`]), playbooks and the REPL run it with.

pub mod agg_read;
pub mod backend;
pub mod command;
pub mod control;
pub mod driver;
mod end_reason;
pub mod error;
pub mod explain;
pub mod listener;
pub mod oneshot;
pub mod options;
mod router;
pub mod rules;
pub mod session;
mod signals;
mod stacks;
mod stop_after;
pub mod system;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod trust;
