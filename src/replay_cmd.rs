//! `ferret -r FILE [RULES]`: a recording printed as the session printed
//! it, or filtered, counted and captured again offline with the same
//! language and the kernel's semantics (ferret_core::recording::offline).
//! The file is read as a stream, in constant memory (`--by-skb` and
//! `--html` keep the events they group).

use crate::cli::OutputArgs;
use crate::exit::Exit;
use crate::output_file::open_output;
use crate::paths_sink::PathSink;
use crate::source::RuleSource;
use anyhow::Context as _;
use ferret_core::check::CheckEnv;
use ferret_core::event::Event;
use ferret_core::output::pcap::PcapWriter;
use ferret_core::output::{Aggregates, JsonSink, Names, Sink, TableSink};
use ferret_core::plan::{Plan, RulePlan};
use ferret_core::recording::offline::{self, Offline};
use ferret_core::recording::{self, Context, Item, ReadError, RecordedNetns, RecordingWriter};
use ferret_core::summary::Summary;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;

type Reader = recording::RecordingReader<BufReader<File>>;

pub fn run(path: &Path, rules: Option<&RuleSource>, args: &OutputArgs) -> anyhow::Result<Exit> {
    let live_only = [
        (args.cmd.is_some(), "--cmd"),
        (
            args.interval.is_some() && rules.is_none(),
            "--interval without rules (the recording's own tables are printed at its end)",
        ),
        (args.duration.is_some(), "--duration"),
        (
            rules.is_none() && (args.write.is_some() || args.pcap.is_some()),
            "-w/--pcap without rules",
        ),
    ];
    if let Some((_, what)) = live_only.iter().find(|(used, _)| *used) {
        eprintln!("ferret: {what}: not for reading a recording (-r)");
        return Ok(Exit::Usage);
    }
    let mut reader = match recording::open(path) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ferret: error: {}: {e}", path.display());
            return Ok(Exit::System);
        }
    };
    let c = reader.context();
    eprintln!(
        "ferret: {}: recorded by {} on {} (Linux {}), format {}; rules: {}",
        path.display(),
        c.ferret,
        c.hostname,
        c.kernel,
        c.format,
        c.rules_text().replace('\n', "; ")
    );
    let plan = match rules {
        None => None,
        // Every name the recording holds, for the checker: a second pass.
        Some(source) => match compile(
            source,
            reader.context(),
            &recording::open(path)?.into_names(),
        ) {
            Some(plan) => Some(plan),
            None => return Ok(Exit::RuleError),
        },
    };
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
    let (shown, damage, exit) = match &plan {
        None => replay(&mut reader, sink.as_mut())?,
        Some(plan) => {
            let (shown, damage) = refilter(&mut reader, plan, args, sink.as_mut())?;
            (shown, damage, Exit::Ok)
        }
    };
    if let Some(d) = &damage {
        eprintln!(
            "ferret: warning: {}: {d}; the {shown} events before it were shown",
            path.display()
        );
    }
    Ok(if damage.is_some() { Exit::Lost } else { exit })
}

/// As the session printed it: the events of rules that printed, the last
/// tables, the account. Returns how many events were shown, the damage,
/// and the status the session had (events lost while recording: 4).
fn replay(
    reader: &mut Reader,
    sink: &mut dyn Sink,
) -> anyhow::Result<(u64, Option<ReadError>, Exit)> {
    let shown: Vec<usize> = reader
        .context()
        .rules
        .iter()
        .filter(|r| r.shown)
        .map(|r| r.number)
        .collect();
    let (mut tables, mut summary, mut n) = (None, Summary::default(), 0);
    let damage = loop {
        match reader.next_item() {
            None => break None,
            Some(Err(e)) => break Some(e),
            Some(Ok(Item::Event(r))) => {
                let ev = &r.event;
                if ev.rules.is_empty() || ev.rules.iter().any(|n| shown.contains(n)) {
                    sink.event(ev, reader.stack(&r), reader.names())?;
                    n += 1;
                }
            }
            Some(Ok(Item::Tables(t))) => tables = Some(t),
            Some(Ok(Item::Summary(s))) => summary = s,
        }
    };
    finish(sink, tables, &summary, reader.names())?;
    Ok((n, damage, Exit::after_trace(&summary)))
}

fn finish(
    sink: &mut dyn Sink,
    tables: Option<Aggregates>,
    summary: &Summary,
    names: &Names,
) -> anyhow::Result<()> {
    if let Some(t) = tables.filter(|t| !t.is_empty()) {
        sink.aggregates(&t, names)?;
    }
    sink.summary(summary)?;
    Ok(())
}

/// The rules checked against the recording's facts: its drop reasons, the
/// functions it saw, the namespace names it knew.
fn compile(source: &RuleSource, context: &Context, names: &Names) -> Option<Plan> {
    let reasons = context.drop_reasons();
    let env = CheckEnv {
        reasons: Ok(&reasons),
        funcs: &names.funcs,
        netns: &RecordedNetns(context),
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
    let errors = offline::check(&plan, context);
    for e in &errors {
        eprintln!("ferret: error: {e}");
    }
    errors.is_empty().then_some(plan)
}

fn refilter(
    reader: &mut Reader,
    plan: &Plan,
    args: &OutputArgs,
    sink: &mut dyn Sink,
) -> anyhow::Result<(u64, Option<ReadError>)> {
    let mut pcap = match &args.pcap {
        Some(p) => Some(PcapWriter::create(
            p,
            &plan
                .rules
                .iter()
                .map(|r| r.text.clone())
                .collect::<Vec<_>>(),
        )?),
        None => None,
    };
    let mut record = match &args.write {
        Some(p) => Some(new_recording(p, plan, reader.context())?),
        None => None,
    };
    // As the live router: a rule that only captures, while a pcap file is
    // open, writes to the file and shows nothing.
    let to_file_only =
        |p: &RulePlan| pcap.is_some() && p.captures() && !p.actions.print && !p.actions.stack;
    let file_only: Vec<usize> = plan
        .rules
        .iter()
        .filter(|p| to_file_only(p))
        .map(|p| p.number)
        .collect();
    let mut off = Offline::new(plan, reader.names());
    let mut ticks = args.interval.map(IntervalTables::new);
    let mut n = 0;
    let damage = loop {
        let r = match reader.next_item() {
            None => break None,
            Some(Err(e)) => break Some(e),
            Some(Ok(Item::Event(r))) => r,
            Some(Ok(_)) => continue,
        };
        if reader.take_names_changed() {
            off.set_names(reader.names());
        }
        if let Some(t) = ticks.as_mut() {
            t.before(r.event.meta.ts_ns, &off, sink, reader.names())?;
        }
        let deliver = off.event(&r.event);
        if deliver.is_empty() {
            continue;
        }
        let wants = |f: fn(&RulePlan) -> bool| {
            plan.rules
                .iter()
                .any(|p| deliver.contains(&p.number) && f(p))
        };
        let ev = Event {
            capture: if wants(|p| p.captures()) {
                r.event.capture.clone()
            } else {
                Vec::new()
            },
            rules: deliver.clone(),
            ..r.event.clone()
        };
        let stack = if wants(|p| p.actions.stack) {
            reader.stack(&r)
        } else {
            None
        };
        if let Some(w) = record.as_mut() {
            w.event(&ev, stack, reader.names())?;
        }
        if let (Some(w), true) = (pcap.as_mut(), !ev.capture.is_empty()) {
            w.write(&ev, reader.names())?;
        }
        if record.is_none() && deliver.iter().any(|n| !file_only.contains(n)) {
            sink.event(&ev, stack, reader.names())?;
            n += 1;
        }
        if off.stopped() {
            break None;
        }
    };
    let (tables, summary) = (off.aggregates(), off.summary());
    for (rule, events) in off.pcap_unread() {
        eprintln!(
            "ferret: rule {rule}: {events} events were recorded without packet bytes, so its \
             pcap-filter text did not match them; record with `capture` to filter them by bytes, \
             or use ferret's fields (`proto == udp`)"
        );
    }
    if let Some(mut w) = record {
        w.aggregates(&tables)?;
        w.summary(&summary)?;
    }
    if let Some(w) = pcap.as_mut() {
        w.flush()?;
    }
    finish(sink, Some(tables), &summary, reader.names())?;
    Ok((n, damage))
}

/// `--interval` over a recording: the tables so far, once for each
/// interval of recorded time that ends before the next event, as a live
/// session prints them once per interval of wall-clock time.
struct IntervalTables {
    every_ns: u64,
    first_ns: Option<u64>,
    /// Intervals printed so far.
    printed: u64,
}

impl IntervalTables {
    fn new(every: std::time::Duration) -> IntervalTables {
        IntervalTables {
            every_ns: (every.as_nanos() as u64).max(1),
            first_ns: None,
            printed: 0,
        }
    }

    /// Prints the tables of every interval that ended by `ts_ns`.
    fn before(
        &mut self,
        ts_ns: u64,
        off: &Offline,
        sink: &mut dyn Sink,
        names: &Names,
    ) -> std::io::Result<()> {
        let first = *self.first_ns.get_or_insert(ts_ns);
        while ts_ns.saturating_sub(first) >= (self.printed + 1) * self.every_ns {
            self.printed += 1;
            let mut tables = off.aggregates();
            tables.last = false;
            tables.elapsed_ms = self.printed * self.every_ns / 1_000_000;
            if !tables.is_empty() {
                sink.aggregates(&tables, names)?;
            }
        }
        Ok(())
    }
}

/// A recording of the offline session, with the original machine's facts.
fn new_recording(
    path: &Path,
    plan: &Plan,
    from: &Context,
) -> anyhow::Result<RecordingWriter<BufWriter<File>>> {
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
