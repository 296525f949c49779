//! What one scrape costs the agent's thread, without a kernel: a `count
//! by sport, dport` table of 10,000 keys (all shown: `--series-cap
//! 10000`) turned into families and encoded, repeated, with the median
//! time and the size of the text. BENCHMARKS.md has the figures and the
//! end-to-end scrape of a running agent.
//!
//! cargo run --release -p ferret-agent --example scrape_bench

use ferret_agent::metrics::cap::SeriesCap;
use ferret_agent::metrics::family::encode;
use ferret_agent::metrics::scrape::{families, AgentFigures, ScrapeInput};
use ferret_agent::reconcile::RunningRule;
use ferret_core::abi::{field, AggKey};
use ferret_core::ir::KeyField;
use ferret_core::output::agg::{Aggregates, CountTable};
use ferret_core::output::Names;
use ferret_core::summary::Summary;
use std::time::Instant;

const KEYS: u16 = 10_000;

fn main() {
    let rows = (0..KEYS)
        .map(|i| {
            let key = AggKey {
                present: (1 << field::SPORT) | (1 << field::DPORT),
                sport: 20_000 + i,
                dport: 9,
                ..AggKey::default()
            };
            (key, u64::from(i) + 1)
        })
        .collect();
    let aggs = Aggregates {
        counts: vec![CountTable {
            rule: 1,
            text: "on drop count by sport, dport".into(),
            by: vec![
                KeyField::Field("sport".into()),
                KeyField::Field("dport".into()),
            ],
            rows,
            failed: 0,
        }],
        ..Aggregates::default()
    };
    let rules = [RunningRule {
        id: 1,
        name: "ports".into(),
        text: "on drop count by sport, dport".into(),
        aggregates: true,
    }];
    let summary = Summary::default();
    let names = Names::default();
    let agent = AgentFigures::default();
    let input = ScrapeInput {
        aggs: &aggs,
        summary: &summary,
        names: &names,
        rules: &rules,
        agent: &agent,
    };
    let mut cap = SeriesCap::new(usize::from(KEYS));
    let mut times = Vec::new();
    let mut bytes = 0;
    let mut series = 0;
    for _ in 0..21 {
        let t = Instant::now();
        let text = encode(families(&input, &mut cap));
        times.push(t.elapsed());
        bytes = text.len();
        series = text.lines().filter(|l| !l.starts_with('#')).count();
    }
    times.sort();
    println!(
        "{series} series, {bytes} bytes: median {:.2} ms (min {:.2}, max {:.2}) over {} scrapes",
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3,
        times.len()
    );
}
