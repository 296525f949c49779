//! A tracing session: the kernel, the live rule table and the event
//! stream together. `Session` is the API the CLI, the REPL and playbooks
//! drive; [`crate::driver`] runs the trace loop over it and
//! [`crate::oneshot`] is the one-shot trace of the CLI.

use crate::error::SessionError;
use crate::options::{FunctionOptions, SessionOptions};
use crate::rules::{LiveRule, RuleTable};
use crate::stacks::resolve_stack;
use crate::system::SystemFacts;
use ferret_core::event::{self, DecodeError, Event};
use ferret_core::ir::TriggerIr;
use ferret_core::kallsyms::Kallsyms;
use ferret_core::output::{Aggregates, Names};
use ferret_core::plan::RulePlan;
use ferret_core::summary::{RuleSummary, Summary, TrackUsage};
use ferret_kernel::{EventStream, Kernel, LoadOptions};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How often the reader looks at the ring even without a wakeup: the
/// kernel side wakes it only once enough data is pending.
pub const POLL: Duration = Duration::from_millis(50);

/// Refuses what this build cannot trace yet, before touching the kernel.
pub fn preflight(rule: &RulePlan) -> Result<(), SessionError> {
    preflight_calls(rule, false)
}

/// As [`preflight`]; `calls` allows `call NAME`, for a playbook whose host
/// has checked that the handler exists.
pub fn preflight_calls(rule: &RulePlan, calls: bool) -> Result<(), SessionError> {
    let a = &rule.actions;
    if let (Some(name), false) = (&a.call, calls) {
        return Err(SessionError::CallOutsidePlaybook {
            rule: rule.number,
            name: name.clone(),
        });
    }
    Ok(())
}

/// Receives each event with its resolved stack and the naming context.
pub type EventHandler<'a> = dyn FnMut(&Event, Option<&[String]>, &Names) -> Flow + 'a;

/// What one [`Session::pump`] did.
#[derive(Debug)]
#[must_use = "the warnings are for the user"]
pub struct Pumped {
    pub flow: Flow,
    pub warnings: Vec<Warning>,
}

/// Something the user should hear about that did not end the session.
#[derive(Debug, thiserror::Error)]
pub enum Warning {
    #[error("skipped a ring buffer record: {source}")]
    SkippedRecord { source: DecodeError },
}

/// What a handler tells the pump after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// Stop delivering; the rest of this batch is not shown.
    Stop,
}

pub struct Session {
    kernel: Kernel,
    /// The BTF the kernel was loaded with and the function catalog.
    kernel_info: crate::system::KernelInfo,
    table: RuleTable,
    events: EventStream,
    ctx: Names,
    stacks: HashMap<i32, Vec<String>>,
    /// Events delivered per rule id.
    delivered: HashMap<usize, u64>,
    decode_errors: u64,
    started: Instant,
    /// `call` rules are accepted (a playbook checked their handlers).
    calls: bool,
    /// kallsyms being read on a thread: ~100k lines, not worth delaying
    /// the ready line for; the first pump takes the result.
    kallsyms: Option<std::thread::JoinHandle<Kallsyms>>,
    /// While some rule has `explain`: the nftables traces it set up.
    explainer: Option<crate::explain::Explainer>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("rules", &self.table.ids())
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Loads the kernel side with no rules. Must run inside a tokio runtime.
    pub fn open(facts: &SystemFacts, opts: &SessionOptions) -> Result<Session, SessionError> {
        let load = LoadOptions {
            ring_bytes: opts.ring_bytes,
            verbose_verifier: opts.verbose,
        };
        let mut kernel = Kernel::load_with_btf(&load, facts.kernel.btf().clone())?;
        let events = kernel.take_events()?;
        let ctx = Names {
            kallsyms: Kallsyms::default(),
            reasons: facts.reasons.as_ref().ok().cloned(),
            funcs: facts.funcs.clone(),
        };
        Ok(Session {
            kernel,
            kernel_info: facts.kernel.clone(),
            table: RuleTable::new(wakeup_bytes(opts.ring_bytes)),
            events,
            ctx,
            stacks: HashMap::new(),
            delivered: HashMap::new(),
            decode_errors: 0,
            started: Instant::now(),
            calls: false,
            kallsyms: None,
            explainer: None,
        })
    }

    /// Adds a rule (attaching its hooks if needed); returns its id.
    pub fn add_rule(&mut self, rule: RulePlan) -> Result<usize, SessionError> {
        preflight_calls(&rule, self.calls)?;
        let has_func = rule
            .triggers
            .iter()
            .any(|t| matches!(t, TriggerIr::Func { .. }));
        if has_func && !self.table.has_functions() {
            let catalog = self
                .kernel_info
                .catalog()
                .map_err(|source| SessionError::FunctionDiscovery { source })?;
            catalog.add_to(&mut self.ctx.funcs);
            self.ctx.funcs.insert(ferret_core::abi::hook::FUNC, "func");
            self.table.set_functions(catalog);
        }
        let explains = rule.explains();
        crate::explain::needs_root(&rule)?;
        let id = self.table.add(&mut self.kernel, rule)?;
        if explains && self.explainer.is_none() {
            self.explainer = Some(crate::explain::Explainer::new(self.ctx.reasons.as_ref()));
        }
        self.name_programs();
        // Events of `tp` slots carry the slot's hook as their function id.
        for (hook, _) in self.table.attached() {
            if let Some(tp) = self.table.tracepoint_of(*hook) {
                self.ctx.funcs.insert(*hook, tp);
            }
        }
        if self.ctx.kallsyms.is_empty() && self.kallsyms.is_none() {
            // Once, after the first attach, off the path to the ready line.
            // Opened here, before the ready line (and any drop of root).
            let file = Kallsyms::open();
            self.kallsyms = Some(std::thread::spawn(|| {
                file.and_then(Kallsyms::read_from).unwrap_or_default()
            }));
        }
        Ok(id)
    }

    /// Accepts `call` rules from now on: the playbook host checks that each
    /// rule's handler exists before it adds the rule.
    pub fn allow_calls(&mut self) {
        self.calls = true;
    }

    /// `--backend` and the progress bar, before the first function rule.
    pub fn set_function_options(&mut self, opts: &FunctionOptions) {
        self.kernel
            .set_function_options(opts.backend, opts.progress.clone());
    }

    /// What the function probes did (attached, skipped, backend, times).
    pub fn func_status(&self) -> &crate::rules::FuncStatus {
        self.table.func_status()
    }

    /// Detaches every function probe now (timed, in the status).
    pub fn detach_functions(&mut self) -> Result<(), SessionError> {
        Ok(self.table.detach_all_functions(&mut self.kernel)?)
    }

    pub fn remove_rule(&mut self, id: usize) -> Result<(), SessionError> {
        self.table.remove(&mut self.kernel, id)?;
        if !self.rules().any(|r| r.plan.explains()) {
            // Its tables go with it: nothing stays changed without `explain`.
            self.explainer = None;
        }
        Ok(())
    }

    /// Drop → explained event, for the summary (`None` without `explain`).
    pub fn explain_latency(&self) -> Option<crate::explain::Latency> {
        self.explainer.as_ref().map(|x| x.latency())
    }

    pub fn set_paused(&mut self, id: usize, paused: bool) -> Result<(), SessionError> {
        self.table.set_paused(&mut self.kernel, id, paused)?;
        self.name_programs();
        Ok(())
    }

    /// Events of tc/XDP programs carry the program's id: its name, and the
    /// kind as the hook's.
    fn name_programs(&mut self) {
        for (id, p) in self.table.traced_programs() {
            self.ctx.funcs.insert(*id, &p.name);
            self.ctx.funcs.insert(p.kind.hook(), p.kind.name());
        }
    }

    pub fn rules(&self) -> impl Iterator<Item = &LiveRule> {
        self.table.rules().map(|(_, r)| r)
    }

    pub fn names(&self) -> &Names {
        &self.ctx
    }

    /// "drop (tp_btf), recv (tp_btf)": what is attached, for the ready line.
    pub fn attached_text(&self) -> String {
        self.table.attached_text()
    }

    /// Whether some probe is attached (a hook or a function).
    pub fn probes_attached(&self) -> bool {
        !self.table.attached().is_empty()
            || self.table.func_status().attached > 0
            || !self.table.traced_programs().is_empty()
    }

    /// Waits for events or `timeout`.
    pub async fn wait(&mut self, timeout: Duration) {
        self.events.wait(timeout).await;
    }

    /// Decodes what the ring holds and hands each event to `handler`, with
    /// rule ids in `Event::rules`. The flow is `Flow::Stop` if the handler
    /// stopped; records that could not be decoded come back as warnings for
    /// the front end to show (they are counted in the summary too).
    pub fn pump(&mut self, handler: &mut EventHandler<'_>) -> Pumped {
        // Symbols are needed only to name what events carry (stacks, drop
        // locations): a round without events must not wait for them, or
        // `--interval` ticks are skipped while they load.
        if self.kallsyms.as_ref().is_some_and(|h| h.is_finished()) {
            join_symbols(&mut self.kallsyms, &mut self.ctx);
        }
        let mut flow = Flow::Continue;
        let mut warnings = Vec::new();
        let Session {
            kernel,
            table,
            events,
            ctx,
            stacks,
            delivered,
            decode_errors,
            kallsyms,
            explainer,
            ..
        } = self;
        let explaining: Vec<usize> = table
            .rules()
            .filter(|(_, r)| r.plan.explains())
            .map(|(_, r)| r.id)
            .collect();
        events.drain(|record| {
            if flow == Flow::Stop {
                return;
            }
            join_symbols(kallsyms, ctx);
            match event::decode(record) {
                Ok(mut ev) => {
                    // Slots → the ids users see.
                    ev.rules = ev
                        .rules
                        .iter()
                        .filter_map(|slot| table.by_slot(slot - 1).map(|r| r.id))
                        .collect();
                    for id in &ev.rules {
                        *delivered.entry(*id).or_default() += 1;
                    }
                    if let Some(x) = explainer.as_mut() {
                        if ev.rules.iter().any(|id| explaining.contains(id)) {
                            ev.verdict = Some(Box::new(x.explain(&ev)));
                        }
                    }
                    let stack = ev.stack_id.map(|id| {
                        stacks
                            .entry(id)
                            .or_insert_with(|| resolve_stack(kernel, id, &ctx.kallsyms))
                            .as_slice()
                    });
                    flow = handler(&ev, stack, ctx);
                }
                Err(e) => {
                    *decode_errors += 1;
                    warnings.push(Warning::SkippedRecord { source: e });
                }
            }
        });
        Pumped { flow, warnings }
    }

    pub fn delivered(&self, id: usize) -> u64 {
        self.delivered.get(&id).copied().unwrap_or(0)
    }

    /// The account of every rule now in the table; `ended_by` is an
    /// [`EndReason`](crate::driver::EndReason)'s text ("" while running).
    pub fn summary(&self, ended_by: &str) -> Result<Summary, SessionError> {
        let counters = self.kernel.counters()?;
        let rules = self
            .table
            .rules()
            .map(|(slot, r)| {
                let c = counters.get(slot).copied().unwrap_or_default();
                RuleSummary {
                    rule: r.id,
                    text: r.plan.text.clone(),
                    seen: c.seen,
                    matched: c.matched,
                    emitted: c.emitted,
                    lost_ring_full: c.ring_full,
                    rate_limited: c.rate_limited,
                    delivered: self.delivered(r.id),
                    agg_failed: c.agg_failed,
                }
            })
            .collect();
        Ok(Summary {
            rules,
            decode_errors: self.decode_errors,
            duration_ms: self.started.elapsed().as_millis() as u64,
            ended_by: ended_by.to_string(),
            command_status: None,
            pcap: None,
            track: self.track_usage()?,
            explain: self.explain_latency().map(|l| l.summary()),
        })
    }

    /// The track map's fill, when some rule tracks.
    fn track_usage(&self) -> Result<Option<TrackUsage>, SessionError> {
        let tracks = self.table.rules().any(|(_, r)| r.plan.tracks());
        if !tracks {
            return Ok(None);
        }
        let (tracked, capacity) = self.kernel.track_usage()?;
        Ok(Some(TrackUsage { tracked, capacity }))
    }

    /// Whether some rule keeps `count` or `hist` tables.
    pub fn aggregating(&self) -> bool {
        self.rules().any(|r| r.plan.aggregates())
    }

    /// What the `count` and `hist` rules hold now (totals since each rule
    /// was added); `last` marks the session's final tables.
    pub fn aggregates(&self, last: bool) -> Result<Aggregates, SessionError> {
        crate::agg_read::read(&self.kernel, &self.table, self.started, last)
    }

    /// Matches per rule id, from the kernel's counters.
    pub fn matched(&self) -> Result<HashMap<usize, u64>, SessionError> {
        let counters = self.kernel.counters()?;
        Ok(self
            .table
            .rules()
            .map(|(slot, r)| (r.id, counters.get(slot).map_or(0, |c| c.matched)))
            .collect())
    }
}

/// "1534 functions (kprobe.multi, attached in 0.84 s; 3 skipped: ...)".
/// Wake the reader once 1/16 of the ring is pending (4 KiB to 256 KiB):
/// a wakeup per event costs microseconds, the 50 ms poll bounds latency.
pub fn wakeup_bytes(ring_bytes: u32) -> u32 {
    (ring_bytes / 16).clamp(4096, 256 * 1024)
}

/// Takes the symbols the loader thread read, once it is done (waiting for
/// it if it is not).
fn join_symbols(loading: &mut Option<std::thread::JoinHandle<Kallsyms>>, ctx: &mut Names) {
    if let Some(handle) = loading.take() {
        ctx.kallsyms = handle.join().unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_is_refused_outside_playbooks_and_allowed_in_them() {
        let facts = SystemFacts {
            reasons: Err(std::sync::Arc::new(
                ferret_kernel::drop_reasons::ReasonsError::NoEnum {
                    path: "not needed".into(),
                },
            )),
            funcs: ferret_core::hooks::HookNames::tracepoints(),
            kernel: Default::default(),
        };
        let (plan, diags) = ferret_core::compile("on drop call alert", &facts.env());
        let rule = &plan.unwrap_or_else(|| panic!("{diags:?}")).rules[0];
        let e = preflight(rule).unwrap_err();
        assert!(
            matches!(&e, SessionError::CallOutsidePlaybook { name, .. } if name == "alert"),
            "{e:?}"
        );
        assert!(e.to_string().contains("ferret run PLAYBOOK.rhai"), "{e}");
        assert!(preflight_calls(rule, true).is_ok());
    }

    #[test]
    fn wakeup_threshold_is_bounded() {
        assert_eq!(wakeup_bytes(8 << 20), 256 * 1024);
        assert_eq!(wakeup_bytes(4096), 4096);
        assert_eq!(wakeup_bytes(1 << 20), 64 * 1024);
    }
}
