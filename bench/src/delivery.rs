//! Item 2: the highest event rate a tracer delivers to its output with no
//! loss, and what it reports when pushed past it. Each step runs a fresh
//! tracer with the matching `print` program, sends a paced flood for one
//! trial, gives the reader a moment to drain, stops it and compares:
//!
//! ```text
//! sent = delivered (lines read) + reported loss + unreported loss
//! ```
//!
//! The rate doubles until a step loses events; an unpaced step (as fast as
//! the sender goes) ends the ladder in any case. On a small machine the
//! sender may not outrun the tracer, so one more step stalls the tracer's
//! reader (a pipe into a slow consumer) during a full-speed flood: loss
//! must then happen, and every lost event must be reported.

use crate::load::{self, Sent};
use crate::scenarios::{Scenario, FLOOD_PORT};
use crate::tool::Tool;
use crate::tracer::Binaries;
use crate::Settings;
use ferret_lab::Lab;
use std::time::Duration;

const FIRST_RATE: f64 = 12_500.0;
const DRAIN: Duration = Duration::from_millis(400);

#[derive(Debug, Clone, serde::Serialize)]
pub struct Step {
    /// None: unpaced.
    pub target_rate: Option<f64>,
    pub sent: Sent,
    pub delivered: u64,
    pub reported_loss: u64,
    /// Events neither delivered nor reported lost.
    pub unreported_loss: u64,
}

impl Step {
    pub fn lossless(&self) -> bool {
        self.reported_loss == 0 && self.unreported_loss == 0
    }
}

/// `sent` datagrams against what the tracer accounted for. Events beyond
/// `sent` (someone else's drop on the same port) are not credit.
pub fn unreported(sent: u64, delivered: u64, reported: u64) -> u64 {
    sent.saturating_sub(delivered.saturating_add(reported))
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Ladder {
    pub tool: Tool,
    pub steps: Vec<Step>,
    pub note: Option<String>,
    /// The fastest step without loss, events/s actually sent.
    pub max_lossless_rate: Option<f64>,
    /// The first lossy step: reported loss as a share of what was sent.
    pub loss_above: Option<f64>,
    /// Largest unreported loss over all steps (must be 0).
    pub worst_unreported: u64,
    /// The full-speed flood with the reader stalled.
    pub stalled: Option<Step>,
}

pub fn run(lab: &Lab, bins: &Binaries, print: &Scenario, set: &Settings) -> Vec<Ladder> {
    [Tool::Ferret, Tool::Bpftrace]
        .into_iter()
        .map(|tool| ladder(lab, bins, print, tool, set))
        .collect()
}

fn ladder(lab: &Lab, bins: &Binaries, print: &Scenario, tool: Tool, set: &Settings) -> Ladder {
    let mut out = Ladder {
        tool,
        steps: Vec::new(),
        note: None,
        max_lossless_rate: None,
        loss_above: None,
        worst_unreported: 0,
        stalled: None,
    };
    let Some(spec) = print.spec(tool) else {
        out.note = Some("no program for this tool".into());
        return out;
    };
    let mut rate = Some(FIRST_RATE);
    loop {
        crate::progress(format!(
            "delivery {tool:?} at {}",
            rate.map_or("full speed".into(), |r| format!("{r:.0}/s"))
        ));
        match step(lab, bins, &spec, rate, false, set) {
            Ok(st) => {
                let lossless = st.lossless();
                out.steps.push(st);
                if !lossless || rate.is_none() {
                    break;
                }
            }
            Err(e) => {
                out.note = Some(e);
                break;
            }
        }
        rate = rate.map(|r| r * 2.0).filter(|r| *r < set.max_paced_rate);
    }
    if out.note.is_none() {
        crate::progress(format!("delivery {tool:?} at full speed, reader stalled"));
        match step(lab, bins, &spec, None, true, set) {
            Ok(st) => out.stalled = Some(st),
            Err(e) => out.note = Some(e),
        }
    }
    settle(&mut out);
    out
}

fn step(
    lab: &Lab,
    bins: &Binaries,
    spec: &crate::tracer::Spec,
    rate: Option<f64>,
    stall: bool,
    set: &Settings,
) -> Result<Step, String> {
    let running = spec
        .start(bins)
        .map_err(|e| crate::cost::first_line(&e.to_string()))?;
    running.stall_output(stall);
    let sent = load::udp_flood(&lab.a, FLOOD_PORT, set.trial, rate).map_err(|e| e.to_string())?;
    running.stall_output(false);
    // A stalled reader has a backlog to work through first.
    std::thread::sleep(if stall { DRAIN * 3 } else { DRAIN });
    let done = running.stop();
    let reported = done.tally.reported_loss();
    Ok(Step {
        target_rate: rate,
        sent,
        delivered: done.tally.events,
        reported_loss: reported,
        unreported_loss: unreported(sent.packets, done.tally.events, reported),
    })
}

fn settle(l: &mut Ladder) {
    l.max_lossless_rate = l
        .steps
        .iter()
        .filter(|s| s.lossless())
        .map(|s| s.sent.rate())
        .max_by(f64::total_cmp);
    l.loss_above = l
        .steps
        .iter()
        .find(|s| !s.lossless())
        .map(|s| s.reported_loss as f64 / s.sent.packets.max(1) as f64);
    l.worst_unreported = l
        .steps
        .iter()
        .chain(&l.stalled)
        .map(|s| s.unreported_loss)
        .max()
        .unwrap_or(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(rate: f64, sent: u64, delivered: u64, reported: u64) -> Step {
        Step {
            target_rate: Some(rate),
            sent: Sent {
                packets: sent,
                seconds: 1.0,
                cpu_seconds: 1.0,
            },
            delivered,
            reported_loss: reported,
            unreported_loss: unreported(sent, delivered, reported),
        }
    }

    #[test]
    fn unreported_loss_counts_only_what_is_missing() {
        assert_eq!(unreported(100, 100, 0), 0);
        assert_eq!(unreported(100, 90, 10), 0);
        assert_eq!(unreported(100, 80, 10), 10);
        assert_eq!(unreported(100, 120, 0), 0);
    }

    #[test]
    fn the_ladder_reports_the_last_clean_step_and_the_first_lossy_one() {
        let mut l = Ladder {
            tool: Tool::Ferret,
            steps: vec![
                step(1000.0, 1000, 1000, 0),
                step(2000.0, 2000, 2000, 0),
                step(4000.0, 4000, 3000, 1000),
            ],
            note: None,
            max_lossless_rate: None,
            loss_above: None,
            worst_unreported: 0,
            stalled: Some(step(8000.0, 8000, 100, 7800)),
        };
        settle(&mut l);
        assert_eq!(l.max_lossless_rate, Some(2000.0));
        assert_eq!(l.loss_above, Some(0.25));
        assert_eq!(l.worst_unreported, 100);
    }
}
