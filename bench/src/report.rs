//! The results of one run: a JSON file for machines and Markdown tables
//! for people (the same tables BENCHMARKS.md holds).

use crate::cost::Row;
use crate::decode::DecodeRate;
use crate::delivery::Ladder;
use crate::startup::Startup;
use crate::targets::Verdict;
use crate::tool::Tool;
use std::fmt::Write;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Machine {
    pub kernel: String,
    pub cpus: usize,
    pub bpftrace: Option<String>,
    pub unix_time: u64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Results {
    pub machine: Machine,
    pub settings: crate::Settings,
    pub cost: Vec<Row>,
    pub delivery: Vec<Ladder>,
    pub startup: Vec<Startup>,
    pub decode: Result<DecodeRate, String>,
    pub profile: Result<Vec<crate::profile::Op>, String>,
    pub targets: Vec<Verdict>,
}

fn opt(v: Option<f64>, f: impl Fn(f64) -> String, none: &str) -> String {
    v.map_or_else(|| none.to_string(), f)
}

fn ns(v: Option<f64>) -> String {
    opt(v, |x| format!("{x:.0}"), "—")
}

fn ratio(v: Option<f64>) -> String {
    opt(v, |x| format!("{x:.2}"), "—")
}

fn rate(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2} M", v / 1e6)
    } else {
        format!("{:.0} k", v / 1e3)
    }
}

pub fn markdown(r: &Results) -> String {
    let mut s = String::new();
    let m = &r.machine;
    let _ = writeln!(
        s,
        "Kernel {}, {} CPUs, {}; {} round(s) of {:.1} s trials.\n",
        m.kernel,
        m.cpus,
        m.bpftrace.as_deref().unwrap_or("no bpftrace"),
        r.settings.rounds,
        r.settings.trial.as_secs_f64()
    );
    s.push_str("In-kernel cost per call of the drop tracepoint (bpf_stats, median over rounds) and packet rate of the load as a share of the rate with nothing attached:\n\n");
    s.push_str("| program | ferret ns/call | ferret UDP | ferret TCP | bpftrace ns/call | bpftrace UDP | bpftrace TCP |\n");
    s.push_str("|---|---:|---:|---:|---:|---:|---:|\n");
    let mut notes = Vec::new();
    let mut keys: Vec<(&str, &str)> = Vec::new();
    for row in &r.cost {
        if !keys.iter().any(|(k, _)| *k == row.key) {
            keys.push((&row.key, &row.label));
        }
    }
    for (key, label) in keys {
        let mut cell = |tool: Tool| {
            let row = r.cost.iter().find(|x| x.key == key && x.tool == tool);
            match row {
                Some(x) if x.note.is_some() => {
                    notes.push(format!(
                        "{tool:?} `{key}`: {}",
                        x.note.as_deref().unwrap_or("")
                    ));
                    ["n/m".to_string(), "n/m".into(), "n/m".into()]
                }
                Some(x) => [ns(x.ns_per_call), ratio(x.udp_ratio), ratio(x.tcp_ratio)],
                None => ["—".to_string(), "—".into(), "—".into()],
            }
        };
        let [f1, f2, f3] = cell(Tool::Ferret);
        let [b1, b2, b3] = cell(Tool::Bpftrace);
        let _ = writeln!(s, "| {label} | {f1} | {f2} | {f3} | {b1} | {b2} | {b3} |");
    }
    for n in notes {
        let _ = writeln!(s, "\nn/m (not measurable) — {n}");
    }
    s.push_str("\nDelivery of matching `print` events to the output (paced UDP flood, rate doubling until loss; then a full-speed flood while the bench stops reading the tracer's output):\n\n");
    s.push_str("| tracer | highest lossless rate (events/s) | reported loss at the next step | reader stalled: delivered / sent, reported lost | unreported loss (worst step) | steps (rate: delivered/sent, reported lost) |\n");
    s.push_str("|---|---:|---:|---:|---:|---|\n");
    for l in &r.delivery {
        let show = |st: &crate::delivery::Step| {
            format!(
                "{}: {}/{}, {}",
                rate(st.sent.rate()),
                st.delivered,
                st.sent.packets,
                st.reported_loss
            )
        };
        let steps: Vec<String> = l.steps.iter().map(show).collect();
        // Lossless up to full speed: the sender, not the tracer, was the limit.
        let all_clean = !l.steps.is_empty() && l.loss_above.is_none();
        let best = opt(l.max_lossless_rate, rate, "none");
        let _ = writeln!(
            s,
            "| {:?} | {}{} | {} | {} | {} | {} |",
            l.tool,
            if all_clean { ">= " } else { "" },
            best,
            opt(
                l.loss_above,
                |x| format!("{:.1}%", x * 100.0),
                "none (sender's limit)"
            ),
            l.stalled.as_ref().map_or("—".into(), |st| format!(
                "{} / {}, {}",
                st.delivered, st.sent.packets, st.reported_loss
            )),
            l.worst_unreported,
            if steps.is_empty() {
                l.note.clone().unwrap_or_default()
            } else {
                steps.join("; ")
            }
        );
    }
    s.push_str("\nStartup, launch to ready line (one tracepoint rule):\n\n");
    s.push_str("| tracer | median ms | runs (ms) |\n|---|---:|---|\n");
    for st in &r.startup {
        let runs: Vec<String> = st.runs_ms.iter().map(|x| format!("{x:.0}")).collect();
        let _ = writeln!(
            s,
            "| {:?} | {} | {} |",
            st.tool,
            ns(st.median_ms),
            if runs.is_empty() {
                st.note.clone().unwrap_or_default()
            } else {
                runs.join(", ")
            }
        );
    }
    s.push_str("\nUserspace decode + format of recorded ring records, one thread:\n\n");
    match &r.decode {
        Ok(d) => {
            let _ = writeln!(
                s,
                "| format | events/s per core |\n|---|---:|\n| JSON | {} |\n| table | {} |\n\n({} records recorded from the kernel)",
                rate(d.json_per_s),
                rate(d.table_per_s),
                d.records
            );
        }
        Err(e) => {
            let _ = writeln!(s, "not measured: {e}");
        }
    }
    s.push_str(
        "\nSingle operations on the drop tracepoint, each attached alone in turns (ns per call, median):\n\n",
    );
    match &r.profile {
        Ok(ops) => {
            s.push_str("| program | what it does | ns/call | above the empty program |\n|---|---|---:|---:|\n");
            for op in ops {
                let _ = writeln!(
                    s,
                    "| `{}` | {} | {:.0} | {:+.0} |",
                    op.program, op.what, op.ns_per_call, op.extra_ns
                );
            }
        }
        Err(e) => {
            let _ = writeln!(s, "not measured: {e}");
        }
    }
    s.push_str("\nTargets:\n\n| target | wanted | measured | met |\n|---|---|---|---|\n");
    for v in &r.targets {
        let met = match v.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "n/m",
        };
        let _ = writeln!(s, "| {} | {} | {} | {met} |", v.target, v.want, v.got);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_as_thousands_or_millions() {
        assert_eq!(rate(12_400.0), "12 k");
        assert_eq!(rate(1_234_567.0), "1.23 M");
    }
}
