//! `ferret serve`: the node agent's trace loop. The driver runs the
//! session as for any trace; this consumer adds what a long-running agent
//! needs: events as JSON lines with the node's name, the rules file
//! re-read on SIGHUP or when it changes, and the answers to `/metrics`
//! and `/healthz`, made on this thread between pumps.

use crate::error::AgentError;
use crate::events::EventLines;
use crate::health::{self, HealthInput, LastReload};
use crate::http::{Asked, Endpoint, Query, Reply};
use crate::metrics::cap::SeriesCap;
use crate::metrics::scrape::{families, AgentFigures, Lost, ScrapeInput};
use crate::metrics::{family, CONTENT_TYPE};
use crate::reconcile::{self, RunningRule};
use crate::rotate::Rotation;
use crate::rules_file;
use crate::watch::FileWatch;
use ferret_core::summary::Summary;
use ferret_session::driver::{self, Consumer, DriverOptions, EndReason, StopAfter};
use ferret_session::error::SessionError;
use ferret_session::listener::Listener;
use ferret_session::options::{FunctionOptions, SessionOptions};
use ferret_session::session::{Session, Warning};
use ferret_session::system::SystemFacts;
use std::net::SocketAddr;
use std::ops::DerefMut;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc::UnboundedReceiver;

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub rules: PathBuf,
    /// Run a rules file others can change (as root).
    pub allow_unsafe: bool,
    /// `-o`: the events file (standard output without it).
    pub output: Option<PathBuf>,
    pub rotation: Option<Rotation>,
    pub node: String,
    /// `--metrics`: where `/metrics` and `/healthz` are served.
    pub metrics: Option<SocketAddr>,
    /// Keys of one `count by` rule shown as series of their own.
    pub series_cap: usize,
    /// How often the rules file is looked at.
    pub watch_every: Duration,
    pub session: SessionOptions,
    pub functions: FunctionOptions,
}

/// Runs the agent until a signal (or `--duration`) ends it; the final
/// account is also the last line of the events.
pub async fn run(
    opts: &ServeOptions,
    mut facts: SystemFacts,
    notice: &mut dyn Listener,
) -> Result<Summary, AgentError> {
    // Stamped before the first read: a change in between is then seen.
    let watch = FileWatch::new(&opts.rules, opts.watch_every);
    let loaded = rules_file::load(&opts.rules, &mut facts, opts.allow_unsafe)?;
    if let Some(w) = &loaded.warnings {
        notice.notice(w.trim_end());
    }
    let events = EventLines::open(opts.output.as_deref(), opts.rotation, &opts.node)
        .map_err(|source| AgentError::Output { source })?;
    let (endpoint, queries) = match opts.metrics {
        Some(addr) => {
            let (e, q) = Endpoint::start(addr)?;
            (Some(e), Some(q))
        }
        None => (None, None),
    };
    let mut session = Session::open(&facts, &opts.session)?;
    session.set_function_options(&opts.functions);
    let mut running = Vec::new();
    reconcile::apply(&mut session, &mut running, loaded.rules)
        .map_err(|e| AgentError::FirstRules(Box::new(e)))?;
    let mut agent = Agent {
        session,
        events,
        running,
        facts,
        opts,
        queries,
        endpoint_addr: endpoint.as_ref().map(|e| e.addr),
        watch,
        cap: SeriesCap::new(opts.series_cap),
        figures: AgentFigures {
            node: opts.node.clone(),
            ..AgentFigures::default()
        },
        last_reload: None,
        stopped: Default::default(),
        notice,
    };
    let outcome = driver::drive(&mut agent, &DriverOptions::from(&opts.session)).await?;
    let Agent {
        mut session,
        mut events,
        queries,
        ..
    } = agent;
    // The receiver first: a request still waiting is answered 503 at
    // once, and the endpoint's thread can end.
    drop(queries);
    drop(endpoint);
    let summary = session.summary(outcome.ended_by.as_str())?;
    if let Ok(mut obj) = serde_json::to_value(&summary) {
        obj["type"] = "summary".into();
        events.own_line(obj);
    }
    events.flush();
    if session.func_status().attached > 0 {
        session.detach_functions()?;
    }
    Ok(summary)
}

struct Agent<'o, 'n> {
    session: Session,
    events: EventLines,
    running: Vec<RunningRule>,
    facts: SystemFacts,
    opts: &'o ServeOptions,
    queries: Option<UnboundedReceiver<Query>>,
    endpoint_addr: Option<SocketAddr>,
    watch: FileWatch,
    cap: SeriesCap,
    figures: AgentFigures,
    last_reload: Option<LastReload>,
    /// Rules paused by their `stop after`.
    stopped: std::collections::HashSet<usize>,
    notice: &'n mut dyn Listener,
}

impl Agent<'_, '_> {
    /// Re-reads the rules file and applies it; a broken file or a refused
    /// rule is reported and the running rules stay.
    fn reload(&mut self, why: &str) {
        let path = self.opts.rules.display();
        let before = self
            .session
            .summary("")
            .map(|s| s.rules)
            .unwrap_or_default();
        let result = rules_file::load(&self.opts.rules, &mut self.facts, self.opts.allow_unsafe)
            .map_err(|e| e.to_string())
            .and_then(|loaded| {
                if let Some(w) = &loaded.warnings {
                    self.notice.notice(w.trim_end());
                }
                reconcile::apply(&mut self.session, &mut self.running, loaded.rules)
                    .map_err(|e| e.to_string())
            });
        let (ok, message) = match result {
            Ok(report) => {
                self.figures.reloads_ok += 1;
                let gone = before
                    .iter()
                    .filter(|r| !self.running.iter().any(|k| k.id == r.rule));
                self.figures.removed_lost = self.figures.removed_lost.plus(Lost::of(gone));
                (
                    true,
                    format!("ferret serve: reloaded {path} ({why}): {report}"),
                )
            }
            Err(e) => {
                self.figures.reloads_failed += 1;
                (
                    false,
                    format!("ferret serve: reload of {path} ({why}) refused: {e}"),
                )
            }
        };
        self.notice.notice(&message);
        self.last_reload = Some(LastReload {
            ok,
            message,
            unix_s: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        });
    }

    fn answer(&mut self, asked: Asked) -> Result<Reply, SessionError> {
        let summary = self.session.summary("")?;
        self.figures.probes_attached = self.session.probes_attached();
        self.figures.events_written = self.events.written;
        self.figures.event_files = self.events.files_opened();
        Ok(match asked {
            Asked::Health => health::reply(&HealthInput {
                node: &self.opts.node,
                probes_attached: self.figures.probes_attached,
                attached: self.session.attached_text(),
                summary: &summary,
                last_reload: self.last_reload.as_ref(),
                events_written: self.events.written,
                removed_lost: self.figures.removed_lost,
            }),
            Asked::Metrics => {
                let aggs = self.session.aggregates(false)?;
                let input = ScrapeInput {
                    aggs: &aggs,
                    summary: &summary,
                    names: self.session.names(),
                    rules: &self.running,
                    agent: &self.figures,
                };
                Reply {
                    status: 200,
                    content_type: CONTENT_TYPE,
                    body: family::encode(families(&input, &mut self.cap)),
                }
            }
        })
    }
}

impl Consumer for Agent<'_, '_> {
    type Error = SessionError;
    type Input = Query;
    type Events = EventLines;
    /// A rule that reached `stop after N` is paused; the agent goes on.
    const STOP_AFTER: StopAfter = StopAfter::StopsRule;

    fn parts(&mut self) -> (impl DerefMut<Target = Session> + '_, &mut EventLines) {
        (&mut self.session, &mut self.events)
    }

    fn ready(&mut self) -> Result<(), SessionError> {
        self.notice.ready();
        let metrics = self
            .endpoint_addr
            .map(|a| format!("; metrics on http://{a}/metrics"))
            .unwrap_or_default();
        let line = format!(
            "ferret serve: ready: {} rules from {} on {}{metrics}; SIGHUP or a change of the file reloads it",
            self.running.len(),
            self.opts.rules.display(),
            self.session.attached_text()
        );
        self.notice.notice(&line);
        Ok(())
    }

    async fn wait(&mut self, timeout: Duration) -> Option<Query> {
        let Some(rx) = self.queries.as_mut() else {
            self.session.wait(timeout).await;
            return None;
        };
        let got = tokio::select! {
            _ = self.session.wait(timeout) => None,
            q = rx.recv() => Some(q),
        };
        match got {
            // The endpoint's thread is gone: stop listening to it.
            Some(None) => {
                self.queries = None;
                None
            }
            Some(q) => q,
            None => None,
        }
    }

    fn next_wake(&self) -> Option<Instant> {
        Some(self.watch.next)
    }

    fn pumped(&mut self) -> Result<Option<EndReason>, SessionError> {
        self.events.flush();
        match self.events.write_error.take() {
            None => Ok(None),
            Some(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                Ok(Some(EndReason::OutputClosed))
            }
            Some(source) => Err(SessionError::Output { source }),
        }
    }

    fn warning(&mut self, warning: Warning) {
        self.notice
            .notice(&format!("ferret serve: warning: {warning}"));
    }

    fn input(&mut self, q: Query) -> Result<Option<EndReason>, SessionError> {
        let reply = self.answer(q.asked).unwrap_or_else(|e| Reply {
            status: 500,
            content_type: "text/plain; charset=utf-8",
            body: format!("ferret serve: {e}\n"),
        });
        // The requester may have given up waiting.
        let _ = q.reply.send(reply);
        Ok(None)
    }

    fn hangup(&mut self) -> Result<Option<EndReason>, SessionError> {
        self.reload("SIGHUP");
        Ok(None)
    }

    /// Paused rather than removed: its counts stay metrics.
    fn stop_rule(&mut self, id: usize, n: u64) -> Result<(), SessionError> {
        if !self.stopped.insert(id) {
            return Ok(());
        }
        self.session.set_paused(id, true)?;
        self.notice.notice(&format!(
            "ferret serve: rule {id} paused after {n} (stop after)"
        ));
        Ok(())
    }

    fn round_done(&mut self) -> Result<(), SessionError> {
        if self.watch.changed(Instant::now()) {
            self.reload("the file changed");
        }
        Ok(())
    }
}
