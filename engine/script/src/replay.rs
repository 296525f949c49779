//! `ferret run PLAYBOOK.rhai -r FILE`: a playbook over a recording. The
//! rules it adds run offline (ferret_core::recording::offline) over the
//! recorded events, in order, with the recording's drop reasons and
//! function names; hooks, `call` handlers, `on_end()`, the tables and the
//! report are those of a live run. `every()` timers run on the
//! recording's clock: a timer of period P fires before the first event
//! recorded P after the first event, then every P of recorded time
//! (each period once, in order); none fires after the last event.

use super::capture::{write_captures, PcapFile};
use super::event::ScriptEvent;
use super::facts::KernelInfo;
use super::host::{Host, HostOptions};
use super::run::{write_end, Outcome, RunError};
use super::{Playbook, ScriptError};
use ferret_core::event::Event;
use ferret_core::output::pcap::PcapWriter;
use ferret_core::output::JsonSink;
use ferret_core::output::Names;
use ferret_core::output::Sink;
use ferret_core::plan::{Plan, RulePlan};
use ferret_core::recording::offline::{self, Offline, OfflineError};
use ferret_core::recording::{Context, Item, ReadError, RecordingReader};
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
    context: Context,
    offline: Offline,
    next_id: usize,
}

impl RecordingTracer {
    pub fn new(context: &Context, names: &Names) -> RecordingTracer {
        let empty = Plan {
            rules: vec![],
            needs: 0,
        };
        RecordingTracer {
            context: context.clone(),
            offline: Offline::new(&empty, names),
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
        // A playbook's `explain` (why-dropped, port-blocked) has no live
        // firewall to ask here: its events carry no verdict, and the
        // playbook answers without one.
        let refused = offline::check(&one, &self.context)
            .into_iter()
            .find(|e| !matches!(e, offline::OfflineError::Explain { .. }));
        if let Some(e) = refused {
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
fn recorded_facts(context: &Context, names: &Names) -> SystemFacts {
    SystemFacts {
        reasons: Ok(context.drop_reasons()),
        funcs: names.funcs.clone(),
        kernel: Default::default(),
    }
}

/// Runs the playbook over the recording: top level and `on_start()`, each
/// recorded event through the rules it added, then `on_end()`, the
/// tables, the report and, with `--json`, the summary. `names` are all the
/// recording's names (`RecordingReader::into_names` of a first pass), for
/// checking the rules; the damage that ended reading early comes back
/// beside the outcome. `pcap` takes the packets of `capture` rules.
pub fn run<R: std::io::Read>(
    playbook: &Playbook,
    mut reader: RecordingReader<R>,
    names: &Names,
    opts: HostOptions,
    out: Box<dyn Write>,
    pcap: Option<&std::path::Path>,
) -> Result<(Outcome, Option<ReadError>), RunError> {
    let rules = [playbook.name.clone()];
    let mut pcap = pcap.map(|p| PcapWriter::create(p, &rules)).transpose()?;
    let mut skipped = 0;
    let context = reader.context().clone();
    let kernel = KernelInfo::new(context.kernel.clone(), None, context.reasons.len());
    let json = opts.json;
    let mut host = Host::new(
        playbook.clone(),
        RecordingTracer::new(&context, reader.names()),
        recorded_facts(&context, names),
        kernel,
        out,
        opts,
    );
    // Timers count on the recording's clock; its first event is at `start`.
    let start = std::time::Instant::now();
    let clock = RecordedClock::new(start);
    host.set_clock(start);
    let mut error = host.start().err();
    let mut stopped = false;
    let mut damage = None;
    if error.is_none() {
        let mut feed = Feed {
            clock,
            stopped: &mut stopped,
            damage: &mut damage,
            pcap: pcap.as_mut(),
            skipped: &mut skipped,
        };
        error = feed.run(&mut host, &mut reader)?.err();
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
    if let Some(w) = pcap.as_mut() {
        w.flush()?;
        summary.pcap = Some(ferret_core::summary::PcapSummary {
            skipped,
            ..w.summary()
        });
    }
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
    let outcome = Outcome {
        summary,
        error,
        exit: host.exit_code(),
        report,
    };
    Ok((outcome, damage))
}

/// The recording's time as an `Instant` timers can be compared with.
struct RecordedClock {
    start: std::time::Instant,
    /// The first event's time, and the latest seen (events from several
    /// CPUs may come a little out of order: the clock never goes back).
    first_ns: Option<u64>,
    latest_ns: u64,
}

impl RecordedClock {
    fn new(start: std::time::Instant) -> RecordedClock {
        RecordedClock {
            start,
            first_ns: None,
            latest_ns: 0,
        }
    }

    /// The instant of an event recorded at `ts_ns`.
    fn at(&mut self, ts_ns: u64) -> std::time::Instant {
        let first = *self.first_ns.get_or_insert(ts_ns);
        self.latest_ns = self.latest_ns.max(ts_ns.saturating_sub(first));
        self.start + std::time::Duration::from_nanos(self.latest_ns)
    }
}

/// Fires every timer period that ends by `now`, one period at a time, in
/// order, each with the clock at its end; then sets the clock to `now`.
fn run_timers_until(
    host: &mut Host<RecordingTracer>,
    now: std::time::Instant,
) -> Result<(), ScriptError> {
    while let Some(due) = host.next_timer().filter(|t| *t <= now) {
        if host.stop_requested() {
            break;
        }
        host.set_clock(due);
        host.run_timers(due)?;
    }
    host.set_clock(now);
    Ok(())
}

/// Hands the recorded events to the playbook's rules and hooks.
struct Feed<'a> {
    clock: RecordedClock,
    stopped: &'a mut bool,
    damage: &'a mut Option<ReadError>,
    pcap: Option<&'a mut PcapFile>,
    skipped: &'a mut u64,
}

impl Feed<'_> {
    /// The script error that ended the run, inside; a pcap write error
    /// outside.
    fn run<R: std::io::Read>(
        &mut self,
        host: &mut Host<RecordingTracer>,
        reader: &mut RecordingReader<R>,
    ) -> Result<Result<(), ScriptError>, RunError> {
        while !host.stop_requested() && !*self.stopped {
            let r = match reader.next_item() {
                None => break,
                Some(Err(e)) => {
                    *self.damage = Some(e);
                    break;
                }
                Some(Ok(Item::Event(r))) => r,
                Some(Ok(_)) => continue,
            };
            let now = self.clock.at(r.event.meta.ts_ns);
            if let Err(e) = run_timers_until(host, now) {
                return Ok(Err(e));
            }
            if host.stop_requested() {
                break;
            }
            let (deliver, with_stack, captures) = {
                let mut t = host.tracer();
                if reader.take_names_changed() {
                    t.offline.set_names(reader.names());
                }
                let deliver = t.offline.event(&r.event);
                let mine = |f: fn(&RulePlan) -> bool| -> Vec<usize> {
                    let rules = t.offline.rules();
                    rules
                        .filter(|(p, _)| deliver.contains(&p.number) && f(p))
                        .map(|(p, _)| p.number)
                        .collect()
                };
                let (with_stack, captures) = (
                    !mine(|p| p.actions.stack).is_empty(),
                    mine(RulePlan::captures),
                );
                *self.stopped = t.offline.stopped();
                (deliver, with_stack, captures)
            };
            if deliver.is_empty() {
                continue;
            }
            let ev = Event {
                rules: deliver,
                ..r.event.clone()
            };
            if let Some(w) = self.pcap.as_deref_mut() {
                write_captures(
                    w,
                    self.skipped,
                    std::iter::once(&ev),
                    &captures,
                    reader.names(),
                )?;
            }
            let stack = if with_stack { reader.stack(&r) } else { None };
            let context = reader.context();
            let netns = context
                .netns
                .iter()
                .find(|(_, ino)| *ino == ev.meta.netns)
                .map_or("", |(n, _)| n.as_str());
            if let Err(e) = host.deliver(&ScriptEvent::new(&ev, stack, reader.names(), netns)) {
                return Ok(Err(e));
            }
        }
        Ok(Ok(()))
    }
}
