//! The session thread: the one owner of the [`Session`] (it is not `Sync`).
//! It runs the trace driver with the REPL as its consumer: lines from the
//! terminal thread come in over a channel and are run between pumps, and
//! answers and events go out through one printer, so they come out in the
//! order they happened.

use crate::consumer::Repl;
use crate::interp::Interpreter;
use crate::messages::{Note, Request};
use crate::output::{EventOut, Printer};
use crate::vocab::Vocabulary;
use crate::{Ending, ReplError};
use ferret_session::driver::{self, DriverOptions, EndReason};
use ferret_session::options::SessionOptions;
use ferret_session::session::Session;
use ferret_session::system::SystemFacts;
use std::sync::{mpsc, Arc};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;

pub(crate) struct Owner {
    pub facts: SystemFacts,
    pub vocab: Arc<Vocabulary>,
    pub opts: SessionOptions,
    pub color: bool,
    pub printer: Box<dyn Printer>,
    pub events: EventOut,
    /// Called when the session ends by itself (SIGTERM, SIGHUP, a failed
    /// output) while the terminal thread is still editing a line: it puts
    /// the terminal back before the summary is written.
    pub restore_terminal: Box<dyn FnOnce() + Send>,
    /// SIGINT pauses the rules (a terminal, where Ctrl-C outside line
    /// editing still means "stop the output"); otherwise it ends the session.
    pub interrupt_pauses: bool,
    /// Print the `count`/`hist` tables this often, not only at the end.
    pub interval: Option<Duration>,
    pub allow_unsafe_files: bool,
}

impl Owner {
    /// Runs on its own thread until `quit`, the end of input, or a signal
    /// or failure ends the session by itself (see [`Ending`]).
    pub fn run(
        self,
        requests: UnboundedReceiver<Request>,
        notes: mpsc::Sender<Note>,
    ) -> Result<Ending, ReplError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| ReplError::Runtime { source })?;
        runtime.block_on(async {
            let session = Session::open(&self.facts, &self.opts)?;
            let interp = Interpreter::new(
                session,
                self.facts.clone(),
                Arc::clone(&self.vocab),
                self.color,
            )
            .allow_unsafe_files(self.allow_unsafe_files);
            let opts = DriverOptions {
                interval: self.interval,
                ..DriverOptions::default()
            };
            let mut repl = Repl::new(
                interp,
                self.events,
                self.printer,
                requests,
                notes,
                self.restore_terminal,
                self.interrupt_pauses,
            );
            let ended = match driver::drive(&mut repl, &opts).await {
                Ok(outcome) if outcome.ended_by == EndReason::Quit => repl.quit(),
                Ok(outcome) => Ok(repl.end_by_itself(outcome.ended_by)),
                Err(e) => Err(e),
            };
            if ended.is_err() {
                // The caller does not wait for a line being edited.
                repl.restore_terminal();
            }
            ended
        })
    }
}
