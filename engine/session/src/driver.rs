//! The trace driver: the one loop that the CLI, playbooks and the REPL run
//! a session with. It owns what they share — the signals, `--duration`,
//! the `--interval` ticks, `stop after`, the `--cmd` command and the
//! settling once it ends — and hands each event to the front end's
//! [`Consumer`], which decides what to show and when to end too.
//!
//! A round: wait for the ring (or a signal, or the front end's own input)
//! → pump the ring into the consumer → [`Consumer::pumped`] → the signal
//! or input → the command → `stop after` → a tick → the deadline →
//! [`Consumer::round_done`]. The first reason to end wins, except that an
//! output failure outranks any other.

use crate::command::RunningCommand;
use crate::end_reason::Ending;
use crate::error::SessionError;
use crate::options::SessionOptions;
use crate::session::{Flow, Session, Warning, POLL};
use crate::signals::{Caught, Signals};
use crate::stop_after::{self, Delivered};
use ferret_core::event::Event;
use ferret_core::output::Names;
use std::collections::HashMap;
use std::ops::DerefMut;
use std::time::{Duration, Instant};

pub use crate::end_reason::EndReason;
pub use crate::stop_after::StopAfter;

/// What the driver does besides pumping events.
#[derive(Debug, Clone, Default)]
pub struct DriverOptions {
    /// `--duration`: end after this long.
    pub duration: Option<Duration>,
    /// `--interval`: call [`Consumer::tick`] this often.
    pub interval: Option<Duration>,
    /// `--cmd`: run this through `sh -c` once ready; its end ends the trace.
    pub command: Option<String>,
    /// Send the command's standard output to ferret's standard error.
    pub command_stdout_to_stderr: bool,
}

impl From<&SessionOptions> for DriverOptions {
    fn from(o: &SessionOptions) -> DriverOptions {
        DriverOptions {
            duration: o.duration,
            interval: o.interval,
            command: o.command.clone(),
            command_stdout_to_stderr: o.command_stdout_to_stderr,
        }
    }
}

/// How a trace ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub ended_by: EndReason,
    /// With `--cmd`: the command's exit status (128 + N for signal N).
    pub command_status: Option<i32>,
}

/// Where the events of a pump go.
pub trait EventTarget {
    /// One event. `rules` are its rules that have not reached their `stop
    /// after` yet (an event all of whose rules are done is not delivered);
    /// `Flow::Stop` drops the rest of the batch (a write failed).
    fn event(
        &mut self,
        ev: &Event,
        rules: &[usize],
        stack: Option<&[String]>,
        names: &Names,
    ) -> Flow;
}

/// A front end, as the driver sees it. Methods that return
/// `Option<EndReason>` end the trace with `Some`.
// The driver runs on a current-thread runtime: its futures need not be Send.
#[allow(async_fn_in_trait)]
pub trait Consumer {
    type Error: From<SessionError>;
    /// What the front end waits for besides the ring and the signals (the
    /// REPL's typed lines).
    type Input;
    type Events: EventTarget;
    /// What `stop after N` does here.
    const STOP_AFTER: StopAfter = StopAfter::EndsTrace;

    /// The session and where its events go, borrowed together so the
    /// driver can pump one into the other.
    fn parts(&mut self) -> (impl DerefMut<Target = Session> + '_, &mut Self::Events);

    fn session(&mut self) -> impl DerefMut<Target = Session> + '_ {
        self.parts().0
    }

    /// Once, after every probe is attached and before `--cmd` starts: the
    /// ready line, and anything that must follow the attaching.
    fn ready(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }

    /// Waits until the ring has data or `timeout` passed; a front end with
    /// input of its own also returns when that comes.
    async fn wait(&mut self, timeout: Duration) -> Option<Self::Input> {
        self.session().wait(timeout).await;
        None
    }

    /// When the front end next needs a round of its own (a timer).
    fn next_wake(&self) -> Option<Instant> {
        None
    }

    /// After each pump: flush, run what the events asked for.
    fn pumped(&mut self) -> Result<Option<EndReason>, Self::Error> {
        Ok(None)
    }

    /// Something the user should hear about (a record that was skipped).
    fn warning(&mut self, warning: Warning);

    /// What [`Consumer::wait`] returned besides a timeout.
    fn input(&mut self, input: Self::Input) -> Result<Option<EndReason>, Self::Error> {
        let _ = input;
        Ok(None)
    }

    /// SIGINT (SIGTERM always ends the trace).
    fn interrupt(&mut self) -> Result<Option<EndReason>, Self::Error> {
        Ok(Some(EndReason::Signal))
    }

    /// SIGHUP: the end, unless the front end takes it as "reload".
    fn hangup(&mut self) -> Result<Option<EndReason>, Self::Error> {
        Ok(Some(EndReason::Signal))
    }

    /// With [`StopAfter::StopsRule`]: rule `id` reached `stop after n`.
    fn stop_rule(&mut self, id: usize, n: u64) -> Result<(), Self::Error> {
        let _ = (id, n);
        Ok(())
    }

    /// Every `--interval`, while the trace goes on.
    fn tick(&mut self) -> Result<Option<EndReason>, Self::Error> {
        Ok(None)
    }

    /// At the end of every round, ending or not.
    fn round_done(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Runs the trace until something ends it; the rules are already in the
/// consumer's session. Calls [`Consumer::ready`] first, then starts the
/// command; when the command's end ended the trace, lets the kernel
/// settle and pumps what came late.
pub async fn drive<C: Consumer>(
    consumer: &mut C,
    opts: &DriverOptions,
) -> Result<Outcome, C::Error> {
    let mut signals = Signals::install().map_err(|source| SessionError::Signals { source })?;
    consumer.ready()?;
    let mut command = match &opts.command {
        Some(c) => Some(
            RunningCommand::spawn(c, opts.command_stdout_to_stderr).map_err(SessionError::from)?,
        ),
        None => None,
    };
    let deadline = opts.duration.map(|d| Instant::now() + d);
    let mut ticks = opts.interval.map(Ticks::new);
    let mut delivered = Delivered::default();
    let mut end = Ending::default();
    let mut command_status = None;
    let ended_by = loop {
        let now = Instant::now();
        let wait = [
            deadline,
            ticks.as_ref().map(|t| t.next),
            consumer.next_wake(),
        ]
        .into_iter()
        .flatten()
        .map(|t| t.saturating_duration_since(now))
        .fold(POLL, Duration::min);
        let woke = tokio::select! {
            input = consumer.wait(wait) => input.map(Woke::Input),
            caught = signals.next() => Some(Woke::Signal(caught)),
        };
        let reached = pump(consumer, &mut delivered);
        end.record(consumer.pumped()?);
        if reached {
            end.record(Some(EndReason::StopAfter));
        }
        if end.is_none() {
            end.record(match woke {
                None => None,
                Some(Woke::Input(input)) => consumer.input(input)?,
                Some(Woke::Signal(Caught::Interrupt)) => consumer.interrupt()?,
                Some(Woke::Signal(Caught::Terminate)) => Some(EndReason::Signal),
                Some(Woke::Signal(Caught::Hangup)) => consumer.hangup()?,
            });
        }
        if let Some(c) = command.as_mut() {
            if let Some(status) = c.try_status().map_err(SessionError::from)? {
                command_status = Some(status);
                command = None;
                end.record(Some(EndReason::Command));
            }
        }
        if end.is_none() {
            end.record(stop_after(consumer, &delivered)?);
        }
        if let Some(t) = ticks.as_mut() {
            if t.due(Instant::now()) && end.is_none() {
                end.record(consumer.tick()?);
            }
        }
        if end.is_none() && deadline.is_some_and(|d| Instant::now() >= d) {
            end.record(Some(EndReason::Duration));
        }
        consumer.round_done()?;
        if let Some(reason) = end.reason() {
            break reason;
        }
    };
    if ended_by == EndReason::Command {
        // What the command caused may still be in flight (softirqs, the
        // ring): let the kernel settle, then take the rest.
        settle(consumer).await?;
        pump(consumer, &mut delivered);
        end.record(consumer.pumped()?);
    }
    if let Some(c) = command.take() {
        command_status = Some(c.stop().map_err(SessionError::from)?);
    }
    Ok(Outcome {
        ended_by: end.reason().unwrap_or(ended_by),
        command_status,
    })
}

enum Woke<I> {
    Input(I),
    Signal(Caught),
}

/// Drains the ring into the consumer, counting toward `stop after`; with
/// [`StopAfter::EndsTrace`] the batch stops at the event that reached a
/// limit, and the result says one did.
fn pump<C: Consumer>(consumer: &mut C, delivered: &mut Delivered) -> bool {
    let ends = C::STOP_AFTER == StopAfter::EndsTrace;
    let mut reached = false;
    let warnings = {
        let (mut session, events) = consumer.parts();
        let limits = stop_after::limits(&session);
        let pumped = session.pump(&mut |ev, stack, names| {
            if limits.is_empty() {
                return events.event(ev, &ev.rules, stack, names);
            }
            let Some(live) = delivered.live(&ev.rules, &limits) else {
                return Flow::Continue;
            };
            if events.event(ev, &live, stack, names) == Flow::Stop {
                return Flow::Stop;
            }
            if delivered.add(&live, &limits) && ends {
                reached = true;
                return Flow::Stop;
            }
            Flow::Continue
        });
        pumped.warnings
    };
    for w in warnings {
        consumer.warning(w);
    }
    reached
}

/// The rules done with their `stop after`: by events delivered, or for a
/// rule that sends none (`count`, `hist`), by the kernel's matches.
fn stop_after<C: Consumer>(
    consumer: &mut C,
    delivered: &Delivered,
) -> Result<Option<EndReason>, C::Error> {
    let done: Vec<(usize, u64)> = {
        let session = consumer.session();
        let limits: Vec<(usize, u64, bool)> = session
            .rules()
            .filter_map(|r| {
                let quiet = !r.plan.delivers();
                Some((r.id, r.plan.actions.stop_after?, quiet))
            })
            .collect();
        let matched = if limits.iter().any(|(.., quiet)| *quiet) {
            session.matched()?
        } else {
            HashMap::new()
        };
        limits
            .into_iter()
            .filter(|(id, n, quiet)| {
                let so_far = if *quiet {
                    matched.get(id).copied().unwrap_or(0)
                } else {
                    delivered.count(*id)
                };
                so_far >= *n
            })
            .map(|(id, n, _)| (id, n))
            .collect()
    };
    if done.is_empty() {
        return Ok(None);
    }
    match C::STOP_AFTER {
        StopAfter::EndsTrace => Ok(Some(EndReason::StopAfter)),
        StopAfter::StopsRule => {
            for (id, n) in done {
                consumer.stop_rule(id, n)?;
            }
            Ok(None)
        }
    }
}

/// Waits until the rules' match counters stop moving (checked every
/// [`POLL`]), at most [`SETTLE_MAX`].
async fn settle<C: Consumer>(consumer: &mut C) -> Result<(), SessionError> {
    let until = Instant::now() + SETTLE_MAX;
    let mut before = consumer.session().matched()?;
    while Instant::now() < until {
        consumer.session().wait(POLL).await;
        let now = consumer.session().matched()?;
        if now == before {
            break;
        }
        before = now;
    }
    Ok(())
}

/// Upper bound of [`settle`].
const SETTLE_MAX: Duration = Duration::from_millis(500);

/// The `--interval` schedule.
#[derive(Debug)]
struct Ticks {
    every: Duration,
    next: Instant,
}

impl Ticks {
    fn new(every: Duration) -> Ticks {
        Ticks {
            every,
            next: Instant::now() + every,
        }
    }

    /// Whether a tick is due at `now`; moves on to the next one if so.
    /// Ticks missed while busy are skipped, not replayed.
    fn due(&mut self, now: Instant) -> bool {
        if now < self.next {
            return false;
        }
        let behind = (now - self.next).as_nanos() / self.every.as_nanos().max(1);
        self.next += self.every * (behind as u32 + 1);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missed_ticks_are_skipped_not_replayed() {
        let every = Duration::from_secs(1);
        let mut t = Ticks::new(every);
        let start = t.next - every;
        assert!(!t.due(start + Duration::from_millis(999)));
        assert!(t.due(start + Duration::from_millis(1000)));
        assert_eq!(t.next, start + 2 * every);
        // Busy for 3.5 s: one tick now, the next on the schedule.
        assert!(t.due(start + Duration::from_millis(4500)));
        assert_eq!(t.next, start + 5 * every);
        assert!(!t.due(start + Duration::from_millis(4600)));
    }

    #[test]
    fn driver_options_follow_the_session_options() {
        let opts = SessionOptions {
            duration: Some(Duration::from_secs(3)),
            interval: Some(Duration::from_secs(1)),
            command: Some("true".into()),
            command_stdout_to_stderr: true,
            ..SessionOptions::default()
        };
        let d = DriverOptions::from(&opts);
        assert_eq!(d.duration, opts.duration);
        assert_eq!(d.interval, opts.interval);
        assert_eq!(d.command.as_deref(), Some("true"));
        assert!(d.command_stdout_to_stderr);
    }
}
