//! `ferret serve -f RULES` and `ferret merge FILE...`: the node agent and
//! the merge of several nodes' event lines or pcap-ng recordings.

use crate::cli::{MergeArgs, OutputArgs, ServeArgs};
use crate::exit::Exit;
use crate::privdrop::Needs;
use crate::stderr_listener::StderrListener;
use crate::trace_cmd::{report_error, require_root, ring_bytes};
use anyhow::Context;
use ferret_agent::error::AgentError;
use ferret_agent::rotate::Rotation;
use ferret_agent::rules_file::RulesFileError;
use ferret_agent::serve::{self, ServeOptions};
use ferret_agent::{merge, merge_pcap};
use ferret_session::options::{FunctionOptions, SessionOptions};
use ferret_session::system::SystemFacts;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::time::Duration;

pub fn run(args: &ServeArgs, output: &OutputArgs) -> anyhow::Result<Exit> {
    let refused = [
        (output.pcap.is_some(), "--pcap: not for the agent yet"),
        (
            output.cmd.is_some(),
            "--cmd: the agent runs until a signal; for a trace around a command: ferret --cmd",
        ),
        (
            output.interval.is_some(),
            "--interval: tables are metrics here (--metrics ADDR)",
        ),
    ];
    if let Some((_, why)) = refused.iter().find(|(given, _)| *given) {
        eprintln!("ferret serve: {why}");
        return Ok(Exit::Usage);
    }
    if args.file_count == 0 {
        eprintln!("ferret serve: -W must keep at least one file");
        return Ok(Exit::Usage);
    }
    let opts = ServeOptions {
        rules: args.file.clone(),
        allow_unsafe: output.allow_unsafe_files,
        output: output.output.clone(),
        rotation: args.file_size_mb.map(|mb| Rotation {
            max_bytes: mb.saturating_mul(1_000_000),
            files: args.file_count,
        }),
        node: args
            .node
            .clone()
            .unwrap_or_else(ferret_agent::events::hostname),
        metrics: args.metrics,
        series_cap: args.series_cap,
        watch_every: Duration::from_secs(1),
        session: SessionOptions {
            ring_bytes: ring_bytes(output.ring_mib)?,
            duration: output.duration,
            verbose: output.verbose,
            ..SessionOptions::default()
        },
        functions: FunctionOptions {
            backend: output.backend.choice(),
            progress: None,
        },
    };
    // A broken file is the quickest error to give, with or without root.
    let mut facts = SystemFacts::load();
    if let Err(e) = ferret_agent::rules_file::load(&opts.rules, &mut facts, opts.allow_unsafe) {
        return Ok(start_error(AgentError::RulesFile(e), output.verbose));
    }
    if let Err(exit) = require_root() {
        return Ok(exit);
    }
    // Reloads add rules: keep what loading them takes.
    let mut privileges = crate::privdrop::plan(output.user.as_deref(), Needs::LoadingRules)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the event loop")?;
    let mut listener = StderrListener::new(None, &mut privileges);
    match runtime.block_on(serve::run(&opts, facts, &mut listener)) {
        Ok(summary) => {
            eprint!("{}", summary.render_text());
            Ok(Exit::after_trace(&summary))
        }
        Err(e) => Ok(start_error(e, output.verbose)),
    }
}

/// Reports what stopped the agent from starting; the exit status.
fn start_error(e: AgentError, verbose: bool) -> Exit {
    match e {
        AgentError::RulesFile(RulesFileError::Invalid { diagnostics, .. }) => {
            eprint!("{diagnostics}");
            Exit::RuleError
        }
        AgentError::Session(e) => report_error(&e, verbose),
        e => {
            eprintln!("ferret serve: error: {e}");
            Exit::System
        }
    }
}

pub fn merge(args: &MergeArgs, output: &OutputArgs) -> anyhow::Result<Exit> {
    let mut pcap = Vec::new();
    let mut json = Vec::new();
    for path in &args.files {
        let mut file =
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let mut magic = [0u8; 4];
        let is_pcap = file.read_exact(&mut magic).is_ok() && magic == merge_pcap::MAGIC;
        file.seek(SeekFrom::Start(0))?;
        // The node a file is of, when its lines do not say: its name.
        let node = path.file_stem().map_or_else(
            || path.display().to_string(),
            |s| s.to_string_lossy().into_owned(),
        );
        if is_pcap {
            pcap.push((node, BufReader::new(file)));
        } else {
            json.push(merge::Input {
                name: path.display().to_string(),
                node,
                reader: BufReader::new(file),
            });
        }
    }
    if !pcap.is_empty() && !json.is_empty() {
        eprintln!("ferret merge: give either JSON lines files or pcap-ng files, not both");
        return Ok(Exit::Usage);
    }
    let mut out = std::io::BufWriter::new(crate::trace_cmd::open_output(output)?);
    if !pcap.is_empty() {
        let report = merge_pcap::merge(pcap, &mut out)?;
        eprintln!(
            "ferret merge: {} packets on {} interfaces from {} files{}",
            report.packets,
            report.interfaces,
            args.files.len(),
            match report.skipped {
                0 => String::new(),
                n => format!("; {n} packet blocks without a time left out"),
            }
        );
        return Ok(Exit::Ok);
    }
    let report = merge::merge(json, &mut out)?;
    for name in &report.unaligned {
        eprintln!("ferret merge: {name}: no time_ns (not from ferret serve): its events are ordered by their own kernel time, which cannot be compared with other nodes'");
    }
    eprintln!(
        "ferret merge: {} events and {} other lines from {} files",
        report.events,
        report.other_lines,
        args.files.len()
    );
    Ok(Exit::Ok)
}
