//! Items 1 and 3: in-kernel cost per hook call, and the packet rate of the
//! load with each program attached, as a ratio to the rate with nothing
//! attached measured right after it. Each program is attached once per
//! round for both measurements:
//!
//! ```text
//! attach ─ UDP pps (stats off) ─ TCP attempts/s ─ stats on: flood, sample ─ detach ─ baselines
//! ```
//!
//! Statistics are off while packet rates are measured: bpf_stats adds two
//! clock reads per call that a user's session does not pay.

use crate::bpfstats::{self, CallCost, StatsOn};
use crate::empty::EmptyProgram;
use crate::load::{self, Sent};
use crate::scenarios::{Scenario, FLOOD_PORT};
use crate::tool::Tool;
use crate::tracer::Binaries;
use crate::Settings;
use ferret_lab::Lab;

/// One program's measurements in one round.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Trial {
    pub cost: Option<CallCost>,
    pub udp: Sent,
    pub udp_baseline: Sent,
    pub tcp: Sent,
    pub tcp_baseline: Sent,
}

impl Trial {
    pub fn udp_ratio(&self) -> f64 {
        ratio(self.udp, self.udp_baseline)
    }
    pub fn tcp_ratio(&self) -> f64 {
        ratio(self.tcp, self.tcp_baseline)
    }
}

/// Per CPU-second of the sender (see `Sent::cpu_seconds`).
fn ratio(with: Sent, without: Sent) -> f64 {
    if without.rate_per_cpu() > 0.0 {
        with.rate_per_cpu() / without.rate_per_cpu()
    } else {
        0.0
    }
}

/// A row of the cost table: one program, every round.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    pub key: String,
    pub label: String,
    pub tool: Tool,
    pub trials: Vec<Trial>,
    /// Why there is no number (not supported, failed to start).
    pub note: Option<String>,
    pub ns_per_call: Option<f64>,
    pub udp_ratio: Option<f64>,
    pub tcp_ratio: Option<f64>,
}

impl Row {
    fn new(key: &str, label: &str, tool: Tool) -> Row {
        Row {
            key: key.into(),
            label: label.into(),
            tool,
            trials: Vec::new(),
            note: None,
            ns_per_call: None,
            udp_ratio: None,
            tcp_ratio: None,
        }
    }

    /// Medians over the rounds.
    fn settle(&mut self) {
        let costs: Vec<f64> = self
            .trials
            .iter()
            .filter_map(|t| t.cost.map(|c| c.ns_per_call))
            .collect();
        self.ns_per_call = median(costs);
        self.udp_ratio = median(self.trials.iter().map(Trial::udp_ratio).collect());
        self.tcp_ratio = median(self.trials.iter().map(Trial::tcp_ratio).collect());
    }
}

pub fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Something attached to the drop tracepoint, with the programs to watch.
enum Attached {
    Empty(EmptyProgram),
    Tracer(crate::tracer::Running),
}

impl Attached {
    fn prog_ids(&self) -> Vec<u32> {
        match self {
            Attached::Empty(p) => vec![p.id],
            Attached::Tracer(r) => bpfstats::prog_ids_of(r.pid()),
        }
    }

    /// How the tracer ended does not matter here: its numbers are taken.
    fn detach(self) {
        match self {
            Attached::Empty(p) => drop(p),
            Attached::Tracer(r) => {
                r.stop();
            }
        }
    }
}

pub fn run(lab: &Lab, bins: &Binaries, scenarios: &[Scenario], set: &Settings) -> Vec<Row> {
    let mut rows = vec![Row::new("empty", "empty program (floor)", Tool::Ferret)];
    for s in scenarios {
        for tool in [Tool::Ferret, Tool::Bpftrace] {
            if s.spec(tool).is_some() {
                rows.push(Row::new(s.key, s.label, tool));
            }
        }
    }
    for round in 0..set.rounds {
        for row in rows.iter_mut() {
            if row.note.is_some() {
                continue;
            }
            crate::progress(format!(
                "cost/path round {}/{}: {:?} {}",
                round + 1,
                set.rounds,
                row.tool,
                row.label
            ));
            let attached = if row.key == "empty" && row.tool == Tool::Ferret {
                EmptyProgram::attach()
                    .map(Attached::Empty)
                    .map_err(|e| e.to_string())
            } else {
                let s = scenarios
                    .iter()
                    .find(|s| s.key == row.key)
                    .expect("row of a scenario");
                let spec = s.spec(row.tool).expect("row of a spec");
                spec.start(bins)
                    .map(Attached::Tracer)
                    .map_err(|e| e.to_string())
            };
            match attached.and_then(|a| measure(lab, a, set)) {
                Ok(t) => row.trials.push(t),
                Err(e) => row.note = Some(first_line(&e)),
            }
        }
    }
    for row in &mut rows {
        row.settle();
    }
    rows
}

fn measure(lab: &Lab, attached: Attached, set: &Settings) -> Result<Trial, String> {
    let flood = |d| load::udp_flood(&lab.a, FLOOD_PORT, d, None).map_err(|e| e.to_string());
    let tcp = |d| load::tcp_attempts(&lab.a, FLOOD_PORT, d).map_err(|e| e.to_string());
    let udp = flood(set.trial)?;
    let tcp_with = tcp(set.trial / 2)?;
    let ids = attached.prog_ids();
    let cost = {
        let _on = StatsOn::enable().map_err(|e| e.to_string())?;
        let before = bpfstats::sample(&ids);
        flood(set.trial / 2)?;
        let after = bpfstats::sample(&ids);
        bpfstats::cost(&before, &after)
    };
    attached.detach();
    Ok(Trial {
        cost,
        udp,
        tcp: tcp_with,
        udp_baseline: flood(set.trial)?,
        tcp_baseline: tcp(set.trial / 2)?,
    })
}

/// The line of an error that says what went wrong; ferret's refusal of an
/// action it does not support yet is the last line of its stderr.
pub fn first_line(text: &str) -> String {
    text.lines()
        .find(|l| l.contains("error") || l.contains("not available"))
        .or_else(|| text.lines().next())
        .unwrap_or("")
        .trim()
        .chars()
        .take(200)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
    }

    #[test]
    fn ratio_to_a_zero_baseline_is_zero_not_infinite() {
        let some = Sent {
            packets: 10,
            seconds: 1.0,
            cpu_seconds: 0.5,
        };
        assert_eq!(ratio(some, Sent::default()), 0.0);
        assert_eq!(ratio(some, some), 1.0);
    }

    #[test]
    fn the_error_line_is_picked_from_stderr() {
        let text = "ferret: x\nerror: rule 1: `count` is not available yet: later\nmore";
        assert!(first_line(text).starts_with("error: rule 1"));
        assert_eq!(first_line("just this"), "just this");
    }
}
