//! The signals that end (or, in the REPL, interrupt) a trace: SIGINT,
//! SIGTERM and SIGHUP, caught so the summary is still written. SIGHUP is
//! told apart because a node agent reloads its rules on it.

use tokio::signal::unix::{signal, Signal as Stream, SignalKind};

/// Which kind of signal arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caught {
    /// SIGINT: Ctrl-C, which a front end may take as "pause" instead.
    Interrupt,
    /// SIGTERM: always the end.
    Terminate,
    /// SIGHUP: the end, except for a front end that reloads on it.
    Hangup,
}

#[derive(Debug)]
pub(crate) struct Signals {
    int: Stream,
    term: Stream,
    hup: Stream,
}

impl Signals {
    /// Replaces the default actions (which would end the process without a
    /// summary) for as long as the process runs.
    pub fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    pub async fn next(&mut self) -> Caught {
        tokio::select! {
            _ = self.int.recv() => Caught::Interrupt,
            _ = self.term.recv() => Caught::Terminate,
            _ = self.hup.recv() => Caught::Hangup,
        }
    }
}
