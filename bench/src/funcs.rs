//! Function triggers (issue 15), per backend: how long attaching and
//! detaching every skb function takes, and what a non-matching rule on
//! `any` costs per call beside an empty kprobe program linked to the same
//! functions the same way, under the same flood.
//!
//! ```text
//! ferret `on any where dport == MISS` ─ ready (its attach time) ─ stats on: flood, sample ─ SIGINT (its detach time)
//! empty program on the same functions ─ stats on: flood, sample ─ close (detach time)
//! ```
//!
//! The cost per call is the growth of run_time_ns summed over every
//! program of the set divided by the growth of run_cnt summed the same
//! way: one program per argument position serves many functions, and a
//! call of any of them is one call.

use crate::bpfstats::{self, ProgSample, StatsOn};
use crate::load;
use crate::scenarios::{FLOOD_PORT, MISS_PORT};
use crate::tracer::Binaries;
use ferret_kernel::func_catalog::FuncCatalog;
use ferret_kernel::kernel_btf::KernelBtf;
use ferret_kernel::{EmptyFuncProbes, Floor, FuncBackend};
use ferret_lab::Lab;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Single kprobes under emulation take minutes for ~1500 functions.
const SLOW: Duration = Duration::from_secs(900);

/// One side (ferret or the empty program) on one backend.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Side {
    pub functions: usize,
    pub attach_s: Option<f64>,
    pub detach_s: Option<f64>,
    /// Ctrl-C to the process's exit (ferret only): what a user waits.
    pub exit_s: Option<f64>,
    pub calls: u64,
    pub ns_per_call: Option<f64>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct FuncRow {
    pub backend: String,
    pub ferret: Side,
    pub empty: Side,
    /// A program that only reads its cookie (what ferret's do first).
    pub cookie: Side,
}

impl FuncRow {
    /// ferret's cost per call over the empty program's.
    pub fn ratio(&self) -> Option<f64> {
        per(&self.ferret, &self.empty)
    }
}

/// `a`'s cost per call over `b`'s.
fn per(a: &Side, b: &Side) -> Option<f64> {
    match (a.ns_per_call, b.ns_per_call) {
        (Some(x), Some(y)) if y > 0.0 => Some(x / y),
        _ => None,
    }
}

/// The rule measured: on every function, never matching the flood (the
/// flood goes to FLOOD_PORT); `dport` is a field the pre-check reads.
pub fn miss_rule() -> String {
    format!("on any where dport == {MISS_PORT}")
}

/// Each backend `rounds` times (single kprobes once: each attach and
/// detach takes minutes under emulation), the three sides in turn per
/// round so a noisy machine hits them alike; costs are medians over the
/// rounds, times those of the first.
pub fn run(
    lab: &Lab,
    bins: &Binaries,
    rule: &str,
    backends: &[FuncBackend],
    rounds: usize,
    trial: Duration,
) -> Vec<FuncRow> {
    backends
        .iter()
        .map(|b| {
            let rounds = if *b == FuncBackend::Kprobe {
                1
            } else {
                rounds.max(1)
            };
            let mut sides: [Vec<Side>; 3] = Default::default();
            for round in 1..=rounds {
                let what = format!("{}, round {round}/{rounds}", b.name());
                crate::progress(format!("funcs: ferret on every skb function, {what}"));
                sides[0].push(ferret_side(lab, bins, rule, *b, trial).unwrap_or_else(noted));
                crate::progress(format!("funcs: the empty program, {what}"));
                sides[1].push(floor_side(lab, *b, Floor::Empty, trial).unwrap_or_else(noted));
                crate::progress(format!("funcs: a program reading its cookie, {what}"));
                sides[2].push(floor_side(lab, *b, Floor::Cookie, trial).unwrap_or_else(noted));
            }
            let [ferret, empty, cookie] = sides.map(settle);
            FuncRow {
                backend: b.name().to_owned(),
                ferret,
                empty,
                cookie,
            }
        })
        .collect()
}

/// One side over the rounds: the first round's times, the median cost.
fn settle(rounds: Vec<Side>) -> Side {
    let costs: Vec<f64> = rounds.iter().filter_map(|s| s.ns_per_call).collect();
    let mut first = rounds.first().cloned().unwrap_or_default();
    first.ns_per_call = crate::cost::median(costs);
    first.calls = rounds.iter().map(|s| s.calls).sum();
    first
}

fn noted(note: String) -> Side {
    Side {
        note: Some(note),
        ..Side::default()
    }
}

/// Floods the lab with stats on; the cost per call of `ids` over it.
fn measure(lab: &Lab, ids: &[u32], trial: Duration) -> Result<(u64, Option<f64>), String> {
    let _on = StatsOn::enable().map_err(|e| e.to_string())?;
    let before = bpfstats::sample(ids);
    load::udp_flood(&lab.a, FLOOD_PORT, trial, None).map_err(|e| e.to_string())?;
    let after = bpfstats::sample(ids);
    Ok(pooled_cost(&before, &after))
}

/// (calls, ns per call) over every program together.
pub fn pooled_cost(
    before: &BTreeMap<u32, ProgSample>,
    after: &BTreeMap<u32, ProgSample>,
) -> (u64, Option<f64>) {
    let (mut runs, mut ns) = (0u64, 0u64);
    for (id, a) in after {
        let b = before.get(id);
        runs += a.runs - b.map_or(0, |b| b.runs.min(a.runs));
        ns += a.run_ns - b.map_or(0, |b| b.run_ns.min(a.run_ns));
    }
    (runs, (runs > 0).then(|| ns as f64 / runs as f64))
}

fn floor_side(
    lab: &Lab,
    backend: FuncBackend,
    floor: Floor,
    trial: Duration,
) -> Result<Side, String> {
    let catalog = FuncCatalog::discover(&KernelBtf::running()).map_err(|e| e.to_string())?;
    let every = ["*".to_owned()];
    let targets: Vec<_> = catalog.select(&every).cloned().collect();
    let probes = EmptyFuncProbes::attach(backend, floor, &targets).map_err(|e| e.to_string())?;
    let (functions, attach) = (probes.attached, probes.attach_time);
    let measured = measure(lab, &[probes.prog_id], trial);
    let detach = probes.detach();
    let (calls, ns_per_call) = measured?;
    Ok(Side {
        functions,
        attach_s: Some(attach.as_secs_f64()),
        detach_s: Some(detach.as_secs_f64()),
        exit_s: None,
        calls,
        ns_per_call,
        note: None,
    })
}

fn ferret_side(
    lab: &Lab,
    bins: &Binaries,
    rule: &str,
    backend: FuncBackend,
    trial: Duration,
) -> Result<Side, String> {
    let mut child = Command::new(&bins.ferret)
        .args(["--backend", cli_name(backend), rule])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start ferret: {e}"))?;
    let lines = stderr_lines(&mut child);
    let ready = match wait_for(&lines, "ferret: ready:", SLOW) {
        Ok(l) => l,
        Err(seen) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("no ready line: {}", seen.join(" | ")));
        }
    };
    let (functions, attach_s) = parse_ready(&ready);
    let ids = bpfstats::prog_ids_of(child.id());
    let measured = measure(lab, &ids, trial);
    // SAFETY: signalling our own child, not reaped yet.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let stopped = Instant::now();
    let detached = wait_for(&lines, "ferret: detached", SLOW).ok();
    let _ = child.wait();
    let exit_s = stopped.elapsed().as_secs_f64();
    let (calls, ns_per_call) = measured?;
    Ok(Side {
        functions,
        attach_s,
        detach_s: detached.as_deref().and_then(parse_detached),
        exit_s: Some(exit_s),
        calls,
        ns_per_call,
        note: None,
    })
}

fn stderr_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    if let Some(pipe) = child.stderr.take() {
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    rx
}

/// `--backend`'s spelling of a backend.
fn cli_name(b: FuncBackend) -> &'static str {
    match b {
        FuncBackend::KprobeMulti => "kprobe-multi",
        FuncBackend::Kprobe => "kprobe",
        FuncBackend::Fentry => "fentry",
    }
}

/// The first line starting with `prefix`, or the lines seen before the
/// stream ended or time ran out.
fn wait_for(
    lines: &mpsc::Receiver<String>,
    prefix: &str,
    limit: Duration,
) -> Result<String, Vec<String>> {
    let deadline = Instant::now() + limit;
    let mut seen = Vec::new();
    loop {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
            return Err(seen);
        };
        match lines.recv_timeout(left) {
            Ok(l) if l.starts_with(prefix) => return Ok(l),
            Ok(l) => seen.push(l),
            Err(_) => return Err(seen),
        }
    }
}

/// "... on 1534 functions (kprobe.multi, attached in 0.84 s; ..." →
/// (1534, 0.84).
fn parse_ready(line: &str) -> (usize, Option<f64>) {
    let functions = line
        .split(" functions (")
        .next()
        .and_then(|head| head.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let attach = number_after(line, "attached in ");
    (functions, attach)
}

/// "ferret: detached 1534 function probes in 1.20 s ..." → 1.20.
fn parse_detached(line: &str) -> Option<f64> {
    number_after(line, " in ")
}

fn number_after(line: &str, marker: &str) -> Option<f64> {
    let rest = &line[line.find(marker)? + marker.len()..];
    rest.split(' ').next()?.parse().ok()
}

/// The Markdown table of the rows.
pub fn markdown(rows: &[FuncRow]) -> String {
    let mut out = String::from(
        "| backend | functions | ferret attach s | ferret detach s | Ctrl-C to exit s | empty program attach s | empty program detach s | no-match `any` / empty program | no-match `any` / cookie-only program | cookie-only / empty program | calls (ferret, empty, cookie) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    let s = |v: Option<f64>| v.map_or("—".to_owned(), |v| format!("{v:.2}"));
    let x = |v: Option<f64>| v.map_or("—".to_owned(), |v| format!("{v:.2}x"));
    for r in rows {
        let notes: Vec<&str> = [&r.ferret, &r.empty, &r.cookie]
            .iter()
            .filter_map(|side| side.note.as_deref())
            .collect();
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {}, {}, {}{} |\n",
            r.backend,
            r.ferret.functions,
            s(r.ferret.attach_s),
            s(r.ferret.detach_s),
            s(r.ferret.exit_s),
            s(r.empty.attach_s),
            s(r.empty.detach_s),
            x(r.ratio()),
            x(per(&r.ferret, &r.cookie)),
            x(per(&r.cookie, &r.empty)),
            r.ferret.calls,
            r.empty.calls,
            r.cookie.calls,
            if notes.is_empty() {
                String::new()
            } else {
                format!("; {}", notes.join("; "))
            }
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ready_line_gives_functions_and_attach_time() {
        let line = "ferret: ready: 1 rule on 1463 functions (kprobe, attached in 18.21 s; 2 skipped: a: b); Ctrl-C to stop";
        assert_eq!(parse_ready(line), (1463, Some(18.21)));
        assert_eq!(
            parse_ready("ferret: ready: 1 rule on drop (tp_btf)"),
            (0, None)
        );
    }

    #[test]
    fn the_exit_line_gives_the_detach_time() {
        let line = "ferret: detached 1463 function probes in 59.80 s (attached in 18.21 s)";
        assert_eq!(parse_detached(line), Some(59.8));
    }

    #[test]
    fn cost_pools_every_program() {
        let s = |runs, run_ns| ProgSample {
            name: "p".into(),
            run_ns,
            runs,
        };
        let before = BTreeMap::from([(1, s(10, 100)), (2, s(0, 0))]);
        let after = BTreeMap::from([(1, s(40, 400)), (2, s(10, 400)), (3, s(0, 0))]);
        assert_eq!(pooled_cost(&before, &after), (40, Some(17.5)));
        assert_eq!(pooled_cost(&after, &after), (0, None));
    }
}
