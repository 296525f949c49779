use super::*;
use crate::metrics::family::encode;
use ferret_core::abi::{field, AggKey, Hist};
use ferret_core::output::agg::{CountTable, HistTable};
use ferret_core::reasons::DropReasons;
use ferret_core::summary::RuleSummary;

fn names() -> Names {
    Names {
        reasons: Some(DropReasons::from_pairs([
            ("NETFILTER_DROP", 12),
            ("NO_SOCKET", 3),
        ])),
        ..Names::default()
    }
}

fn reason_key(reason: u32) -> AggKey {
    AggKey {
        present: 1 << field::REASON,
        reason,
        ..AggKey::default()
    }
}

fn port_key(port: u16) -> AggKey {
    AggKey {
        present: 1 << field::DPORT,
        dport: port,
        ..AggKey::default()
    }
}

fn running(id: usize, name: &str) -> RunningRule {
    RunningRule {
        id,
        name: name.into(),
        text: format!("rule {id}"),
        aggregates: true,
    }
}

fn input_text(aggs: &Aggregates, cap: &mut SeriesCap) -> String {
    let summary = Summary {
        rules: vec![RuleSummary {
            rule: 1,
            seen: 100,
            matched: 5,
            lost_ring_full: 2,
            ..RuleSummary::default()
        }],
        ..Summary::default()
    };
    let rules = [
        running(1, "drops"),
        running(2, "ports"),
        running(3, "lengths"),
    ];
    let agent = AgentFigures {
        node: "n1".into(),
        probes_attached: true,
        ..AgentFigures::default()
    };
    let input = ScrapeInput {
        aggs,
        summary: &summary,
        names: &names(),
        rules: &rules,
        agent: &agent,
    };
    encode(families(&input, cap))
}

#[test]
fn count_rules_are_counters_labelled_by_rule_and_their_fields() {
    let mut hist = Hist::default();
    hist.buckets[0] = 1; // 0
    hist.buckets[3] = 2; // 4..7
    let aggs = Aggregates {
        counts: vec![
            CountTable {
                rule: 1,
                text: "on drop count by reason".into(),
                by: vec![KeyField::Field("reason".into())],
                rows: vec![(reason_key(12), 4), (reason_key(3), 1)],
                failed: 0,
            },
            CountTable {
                rule: 2,
                text: "on drop count by dport".into(),
                by: vec![KeyField::Field("dport".into())],
                rows: (1..=5).map(|p| (port_key(p), u64::from(p) * 10)).collect(),
                failed: 0,
            },
        ],
        hists: vec![HistTable {
            rule: 3,
            text: "on recv hist len".into(),
            field: "len".into(),
            hist,
        }],
        ..Aggregates::default()
    };
    let mut cap = SeriesCap::new(3);
    let text = input_text(&aggs, &mut cap);
    for line in [
        "ferret_matches_total{rule=\"drops\",reason=\"NETFILTER_DROP\"} 4\n",
        "ferret_matches_total{rule=\"drops\",reason=\"NO_SOCKET\"} 1\n",
        "ferret_matches_total{rule=\"ports\",dport=\"5\"} 50\n",
        "ferret_matches_total{rule=\"ports\",dport=\"3\"} 30\n",
        // Ports 1 and 2 are past the cap of 3.
        "ferret_matches_total{rule=\"ports\",dport=\"other\"} 30\n",
        "ferret_count_keys_folded{rule=\"ports\"} 2\n",
        "ferret_series_cap 3\n",
        "ferret_hist_bucket{le=\"0.0\",rule=\"lengths\",field=\"len\"} 1\n",
        "ferret_hist_bucket{le=\"7.0\",rule=\"lengths\",field=\"len\"} 3\n",
        "ferret_hist_bucket{le=\"+Inf\",rule=\"lengths\",field=\"len\"} 3\n",
        "ferret_hist_count{rule=\"lengths\",field=\"len\"} 3\n",
        "ferret_rule_seen_total{rule=\"drops\"} 100\n",
        "ferret_rule_lost_total{rule=\"drops\",why=\"ring_full\"} 2\n",
        "ferret_probes_attached 1\n",
        "ferret_lost_total{why=\"ring_full\"} 2\n",
        "ferret_agent_info{node=\"n1\",version=",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    assert!(!text.contains("dport=\"1\""), "{text}");
}

#[test]
fn ten_thousand_keys_stay_within_the_cap() {
    let aggs = Aggregates {
        counts: vec![CountTable {
            rule: 2,
            text: "on drop count by dport".into(),
            by: vec![KeyField::Field("dport".into())],
            rows: (1..=10_000).map(|p| (port_key(p), 1)).collect(),
            failed: 0,
        }],
        ..Aggregates::default()
    };
    let mut cap = SeriesCap::new(100);
    let text = input_text(&aggs, &mut cap);
    let series = text
        .lines()
        .filter(|l| l.starts_with("ferret_matches_total"))
        .count();
    assert_eq!(series, 101, "100 keys and `other`");
    assert!(text.contains("ferret_matches_total{rule=\"ports\",dport=\"other\"} 9900\n"));
    assert!(text.contains("ferret_count_keys{rule=\"ports\"} 10000\n"));
}
