//! The session thread: the one owner of the [`Session`] (it is not `Sync`).
//! It takes lines from the terminal thread over a channel, runs them, pumps
//! events, and prints both through one printer, so answers and events come
//! out in the order they happened.

use crate::interp::Interpreter;
use crate::output::{EventOut, Printer, Stdout};
use crate::vocab::Vocabulary;
use crate::ReplError;
use ferret_core::summary::Summary;
use ferret_session::session::{Flow, Session, SessionError, SessionOptions, POLL};
use ferret_session::system::SystemFacts;
use std::collections::HashMap;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc::UnboundedReceiver;

/// What the terminal thread asks for.
#[derive(Debug)]
pub(crate) enum Request {
    Line(String),
    /// Ctrl-C at the prompt.
    Interrupt,
    /// Ctrl-D, or the input ended.
    Quit,
}

/// What the session thread tells the terminal thread.
#[derive(Debug)]
pub(crate) enum Note {
    /// The kernel side is loaded; the prompt may appear.
    Ready,
    /// A request is done and its output printed.
    Done { quit: bool },
}

/// How often lost-event counters are looked at.
const LOST_CHECK: Duration = Duration::from_secs(1);
/// Past this much text waiting for the terminal (a few thousand lines),
/// events are counted, not shown, until it catches up: a flood must not
/// grow memory without bound, and Ctrl-C must not wait for minutes of
/// queued lines to scroll by.
const MAX_BACKLOG: usize = 512 << 10;

pub(crate) struct Owner {
    pub facts: SystemFacts,
    pub vocab: Arc<Vocabulary>,
    pub opts: SessionOptions,
    pub color: bool,
    pub printer: Box<dyn Printer>,
    pub events: EventOut,
    /// Called when the session ends by itself (SIGTERM, SIGHUP, a failed
    /// output) while the terminal thread is still editing a line: it puts
    /// the terminal back before the summary is written and the process ends.
    pub restore_terminal: Box<dyn FnOnce() + Send>,
    /// SIGINT pauses the rules (a terminal, where Ctrl-C outside line
    /// editing still means "stop the output"); otherwise it ends the session.
    pub interrupt_pauses: bool,
    /// Print the `count`/`hist` tables this often, not only at the end.
    pub interval: Option<Duration>,
    pub allow_unsafe_files: bool,
    /// Events hidden (terminal behind) and not yet reported.
    pub hidden_untold: u64,
}

enum Wake {
    Request(Option<Request>),
    Events,
    Interrupt,
    Terminate,
}

impl Owner {
    /// Runs on its own thread until `quit`; see [`Owner`] for the signal path.
    pub fn run(
        self,
        requests: UnboundedReceiver<Request>,
        notes: mpsc::Sender<Note>,
    ) -> Result<Summary, ReplError> {
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
            let _ = notes.send(Note::Ready);
            self.serve(interp, requests, notes).await
        })
    }

    async fn serve(
        mut self,
        mut interp: Interpreter<Session>,
        mut requests: UnboundedReceiver<Request>,
        notes: mpsc::Sender<Note>,
    ) -> Result<Summary, ReplError> {
        let sig = |kind| signal(kind).map_err(|source| SessionError::Signals { source });
        let (mut int, mut term, mut hup) = (
            sig(SignalKind::interrupt())?,
            sig(SignalKind::terminate())?,
            sig(SignalKind::hangup())?,
        );
        let mut shown: HashMap<usize, u64> = HashMap::new();
        let mut lost_told = 0u64;
        let mut lost_checked = Instant::now();
        let mut next_tables = self.interval.map(|i| Instant::now() + i);
        loop {
            let wake = tokio::select! {
                r = requests.recv() => Wake::Request(r),
                _ = interp.tracer_mut().wait(POLL) => Wake::Events,
                _ = int.recv() => Wake::Interrupt,
                _ = term.recv() => Wake::Terminate,
                _ = hup.recv() => Wake::Terminate,
            };
            // Events that arrived before a command are shown before its answer.
            if let Err(e) = self.pump(&mut interp, &mut shown) {
                self.end_by_itself(
                    &interp,
                    &format!("error: cannot write events: {e}"),
                    "output error",
                );
            }
            let quit = match wake {
                Wake::Events => None,
                Wake::Request(Some(Request::Line(line))) => {
                    let reply = interp.execute_line(&line);
                    self.say(reply.text);
                    Some(reply.quit)
                }
                Wake::Interrupt if !self.interrupt_pauses => {
                    self.end_by_itself(&interp, "", "signal");
                }
                Wake::Request(Some(Request::Interrupt)) | Wake::Interrupt => {
                    let text = interp.interrupt();
                    let hidden = self.discard(&mut interp);
                    self.say(text);
                    if hidden > 0 {
                        self.say(format!(
                            "({hidden} events already on their way were not shown)"
                        ));
                    }
                    matches!(wake, Wake::Request(_)).then_some(false)
                }
                Wake::Request(Some(Request::Quit) | None) => Some(true),
                Wake::Terminate => {
                    self.end_by_itself(&interp, "", "signal");
                }
            };
            self.stop_finished_rules(&mut interp, &shown);
            if let (Some(at), Some(every)) = (next_tables, self.interval) {
                if Instant::now() >= at {
                    next_tables = Some(Instant::now() + every);
                    self.tables(&interp, false);
                }
            }
            if lost_checked.elapsed() >= LOST_CHECK {
                lost_checked = Instant::now();
                self.warn_lost(&interp, &mut lost_told);
            }
            if let Some(quit) = quit {
                if quit {
                    self.tables(&interp, true);
                    let mut summary = interp.tracer().summary("command")?;
                    interp.account(&mut summary.rules);
                    self.events.summary(&summary, self.printer.as_mut());
                    let _ = notes.send(Note::Done { quit: true });
                    return Ok(summary);
                }
                let _ = notes.send(Note::Done { quit: false });
            }
        }
    }

    fn say(&mut self, text: String) {
        if !text.is_empty() {
            self.printer.print(text);
        }
    }

    /// Shows what the ring holds. An event whose rules are all gone (deleted
    /// since, or done with `stop after`) is not shown: after `del 1` rule 1
    /// prints nothing more.
    fn pump(
        &mut self,
        interp: &mut Interpreter<Session>,
        shown: &mut HashMap<usize, u64>,
    ) -> std::io::Result<()> {
        let limits: HashMap<usize, u64> = Session::rules(interp.tracer())
            .filter_map(|r| r.plan.actions.stop_after.map(|n| (r.id, n)))
            .collect();
        let mut failed = None;
        let mut batch: Vec<usize> = Vec::new();
        let mut count = 0u64;
        let sink = self.events.sink();
        interp.tracer_mut().pump(&mut |ev, stack, ctx| {
            let live: Vec<usize> = ev
                .rules
                .iter()
                .copied()
                .filter(|id| {
                    limits
                        .get(id)
                        .is_none_or(|l| shown.get(id).copied().unwrap_or(0) < *l)
                })
                .collect();
            if live.is_empty() {
                return Flow::Continue;
            }
            count += 1;
            for id in live {
                *shown.entry(id).or_default() += 1;
                batch.push(id);
            }
            if let Err(e) = sink.event(ev, stack, ctx) {
                failed = Some(e);
                return Flow::Stop;
            }
            Flow::Continue
        });
        if let Some(e) = failed {
            return Err(e);
        }
        let text = self.events.take()?;
        let behind = self.printer.backlog() > MAX_BACKLOG;
        if !text.is_empty() && behind {
            for id in batch {
                interp.hide(id);
            }
            self.hidden_untold += count;
            return Ok(());
        }
        if self.hidden_untold > 0 && !behind {
            let n = std::mem::take(&mut self.hidden_untold);
            self.say(format!("ferret: {n} events not shown: the terminal could not keep up (they are matched but not SHOWN in `stats`); narrow the filter, add `limit N/s`, or send events to a file with -o"));
        }
        self.say(text);
        Ok(())
    }

    /// After Ctrl-C: drops what is still in the ring; returns how many.
    fn discard(&mut self, interp: &mut Interpreter<Session>) -> u64 {
        let mut dropped: Vec<usize> = Vec::new();
        let mut n = 0;
        interp.tracer_mut().pump(&mut |ev, _, _| {
            n += 1;
            dropped.extend_from_slice(&ev.rules);
            Flow::Continue
        });
        for id in dropped {
            interp.hide(id);
        }
        n
    }

    /// `stop after N`: the rule ends once N of its events were shown, or,
    /// for a rule that sends none (`count`, `hist`), after N matches.
    fn stop_finished_rules(
        &mut self,
        interp: &mut Interpreter<Session>,
        shown: &HashMap<usize, u64>,
    ) {
        let stops: Vec<(usize, u64, bool)> = Session::rules(interp.tracer())
            .filter_map(|r| {
                let quiet = r.plan.action_flags & ferret_core::abi::act::DELIVER == 0;
                Some((r.id, r.plan.actions.stop_after?, quiet))
            })
            .collect();
        if stops.is_empty() {
            return;
        }
        let matched = if stops.iter().any(|(.., quiet)| *quiet) {
            interp.tracer().matched().unwrap_or_default()
        } else {
            HashMap::new()
        };
        let done: Vec<(usize, u64)> = stops
            .into_iter()
            .filter(|(id, n, quiet)| {
                let seen = if *quiet { &matched } else { shown };
                seen.get(id).is_some_and(|s| s >= n)
            })
            .map(|(id, n, _)| (id, n))
            .collect();
        for (id, n) in done {
            let text = interp.stop_rule(id, n);
            self.say(text);
        }
    }

    /// The `count`/`hist` tables through the event output (table or JSON,
    /// screen or file), as the CLI prints them.
    fn tables(&mut self, interp: &Interpreter<Session>, last: bool) {
        let session = interp.tracer();
        let aggregating = Session::rules(session)
            .any(|r| r.plan.actions.count_by.is_some() || r.plan.actions.hist.is_some());
        if !aggregating {
            return;
        }
        let written = session.aggregates(last).map(|aggs| {
            self.events
                .sink()
                .aggregates(&aggs, session.names())
                .map_err(|e| e.to_string())
        });
        match written {
            Ok(Ok(())) => {
                if let Ok(text) = self.events.take() {
                    self.say(text);
                }
            }
            Ok(Err(e)) => self.say(format!("error: cannot write the tables: {e}")),
            Err(e) => self.say(format!("error: cannot read the tables: {e}")),
        }
    }

    fn warn_lost(&mut self, interp: &Interpreter<Session>, told: &mut u64) {
        let Ok(summary) = interp.tracer().summary("") else {
            return;
        };
        let lost: u64 = summary.rules.iter().map(|r| r.lost_ring_full).sum();
        if lost > *told {
            self.say(format!(
                "ferret: warning: {} events lost because the ring buffer was full (`stats` shows which rule); narrow the filter, add `limit N/s`, or restart with --ring-mib 64",
                lost - *told
            ));
        }
        *told = lost;
    }

    /// Ends while the terminal thread still waits for input: summary, then
    /// the process exits (0, or 4 when events were lost, 3 when the output
    /// failed, as the CLI does).
    fn end_by_itself(mut self, interp: &Interpreter<Session>, why: &str, ended_by: &str) -> ! {
        self.tables(interp, true);
        let (summary, why) = match interp.tracer().summary(ended_by) {
            Ok(mut summary) => {
                interp.account(&mut summary.rules);
                (summary, why.to_string())
            }
            Err(e) => (
                Summary::default(),
                format!("{why}\nerror: cannot read the kernel's counters: {e}"),
            ),
        };
        // Let what is queued reach the screen (the editor is still showing
        // it), within reason: the process is about to end.
        let deadline = Instant::now() + Duration::from_secs(1);
        while self.printer.backlog() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        // The line editor still owns the terminal: take it back, then write
        // plainly (the external printer would wait for the editor).
        (self.restore_terminal)();
        let mut out = Stdout;
        if !why.trim().is_empty() {
            out.print(why.trim().to_string());
        }
        self.events.summary(&summary, &mut out);
        let code = if !why.is_empty() {
            3
        } else if summary.lost() > 0 {
            4
        } else {
            0
        };
        std::process::exit(code)
    }
}
