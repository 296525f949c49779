//! `ferret run PLAYBOOK.rhai`: the trace driver with a script in it. Like
//! the CLI's [one-shot trace](ferret_session::oneshot::run), plus hooks,
//! timers, `stop()`, an optional command whose end ends the trace, and the
//! report at the end. A script error ends the trace cleanly: the summary is
//! still written.

use super::capture::{write_captures, PcapFile};
use super::event::ScriptEvent;
use super::facts::KernelInfo;
use super::host::{Host, HostOptions};
use super::value::render_report;
use super::{Playbook, ScriptError, ScriptErrorKind};
use ferret_core::event::Event;
use ferret_core::output::pcap::{PcapError, PcapWriter};
use ferret_core::output::{JsonSink, Names, Sink};
use ferret_core::summary::Summary;
use ferret_session::driver::{self, Consumer, DriverOptions, EndReason, EventTarget};
use ferret_session::error::SessionError;
use ferret_session::listener::Listener;
use ferret_session::options::SessionOptions;
use ferret_session::session::{Flow, Session, Warning};
use ferret_session::system::SystemFacts;
use std::io::Write;
use std::ops::DerefMut;
use std::time::Instant;

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub session: Option<SessionOptions>,
    pub host: HostOptions,
    /// A shell command started once the rules are attached; its end ends
    /// the trace (its output goes to stderr: stdout is the playbook's).
    pub cmd: Option<String>,
    /// `--pcap FILE`: the packets of the playbook's `capture` rules.
    pub pcap: Option<std::path::PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Pcap(#[from] PcapError),
}

#[derive(Debug)]
pub struct Outcome {
    /// The caller shows its text on standard error.
    pub summary: Summary,
    /// The script error that ended the trace, if one did.
    pub error: Option<ScriptError>,
    /// The status the script asked for with `stop(code)`.
    pub exit: i32,
    pub report: Option<serde_json::Value>,
}

/// Runs the playbook: its top level and `on_start()`, then (unless it
/// already stopped) the trace, then `on_end()`, the tables, the report and
/// with `--json` the summary on `out`. `notice` hears the lines meant for
/// standard error (the ready line, warnings) and when every probe is
/// attached.
pub async fn run(
    playbook: &Playbook,
    facts: &SystemFacts,
    opts: RunOptions,
    out: Box<dyn Write>,
    notice: &mut dyn Listener,
) -> Result<Outcome, RunError> {
    let session_opts = opts.session.clone().unwrap_or_default();
    let mut session = Session::open(facts, &session_opts)?;
    session.allow_calls();
    let kernel = KernelInfo::detect(facts);
    let json = opts.host.json;
    let mut host = Host::new(
        playbook.clone(),
        session,
        facts.clone(),
        kernel,
        out,
        opts.host,
    );
    let mut error = host.start().err();
    let mut ended_by = if error.is_some() {
        EndReason::ScriptError
    } else {
        EndReason::ScriptStop
    };
    let mut command_status = None;
    let rules = [playbook.name.clone()];
    let mut pcap = opts
        .pcap
        .as_deref()
        .map(|p| PcapWriter::create(p, &rules))
        .transpose()?;
    let mut skipped = 0;
    if error.is_none() && !host.stop_requested() {
        let mut trace = PlaybookTrace {
            host: &mut host,
            batch: Batch::default(),
            error: None,
            notice,
            pcap: pcap.as_mut(),
            skipped: &mut skipped,
        };
        let driver_opts = DriverOptions {
            duration: session_opts.duration,
            interval: None,
            command: opts.cmd.clone(),
            command_stdout_to_stderr: true,
        };
        let outcome = driver::drive(&mut trace, &driver_opts).await?;
        ended_by = outcome.ended_by;
        command_status = outcome.command_status;
        error = trace.error;
    }
    if error.is_none() && ended_by != EndReason::OutputClosed {
        error = host.end().err();
    }
    let mut summary = host.tracer().summary(ended_by.as_str())?;
    summary.command_status = command_status;
    if let Some(w) = pcap.as_mut() {
        w.flush()?;
        summary.pcap = Some(ferret_core::summary::PcapSummary {
            skipped,
            ..w.summary()
        });
    }
    let report = host.report();
    if ended_by != EndReason::OutputClosed {
        write_aggregates(&host, json)?;
        write_end(&host, &playbook.name, report.as_ref(), &summary, json);
        if let Err(e) = host.flush() {
            if !is_broken_pipe(&e) {
                error = error.or(Some(e));
            }
        }
    }
    Ok(Outcome {
        summary,
        error,
        exit: host.exit_code(),
        report,
    })
}

fn is_broken_pipe(e: &ScriptError) -> bool {
    matches!(&e.kind, ScriptErrorKind::Output { source } if source.kind() == std::io::ErrorKind::BrokenPipe)
}

/// The playbook as the driver's consumer. The session sits in the host
/// (the script's `rule()` needs it), so a pump only collects the events;
/// the script gets them once the session is free again.
struct PlaybookTrace<'h, 'n> {
    host: &'h mut Host<Session>,
    batch: Batch,
    /// The script error that ended the trace.
    error: Option<ScriptError>,
    notice: &'n mut dyn Listener,
    pcap: Option<&'n mut PcapFile>,
    skipped: &'n mut u64,
}

/// The events of one pump, for the script.
#[derive(Debug, Default)]
struct Batch(Vec<(Event, Option<Vec<String>>)>);

impl EventTarget for Batch {
    fn event(&mut self, ev: &Event, _: &[usize], stack: Option<&[String]>, _: &Names) -> Flow {
        self.0.push((ev.clone(), stack.map(<[String]>::to_vec)));
        Flow::Continue
    }
}

impl PlaybookTrace<'_, '_> {
    fn failed(&mut self, e: ScriptError) -> Option<EndReason> {
        self.error = Some(e);
        Some(EndReason::ScriptError)
    }
}

impl Consumer for PlaybookTrace<'_, '_> {
    type Error = RunError;
    type Input = std::convert::Infallible;
    type Events = Batch;

    fn parts(&mut self) -> (impl DerefMut<Target = Session> + '_, &mut Batch) {
        (self.host.tracer(), &mut self.batch)
    }

    fn ready(&mut self) -> Result<(), RunError> {
        let name = &self.host.playbook().name;
        let n = self.host.tracer().rules().count();
        if n == 0 {
            self.notice.notice(&format!("ferret: warning: {name} added no rules, so no events will come; call rule(\"on ...\") at the top level or in on_start()"));
        }
        let line = format!(
            "ferret: ready: {name} with {n} rule{} on {}; Ctrl-C to stop",
            if n == 1 { "" } else { "s" },
            self.host.tracer().attached_text()
        );
        self.notice.ready();
        self.notice.notice(&line);
        Ok(())
    }

    fn next_wake(&self) -> Option<Instant> {
        self.host.next_timer()
    }

    fn warning(&mut self, warning: Warning) {
        self.notice.notice(&format!("ferret: warning: {warning}"));
    }

    /// Hands the batch to the script (until it stops), runs due timers,
    /// flushes the output.
    fn pumped(&mut self) -> Result<Option<EndReason>, RunError> {
        let batch = std::mem::take(&mut self.batch.0);
        if let Some(pcap) = self.pcap.as_deref_mut() {
            let session = self.host.tracer();
            let captures: Vec<usize> = session
                .rules()
                .filter(|r| r.plan.captures())
                .map(|r| r.id)
                .collect();
            let events = batch.iter().map(|(ev, _)| ev);
            write_captures(pcap, self.skipped, events, &captures, session.names())?;
        }
        let events: Vec<ScriptEvent> = self.host.with_tracer(|session, netns| {
            batch
                .iter()
                .map(|(ev, stack)| {
                    let netns_name = netns.name(ev.meta.netns);
                    ScriptEvent::new(ev, stack.as_deref(), session.names(), &netns_name)
                })
                .collect()
        });
        for ev in &events {
            if self.host.stop_requested() {
                break;
            }
            if let Err(e) = self.host.deliver(ev) {
                return Ok(self.failed(e));
            }
        }
        if let Err(e) = self.host.run_timers(Instant::now()) {
            return Ok(self.failed(e));
        }
        if let Err(e) = self.host.flush() {
            if is_broken_pipe(&e) {
                return Ok(Some(EndReason::OutputClosed));
            }
            return Ok(self.failed(e));
        }
        Ok(self.host.stop_requested().then_some(EndReason::ScriptStop))
    }
}

/// The `count`/`hist` tables of the playbook's rules, before the report.
fn write_aggregates(host: &Host<Session>, json: bool) -> Result<(), SessionError> {
    if !host.tracer().aggregating() {
        return Ok(());
    }
    let aggs = host.tracer().aggregates(true)?;
    let ctx = host.tracer().names().clone();
    host.with_output(|out| {
        if json {
            let _ = JsonSink::new(out).aggregates(&aggs, &ctx);
        } else {
            let _ = out.write_all(aggs.render_text(&ctx).as_bytes());
        }
    });
    Ok(())
}

/// The report (text, or a `"type": "report"` line), then with --json the
/// summary object; the text summary goes to stderr separately.
pub(crate) fn write_end<T: ferret_session::control::RuleControl>(
    host: &Host<T>,
    name: &str,
    report: Option<&serde_json::Value>,
    summary: &Summary,
    json: bool,
) {
    if json {
        if let Some(r) = report {
            let mut obj = match r {
                serde_json::Value::Object(o) => o.clone(),
                other => [("value".to_string(), other.clone())].into_iter().collect(),
            };
            obj.insert("type".into(), "report".into());
            obj.insert("playbook".into(), name.into());
            host.write_line(&serde_json::Value::Object(obj).to_string());
        }
        host.write_line(&summary.to_json().to_string());
    } else if let Some(r) = report {
        host.write_line("");
        host.write_line(render_report(r).trim_end());
    }
}
