//! The one-shot trace of the CLI (`ferret 'RULES'`, `ferret run FILE`):
//! load every rule, drive the trace into the text or JSON sink (and the
//! `--pcap` file), then the final tables and the summary.

use crate::driver::{self, Consumer, DriverOptions, EndReason};
use crate::error::SessionError;
use crate::listener::Listener;
use crate::options::{FunctionOptions, SessionOptions};
use crate::router::Router;
use crate::rules::detached_text;
use crate::session::{preflight, Session, Warning};
use crate::system::SystemFacts;
use ferret_core::output::pcap::PcapWriter;
use ferret_core::output::Sink;
use ferret_core::plan::Plan;
use ferret_core::summary::{PcapSummary, Summary};
use std::io::ErrorKind;
use std::ops::DerefMut;
use std::time::Duration;

/// An attach this long says the detach will take a while too.
const SLOW_ATTACH: Duration = Duration::from_secs(1);

/// The one-shot trace: load every rule of `plan`, tell `notice` the ready
/// line (and [`Listener::ready`]) once all probes are attached, stream to `sink` (and `capture`
/// packets to the `--pcap` file) until the duration, a signal, `stop
/// after`, the end of the `--cmd` command or a closed output ends it;
/// `count`/`hist` tables go to `sink` every `--interval` and at the end.
/// `notice` hears every line meant for standard error.
pub async fn run(
    plan: &Plan,
    facts: &SystemFacts,
    opts: &SessionOptions,
    sink: &mut dyn Sink,
    notice: &mut dyn Listener,
) -> Result<Summary, SessionError> {
    run_with(plan, facts, opts, &FunctionOptions::default(), sink, notice).await
}

/// [`run`] with options for function triggers; `notice` also hears how
/// long detaching the function probes took, at the end.
pub async fn run_with(
    plan: &Plan,
    facts: &SystemFacts,
    opts: &SessionOptions,
    func_opts: &FunctionOptions,
    sink: &mut dyn Sink,
    notice: &mut dyn Listener,
) -> Result<Summary, SessionError> {
    if plan.rules.len() > ferret_core::abi::MAX_RULES {
        return Err(SessionError::PlanTooBig {
            got: plan.rules.len(),
            max: ferret_core::abi::MAX_RULES,
        });
    }
    for rule in &plan.rules {
        preflight(rule)?;
    }
    // Before loading anything: a bad path is the quickest error to give.
    let pcap = match &opts.pcap {
        Some(path) => {
            let texts: Vec<String> = plan.rules.iter().map(|r| r.text.clone()).collect();
            Some(PcapWriter::create(path, &texts)?)
        }
        None => None,
    };
    let mut session = Session::open(facts, opts)?;
    session.set_function_options(func_opts);
    for rule in &plan.rules {
        session.add_rule(rule.clone())?;
    }
    let router = Router::new(sink, pcap, session.rules());
    let mut trace = OneShot {
        session,
        router,
        notice,
    };
    let outcome = driver::drive(&mut trace, &DriverOptions::from(opts)).await?;
    let OneShot {
        mut session,
        mut router,
        notice,
    } = trace;
    if session.aggregating() && outcome.ended_by != EndReason::OutputClosed {
        let aggs = session.aggregates(true)?;
        if let Err(e) = router.sink().aggregates(&aggs, session.names()) {
            if e.kind() != ErrorKind::BrokenPipe {
                return Err(SessionError::Output { source: e });
            }
        }
    }
    if let Some(e) = router.pcap_error.take() {
        return Err(e.into());
    }
    let mut summary = session.summary(outcome.ended_by.as_str())?;
    if session.func_status().attached > 0 {
        let st = session.func_status();
        // Single kprobes detach one RCU grace period at a time in the
        // kernel: a long attach means a long detach, so say it is under way.
        if st.attach_time >= SLOW_ATTACH {
            notice.notice(&format!(
                "ferret: detaching {} function probes...",
                st.attached
            ));
        }
        session.detach_functions()?;
        notice.notice(&detached_text(session.func_status()));
    }
    summary.command_status = outcome.command_status;
    summary.pcap = router.pcap.as_ref().map(|p| PcapSummary {
        skipped: router.capture_skipped,
        ..p.summary()
    });
    Ok(summary)
}

/// The CLI as the driver's consumer: events to the router, notices to
/// the caller.
struct OneShot<'a, 'n> {
    session: Session,
    router: Router<'a>,
    notice: &'n mut dyn Listener,
}

impl<'a> Consumer for OneShot<'a, '_> {
    type Error = SessionError;
    type Input = std::convert::Infallible;
    type Events = Router<'a>;

    fn parts(&mut self) -> (impl DerefMut<Target = Session> + '_, &mut Router<'a>) {
        (&mut self.session, &mut self.router)
    }

    fn ready(&mut self) -> Result<(), SessionError> {
        let n = self.session.rules().count();
        let plural = if n == 1 { "" } else { "s" };
        let line = format!(
            "ferret: ready: {n} rule{plural} on {}; Ctrl-C to stop",
            self.session.attached_text()
        );
        self.notice.ready();
        self.notice.notice(&line);
        Ok(())
    }

    fn warning(&mut self, warning: Warning) {
        self.notice.notice(&format!("ferret: warning: {warning}"));
    }

    fn pumped(&mut self) -> Result<Option<EndReason>, SessionError> {
        self.router.flush();
        if let Some(e) = self.router.pcap_error.take() {
            return Err(e.into());
        }
        match self.router.write_error.take() {
            None => Ok(None),
            Some(e) if e.kind() == ErrorKind::BrokenPipe => Ok(Some(EndReason::OutputClosed)),
            Some(source) => Err(SessionError::Output { source }),
        }
    }

    fn tick(&mut self) -> Result<Option<EndReason>, SessionError> {
        if !self.session.aggregating() {
            return Ok(None);
        }
        let aggs = self.session.aggregates(false)?;
        match self.router.sink().aggregates(&aggs, self.session.names()) {
            Ok(()) => Ok(None),
            Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(Some(EndReason::OutputClosed)),
            Err(source) => Err(SessionError::Output { source }),
        }
    }
}
