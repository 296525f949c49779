//! A tracing session: the kernel, the live rule table and the event
//! stream together. `Session` is the API the CLI, the REPL and playbooks
//! drive; [`run`] is the one-shot trace loop built on it (ready line,
//! stream until duration / signal / `stop after`, summary).

use crate::command::RunningCommand;
use crate::router::Router;
use crate::rules::{LiveRule, RuleTable, RulesError};
use crate::system::SystemFacts;
use ferret_core::event::{self, Event};
use ferret_core::ir::TriggerIr;
use ferret_core::kallsyms::Kallsyms;
use ferret_core::output::pcap::PcapWriter;
use ferret_core::output::{Aggregates, Names, Sink};
use ferret_core::plan::{Plan, RulePlan};
use ferret_core::summary::{PcapSummary, RuleSummary, Summary, TrackUsage};
use ferret_kernel::{BackendChoice, EventStream, Kernel, KernelError, LoadOptions, Progress};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How often the reader looks at the ring even without a wakeup: the
/// kernel side wakes it only once enough data is pending.
pub const POLL: Duration = Duration::from_millis(50);

#[derive(Debug, Clone)]
pub struct SessionOptions {
    pub ring_bytes: u32,
    pub duration: Option<Duration>,
    pub verbose: bool,
    /// Print the `count`/`hist` tables this often, not only at the end.
    pub interval: Option<Duration>,
    /// `--cmd`: run this through `sh -c` once ready; its end ends the session.
    pub command: Option<String>,
    /// Send the command's standard output to ferret's standard error.
    pub command_stdout_to_stderr: bool,
    /// `--pcap`: where `capture` rules write their packets.
    pub pcap: Option<std::path::PathBuf>,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            ring_bytes: 8 << 20,
            duration: None,
            verbose: false,
            interval: None,
            command: None,
            command_stdout_to_stderr: false,
            pcap: None,
        }
    }
}

/// How function triggers attach: `--backend`, and the progress bar.
#[derive(Clone, Default)]
pub struct FunctionOptions {
    pub backend: BackendChoice,
    pub progress: Option<Progress>,
}

impl std::fmt::Debug for FunctionOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionOptions")
            .field("backend", &self.backend)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Kernel(#[from] KernelError),
    #[error("rule {rule}: `{action}` is not available yet: {why}")]
    Unsupported {
        rule: usize,
        action: &'static str,
        why: &'static str,
    },
    #[error("rule {rule}: `call {name}` runs a Rhai handler, which only a playbook has: define `fn {name}(ev)` in a playbook that adds this rule and run it with `ferret run PLAYBOOK.rhai`")]
    CallOutsidePlaybook { rule: usize, name: String },
    #[error("no traceable kernel function matches `{globs}`; `ferret funcs GLOB` lists them")]
    NoFunctions { globs: String },
    #[error("cannot list the kernel's functions for `func`/`any`: {why}")]
    FunctionDiscovery { why: String },
    #[error("the rule table is full ({max} rules); delete a rule first")]
    TooManyRules { max: usize },
    #[error("{got} rules given; at most {max} can be traced at once — merge rules with `or`, or split the session")]
    PlanTooBig { got: usize, max: usize },
    #[error("there is no rule {id}")]
    NoSuchRule { id: usize },
    #[error("at most {max} different `tp` tracepoints can be traced at once")]
    NoTracepointSlot { max: usize },
    #[error("cannot write output: {source}")]
    Output { source: std::io::Error },
    #[error("cannot install signal handlers: {source}")]
    Signals { source: std::io::Error },
    #[error(transparent)]
    Pcap(#[from] ferret_core::output::pcap::PcapError),
    #[error(transparent)]
    Command(#[from] crate::command::CommandError),
}

impl From<RulesError<KernelError>> for SessionError {
    fn from(e: RulesError<KernelError>) -> SessionError {
        match e {
            RulesError::Backend(k) => SessionError::Kernel(k),
            RulesError::Full { max } => SessionError::TooManyRules { max },
            RulesError::NoSuchRule { id } => SessionError::NoSuchRule { id },
            RulesError::NoTracepointSlot { max } => SessionError::NoTracepointSlot { max },
            RulesError::NoFunctions { globs } => SessionError::NoFunctions { globs },
        }
    }
}

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
                .map_err(|e| SessionError::FunctionDiscovery { why: e.to_string() })?;
            catalog.add_to(&mut self.ctx.funcs);
            self.ctx.funcs.insert(ferret_core::abi::hook::FUNC, "func");
            self.table.set_functions(catalog);
        }
        let id = self.table.add(&mut self.kernel, rule)?;
        // Events of `tp` slots carry the slot's hook as their function id.
        for (hook, _) in self.table.attached() {
            if let Some(tp) = self.table.tracepoint_of(*hook) {
                self.ctx.funcs.insert(*hook, tp);
            }
        }
        if self.ctx.kallsyms.is_empty() && self.kallsyms.is_none() {
            // Once, after the first attach, off the path to the ready line.
            self.kallsyms = Some(std::thread::spawn(|| Kallsyms::load().unwrap_or_default()));
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
        Ok(self.table.remove(&mut self.kernel, id)?)
    }

    pub fn set_paused(&mut self, id: usize, paused: bool) -> Result<(), SessionError> {
        Ok(self.table.set_paused(&mut self.kernel, id, paused)?)
    }

    pub fn rules(&self) -> impl Iterator<Item = &LiveRule> {
        self.table.rules().map(|(_, r)| r)
    }

    pub fn names(&self) -> &Names {
        &self.ctx
    }

    /// "drop (tp_btf), recv (tp_btf)": what is attached, for the ready line.
    pub fn attached_text(&self) -> String {
        let names: Vec<String> = self
            .table
            .attached()
            .iter()
            .map(|(h, k)| format!("{} ({})", self.table.hook_label(*h), k.name()))
            .collect();
        let mut names = names;
        let st = self.table.func_status();
        if let Some(backend) = st.backend {
            names.push(func_status_text(st, backend));
        }
        if names.is_empty() {
            "no hooks".into()
        } else {
            names.join(", ")
        }
    }

    /// Waits for events or `timeout`.
    pub async fn wait(&mut self, timeout: Duration) {
        self.events.wait(timeout).await;
    }

    /// Decodes what the ring holds and hands each event to `handler`, with
    /// rule ids in `Event::rules`. Returns `Flow::Stop` if the handler did.
    pub fn pump(&mut self, handler: &mut EventHandler<'_>) -> Flow {
        if let Some(loading) = self.kallsyms.take() {
            self.ctx.kallsyms = loading.join().unwrap_or_default();
        }
        let mut flow = Flow::Continue;
        let Session {
            kernel,
            table,
            events,
            ctx,
            stacks,
            delivered,
            decode_errors,
            ..
        } = self;
        events.drain(|record| {
            if flow == Flow::Stop {
                return;
            }
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
                    eprintln!("ferret: warning: skipped a ring buffer record: {e}");
                }
            }
        });
        flow
    }

    pub fn delivered(&self, id: usize) -> u64 {
        self.delivered.get(&id).copied().unwrap_or(0)
    }

    /// The account of every rule now in the table.
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
        })
    }

    /// The track map's fill, when some rule tracks.
    fn track_usage(&self) -> Result<Option<TrackUsage>, SessionError> {
        let tracks = self
            .table
            .rules()
            .any(|(_, r)| r.plan.action_flags & ferret_core::abi::act::TRACK != 0);
        if !tracks {
            return Ok(None);
        }
        let (tracked, capacity) = self.kernel.track_usage()?;
        Ok(Some(TrackUsage { tracked, capacity }))
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
fn func_status_text(st: &crate::rules::FuncStatus, backend: &str) -> String {
    let mut text = format!(
        "{} functions ({backend}, attached in {:.2} s",
        st.attached,
        st.attach_time.as_secs_f64()
    );
    if !st.skipped.is_empty() {
        let mut why: Vec<String> = st
            .skipped
            .iter()
            .take(3)
            .map(|(f, w)| format!("{f}: {w}"))
            .collect();
        if st.skipped.len() > 3 {
            why.push(format!("and {} more", st.skipped.len() - 3));
        }
        text.push_str(&format!(
            "; {} skipped: {}",
            st.skipped.len(),
            why.join(", ")
        ));
    }
    if let Some(why) = &st.clone_tracking {
        text.push_str(&format!("; clones do not inherit `track`: {why}"));
    }
    text.push(')');
    text
}

/// The one-shot trace: load every rule of `plan`, call `ready` once all
/// probes are attached, stream to `sink` (and `capture` packets to the
/// `--pcap` file) until the duration, a signal, `stop after`, the end of
/// the `--cmd` command or a closed output ends it; `count`/`hist` tables
/// go to `sink` every `--interval` and at the end.
pub async fn run(
    plan: &Plan,
    facts: &SystemFacts,
    opts: &SessionOptions,
    sink: &mut dyn Sink,
    ready: &mut dyn FnMut(&str),
) -> Result<Summary, SessionError> {
    run_with(plan, facts, opts, &FunctionOptions::default(), sink, ready).await
}

/// [`run`] with options for function triggers; `ready` also hears how
/// long detaching the function probes took, at the end.
pub async fn run_with(
    plan: &Plan,
    facts: &SystemFacts,
    opts: &SessionOptions,
    func_opts: &FunctionOptions,
    sink: &mut dyn Sink,
    ready: &mut dyn FnMut(&str),
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
    let plural = if plan.rules.len() == 1 { "" } else { "s" };
    ready(&format!(
        "ferret: ready: {} rule{plural} on {}; Ctrl-C to stop",
        plan.rules.len(),
        session.attached_text()
    ));
    let mut command = match &opts.command {
        Some(c) => Some(RunningCommand::spawn(c, opts.command_stdout_to_stderr)?),
        None => None,
    };
    let mut router = Router::new(sink, pcap, session.rules());
    // Rules that send no event count their matches in the kernel only.
    let quiet_stops: HashMap<usize, u64> = session
        .rules()
        .filter(|r| r.plan.action_flags & ferret_core::abi::act::DELIVER == 0)
        .filter_map(|r| r.plan.actions.stop_after.map(|n| (r.id, n)))
        .collect();
    let has_aggregates = session
        .rules()
        .any(|r| r.plan.actions.count_by.is_some() || r.plan.actions.hist.is_some());
    let deadline = opts.duration.map(|d| Instant::now() + d);
    let mut next_tick = opts.interval.map(|i| Instant::now() + i);
    let mut signals = Signals::install().map_err(|source| SessionError::Signals { source })?;
    let mut ended_by: Option<&str> = None;
    let mut command_status = None;
    while ended_by.is_none() {
        let wait = [deadline, next_tick]
            .into_iter()
            .flatten()
            .map(|t| t.saturating_duration_since(Instant::now()))
            .fold(POLL, Duration::min);
        tokio::select! {
            _ = session.wait(wait) => {}
            _ = signals.next() => ended_by = Some("signal"),
        }
        if session.pump(&mut |ev, stack, ctx| router.event(ev, stack, ctx)) == Flow::Stop {
            ended_by = Some("stop-after");
        }
        router.flush();
        if let Some(e) = router.pcap_error.take() {
            return Err(e.into());
        }
        if let Some(e) = router.write_error.take() {
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                return Err(SessionError::Output { source: e });
            }
            ended_by = Some("output closed");
        }
        if let Some(c) = command.as_mut() {
            if let Some(status) = c.try_status()? {
                command_status = Some(status);
                command = None;
                ended_by = ended_by.or(Some("command"));
            }
        }
        if !quiet_stops.is_empty() && ended_by.is_none() {
            let matched = session.matched()?;
            if quiet_stops
                .iter()
                .any(|(id, n)| matched.get(id).is_some_and(|m| m >= n))
            {
                ended_by = Some("stop-after");
            }
        }
        if let (Some(tick), Some(every)) = (next_tick, opts.interval) {
            if ended_by.is_none() && Instant::now() >= tick && has_aggregates {
                let aggs = session.aggregates(false)?;
                let ctx = session.names().clone();
                if let Err(e) = router.sink().aggregates(&aggs, &ctx) {
                    if e.kind() != std::io::ErrorKind::BrokenPipe {
                        return Err(SessionError::Output { source: e });
                    }
                    ended_by = Some("output closed");
                }
            }
            let now = Instant::now();
            if now >= tick {
                // Ticks missed while busy are skipped, not replayed.
                let behind = (now - tick).as_nanos() / every.as_nanos().max(1);
                next_tick = Some(tick + every * (behind as u32 + 1));
            }
        }
        if ended_by.is_none() && deadline.is_some_and(|d| Instant::now() >= d) {
            ended_by = Some("duration");
        }
    }
    if ended_by == Some("command") {
        // What the command caused may still be in flight (softirqs, the
        // ring): let the kernel settle, then take the rest.
        settle(&mut session).await?;
        session.pump(&mut |ev, stack, ctx| router.event(ev, stack, ctx));
        router.flush();
    }
    if let Some(c) = command.take() {
        command_status = Some(c.stop()?);
    }
    if has_aggregates && ended_by != Some("output closed") {
        let aggs = session.aggregates(true)?;
        let ctx = session.names().clone();
        if let Err(e) = router.sink().aggregates(&aggs, &ctx) {
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                return Err(SessionError::Output { source: e });
            }
        }
    }
    if let Some(e) = router.pcap_error.take() {
        return Err(e.into());
    }
    let mut summary = session.summary(ended_by.unwrap_or_default())?;
    if session.func_status().attached > 0 {
        session.detach_functions()?;
        let st = session.func_status();
        ready(&format!(
            "ferret: detached {} function probes in {:.2} s",
            st.attached,
            st.detach_time.as_secs_f64()
        ));
    }
    summary.command_status = command_status;
    summary.pcap = router.pcap.as_ref().map(|p| PcapSummary {
        skipped: router.capture_skipped,
        ..p.summary()
    });
    Ok(summary)
}

/// Waits until the rules' match counters stop moving (checked every
/// [`POLL`]), at most [`SETTLE_MAX`].
pub async fn settle(session: &mut Session) -> Result<(), SessionError> {
    let until = Instant::now() + SETTLE_MAX;
    let mut before = session.matched()?;
    while Instant::now() < until {
        session.wait(POLL).await;
        let now = session.matched()?;
        if now == before {
            break;
        }
        before = now;
    }
    Ok(())
}

/// Upper bound of [`settle`].
pub const SETTLE_MAX: Duration = Duration::from_millis(500);

/// Wake the reader once 1/16 of the ring is pending (4 KiB to 256 KiB):
/// a wakeup per event costs microseconds, the 50 ms poll bounds latency.
pub fn wakeup_bytes(ring_bytes: u32) -> u32 {
    (ring_bytes / 16).clamp(4096, 256 * 1024)
}

fn resolve_stack(kernel: &Kernel, id: i32, syms: &Kallsyms) -> Vec<String> {
    match kernel.stack(id) {
        Ok(ips) => trim_tracer_frames(ips.iter().map(|ip| syms.describe(*ip)).collect()),
        Err(e) => vec![format!("<stack unavailable: {e}>")],
    }
}

/// Drops the innermost frames that belong to the tracer itself (the BPF
/// program and the tracepoint dispatch), so a stack starts in the kernel
/// code the user asked about.
pub fn trim_tracer_frames(frames: Vec<String>) -> Vec<String> {
    // kprobe and kprobe.multi dispatch: ftrace's trampoline (no symbol, so
    // a bare address), fprobe or the kprobe handlers, trace_call_bpf.
    const OURS: &[&str] = &[
        "bpf_prog_",
        "__traceiter_",
        "bpf_trace_run",
        "__bpf_trace_",
        "trace_call_bpf",
        "kprobe_",
        "fprobe_",
        "__fprobe_",
        "ftrace_",
        "arch_ftrace_",
        "0x",
    ];
    let ours = |f: &str| OURS.iter().any(|p| f.starts_with(p));
    let skip = frames.iter().take_while(|f| ours(f)).count();
    frames.into_iter().skip(skip).collect()
}

/// SIGINT, SIGTERM and SIGHUP all end the session cleanly.
#[derive(Debug)]
pub struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    pub fn install() -> std::io::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    pub async fn next(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
            _ = self.hup.recv() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracer_frames_are_trimmed_only_at_the_top() {
        let frames = [
            "bpf_prog_abc_ferret_drop+0x3a4",
            "bpf_trace_run4+0x10d",
            "__traceiter_kfree_skb+0x41",
            "sk_skb_reason_drop+0x90",
            "bpf_prog_x+0x1",
        ];
        let out = trim_tracer_frames(frames.iter().map(|s| s.to_string()).collect());
        assert_eq!(out, ["sk_skb_reason_drop+0x90", "bpf_prog_x+0x1"]);
    }

    #[test]
    fn call_is_refused_outside_playbooks_and_allowed_in_them() {
        let facts = SystemFacts {
            reasons: Err("not needed".into()),
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
