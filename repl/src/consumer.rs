//! The REPL as the trace driver's consumer: typed lines are run between
//! pumps, events are rendered for the screen (or the `-o` file), `stop
//! after` stops only its rule, and SIGINT on a terminal pauses the rules.
//! Everything is shown through one printer, in the order it happened.

use crate::interp::Interpreter;
use crate::messages::{Note, Request};
use crate::output::{EventOut, Printer, Stdout};
use crate::{Ending, ReplError};
use ferret_core::event::Event;
use ferret_core::output::Names;
use ferret_core::summary::Summary;
use ferret_session::driver::{Consumer, EndReason, EventTarget, StopAfter};
use ferret_session::session::{Flow, Session, Warning};
use std::ops::DerefMut;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedReceiver;

/// How often lost-event counters are looked at.
const LOST_CHECK: Duration = Duration::from_secs(1);
/// Past this much text waiting for the terminal (a few thousand lines),
/// events are counted, not shown, until it catches up: a flood must not
/// grow memory without bound, and Ctrl-C must not wait for minutes of
/// queued lines to scroll by.
const MAX_BACKLOG: usize = 512 << 10;

/// The REPL as the driver's consumer.
pub(crate) struct Repl {
    interp: Interpreter<Session>,
    screen: Screen,
    printer: Box<dyn Printer>,
    requests: UnboundedReceiver<Request>,
    notes: mpsc::Sender<Note>,
    restore_terminal: Option<Box<dyn FnOnce() + Send>>,
    interrupt_pauses: bool,
    /// Events hidden (terminal behind) and not yet reported.
    hidden_untold: u64,
    /// Events lost to a full ring, as last reported.
    lost_told: u64,
    lost_checked: Instant,
    /// A request was answered this round: the terminal thread waits to hear.
    answered: bool,
    /// Why the session ended, when a failure ended it.
    failure: String,
}

/// Where the events of a pump go: rendered for the screen (or the file).
pub(crate) struct Screen {
    out: EventOut,
    /// The rules of each event rendered this pump, once per event.
    ids: Vec<usize>,
    count: u64,
    failed: Option<std::io::Error>,
}

impl EventTarget for Screen {
    /// An event whose rules are all gone (deleted since, or done with
    /// `stop after`) is not shown: after `del 1` rule 1 prints nothing more.
    fn event(
        &mut self,
        ev: &Event,
        rules: &[usize],
        stack: Option<&[String]>,
        names: &Names,
    ) -> Flow {
        if rules.is_empty() {
            return Flow::Continue;
        }
        self.count += 1;
        self.ids.extend_from_slice(rules);
        if let Err(e) = self.out.sink().event(ev, stack, names) {
            self.failed = Some(e);
            return Flow::Stop;
        }
        Flow::Continue
    }
}

impl Consumer for Repl {
    type Error = ReplError;
    type Input = Request;
    type Events = Screen;
    const STOP_AFTER: StopAfter = StopAfter::StopsRule;

    fn parts(&mut self) -> (impl DerefMut<Target = Session> + '_, &mut Screen) {
        (self.interp.tracer_mut(), &mut self.screen)
    }

    fn ready(&mut self) -> Result<(), ReplError> {
        let _ = self.notes.send(Note::Ready);
        Ok(())
    }

    async fn wait(&mut self, timeout: Duration) -> Option<Request> {
        tokio::select! {
            r = self.requests.recv() => Some(r.unwrap_or(Request::Quit)),
            _ = self.interp.tracer_mut().wait(timeout) => None,
        }
    }

    fn warning(&mut self, warning: Warning) {
        self.say(format!("ferret: warning: {warning}"));
    }

    /// Shows what the pump rendered, unless the terminal is too far behind.
    fn pumped(&mut self) -> Result<Option<EndReason>, ReplError> {
        let ids = std::mem::take(&mut self.screen.ids);
        let count = std::mem::take(&mut self.screen.count);
        let text = match self.screen.failed.take() {
            Some(e) => Err(e),
            None => self.screen.out.take(),
        };
        let text = match text {
            Ok(text) => text,
            Err(e) => {
                self.failure = format!("error: cannot write events: {e}");
                return Ok(Some(EndReason::OutputError));
            }
        };
        let behind = self.printer.backlog() > MAX_BACKLOG;
        if !text.is_empty() && behind {
            for id in ids {
                self.interp.hide(id);
            }
            self.hidden_untold += count;
            return Ok(None);
        }
        if self.hidden_untold > 0 && !behind {
            let n = std::mem::take(&mut self.hidden_untold);
            self.say(format!("ferret: {n} events not shown: the terminal could not keep up (they are matched but not SHOWN in `stats`); narrow the filter, add `limit N/s`, or send events to a file with -o"));
        }
        self.say(text);
        Ok(None)
    }

    fn input(&mut self, request: Request) -> Result<Option<EndReason>, ReplError> {
        match request {
            Request::Line(line) => {
                let reply = self.interp.execute_line(&line);
                self.say(reply.text);
                if reply.quit {
                    return Ok(Some(EndReason::Quit));
                }
            }
            Request::Interrupt => self.pause_all(),
            Request::Quit => return Ok(Some(EndReason::Quit)),
        }
        self.answered = true;
        Ok(None)
    }

    fn interrupt(&mut self) -> Result<Option<EndReason>, ReplError> {
        if !self.interrupt_pauses {
            return Ok(Some(EndReason::Signal));
        }
        self.pause_all();
        Ok(None)
    }

    /// `stop after N`: the rule ends once N of its events were shown, or,
    /// for a rule that sends none (`count`, `hist`), after N matches.
    fn stop_rule(&mut self, id: usize, n: u64) -> Result<(), ReplError> {
        let text = self.interp.stop_rule(id, n);
        self.say(text);
        Ok(())
    }

    fn tick(&mut self) -> Result<Option<EndReason>, ReplError> {
        self.tables(false);
        Ok(None)
    }

    fn round_done(&mut self) -> Result<(), ReplError> {
        if self.lost_checked.elapsed() >= LOST_CHECK {
            self.lost_checked = Instant::now();
            self.warn_lost();
        }
        if std::mem::take(&mut self.answered) {
            let _ = self.notes.send(Note::Done { quit: false });
        }
        Ok(())
    }
}

impl Repl {
    pub fn new(
        interp: Interpreter<Session>,
        events: EventOut,
        printer: Box<dyn Printer>,
        requests: UnboundedReceiver<Request>,
        notes: mpsc::Sender<Note>,
        restore_terminal: Box<dyn FnOnce() + Send>,
        interrupt_pauses: bool,
    ) -> Repl {
        Repl {
            interp,
            screen: Screen {
                out: events,
                ids: Vec::new(),
                count: 0,
                failed: None,
            },
            printer,
            requests,
            notes,
            restore_terminal: Some(restore_terminal),
            interrupt_pauses,
            hidden_untold: 0,
            lost_told: 0,
            lost_checked: Instant::now(),
            answered: false,
            failure: String::new(),
        }
    }

    fn say(&mut self, text: String) {
        if !text.is_empty() {
            self.printer.print(text);
        }
    }

    /// Ctrl-C: pauses every rule and drops what is still in the ring.
    fn pause_all(&mut self) {
        let text = self.interp.interrupt();
        let hidden = self.discard();
        self.say(text);
        if hidden > 0 {
            self.say(format!(
                "({hidden} events already on their way were not shown)"
            ));
        }
    }

    /// Drops what is still in the ring; returns how many events.
    fn discard(&mut self) -> u64 {
        let mut dropped: Vec<usize> = Vec::new();
        let mut n = 0;
        let pumped = self.interp.tracer_mut().pump(&mut |ev, _, _| {
            n += 1;
            dropped.extend_from_slice(&ev.rules);
            Flow::Continue
        });
        for id in dropped {
            self.interp.hide(id);
        }
        for w in pumped.warnings {
            self.warning(w);
        }
        n
    }

    /// The `count`/`hist` tables through the event output (table or JSON,
    /// screen or file), as the CLI prints them.
    fn tables(&mut self, last: bool) {
        let session = self.interp.tracer();
        if !session.aggregating() {
            return;
        }
        let written = session.aggregates(last).map(|aggs| {
            self.screen
                .out
                .sink()
                .aggregates(&aggs, session.names())
                .map_err(|e| e.to_string())
        });
        match written {
            Ok(Ok(())) => {
                if let Ok(text) = self.screen.out.take() {
                    self.say(text);
                }
            }
            Ok(Err(e)) => self.say(format!("error: cannot write the tables: {e}")),
            Err(e) => self.say(format!("error: cannot read the tables: {e}")),
        }
    }

    fn warn_lost(&mut self) {
        let Ok(summary) = self.interp.tracer().summary("") else {
            return;
        };
        let lost: u64 = summary.rules.iter().map(|r| r.lost_ring_full).sum();
        if lost > self.lost_told {
            self.say(format!(
                "ferret: warning: {} events lost because the ring buffer was full (`stats` shows which rule); narrow the filter, add `limit N/s`, or restart with --ring-mib 64",
                lost - self.lost_told
            ));
        }
        self.lost_told = lost;
    }

    pub fn restore_terminal(&mut self) {
        if let Some(restore) = self.restore_terminal.take() {
            restore();
        }
    }

    /// `quit`, Ctrl-D or the end of input: the final tables and the
    /// summary, then the terminal thread hears that the session is over.
    pub fn quit(&mut self) -> Result<Ending, ReplError> {
        self.tables(true);
        let mut summary = self.interp.tracer().summary(EndReason::Quit.as_str())?;
        self.interp.account(&mut summary.rules);
        self.screen.out.summary(&summary, self.printer.as_mut());
        let _ = self.notes.send(Note::Done { quit: true });
        Ok(Ending {
            summary,
            ended_by: EndReason::Quit,
            failed: false,
        })
    }

    /// Ends while the terminal thread may still wait for input: the final
    /// tables and the summary, written plainly once the terminal is back.
    pub fn end_by_itself(&mut self, ended_by: EndReason) -> Ending {
        self.tables(true);
        let mut why = std::mem::take(&mut self.failure);
        let summary = match self.interp.tracer().summary(ended_by.as_str()) {
            Ok(mut summary) => {
                self.interp.account(&mut summary.rules);
                summary
            }
            Err(e) => {
                why = format!("{why}\nerror: cannot read the kernel's counters: {e}");
                Summary::default()
            }
        };
        // Let what is queued reach the screen (the editor is still showing
        // it), within reason: the session is over.
        let deadline = Instant::now() + Duration::from_secs(1);
        while self.printer.backlog() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        // The line editor still owns the terminal: take it back, then write
        // plainly (the external printer would wait for the editor).
        self.restore_terminal();
        let mut out = Stdout;
        if !why.trim().is_empty() {
            out.print(why.trim().to_string());
        }
        self.screen.out.summary(&summary, &mut out);
        Ending {
            summary,
            ended_by,
            failed: !why.is_empty(),
        }
    }
}
