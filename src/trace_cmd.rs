//! `ferret 'RULES'` and `ferret run FILE`: compile, load, stream, summarise.

use crate::cli::OutputArgs;
use crate::exit::Exit;
use crate::paths_sink::PathSink;
use crate::privdrop::Needs;
use crate::record_sink::{self, RecordSink};
use crate::source::RuleSource;
use crate::stderr_listener::StderrListener;
use anyhow::Context;
use ferret_core::output::{JsonSink, Sink, TableSink};
use ferret_session::error::SessionError;
use ferret_session::oneshot;
use ferret_session::options::{FunctionOptions, SessionOptions};
use ferret_session::system::SystemFacts;
use std::io::BufWriter;

/// Loading eBPF programs needs root, or CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN.
pub fn require_root() -> Result<(), Exit> {
    crate::caps::require_for_tracing()
}

pub use crate::output_file::open_output;

pub fn run(source: &RuleSource, args: &OutputArgs) -> anyhow::Result<Exit> {
    if let Some(path) = &args.read {
        return crate::replay_cmd::run(path, Some(source), args);
    }
    let facts = SystemFacts::load_for(&source.text);
    let Some(mut plan) = source.compile_reporting(&facts) else {
        return Ok(Exit::RuleError);
    };
    let ring_bytes = ring_bytes(args.ring_mib)?;
    if let Err(exit) = require_root() {
        return Ok(exit);
    }
    let mut privileges = crate::privdrop::plan(args.user.as_deref(), Needs::Nothing)?;
    if plan.rules.iter().any(|r| r.explains()) {
        privileges.keep_root_for_explain(args.user.is_some())?;
    }
    let mut sink: Box<dyn Sink> = if let Some(path) = &args.write {
        let sink = RecordSink::create(path, &plan, &facts)?;
        record_sink::deliver_everything(&mut plan);
        Box::new(sink)
    } else if let Some(page) = &args.html {
        let out = BufWriter::with_capacity(64 * 1024, open_output(args)?);
        Box::new(PathSink::new(out, args.json).html(page, "ferret: packet paths")?)
    } else if args.by_skb {
        let out = BufWriter::with_capacity(64 * 1024, open_output(args)?);
        Box::new(PathSink::new(out, args.json))
    } else if args.json {
        let out = BufWriter::with_capacity(64 * 1024, open_output(args)?);
        Box::new(JsonSink::new(out))
    } else {
        let out = BufWriter::with_capacity(64 * 1024, open_output(args)?);
        Box::new(TableSink::new(out))
    };
    if std::env::var("FERRET_FAULT").as_deref() == Ok("panic-on-event") {
        sink = Box::new(PanicOnEvent);
    }
    if args.pcap.is_some() && !plan.rules.iter().any(|r| r.actions.capture.is_some()) {
        eprintln!("ferret: warning: --pcap is given but no rule has `capture`; the file will hold no packets");
    }
    let opts = SessionOptions {
        ring_bytes,
        duration: args.duration,
        verbose: args.verbose,
        interval: args.interval,
        command: args.cmd.clone(),
        // A JSON stream on stdout stays parseable.
        command_stdout_to_stderr: args.json && args.output.is_none(),
        pcap: args.pcap.clone(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the event loop")?;
    let bar = crate::progress::AttachBar::new();
    let func_opts = FunctionOptions {
        backend: args.backend.choice(),
        progress: Some(bar.callback()),
    };
    let mut listener = StderrListener::new(Some(&bar), &mut privileges);
    let result = runtime.block_on(oneshot::run_with(
        &plan,
        &facts,
        &opts,
        &func_opts,
        sink.as_mut(),
        &mut listener,
    ));
    bar.finish();
    finish(result, sink.as_mut(), args.verbose)
}

/// Prints the summary, or the error; picks the exit status.
pub fn finish(
    result: Result<ferret_core::summary::Summary, SessionError>,
    sink: &mut dyn Sink,
    verbose: bool,
) -> anyhow::Result<Exit> {
    match result {
        Ok(summary) => {
            let _ = sink.summary(&summary);
            Ok(Exit::after_trace(&summary))
        }
        Err(e) => Ok(report_error(&e, verbose)),
    }
}

/// Prints a session error (with the verifier log when asked); the status.
pub fn report_error(e: &SessionError, verbose: bool) -> Exit {
    eprintln!("ferret: error: {e}");
    if let Some(hint) = crate::caps::eperm_hint(e) {
        eprintln!("ferret: {hint}");
    }
    if let SessionError::Kernel(k) = e {
        if let Some(log) = k.verifier_log() {
            if verbose {
                eprintln!("{log}");
            } else {
                eprintln!("ferret: run with -v for the full verifier log");
            }
        }
    }
    Exit::System
}

pub fn ring_bytes(mib: u32) -> anyhow::Result<u32> {
    if !(1..=1024).contains(&mib) || !mib.is_power_of_two() {
        anyhow::bail!("--ring-mib must be a power of two from 1 to 1024, got {mib}");
    }
    Ok(mib * 1024 * 1024)
}

/// Fault injection for the exit tests (FERRET_FAULT=panic-on-event):
/// proves that a panic mid-session leaves no kernel object behind.
struct PanicOnEvent;

impl Sink for PanicOnEvent {
    fn event(
        &mut self,
        _: &ferret_core::event::Event,
        _: Option<&[String]>,
        _: &ferret_core::output::Names,
    ) -> std::io::Result<()> {
        panic!("FERRET_FAULT=panic-on-event: a deliberate panic in the event handler");
    }
    fn summary(&mut self, _: &ferret_core::summary::Summary) -> std::io::Result<()> {
        Ok(())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
