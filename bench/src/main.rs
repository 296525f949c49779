//! `ferret-bench`: ferret beside bpftrace in one run on one machine (issue 8).
//! Builds a namespace lab, drives a bounded UDP/TCP load through it and
//! measures, for the same questions asked of both tracers:
//!
//! 1. in-kernel cost per hook call (bpf_stats) — `cost`
//! 2. the highest lossless delivery rate and the loss reported above it — `delivery`
//! 3. the load's packet rate with each program attached, as a ratio — `cost`
//! 4. launch to ready line — `startup`
//! 5. userspace decode + format rate from recorded ring records — `decode`
//!
//! It prints Markdown tables and writes every raw number as JSON. Run it
//! through tools/bench.sh, which builds everything first. Root only.

mod bpfstats;
mod compare;
mod cost;
mod decode;
mod delivery;
mod empty;
mod funcs;
mod load;
mod output;
mod profile;
mod report;
mod scenarios;
mod startup;
mod targets;
mod tool;
mod tracer;

use anyhow::{bail, Context as _};
use clap::Parser;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "ferret-bench",
    about = "ferret beside bpftrace: kernel cost, delivery, packet path, startup, decode"
)]
struct Args {
    /// The ferret binary to measure (default: `ferret` next to this binary).
    #[arg(long)]
    ferret: Option<PathBuf>,
    /// The bpftrace binary (default: the one on PATH).
    #[arg(long)]
    bpftrace: Option<PathBuf>,
    /// Measure ferret only.
    #[arg(long)]
    no_bpftrace: bool,
    /// Where to write the JSON results.
    #[arg(long, default_value = "bench-results.json")]
    out: PathBuf,
    /// Also write the Markdown tables here.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Rounds of the cost / packet-path measurements (medians are reported).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Seconds per packet-rate trial.
    #[arg(long, default_value_t = 1.0)]
    trial: f64,
    /// Only these rows of the cost table (keys: empty, miss, miss_addr, miss_long, print, stack,
    /// count, count_hash, pcap_miss, pcap_bytes_miss, pcap_print, many), comma-separated.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Only these measurements (cost, delivery, startup, decode, profile; funcs runs alone).
    #[arg(long, value_delimiter = ',')]
    phases: Vec<String>,
    /// Compare ferret builds instead: attach them all at once with the same
    /// rules and print each one's cost per call (the rows of --only).
    #[arg(long, value_delimiter = ',', value_name = "FERRET,..")]
    compare: Vec<PathBuf>,
    /// Function triggers (`--phases funcs`, run alone): with these backends
    /// (kprobe.multi, kprobe), attach and detach times of every skb function
    /// and the cost of a non-matching `any` rule beside an empty program.
    #[arg(long, value_delimiter = ',', default_value = "kprobe.multi")]
    func_backends: Vec<String>,
    /// The function rule of `--phases funcs` (default: `on any where dport
    /// == 47002`, never matching the flood).
    #[arg(long)]
    func_rule: Option<String>,
    /// A smoke run: one short round of everything (seconds, not minutes).
    #[arg(long)]
    quick: bool,
}

/// How long and how often; the JSON results carry them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Settings {
    pub rounds: usize,
    pub trial: Duration,
    pub max_paced_rate: f64,
    pub startup_runs: usize,
    pub decode_budget: Duration,
}

static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// A progress line on stderr, stamped with the seconds since the start.
pub fn progress(msg: impl std::fmt::Display) {
    let t = STARTED.get_or_init(std::time::Instant::now).elapsed();
    eprintln!("ferret-bench: [{:6.1}s] {msg}", t.as_secs_f64());
}

fn main() -> anyhow::Result<()> {
    STARTED.get_or_init(std::time::Instant::now);
    let args = Args::parse();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("ferret-bench loads BPF programs and builds network namespaces: run it as root (sudo tools/bench.sh)");
    }
    let set = if args.quick {
        Settings {
            rounds: 1,
            trial: Duration::from_millis(200),
            max_paced_rate: 100_000.0,
            startup_runs: 2,
            decode_budget: Duration::from_millis(200),
        }
    } else {
        Settings {
            rounds: args.rounds.max(1),
            trial: Duration::from_secs_f64(args.trial.clamp(0.1, 10.0)),
            max_paced_rate: 1_600_000.0,
            startup_runs: 5,
            decode_budget: Duration::from_secs(1),
        }
    };
    let bins = binaries(&args)?;
    let bpftrace_version = bins.bpftrace.as_ref().and_then(|b| version_of(b));
    let lab = ferret_lab::Lab::create("bench").context("cannot build the namespace lab")?;

    let mut all = scenarios::all();
    if bins.bpftrace.is_none() {
        for s in &mut all {
            s.bpftrace = None;
        }
    }
    if !args.compare.is_empty() {
        let mut rows = all.clone();
        rows.retain(|s| args.only.is_empty() || args.only.iter().any(|k| k == s.key));
        println!("{}", compare::run(&lab, &args.compare, &rows, &set));
        return Ok(());
    }
    if args.phases.iter().any(|p| p == "funcs") {
        return run_funcs(&args, &lab, &bins, &set);
    }
    let by_key = |k: &str| {
        all.iter()
            .find(|s| s.key == k)
            .expect("scenario exists")
            .clone()
    };
    let phase = |p: &str| args.phases.is_empty() || args.phases.iter().any(|x| x == p);
    let mut rows_wanted = all.clone();
    rows_wanted.retain(|s| args.only.is_empty() || args.only.iter().any(|k| k == s.key));
    let cost_rows = if phase("cost") {
        cost::run(&lab, &bins, &rows_wanted, &set)
    } else {
        Vec::new()
    };
    let delivery = if phase("delivery") {
        delivery::run(&lab, &bins, &by_key("print"), &set)
    } else {
        Vec::new()
    };
    let startup = if phase("startup") {
        startup::run(&bins, &by_key("miss"), set.startup_runs)
    } else {
        Vec::new()
    };
    let decode = if phase("decode") {
        progress("decode rate");
        decode::run(&lab.a, set.decode_budget).map_err(|e| e.to_string())
    } else {
        Err("not run (--phases)".to_string())
    };
    let profile = if phase("profile") {
        profile::run(&lab, &set)
    } else {
        Err("not run (--phases)".to_string())
    };
    let targets = targets::judge(targets::Inputs {
        cost: &cost_rows,
        delivery: &delivery,
        startup: &startup,
        decode_json_per_s: decode.as_ref().ok().map(|d| d.json_per_s),
    });
    let results = report::Results {
        machine: machine(bpftrace_version),
        settings: set,
        cost: cost_rows,
        delivery,
        startup,
        decode,
        profile,
        targets,
    };
    let text = report::markdown(&results);
    println!("{text}");
    if let Some(path) = &args.markdown {
        std::fs::write(path, &text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let json = serde_json::to_string_pretty(&results).context("results are serializable")?;
    std::fs::write(&args.out, json + "\n")
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    eprintln!("ferret-bench: results in {}", args.out.display());
    Ok(())
}

/// The function-trigger phase on its own: its table, and its JSON.
fn run_funcs(
    args: &Args,
    lab: &ferret_lab::Lab,
    bins: &tracer::Binaries,
    set: &Settings,
) -> anyhow::Result<()> {
    let backends = args
        .func_backends
        .iter()
        .map(|b| match b.as_str() {
            "kprobe.multi" => Ok(ferret_kernel::FuncBackend::KprobeMulti),
            "kprobe" => Ok(ferret_kernel::FuncBackend::Kprobe),
            other => Err(anyhow::anyhow!(
                "--func-backends: no backend {other:?} (kprobe.multi, kprobe)"
            )),
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let rule = args.func_rule.clone().unwrap_or_else(funcs::miss_rule);
    let rows = funcs::run(lab, bins, &rule, &backends, set.rounds, set.trial);
    let kernel = machine(None).kernel;
    let text = format!(
        "Function triggers on every skb function, kernel {kernel}, rule `{rule}`:\n\n{}",
        funcs::markdown(&rows)
    );
    println!("{text}");
    if let Some(path) = &args.markdown {
        std::fs::write(path, &text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let json = serde_json::json!({ "kernel": kernel, "rule": rule, "funcs": rows });
    std::fs::write(&args.out, format!("{json:#}\n"))
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    Ok(())
}

fn binaries(args: &Args) -> anyhow::Result<tracer::Binaries> {
    let ferret = match &args.ferret {
        Some(p) => p.clone(),
        None => std::env::current_exe()
            .context("cannot find this binary's directory")?
            .with_file_name("ferret"),
    };
    if !ferret.is_file() {
        bail!(
            "no ferret binary at {}: build it (cargo build --release) or pass --ferret PATH",
            ferret.display()
        );
    }
    let bpftrace = if args.no_bpftrace {
        None
    } else {
        let found = args.bpftrace.clone().or_else(|| on_path("bpftrace"));
        if found.is_none() {
            eprintln!("ferret-bench: bpftrace not found: measuring ferret only (apt-get install bpftrace, or tools/bench.sh --install)");
        }
        found
    };
    Ok(tracer::Binaries { ferret, bpftrace })
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| PathBuf::from(d).join(name))
        .find(|p| p.is_file())
}

fn version_of(bin: &std::path::Path) -> Option<String> {
    let out = std::process::Command::new(bin)
        .arg("--version")
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn machine(bpftrace: Option<String>) -> report::Machine {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    report::Machine {
        kernel,
        cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
        bpftrace,
        unix_time: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    }
}
