//! `ferret run FILE`: a rule file is traced as before; a `*.rhai` file is
//! a playbook, run with its arguments, `--for`, `--cmd` and a report.

use crate::cli::{OutputArgs, RunArgs};
use crate::exit::Exit;
use crate::privdrop::Needs;
use crate::source::RuleSource;
use crate::stderr_listener::StderrListener;
use crate::trace_cmd::{self, open_output, require_root};
use anyhow::Context;
use ferret_script::run::{self, RunError, RunOptions};
use ferret_script::{HostOptions, Limits, Playbook, ScriptErrorKind};
use ferret_session::options::SessionOptions;
use ferret_session::system::SystemFacts;
use std::io::{BufWriter, IsTerminal};
use std::path::Path;

pub fn dispatch(args: RunArgs, mut output: OutputArgs, allow_unsafe: bool) -> anyhow::Result<Exit> {
    let Some(path) = args.file.clone().or(args.path.clone()) else {
        eprintln!("ferret run: give a rule file or a playbook: ferret run FILE, ferret run PLAYBOOK.rhai [ARGS]");
        return Ok(Exit::Usage);
    };
    if let Some(d) = args.for_duration {
        if output.duration.is_some() {
            eprintln!("ferret run: give either --for or --duration, not both");
            return Ok(Exit::Usage);
        }
        output.duration = Some(d);
    }
    if path.extension().is_some_and(|e| e == "rhai") {
        if output.interval.is_some() {
            eprintln!("ferret run: --interval: not for playbooks (use every() in the script)");
            return Ok(Exit::Usage);
        }
        return run_playbook(&path, &args, &output, allow_unsafe);
    }
    let playbook_only = [
        (!args.args.is_empty(), "arguments"),
        (args.allow_script_io, "--allow-script-io"),
        (args.script_ops.is_some(), "--script-ops"),
    ];
    if let Some((_, what)) = playbook_only.iter().find(|(used, _)| *used) {
        eprintln!(
            "ferret run: {what}: only for playbooks (*.rhai); {} is a rule file",
            path.display()
        );
        return Ok(Exit::Usage);
    }
    trace_cmd::run(&RuleSource::file(&path, allow_unsafe)?, &output)
}

fn run_playbook(
    path: &Path,
    args: &RunArgs,
    output: &OutputArgs,
    allow_unsafe: bool,
) -> anyhow::Result<Exit> {
    let color = std::io::stderr().is_terminal();
    if !allow_unsafe {
        // SAFETY: geteuid has no preconditions.
        ferret_session::trust::check(path, unsafe { libc::geteuid() })?;
    }
    let playbook = match Playbook::load(path) {
        Ok(p) => p,
        Err(e) => {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            eprint!("{}", e.render(&text, color));
            return Ok(match e.kind {
                ScriptErrorKind::Read { .. } => Exit::System,
                _ => Exit::Script,
            });
        }
    };
    let limits = Limits {
        operations: args.script_ops.unwrap_or(Limits::default().operations),
        ..Limits::default()
    };
    let host = HostOptions {
        args: args.args.clone(),
        json: output.json,
        allow_io: args.allow_script_io,
        capture_file: output.pcap.is_some(),
        limits,
    };
    if let Some(file) = &output.read {
        return on_recording(&playbook, file, host, output, color);
    }
    if let Err(exit) = require_root() {
        return Ok(exit);
    }
    let facts = SystemFacts::load();
    let mut privileges = crate::privdrop::plan(output.user.as_deref(), Needs::LoadingRules)?;
    // Its rules are made while it runs; a playbook that says `explain`
    // anywhere (why-dropped, port-blocked) is taken to use it.
    if playbook_mentions_explain(&playbook) {
        privileges.keep_root_for_explain(output.user.is_some())?;
    }
    let out = BufWriter::with_capacity(64 * 1024, open_output(output)?);
    let opts = RunOptions {
        session: Some(SessionOptions {
            ring_bytes: trace_cmd::ring_bytes(output.ring_mib)?,
            duration: output.duration,
            verbose: output.verbose,
            ..SessionOptions::default()
        }),
        host,
        cmd: output.cmd.clone(),
        pcap: output.pcap.clone(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the event loop")?;
    let mut listener = StderrListener::new(None, &mut privileges);
    let result = runtime.block_on(run::run(
        &playbook,
        &facts,
        opts,
        Box::new(out),
        &mut listener,
    ));
    let outcome = match result {
        Ok(o) => o,
        Err(RunError::Session(e)) => return Ok(trace_cmd::report_error(&e, output.verbose)),
        Err(e @ RunError::Pcap(_)) => {
            eprintln!("ferret: error: {e}");
            return Ok(Exit::System);
        }
    };
    finish(&playbook, &outcome, color)
}

/// The word `explain` anywhere in the playbook's text.
fn playbook_mentions_explain(playbook: &Playbook) -> bool {
    mentions_explain(&playbook.text)
}

fn mentions_explain(text: &str) -> bool {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .any(|w| w.eq_ignore_ascii_case("explain"))
}

fn finish(playbook: &Playbook, outcome: &run::Outcome, color: bool) -> anyhow::Result<Exit> {
    eprint!("{}", outcome.summary.render_text());
    if let Some(e) = &outcome.error {
        eprint!("{}", playbook.render_error(e, color));
        return Ok(match e.kind {
            ScriptErrorKind::Output { .. } => Exit::System,
            _ => Exit::Script,
        });
    }
    Ok(Exit::after_playbook(outcome.exit, &outcome.summary))
}

/// The playbook over a recording (`-r FILE`): no root, no kernel.
fn on_recording(
    playbook: &Playbook,
    file: &Path,
    host: HostOptions,
    output: &OutputArgs,
    color: bool,
) -> anyhow::Result<Exit> {
    let open = |file| ferret_core::recording::open(file);
    // Two passes: every name first, for checking the playbook's rules.
    let opened = open(file).and_then(|first| Ok((first.into_names(), open(file)?)));
    let (names, reader) = match opened {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ferret: error: {}: {e}", file.display());
            return Ok(Exit::System);
        }
    };
    let out = BufWriter::with_capacity(64 * 1024, open_output(output)?);
    let pcap = output.pcap.as_deref();
    let result = ferret_script::replay::run(playbook, reader, &names, host, Box::new(out), pcap);
    let (outcome, damage) = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ferret: error: {e}");
            return Ok(Exit::System);
        }
    };
    if let Some(d) = &damage {
        eprintln!(
            "ferret: warning: {}: {d}; the playbook read what comes before it",
            file.display()
        );
    }
    match finish(playbook, &outcome, color)? {
        Exit::Ok if damage.is_some() => Ok(Exit::Lost),
        exit => Ok(exit),
    }
}

#[cfg(test)]
mod explain_tests {
    #[test]
    fn the_word_explain_is_found_as_a_word_only() {
        assert!(super::mentions_explain(
            "rule(`on drop stack explain limit 9/s`)"
        ));
        assert!(!super::mentions_explain(
            "// explained elsewhere; explains nothing"
        ));
        let shipped = include_str!("../scripts/why-dropped.rhai");
        assert!(super::mentions_explain(shipped));
    }
}
