//! `ferret -r FILE [RULES]`: a recording printed as the session printed
//! it, or filtered, counted and captured again offline with the same
//! language and the kernel's semantics (ferret_core::recording::offline).

use crate::cli::OutputArgs;
use crate::exit::Exit;
use crate::paths_sink::PathSink;
use crate::source::RuleSource;
use crate::trace_cmd::open_output;
use anyhow::Context as _;
use ferret_core::check::CheckEnv;
use ferret_core::event::Event;
use ferret_core::output::pcap::PcapWriter;
use ferret_core::output::{JsonSink, Sink, TableSink};
use ferret_core::plan::Plan;
use ferret_core::recording::offline::{self, Offline};
use ferret_core::recording::{self, Context, RecordedNetns, Recording, RecordingWriter};
use std::io::BufWriter;
use std::path::Path;

pub fn run(path: &Path, rules: Option<&RuleSource>, args: &OutputArgs) -> anyhow::Result<Exit> {
    let (rec, damage) = match recording::read_file(path) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ferret: error: {}: {e}", path.display());
            return Ok(Exit::System);
        }
    };
    let c = &rec.context;
    eprintln!(
        "ferret: {}: recorded by {} on {} (Linux {}), format {}, {} events; rules: {}",
        path.display(),
        c.ferret,
        c.hostname,
        c.kernel,
        c.format,
        rec.events.len(),
        c.rules_text().replace('\n', "; ")
    );
    if let Some(d) = &damage {
        eprintln!(
            "ferret: warning: {}: {d}; what comes before it follows",
            path.display()
        );
    }
    let mut sink: Box<dyn Sink> = {
        let out = BufWriter::with_capacity(64 * 1024, open_output(args)?);
        if let Some(page) = &args.html {
            let title = format!("ferret: {}", path.display());
            Box::new(PathSink::new(out, args.json).html(page, &title)?)
        } else if args.by_skb {
            Box::new(PathSink::new(out, args.json))
        } else if args.json {
            Box::new(JsonSink::new(out))
        } else {
            Box::new(TableSink::new(out))
        }
    };
    let exit = match rules {
        None => replay(&rec, sink.as_mut())?,
        Some(source) => match compile(source, &rec) {
            Some(plan) => refilter(&rec, &plan, args, sink.as_mut())?,
            None => return Ok(Exit::RuleError),
        },
    };
    Ok(if damage.is_some() && exit == Exit::Ok {
        Exit::Lost
    } else {
        exit
    })
}

/// As the session printed it: the events of rules that printed, the last
/// tables, the account.
fn replay(rec: &Recording, sink: &mut dyn Sink) -> anyhow::Result<Exit> {
    let shown: Vec<usize> = rec
        .context
        .rules
        .iter()
        .filter(|r| r.shown)
        .map(|r| r.number)
        .collect();
    for r in &rec.events {
        let ev = &r.event;
        if ev.rules.is_empty() || ev.rules.iter().any(|n| shown.contains(n)) {
            sink.event(ev, rec.stack(r), &rec.names)?;
        }
    }
    if let Some(aggs) = rec.aggregates.last() {
        sink.aggregates(aggs, &rec.names)?;
    }
    let summary = rec.summary.clone().unwrap_or_default();
    sink.summary(&summary)?;
    Ok(Exit::after_trace(&summary))
}

/// The rules checked against the recording's facts: its drop reasons, the
/// functions it saw, the namespace names it knew.
fn compile(source: &RuleSource, rec: &Recording) -> Option<Plan> {
    let reasons = rec.context.drop_reasons();
    let env = CheckEnv {
        reasons: Ok(&reasons),
        funcs: &rec.names.funcs,
        netns: &RecordedNetns(&rec.context),
    };
    let (plan, diags) = ferret_core::compile(&source.text, &env);
    if !diags.is_empty() {
        let color = std::io::IsTerminal::is_terminal(&std::io::stderr());
        eprint!(
            "{}",
            ferret_core::diag::render(&source.name, &source.text, &diags, color)
        );
    }
    let plan = plan?;
    let errors = offline::check(&plan, &rec.context);
    for e in &errors {
        eprintln!("ferret: error: {e}");
    }
    errors.is_empty().then_some(plan)
}

fn refilter(
    rec: &Recording,
    plan: &Plan,
    args: &OutputArgs,
    sink: &mut dyn Sink,
) -> anyhow::Result<Exit> {
    let mut pcap = match &args.pcap {
        Some(p) => Some(PcapWriter::create(p, &rule_texts(plan))?),
        None => None,
    };
    let mut record = match &args.write {
        Some(p) => Some(new_recording(p, plan, &rec.context)?),
        None => None,
    };
    let mut off = Offline::new(plan, &rec.names);
    for r in &rec.events {
        let deliver = off.event(&r.event);
        if deliver.is_empty() {
            continue;
        }
        let wants = |f: fn(&ferret_core::plan::RulePlan) -> bool| {
            plan.rules
                .iter()
                .any(|p| deliver.contains(&p.number) && f(p))
        };
        let ev = Event {
            rules: deliver.clone(),
            capture: if wants(|p| p.captures()) {
                r.event.capture.clone()
            } else {
                Vec::new()
            },
            ..r.event.clone()
        };
        let stack = if wants(|p| p.actions.stack) {
            rec.stack(r)
        } else {
            None
        };
        if let Some(w) = record.as_mut() {
            w.event(&ev, stack, &rec.names)?;
        }
        if let (Some(w), true) = (pcap.as_mut(), !ev.capture.is_empty()) {
            w.write(&ev, &rec.names)?;
        }
        // As the live router: a rule that only captures, while a pcap file
        // is open, writes to the file and shows nothing.
        let to_file_only = |p: &ferret_core::plan::RulePlan| {
            pcap.is_some() && p.captures() && !p.actions.print && !p.actions.stack
        };
        let shown = plan
            .rules
            .iter()
            .any(|p| deliver.contains(&p.number) && !to_file_only(p));
        if record.is_none() && shown {
            sink.event(&ev, stack, &rec.names)?;
        }
        if off.stopped() {
            break;
        }
    }
    let aggs = off.aggregates();
    let summary = off.summary();
    if let Some(mut w) = record {
        w.aggregates(&aggs)?;
        w.summary(&summary)?;
    }
    if let Some(w) = pcap.as_mut() {
        w.flush()?;
    }
    if !aggs.is_empty() {
        sink.aggregates(&aggs, &rec.names)?;
    }
    sink.summary(&summary)?;
    Ok(Exit::Ok)
}

fn rule_texts(plan: &Plan) -> Vec<String> {
    plan.rules.iter().map(|r| r.text.clone()).collect()
}

/// A recording of the offline session, with the original machine's facts.
fn new_recording(
    path: &Path,
    plan: &Plan,
    from: &Context,
) -> anyhow::Result<RecordingWriter<BufWriter<std::fs::File>>> {
    let context = Context {
        ferret: from.ferret.clone(),
        kernel: from.kernel.clone(),
        hostname: from.hostname.clone(),
        clock_offset_ns: from.clock_offset_ns,
        fields: from.fields,
        ..Context::for_plan(plan, Some(&from.drop_reasons()), from.netns.clone())
    };
    let file = ferret_core::outfile::create(path).context("the recording (-w)")?;
    Ok(RecordingWriter::new(
        BufWriter::with_capacity(64 * 1024, file),
        &context,
    )?)
}
