//! `ferret run PLAYBOOK.rhai`: the trace loop with a script in it. Like
//! [`session::run`](ferret_session::session::run), plus hooks, timers, `stop()`, an
//! optional command whose end ends the trace, and the report at the end.
//! A script error ends the trace cleanly: the summary is still written.

use super::event::ScriptEvent;
use super::facts::KernelInfo;
use super::host::{Host, HostOptions};
use super::value::render_report;
use super::{Playbook, ScriptError, ScriptErrorKind};
use ferret_core::output::{JsonSink, Sink};
use ferret_core::summary::Summary;
use ferret_session::command::{CommandError, RunningCommand};
use ferret_session::session::{self, Flow, Session, SessionError, SessionOptions, Signals, POLL};
use ferret_session::system::SystemFacts;
use std::collections::HashMap;
use std::io::Write;
use std::time::Instant;

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub session: Option<SessionOptions>,
    pub host: HostOptions,
    /// A shell command started once the rules are attached; its end ends
    /// the trace (its output goes to stderr: stdout is the playbook's).
    pub cmd: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error("cannot install signal handlers: {source}")]
    Signals { source: std::io::Error },
}

#[derive(Debug)]
pub struct Outcome {
    pub summary: Summary,
    /// The script error that ended the trace, if one did.
    pub error: Option<ScriptError>,
    /// The status the script asked for with `stop(code)`.
    pub exit: i32,
    pub report: Option<serde_json::Value>,
}

pub async fn run(
    playbook: &Playbook,
    facts: &SystemFacts,
    opts: RunOptions,
    out: Box<dyn Write>,
    ready: &mut dyn FnMut(&str),
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
        "script error"
    } else {
        "stop"
    };
    let mut command = None;
    if error.is_none() && !host.stop_requested() {
        let n = host.tracer().rules().count();
        if n == 0 {
            eprintln!("ferret: warning: {} added no rules, so no events will come; call rule(\"on ...\") at the top level or in on_start()", playbook.name);
        }
        ready(&format!(
            "ferret: ready: {} with {n} rule{} on {}; Ctrl-C to stop",
            playbook.name,
            if n == 1 { "" } else { "s" },
            host.tracer().attached_text()
        ));
        if let Some(cmd) = &opts.cmd {
            command = Some(RunningCommand::spawn(cmd, true)?);
        }
        let deadline = session_opts.duration.map(|d| Instant::now() + d);
        match trace(&mut host, deadline, &mut command).await? {
            Ok(how) => ended_by = how,
            Err(e) => {
                ended_by = "script error";
                error = Some(e);
            }
        }
    }
    let command_status = command.map(RunningCommand::stop).transpose()?;
    if error.is_none() && ended_by != "output closed" {
        error = host.end().err();
    }
    let mut summary = host.tracer().summary(ended_by)?;
    summary.command_status = command_status;
    let report = host.report();
    if ended_by != "output closed" {
        write_aggregates(&host, json)?;
        write_end(&host, &playbook.name, report.as_ref(), &summary, json);
        if let Err(e) = host.flush() {
            if !is_broken_pipe(&e) {
                error = error.or(Some(e));
            }
        }
    }
    eprint!("{}", summary.render_text());
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

/// Streams events to the script until something ends the trace; returns
/// what did, or the script error.
// The session sits in the host's RefCell because rule() needs it from
// inside the script. Holding it across the wait is sound: this task is the
// only user and no script runs while it waits.
#[allow(clippy::await_holding_refcell_ref)]
async fn trace(
    host: &mut Host<Session>,
    deadline: Option<Instant>,
    command: &mut Option<RunningCommand>,
) -> Result<Result<&'static str, ScriptError>, RunError> {
    let mut signals = Signals::install().map_err(|source| RunError::Signals { source })?;
    let mut shown: HashMap<usize, u64> = HashMap::new();
    loop {
        let now = Instant::now();
        let wait = [deadline, host.next_timer()]
            .into_iter()
            .flatten()
            .map(|t| t.saturating_duration_since(now))
            .fold(POLL, std::cmp::Ord::min);
        let mut signalled = false;
        tokio::select! {
            _ = async { host.tracer().wait(wait).await } => {}
            _ = signals.next() => signalled = true,
        }
        let mut stop_after_hit = false;
        if let Err(e) = deliver(host, &mut shown, &mut stop_after_hit) {
            return Ok(Err(e));
        }
        if let Err(e) = host.run_timers(Instant::now()) {
            return Ok(Err(e));
        }
        if let Err(e) = host.flush() {
            return Ok(if is_broken_pipe(&e) {
                Ok("output closed")
            } else {
                Err(e)
            });
        }
        let how = if signalled {
            Some("signal")
        } else if host.stop_requested() {
            Some("stop")
        } else if stop_after_hit {
            Some("stop-after")
        } else if command
            .as_mut()
            .map(RunningCommand::try_status)
            .transpose()?
            .flatten()
            .is_some()
        {
            // What the command caused may still be in flight (softirqs,
            // the ring): let the kernel settle, then hand over the rest.
            session::settle(&mut host.tracer()).await?;
            if let Err(e) = deliver(host, &mut shown, &mut stop_after_hit) {
                return Ok(Err(e));
            }
            Some("command")
        } else if deadline.is_some_and(|d| Instant::now() >= d) {
            Some("duration")
        } else {
            None
        };
        if let Some(how) = how {
            return Ok(Ok(how));
        }
    }
}

/// Drains the ring and hands each event to the script, counting toward
/// `stop after N`; stops early once the script or a rule asks to.
fn deliver(
    host: &mut Host<Session>,
    shown: &mut HashMap<usize, u64>,
    stop_after_hit: &mut bool,
) -> Result<(), ScriptError> {
    let stop_after: HashMap<usize, u64> = host
        .tracer()
        .rules()
        .filter_map(|r| r.plan.actions.stop_after.map(|n| (r.id, n)))
        .collect();
    let mut batch = Vec::new();
    host.with_tracer(|session, names| {
        session.pump(&mut |ev, stack, ctx| {
            batch.push(ScriptEvent::new(ev, stack, ctx, &names.name(ev.meta.netns)));
            Flow::Continue
        })
    });
    for ev in &batch {
        if host.stop_requested() || *stop_after_hit {
            break;
        }
        host.deliver(ev)?;
        for id in ev.rules() {
            let n = shown.entry(id).or_default();
            *n += 1;
            *stop_after_hit |= stop_after.get(&id).is_some_and(|limit| *n >= *limit);
        }
    }
    Ok(())
}

/// The `count`/`hist` tables of the playbook's rules, before the report.
fn write_aggregates(host: &Host<Session>, json: bool) -> Result<(), SessionError> {
    let has = host
        .tracer()
        .rules()
        .any(|r| r.plan.actions.count_by.is_some() || r.plan.actions.hist.is_some());
    if !has {
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
fn write_end(
    host: &Host<Session>,
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
