//! `ferret run PLAYBOOK.rhai -r FILE`: a playbook over a recording. The
//! rules it adds run offline (ferret_core::recording::offline) over the
//! recorded events, in order, with the recording's drop reasons and
//! function names; hooks, `call` handlers, `on_end()`, the tables and the
//! report are those of a live run. `every()` timers do not fire: a
//! recording has no wall clock to run them on.

use super::event::ScriptEvent;
use super::facts::KernelInfo;
use super::host::{Host, HostOptions};
use super::run::{write_end, Outcome};
use super::{Playbook, ScriptError};
use ferret_core::event::Event;
use ferret_core::output::JsonSink;
use ferret_core::output::Sink;
use ferret_core::plan::{Plan, RulePlan};
use ferret_core::recording::offline::{self, Offline, OfflineError};
use ferret_core::recording::Recording;
use ferret_core::summary::RuleSummary;
use ferret_session::control::{RuleControl, RuleView};
use ferret_session::system::SystemFacts;
use std::io::Write;

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Offline(#[from] OfflineError),
    #[error("no rule {id}")]
    NoRule { id: usize },
}

/// Rule control over a recording: what `rule()`, `remove_rule()`,
/// `rules()` and `stats()` act on when a playbook reads a recording.
#[derive(Debug)]
pub struct RecordingTracer {
    context: ferret_core::recording::Context,
    offline: Offline,
    next_id: usize,
}

impl RecordingTracer {
    pub fn new(rec: &Recording) -> RecordingTracer {
        let empty = Plan {
            rules: vec![],
            needs: 0,
        };
        RecordingTracer {
            context: rec.context.clone(),
            offline: Offline::new(&empty, &rec.names),
            next_id: 1,
        }
    }
}

impl RuleControl for RecordingTracer {
    type Error = ReplayError;

    fn add_rule(&mut self, mut rule: RulePlan) -> Result<usize, ReplayError> {
        let one = Plan {
            needs: rule.needs,
            rules: vec![rule.clone()],
        };
        if let Some(e) = offline::check(&one, &self.context).into_iter().next() {
            return Err(e.into());
        }
        rule.number = self.next_id;
        self.next_id += 1;
        self.offline.add(rule);
        Ok(self.next_id - 1)
    }

    fn remove_rule(&mut self, id: usize) -> Result<(), ReplayError> {
        self.offline
            .remove(id)
            .then_some(())
            .ok_or(ReplayError::NoRule { id })
    }

    fn set_paused(&mut self, id: usize, paused: bool) -> Result<(), ReplayError> {
        self.offline
            .set_paused(id, paused)
            .then_some(())
            .ok_or(ReplayError::NoRule { id })
    }

    fn rule_list(&self) -> Vec<RuleView> {
        self.offline
            .rules()
            .map(|(r, paused)| RuleView {
                id: r.number,
                text: r.text.clone(),
                paused,
            })
            .collect()
    }

    fn stats(&self) -> Result<Vec<RuleSummary>, ReplayError> {
        Ok(self.offline.summary().rules)
    }

    fn attached_text(&self) -> String {
        "a recording".into()
    }

    fn tables_text(&self, only: Option<usize>) -> Result<String, ReplayError> {
        let mut aggs = self.offline.aggregates();
        if let Some(id) = only {
            aggs.counts.retain(|t| t.rule == id);
            aggs.hists.retain(|h| h.rule == id);
        }
        Ok(aggs.render_text(self.offline.names()))
    }

    fn tables_json(&self) -> Result<Vec<serde_json::Value>, ReplayError> {
        Ok(self.offline.aggregates().to_json(self.offline.names()))
    }
}

/// The system facts a playbook's rules are checked with: the recording's
/// drop reasons and functions, not this machine's.
fn recorded_facts(rec: &Recording) -> SystemFacts {
    SystemFacts {
        reasons: Ok(rec.context.drop_reasons()),
        funcs: rec.names.funcs.clone(),
        kernel: Default::default(),
    }
}

/// Runs the playbook over the recording: top level and `on_start()`, each
/// recorded event through the rules it added, then `on_end()`, the
/// tables, the report and, with `--json`, the summary.
pub fn run(
    playbook: &Playbook,
    rec: &Recording,
    opts: HostOptions,
    out: Box<dyn Write>,
) -> Outcome {
    let kernel = KernelInfo::new(rec.context.kernel.clone(), None, rec.context.reasons.len());
    let json = opts.json;
    let mut host = Host::new(
        playbook.clone(),
        RecordingTracer::new(rec),
        recorded_facts(rec),
        kernel,
        out,
        opts,
    );
    let mut error = host.start().err();
    let mut stopped = false;
    if error.is_none() {
        error = feed(&mut host, rec, &mut stopped).err();
    }
    // How the events ended, before on_end() (which may call stop()).
    let ended_by = if host.stop_requested() {
        "stop"
    } else if stopped {
        "stop-after"
    } else {
        "end-of-recording"
    };
    if error.is_none() {
        error = host.end().err();
    }
    let mut summary = host.tracer().offline.summary();
    summary.ended_by = ended_by.into();
    let aggs = host.tracer().offline.aggregates();
    let names = host.tracer().offline.names().clone();
    if !aggs.is_empty() {
        host.with_output(|out| {
            if json {
                let _ = JsonSink::new(out).aggregates(&aggs, &names);
            } else {
                let _ = out.write_all(aggs.render_text(&names).as_bytes());
            }
        });
    }
    let report = host.report();
    write_end(&host, &playbook.name, report.as_ref(), &summary, json);
    if let Err(e) = host.flush() {
        error = error.or(Some(e));
    }
    Outcome {
        summary,
        error,
        exit: host.exit_code(),
        report,
    }
}

fn feed(
    host: &mut Host<RecordingTracer>,
    rec: &Recording,
    stopped: &mut bool,
) -> Result<(), ScriptError> {
    for r in &rec.events {
        if host.stop_requested() {
            break;
        }
        let (deliver, with_stack) = {
            let mut t = host.tracer();
            let deliver = t.offline.event(&r.event);
            let with_stack = t
                .offline
                .rules()
                .any(|(p, _)| deliver.contains(&p.number) && p.actions.stack);
            *stopped = t.offline.stopped();
            (deliver, with_stack)
        };
        if !deliver.is_empty() {
            let ev = Event {
                rules: deliver,
                ..r.event.clone()
            };
            let stack = if with_stack { rec.stack(r) } else { None };
            let netns = rec
                .context
                .netns
                .iter()
                .find(|(_, ino)| *ino == ev.meta.netns)
                .map_or("", |(n, _)| n.as_str());
            host.deliver(&ScriptEvent::new(&ev, stack, &rec.names, netns))?;
        }
        if *stopped {
            break;
        }
    }
    Ok(())
}
