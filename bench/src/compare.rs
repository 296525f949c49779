//! `--compare A,B,..`: several ferret builds attached at once, each with the
//! same rules, measured over the same flood. Every build's programs run on
//! every call, so machine noise hits them alike: the way to tell whether a
//! change to the kernel side made a call cheaper by a few nanoseconds.

use crate::bpfstats::{self, StatsOn};
use crate::load;
use crate::scenarios::{Scenario, FLOOD_PORT};
use crate::tool::Tool;
use crate::tracer::Binaries;
use crate::Settings;
use ferret_lab::Lab;
use std::path::PathBuf;

pub fn run(lab: &Lab, builds: &[PathBuf], scenarios: &[Scenario], set: &Settings) -> String {
    let mut out = String::from("| rules |");
    for b in builds {
        out.push_str(&format!(" {} ns/call |", b.display()));
    }
    out.push_str("\n|---|");
    out.push_str(&"---:|".repeat(builds.len()));
    out.push('\n');
    for s in scenarios {
        let Some(spec) = s.spec(Tool::Ferret) else {
            continue;
        };
        crate::progress(format!("compare: {}", s.label));
        let mut running = Vec::new();
        let mut cells = Vec::new();
        for b in builds {
            let bins = Binaries {
                ferret: b.clone(),
                bpftrace: None,
            };
            match spec.start(&bins) {
                Ok(r) => running.push(Some(r)),
                Err(e) => {
                    running.push(None);
                    cells.push(Some(crate::cost::first_line(&e.to_string())));
                    continue;
                }
            }
            cells.push(None);
        }
        let ids: Vec<Vec<u32>> = running
            .iter()
            .map(|r| {
                r.as_ref()
                    .map_or(Vec::new(), |r| bpfstats::prog_ids_of(r.pid()))
            })
            .collect();
        let costs = StatsOn::enable().ok().map(|_on| {
            let before: Vec<_> = ids.iter().map(|i| bpfstats::sample(i)).collect();
            let _ = load::udp_flood(&lab.a, FLOOD_PORT, set.trial * 2, None);
            let after: Vec<_> = ids.iter().map(|i| bpfstats::sample(i)).collect();
            before
                .iter()
                .zip(&after)
                .map(|(b, a)| bpfstats::cost(b, a))
                .collect::<Vec<_>>()
        });
        for r in running.into_iter().flatten() {
            r.stop();
        }
        out.push_str(&format!("| {} |", s.label));
        for (i, cell) in cells.iter().enumerate() {
            let text = match (cell, costs.as_ref().and_then(|c| c[i])) {
                (Some(err), _) => err.clone(),
                (None, Some(c)) => format!("{:.0}", c.ns_per_call),
                (None, None) => "—".into(),
            };
            out.push_str(&format!(" {text} |"));
        }
        out.push('\n');
    }
    out
}
