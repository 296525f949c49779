//! What can stop the agent before or while it serves.

use crate::http::BindError;
use crate::reconcile::ReloadError;
use crate::rules_file::RulesFileError;
use ferret_session::error::SessionError;

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The rules file at start (later reloads only report).
    #[error(transparent)]
    RulesFile(#[from] RulesFileError),
    /// A rule of the file at start that the session refused.
    #[error(transparent)]
    FirstRules(Box<ReloadError<SessionError>>),
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Bind(#[from] BindError),
    #[error("cannot open the events file: {source}")]
    Output { source: std::io::Error },
}
